"""Gradients of reductions: Sum, Prod, Mean, Max/Min (ties share the gradient, as Theano)."""
from __future__ import annotations

import numpy as np

from ..basic import cast, dimshuffle, eq, switch
from ..grad import is_continuous, register_grad
from ..graph import Apply, Op
from ..ops.reduce import Max, Mean, Min, Prod, Sum, prod as _prod, sum as _sum
from ..type import TensorType


def _expand(gz, x, op):
    """gz with the reduced axes of x put back as broadcastable dimensions."""
    axes = op.reduced_axes(x.ndim)
    pattern, k = [], 0
    for d in range(x.ndim):
        if d in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(gz, pattern) if pattern != list(range(gz.ndim)) else gz


@register_grad(Sum)
def sum_grad(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    if not is_continuous(x):
        return [None]
    return [_expand(gz, x, node.op)]


class ReducedCount(Op):
    """The number of elements a reduction over ``axis`` combines, minus ``ddof`` (int64, 0-d).

    Its value follows from the input's shape, so a build knows it (``infer_value``):
    no kernel runs for it.
    """

    host_only = "its value follows from shapes: known when kernels are built"
    no_grad = "an integer count"

    __props__ = ("axis", "ddof")

    def __init__(self, axis, ddof):
        self.axis = axis
        self.ddof = int(ddof)

    def make_node(self, x):
        return Apply(self, [x], [TensorType("int64", ())()])

    def infer_shape(self, node, shapes):
        return [()]

    def _count(self, shape):
        axes = range(len(shape)) if self.axis is None else self.axis
        n = int(np.prod([shape[a] for a in axes])) - self.ddof
        return np.asarray(max(n, 0), dtype="int64")

    def infer_value(self, node, shapes, values):
        return [self._count(shapes[0])]

    def perform(self, node, inputs):
        return [self._count(inputs[0].shape)]


@register_grad(Mean)
def mean_grad(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    if not is_continuous(x):
        return [None]
    n = cast(ReducedCount(node.op.axis, node.op.ddof)(x), gz.dtype)
    return [_expand(gz / n, x, node.op)]


@register_grad(Max, Min)
def maxmin_grad(node, inputs, gouts):
    # Theano: every element equal to the maximum receives the output gradient
    (x,), (gz,), z = inputs, gouts, node.outputs[0]
    ze = _expand(z, x, node.op)
    return [switch(eq(x, ze), _expand(gz, x, node.op), 0)]


@register_grad(Prod)
def prod_grad(node, inputs, gouts):
    """d prod / d x_i = product of the others, exact when some x are zero."""
    (x,), (gz,), z = inputs, gouts, node.outputs[0]
    if not is_continuous(x):
        return [None]
    axes = node.op.reduced_axes(x.ndim)
    is0 = eq(x, 0)
    nz = switch(is0, 1, x)
    p_nz = _prod(nz, axis=axes, keepdims=True)
    n0 = _sum(cast(is0, "int64"), axis=axes, keepdims=True)
    ze = cast(_expand(z, x, node.op), x.dtype)
    others = switch(eq(n0, 0), ze / nz, switch(eq(n0, 1), switch(is0, p_nz, 0), 0))
    return [_expand(gz, x, node.op) * others]
