"""``cumsum`` and ``cumprod`` along one axis (None: the flattened input), numpy's dtypes."""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op
from ..type import TensorType, normalize_dtype
from .reduce import normalize_axis, sum_dtype


class CumOp(Op):
    """Running sum (``mode='add'``) or product (``'mul'``) along ``axis``."""

    __props__ = ("axis", "mode", "dtype")

    def __init__(self, axis, mode="add", dtype=None):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp mode must be 'add' or 'mul', got {mode!r}")
        self.axis = int(axis)
        self.mode = mode
        self.dtype = None if dtype is None else normalize_dtype(dtype)

    def __str__(self):
        return f"Cum{'sum' if self.mode == 'add' else 'prod'}{{{self.axis}}}"

    __repr__ = __str__

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError(f"{self}: needs at least a 1-d input (use axis=None)")
        normalize_axis(self.axis, x.ndim, "cumsum" if self.mode == "add" else "cumprod")
        op = self if self.dtype is not None else CumOp(self.axis, self.mode, sum_dtype(x.dtype))
        return Apply(op, [x], [TensorType(op.dtype, x.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        fn = np.cumsum if self.mode == "add" else np.cumprod
        return [fn(inputs[0], axis=self.axis, dtype=self.dtype)]


def _cum(x, axis, mode, dtype):
    x = tb.as_tensor_variable(x)
    if axis is None:
        from .reshape import flatten
        x, axis = flatten(x, 1), 0
    return CumOp(axis, mode, dtype)(x)


def cumsum(x, axis=None, dtype=None):
    """numpy.cumsum: running sum along ``axis`` (None: flattened); ints give int64."""
    return _cum(x, axis, "add", dtype)


def cumprod(x, axis=None, dtype=None):
    """numpy.cumprod: running product along ``axis``."""
    return _cum(x, axis, "mul", dtype)
