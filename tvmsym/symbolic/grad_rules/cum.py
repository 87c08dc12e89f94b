"""Gradients of cumsum and cumprod (Theano's CumOp)."""
from __future__ import annotations

from ..grad import is_continuous, register_grad
from ..ops.cum import CumOp, cumsum
from ..ops.rearrange import flip


def _reverse_cumsum(g, axis):
    return flip(cumsum(flip(g, axis), axis), axis)


@register_grad(CumOp)
def cum_grad(node, inputs, gouts):
    (x,), (gz,), op = inputs, gouts, node.op
    if not is_continuous(x):
        return [None]
    if op.mode == "add":
        return [_reverse_cumsum(gz, op.axis)]
    # d out[j] / d x[i] = out[j] / x[i] for j >= i (as Theano: x must be nonzero)
    return [_reverse_cumsum(gz * node.outputs[0], op.axis) / x]
