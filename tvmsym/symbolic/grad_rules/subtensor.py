"""Gradients of indexing: the gradient of ``x[idx]`` is ``inc_subtensor(zeros_like(x)[idx], gz)``.

Index inputs (integers, index arrays, masks) get no gradient.  For
``set_subtensor`` the overwritten part of ``x`` gets none either.
"""
from __future__ import annotations

from ..grad import register_grad, zeros_like
from ..ops.reduce import sum as _sum
from ..ops.subtensor import AdvancedIncSubtensor, AdvancedSubtensor, IncSubtensor, Subtensor


def _sum_leading(g, y):
    lead = g.ndim - y.ndim
    return _sum(g, axis=list(range(lead))) if lead > 0 else g


@register_grad(Subtensor)
def subtensor_grad(node, inputs, gouts):
    (x, *idx), (gz,) = inputs, gouts
    gx = IncSubtensor(node.op.idx_list)(zeros_like(x), gz, *idx)
    return [gx] + [None] * len(idx)


@register_grad(AdvancedSubtensor)
def advanced_subtensor_grad(node, inputs, gouts):
    (x, *idx), (gz,) = inputs, gouts
    gx = AdvancedIncSubtensor(node.op.idx_list)(zeros_like(x), gz, *idx)
    return [gx] + [None] * len(idx)


def _inc_grad(sub_cls, inc_cls):
    def rule(node, inputs, gouts):
        (_, y, *idx), (gz,), op = inputs, gouts, node.op
        gy = _sum_leading(sub_cls(op.idx_list)(gz, *idx), y)
        if op.set_instead_of_inc:
            gx = inc_cls(op.idx_list, True)(gz, 0, *idx)
        else:
            gx = gz
        return [gx, gy] + [None] * len(idx)
    return rule


register_grad(IncSubtensor)(_inc_grad(Subtensor, IncSubtensor))
register_grad(AdvancedIncSubtensor)(_inc_grad(AdvancedSubtensor, AdvancedIncSubtensor))
