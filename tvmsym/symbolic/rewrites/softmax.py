"""Softmax rewrites (the stabilize stage), Theano's local_softmax: the user's softmax
expression becomes the fused Softmax op.

``exp(x - max(x, -1, keepdims)) / sum(exp(...), -1, keepdims)`` (and the same without
the max shift) -> ``Softmax(x)``; ``log(Softmax(x))`` -> ``LogSoftmax(x)``.
"""
from __future__ import annotations

from .. import scalar as ps
from ..elemwise import DimShuffle
from ..ops.nnet import LogSoftmax, Softmax
from ..ops.reduce import Max, Sum
from .db import is_elemwise, same_type
from .stabilize import stabilize_db


def last_axis_reduction(v, op_cls):
    """x if ``v`` is ``op_cls`` of x over its last axis with keepdims, else None."""
    node = v.owner
    if node is None or not isinstance(node.op, DimShuffle):
        return None
    r = node.inputs[0]
    if r.owner is None or type(r.owner.op) is not op_cls:
        return None
    x = r.owner.inputs[0]
    nd = x.ndim
    if nd == 0 or r.owner.op.reduced_axes(nd) != (nd - 1,):
        return None
    if node.op.new_order != tuple(range(nd - 1)) + ("x",):
        return None
    return x


def exp_arg(e):
    """(x, shifted) for e = exp(x - max(x, -1, keepdims)) or exp(x), else None."""
    if not is_elemwise(e, ps.exp):
        return None
    z = e.owner.inputs[0]
    if is_elemwise(z, ps.sub):
        a, b = z.owner.inputs
        if last_axis_reduction(b, Max) is a:
            return a
    return z


@stabilize_db.register(type(ps.true_div), tags=("softmax",))


def local_softmax(fgraph, node):
    """exp(x - max(x)) / sum(exp(x - max(x))) over the last axis -> Softmax(x)"""
    e, d = node.inputs
    x = exp_arg(e)
    if x is None or x.ndim == 0 or last_axis_reduction(d, Sum) is not e:
        return None
    if d.owner.inputs[0].owner.op.acc_dtype != e.dtype:
        return None
    new = Softmax(-1)(x)
    return [new] if same_type(node.outputs[0], new) else None


@stabilize_db.register(type(ps.log), tags=("softmax",))


def local_log_softmax(fgraph, node):
    """log(Softmax(x)) -> LogSoftmax(x)"""
    (s,) = node.inputs
    if s.owner is None or type(s.owner.op) is not Softmax:
        return None
    new = LogSoftmax(s.owner.op.axis)(s.owner.inputs[0])
    return [new] if same_type(node.outputs[0], new) else None
