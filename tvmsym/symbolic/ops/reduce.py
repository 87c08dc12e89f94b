"""Reductions: one ``CAReduce`` family (Sum, Prod, Max, Min, All, Any, Mean) plus Argmax/Argmin.

Every reduction op removes the reduced axes; ``keepdims=True`` is a DimShuffle
inserting broadcastable dimensions afterwards (Theano's ``makeKeepDims``).
Output dtypes follow numpy: ``sum(int8)`` is int64, ``mean(int)`` float64,
float16 accumulates in float32.  ``var``, ``std`` and ``logsumexp`` are
graph-level functions built from these ops.
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.exceptions import AxisError

from .. import basic as tb
from ..elemwise import DimShuffle
from ..graph import Apply, Op, TensorVariable
from ..type import TensorType, normalize_dtype


# --------------------------------------------------------------------------- axes
def normalize_axis(axis, ndim, opname="reduction"):
    """Sorted tuple of non-negative axes, or raise AxisError/ValueError/TypeError at build time."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        axes = [axis]
    out = []
    for a in axes:
        if isinstance(a, TensorVariable):
            raise TypeError(f"{opname}: axis must be a Python int or a tuple of ints, got the "
                            f"symbolic variable {a}")
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
            raise TypeError(f"{opname}: axis must be an int or a tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise AxisError(a, ndim, msg_prefix=opname)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{opname}: duplicate value in 'axis' ({axis!r})")
    return tuple(sorted(out))


def _axis_prop(axes, ndim):
    """The op's ``axis`` property: None when every axis is reduced (Theano prints no axis then)."""
    return None if tuple(axes) == tuple(range(ndim)) else tuple(axes)


def _keepdims(out, axes, ndim):
    pattern, k = [], 0
    for d in range(ndim):
        if d in axes:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return DimShuffle(out.broadcastable, pattern)(out)


def sum_dtype(dtype):
    """numpy's default result dtype of add.reduce / multiply.reduce."""
    d = np.dtype(dtype)
    if d.kind == "b" or (d.kind == "i" and d.itemsize < 8):
        return "int64"
    if d.kind == "u" and d.itemsize < 8:
        return "uint64"
    return d.name


def mean_dtype(dtype):
    d = np.dtype(dtype)
    return "float64" if d.kind in "biu" else d.name


def acc_of(dtype):
    """Accumulation dtype for a result dtype: float16 accumulates in float32."""
    return "float32" if dtype == "float16" else dtype


# --------------------------------------------------------------------------- ops
class CAReduce(Op):
    """Reduce ``axis`` (a tuple, or None for all) with a commutative-associative operator.

    ``reducer`` names the operator for lowering: add, mul, max, min, and, or.
    ``identity`` is its neutral element (None: empty reductions raise, as numpy's).
    """

    __props__ = ("axis",)
    reducer = None
    identity = None
    np_name = None          # numpy ufunc named in error messages

    def __init__(self, axis=None):
        self.axis = None if axis is None else tuple(int(a) for a in axis)

    # dtypes ------------------------------------------------------------------
    def out_dtype(self, in_dtype):
        return in_dtype

    def accumulate_dtype(self, in_dtype):
        return self.out_dtype(in_dtype)

    def reduced_axes(self, ndim):
        return tuple(range(ndim)) if self.axis is None else self.axis

    # printing ------------------------------------------------------------------
    def _fields(self):
        return [f"axis=[{', '.join(map(str, self.axis))}]"] if self.axis is not None else []

    def __str__(self):
        f = self._fields()
        return f"{type(self).__name__}{{{', '.join(f)}}}" if f else type(self).__name__

    __repr__ = __str__

    # graph ---------------------------------------------------------------------
    def resolve(self, x):
        """The op with its dtype properties made concrete for input ``x``."""
        return self

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        op = self.resolve(x)
        axes = op.reduced_axes(x.ndim)
        for a in axes:
            if not 0 <= a < x.ndim:
                raise AxisError(a, x.ndim, msg_prefix=str(op))
        bcast = tuple(b for d, b in enumerate(x.broadcastable) if d not in axes)
        return Apply(op, [x], [TensorType(op.out_dtype(x.dtype), bcast)()])

    def infer_shape(self, node, shapes):
        (s,) = shapes
        axes = self.reduced_axes(len(s))
        if self.identity is None and int(np.prod([s[a] for a in axes])) == 0 and axes:
            raise ValueError(self.empty_message(s))
        return [tuple(d for k, d in enumerate(s) if k not in axes)]

    def empty_message(self, shape):
        return (f"zero-size array to reduction operation {self.np_name} which has no identity "
                f"({self} of an input of shape {tuple(shape)})")

    def perform(self, node, inputs):
        (x,) = inputs
        axes = self.reduced_axes(x.ndim)
        out = node.outputs[0].type.dtype
        if self.identity is None and axes and int(np.prod([x.shape[a] for a in axes])) == 0:
            raise ValueError(self.empty_message(x.shape))
        return [np.asarray(self.np_reduce(x, axes), dtype=out)]

    def np_reduce(self, x, axes):
        raise NotImplementedError


