"""``zeros_scatter``: ``inc_subtensor(zeros[idx], y)`` (an embedding's gradient) as rows summed
by index, written into fresh zeros.

The gradient of ``Wemb[x.flatten()]`` is ``AdvancedIncSubtensor1(Alloc(0), y, idx)``: a
copy of the zero matrix, then ``numpy.add.at`` (one slow scatter per row: 4.6 ms for the
LSTM's 1600 rows of 128 into 10000x128, a third of the model's scan time).
``ScatterRowsIntoZeros`` gives the same bits: the rows are grouped by index in their
original order (a stable sort); round ``r`` adds every index's ``r``-th row at once (a
fancy-indexed add: no index twice), so each zero row gets its rows added one after the
other in their order, as ``add.at`` does; an index with many rows (padding) finishes with
a running sum (``numpy.add.accumulate``, sequential by definition).
"""
from __future__ import annotations

import numpy as np

from ..graph import Apply, Op
from ..ops.subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from .inc_join import _zeros

ROUNDS = 4        # rounds of one row per index...
HEAVY = 32        # ...then a running sum per index with more rows (at most this many indices)


class ScatterRowsIntoZeros(Op):
    """``inc_subtensor(zeros(shape)[idx], y)`` for an integer vector ``idx`` on axis 0:
    inputs ``(zeros, y, idx)`` (the zeros give the shape only)."""

    host_only = "numpy: a stable sort of the indices and a sequential sum per index"
    no_grad = "made by a rewrite of compiled graphs (gradients are taken before)"
    __props__ = ()

    def make_node(self, z, y, idx):
        return Apply(self, [z, y, idx], [z.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        z, y, idx = inputs
        shape, n = z.shape, z.shape[0]
        idx = np.asarray(idx)
        out = np.zeros(shape, dtype=node.outputs[0].type.dtype)
        if idx.size == 0:
            return [out]
        lo, hi = idx.min(), idx.max()
        if lo < -n or hi >= n:
            bad = int(hi) if hi >= n else int(lo)
            raise IndexError(f"index {bad} is out of bounds for axis 0 with size {n}")
        idx = np.where(idx < 0, idx + n, idx)
        y = np.broadcast_to(np.asarray(y, dtype=out.dtype), (len(idx),) + tuple(shape[1:]))
        order = np.argsort(idx, kind="stable")
        s = idx[order]
        new_group = np.concatenate([[True], s[1:] != s[:-1]])
        starts = np.flatnonzero(new_group)
        counts = np.diff(np.append(starts, len(s)))
        rank = np.arange(len(s)) - np.repeat(starts, counts)
        # round r adds every index's r-th row (no index twice in a round): each index's
        # rows are summed one after the other in their order, as add.at does
        rounds = min(int(counts.max()), ROUNDS)
        for r in range(rounds):
            sel = rank == r
            out[s[sel]] += y[order[sel]]
        heavy = np.flatnonzero(counts > rounds)
        if len(heavy) <= HEAVY:
            for g in heavy:         # the rest of an index's rows: a running sum from its value
                a, b = starts[g] + rounds, starts[g] + counts[g]
                rows = np.concatenate([out[s[a]][None], y[order[a:b]]])
                out[s[a]] = np.add.accumulate(rows, axis=0)[-1]
        else:
            sel = rank >= rounds
            np.add.at(out, s[sel], y[order[sel]])
        return [out]


def zeros_scatter(fgraph, excluding=()):
    """Replace each increment of zeros by an index vector on axis 0; returns the count."""
    count = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not isinstance(node.op, AdvancedIncSubtensor):
            continue
        op = node.op
        if op.set_instead_of_inc or not AdvancedSubtensor(op.idx_list).is_1():
            continue
        z, y, idx = node.inputs
        out = node.outputs[0]
        if not _zeros(z) or z.ndim < 1 or idx.ndim != 1 or out.dtype[0] not in "fiu" \
                or y.dtype != out.dtype:
            continue
        new = ScatterRowsIntoZeros().make_node(z, y, idx).outputs[0]
        if new.type != out.type:
            continue
        fgraph.replace(out, new, reason="zeros_scatter")
        count += 1
    return count
