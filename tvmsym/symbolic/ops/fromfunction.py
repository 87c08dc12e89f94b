"""``as_op``: a Python function on numpy arrays as an op (Theano's ``theano.compile.ops.as_op``).

    @as_op(itypes=[T.fmatrix, T.fmatrix], otypes=[T.fmatrix], infer_shape=shape_fn)
    def numpy_dot(a, b):
        return numpy.dot(a, b)

The op runs in numpy (a host step).  Without ``infer_shape`` its output shapes are known
only when a call computes them (what follows runs in numpy too); it has no gradient.
"""
from __future__ import annotations

import sys

import numpy as np

from ..graph import Op
from ..type import TensorType

__all__ = ["FromFunctionOp", "as_op"]


class FromFunctionOp(Op):
    """Calls ``fn(*input arrays)``: one array per ``otypes`` entry (a tuple for several)."""

    host_only = "a user's Python function"
    no_grad = "as_op functions have none (Theano's: subclass and define grad)"

    __props__ = ("fn", "itypes", "otypes", "infer_shape_fn")

    def __init__(self, fn, itypes, otypes, infer_shape_fn=None):
        self.fn, self.itypes, self.otypes = fn, tuple(itypes), tuple(otypes)
        self.infer_shape_fn = infer_shape_fn
        self.__name__ = getattr(fn, "__name__", "fn")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __str__(self):
        return f"FromFunctionOp{{{self.__name__}}}"

    def __reduce__(self):
        # the decorator put the op under the function's name: pickle it by reference
        mod, name = getattr(self.fn, "__module__", None), self.__name__
        if getattr(sys.modules.get(mod), name, None) is self:
            return _load_back, (mod, name)
        return super().__reduce__()

    def perform(self, node, inputs):
        outs = self.fn(*inputs)
        if len(self.otypes) == 1:
            outs = [outs]
        if len(outs) != len(self.otypes):
            raise ValueError(f"{self}: the function returned {len(outs)} values for "
                             f"{len(self.otypes)} otypes")
        return [np.asarray(o, dtype=t.dtype) for o, t in zip(outs, self.otypes)]

    def infer_shape(self, node, input_shapes):
        if self.infer_shape_fn is None:
            return [None] * len(node.outputs)
        return self.infer_shape_fn(node, input_shapes)


def _load_back(mod, name):
    __import__(mod)
    return getattr(sys.modules[mod], name)


def as_op(itypes, otypes, infer_shape=None):
    """Decorator: ``fn`` (numpy arrays in, arrays out) as an op of the given types."""
    itypes = list(itypes) if isinstance(itypes, (list, tuple)) else [itypes]
    otypes = list(otypes) if isinstance(otypes, (list, tuple)) else [otypes]
    for t in itypes + otypes:
        if not isinstance(t, TensorType):
            raise TypeError(f"as_op: itypes and otypes must be types such as T.fmatrix, got {t!r}")
    if infer_shape is not None and not callable(infer_shape):
        raise TypeError("as_op: infer_shape must be a function (node, input_shapes) -> "
                        "output shapes")

    def make_op(fn):
        return FromFunctionOp(fn, itypes, otypes, infer_shape)
    return make_op
