"""TVM expressions for the scalar ops (one line each where possible)."""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic import scalar as ps
from .. import ieee, intwrap
from . import SCALAR, scalar_rule

tirx = _tvm.tirx





def dt(x):
    """dtype name of a PrimExpr (TVM 0.27: ``expr.ty``)."""
    return str(x.ty)


def const(v, dtype):
    if dtype == "bool":
        return tirx.const(bool(v), "bool")
    return tirx.const(v, dtype)


def cast(x, dtype):
    if dt(x) == dtype:
        return x
    if dtype == "bool":
        return _ne(x, const(0, dt(x)))
    return x.astype(dtype)


def _ne(a, b):
    """a != b, True when either is NaN (numpy); TVM's NE on floats is the ordered compare."""
    if np.dtype(dt(a)).kind == "f":     # (Not(EQ) is simplified back to NE)
        return tirx.Or(tirx.NE(a, ieee.fence(b)), tirx.Or(tirx.isnan(a), tirx.isnan(b)))
    return tirx.NE(a, b)


def _kind(dtype):
    return np.dtype(dtype).kind


def _common(args):
    return np.result_type(*[dt(a) for a in args]).name


def _by_kind(float_fn, int_fn):
    """A binary rule: IEEE-fenced for floats (lowering/ieee.py), wrapping for ints (intwrap.py)."""
    def fn(a, b):
        return (float_fn if _kind(dt(a)) == "f" else int_fn)(a, b)
    return fn


_add = _by_kind(ieee.add, intwrap.add)
_sub = _by_kind(ieee.sub, intwrap.sub)
_mul = _by_kind(ieee.mul, intwrap.mul)


def _arith(fn, bool_fn=None):
    def rule(op, args, out):
        if out == "bool" and bool_fn is not None:
            return bool_fn(*[cast(a, "bool") for a in args])
        return fn(*[cast(a, out) for a in args])
    return rule


def _isnan(x):
    return tirx.isnan(x)    # not x != x: TVM's simplifier folds that to False


def _max(a, b):
    r = tirx.Select(a >= b, a, b)
    if _kind(dt(a)) == "f":
        r = tirx.Select(_isnan(a), a, tirx.Select(_isnan(b), b, r))
    return r


def _min(a, b):
    r = tirx.Select(a <= b, a, b)
    if _kind(dt(a)) == "f":
        r = tirx.Select(_isnan(a), a, tirx.Select(_isnan(b), b, r))
    return r


def _f16_via_f32(rule):
    """float16 math is done in float32 and rounded back, as numpy's float16 loops do
    (TVM has no float16 lowering for most intrinsics, and float16 intermediates lose digits)."""
    def wrapped(op, args, out):
        if out == "float16":
            return cast(rule(op, [cast(a, "float32") for a in args], "float32"), "float16")
        return rule(op, args, out)
    return wrapped


def _fmod(a, b):
    """C fmod (exact); TVM has no llvm lowering for tirx.fmod."""
    out = dt(a)
    return tirx.call_pure_extern(out, "fmodf" if out == "float32" else "fmod", a, b)


def _opposite_signs(x, y, zero):
    # not NE(x < 0, y < 0): TVMScript prints that as a chained comparison
    xn, yn = x < zero, y < zero
    return tirx.Or(tirx.And(xn, tirx.Not(yn)), tirx.And(tirx.Not(xn), yn))


def _int_divmod(a, b, out, fn, by_minus_one):
    """Integer a // b or a % b as numpy: 0 for b == 0, and b == -1 done without dividing
    (x86 idiv traps on INT_MIN / -1: SIGFPE would kill the process)."""
    zero, one = const(0, out), const(1, out)
    bad = tirx.EQ(b, zero)
    if _kind(out) == "i":
        minus_one = tirx.EQ(b, zero - one)
        safe = tirx.Select(tirx.Or(bad, minus_one), one, b)
        return tirx.Select(bad, zero, tirx.Select(minus_one, by_minus_one(a), fn(a, safe)))
    return tirx.Select(bad, zero, fn(a, tirx.Select(bad, one, b)))


def _floordiv(op, args, out):
    a, b = (cast(x, out) for x in args)
    zero = const(0, out)
    if _kind(out) in "iu":
        return _int_divmod(a, b, out, tirx.floordiv, lambda a: zero - a)
    # numpy's npy_floor_divide: exact through fmod, a / b when b == 0
    m = _fmod(a, b)
    div = ieee.div(a - m, b)
    div = tirx.Select(tirx.And(tirx.NE(m, zero), _opposite_signs(b, m, zero)), div - const(1, out), div)
    fl = tirx.floor(div)
    fl = tirx.Select(div - fl > const(0.5, out), fl + const(1, out), fl)
    fl = tirx.Select(tirx.EQ(div, zero), tirx.copysign(zero, ieee.div(a, b)), fl)
    return tirx.Select(tirx.EQ(b, zero), ieee.div(a, b), fl)


