"""Special functions of Theano's ``scalar.math``: digamma and friends, inverse error
functions, Bessel functions, incomplete gamma functions.

Each is a scalar op whose reference (``impl``) is scipy.special, the field's standard.
Those with a TVM lowering (``lowering/rules/special_math.py``: psi, tri_gamma, erfinv,
erfcinv, erfcx, i0, i1 as vectorized polynomial kernels, j0/j1 through libm) are ordinary
``Elemwise`` nodes and fuse with their neighbours.  The others (jv, iv, gammainc,
gammaincc, gammau, gammal, chi2sf: series and continued fractions with data-dependent
iteration counts) are ``host_only``: their tensor functions build a ``HostElemwise`` node,
which runs scipy on the host between the kernels.
"""
from __future__ import annotations

import numpy as np

from . import scalar as ps
from .elemwise import Elemwise
from .graph import Apply, Op

__all__ = ["psi", "tri_gamma", "erfinv", "erfcinv", "erfcx", "i0", "i1", "iv", "j0", "j1", "jv",
           "gammainc", "gammaincc", "gammau", "gammal", "chi2sf", "HostElemwise"]


def _sp(name):
    """scipy.special.<name>, computed in float64 (float32 results rounded once)."""
    def impl(*args):
        import scipy.special
        fn = getattr(scipy.special, name)
        with np.errstate(all="ignore"):
            return fn(*[np.asarray(a, dtype=np.float64) for a in args])
    return impl


def _gammau(k, x):
    import scipy.special as s
    with np.errstate(all="ignore"):
        k, x = np.asarray(k, np.float64), np.asarray(x, np.float64)
        return s.gammaincc(k, x) * s.gamma(k)


def _gammal(k, x):
    import scipy.special as s
    with np.errstate(all="ignore"):
        k, x = np.asarray(k, np.float64), np.asarray(x, np.float64)
        return s.gammainc(k, x) * s.gamma(k)


def _chi2sf(x, k):
    import scipy.special as s
    with np.errstate(all="ignore"):
        x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
        return s.chdtrc(k, x)


def _sop(name, nin, impl, cls_name, host_only=False, copies=1):
    op = ps._op(name, nin, impl, float_out=True, cls_name=cls_name)
    if host_only:
        type(op).host_only = "scipy.special on the host: iterative series / continued fractions"
    op.arg_copies = copies
    return op


# name in Theano, scipy reference, class name; ``copies``: how often the kernel reads its
# argument (fusion's cost model, see ScalarOp.arg_copies)
psi_ = _sop("psi", 1, _sp("psi"), "Psi", copies=16)
tri_gamma_ = _sop("tri_gamma", 1, lambda x: _sp("polygamma")(1, x), "TriGamma", copies=16)
type(tri_gamma_).no_grad = "Theano defines no gradient for tri_gamma (it would need polygamma(2, x))"
erfinv_ = _sop("erfinv", 1, _sp("erfinv"), "Erfinv", copies=4)
erfcinv_ = _sop("erfcinv", 1, _sp("erfcinv"), "Erfcinv", copies=4)
erfcx_ = _sop("erfcx", 1, _sp("erfcx"), "Erfcx", copies=4)
i0_ = _sop("i0", 1, _sp("i0"), "I0", copies=4)
i1_ = _sop("i1", 1, _sp("i1"), "I1", copies=4)
j0_ = _sop("j0", 1, _sp("j0"), "J0")
j1_ = _sop("j1", 1, _sp("j1"), "J1")
jv_ = _sop("jv", 2, _sp("jv"), "Jv", host_only=True)
iv_ = _sop("iv", 2, _sp("iv"), "Iv", host_only=True)
gammainc_ = _sop("gammainc", 2, _sp("gammainc"), "GammaInc", host_only=True)
gammaincc_ = _sop("gammaincc", 2, _sp("gammaincc"), "GammaIncC", host_only=True)
gammau_ = _sop("gammau", 2, _gammau, "GammaU", host_only=True)
gammal_ = _sop("gammal", 2, _gammal, "GammaL", host_only=True)
chi2sf_ = _sop("chi2sf", 2, _chi2sf, "Chi2SF", host_only=True)


class HostElemwise(Op):
    """A scalar op applied with broadcasting on the host (its scipy ``impl``), for the
    special functions TVM has no kernel for.  Types, shapes and gradients are Elemwise's."""

    __props__ = ("scalar_op",)
    kind = "opaque"
    host_only = "scipy.special on the host: iterative series / continued fractions"

    def __init__(self, scalar_op):
        self.scalar_op = scalar_op

    def __str__(self):
        return f"HostElemwise{{{self.scalar_op}}}"

    __repr__ = __str__

    def make_node(self, *inputs):
        node = Elemwise(self.scalar_op).make_node(*inputs)
        return Apply(self, node.inputs, [o.type() for o in node.outputs])

    def infer_shape(self, node, shapes):
        return Elemwise(self.scalar_op).infer_shape(node, shapes)

    def perform(self, node, inputs):
        return Elemwise(self.scalar_op).perform(node, inputs)

    def pp(self, node, args, v):
        return self.scalar_op.format(*args)


def apply_special(sop, *args):
    """``sop`` on tensors: an Elemwise, or a HostElemwise for a host-only scalar op."""
    from .basic import elemwise
    if getattr(sop, "host_only", False):
        from .basic import as_tensor_variable
        return HostElemwise(sop)(*[as_tensor_variable(a) for a in args])
    return elemwise(sop, *args)


def psi(x):
    """Digamma, the derivative of gammaln (scipy.special.psi)."""
    return apply_special(psi_, x)


def tri_gamma(x):
    """Trigamma, the derivative of psi (scipy.special.polygamma(1, x))."""
    return apply_special(tri_gamma_, x)


def erfinv(x):
    """Inverse error function on [-1, 1]."""
    return apply_special(erfinv_, x)


def erfcinv(x):
    """Inverse complementary error function on [0, 2] (accurate for tiny x)."""
    return apply_special(erfcinv_, x)


def erfcx(x):
    """Scaled complementary error function exp(x**2) * erfc(x), without overflow."""
    return apply_special(erfcx_, x)


def i0(x):
    """Modified Bessel function of the first kind, order 0."""
    return apply_special(i0_, x)


def i1(x):
    """Modified Bessel function of the first kind, order 1."""
    return apply_special(i1_, x)


def iv(v, x):
    """Modified Bessel function of the first kind of real order v (host, scipy)."""
    return apply_special(iv_, v, x)


def j0(x):
    """Bessel function of the first kind, order 0."""
    return apply_special(j0_, x)


def j1(x):
    """Bessel function of the first kind, order 1."""
    return apply_special(j1_, x)


def jv(v, x):
    """Bessel function of the first kind of real order v (host, scipy)."""
    return apply_special(jv_, v, x)


def gammainc(k, x):
    """Regularized lower incomplete gamma function P(k, x) (host, scipy)."""
    return apply_special(gammainc_, k, x)


def gammaincc(k, x):
    """Regularized upper incomplete gamma function Q(k, x) (host, scipy)."""
    return apply_special(gammaincc_, k, x)


def gammau(k, x):
    """Upper incomplete gamma function Gamma(k, x) = Q(k, x) Gamma(k) (host, scipy)."""
    return apply_special(gammau_, k, x)


def gammal(k, x):
    """Lower incomplete gamma function gamma(k, x) = P(k, x) Gamma(k) (host, scipy)."""
    return apply_special(gammal_, k, x)


def chi2sf(x, k):
    """Survival function of the chi-square distribution with k degrees of freedom (host)."""
    return apply_special(chi2sf_, x, k)
