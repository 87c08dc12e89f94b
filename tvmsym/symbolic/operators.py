"""``TensorOperators``: the Python operators and methods of tensor variables, in one place.

``TensorVariable`` (``graph.py``) inherits them: ``x + y``, ``x[1:]``, ``x @ w``, ``x.sum()``,
``x.reshape(...)``, ``x.T`` ...  Each method calls the tensor API function of the same
name, imported when called (the API modules import ``graph.py``, so this module imports
nothing of them at load time).  ``==`` stays identity-based (Theano): graphs are dict keys;
use ``eq``/``neq``.
"""
from __future__ import annotations


def _basic():
    from . import basic
    return basic


def _ops(family):
    from importlib import import_module
    return import_module(f"{__package__}.ops.{family}")


def _not_bool(v):
    v._is_nonzero = False       # a comparison's result has no truth value (see __bool__)
    return v


def _axes(axes):
    return axes[0] if len(axes) == 1 and isinstance(axes[0], (list, tuple)) else (axes or None)


class TensorOperators:
    """Operators and methods shared by every tensor variable (and constant)."""

    __slots__ = ()
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ arithmetic
    def __add__(a, b): return _basic().add(a, b)
    def __radd__(a, b): return _basic().add(b, a)
    def __sub__(a, b): return _basic().sub(a, b)
    def __rsub__(a, b): return _basic().sub(b, a)
    def __mul__(a, b): return _basic().mul(a, b)
    def __rmul__(a, b): return _basic().mul(b, a)
    def __truediv__(a, b): return _basic().true_div(a, b)
    def __rtruediv__(a, b): return _basic().true_div(b, a)
    def __floordiv__(a, b): return _basic().int_div(a, b)
    def __rfloordiv__(a, b): return _basic().int_div(b, a)
    def __mod__(a, b): return _basic().mod(a, b)
    def __rmod__(a, b): return _basic().mod(b, a)
    def __pow__(a, b): return _basic().pow(a, b)
    def __rpow__(a, b): return _basic().pow(b, a)
    def __neg__(a): return _basic().neg(a)
    def __pos__(a): return a
    def __abs__(a): return _basic().abs_(a)
    def __matmul__(a, b): return _ops("linalg").matmul(a, b)
    def __rmatmul__(a, b): return _ops("linalg").matmul(b, a)

    # ------------------------------------------------------------------ comparisons, logic
    def __lt__(a, b): return _not_bool(_basic().lt(a, b))
    def __le__(a, b): return _not_bool(_basic().le(a, b))
    def __gt__(a, b): return _not_bool(_basic().gt(a, b))
    def __ge__(a, b): return _not_bool(_basic().ge(a, b))
    def __and__(a, b): return _basic().and_(a, b)
    def __rand__(a, b): return _basic().and_(b, a)
    def __or__(a, b): return _basic().or_(a, b)
    def __ror__(a, b): return _basic().or_(b, a)
    def __xor__(a, b): return _basic().xor(a, b)
    def __rxor__(a, b): return _basic().xor(b, a)
    def __invert__(a): return _basic().invert(a)

    def __bool__(self):
        # Theano: every variable is true (``if not W:`` tests that W was given), except the
        # result of a Python comparison, so that ``a < b < c`` fails instead of computing
        # ``(a < b) and (b < c)``
        if self.__dict__.get("_is_nonzero", True):
            return True
        raise TypeError("a symbolic comparison has no truth value (a < b < c, or `if x > 0:` "
                        "on a symbolic x); use tvmsym.tensor.switch, and_/or_ for chains")

    def __iter__(self):
        raise TypeError("a symbolic tensor is not iterable")

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, args): return _ops("subtensor").getitem(self, args)
    def take(self, indices, axis=None): return _ops("subtensor").take(self, indices, axis)

    # ------------------------------------------------------------------ elementwise methods
    def astype(self, dtype): return _basic().cast(self, dtype)
    def exp(self): return _basic().exp(self)
    def log(self): return _basic().log(self)
    def sqrt(self): return _basic().sqrt(self)
    def clip(self, lo, hi): return _basic().clip(self, lo, hi)

    # ------------------------------------------------------------------ layout and shape
    def dimshuffle(self, *pattern): return _basic().dimshuffle(self, *pattern)
    def transpose(self, *axes): return _basic().transpose(self, _axes(axes))

    @property
    def T(self):
        return _basic().transpose(self)

    @property
    def shape(self):
        return _ops("shape").shape(self)

    @property
    def size(self):
        return _ops("shape")._size(self)

    def reshape(self, *shp, ndim=None):
        return _ops("shape").reshape(self, shp[0] if len(shp) == 1 else shp, ndim=ndim)

    def flatten(self, ndim=1): return _ops("shape").flatten(self, ndim)
    def ravel(self): return _ops("shape").flatten(self, 1)
    def repeat(self, repeats, axis=None): return _ops("shape").repeat(self, repeats, axis)
    def squeeze(self, axis=None): return _ops("shape").squeeze(self, axis)
    def diagonal(self, offset=0): return _ops("shape").diagonal(self, offset)

    # ------------------------------------------------------------------ products
    def dot(self, other): return _ops("linalg").dot(self, other)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _ops("reduce").sum(self, axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _ops("reduce").prod(self, axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _ops("reduce").mean(self, axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _ops("reduce").var(self, axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _ops("reduce").std(self, axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def max(self, axis=None, keepdims=False): return _ops("reduce").max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops("reduce").min(self, axis, keepdims)
    def argmax(self, axis=None, keepdims=False): return _ops("reduce").argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _ops("reduce").argmin(self, axis, keepdims)
    def all(self, axis=None, keepdims=False): return _ops("reduce").all(self, axis, keepdims)
    def any(self, axis=None, keepdims=False): return _ops("reduce").any(self, axis, keepdims)

    # ------------------------------------------------------------------ sort, cumulative
    def sort(self, axis=-1, kind="quicksort", order=None):
        return _ops("sort").sort(self, axis, kind, order)

    def argsort(self, axis=-1, kind="quicksort", order=None):
        return _ops("sort").argsort(self, axis, kind, order)

    def cumsum(self, axis=None, dtype=None): return _ops("cum").cumsum(self, axis, dtype)
    def cumprod(self, axis=None, dtype=None): return _ops("cum").cumprod(self, axis, dtype)

    # ------------------------------------------------------------------ complex values
    @property
    def real(self):
        return _ops("complex").real(self)

    @property
    def imag(self):
        return _ops("complex").imag(self)

    def conj(self): return _ops("complex").conj(self)
    def conjugate(self): return _ops("complex").conj(self)
