"""Constant folding: a node whose inputs are all constants becomes a constant.

Capped by ``config.constant_folding_limit`` (elements of the folded result) so a
small graph never turns into a huge constant; an op opts out with
``do_constant_folding(node) -> False``.
"""
from __future__ import annotations

import numpy as np

from ...config import config
from ..graph import Constant


def constant_folding(fgraph, excluding=()):
    """Fold in topological order, so chains of constant nodes fold in one pass."""
    limit = config.constant_folding_limit
    count = 0
    for node in fgraph.toposort():
        if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
            continue
        if not node.op.do_constant_folding(node):
            continue
        try:
            shapes = node.op.infer_shape(node, [i.data.shape for i in node.inputs])
            if any(int(np.prod(s)) > limit for s in shapes):
                continue
            values = node.op.perform(node, [i.data for i in node.inputs])
        except (NotImplementedError, ValueError, TypeError, FloatingPointError):
            continue            # no reference implementation, or it fails: keep the node
        for out, val in zip(node.outputs, values):
            c = out.type.Constant(out.type, np.asarray(val, dtype=out.type.dtype), name=None)
            fgraph.replace(out, c, reason="constant_folding", rebuild=False)
        count += 1
    return count
