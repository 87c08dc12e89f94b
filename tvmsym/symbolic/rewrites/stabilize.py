"""Stabilization: rewrite expressions that overflow or lose precision into stable forms."""
from __future__ import annotations

from .. import scalar as ps
from ..elemwise import Elemwise
from .db import RewriteDB, is_elemwise, same_type, scalar_value

stabilize_db = RewriteDB("stabilize")
register = stabilize_db.register


def _softplus(x):
    return Elemwise(ps.softplus)(x)


def _neg(x):
    """-x, and -(-y) is y (so rules chaining through sigmoid(-y) stay canonical)."""
    if is_elemwise(x, ps.neg):
        return x.owner.inputs[0]
    return Elemwise(ps.neg)(x)


def _checked(node, new):
    return [new] if same_type(node.outputs[0], new) else None


def _one_plus(v):
    """x if v is 1 + x (or x + 1), else None."""
    if not is_elemwise(v, ps.add):
        return None
    a, b = v.owner.inputs
    if scalar_value(a) == 1:
        return b
    if scalar_value(b) == 1:
        return a
    return None


@register(type(ps.log), tags=("softplus",))
def local_log1p_exp(fgraph, node):
    """log(1 + exp(x)) -> softplus(x)"""
    inner = _one_plus(node.inputs[0])
    if inner is not None and is_elemwise(inner, ps.exp):
        return _checked(node, _softplus(inner.owner.inputs[0]))
    return None


@register(type(ps.log1p), tags=("softplus",))
def local_log1p_of_exp(fgraph, node):
    """log1p(exp(x)) -> softplus(x)"""
    (v,) = node.inputs
    if is_elemwise(v, ps.exp):
        return _checked(node, _softplus(v.owner.inputs[0]))
    return None


@register(type(ps.log), tags=("softplus",))
def local_log_sigmoid(fgraph, node):
    """log(sigmoid(x)) -> -softplus(-x), finite for large |x|"""
    (v,) = node.inputs
    if is_elemwise(v, ps.sigmoid):
        return _checked(node, _neg(_softplus(_neg(v.owner.inputs[0]))))
    return None


@register(type(ps.log), tags=("softplus",))
def local_log_one_minus_sigmoid(fgraph, node):
    """log(1 - sigmoid(x)) -> -softplus(x)"""
    (v,) = node.inputs
    if is_elemwise(v, ps.sub) and scalar_value(v.owner.inputs[0]) == 1 \
            and is_elemwise(v.owner.inputs[1], ps.sigmoid):
        return _checked(node, _neg(_softplus(v.owner.inputs[1].owner.inputs[0])))
    return None


@register(type(ps.log), tags=("algebraic",))
def local_log_exp(fgraph, node):
    """log(exp(x)) -> x (exact where exp does not overflow, and x where it does)"""
    (v,) = node.inputs
    if is_elemwise(v, ps.exp):
        return _checked(node, v.owner.inputs[0])
    return None


def stabilize(fgraph, excluding=()):
    return stabilize_db.run(fgraph, excluding)
from . import (
    sigmoid as _sigmoid,  # noqa: E402,F401  (1/(1+exp(x)), 1-sigmoid(x): registers here)
    softmax as _softmax,  # noqa: E402,F401  (x / sum(x) -> Softmax: registers here)
)
