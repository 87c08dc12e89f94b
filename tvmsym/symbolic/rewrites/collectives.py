"""The ``collectives`` stage: the independent allreduces of a function that share an
op and a dtype travel as ONE message (gradient bucketing, as every data-parallel trainer
does: one latency instead of one per parameter).

    AllReduce{sum}(g1), AllReduce{sum}(g2), ...
      -> pieces = Split(AllReduce{sum}(Join(flatten(g1), flatten(g2), ...)))
         Reshape(piece_k, shape(g_k))

"Independent": grouped by (collective depth, op, dtype), where the depth of a
communicating node is one more than the deepest communicating node it depends on, so no
member of a bucket reads another's result and no two buckets wait on each other.  Every
rank running the same graph forms the same buckets in the same order.  One bucket per
group: the executor runs steps one after another, so splitting a bucket would overlap
nothing.  Off with ``config.distributed_bucketing=False`` or
``optimizer_excluding=collectives``.
"""
from __future__ import annotations

from ...config import config
from ..ops.distributed import AllReduce, has_side_effects
from ..ops.shape import _size, concatenate, flatten, reshape, shape_tuple, split


def _bucketable(x):
    return not any(x.broadcastable)      # the pieces come back with no broadcastable dims


def bucket_collectives(fgraph, excluding=()):
    """Join independent allreduces per (depth, op, dtype); returns the number of buckets."""
    if not config.distributed_bucketing:
        return 0
    depth, groups = {}, {}
    for node in fgraph.toposort():
        base = max((depth.get(i, 0) for i in node.inputs), default=0)
        d = base + 1 if has_side_effects(node) else base
        if isinstance(node.op, AllReduce) and _bucketable(node.inputs[0]):
            groups.setdefault((d, node.op.op, node.inputs[0].dtype), []).append(node)
        for o in node.outputs:
            depth[o] = d
    count = 0
    for (_, op, _), nodes in groups.items():
        if len(nodes) < 2:
            continue
        xs = [n.inputs[0] for n in nodes]
        total = AllReduce(op)(concatenate([flatten(x, 1) for x in xs]))
        pieces = split(total, [_size(x) for x in xs], len(xs))
        for n, x, p in zip(nodes, xs, pieces):
            fgraph.replace(n.outputs[0], reshape(p, shape_tuple(x), ndim=x.ndim),
                           reason="collectives")
        count += 1
    return count