def _mod(op, args, out):
    a, b = (cast(x, out) for x in args)
    zero = const(0, out)
    if _kind(out) in "iu":
        return _int_divmod(a, b, out, tirx.floormod, lambda a: zero)
    # numpy's npy_divmod: fmod, moved into b's sign; a zero takes b's sign
    m = _fmod(a, b)
    m = tirx.Select(tirx.And(tirx.NE(m, zero), _opposite_signs(b, m, zero)), m + b, m)
    return tirx.Select(tirx.EQ(m, zero), tirx.copysign(zero, b), m)


INT_POW_STEPS = 8       # squarings for a run-time exponent (tree of 2**8 leaves)
INT_POW_CONST_MAX = 1 << 10


def _int_pow(a, b, out):
    """Exact integer power wrapping modulo 2**bits as numpy's: square-and-multiply.

    An even base to an exponent >= bits is 0; an odd base is a unit modulo 2**bits, whose
    powers repeat with period 2**(bits-2), so the exponent is reduced modulo that (int32
    3 ** 40 is 689956897, as numpy).  A constant exponent is unrolled over its own bits.
    A run-time exponent is walked over its low INT_POW_STEPS bits (after the reduction: all
    of them for int8): the squares form a DAG that TVM's passes walk as a tree, and a Let
    cannot be used (TVM duplicates a block for a loop's tail, re-binding the Let's variable
    to another value, which its simplifier rejects).
    A negative exponent gives 1 / a**|b| truncated: 1 for a == 1, +-1 for a == -1, else 0."""
    signed = _kind(out) == "i"
    zero, one = const(0, out), const(1, out)
    bits = np.dtype(out).itemsize * 8
    period = 2 ** (bits - 2)
    even_a = tirx.EQ(tirx.bitwise_and(a, one), zero)
    k = _small_int_exponent(b, limit=None)
    # the squarings run in a 64-bit type (32-bit: no overflow flag can fire on the low bits
    # kept; a cast per multiply made TVM's simplifier exponential in the chain's depth)
    work = "int64" if bits == 32 else out

    def mul(x, y):
        return x * y

    def to_work(x):
        return x.astype(work) if work != out else x

    def to_out(x):
        return x.astype(out) if work != out else x
    if k is not None and k >= 0:
        big = k >= bits
        k_eff = k % period if big else k
        if k_eff < INT_POW_CONST_MAX:
            result, p = None, to_work(a)
            while k_eff:
                if k_eff & 1:
                    result = p if result is None else mul(result, p)
                k_eff >>= 1
                if k_eff:
                    p = mul(p, p)
            result = one if result is None else to_out(result)
            return tirx.Select(even_a, zero, result) if big else result
    if k is not None and k < 0:
        if not signed:
            return tirx.Select(tirx.EQ(a, one), one, zero)
        return tirx.Select(tirx.EQ(a, one), one,
                           tirx.Select(tirx.EQ(a, zero - one), a if k % 2 else one, zero))
    e = tirx.Select(b < zero, zero - b, b) if signed else b
    ebig = e >= const(bits, out)
    e_red = tirx.Select(ebig, tirx.bitwise_and(e, const(period - 1, out)), e)
    steps = min(bits - 2, INT_POW_STEPS)
    result, p, wone = None, to_work(a), to_work(one)
    for j in range(steps):
        bit = tirx.NE(tirx.bitwise_and(tirx.shift_right(e_red, const(j, out)), one), zero)
        term = tirx.Select(bit, p, wone)
        result = term if result is None else mul(result, term)
        if j < steps - 1:
            p = mul(p, p)
    pos = tirx.Select(tirx.And(ebig, even_a), zero, to_out(result))
    if not signed:
        return pos
    odd_e = tirx.NE(tirx.bitwise_and(e, one), zero)
    neg = tirx.Select(tirx.EQ(a, one), one,
                      tirx.Select(tirx.EQ(a, zero - one), tirx.Select(odd_e, a, one), zero))
    return tirx.Select(b < zero, neg, pos)


