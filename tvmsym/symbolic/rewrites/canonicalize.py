"""Canonicalization: algebraic identities that keep every value, dtype and broadcast pattern.

Rules that would change a value for some input are left out on purpose:
``x / x`` (nan at 0, inf), float ``x - x`` (nan at inf), ``exp(log(x))`` for an
``x`` that may be negative.
"""
from __future__ import annotations

import math

from .. import scalar as ps
from ..elemwise import DimShuffle, Elemwise
from ..graph import TensorConstant
from ..type import TensorType
from .db import RewriteDB, is_elemwise, same_type, scalar_value

canonicalize_db = RewriteDB("canonicalize")
register = canonicalize_db.register


def _drop_identity(node, k, value, float_zero_sign=None):
    """If input ``k`` is the constant ``value``, the other input of a binary op.

    ``float_zero_sign``: for a float result, the sign the zero must have to be an identity
    (IEEE: ``-0.0 + 0.0`` is ``+0.0``, so only ``x + -0.0`` and ``x - +0.0`` are ``x``)."""
    out = node.outputs[0]
    v = scalar_value(node.inputs[k])
    if v == value:
        if float_zero_sign is not None and out.type.dtype.startswith("float") \
                and math.copysign(1.0, v) != float_zero_sign:
            return None
        other = node.inputs[1 - k]
        if same_type(out, other):
            return [other]
    return None


@register(type(ps.mul), tags=("algebraic",))
def local_mul_one(fgraph, node):
    """x * 1 -> x, 1 * x -> x"""
    return _drop_identity(node, 1, 1) or _drop_identity(node, 0, 1)


@register(type(ps.add), tags=("algebraic",))
def local_add_zero(fgraph, node):
    """x + 0 -> x, 0 + x -> x (for floats only a -0.0: x + 0.0 is +0.0 at x = -0.0)"""
    return _drop_identity(node, 1, 0, -1.0) or _drop_identity(node, 0, 0, -1.0)


@register(type(ps.sub), tags=("algebraic",))
def local_sub_zero(fgraph, node):
    """x - 0 -> x (for floats only a +0.0: x - -0.0 is +0.0 at x = -0.0)"""
    return _drop_identity(node, 1, 0, 1.0)


@register(type(ps.true_div), tags=("algebraic",))
def local_div_one(fgraph, node):
    """x / 1 -> x"""
    return _drop_identity(node, 1, 1)


@register(type(ps.pow), tags=("algebraic",))
def local_pow_one(fgraph, node):
    """x ** 1 -> x"""
    return _drop_identity(node, 1, 1)


@register(type(ps.neg), tags=("algebraic",))
def local_neg_neg(fgraph, node):
    """-(-x) -> x"""
    (x,) = node.inputs
    if is_elemwise(x, ps.neg):
        inner = x.owner.inputs[0]
        if same_type(node.outputs[0], inner):
            return [inner]
    return None


@register(type(ps.sub), tags=("algebraic",))
def local_sub_self(fgraph, node):
    """x - x -> zeros of x's shape and dtype, for integers (a float inf - inf is nan)."""
    a, b = node.inputs
    out = node.outputs[0]
    if a is not b or out.type.dtype[:3] not in ("int", "uin") or not same_type(out, a):
        return None
    zero = TensorConstant(TensorType(a.dtype, ()), 0)
    zero = DimShuffle((), ("x",) * a.ndim)(zero) if a.ndim else zero
    return [Elemwise(ps.mul)(a, zero)]      # x * 0: x's shape, fuses into its consumer


@register(type(ps.identity), tags=("algebraic",))
def local_identity(fgraph, node):
    """identity(x) -> x"""
    if same_type(node.outputs[0], node.inputs[0]):
        return [node.inputs[0]]
    return None


@register(ps.Cast, tags=("algebraic",))
def local_cast_same(fgraph, node):
    """Cast{dtype}(x) -> x when x already has that dtype"""
    if same_type(node.outputs[0], node.inputs[0]):
        return [node.inputs[0]]
    return None


_NONNEGATIVE = (ps.exp, ps.sqr, ps.abs_, ps.sigmoid, ps.softplus, ps.exp2)


@register(type(ps.exp), tags=("algebraic",))
def local_exp_log(fgraph, node):
    """exp(log(x)) -> x when x >= 0 is known (x = exp(.), |.|, sqr(.), sigmoid(.) ...)"""
    (x,) = node.inputs
    if not is_elemwise(x, ps.log):
        return None
    inner = x.owner.inputs[0]
    if any(is_elemwise(inner, op) for op in _NONNEGATIVE) and same_type(node.outputs[0], inner):
        return [inner]
    return None


def canonicalize(fgraph, excluding=()):
    return canonicalize_db.run(fgraph, excluding)
