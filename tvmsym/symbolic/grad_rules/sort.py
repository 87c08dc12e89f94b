"""Gradient of sort: the output gradient goes back through the inverse permutation."""
from __future__ import annotations

from ..basic import dimshuffle
from ..grad import register_grad
from ..ops.alloc import arange
from ..ops.shape import shape_i
from ..ops.sort import Argsort, Sort, argsort
from ..ops.subtensor import getitem


@register_grad(Sort)
def sort_grad(node, inputs, gouts):
    (x,), (gz,), op = inputs, gouts, node.op
    if type(op) is Argsort:
        return [None]
    axis = op.axis % x.ndim
    inv = argsort(argsort(x, axis, op.sort_kind), axis)    # position of x[i] in sort(x)
    if x.ndim == 1:
        return [getitem(gz, inv)]
    index = []
    for d in range(x.ndim):
        if d == axis:
            index.append(inv)
        else:
            pattern = ["x"] * x.ndim
            pattern[d] = 0
            index.append(dimshuffle(arange(shape_i(x, d)), pattern))
    return [getitem(gz, tuple(index))]
