"""The tensor API: constructors, constants, and elementwise functions.

dtype rules are numpy 2's (NEP 50): a Python scalar is "weak" and takes the
dtype its partner tensors give it (``fvector + 2.16`` stays float32, and
``dvector + 2.16`` keeps 2.16 exact in float64).
"""
from __future__ import annotations

import numpy as np

from . import scalar as ps
from .elemwise import DimShuffle, Elemwise
from .graph import Constant, TensorConstant, TensorVariable, Variable  # noqa: F401
from .type import TensorType, normalize_dtype


# --------------------------------------------------------------------------- constants
def constant(value, name=None, ndim=None, dtype=None):
    """A TensorConstant holding ``value`` (an array-like)."""
    weak = (dtype is None and isinstance(value, (bool, int, float, complex))
            and not isinstance(value, np.generic))
    if dtype is not None:
        arr = np.asarray(value, dtype=normalize_dtype(dtype))
    else:
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"cannot make a tensor constant from {value!r}")
        if arr.dtype.kind == "U" or arr.dtype.kind == "S":
            raise TypeError(f"cannot make a tensor constant from the string {value!r}")
    if ndim is not None and arr.ndim != ndim:
        if arr.ndim > ndim:
            raise ValueError(f"constant {value!r} has {arr.ndim} dimensions, expected {ndim}")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    t = TensorType(arr.dtype.name, tuple(s == 1 for s in arr.shape))
    return t.Constant(t, arr, name=name, weak=weak)


def as_tensor_variable(x, name=None, ndim=None, dtype=None):
    """Wrap ``x`` (a Variable, numpy array, list or Python scalar) as a tensor variable."""
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"{x} is not a tensor variable")
        if ndim is not None and x.ndim != ndim:
            raise TypeError(f"expected a {ndim}-d tensor, got {x.type}")
        return x
    if hasattr(x, "_as_tensor_variable"):
        return x._as_tensor_variable()
    return constant(x, name=name, ndim=ndim, dtype=dtype)


def _weak_dtype(c):
    """dtype of an all-weak expression (numpy 2: int -> int64, float -> float64)."""
    return c.data.dtype.name


def _resolve(args, scalar_op=None):
    """Turn inputs to an elementwise op into tensors, casting weak Python scalars (NEP 50).

    A weak scalar takes ``np.result_type(strong dtypes, value)``.  When that overflows
    (``uint8 / -1``) numpy may still accept the value because the op's loop is wider
    (true division computes in float64): then the scalar takes the loop's dtype, and the
    OverflowError is raised only when numpy raises it too.
    """
    args = [as_tensor_variable(a) for a in args]
    strong = [a.dtype for a in args if not (isinstance(a, Constant) and a.weak)]
    if len(strong) == len(args):
        return args
    out = []
    for a in args:
        if isinstance(a, Constant) and a.weak:
            py = a.data.item()
            try:
                dt = np.result_type(*strong, py).name if strong else _weak_dtype(a)
                data = np.asarray(py, dtype=dt) if dt != a.dtype else a.data
            except OverflowError as e:
                dt = _loop_dtype(scalar_op, args, a, e)
                data = np.asarray(py, dtype=dt)
            if dt != a.dtype:
                a = TensorType.Constant(TensorType(dt, ()), data, weak=True)
                a.tag.py_value = py         # prints as written: x ** 2 -> TensorConstant{2}
        out.append(a)
    return out


def _loop_dtype(scalar_op, args, weak, err):
    """The dtype for a weak scalar that does not fit the strong dtypes, or OverflowError."""
    py = weak.data.item()
    msg = f"Python scalar {py!r} does not fit in {[a.dtype for a in args if a is not weak]}: {err}"
    if scalar_op is None:
        raise OverflowError(msg) from None
    vals = [py if a is weak else (a.data.item() if isinstance(a, Constant) and a.weak
                                  else np.zeros(1, a.dtype)) for a in args]
    try:
        with np.errstate(all="ignore"):
            res = scalar_op.impl(*vals)
    except OverflowError:
        raise OverflowError(msg) from None
    except TypeError:
        raise OverflowError(msg) from None
    res = res[0] if isinstance(res, tuple) else res
    dt = np.asarray(res).dtype
    if dt.kind == "b" or np.asarray(py).dtype.kind not in "iub" and dt.kind in "iu":
        dt = np.asarray(py).dtype          # comparisons: compare in the scalar's own dtype
    try:
        np.asarray(py, dtype=dt)
    except OverflowError:
        raise OverflowError(msg) from None
    return dt.name


