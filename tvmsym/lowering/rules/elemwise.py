"""TE computes for Elemwise (broadcasting index maps) and DimShuffle (index remapping)."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.elemwise import DimShuffle, Elemwise
from . import lower_rule
from .scalar import cast, lower_scalar

te = _tvm.te


def bcast_load(t, var, idx):
    """Load ``t`` (the TE tensor of ``var``) at output index ``idx``, broadcasting size-1 dims."""
    return t(*[0 if b else i for b, i in zip(var.broadcastable, idx)])


@lower_rule(Elemwise)
def lower_elemwise(node, inputs, ctx):
    if any(v.type.dtype.startswith("complex") for v in list(node.inputs) + node.outputs):
        from .complex import lower_complex_elemwise  # complex buffers (rules/complex.py)
        return lower_complex_elemwise(node, inputs, ctx)
    shape = ctx.shape(node.outputs[0])
    sop = node.op.scalar_op
    out_dtypes = [o.type.dtype for o in node.outputs]
    name = ctx.name(node)

    def body(*idx):
        args = [ctx.scalar_value(v) if ctx.is_inline_scalar(v) else bcast_load(t, v, idx)
                for v, t in zip(node.inputs, inputs)]
        r = lower_scalar(sop, args, out_dtypes[0])
        if isinstance(r, list):
            return [cast(x, d) for x, d in zip(r, out_dtypes)]
        return cast(r, out_dtypes[0])

    out = te.compute(shape, body, name=name, tag="elemwise")
    return list(out) if isinstance(out, (list, tuple)) else [out]


@lower_rule(DimShuffle)
def lower_dimshuffle(node, inputs, ctx):
    (x,), op = inputs, node.op
    shape = ctx.shape(node.outputs[0])
    if x is None:       # a view of an inlined scalar constant (e.g. 0.5 * x)
        val = ctx.scalar_value(node.inputs[0])
        return [te.compute(shape, lambda *idx: val, name=ctx.name(node), tag="injective")]
    nd_in = len(op.input_broadcastable)

    def body(*idx):
        src = [0] * nd_in
        for out_dim, o in enumerate(op.new_order):
            if o != "x":
                src[o] = idx[out_dim]
        return x(*src)

    return [te.compute(shape, body, name=ctx.name(node), tag="injective")]
