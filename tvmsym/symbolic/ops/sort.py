"""``sort`` and ``argsort`` along one axis (None: the flattened input), as numpy's.

They run on the host through numpy (``perform``): numpy's order puts NaN last, which
TVM's sort kernels do not, and a sort is rarely the hot spot of a graph.
"""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op
from ..type import TensorType
from .reduce import normalize_axis

KINDS = ("quicksort", "mergesort", "heapsort", "stable")


class Sort(Op):
    """Sorted copy along ``axis`` (an int; the functions flatten for axis=None)."""

    host_only = "numpy sorts"

    __props__ = ("axis", "sort_kind")

    def __init__(self, axis=-1, kind="quicksort"):
        if kind not in KINDS:
            raise ValueError(f"sort kind must be one of {KINDS}, got {kind!r}")
        self.axis = int(axis)
        self.sort_kind = kind

    def __str__(self):
        return f"{type(self).__name__}{{axis={self.axis}, {self.sort_kind}}}"

    __repr__ = __str__

    def out_dtype(self, x):
        return x.dtype

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError(f"{type(self).__name__.lower()}: cannot sort a 0-d tensor along an "
                             "axis (use axis=None)")
        normalize_axis(self.axis, x.ndim, type(self).__name__.lower())
        return Apply(self, [x], [TensorType(self.out_dtype(x), x.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        return [np.sort(inputs[0], axis=self.axis, kind=self.sort_kind)]


class Argsort(Sort):
    """Indices (int64) that sort along ``axis``."""

    host_only = "numpy sorts"

    def out_dtype(self, x):
        return "int64"

    def perform(self, node, inputs):
        return [np.argsort(inputs[0], axis=self.axis, kind=self.sort_kind).astype("int64")]


def _flat(x):
    from .reshape import flatten
    return flatten(x, 1)


def _apply_sort(op_cls, name, a, axis, kind, order):
    """``op_cls(axis, kind)(a)``; ``axis=None`` works on the flattened tensor."""
    if order is not None:
        raise ValueError(f"{name}: order= (structured arrays) is not supported")
    a = tb.as_tensor_variable(a)
    if axis is None:
        return op_cls(0, kind)(_flat(a))
    return op_cls(axis, kind)(a)


def sort(a, axis=-1, kind="quicksort", order=None):
    """numpy.sort: ``axis=None`` sorts the flattened tensor."""
    return _apply_sort(Sort, "sort", a, axis, kind, order)


def argsort(a, axis=-1, kind="quicksort", order=None):
    """numpy.argsort (int64 indices)."""
    return _apply_sort(Argsort, "argsort", a, axis, kind, order)
