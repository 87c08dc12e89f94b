"""Lowering of the helper scalar ops (``symbolic/ops/helpers.py``): C library calls."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops import helpers as h
from . import lower_rule, scalar_rule
from .scalar import _extern1, _f16_via_f32, cast

tirx = _tvm.tirx


def _atan2(op, args, out):
    a, b = cast(args[0], out), cast(args[1], out)
    return tirx.call_pure_extern(out, "atan2f" if out == "float32" else "atan2", a, b)


scalar_rule(type(h.ps_arctan2), _f16_via_f32(_atan2))
scalar_rule(type(h.ps_arccosh), _f16_via_f32(_extern1("acosh")))
scalar_rule(type(h.ps_arcsinh), _f16_via_f32(_extern1("asinh")))
scalar_rule(type(h.ps_arctanh), _f16_via_f32(_extern1("atanh")))


def _invperm_ir(ins, outs, rows, n):
    from tvm.script.ir_builder import IRBuilder, tirx as T
    dt = outs[0].dtype
    with IRBuilder() as ib:
        with T.parallel(0, rows) as r:
            p = T.buffer_proxy(T.decl_buffer([rows * n], ins[0].dtype, data=ins[0].data))
            o = T.buffer_proxy(T.decl_buffer([rows * n], dt, data=outs[0].data))
            with T.serial(0, n) as i:
                o[r * n + i] = tirx.const(-1, dt)
            with T.serial(0, n) as i:
                v = p[r * n + i]
                with T.If(tirx.all(v >= 0, v < n)):
                    with T.Then():
                        o[r * n + tirx.Cast("int64", v)] = tirx.Cast(dt, i)
        return ib.get()


@lower_rule(h.InversePermutation)
def lower_inverse_permutation(node, inputs, ctx):
    (p,) = inputs
    shape = tuple(int(d) for d in ctx.shape(node.outputs[0]))
    n = shape[-1]
    rows = 1
    for d in shape[:-1]:
        rows *= d
    out = tirx.decl_buffer(shape, node.outputs[0].dtype, "invperm_out")
    res = _tvm.te.extern([shape], [p], lambda i, o: _invperm_ir(i, o, rows, n),
                         dtype=[node.outputs[0].dtype], out_buffers=[out],
                         name="inverse_permutation", tag="inverse_permutation")
    return [res] if not isinstance(res, (list, tuple)) else list(res)
