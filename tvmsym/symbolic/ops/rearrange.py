"""Rearranging one tensor: ``squeeze`` (dropping length-1 axes), ``flip``, ``roll``."""

from __future__ import annotations

import numbers

import numpy as np

from ..basic import as_tensor_variable, dimshuffle
from ..graph import Apply, Op
from ..type import TensorType
from .shape import _axis, _SameTypeOp


# --------------------------------------------------------------------------- squeeze, flip, roll
class Squeeze(Op):
    """Remove length-1 axes that are not known to be broadcastable (checked when run)."""

    __props__ = ("axes",)

    def __init__(self, axes):
        self.axes = tuple(sorted(int(a) for a in axes))

    def __str__(self):
        return f"Squeeze{{{','.join(map(str, self.axes))}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        bc = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axes)
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        s = shapes[0]
        for a in self.axes:
            if s[a] != 1:
                raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not "
                                 f"equal to one (axis {a} of shape {tuple(s)})")
        return [tuple(n for d, n in enumerate(s) if d not in self.axes)]

    def perform(self, node, inputs):
        self.infer_shape(node, [inputs[0].shape])
        return [np.array(np.squeeze(inputs[0], axis=self.axes))]


def squeeze(x, axis=None):
    """Without ``axis``: drop the broadcastable dims (Theano); with it: numpy.squeeze."""
    x = as_tensor_variable(x)
    if axis is None:
        return dimshuffle(x, [d for d, b in enumerate(x.broadcastable) if not b])
    axes = [axis] if isinstance(axis, (numbers.Integral, np.integer)) else list(axis)
    axes = sorted({_axis(a, x.ndim, "squeeze") for a in axes})
    if all(x.broadcastable[a] for a in axes):
        return dimshuffle(x, [d for d in range(x.ndim) if d not in axes])
    return Squeeze(axes)(x)


class Flip(_SameTypeOp):
    """numpy.flip along ``axes``."""

    __props__ = ("axes",)

    def __init__(self, axes):
        self.axes = tuple(sorted(int(a) for a in axes))

    def perform(self, node, inputs):
        return [np.array(np.flip(inputs[0], self.axes))]


def flip(x, axis=None):
    """numpy.flip (all axes by default)."""
    x = as_tensor_variable(x)
    if axis is None:
        axes = range(x.ndim)
    else:
        axes = [axis] if isinstance(axis, (numbers.Integral, np.integer)) else list(axis)
    return Flip([_axis(a, x.ndim, "flip") for a in axes])(x)


class Roll(_SameTypeOp):
    """numpy.roll by a constant ``shift`` along ``axis`` (None: the flattened array)."""

    __props__ = ("shift", "axis")

    def __init__(self, shift, axis):
        self.shift = int(shift)
        self.axis = axis

    def perform(self, node, inputs):
        return [np.roll(inputs[0], self.shift, self.axis)]


def roll(x, shift, axis=None):
    """numpy.roll with an int shift."""
    x = as_tensor_variable(x)
    if not isinstance(shift, (numbers.Integral, np.integer)):
        raise TypeError("roll: shift must be an int (a symbolic shift is not supported)")
    if axis is not None:
        axis = _axis(axis, x.ndim, "roll")
    return Roll(shift, axis)(x)
