"""TE of ``SiblingReduce`` (``symbolic/ops/reduce_siblings.py``): each part is lowered by the
reduction rule itself (``reduce.lower_careduce``), reading the shared input or its
elementwise function (``elemwise.lower_elemwise``, a compute the schedule inlines), so the
parts compute exactly what separate reduction kernels compute."""
from __future__ import annotations

import copy

from ...symbolic.ops.reduce_siblings import SiblingReduce
from . import lower_rule
from .elemwise import lower_elemwise
from .reduce import lower_careduce


class _Part:
    """A reduction of one part, as the reduction rule reads a node."""

    def __init__(self, op, inputs, outputs):
        self.op, self.inputs, self.outputs = op, inputs, outputs


def lower_parts(node, inputs, ctx, lower_part):
    """Each part of a ``SiblingReduce`` lowered by ``lower_part`` (a reduction rule: the
    static ``lower_careduce`` or the generic one), reading the shared input or its
    elementwise function."""
    op = node.op
    sub = copy.copy(ctx)                    # shares the names; shapes of the parts' inputs added
    sub.shapes = dict(ctx.shapes)
    x_shape = ctx.shape(node.inputs[0])
    outs = []
    for k, (red, pre, idx) in enumerate(op.parts):
        v, pnode = op.reduced_input(node, k)
        if pnode is None:
            t = inputs[idx[0]]
        else:
            sub.shapes[v] = tuple(x_shape)
            t = lower_elemwise(pnode, [inputs[i] for i in idx], sub)[0]
        outs.append(lower_part(_Part(red, [v], [node.outputs[k]]), [t], sub)[-1])
    return outs


@lower_rule(SiblingReduce)
def lower_sibling_reduce(node, inputs, ctx):
    return lower_parts(node, inputs, ctx, lower_careduce)
