"""TE computes for the shape ops: each is one spatial block of index arithmetic.

Shape-valued inputs (a reshape target, alloc dims, arange bounds) are known when the
kernel is built (``lower.infer_shapes`` values); a kernel reads them from
``ctx.values`` and never from its buffers.
"""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops import shape as S
from . import lower_rule
from .scalar import cast, const

te = _tvm.te
tirx = _tvm.tirx


def ravel(idx, shape):
    flat = 0
    for i, n in zip(idx, shape):
        flat = flat * n + i
    return flat


def unravel(flat, shape):
    out = []
    for n in reversed(shape):
        out.append(flat % n if n != 1 else 0)
        flat = flat // n
    return out[::-1]


def loader(ctx, v, t):
    """A function idx -> element of input ``v`` (TE tensor ``t`` or an inlined scalar constant)."""
    if t is None:
        val = ctx.scalar_value(v)
        return lambda *idx: val
    return lambda *idx: t(*idx)


def value(ctx, v):
    """The build-time value of a shape-like input."""
    vals = getattr(ctx, "values", None) or {}
    if v in vals:
        return vals[v]
    data = getattr(v, "data", None)
    if data is not None:
        return data
    raise ValueError(f"{v} has no value known when the kernel is built")


def _out(node, ctx, body, tag="injective"):
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag=tag)]


@lower_rule(S.Reshape, S.Flatten, S.Squeeze)
def lower_reshape(node, inputs, ctx):
    x = loader(ctx, node.inputs[0], inputs[0])
    ins = ctx.shape(node.inputs[0])
    outs = ctx.shape(node.outputs[0])
    return _out(node, ctx, lambda *i: x(*unravel(ravel(i, outs), ins)))


@lower_rule(S.MakeVector)
def lower_make_vector(node, inputs, ctx):
    dt = node.outputs[0].type.dtype
    loads = [loader(ctx, v, t) for v, t in zip(node.inputs, inputs)]

    def body(i):
        r = cast(loads[-1](), dt)
        for k in range(len(loads) - 2, -1, -1):
            r = tirx.Select(i == k, cast(loads[k](), dt), r)
        return r
    return _out(node, ctx, body)


@lower_rule(S.Join)
def lower_join(node, inputs, ctx):
    ax = node.op.axis
    dt = node.outputs[0].type.dtype
    loads = [loader(ctx, v, t) for v, t in zip(node.inputs, inputs)]
    starts = np.cumsum([0] + [ctx.shape(v)[ax] for v in node.inputs])

    def body(*i):
        # if_then_else, never Select: TVM simplifies a Select branch under its condition (a
        # clamp would vanish) yet evaluates both; the schedule partitions the loop per piece
        r = None
        for k in range(len(loads) - 1, -1, -1):
            if starts[k + 1] == starts[k]:
                continue
            idx = list(i)
            idx[ax] = i[ax] - int(starts[k])
            val = cast(loads[k](*idx), dt)
            r = val if r is None else tirx.if_then_else(i[ax] < int(starts[k + 1]), val, r)
        return r
    return _out(node, ctx, body)


@lower_rule(S.Split)
def lower_split(node, inputs, ctx):
    ax = node.op.axis
    x = loader(ctx, node.inputs[0], inputs[0])
    outs, start = [], 0
    for k, o in enumerate(node.outputs):
        shp = ctx.shape(o)

        def make(s0):
            def body(*i):
                idx = list(i)
                idx[ax] = i[ax] + s0
                return x(*idx)
            return body
        outs.append(te.compute(shp, make(start), name=f"{ctx.name(node)}_{k}", tag="injective"))
        start += shp[ax]
    return outs


@lower_rule(S.Repeat)
def lower_repeat(node, inputs, ctx):
    op = node.op
    xv = node.inputs[0]
    x = loader(ctx, xv, inputs[0])
    xs = ctx.shape(xv)
    rep = np.asarray(value(ctx, node.inputs[1])).reshape(-1)
    n = int(np.prod(xs)) if op.axis is None else xs[op.axis]
    if rep.size == 1:
        src = lambda j: j // int(rep[0])
    else:
        bounds = np.cumsum(rep)[:-1]

        def src(j):
            r = 0
            for b in bounds:
                r = r + tirx.Select(j >= int(b), 1, 0)
            return r
    if op.axis is None:
        return _out(node, ctx, lambda j: x(*unravel(src(j), xs)) if xs else x())
    ax = op.axis

    def body(*i):
        idx = list(i)
        idx[ax] = src(i[ax])
        return x(*idx)
    del n
    return _out(node, ctx, body)


@lower_rule(S.Tile)
def lower_tile(node, inputs, ctx):
    xv = node.inputs[0]
    x = loader(ctx, xv, inputs[0])
    xs = ctx.shape(xv)
    lead = len(node.op.reps) - len(xs)
    return _out(node, ctx, lambda *i: x(*[i[lead + d] % n if n != 1 else 0 for d, n in enumerate(xs)]))


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


@lower_rule(S.Flip)
def lower_flip(node, inputs, ctx):
    axes = node.op.axes
    x = loader(ctx, node.inputs[0], inputs[0])
    shp = ctx.shape(node.outputs[0])
    return _out(node, ctx, lambda *i: x(*[shp[d] - 1 - i[d] if d in axes else i[d] for d in range(len(i))]))


@lower_rule(S.Roll)
def lower_roll(node, inputs, ctx):
    op = node.op
    x = loader(ctx, node.inputs[0], inputs[0])
    shp = ctx.shape(node.outputs[0])
    if op.axis is None:
        n = int(np.prod(shp))
        s = op.shift % n if n else 0
        return _out(node, ctx, lambda *i: x(*unravel((ravel(i, shp) + (n - s)) % n, shp)))
    ax = op.axis
    n = shp[ax]
    s = op.shift % n if n else 0

    def body(*i):
        idx = list(i)
        idx[ax] = (i[ax] + (n - s)) % n
        return x(*idx)
    return _out(node, ctx, body)
