"""Merge: identical constants and identical Apply nodes (common subexpressions) become one."""
from __future__ import annotations

from ..graph import Constant


def _const_key(c):
    if hasattr(c, "merge_key"):         # a constant that is not an ndarray (sparse/type.py)
        return c.merge_key()
    return (c.type, c.data.shape, c.data.tobytes())


def merge(fgraph, excluding=()):
    """Replace every duplicate constant and every duplicate node by its first occurrence.

    Nodes are visited in topological order, so merging a node's inputs first lets
    its consumers merge in the same pass.  Returns the number of replacements.
    """
    count = 0
    seen = {}
    order = fgraph.toposort()
    for v in _constants_in_order(fgraph, order):
            first = seen.setdefault(_const_key(v), v)
            if first is not v:
                fgraph.replace(v, first, reason="merge", rebuild=False)
                count += 1
    nodes = {}
    for node in order:
        if getattr(node.op, "has_side_effects", False):
            continue        # two sends (receives) of the same value are two messages
        key = (node.op, tuple(map(id, node.inputs)))
        first = nodes.get(key)
        if first is None:
            nodes[key] = node
            continue
        for old, new in zip(node.outputs, first.outputs):
            fgraph.replace(old, new, reason="merge", rebuild=False)
        count += 1
    return count


def _constants_in_order(fgraph, order):
    """The graph's constants in the order ``FunctionGraph.rebuild`` meets them (inputs,
    then each node's inputs in topological order, then the outputs): the first of equal
    constants is the one kept."""
    seen, found = set(), []
    for v in [*fgraph.inputs, *(i for n in order for i in n.inputs), *fgraph.outputs]:
        if isinstance(v, Constant) and v not in seen:
            seen.add(v)
            found.append(v)
    return found
