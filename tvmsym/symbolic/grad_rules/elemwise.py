"""Gradients of elementwise ops: one rule per scalar op, at tensor level.

A rule gets the Elemwise's inputs (equal ndim), its output ``z`` and the output
gradient ``gz``, and returns one gradient per input (None: no gradient, e.g. a
condition).  The engine sums each result back over the input's broadcast
dimensions and casts it to the input's dtype.  Ops that are piecewise constant
(floor, sign, ``//``) have zero gradients, as in Theano.
"""
from __future__ import annotations

import math

import numpy as np

from .. import scalar as ps
from ..basic import (
    Elemwise,
    and_,
    cast,
    constant,
    cos,
    cosh,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    lt,
    sgn,
    sigmoid,
    sin,
    sinh,
    sqrt,
    switch,
)
from ..grad import (
    fill,
    find_scalar_grad,
    grad as _grad,
    is_continuous,
    register_grad,
    register_scalar_grad,
    symbolic_zero as _zero,
    undefined,
)


@register_grad(Elemwise)
def elemwise_grad(node, inputs, gouts):
    sop = node.op.scalar_op
    # a gradient broadcast along a dimension some input broadcasts over must be
    # materialized: summing it back multiplies by that dimension's length
    gouts = [_materialize(g, o, inputs) for g, o in zip(gouts, node.outputs)]
    if isinstance(sop, ps.Composite):
        return composite_grad(sop, inputs, node.outputs, gouts)
    rule = find_scalar_grad(sop)
    if rule is None:
        return [undefined(node.op, i, f"no gradient rule for scalar op {sop.name}")
                if is_continuous(v) else None for i, v in enumerate(inputs)]
    from ..elemwise import SCALAR_GRAD_CONTEXT
    saved = SCALAR_GRAD_CONTEXT[0]
    SCALAR_GRAD_CONTEXT[0] = {id(v) for v in [*inputs, *node.outputs, *gouts]}
    try:
        return rule(sop, inputs, node.outputs[0], gouts[0])
    finally:
        SCALAR_GRAD_CONTEXT[0] = saved


def _materialize(g, out, inputs):
    if g is None:
        return g
    for d, (gb, ob) in enumerate(zip(g.broadcastable, out.broadcastable)):
        if gb and not ob and any(i.broadcastable[d] for i in inputs):
            # broadcast against an input of the output's full shape when there is one
            # (already computed), else against the output
            like = next((i for i in inputs if i.broadcastable == out.broadcastable), out)
            return fill(like, g)
    return g


def composite_grad(sop, inputs, outputs, gouts):
    """Differentiate a fused Composite by rebuilding its scalar graph from Elemwise ops."""
    memo = {}

    def build(e):
        key = id(e)
        if key in memo:
            return memo[key]
        if e[0] == "i":
            r = inputs[e[1]]
        elif e[0] == "c":
            r = constant(np.asarray(e[1], dtype=e[2]))
        else:
            r = Elemwise(e[0])(*[build(c) for c in e[1:]])
        memo[key] = r
        return r

    outs = [build(e) for e in sop.exprs]
    outs = [cast(o, v.dtype) if o.dtype != v.dtype else o for o, v in zip(outs, outputs)]
    known = {o: g for o, g in zip(outs, gouts) if g is not None and is_continuous(o)}
    wrt = [v for v in inputs if is_continuous(v)]
    if not known or not wrt:
        return [None] * len(inputs)
    gs = _grad(None, wrt, known_grads=known, disconnected_inputs="ignore", return_disconnected="symbolic")
    res = dict(zip(wrt, gs))
    return [res.get(v) for v in inputs]


def _c(v):
    return float(v)       # a weak Python float: takes the dtype of its partner


# arithmetic ---------------------------------------------------------------------
@register_scalar_grad(ps.add)
def _add(op, inp, z, gz):
    return [gz] * len(inp)


@register_scalar_grad(ps.sub)
def _sub(op, inp, z, gz):
    return [gz, -gz]


@register_scalar_grad(ps.mul)
def _mul(op, inp, z, gz):
    x, y = inp
    return [gz * y, gz * x]


@register_scalar_grad(ps.true_div)
def _true_div(op, inp, z, gz):
    x, y = inp
    return [gz / y, -(gz * x) / (y * y)]


@register_scalar_grad(ps.int_div)
def _int_div(op, inp, z, gz):
    return [_zero(v) for v in inp]


@register_scalar_grad(ps.mod)
def _mod(op, inp, z, gz):
    from ..basic import floor
    x, y = inp
    return [gz, -gz * floor(x / y)]


@register_scalar_grad(ps.pow)
def _pow(op, inp, z, gz):
    x, y = inp
    gx = gz * y * x ** (y - 1)
    gy = None
    if is_continuous(y):
        gy = switch(eq(x, 0), 0, gz * log(x) * z)
    return [gx, gy]


@register_scalar_grad(ps.neg)
def _neg(op, inp, z, gz):
    return [-gz]


