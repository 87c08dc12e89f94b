"""TVM expressions of the special functions (``symbolic/special.py``).

Written as plain expressions so that they vectorize inside the fused elementwise kernels:
Horner polynomials, ``Select`` for the branches (every branch is computed, the right one
kept: no loop, no scratch buffer; a value read often is Let-bound once, see ``let``), and
only intrinsics that vectorize: libmvec's exp, log, sin, cos, sqrt, fabs,
floor, division (not copysign: TVM calls libm's, which scalarizes the loop).  Everything is
computed in float64 and rounded once to the output dtype.

* psi, tri_gamma: reflection to x >= 1 (psi(1 - x) - pi cot(pi x), pi^2 / sin^2(pi x) -
  psi1(1 - x)), a shift by 10 (sum of 1 / (y + k)), then the asymptotic series with the
  Bernoulli numbers (error < 1e-16 for z >= 10).
* erfinv, erfcinv: ``y * P(w)`` with ``w = -log((1 - y)(1 + y))`` (= ``-log(z (2 - z))`` for
  erfcinv, so its tail keeps full precision), P piecewise in w then sqrt(w)
  (``special_coeffs.py``, fitted by ``scripts/fit_special.py``).
* erfcx: ``t G(t)`` with ``t = 1 / (1 + |x|)``, G piecewise; ``2 exp(x^2) - erfcx(-x)`` for x < 0.
* i0, i1: the power series in x^2/4 for |x| <= 8, ``exp(|x|) / sqrt(|x|) H(8 / |x|)`` beyond
  (the exponential split in two halves so that the result overflows only when it must).
* j0, j1: libm's (a scalar call per element: oscillating functions with zeros everywhere
  need argument reduction that a polynomial cannot give).
"""
from __future__ import annotations

import math

from ... import _tvm
from ...symbolic import special as S
from . import scalar_rule, special_coeffs as K
from .scalar import cast, const

tirx = _tvm.tirx
F64 = "float64"


def c(v):
    return const(float(v), F64)


def let(value, body):
    """``body(v)`` with ``v`` bound to ``value`` once (a Let): a value read many times is
    computed once, and the expression TVM simplifies stays small (a tree of copies made
    compiling psi take 10 s).  TVM 0.27 vectorizes the Let (checked: vector IR)."""
    if isinstance(value, (tirx.Var, tirx.FloatImm, tirx.IntImm)):
        return body(value)
    var = tirx.Var("sf", str(value.ty))
    return tirx.Let(var, value, body(var))


def horner(coefs, t):
    def body(t):
        r = c(coefs[-1])
        for a in coefs[-2::-1]:
            r = r * t + c(a)
        return r
    return let(t, body)


def pieces(u, table):
    """The piecewise polynomial ``table`` at ``u`` (the last piece beyond its end)."""
    def body(u):
        result = None
        for lo, hi, centre, half, coefs in reversed([p[:5] for p in table]):
            val = horner(coefs, (u - c(centre)) * c(1.0 / half))
            result = val if result is None else tirx.Select(u < c(hi), val, result)
        return result
    return let(u, body)


def _unary(fn):
    """A float64 rule rounded to the output dtype (its argument bound once)."""
    def rule(op, args, out):
        return cast(let(cast(args[0], F64), fn), out)
    return rule


def _inf():
    return c(math.inf)


def _nan():
    return c(math.nan)


def _log(v):
    """log (libmvec's vector log on llvm): callers Let-bind its argument's uses, so it is
    called once per element (LLVM does not merge copies of the libmvec call)."""
    return tirx.log(v)


def _round(x):
    """x rounded to an integer (floor(x + 0.5); |x| >= 2**52 is one already)."""
    return tirx.Select(tirx.abs(x) < c(2.0 ** 52), tirx.floor(x + c(0.5)), x)


def _pi_cot_pi(x):
    """pi * cot(pi * x), through the exact reduction r = x - round(x)."""
    r = x - _round(x)
    return c(math.pi) * tirx.cos(c(math.pi) * r) / tirx.sin(c(math.pi) * r)


# Bernoulli numbers B2 ... B18
_B = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798]
SHIFT = 10


def _psi(x):
    neg = x < c(0)
    return let(tirx.Select(neg, c(1) - x, x),
               lambda y: let(_psi_pos(y), lambda py: _psi_finish(x, neg, py)))


def _psi_pos(y):
    """psi(y) for y > 0."""
    s = None
    for k in range(SHIFT):
        term = c(1) / (y + c(k))
        s = term if s is None else s + term
    z = y + c(SHIFT)

    def with_zi(zi):
        zi2 = zi * zi
        series = horner([_B[k] / (2 * k + 2) for k in range(8)], zi2) * zi2
        return _log(z) - c(0.5) * zi - series - s
    return let(c(1) / z, with_zi)


