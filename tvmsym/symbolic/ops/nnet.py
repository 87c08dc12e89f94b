"""Neural-network ops: Softmax and LogSoftmax (stable, along one axis, the last by default),
plus graph-level relu and cross-entropies.  ``T.nnet`` re-exports these with sigmoid/softplus.
"""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op
from ..type import TensorType
from .reduce import normalize_axis, sum as _sum


class Softmax(Op):
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` along ``axis`` (default -1: row-wise).

    Prints as Theano's ``Softmax`` for the last axis, ``Softmax{axis=0}`` otherwise.
    """

    __props__ = ("axis",)

    def __init__(self, axis=-1):
        self.axis = int(axis)

    def __str__(self):
        return type(self).__name__ if self.axis == -1 else f"{type(self).__name__}{{axis={self.axis}}}"

    __repr__ = __str__

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError(f"{self} needs at least a 1-d input, got {x.type}")
        normalize_axis(self.axis, x.ndim, str(self))
        dtype = x.dtype if np.dtype(x.dtype).kind == "f" else "float64"
        return Apply(self, [x], [TensorType(dtype, x.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        x = np.asarray(inputs[0], dtype=node.outputs[0].type.dtype)
        if x.size == 0:
            return [x.copy()]
        e = np.exp(x - x.max(self.axis, keepdims=True))
        return [e / e.sum(self.axis, keepdims=True)]


class LogSoftmax(Softmax):
    """``x - max(x) - log(sum(exp(x - max(x))))`` along ``axis``: finite where log(softmax) is not."""

    def perform(self, node, inputs):
        x = np.asarray(inputs[0], dtype=node.outputs[0].type.dtype)
        if x.size == 0:
            return [x.copy()]
        z = x - x.max(self.axis, keepdims=True)
        return [z - np.log(np.exp(z).sum(self.axis, keepdims=True))]


def softmax(x, axis=None):
    """Row-wise (last-axis) stable softmax; ``axis`` picks another dimension.

    As Theano's, the softmax of a vector is a (1, n) row (Theano programs index its
    result as a matrix); give ``axis=-1`` to keep a vector."""
    return Softmax(-1 if axis is None else axis)(_theano_row(x, axis))


def log_softmax(x, axis=None):
    """log(softmax(x)) computed stably in one op (a vector gives a (1, n) row, as softmax)."""
    return LogSoftmax(-1 if axis is None else axis)(_theano_row(x, axis))


def _theano_row(x, axis):
    x = tb.as_tensor_variable(x)
    if axis is None and x.ndim == 1:
        return tb.dimshuffle(x, "x", 0)
    return x


logsoftmax = log_softmax


def relu(x, alpha=0):
    """max(x, 0); with ``alpha`` a leaky relu ``x if x > 0 else alpha * x``."""
    x = tb.as_tensor_variable(x)
    if alpha == 0:
        return tb.maximum(x, 0)
    return tb.switch(tb.gt(x, 0), x, tb.mul(alpha, x))


def categorical_crossentropy(coding_dist, true_dist):
    """-sum(true * log(coding), axis=-1); ``true_dist`` may be integer class indices (Theano).

    With integer targets of one dimension less, picks ``-log(coding[i, true[i]])``.
    """
    coding_dist = tb.as_tensor_variable(coding_dist)
    true_dist = tb.as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return tb.neg(_sum(tb.mul(true_dist, tb.log(coding_dist)), axis=-1))
    if true_dist.ndim == coding_dist.ndim - 1 and np.dtype(true_dist.dtype).kind in "iu":
        from .alloc import arange
        from .shape import shape_i
        classes = arange(shape_i(coding_dist, coding_dist.ndim - 1))
        onehot = tb.eq(tb.dimshuffle(true_dist, *range(true_dist.ndim), "x"), classes)
        return tb.neg(_sum(tb.switch(onehot, tb.log(coding_dist), 0), axis=-1))
    raise TypeError(f"categorical_crossentropy: true_dist must have the coding distribution's "
                    f"ndim ({coding_dist.ndim}) or be integer class indices of ndim "
                    f"{coding_dist.ndim - 1}; got {true_dist.type}")


def binary_crossentropy(output, target):
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise."""
    output, target = tb.as_tensor_variable(output), tb.as_tensor_variable(target)
    return tb.neg(tb.add(tb.mul(target, tb.log(output)),
                         tb.mul(tb.sub(1, target), tb.log(tb.sub(1, output)))))


def softmax_with_bias(x, b):
    """Theano's ``softmax_with_bias``: softmax(x + b) row-wise, ``b`` a vector."""
    return softmax(tb.add(x, b))


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid: clip(0.2 * x + 0.5, 0, 1)."""
    x = tb.as_tensor_variable(x)
    return tb.clip(tb.add(tb.mul(x, 0.2), 0.5), 0, 1)


def softsign(x):
    """x / (1 + |x|)."""
    x = tb.as_tensor_variable(x)
    return tb.true_div(x, tb.add(1, tb.abs(x)))


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    x = tb.as_tensor_variable(x)
    return tb.switch(tb.gt(x, 0), x, tb.mul(alpha, tb.expm1(x)))


def selu(x):
    """Scaled ELU (Klambauer et al. 2017)."""
    return tb.mul(1.0507009873554805, elu(x, 1.6732632423543772))


sigmoid = tb.sigmoid
softplus = tb.softplus