class _DtypeReduce(CAReduce):
    """A reduction with numpy's ``dtype`` and an accumulator dtype (Theano's CAReduceDtype)."""

    __props__ = ("axis", "dtype", "acc_dtype")
    default_dtype = staticmethod(sum_dtype)

    def __init__(self, axis=None, dtype=None, acc_dtype=None):
        super().__init__(axis)
        self.dtype = None if dtype is None else normalize_dtype(dtype)
        self.acc_dtype = None if acc_dtype is None else normalize_dtype(acc_dtype)

    def resolve(self, x):
        if self.dtype is not None and self.acc_dtype is not None:
            return self
        dtype = self.dtype or self.default_dtype(x.dtype)
        acc = self.acc_dtype or acc_of(dtype)
        return self.clone(dtype=dtype, acc_dtype=acc)

    def clone(self, **kw):
        args = {p: getattr(self, p) for p in self.__props__}
        args.update(kw)
        return type(self)(**args)

    def out_dtype(self, in_dtype):
        return self.dtype or self.default_dtype(in_dtype)

    def accumulate_dtype(self, in_dtype):
        return self.acc_dtype or acc_of(self.out_dtype(in_dtype))

    def _fields(self):
        f = super()._fields() + [f"acc_dtype={self.acc_dtype}"]
        if self.dtype is not None and self.dtype != self.acc_dtype:
            f.append(f"dtype={self.dtype}")
        return f


class Sum(_DtypeReduce):
    """``Sum{axis=[1], acc_dtype=float64}``: numpy.sum over ``axis``."""
    reducer, identity, np_name = "add", 0, "add"

    def np_reduce(self, x, axes):
        return np.sum(x, axis=axes, dtype=self.acc_dtype)


class Prod(_DtypeReduce):
    """numpy.prod over ``axis``."""
    reducer, identity, np_name = "mul", 1, "multiply"

    def np_reduce(self, x, axes):
        return np.prod(x, axis=axes, dtype=self.acc_dtype)


class Mean(_DtypeReduce):
    """Sum over ``axis`` divided by (number of reduced elements - ddof); numpy.mean when ddof=0.

    ``ddof`` lets ``var``/``std`` divide by n - ddof without a symbolic shape.  An empty
    reduction divides 0 by 0 (nan), as numpy does.
    """
    __props__ = ("axis", "dtype", "acc_dtype", "ddof")
    reducer, identity, np_name = "add", 0, "add"
    default_dtype = staticmethod(mean_dtype)

    def __init__(self, axis=None, dtype=None, acc_dtype=None, ddof=0):
        super().__init__(axis, dtype, acc_dtype)
        self.ddof = int(ddof)

    def _fields(self):
        f = super()._fields()
        return f + ([f"ddof={self.ddof}"] if self.ddof else [])

    def divisor(self, shape):
        n = int(np.prod([shape[a] for a in self.reduced_axes(len(shape))]))
        return n - self.ddof if n > self.ddof else 0

    def np_reduce(self, x, axes):
        s = np.sum(x, axis=axes, dtype=self.acc_dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(s, self.divisor(x.shape))


class Max(CAReduce):
    """numpy.max over ``axis`` (NaN propagates; an empty reduction raises ValueError)."""
    reducer, np_name = "max", "maximum"

    def np_reduce(self, x, axes):
        return np.max(x, axis=axes)


class MaxOrLowest(Max):
    """numpy.max(x, axis, initial=-inf): an empty reduction gives -inf (logsumexp's shift)."""
    identity = -np.inf

    def np_reduce(self, x, axes):
        if x.dtype.kind != "f":
            return np.max(x, axis=axes, initial=np.iinfo(x.dtype).min) if x.dtype.kind in "iu" \
                else np.max(x, axis=axes, initial=False)
        return np.max(x, axis=axes, initial=-np.inf)


class Min(CAReduce):
    """numpy.min over ``axis``."""
    reducer, np_name = "min", "minimum"

    def np_reduce(self, x, axes):
        return np.min(x, axis=axes)


class All(CAReduce):
    """numpy.all over ``axis`` (bool result)."""

    no_grad = "a boolean result"
    reducer, identity, np_name = "and", True, "logical_and"

    def out_dtype(self, in_dtype):
        return "bool"

    def np_reduce(self, x, axes):
        return np.all(x, axis=axes)


class Any(CAReduce):
    """numpy.any over ``axis`` (bool result)."""

    no_grad = "a boolean result"
    reducer, identity, np_name = "or", False, "logical_or"

    def out_dtype(self, in_dtype):
        return "bool"

    def np_reduce(self, x, axes):
        return np.any(x, axis=axes)


class Argmax(CAReduce):
    """Index of the first maximum over ``axis`` (int64); several axes count in C order.

    NaN counts as the maximum (numpy.argmax); an empty reduction raises ValueError.
    """

    no_grad = "an integer result"
    reducer, np_name = "argmax", "argmax"

    def out_dtype(self, in_dtype):
        return "int64"

    def empty_message(self, shape):
        return f"attempt to get {self.np_name} of an empty sequence ({self} of shape {tuple(shape)})"

    def np_reduce(self, x, axes):
        keep = [d for d in range(x.ndim) if d not in axes]
        y = np.transpose(x, keep + list(axes))
        y = y.reshape(y.shape[:len(keep)] + (-1,))
        return getattr(np, self.np_name)(y, axis=-1)


class Argmin(Argmax):
    """Index of the first minimum over ``axis`` (int64)."""

    no_grad = "an integer result"
    reducer, np_name = "argmin", "argmin"


# --------------------------------------------------------------------------- functions
def _reduce(op_cls, x, axis, keepdims, name, **kw):
    x = tb.as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, name)
    out = op_cls(axis=_axis_prop(axes, x.ndim), **kw)(x)
    return _keepdims(out, axes, x.ndim) if keepdims else out


