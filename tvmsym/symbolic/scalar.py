"""Scalar operations: the element functions inside ``Elemwise`` and ``Composite``.

Each scalar op declares, in one place, its name (``Elemwise{add,...}``), its
numpy reference, its output dtype rule (numpy 2's, taken from the reference on
0-d arrays), how it prints (``fmt``) and its gradient.  Its TVM lowering lives
in ``tvmsym/lowering/rules/scalar.py``.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .graph import Op


@functools.lru_cache(maxsize=None)
def _float_dtype(dtype):
    """numpy's dtype for a float function of ``dtype`` (int32 -> float64, int8 -> float16)."""
    if np.dtype(dtype).kind in "fc":
        return dtype
    with np.errstate(all="ignore"):
        return np.exp(np.zeros((), dtype=dtype if dtype != "bool" else "int8")).dtype.name


_OUT_DTYPES = {}     # (scalar op, input dtypes) -> output dtypes: the rule runs numpy once


class ScalarOp(Op):
    """Base of scalar ops. ``name`` prints in ``Elemwise{name,...}``; ``nin`` inputs."""

    nin = 1
    nout = 1
    name = "?"
    fmt = None          # e.g. "({0} + {1})" for Composite/pp printing; default: name(args)
    pp_prec = 100       # precedence for pp (higher binds tighter)
    commutative = False
    associative = False
    # copies of an argument the compiled code works on: TVM expands an expression as a
    # tree, and a lowering that reads its argument k times (tanh's Select of exps, the NaN
    # checks of maximum) makes a chain of n such ops cost k**n.  Fusion caps the product.
    arg_copies = 1

    def __str__(self):
        return self.name

    def impl(self, *args):
        raise NotImplementedError

    def output_dtypes(self, *dtypes):
        key = (self, dtypes)
        found = _OUT_DTYPES.get(key)
        if found is None:
            with np.errstate(all="ignore"):
                res = self.impl(*[np.zeros((), dtype=d) for d in dtypes])
            if not isinstance(res, tuple):
                res = (res,)
            found = _OUT_DTYPES[key] = tuple(np.asarray(r).dtype.name for r in res)
        return found

    def format(self, *args):
        if self.fmt is not None:
            return self.fmt.format(*args)
        return f"{self.name}({', '.join(args)})"

    def grad(self, inputs, output, gout):
        """Symbolic gradient: tensor-level inputs/output/gout -> list of input grads."""
        raise NotImplementedError(f"no gradient defined for scalar op {self.name}")


def _op(name, nin, impl, fmt=None, float_out=False, bool_out=False, prec=100,
        commutative=False, associative=False, cls_name=None, grad=None):
    attrs = dict(name=name, nin=nin, fmt=fmt, pp_prec=prec, commutative=commutative,
                 associative=associative)
    if float_out:
        def output_dtypes(self, *dtypes):
            return (_float_dtype(np.result_type(*dtypes).name),)
        attrs["output_dtypes"] = output_dtypes
    if bool_out:
        attrs["output_dtypes"] = lambda self, *d: ("bool",)
    attrs["impl"] = staticmethod(impl)
    if grad is not None:
        attrs["grad"] = grad
    cls = type(cls_name or name.capitalize(), (ScalarOp,), attrs)
    globals()[cls.__name__] = cls       # a module attribute, so graphs using it pickle
    return cls()


def _sigmoid(x):
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(_float_dtype(x.dtype.name))


def _softplus(x):
    x = np.asarray(x)
    return np.logaddexp(0, x).astype(_float_dtype(x.dtype.name))


def _floor_div(a, b):
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(all="ignore"):
        return np.floor_divide(a, b)


def _mod(a, b):
    with np.errstate(all="ignore"):
        return np.mod(a, b)


def _true_div(a, b):
    with np.errstate(all="ignore"):
        return np.true_divide(a, b)


def _pow(a, b):
    a, b = np.asarray(a), np.asarray(b)
    with np.errstate(all="ignore"):
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            # numpy refuses negative integer exponents; tvmsym gives 1 / a**|b| truncated
            pos = np.power(a, np.abs(b))
            neg = np.where(a == 1, 1, np.where(a == -1, pos, 0)).astype(pos.dtype)
            return np.where(b < 0, neg, pos)[()] if pos.ndim == 0 else np.where(b < 0, neg, pos)
        return np.power(a, b)


def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _switch(c, a, b):
    return np.where(c, a, b)


def _identity(x):
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def _sqr(x):
    return np.square(x)     # bool -> int8, as numpy


