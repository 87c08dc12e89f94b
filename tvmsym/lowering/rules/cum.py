"""TE for CumOp: topi's scan kernels (cumsum, cumprod along one axis)."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops.cum import CumOp
from . import lower_rule
from .scalar import cast

te, topi = _tvm.te, _tvm.topi


@lower_rule(CumOp)
def lower_cumop(node, inputs, ctx):
    (x,), xv, op = inputs, node.inputs[0], node.op
    dtype = node.outputs[0].type.dtype
    shape = ctx.shape(xv)
    if x is None:
        v = ctx.scalar_value(xv)
        x = te.compute(shape, lambda *i: v, name=ctx.name(node) + "_in")
    if x.dtype != dtype:
        src = x
        x = te.compute(shape, lambda *i: cast(src(*i), dtype), name=ctx.name(node) + "_cast")
    if shape[op.axis % len(shape)] == 1:      # nothing to accumulate (topi's 1-long scan does not
        src = x                               # survive the TVMScript round trip)
        return [te.compute(shape, lambda *i: src(*i), name=ctx.name(node))]
    fn = topi.cumsum if op.mode == "add" else topi.cumprod
    return [fn(x, axis=op.axis % len(shape), dtype=dtype)]