def elemwise(scalar_op, *args):
    return Elemwise(scalar_op)(*_resolve(args, scalar_op))


def _unary(sop, doc):
    def f(x):
        return elemwise(sop, x)
    f.__name__ = sop.name.rstrip("_")
    f.__doc__ = doc
    return f


def _binary(sop, doc):
    def f(a, b):
        return elemwise(sop, a, b)
    f.__name__ = sop.name.rstrip("_")
    f.__doc__ = doc
    return f


add = _binary(ps.add, "Elementwise a + b with broadcasting.")
sub = _binary(ps.sub, "Elementwise a - b.")
mul = _binary(ps.mul, "Elementwise a * b.")
true_div = _binary(ps.true_div, "Elementwise a / b (true division; ints give floats).")
int_div = floor_div = _binary(ps.int_div, "Elementwise a // b (floor division).")
mod = _binary(ps.mod, "Elementwise a % b (sign of b, as numpy).")
pow = power = _binary(ps.pow, "Elementwise a ** b.")
maximum = _binary(ps.maximum, "Elementwise maximum (NaN-propagating).")
minimum = _binary(ps.minimum, "Elementwise minimum (NaN-propagating).")
eq = _binary(ps.eq, "a == b elementwise (bool).")
neq = _binary(ps.neq, "a != b elementwise (bool).")
lt = _binary(ps.lt, "a < b elementwise (bool).")
gt = _binary(ps.gt, "a > b elementwise (bool).")
le = _binary(ps.le, "a <= b elementwise (bool).")
ge = _binary(ps.ge, "a >= b elementwise (bool).")
and_ = bitwise_and = _binary(ps.and_, "a & b (logical for bool, bitwise for ints).")
or_ = bitwise_or = _binary(ps.or_, "a | b (logical for bool, bitwise for ints).")
xor = bitwise_xor = _binary(ps.xor, "a ^ b.")
invert = bitwise_not = _unary(ps.invert, "~a (logical not for bool, bitwise for ints).")
neg = _unary(ps.neg, "-x")
abs = abs_ = _unary(ps.abs_, "|x|")
sgn = sign = _unary(ps.sgn, "sign of x")
sqr = _unary(ps.sqr, "x * x")
exp = _unary(ps.exp, "e ** x")
exp2 = _unary(ps.exp2, "2 ** x")
expm1 = _unary(ps.expm1, "exp(x) - 1, accurate near 0")
log = _unary(ps.log, "natural logarithm")
log2 = _unary(ps.log2, "base-2 logarithm")
log10 = _unary(ps.log10, "base-10 logarithm")
log1p = _unary(ps.log1p, "log(1 + x), accurate near 0")
sqrt = _unary(ps.sqrt, "square root")
sin = _unary(ps.sin, "sine")
cos = _unary(ps.cos, "cosine")
tan = _unary(ps.tan, "tangent")
arcsin = _unary(ps.arcsin, "inverse sine")
arccos = _unary(ps.arccos, "inverse cosine")
arctan = _unary(ps.arctan, "inverse tangent")
sinh = _unary(ps.sinh, "hyperbolic sine")
cosh = _unary(ps.cosh, "hyperbolic cosine")
tanh = _unary(ps.tanh, "hyperbolic tangent")
sigmoid = _unary(ps.sigmoid, "1 / (1 + exp(-x)), stable for large |x|")
softplus = _unary(ps.softplus, "log(1 + exp(x)), stable for large |x|")
erf = _unary(ps.erf, "error function")
erfc = _unary(ps.erfc, "complementary error function 1 - erf(x), accurate for large x")
gamma = _unary(ps.gamma, "gamma function")
gammaln = _unary(ps.gammaln, "log of the absolute value of the gamma function")
floor = _unary(ps.floor, "floor")
ceil = _unary(ps.ceil, "ceiling")
round = round_half_to_even = _unary(ps.round_half_to_even, "round half to even (numpy.round)")
trunc = _unary(ps.trunc, "round toward zero")
reciprocal = inv = _unary(ps.reciprocal, "1 / x")
isnan = _unary(ps.isnan, "x is NaN")
isinf = _unary(ps.isinf, "x is +-inf")


def clip(x, a_min, a_max):
    """Limit x to [a_min, a_max] (numpy.clip)."""
    return elemwise(ps.clip, x, a_min, a_max)


def switch(cond, ift, iff):
    """Elementwise ``ift if cond else iff`` (numpy.where)."""
    cond = as_tensor_variable(cond)
    return elemwise(ps.switch, cond, ift, iff)


