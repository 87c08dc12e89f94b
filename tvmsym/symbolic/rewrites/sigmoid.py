"""Sigmoid stabilization (Theano's ``local_inv_1_plus_exp`` and ``local_1msigmoid``).

``1 / (1 + exp(x))`` is ``sigmoid(-x)`` and ``1 - sigmoid(x)`` is ``sigmoid(-x)``:
written by hand (the logistic-regression tutorial) these round to exactly 0 or 1
for large |x|, and log(1 - p) and its gradient then give inf/nan; as sigmoids
they stay finite.  Part of the ``stabilize`` stage.
"""
from __future__ import annotations

from .. import scalar as ps
from ..elemwise import Elemwise
from .db import is_elemwise, same_type, scalar_value
from .stabilize import register


def _sigmoid_of_neg(node, x):
    new = Elemwise(ps.sigmoid)(Elemwise(ps.neg)(x))
    return [new] if same_type(node.outputs[0], new) else None


def _one_plus_exp(v):
    """x if v is 1 + exp(x) (or exp(x) + 1), else None."""
    if not is_elemwise(v, ps.add):
        return None
    a, b = v.owner.inputs
    for one, e in ((a, b), (b, a)):
        if scalar_value(one) == 1 and is_elemwise(e, ps.exp):
            return e.owner.inputs[0]
    return None


@register(type(ps.true_div), tags=("sigmoid",))
def local_inv_1_plus_exp(fgraph, node):
    """1 / (1 + exp(x)) -> sigmoid(-x)"""
    num, den = node.inputs
    if scalar_value(num) != 1:
        return None
    x = _one_plus_exp(den)
    return None if x is None else _sigmoid_of_neg(node, x)


@register(type(ps.reciprocal), tags=("sigmoid",))
def local_reciprocal_1_plus_exp(fgraph, node):
    """inv(1 + exp(x)) -> sigmoid(-x)"""
    x = _one_plus_exp(node.inputs[0])
    return None if x is None else _sigmoid_of_neg(node, x)


@register(type(ps.sub), tags=("sigmoid",))
def local_1msigmoid(fgraph, node):
    """1 - sigmoid(x) -> sigmoid(-x)"""
    one, s = node.inputs
    if scalar_value(one) == 1 and is_elemwise(s, ps.sigmoid):
        return _sigmoid_of_neg(node, s.owner.inputs[0])
    return None
