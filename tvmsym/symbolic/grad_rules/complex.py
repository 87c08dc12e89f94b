"""Gradients through complex values, for a real cost C (Theano's convention).

For z = x + iy the gradient is ``dC/dz = dC/dx + i dC/dy``: ``real`` gives
``complex(gz, 0)``, ``imag`` ``complex(0, gz)``, ``complex(x, y)`` gives ``real(gz)`` and
``imag(gz)``, ``abs`` gives ``gz * z / abs(z)``, ``mul`` Theano's ``gz * conj(other)``.
For the other holomorphic ops (add, sub, div, neg, exp, log, sqr, dot) the same convention
gives ``gz * conj(f'(z))``: the real rule evaluated at the conjugated inputs, which is
what the wrappers below do.  A real input of a complex op gets the real part.
Theano's ``angle`` and ``complex_from_polar`` gradients do not match finite differences
(angle's is always zero, polar's drops a conjugate); the correct ones are used here.
"""
from __future__ import annotations

from .. import scalar as ps
from ..basic import cast, cos, eq, sin, switch
from ..grad import GRAD, SCALAR_GRAD, register_grad, register_scalar_grad
from ..ops import complex as C
from ..ops.linalg import Dot
from ..type import COMPLEX_DTYPES
from . import (
    elemwise as _elemwise,  # noqa: F401  (the real rules wrapped below)
    linalg as _linalg,  # noqa: F401
)


def _is_c(v):
    return v.type.dtype in COMPLEX_DTYPES


def _fit_kind(g, v):
    """A complex gradient of a real input is its real part (dC/dx of a real x)."""
    if g is not None and _is_c(g) and not _is_c(v):
        return C.real(g)
    return g


def _holomorphic(orig):
    def rule(op, inp, z, gz):
        if not (_is_c(z) or any(_is_c(i) for i in inp)):
            return orig(op, inp, z, gz)
        conj_in = [C.conj(i) if _is_c(i) else i for i in inp]
        gs = orig(op, conj_in, C.conj(z) if _is_c(z) else z, gz)
        return [_fit_kind(g, v) for g, v in zip(gs, inp)]
    return rule


for _sop in (ps.add, ps.sub, ps.mul, ps.true_div, ps.neg, ps.identity, ps.exp, ps.log, ps.sqr):
    SCALAR_GRAD[type(_sop)] = _holomorphic(SCALAR_GRAD[type(_sop)])

_real_abs = SCALAR_GRAD[type(ps.abs_)]


@register_scalar_grad(ps.abs_)
def _abs(op, inp, z, gz):
    (x,) = inp
    if _is_c(x):
        return [gz * x / cast(z, x.dtype)]     # Theano: gz * x / abs(x)
    return _real_abs(op, inp, z, gz)


@register_scalar_grad(C.Real)
def _real(op, inp, z, gz):
    (x,) = inp
    return [C.complex(gz, 0) if _is_c(x) else gz]


@register_scalar_grad(C.Imag)
def _imag(op, inp, z, gz):
    (x,) = inp
    if _is_c(x):
        return [C.complex(0, gz)]
    from ..grad import symbolic_zero
    return [symbolic_zero(x)]


@register_scalar_grad(C.Conj)
def _conj(op, inp, z, gz):
    return [C.conj(gz)]


@register_scalar_grad(C.Complex)
def _complex(op, inp, z, gz):
    x, y = inp
    return [cast(C.real(gz), x.dtype), cast(C.imag(gz), y.dtype)]


@register_scalar_grad(C.Angle)
def _angle(op, inp, z, gz):
    (c,) = inp
    if not _is_c(c):
        from ..grad import symbolic_zero
        return [symbolic_zero(c)]
    x, y = C.real(c), C.imag(c)
    r2 = x * x + y * y
    return [C.complex(-gz * y / r2, gz * x / r2)]      # d angle = (-y dx + x dy) / r**2


@register_scalar_grad(C.ComplexFromPolar)
def _polar(op, inp, z, gz):
    r, t = inp
    gr, gi = C.real(gz), C.imag(gz)
    # z = r cos t + i r sin t; dC/dr = gr cos t + gi sin t; dC/dt = r (gi cos t - gr sin t)
    return [cast(gr * cos(t) + gi * sin(t), r.dtype), cast(r * (gi * cos(t) - gr * sin(t)), t.dtype)]


@register_scalar_grad(C.Hypot)
def _hypot(op, inp, z, gz):
    x, y = inp
    safe = switch(eq(z, 0), 1, z)
    return [gz * x / safe, gz * y / safe]


_real_dot = GRAD[Dot]


@register_grad(Dot)
def _dot(node, inputs, gouts):
    if not any(_is_c(v) for v in list(inputs) + list(node.outputs)):
        return _real_dot(node, inputs, gouts)
    conj_in = [C.conj(i) if _is_c(i) else i for i in inputs]
    node2 = Dot().make_node(*conj_in)
    return [_fit_kind(g, v) for g, v in zip(_real_dot(node2, conj_in, gouts), inputs)]
