"""TE computes for repeat and tile."""

from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops import repeat as S
from . import lower_rule
from .shape import _out, loader, unravel, value

te = _tvm.te
tirx = _tvm.tirx


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