def _math1(fn, pole, overflow):
    """numpy-style float function from a scalar ``math`` function (numpy has no erf/gamma):
    computed in float64, returned in numpy's float dtype for the input.  Where ``math``
    raises, C libm's value: ``pole(x)`` for a domain error, ``overflow(x)`` past the range."""
    def one(x):
        try:
            return fn(x)
        except ValueError:
            return pole(x)
        except OverflowError:
            return overflow(x)
    vec = np.vectorize(one, otypes=[np.float64])

    def impl(x):
        x = np.asarray(x)
        with np.errstate(all="ignore"):
            out = vec(x.astype(np.float64)).astype(_float_dtype(x.dtype.name))
        return out[()] if out.ndim == 0 else out
    return impl


def _gamma_pole(x):
    """C tgamma: +-inf at +-0, NaN at negative integers and -inf."""
    return math.copysign(math.inf, x) if x == 0 else math.nan


def _f(fn):
    def impl(*a):
        with np.errstate(all="ignore"):
            return fn(*a)
    return impl


# arithmetic -----------------------------------------------------------------
add = _op("add", 2, np.add, fmt="({0} + {1})", prec=-1, commutative=True, associative=True)
sub = _op("sub", 2, np.subtract, fmt="({0} - {1})", prec=-1)
mul = _op("mul", 2, np.multiply, fmt="({0} * {1})", prec=0, commutative=True, associative=True)
true_div = _op("true_div", 2, _true_div, fmt="({0} / {1})", prec=0, cls_name="TrueDiv")
int_div = _op("int_div", 2, _floor_div, fmt="({0} // {1})", prec=0, cls_name="IntDiv")
mod = _op("mod", 2, _mod, fmt="({0} % {1})", prec=0)
pow = _op("pow", 2, _pow, fmt="({0} ** {1})", prec=1)
neg = _op("neg", 1, np.negative, fmt="(-{0})", prec=5)
maximum = _op("maximum", 2, np.maximum, commutative=True, associative=True)
minimum = _op("minimum", 2, np.minimum, commutative=True, associative=True)
clip = _op("clip", 3, _clip)
switch = _op("switch", 3, _switch)
identity = _op("identity", 1, _identity)
abs_ = _op("abs", 1, np.abs, fmt="|{0}|", cls_name="Abs")
sgn = _op("sgn", 1, np.sign)
sqr = _op("sqr", 1, _sqr)

# float functions --------------------------------------------------------------
exp = _op("exp", 1, _f(np.exp), float_out=True)
exp2 = _op("exp2", 1, _f(np.exp2), float_out=True)
expm1 = _op("expm1", 1, _f(np.expm1), float_out=True)
log = _op("log", 1, _f(np.log), float_out=True)
log2 = _op("log2", 1, _f(np.log2), float_out=True)
log10 = _op("log10", 1, _f(np.log10), float_out=True)
log1p = _op("log1p", 1, _f(np.log1p), float_out=True)
sqrt = _op("sqrt", 1, _f(np.sqrt), float_out=True)
sin = _op("sin", 1, _f(np.sin), float_out=True)
cos = _op("cos", 1, _f(np.cos), float_out=True)
tan = _op("tan", 1, _f(np.tan), float_out=True)
arcsin = _op("arcsin", 1, _f(np.arcsin), float_out=True)
arccos = _op("arccos", 1, _f(np.arccos), float_out=True)
arctan = _op("arctan", 1, _f(np.arctan), float_out=True)
sinh = _op("sinh", 1, _f(np.sinh), float_out=True)
cosh = _op("cosh", 1, _f(np.cosh), float_out=True)
tanh = _op("tanh", 1, _f(np.tanh), float_out=True)
sigmoid = _op("sigmoid", 1, _sigmoid, float_out=True, cls_name="ScalarSigmoid")
softplus = _op("softplus", 1, _softplus, float_out=True, cls_name="ScalarSoftplus")
erf = _op("erf", 1, _math1(math.erf, None, None), float_out=True)
erfc = _op("erfc", 1, _math1(math.erfc, None, None), float_out=True)
gamma = _op("gamma", 1, _math1(math.gamma, _gamma_pole, lambda x: math.inf), float_out=True)
gammaln = _op("gammaln", 1, _math1(math.lgamma, lambda x: math.inf, lambda x: math.inf),
              float_out=True)
floor = _op("floor", 1, np.floor)
ceil = _op("ceil", 1, np.ceil)
round_half_to_even = _op("round_half_to_even", 1, np.round, cls_name="RoundHalfToEven")
trunc = _op("trunc", 1, np.trunc)
# 1 / x: the dtype of true division (ints give float64), as ``1 / x`` in numpy
reciprocal = _op("inv", 1, _f(lambda x: np.true_divide(1, x)), cls_name="Inv")

