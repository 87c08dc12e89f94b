"""Repetition: ``repeat`` (numpy.repeat, scalar or per-element counts) and ``tile``."""

from __future__ import annotations

import numbers

import numpy as np

from ..basic import as_tensor_variable, cast
from ..graph import Apply, Op
from ..type import TensorType
from .shape import _axis, const_value


# --------------------------------------------------------------------------- repeat / tile
class Repeat(Op):
    """numpy.repeat along ``axis`` with an int scalar or an int vector of repeats."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def shape_value_inputs(self, node):
        return [1]

    def make_node(self, x, repeats):
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        if repeats.dtype[0] not in "iu" or repeats.ndim > 1:
            raise TypeError(f"repeat: repeats must be an int scalar or vector, got {repeats.type}")
        repeats = cast(repeats, "int64")
        if self.axis is None:
            bc = (False,)
        else:
            bc = tuple(b if d != self.axis else False for d, b in enumerate(x.broadcastable))
            c = const_value(repeats)
            if c is not None and c.ndim == 0 and int(c) == 1:
                bc = x.broadcastable
        return Apply(self, [x, repeats], [TensorType(x.dtype, bc)()])

    def _n(self, xshape, rep):
        n = int(np.prod(xshape)) if self.axis is None else xshape[self.axis]
        rep = np.asarray(rep)
        if (rep < 0).any():
            raise ValueError("repeat: negative repeats")
        if rep.ndim == 1 and rep.shape[0] not in (1, n):
            raise ValueError(f"repeat: {rep.shape[0]} repeats given for an axis of length {n}")
        return int(rep.sum()) if rep.ndim == 1 and rep.shape[0] == n else n * int(rep.reshape(-1)[0])

    def infer_shape_values(self, node, shapes, values):
        s = shapes[0]
        if self.axis is None:
            if values[1] is None:
                return [None]
            return [(self._n(s, values[1]),)]
        if values[1] is None:
            return [None]
        return [tuple(self._n(s, values[1]) if d == self.axis else s[d] for d in range(len(s)))]

    def perform(self, node, inputs):
        x, rep = inputs
        self._n(x.shape, rep)
        return [np.repeat(x, rep, axis=self.axis)]


def repeat(x, repeats, axis=None):
    """numpy.repeat."""
    x = as_tensor_variable(x)
    if axis is not None:
        axis = _axis(axis, x.ndim, "repeat")
    return Repeat(axis)(x, repeats)


class Tile(Op):
    """numpy.tile with constant repetitions (``reps`` has one int per output dimension)."""

    __props__ = ("reps",)

    def __init__(self, reps):
        self.reps = tuple(int(r) for r in reps)

    def make_node(self, x):
        x = as_tensor_variable(x)
        nd = len(self.reps)
        if x.ndim > nd:
            raise ValueError("Tile: reps must have at least x.ndim entries")
        bc = (True,) * (nd - x.ndim) + x.broadcastable
        bc = tuple(b and r == 1 for b, r in zip(bc, self.reps))
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        s = (1,) * (len(self.reps) - len(shapes[0])) + tuple(shapes[0])
        return [tuple(a * r for a, r in zip(s, self.reps))]

    def perform(self, node, inputs):
        return [np.tile(inputs[0], self.reps)]


def tile(x, reps, ndim=None):
    """numpy.tile with constant ``reps`` (a tuple of ints)."""
    x = as_tensor_variable(x)
    if isinstance(reps, (numbers.Integral, np.integer)):
        reps = (reps,)
    reps = list(reps)
    if not all(isinstance(r, (numbers.Integral, np.integer)) for r in reps):
        raise TypeError("tile: reps must be ints (symbolic repetitions are not supported)")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative repetitions {tuple(reps)}")
    nd = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (nd - len(reps)) + reps
    return Tile(reps)(x)
