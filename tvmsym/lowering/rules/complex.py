"""Complex buffers in TVM kernels, and the scalar rules of the complex module's ops.

Representation: a complex64 (complex128) tensor of shape S is, inside a kernel, a float32
(float64) buffer of shape S + (2,): numpy's own memory layout (interleaved real, imaginary),
so the runtime passes ``a.view(float)`` with no copy.  ``split_complex``
(symbolic/rewrites/complex.py) leaves complex values only at kernel boundaries: an
Elemwise (fused Composite or not) may read complex inputs through ``real``/``imag`` and
build complex outputs with ``complex``; everything between is real, so it fuses as usual.
Any other node touching a complex value runs on the host (numpy), see ``lowerable``.
"""
from __future__ import annotations

from ... import _tvm
from ...symbolic import scalar as ps
from ...symbolic.elemwise import Elemwise
from ...symbolic.ops import complex as C
from ...symbolic.type import COMPLEX_DTYPES
from . import scalar_rule
from .scalar import _f16_via_f32, cast, const, lower_scalar

te = _tvm.te
tirx = _tvm.tirx

FLOAT_OF = {"complex64": "float32", "complex128": "float64"}


def is_complex(dtype):
    return dtype in COMPLEX_DTYPES


def buffer_of(shape, dtype):
    """(shape, dtype) of the TVM buffer holding a tensor of ``shape`` and ``dtype``."""
    if dtype in FLOAT_OF:
        return tuple(shape) + (2,), FLOAT_OF[dtype]
    return tuple(shape), dtype


# ---------------------------------------------------------------- scalar rules (real arguments)
def _extern2(name):
    def rule(op, args, out):
        a, b = (cast(x, out) for x in args)
        return tirx.call_pure_extern(out, name + "f" if out == "float32" else name, a, b)
    return _f16_via_f32(rule)


scalar_rule(C.Hypot, _extern2("hypot"))
scalar_rule(C.Real, lambda op, args, out: cast(args[0], out))
scalar_rule(C.Conj, lambda op, args, out: cast(args[0], out))
scalar_rule(C.Imag, lambda op, args, out: const(0, out))


def _complex_rule(op, args, out):
    """A complex value inside a kernel is a (real, imag) pair of float expressions."""
    f = FLOAT_OF[out]
    return cast(args[0], f), cast(args[1], f)


def _polar_rule(op, args, out):
    f = FLOAT_OF[out]
    r, t = cast(args[0], f), cast(args[1], f)
    return r * tirx.cos(t), r * tirx.sin(t)


scalar_rule(C.Complex, _complex_rule)
scalar_rule(C.ComplexFromPolar, _polar_rule)
scalar_rule(C.Angle, lambda op, args, out: _extern2("atan2")(op, [const(0, out), cast(args[0], out)], out))


# ---------------------------------------------------------------- which nodes compile
def _op_ok(sop, in_dtypes, out_dtype):
    if is_complex(out_dtype) and not isinstance(sop, (C.Complex, C.ComplexFromPolar)):
        return False
    return not (any(is_complex(d) for d in in_dtypes) and not isinstance(sop, (C.Real, C.Imag)))


def lowerable(node):
    """False for a node touching complex values that no kernel can compute (host step)."""
    vs = list(node.inputs) + list(node.outputs)
    if not any(is_complex(v.type.dtype) for v in vs):
        return True
    if not isinstance(node.op, Elemwise):
        return False
    sop = node.op.scalar_op
    if isinstance(sop, ps.Composite):
        dts = sop.entry_dtypes
        for k, p in enumerate(sop.program):
            if p[0] == "c" and is_complex(p[2]):
                return False
            if p[0] not in ("i", "c") and not _op_ok(p[0], [dts[j] for j in p[1:]], dts[k]):
                return False
        return True
    return _op_ok(sop, [v.type.dtype for v in node.inputs], node.outputs[0].type.dtype)


# ---------------------------------------------------------------- Elemwise with complex buffers
def _apply(sop, vals, out_dtype):
    if isinstance(sop, C.Real) and isinstance(vals[0], tuple):
        return vals[0][0]
    if isinstance(sop, C.Imag) and isinstance(vals[0], tuple):
        return vals[0][1]
    return lower_scalar(sop, vals, out_dtype)


def _program(sop, args, out_dtypes):
    if not isinstance(sop, ps.Composite):
        return [_apply(sop, args, out_dtypes[0])]
    vals = []
    for k, p in enumerate(sop.program):
        if p[0] == "i":
            vals.append(args[p[1]])
        elif p[0] == "c":
            vals.append(const(p[1], p[2]))
        else:
            vals.append(_apply(p[0], [vals[j] for j in p[1:]], sop.entry_dtypes[k]))
    return [vals[k] for k in sop.outputs]


def lower_complex_elemwise(node, inputs, ctx):
    """TE computes of an Elemwise reading/writing complex buffers (interleaved floats)."""
    shape = tuple(ctx.shape(node.outputs[0]))
    sop = node.op.scalar_op
    out_dtypes = [o.type.dtype for o in node.outputs]
    name = ctx.name(node)

    def args_at(idx):
        args = []
        for v, t in zip(node.inputs, inputs):
            if ctx.is_inline_scalar(v):
                args.append(ctx.scalar_value(v))
                continue
            src = [0 if b else i for b, i in zip(v.broadcastable, idx)]
            args.append((t(*src, 0), t(*src, 1)) if is_complex(v.type.dtype) else t(*src))
        return args

    def out_value(r, d):
        if is_complex(d):
            f = FLOAT_OF[d]
            return tuple(cast(x, f) for x in r) if isinstance(r, tuple) else (cast(r, f), const(0, f))
        return cast(r, d)

    if not any(is_complex(d) for d in out_dtypes):
        def body(*idx):
            rs = _program(sop, args_at(idx), out_dtypes)
            outs = [out_value(r, d) for r, d in zip(rs, out_dtypes)]
            return outs if len(outs) > 1 else outs[0]
        out = te.compute(shape, body, name=name, tag="elemwise")
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def complex_body(k, d):
        def body(*idx_c):
            re, im = out_value(_program(sop, args_at(idx_c[:-1]), out_dtypes)[k], d)
            return tirx.if_then_else(tirx.EQ(idx_c[-1], const(0, str(idx_c[-1].ty))), re, im)
        return body

    def real_body(k, d):
        def body(*idx):
            return out_value(_program(sop, args_at(idx), out_dtypes)[k], d)
        return body

    results = []
    for k, d in enumerate(out_dtypes):
        if is_complex(d):
            results.append(te.compute(shape + (2,), complex_body(k, d), name=f"{name}_{k}",
                                      tag="elemwise"))
        else:
            results.append(te.compute(shape, real_body(k, d), name=f"{name}_{k}", tag="elemwise"))
    return results
