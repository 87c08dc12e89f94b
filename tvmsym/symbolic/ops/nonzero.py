"""``nonzero``, ``flatnonzero``, ``nonzero_values`` (Theano's tensor.basic): data-dependent
sizes, so ``Nonzero`` has no lowering rule and runs as a host step (numpy's ``nonzero``);
what uses its result is sized at run time."""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable
from ..graph import Apply, Op
from ..type import TensorType


class Nonzero(Op):
    """``x -> int64 matrix (x.ndim, count)``: the indices of the non-zero elements of ``x``."""

    __props__ = ()
    host_only = "its output size depends on the data"
    no_grad = "integer indices"

    def __str__(self):
        return "Nonzero"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError("nonzero: the input must have at least one dimension, got a scalar")
        return Apply(self, [x], [TensorType("int64", (x.ndim == 1, False))()])

    def infer_shape_values(self, node, shapes, values):
        x = values[0]
        if x is None:
            return [None]           # known once the data is
        return [(node.inputs[0].ndim, int(np.count_nonzero(x)))]

    def runtime_values_ok(self, node, positions):
        return True

    def perform(self, node, inputs):
        (x,) = inputs
        idx = np.nonzero(np.asarray(x))
        return [np.vstack(idx).astype("int64") if idx else np.zeros((0, 0), "int64")]


def nonzero(a, return_matrix=False):
    """The indices of the non-zero elements of ``a``: a tuple of ``a.ndim`` int64 vectors
    (``return_matrix=True``: one (ndim, count) matrix), as numpy's ``nonzero``."""
    a = as_tensor_variable(a)
    m = Nonzero()(a)
    if return_matrix:
        return m
    return tuple(m[i] for i in range(a.ndim))


def flatnonzero(a):
    """Indices of the non-zero elements of ``a.flatten()``."""
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("flatnonzero: the input must have at least one dimension")
    return nonzero(a.flatten(), return_matrix=True)[0]


def nonzero_values(a):
    """The non-zero elements of ``a.flatten()``, in order."""
    a = as_tensor_variable(a)
    return a.flatten()[flatnonzero(a)]