def _psi_finish(x, neg, py):
    res = tirx.Select(neg, py - _pi_cot_pi(x), py)
    pole = tirx.And(neg, tirx.EQ(x, tirx.floor(x)))
    res = tirx.Select(pole, _nan(), res)
    return tirx.Select(tirx.EQ(x, c(0)), c(-1) / x, res)      # -inf at +0, +inf at -0


def _trigamma_pos(y):
    """psi1(y) for y > 0."""
    s = None
    for k in range(SHIFT):
        term = c(1) / ((y + c(k)) * (y + c(k)))
        s = term if s is None else s + term

    def with_zi(zi):
        zi2 = zi * zi
        series = horner(_B, zi2) * zi2 * zi
        return zi + c(0.5) * zi2 + series + s
    return let(c(1) / (y + c(SHIFT)), with_zi)


def _trigamma(x):
    neg = x <= c(0)
    return let(tirx.Select(neg, c(1) - x, x),
               lambda y: let(_trigamma_pos(y), lambda py: _trigamma_finish(x, neg, py)))


def _trigamma_finish(x, neg, py):
    r = x - _round(x)
    sn = tirx.sin(c(math.pi) * r)
    refl = c(math.pi * math.pi) / (sn * sn) - py
    res = tirx.Select(neg, refl, py)
    pole = tirx.Or(tirx.And(neg, tirx.EQ(x, tirx.floor(x))), tirx.EQ(x, c(-math.inf)))
    return tirx.Select(pole, _inf(), res)


W_SPLIT = 6.25


def _erfinv_p(w):
    def body(w):
        small = pieces(w, K.ERFINV_W)
        big = pieces(tirx.sqrt(w), K.ERFINV_S)
        return tirx.Select(w < c(W_SPLIT), small, big)
    return let(w, body)


def _erfinv(y):
    a = tirx.abs(y)
    v = (c(1) - a) * (c(1) + a)
    w = tirx.Select(v > c(0), -_log(v), _nan())   # |y| > 1: NaN
    res = y * _erfinv_p(w)
    return tirx.Select(tirx.EQ(a, c(1)), tirx.Select(y < c(0), -_inf(), _inf()), res)


def _erfcinv(z):
    v = z * (c(2) - z)
    w = tirx.Select(v > c(0), -_log(v), _nan())   # z outside [0, 2]: NaN
    res = (c(1) - z) * _erfinv_p(w)
    res = tirx.Select(tirx.EQ(z, c(0)), _inf(), res)
    return tirx.Select(tirx.EQ(z, c(2)), -_inf(), res)


def _erfcx_pos(a):
    t = c(1) / (c(1) + a)
    return t * pieces(t, K.ERFCX_T)


def _erfcx(x):
    return let(_erfcx_pos(tirx.abs(x)),
               lambda pos: tirx.Select(x < c(0), c(2) * tirx.exp(x * x) - pos, pos))


_I0_SERIES = [1.0 / math.factorial(k) ** 2 for k in range(24)]
_I1_SERIES = [1.0 / (math.factorial(k) * math.factorial(k + 1)) for k in range(24)]
I_SPLIT = 8.0


def _bessel_i(x, series, table, odd):
    return let(tirx.abs(x), lambda a: _bessel_i_abs(x, a, series, table, odd))


def _bessel_i_abs(x, a, series, table, odd):
    small = horner(series, a * a * c(0.25))
    if odd:
        small = small * x * c(0.5)
    big = let(tirx.exp(a * c(0.5)),
              lambda e: e * (e * pieces(c(I_SPLIT) / a, table) / tirx.sqrt(a)))
    if odd:
        big = big * tirx.Select(x < c(0), c(-1), c(1))      # (a Let must not appear twice)
    return tirx.Select(a <= c(I_SPLIT), small, big)


def _i0(x):
    return _bessel_i(x, _I0_SERIES, K.I0_T, False)


def _i1(x):
    return _bessel_i(x, _I1_SERIES, K.I1_T, True)


def _libm(name):
    def rule(op, args, out):
        x = cast(args[0], F64)
        val = tirx.call_pure_extern(F64, name, x)
        return cast(tirx.Select(tirx.isinf(x), _nan(), val), out)     # scipy: NaN at +-inf
    return rule


scalar_rule(type(S.psi_), _unary(_psi))
scalar_rule(type(S.tri_gamma_), _unary(_trigamma))
scalar_rule(type(S.erfinv_), _unary(_erfinv))
scalar_rule(type(S.erfcinv_), _unary(_erfcinv))
scalar_rule(type(S.erfcx_), _unary(_erfcx))
scalar_rule(type(S.i0_), _unary(_i0))
scalar_rule(type(S.i1_), _unary(_i1))
scalar_rule(type(S.j0_), _libm("j0"))
scalar_rule(type(S.j1_), _libm("j1"))
