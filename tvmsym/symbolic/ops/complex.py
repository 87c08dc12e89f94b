"""Complex numbers: ``real``, ``imag``, ``conj``, ``angle``, ``complex``, ``complex_from_polar``
(Theano's scalar ops of the same names, applied with ``Elemwise``), plus the real helpers
``arctan2`` and ``hypot`` the complex lowering is written with.

complex64/complex128 tensors are ordinary ``TensorType``s (``T.cmatrix``, ``T.zmatrix``);
``+ - * /``, ``-x``, ``exp``, ``log``, ``abs``, ``sqr`` and ``dot`` accept them.  TVM has no
complex scalar type: the ``split_complex`` stage (``rewrites/complex.py``) rewrites every
complex computation it knows into real computations on the real and imaginary parts, and
the kernels read and write complex buffers as interleaved floats (``lowering/rules/complex.py``).
Gradients (``grad_rules/complex.py``) follow Theano's convention for a real cost C of
z = x + iy: ``dC/dz = dC/dx + i dC/dy``.
"""
from __future__ import annotations

import numpy as np

from .. import scalar as ps
from ..basic import as_tensor_variable, elemwise
from ..type import COMPLEX_DTYPES
from .helpers import arctan2, ps_arctan2 as arctan2_  # noqa: F401  (one arctan2 op for T and complex)


def _quiet(fn):
    def impl(*a):
        with np.errstate(all="ignore"):
            return fn(*a)
    return impl


def _complex_dtype(*dtypes):
    """Theano's Complex.output_types_preference: complex128 from 32/64-bit ints and float64,
    complex64 otherwise; a complex input is refused."""
    for d in dtypes:
        if d in COMPLEX_DTYPES:
            raise TypeError(f"complex() takes real parts, got a {d} argument (use x itself, or "
                            "real(x)/imag(x))")
    up = np.result_type(*[np.dtype(d) for d in dtypes]).name
    return "complex128" if up in ("float64", "int64", "uint64", "int32", "uint32") else "complex64"


class Real(ps.ScalarOp):
    """The real part (a real input is returned as it is)."""
    name, nin = "real", 1
    impl = staticmethod(np.real)


class Imag(ps.ScalarOp):
    """The imaginary part (zero for a real input)."""
    name, nin = "imag", 1
    impl = staticmethod(np.imag)


class Conj(ps.ScalarOp):
    """The complex conjugate (a real input is returned as it is)."""
    name, nin = "conj", 1
    impl = staticmethod(np.conj)


class Angle(ps.ScalarOp):
    """The argument, ``arctan2(imag, real)`` (numpy.angle)."""
    name, nin = "angle", 1
    impl = staticmethod(_quiet(np.angle))


class Complex(ps.ScalarOp):
    """``complex(x, y) = x + iy`` from two real tensors."""
    name, nin = "complex", 2

    @staticmethod
    def impl(x, y):
        x, y = np.asarray(x), np.asarray(y)
        out = np.empty(np.broadcast(x, y).shape, _complex_dtype(x.dtype.name, y.dtype.name))
        out.real, out.imag = x, y
        return out[()] if out.ndim == 0 else out

    def output_dtypes(self, *dtypes):
        return (_complex_dtype(*dtypes),)


class ComplexFromPolar(ps.ScalarOp):
    """``complex_from_polar(r, theta) = r * (cos(theta) + i sin(theta))``."""
    name, nin = "complex_from_polar", 2

    @staticmethod
    def impl(r, theta):
        r, theta = np.asarray(r), np.asarray(theta)
        dt = _complex_dtype(r.dtype.name, theta.dtype.name)
        fdt = np.float32 if dt == "complex64" else np.float64
        with np.errstate(all="ignore"):
            return Complex.impl((r * np.cos(theta)).astype(fdt), (r * np.sin(theta)).astype(fdt))

    def output_dtypes(self, *dtypes):
        return (_complex_dtype(*dtypes),)


class Hypot(ps.ScalarOp):
    """numpy.hypot(x, y): sqrt(x**2 + y**2) without overflow."""
    name, nin = "hypot", 2
    impl = staticmethod(_quiet(np.hypot))

    def output_dtypes(self, *dtypes):
        return (ps._float_dtype(np.result_type(*dtypes).name),)


real_ = Real()
imag_ = Imag()
conj_ = Conj()
angle_ = Angle()
complex_ = Complex()
complex_from_polar_ = ComplexFromPolar()
hypot_ = Hypot()


def real(x):
    """Real part of ``x`` (``x.real``)."""
    return elemwise(real_, as_tensor_variable(x))


def imag(x):
    """Imaginary part of ``x`` (``x.imag``); zeros for a real ``x``."""
    return elemwise(imag_, as_tensor_variable(x))


def conj(x):
    """Complex conjugate of ``x`` (``x.conj()``)."""
    return elemwise(conj_, as_tensor_variable(x))


def angle(x):
    """Argument of ``x`` in radians (numpy.angle)."""
    return elemwise(angle_, as_tensor_variable(x))


def complex(real_part, imag_part):
    """``real_part + 1j * imag_part`` from two real tensors (broadcasting)."""
    return elemwise(complex_, as_tensor_variable(real_part), as_tensor_variable(imag_part))


def complex_from_polar(abs_part, angle_part):
    """``abs_part * exp(1j * angle_part)`` from two real tensors."""
    return elemwise(complex_from_polar_, as_tensor_variable(abs_part), as_tensor_variable(angle_part))


def hypot(x, y):
    """Elementwise sqrt(x**2 + y**2) without overflow (numpy.hypot)."""
    return elemwise(hypot_, x, y)