# comparisons and logic ----------------------------------------------------------
eq = _op("eq", 2, np.equal, fmt="EQ({0}, {1})", bool_out=True, commutative=True, cls_name="EQ")
neq = _op("neq", 2, np.not_equal, fmt="NEQ({0}, {1})", bool_out=True, commutative=True, cls_name="NEQ")
lt = _op("lt", 2, np.less, fmt="LT({0}, {1})", bool_out=True, cls_name="LT")
gt = _op("gt", 2, np.greater, fmt="GT({0}, {1})", bool_out=True, cls_name="GT")
le = _op("le", 2, np.less_equal, fmt="LE({0}, {1})", bool_out=True, cls_name="LE")
ge = _op("ge", 2, np.greater_equal, fmt="GE({0}, {1})", bool_out=True, cls_name="GE")
and_ = _op("and_", 2, np.bitwise_and, fmt="and({0}, {1})", commutative=True, associative=True, cls_name="AND")
or_ = _op("or_", 2, np.bitwise_or, fmt="or({0}, {1})", commutative=True, associative=True, cls_name="OR")
xor = _op("xor", 2, np.bitwise_xor, fmt="xor({0}, {1})", commutative=True, cls_name="XOR")
invert = _op("invert", 1, np.invert, fmt="invert({0})", cls_name="Invert")
isnan = _op("isnan", 1, np.isnan, bool_out=True, cls_name="IsNan")
isinf = _op("isinf", 1, np.isinf, bool_out=True, cls_name="IsInf")


# measured on chains of 8 ops (TVM 0.27, llvm): compile time grows about this much per level
for _sop, _k in ((tanh, 8), (maximum, 4), (minimum, 4), (clip, 16), (sgn, 16),
                 (int_div, 4), (mod, 4), (pow, 4)):
    _sop.arg_copies = _k
del _sop, _k


class Cast(ScalarOp):
    """Convert to ``dtype`` (numpy ``astype`` semantics for in-range values)."""

    __props__ = ("dtype",)
    nin = 1

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).name
        self.name = f"Cast{{{self.dtype}}}"

    def impl(self, x):
        with np.errstate(all="ignore"):
            return np.asarray(x).astype(self.dtype)

    def output_dtypes(self, *dtypes):
        return (self.dtype,)

    def format(self, x):
        return f"{_CAST_SHORT.get(self.dtype, 'Cast{' + self.dtype + '}')}({x})"


_CAST_SHORT = {"float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64",
               "bool": "bool", "float16": "float16", "int8": "int8", "uint8": "uint8"}


