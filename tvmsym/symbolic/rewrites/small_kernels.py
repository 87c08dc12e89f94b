"""Small-kernel rewrites of a training step's scalar bookkeeping (W6, issue 13).

``count_source``: a reduction's element count read from the value before a unary map.

``grad`` of ``mean(f(x))`` divides by ``ReducedCount(f(x))``, a number that depends only on
the shape, but it is a second reader of ``f(x)``: with two readers ``f(x)`` stays a kernel of
its own instead of running inside the ``mean`` that reads it (W6's loss:
``mean(-sum(y * log_softmax(z), 1))`` ran ``neg`` as its own kernel for that).  A unary
``Elemwise`` keeps its input's shape, so ``ReducedCount(f(x))`` is ``ReducedCount(x)``:
it now reads ``x`` (through any chain of unary maps), and ``f(x)`` keeps its one reader.
A unary map can raise no shape error, so no check is lost.

``unary_before_broadcast``: ``f(DimShuffle{x,...}(c))`` -> ``DimShuffle{x,...}(f(c))`` for a
unary ``f``: the same values, computed before the broadcast dims are added, so ``f`` fuses
with ``c``'s own elementwise producer (same broadcast pattern) instead of being a kernel of
its own (W6: ``-(1 / n)`` of the mean's gradient was two kernels).
"""
from __future__ import annotations

from ..elemwise import DimShuffle, Elemwise
from ..grad_rules.reduce import ReducedCount


def _source(v):
    """``v`` or the value before the chain of unary Elemwise maps that made it."""
    while v.owner is not None and isinstance(v.owner.op, Elemwise) and len(v.owner.inputs) == 1 \
            and len(v.owner.outputs) == 1 and v.owner.inputs[0].type.broadcastable == v.type.broadcastable:
        v = v.owner.inputs[0]
    return v


def count_source(fgraph, excluding=()):
    """Point each ReducedCount at the source of its input's unary chain; returns the count."""
    n = 0
    for node in list(fgraph.toposort()):
        if not isinstance(node.op, ReducedCount) or node not in fgraph.apply_nodes:
            continue
        src = _source(node.inputs[0])
        if src is node.inputs[0]:
            continue
        new = node.op.make_node(src)
        fgraph.replace(node.outputs[0], new.outputs[0], reason="count_source")
        n += 1
    return n


def _broadcast_only(op):
    """A DimShuffle that only inserts broadcastable dims (keeps the order, drops nothing)."""
    if not isinstance(op, DimShuffle):
        return False
    used = [o for o in op.new_order if o != "x"]
    return not op.drop and used == sorted(used) and bool(op.augment)


def unary_before_broadcast(fgraph, excluding=()):
    """Move each unary Elemwise of a broadcast-only DimShuffle before it; returns the count."""
    n = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not isinstance(node.op, Elemwise) \
                or len(node.inputs) != 1 or len(node.outputs) != 1 or node.op.inplace_pattern:
            continue
        d = node.inputs[0].owner
        if d is None or not _broadcast_only(d.op):
            continue
        inner = Elemwise(node.op.scalar_op).make_node(d.inputs[0]).outputs[0]
        out = DimShuffle(inner.type.broadcastable, d.op.new_order).make_node(inner).outputs[0]
        if out.type != node.outputs[0].type:
            continue
        fgraph.replace(node.outputs[0], out, reason="unary_before_broadcast")
        n += 1
    return n
