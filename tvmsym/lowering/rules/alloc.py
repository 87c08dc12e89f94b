"""TE computes for alloc, arange, eye and the diagonal ops."""

from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops import alloc as S
from . import lower_rule
from .scalar import cast, const
from .shape import _out, loader, value

te = _tvm.te
tirx = _tvm.tirx


@lower_rule(S.Alloc)
def lower_alloc(node, inputs, ctx):
    vv = node.inputs[0]
    v = loader(ctx, vv, inputs[0])
    vs = ctx.shape(vv) if inputs[0] is not None else ()
    nd = len(ctx.shape(node.outputs[0]))
    off = nd - len(vs)
    return _out(node, ctx, lambda *i: v(*[0 if n == 1 else i[off + d] for d, n in enumerate(vs)]))


@lower_rule(S.ARange)
def lower_arange(node, inputs, ctx):
    dt = node.outputs[0].type.dtype
    start, _, step = (np.asarray(value(ctx, v)).item() for v in node.inputs)
    if np.dtype(dt).kind == "f":
        wide = "float64"
        return _out(node, ctx, lambda i: cast(const(start, wide) + cast(i, wide) * const(step, wide), dt))
    i64 = "int64"
    return _out(node, ctx, lambda i: cast(const(int(start), i64) + cast(i, i64) * const(int(step), i64), dt))


@lower_rule(S.Eye)
def lower_eye(node, inputs, ctx):
    dt = node.outputs[0].type.dtype
    k = int(value(ctx, node.inputs[2]))
    return _out(node, ctx, lambda i, j: tirx.Select(j - i == k, const(1, dt), const(0, dt)))


@lower_rule(S.AllocDiag)
def lower_alloc_diag(node, inputs, ctx):
    k = node.op.offset
    dt = node.outputs[0].type.dtype
    v = loader(ctx, node.inputs[0], inputs[0])
    return _out(node, ctx, lambda i, j: tirx.if_then_else(j - i == k, v(i if k >= 0 else j), const(0, dt)))


@lower_rule(S.ExtractDiag)
def lower_extract_diag(node, inputs, ctx):
    k = node.op.offset
    x = loader(ctx, node.inputs[0], inputs[0])
    return _out(node, ctx, lambda d: x(d, d + k) if k >= 0 else x(d - k, d))