def sum(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis`` (None: all); ints accumulate in int64 as numpy does."""
    return _reduce(Sum, x, axis, keepdims, "sum", dtype=dtype, acc_dtype=acc_dtype)


def prod(x, axis=None, dtype=None, keepdims=False, acc_dtype=None, no_zeros_in_input=False):
    """Product over ``axis``."""
    return _reduce(Prod, x, axis, keepdims, "prod", dtype=dtype, acc_dtype=acc_dtype)


def mean(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis``; ints give float64 (numpy); empty gives nan."""
    return _reduce(Mean, x, axis, keepdims, "mean", dtype=dtype, acc_dtype=acc_dtype)


def var(x, axis=None, ddof=0, keepdims=False, corrected=False, dtype=None):
    """Variance over ``axis`` (numpy.var); ``corrected=True`` (Theano) means ddof=1."""
    x = tb.as_tensor_variable(x)
    if corrected:
        ddof = 1
    axes = normalize_axis(axis, x.ndim, "var")
    m = mean(x, axes, dtype=dtype, keepdims=True)
    d = tb.sub(x, m) if x.dtype == m.dtype else tb.sub(tb.cast(x, m.dtype), m)
    out = Mean(axis=_axis_prop(axes, x.ndim), dtype=m.dtype, ddof=ddof)(tb.sqr(d))
    return _keepdims(out, axes, x.ndim) if keepdims else out


def std(x, axis=None, ddof=0, keepdims=False, corrected=False, dtype=None):
    """Standard deviation over ``axis`` (sqrt of :func:`var`)."""
    return tb.sqrt(var(x, axis, ddof=ddof, keepdims=keepdims, corrected=corrected, dtype=dtype))


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; NaN propagates; an empty reduction raises ValueError at call time."""
    return _reduce(Max, x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``."""
    return _reduce(Min, x, axis, keepdims, "min")


def all(x, axis=None, keepdims=False):
    """True where every element over ``axis`` is nonzero."""
    return _reduce(All, x, axis, keepdims, "all")


def any(x, axis=None, keepdims=False):
    """True where some element over ``axis`` is nonzero."""
    return _reduce(Any, x, axis, keepdims, "any")


def argmax(x, axis=None, keepdims=False):
    """Index (int64) of the first maximum over ``axis``; with several axes, a C-order flat index."""
    return _reduce(Argmax, x, axis, keepdims, "argmax")


def argmin(x, axis=None, keepdims=False):
    """Index (int64) of the first minimum over ``axis``."""
    return _reduce(Argmin, x, axis, keepdims, "argmin")


def max_and_argmax(x, axis=None, keepdims=False):
    """Theano's ``max_and_argmax``: ``[max(x, axis), argmax(x, axis)]``."""
    return [max(x, axis, keepdims), argmax(x, axis, keepdims)]


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed stably around the maximum."""
    x = tb.as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, "logsumexp")
    # -inf over an empty axis (numpy's logsumexp gives -inf there: log(0))
    m = _reduce(MaxOrLowest, x, axes, True, "max")
    m = tb.switch(tb.isinf(m), 0, m)       # all -inf (or an inf) row: shift by 0 instead
    s = sum(tb.exp(tb.sub(x, m)), axes, keepdims=True)
    out = tb.add(tb.log(s), m)
    if not keepdims:
        out = DimShuffle(out.broadcastable, [d for d in range(x.ndim) if d not in axes])(out)
    return out

__all__ = ["sum", "prod", "mean", "var", "std", "max", "min", "all", "any", "argmax", "argmin",
           "max_and_argmax", "logsumexp", "CAReduce", "Sum", "Prod", "Mean", "Max", "Min", "All",
           "Any", "Argmax", "Argmin", "normalize_axis"]
