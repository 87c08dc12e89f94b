"""Softmax rewrites (the stabilize stage), Theano's local_softmax: the user's softmax
expression becomes the fused Softmax op.

``exp(x - max(x, -1, keepdims)) / sum(exp(...), -1, keepdims)`` (and the same without
the max shift) -> ``Softmax(x)``; ``log(Softmax(x))`` -> ``LogSoftmax(x)``; ``Softmax(x)``
read only elementwise beside ``LogSoftmax(x)`` -> ``exp(LogSoftmax(x))`` (one row kernel).
"""
from __future__ import annotations

from .. import scalar as ps
from ..elemwise import DimShuffle, Elemwise
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


@stabilize_db.register(Softmax, tags=("softmax", "softmax_from_log_softmax"))
def local_softmax_from_log_softmax(fgraph, node):
    """Softmax(x) -> exp(LogSoftmax(x)) when the graph computes LogSoftmax(x) too and every
    client of the softmax is elementwise.

    A softmax cross-entropy's gradient reads softmax(x) while its loss reads
    log_softmax(x): two row kernels over the same x (max, exp, sum and a division each).
    ``exp`` of the log-softmax already computed fuses into the elementwise consumer
    instead (the W6 MLP step: one row kernel less).  exp(x - max - log(sum)) differs from
    exp(x - max) / sum by rounding only; NaN and +-inf propagate as in Softmax.
    """
    if type(node.op) is not Softmax:
        return None
    x, out = node.inputs[0], node.outputs[0]
    uses = fgraph.clients.get(out, ())
    if not uses or any(c == "output" or not isinstance(c.op, Elemwise) for c, _ in uses):
        return None
    axis = node.op.axis % x.ndim
    for c, _ in fgraph.clients.get(x, ()):
        if c != "output" and type(c.op) is LogSoftmax and c.op.axis % x.ndim == axis \
                and c in fgraph.apply_nodes:
            new = Elemwise(ps.exp)(c.outputs[0])
            return [new] if same_type(out, new) else None
    return None
