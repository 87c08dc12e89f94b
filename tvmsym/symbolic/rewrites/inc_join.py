"""``inc_join``: gradients of adjacent slices summed into zeros become one ``Join``.

The gradient of ``x[:, 0:d]``, ``x[:, d:2d]``, ... (an LSTM's four gates sliced from one
product) is ``inc_subtensor(zeros[:, 0:d], g0) + inc_subtensor(zeros[:, d:2d], g1) + ...``:
four kernels each copying the whole zero matrix, then their sum.  Two such terms over the
same zeros whose slices touch on one axis (``[s:e]`` and ``[e:f]``, every other axis
whole) are one ``inc_subtensor(zeros[s:f], join(g0, g1))``; repeated, the chain becomes one
join of the pieces and one increment.
"""
from __future__ import annotations

import numpy as np

from .. import scalar as ps
from ..elemwise import Elemwise
from ..graph import Constant
from ..ops.alloc import Alloc
from ..ops.reshape import Join
from ..ops.subtensor import IncSubtensor


def _zeros(z):
    """``z`` is an ``Alloc`` of the constant 0."""
    if z.owner is None or not isinstance(z.owner.op, Alloc):
        return False
    v = z.owner.inputs[0]
    return isinstance(v, Constant) and not np.any(np.asarray(v.data))


def _slice_of(v):
    """(zeros, piece, axis, start, stop) of ``inc_subtensor(zeros[..., start:stop, ...],
    piece)`` with constant bounds, step 1 and every other axis whole; else None."""
    node = v.owner
    if node is None or not isinstance(node.op, IncSubtensor) or node.op.set_instead_of_inc:
        return None
    z, piece, *idx = node.inputs
    if not _zeros(z) or piece.ndim != z.ndim or piece.broadcastable != z.broadcastable:
        return None
    if len(node.op.idx_list) > z.ndim:        # (missing trailing entries: whole axes)
        return None
    axis, bounds, k = None, None, 0
    for d, e in enumerate(node.op.idx_list):
        if e[0] != "slice":
            return None
        parts = []
        for p in e[1:]:
            if p is None:
                parts.append(None)
            else:
                parts.append(idx[k])
                k += 1
        start, stop, step = parts
        if start is None and stop is None and step is None:
            continue
        if axis is not None or step is not None or start is None or stop is None:
            return None
        if not (isinstance(start, Constant) and isinstance(stop, Constant)):
            return None
        s, t = int(start.data), int(stop.data)
        if s < 0 or t <= s:
            return None
        axis, bounds = d, (s, t, start, stop)
    if axis is None:
        return None
    return z, piece, axis, bounds


def _pieces(v, axis):
    """The pieces a join output stands for (a join on ``axis`` is flattened)."""
    if v.owner is not None and isinstance(v.owner.op, Join) and v.owner.op.axis == axis:
        return list(v.owner.inputs)
    return [v]


def _is_add(node):
    return node is not None and isinstance(node.op, Elemwise) \
        and isinstance(node.op.scalar_op, ps.Add)


def _leaves(fgraph, v, root):
    """The terms of the sum ``v``: through the adds only this sum reads."""
    node = v.owner
    if _is_add(node) and (v is root or len(fgraph.clients.get(v, [])) == 1) \
            and node.outputs[0].dtype == root.dtype \
            and node.outputs[0].broadcastable == root.broadcastable:
        return [t for i in node.inputs for t in _leaves(fgraph, i, root)]
    return [v]


def inc_join(fgraph, excluding=()):
    """Merge each sum's adjacent zero increments; returns how many sums changed."""
    count = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not _is_add(node):
            continue
        out = node.outputs[0]
        users = fgraph.clients.get(out, [])
        if len(users) == 1 and users[0][0] != "output" and _is_add(users[0][0]) \
                and users[0][0].outputs[0].type == out.type:
            continue            # not the root of its sum: the root's visit handles it
        terms = _leaves(fgraph, out, out)
        groups, others = {}, []
        for t in terms:
            got = _slice_of(t) if t.dtype == out.dtype else None
            if got is None:
                others.append(t)
            else:
                groups.setdefault((got[0], got[2]), []).append((got[3], got[1], t))
        merged, changed = [], False
        for (z, axis), items in groups.items():
            items.sort(key=lambda it: it[0][0])
            run = [items[0]]
            for it in items[1:] + [None]:
                if it is not None and it[0][0] == run[-1][0][1]:
                    run.append(it)
                    continue
                if len(run) == 1:
                    merged.append(run[0][2])
                else:
                    pieces = [q for r in run for q in _pieces(r[1], axis)]
                    inc = run[0][2].owner.op
                    merged.append(IncSubtensor(inc.idx_list).make_node(
                        z, Join(axis)(*pieces),
                        *_bounds(inc.idx_list, axis, run[0][0][2], run[-1][0][3])).outputs[0])
                    changed = True
                run = [it]
        if not changed:
            continue
        terms = merged + others
        new = terms[0]
        for t in terms[1:]:
            new = new + t
        if new.type != out.type:
            continue
        fgraph.replace(out, new, reason="inc_join")
        count += 1
    return count


def _bounds(idx_list, axis, start, stop):
    """The index inputs of an IncSubtensor of ``idx_list`` slicing ``start:stop`` on
    ``axis`` (every other entry a whole slice)."""
    out = []
    for d, e in enumerate(idx_list):
        if d == axis:
            out += [start, stop]
    return out