def _pow(op, args, out):
    if _kind(out) in "iu":
        return _int_pow(cast(args[0], out), cast(args[1], out), out)
    if out == "bool":
        return tirx.Or(cast(args[0], "bool"), tirx.Not(cast(args[1], "bool")))
    a, b = (cast(x, out) for x in args)
    if isinstance(b, tirx.FloatImm) and float(b.value) == 0.5:
        return tirx.sqrt(a)     # numpy's scalar power: x ** 0.5 is sqrt (nan at -inf, -0.0 kept)
    k = _small_int_exponent(args[1])
    if k is not None:
        return _pow_by_squaring(a, k, out)
    return tirx.power(a, b)


def _small_int_exponent(e, limit=64):
    """The exponent's value when it is an integral constant of at most ``limit`` in magnitude."""
    if isinstance(e, tirx.IntImm):
        v = int(e.value)
        return v if limit is None or abs(v) <= limit else None
    if isinstance(e, tirx.FloatImm):
        v = float(e.value)
        if v == int(v) and (limit is None or abs(v) <= limit):
            return int(v)
    return None


def _pow_by_squaring(a, k, out):
    """x ** k for a constant integer k by repeated squaring (Theano's local_pow_specialize):
    a few multiplies instead of a libm pow call per element."""
    if k == 0:
        return const(1, out)
    n, result, base = abs(k), None, a
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return const(1, out) / result if k < 0 else result


def _true_div(op, args, out):
    a, b = (cast(x, out) for x in args)
    return ieee.div(a, b)


def _float1(fn):
    def rule(op, args, out):
        return fn(cast(args[0], out))
    return rule


def _extern1(name):
    def rule(op, args, out):
        x = cast(args[0], out)
        if out == "float32":
            return tirx.call_pure_extern(out, name + "f", x)
        if out == "float64":
            return tirx.call_pure_extern(out, name, x)
        return tirx.call_pure_extern("float32", name + "f", x.astype("float32")).astype(out)
    return rule


def _softplus(op, args, out):
    x = cast(args[0], out)
    zero = const(0, out)
    return tirx.max(x, zero) + tirx.log1p(tirx.exp(-tirx.abs(x)))


def _sigmoid(op, args, out):
    x = cast(args[0], out)
    return const(1, out) / (const(1, out) + tirx.exp(-x))


def _cmp(fn):
    def rule(op, args, out):
        c = _common(args)
        if c == "bool":
            c = "int8"      # LLVM has no ordered compare of i1
        return fn(*[cast(a, c) for a in args])
    return rule


def _logic(fn_bool, fn_int):
    def rule(op, args, out):
        if out == "bool":
            return fn_bool(*[cast(a, "bool") for a in args])
        return fn_int(*[cast(a, out) for a in args])
    return rule


def _abs(op, args, out):
    x = cast(args[0], out)
    if out == "bool":
        return x
    if _kind(out) == "u":
        return x
    return tirx.abs(x)


def _sgn(op, args, out):
    x = cast(args[0], out)
    one, zero = const(1, out), const(0, out)
    if out == "bool":
        return x
    r = tirx.Select(x > zero, one, tirx.Select(x < zero, -one if _kind(out) != "u" else zero, zero))
    if _kind(out) == "f":
        r = tirx.Select(_isnan(x), x, r)
    return r


def _round_like(fn):
    def rule(op, args, out):
        x = cast(args[0], out)
        return x if _kind(out) in "iub" else fn(x)
    return rule


def _clip(op, args, out):
    x, lo, hi = (cast(a, out) for a in args)
    return _min(_max(x, lo), hi)


def _switch(op, args, out):
    c, a, b = args
    return tirx.Select(cast(c, "bool"), cast(a, out), cast(b, out))


def _cast(op, args, out):
    return cast(args[0], op.dtype)


def _identity(op, args, out):
    return cast(args[0], out)


def _neg(op, args, out):
    x = cast(args[0], out)
    return intwrap.neg(x) if _kind(out) in "iu" else -x


