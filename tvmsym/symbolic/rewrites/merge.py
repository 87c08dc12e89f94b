"""Merge: identical constants and identical Apply nodes (common subexpressions) become one."""
from __future__ import annotations

from ..graph import Constant


def _const_key(c):
    return (c.type, c.data.shape, c.data.tobytes())


def merge(fgraph, excluding=()):
    """Replace every duplicate constant and every duplicate node by its first occurrence.

    Nodes are visited in topological order, so merging a node's inputs first lets
    its consumers merge in the same pass.  Returns the number of replacements.
    """
    count = 0
    seen = {}
    for v in list(fgraph.clients):
        if isinstance(v, Constant):
            first = seen.setdefault(_const_key(v), v)
            if first is not v:
                fgraph.replace(v, first, reason="merge", rebuild=False)
                count += 1
    nodes = {}
    for node in fgraph.toposort():
        key = (node.op, tuple(map(id, node.inputs)))
        first = nodes.get(key)
        if first is None:
            nodes[key] = node
            continue
        for old, new in zip(node.outputs, first.outputs):
            fgraph.replace(old, new, reason="merge", rebuild=False)
        count += 1
    if count:
        fgraph.rebuild()
    return count