def where(cond, ift, iff):
    """Alias of :func:`switch`, numpy-style."""
    return switch(cond, ift, iff)


def cast(x, dtype):
    """Convert x to ``dtype`` ('floatX' means config.floatX)."""
    x = as_tensor_variable(x)
    dtype = normalize_dtype(dtype)
    if x.dtype == dtype:
        return x
    return Elemwise(ps.Cast(dtype))(x)


def identity(x):
    return Elemwise(ps.identity)(as_tensor_variable(x))


# --------------------------------------------------------------------------- shapes
def dimshuffle(x, *pattern):
    x = as_tensor_variable(x)
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = pattern[0]
    return DimShuffle(x.broadcastable, pattern)(x)


def transpose(x, axes=None):
    x = as_tensor_variable(x)
    if axes is None:
        axes = list(range(x.ndim))[::-1]
    return dimshuffle(x, [a % x.ndim if a != "x" else a for a in axes]) if x.ndim else x


# --------------------------------------------------------------------------- constructors
def _ctor(ndim_pattern, dtype_default=None, doc=""):
    def make(name=None, dtype=None):
        dtype = normalize_dtype(dtype if dtype is not None else dtype_default)
        return TensorType(dtype, ndim_pattern)(name)
    make.__doc__ = doc
    return make


scalar = _ctor((), doc="A 0-d tensor variable (dtype defaults to config.floatX).")
vector = _ctor((False,), doc="A 1-d tensor variable.")
matrix = _ctor((False, False), doc="A 2-d tensor variable.")
row = _ctor((True, False), doc="A 1xN matrix (broadcastable rows).")
col = _ctor((False, True), doc="An Nx1 matrix (broadcastable columns).")
tensor3 = _ctor((False,) * 3, doc="A 3-d tensor variable.")
tensor4 = _ctor((False,) * 4, doc="A 4-d tensor variable.")
tensor5 = _ctor((False,) * 5, doc="A 5-d tensor variable.")
tensor6 = _ctor((False,) * 6, doc="A 6-d tensor variable.")
tensor7 = _ctor((False,) * 7, doc="A 7-d tensor variable.")


def tensor(dtype=None, broadcastable=None, name=None, shape=None):
    """A tensor variable of any ndim: ``tensor('float32', (False, True))``."""
    if broadcastable is None and shape is None:
        raise TypeError("tensor() needs broadcastable= (or shape=)")
    return TensorType(normalize_dtype(dtype), broadcastable, shape=shape)(name)


_PREFIX = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
           "d": "float64", "c": "complex64", "z": "complex128"}
_KINDS = {"scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
          "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4,
          "tensor5": (False,) * 5, "tensor6": (False,) * 6, "tensor7": (False,) * 7}
_prefixed = {}
for _p, _dt in _PREFIX.items():
    for _k, _b in _KINDS.items():
        # a TensorType instance, as in Theano: T.dmatrix('x') makes a variable and
        # ``x.type is T.dmatrix``; ``T.dmatrix`` prints as ``TensorType(float64, matrix)``
        _prefixed[_p + _k] = TensorType(_dt, _b)


def _plural(make):
    def many(*names, dtype=None):
        """Several variables at once (Theano's ``dmatrices('a', 'b')``); an int gives unnamed ones."""
        if len(names) == 1 and isinstance(names[0], int):
            return [make(None, dtype=dtype) if dtype else make(None) for _ in range(names[0])]
        if len(names) == 1 and isinstance(names[0], str) and "," in names[0]:
            names = [n.strip() for n in names[0].split(",")]
        elif len(names) == 1 and isinstance(names[0], str) and len(names[0]) > 1:
            names = list(names[0])      # Theano: T.scalars('xys') is x, y, s (one per letter)
        return [make(n, dtype=dtype) if dtype else make(n) for n in names]
    return many


_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows",
            "col": "cols", "tensor3": "tensor3s", "tensor4": "tensor4s", "tensor5": "tensor5s",
            "tensor6": "tensor6s", "tensor7": "tensor7s"}
for _k, _pl in _PLURALS.items():
    _prefixed[_pl] = _plural(globals()[_k])
    for _p in _PREFIX:
        _prefixed[_p + _pl] = _plural(_prefixed[_p + _k])
globals().update(_prefixed)
bscalar = _prefixed["bscalar"]


# --------------------------------------------------------------------------- operators
def _not_bool(v):
    v._is_nonzero = False
    return v