class Composite(ScalarOp):
    """A fused scalar graph (``Composite{((i0 + i1) * i0)}``).

    ``exprs`` is a tuple of expression trees, one per output.  A tree is
    ``("i", k)`` for input k, ``("c", value, dtype)`` for a scalar constant, or
    ``(scalar_op, child, ...)``.  ``in_dtypes`` fixes the input dtypes.

    The trees may share subtrees (a DAG) and be deep, so every walk goes through
    ``program``: the distinct nodes in topological order, each ``("i", k)``,
    ``("c", value, dtype)`` or ``(scalar_op, j, ...)`` with ``j`` the position of
    an operand in ``program`` (equal subtrees are one entry).  ``outputs`` are the
    positions of the outputs.  Equality and hashing use the program, so they cost
    one pass however much the trees share; ``exprs`` is rebuilt from it (shared
    subtrees are the same tuple).
    """

    __props__ = ("exprs", "in_dtypes")
    NAME_NODES = 256    # a tree-form name longer than this many nodes prints as Composite{...}

    def __init__(self, exprs, in_dtypes):
        self.in_dtypes = tuple(in_dtypes)
        self.program, self.outputs = _linearize(exprs)
        self.exprs = _rebuild_exprs(self.program, self.outputs)
        self.nin = len(self.in_dtypes)
        self.nout = len(self.exprs)
        self.n_ops = sum(1 for p in self.program if p[0] not in ("i", "c"))
        sizes = self.tree_sizes()
        self.tree_size = sum(sizes[k] for k in self.outputs)   # nodes of the expanded trees
        self.cost, self.input_copies = self._cost()
        self.name = self._make_name(sizes)
        dts = self.entry_dtypes = tuple(self.program_dtypes())
        self._dtypes = tuple(dts[k] for k in self.outputs)
        self._key = (self.program, self.outputs, self.in_dtypes)
        self._hash = hash((Composite, self._key))

    # ---------------------------------------------------------------- program walks
    def tree_sizes(self):
        """Node count of each program entry's expanded tree."""
        sizes = []
        for p in self.program:
            sizes.append(1 if p[0] in ("i", "c") else 1 + sum(sizes[j] for j in p[1:]))
        return sizes

    def _cost(self):
        """(compiled-expression nodes excluding the inputs, copies of each input): the
        expanded trees with each op's arguments counted ``arg_copies`` times."""
        count = [0] * len(self.program)
        for k in self.outputs:
            count[k] += 1
        cost = 0
        for k in range(len(self.program) - 1, -1, -1):
            p = self.program[k]
            if p[0] in ("i", "c") or not count[k]:
                continue
            cost += count[k]
            for j in p[1:]:
                count[j] += count[k] * p[0].arg_copies
        copies = [0] * self.nin
        for k, p in enumerate(self.program):
            if p[0] == "i":
                copies[p[1]] += count[k]
        return cost, tuple(copies)

    def program_dtypes(self):
        """The dtype of each program entry."""
        dts = []
        for p in self.program:
            if p[0] == "i":
                dts.append(self.in_dtypes[p[1]])
            elif p[0] == "c":
                dts.append(p[2])
            else:
                dts.append(p[0].output_dtypes(*[dts[j] for j in p[1:]])[0])
        return dts

    def _make_name(self, sizes):
        if self.tree_size > self.NAME_NODES:
            return f"Composite{{...{self.n_ops} ops}}"
        strs = []
        for p in self.program:
            if p[0] == "i":
                strs.append(f"i{p[1]}")
            elif p[0] == "c":
                strs.append(str(p[1]))
            else:
                strs.append(p[0].format(*[strs[j] for j in p[1:]]))
        return "Composite{" + ", ".join(strs[k] for k in self.outputs) + "}"

    def output_dtypes(self, *dtypes):
        return self._dtypes

    def evaluate_all(self, args):
        """numpy values of every program entry."""
        vals = []
        for p in self.program:
            if p[0] == "i":
                vals.append(args[p[1]])
            elif p[0] == "c":
                vals.append(np.asarray(p[1], dtype=p[2]))
            else:
                vals.append(p[0].impl(*[vals[j] for j in p[1:]]))
        return vals

    def evaluate(self, e, args):
        return Composite([e], self.in_dtypes).evaluate_all(args)[-1]

    def impl(self, *args):
        vals = self.evaluate_all(args)
        outs = tuple(np.asarray(vals[k]).astype(d, copy=False)
                     for k, d in zip(self.outputs, self._dtypes))
        return outs if self.nout > 1 else outs[0]

    def uses_input(self, out, i):
        """True if output ``out`` reads input ``i``."""
        need = {self.outputs[out]}
        for k in range(len(self.program) - 1, -1, -1):
            if k in need:
                p = self.program[k]
                if p[0] == "i":
                    if p[1] == i:
                        return True
                elif p[0] != "c":
                    need.update(p[1:])
        return False

    def __eq__(self, other):
        return type(self) is type(other) and self._key == other._key

    def __hash__(self):
        return self._hash

    def __reduce__(self):      # the flat program: pickling deep nested tuples would recurse
        return _composite_from_program, (self.program, self.outputs, self.in_dtypes)


def _linearize(exprs):
    """(program, output positions) of expression trees, iteratively; equal subtrees share one
    entry (a constant is keyed by its repr, so -0.0 and 0.0 stay apart)."""
    program, index, by_id = [], {}, {}
    outs = []
    for root in exprs:
        stack = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if id(e) in by_id:
                continue
            if e[0] == "i" or e[0] == "c":
                key = ("i", e[1]) if e[0] == "i" else ("c", e[2], repr(e[1]))
                entry = e
            elif not expanded:
                stack.append((e, True))
                stack.extend((c, False) for c in reversed(e[1:]) if id(c) not in by_id)
                continue
            else:
                entry = (e[0],) + tuple(by_id[id(c)] for c in e[1:])
                key = entry
            k = index.get(key)
            if k is None:
                k = index[key] = len(program)
                program.append(entry)
            by_id[id(e)] = k
        outs.append(by_id[id(root)])
    return tuple(program), tuple(outs)


def _rebuild_exprs(program, outputs):
    """The expression trees of a program (shared entries are the same tuple)."""
    built = []
    for p in program:
        built.append(p if p[0] in ("i", "c") else (p[0],) + tuple(built[j] for j in p[1:]))
    return tuple(built[k] for k in outputs)


def _composite_from_program(program, outputs, in_dtypes):
    return Composite(_rebuild_exprs(program, outputs), in_dtypes)
