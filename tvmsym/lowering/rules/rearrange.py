"""TE computes for flip and roll."""

from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops import rearrange as S
from . import lower_rule
from .shape import _out, loader, ravel, unravel

te = _tvm.te
tirx = _tvm.tirx


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