@register_scalar_grad(ps.maximum, ps.minimum)
def _maxmin(op, inp, z, gz):
    # ties: every input equal to the result gets the gradient (Theano)
    x, y = inp
    return [switch(eq(z, x), gz, 0), switch(eq(z, y), gz, 0)]


@register_scalar_grad(ps.clip)
def _clip(op, inp, z, gz):
    x, lo, hi = inp
    return [switch(and_(ge(x, lo), le(x, hi)), gz, 0), switch(lt(x, lo), gz, 0),
            switch(gt(x, hi), gz, 0)]


@register_scalar_grad(ps.switch)
def _switch(op, inp, z, gz):
    c, a, b = inp
    return [None, switch(c, gz, 0), switch(c, 0, gz)]


@register_scalar_grad(ps.identity)
def _identity(op, inp, z, gz):
    return [gz]


@register_scalar_grad(ps.abs_)
def _abs(op, inp, z, gz):
    (x,) = inp
    return [gz * sgn(x)]


@register_scalar_grad(ps.sqr)
def _sqr(op, inp, z, gz):
    (x,) = inp
    return [gz * _c(2) * x]


@register_scalar_grad(ps.sgn, ps.floor, ps.ceil, ps.round_half_to_even, ps.trunc)
def _piecewise_constant(op, inp, z, gz):
    return [_zero(v) for v in inp]


# float functions ------------------------------------------------------------------
@register_scalar_grad(ps.exp)
def _exp(op, inp, z, gz):
    return [gz * z]


@register_scalar_grad(ps.exp2)
def _exp2(op, inp, z, gz):
    return [gz * z * _c(math.log(2.0))]


@register_scalar_grad(ps.expm1)
def _expm1(op, inp, z, gz):
    return [gz * (z + 1)]


@register_scalar_grad(ps.log)
def _log(op, inp, z, gz):
    return [gz / inp[0]]


@register_scalar_grad(ps.log2)
def _log2(op, inp, z, gz):
    return [gz / (inp[0] * _c(math.log(2.0)))]


@register_scalar_grad(ps.log10)
def _log10(op, inp, z, gz):
    return [gz / (inp[0] * _c(math.log(10.0)))]


@register_scalar_grad(ps.log1p)
def _log1p(op, inp, z, gz):
    return [gz / (inp[0] + 1)]


@register_scalar_grad(ps.sqrt)
def _sqrt(op, inp, z, gz):
    return [(gz * _c(0.5)) / z]


@register_scalar_grad(ps.sin)
def _sin(op, inp, z, gz):
    return [gz * cos(inp[0])]


@register_scalar_grad(ps.cos)
def _cos(op, inp, z, gz):
    return [-gz * sin(inp[0])]


@register_scalar_grad(ps.tan)
def _tan(op, inp, z, gz):
    return [gz * (z * z + 1)]


@register_scalar_grad(ps.arcsin)
def _arcsin(op, inp, z, gz):
    x = inp[0]
    return [gz / sqrt(1 - x * x)]


@register_scalar_grad(ps.arccos)
def _arccos(op, inp, z, gz):
    x = inp[0]
    return [-gz / sqrt(1 - x * x)]


@register_scalar_grad(ps.arctan)
def _arctan(op, inp, z, gz):
    x = inp[0]
    return [gz / (x * x + 1)]


@register_scalar_grad(ps.sinh)
def _sinh(op, inp, z, gz):
    return [gz * cosh(inp[0])]


@register_scalar_grad(ps.cosh)
def _cosh(op, inp, z, gz):
    return [gz * sinh(inp[0])]


@register_scalar_grad(ps.tanh)
def _tanh(op, inp, z, gz):
    return [gz * (1 - z * z)]


@register_scalar_grad(ps.sigmoid)
def _sigmoid(op, inp, z, gz):
    return [gz * z * (1 - z)]


@register_scalar_grad(ps.softplus)
def _softplus(op, inp, z, gz):
    return [gz * sigmoid(inp[0])]


@register_scalar_grad(ps.erf)
def _erf(op, inp, z, gz):
    x = inp[0]
    return [gz * _c(2.0 / math.sqrt(math.pi)) * exp(-(x * x))]


@register_scalar_grad(ps.erfc)
def _erfc(op, inp, z, gz):
    x = inp[0]
    return [-gz * _c(2.0 / math.sqrt(math.pi)) * exp(-(x * x))]


# gamma and gammaln: grad_rules/special.py (through psi)


@register_scalar_grad(ps.reciprocal)
def _inv(op, inp, z, gz):
    return [-gz * z * z]


@register_scalar_grad(ps.Cast)
def _cast(op, inp, z, gz):
    (x,) = inp
    if is_continuous(x) and is_continuous(z):
        return [cast(gz, x.dtype)]
    return [_zero(x)]


# comparisons and logic: boolean or integer outputs carry no gradient
@register_scalar_grad(ps.eq, ps.neq, ps.lt, ps.gt, ps.le, ps.ge, ps.and_, ps.or_, ps.xor,
                      ps.invert, ps.isnan, ps.isinf)
def _discrete(op, inp, z, gz):
    return [_zero(v) for v in inp]


elemwise_grad.broadcasting_ok = True     # gz may be broadcastable where the output is not
