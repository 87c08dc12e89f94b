"""TE computes for reshape/flatten/squeeze, join and split."""

from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops import reshape as S
from ...symbolic.ops.rearrange import Squeeze
from . import lower_rule
from .scalar import cast
from .shape import _out, loader, ravel, unravel

te = _tvm.te
tirx = _tvm.tirx


@lower_rule(S.Reshape, S.Flatten, Squeeze)
def lower_reshape(node, inputs, ctx):
    x = loader(ctx, node.inputs[0], inputs[0])
    ins = ctx.shape(node.inputs[0])
    outs = ctx.shape(node.outputs[0])
    return _out(node, ctx, lambda *i: x(*unravel(ravel(i, outs), ins)))


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
        n = shp[ax]         # a constant or (shape-generic kernels) a symbolic extent
        start = int(n) + start if isinstance(n, (int, tirx.IntImm)) and isinstance(start, int) \
            else start + n
    return outs
