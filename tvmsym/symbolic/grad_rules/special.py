"""Gradients of the special functions (Theano's formulas), and of gamma/gammaln through psi.

The derivatives with respect to a Bessel order or an incomplete-gamma shape parameter are
not defined in Theano and are not here (``undefined``: an error if needed).
"""
from __future__ import annotations

import math

from .. import scalar as ps, special as S
from ..basic import constant, eq, exp, log, sqr, switch
from ..grad import is_continuous, register_grad, register_scalar_grad, undefined
from .elemwise import elemwise_grad

register_grad(S.HostElemwise)(elemwise_grad)


def _c(v):
    return constant(v)


def _no_order(op, inp, what):
    return undefined(op, 0, f"the gradient of {op.name} with respect to its {what} is not "
                     "implemented (Theano defines none)") if is_continuous(inp[0]) else None


@register_scalar_grad(ps.gammaln)
def _gammaln(op, inp, z, gz):
    return [gz * S.psi(inp[0])]


@register_scalar_grad(ps.gamma)
def _gamma(op, inp, z, gz):
    return [gz * z * S.psi(inp[0])]


@register_scalar_grad(S.psi_)
def _psi(op, inp, z, gz):
    return [gz * S.tri_gamma(inp[0])]


@register_scalar_grad(S.erfinv_)
def _erfinv(op, inp, z, gz):
    return [gz * _c(math.sqrt(math.pi) / 2) * exp(sqr(z))]


@register_scalar_grad(S.erfcinv_)
def _erfcinv(op, inp, z, gz):
    return [-gz * _c(math.sqrt(math.pi) / 2) * exp(sqr(z))]


@register_scalar_grad(S.erfcx_)
def _erfcx(op, inp, z, gz):
    return [gz * (_c(-2.0 / math.sqrt(math.pi)) + 2 * inp[0] * z)]


@register_scalar_grad(S.i0_)
def _i0(op, inp, z, gz):
    return [gz * S.i1(inp[0])]


@register_scalar_grad(S.i1_)
def _i1(op, inp, z, gz):
    x = inp[0]
    at0 = eq(x, 0)
    return [gz * switch(at0, 0.5, S.i0(x) - z / switch(at0, 1, x))]


@register_scalar_grad(S.j0_)
def _j0(op, inp, z, gz):
    return [-gz * S.j1(inp[0])]


@register_scalar_grad(S.j1_)
def _j1(op, inp, z, gz):
    x = inp[0]
    at0 = eq(x, 0)
    return [gz * switch(at0, 0.5, S.j0(x) - z / switch(at0, 1, x))]


@register_scalar_grad(S.jv_)
def _jv(op, inp, z, gz):
    v, x = inp
    return [_no_order(op, inp, "order"), gz * (S.jv(v - 1, x) - S.jv(v + 1, x)) / 2]


@register_scalar_grad(S.iv_)
def _iv(op, inp, z, gz):
    v, x = inp
    return [_no_order(op, inp, "order"), gz * (S.iv(v - 1, x) + S.iv(v + 1, x)) / 2]


def _xpow_exp(k, x):
    """x**(k - 1) * exp(-x), as exp((k - 1) log x - x) (finite where the product is)."""
    return exp((k - 1) * log(x) - x)


@register_scalar_grad(S.gammainc_)
def _gammainc(op, inp, z, gz):
    from ..basic import gammaln
    k, x = inp
    return [_no_order(op, inp, "shape k"), gz * exp((k - 1) * log(x) - x - gammaln(k))]


@register_scalar_grad(S.gammaincc_)
def _gammaincc(op, inp, z, gz):
    from ..basic import gammaln
    k, x = inp
    return [_no_order(op, inp, "shape k"), -gz * exp((k - 1) * log(x) - x - gammaln(k))]


@register_scalar_grad(S.gammal_)
def _gammal(op, inp, z, gz):
    k, x = inp
    return [_no_order(op, inp, "shape k"), gz * _xpow_exp(k, x)]


@register_scalar_grad(S.gammau_)
def _gammau(op, inp, z, gz):
    k, x = inp
    return [_no_order(op, inp, "shape k"), -gz * _xpow_exp(k, x)]


@register_scalar_grad(S.chi2sf_)
def _chi2sf(op, inp, z, gz):
    from ..basic import gammaln
    x, k = inp
    h = k / 2
    pdf = exp((h - 1) * log(x) - x / 2 - h * _c(math.log(2.0)) - gammaln(h))
    grads = [-gz * pdf]
    grads.append(undefined(op, 1, "the gradient of chi2sf with respect to k is not implemented")
                 if is_continuous(k) else None)
    return grads