scalar_rule(type(ps.add), _arith(_add, lambda a, b: tirx.Or(a, b)))
scalar_rule(type(ps.sub), _arith(_sub))
scalar_rule(type(ps.mul), _arith(_mul, lambda a, b: tirx.And(a, b)))
scalar_rule(type(ps.true_div), _f16_via_f32(_true_div))
scalar_rule(type(ps.int_div), _f16_via_f32(_floordiv))
scalar_rule(type(ps.mod), _f16_via_f32(_mod))
scalar_rule(type(ps.pow), _f16_via_f32(_pow))
scalar_rule(type(ps.neg), _neg)
scalar_rule(type(ps.maximum), _arith(_max, lambda a, b: tirx.Or(a, b)))
scalar_rule(type(ps.minimum), _arith(_min, lambda a, b: tirx.And(a, b)))
scalar_rule(type(ps.clip), _clip)
scalar_rule(type(ps.switch), _switch)
scalar_rule(type(ps.identity), _identity)
scalar_rule(type(ps.abs_), _abs)
scalar_rule(type(ps.sgn), _sgn)
scalar_rule(type(ps.sqr), _arith(lambda a: _mul(a, a), lambda a: a))
for _sop, _fn in [(ps.exp, tirx.exp), (ps.exp2, tirx.exp2), (ps.log, tirx.log), (ps.log2, tirx.log2),
                  (ps.log10, tirx.log10), (ps.log1p, tirx.log1p), (ps.sqrt, tirx.sqrt),
                  (ps.sin, tirx.sin), (ps.cos, tirx.cos), (ps.tan, tirx.tan), (ps.arcsin, tirx.asin),
                  (ps.arccos, tirx.acos), (ps.arctan, tirx.atan), (ps.sinh, tirx.sinh),
                  (ps.cosh, tirx.cosh), (ps.tanh, tirx.tanh), (ps.erf, tirx.erf)]:
    scalar_rule(type(_sop), _f16_via_f32(_float1(_fn)))
scalar_rule(type(ps.expm1), _f16_via_f32(_extern1("expm1")))
scalar_rule(type(ps.erfc), _f16_via_f32(_extern1("erfc")))
scalar_rule(type(ps.gamma), _f16_via_f32(_extern1("tgamma")))
scalar_rule(type(ps.gammaln), _f16_via_f32(_extern1("lgamma")))
scalar_rule(type(ps.sigmoid), _f16_via_f32(_sigmoid))
scalar_rule(type(ps.softplus), _f16_via_f32(_softplus))
scalar_rule(type(ps.reciprocal), lambda op, args, out: ieee.div(const(1, out), cast(args[0], out)))
scalar_rule(type(ps.floor), _round_like(tirx.floor))
scalar_rule(type(ps.ceil), _round_like(tirx.ceil))
scalar_rule(type(ps.trunc), _round_like(tirx.trunc))
scalar_rule(type(ps.round_half_to_even), _round_like(tirx.nearbyint))
scalar_rule(type(ps.eq), _cmp(ieee.compare(tirx.EQ)))
scalar_rule(type(ps.neq), _cmp(_ne))
scalar_rule(type(ps.lt), _cmp(ieee.compare(tirx.LT)))
scalar_rule(type(ps.gt), _cmp(ieee.compare(tirx.GT)))
scalar_rule(type(ps.le), _cmp(ieee.compare(tirx.LE)))
scalar_rule(type(ps.ge), _cmp(ieee.compare(tirx.GE)))
scalar_rule(type(ps.and_), _logic(tirx.And, lambda a, b: tirx.bitwise_and(a, b)))
scalar_rule(type(ps.or_), _logic(tirx.Or, lambda a, b: tirx.bitwise_or(a, b)))
scalar_rule(type(ps.xor), _logic(lambda a, b: tirx.NE(cast(a, "int8"), cast(b, "int8")),
                                  lambda a, b: tirx.bitwise_xor(a, b)))
scalar_rule(type(ps.invert), _logic(tirx.Not, lambda a: tirx.bitwise_not(a)))
scalar_rule(type(ps.isnan), lambda op, args, out: (_isnan(args[0]) if _kind(dt(args[0])) == "f"
                                                   else const(False, "bool")))
scalar_rule(type(ps.isinf), lambda op, args, out: (tirx.isinf(args[0]) if _kind(dt(args[0])) == "f"
                                                   else const(False, "bool")))
scalar_rule(ps.Cast, _cast)


def lower_scalar(op, args, out_dtype):
    """PrimExpr of one element of ``op`` applied to ``args``."""
    if isinstance(op, ps.Composite):
        return lower_composite(op, args)[0] if op.nout == 1 else lower_composite(op, args)
    for cls in type(op).__mro__:
        rule = SCALAR.get(cls)
        if rule is not None:
            return rule(op, args, out_dtype)
    raise NotImplementedError(f"no TVM lowering for scalar op {op.name}")


def lower_composite(op, args):
    """One PrimExpr per output of a Composite, walking its flat ``program`` (no recursion;
    a value used twice is one shared PrimExpr)."""
    vals = []
    for k, p in enumerate(op.program):
        if p[0] == "i":
            vals.append(args[p[1]])
        elif p[0] == "c":
            vals.append(const(p[1], p[2]))
        else:
            vals.append(lower_scalar(p[0], [vals[j] for j in p[1:]], op.entry_dtypes[k]))
    return [cast(vals[k], d) for k, d in zip(op.outputs, op.output_dtypes())]
