"""Inplace: an Elemwise writes its output into an input buffer that is dead after it.

The input must be an intermediate result of the compiled graph: never a graph
input (the user's array or a shared variable's storage), a constant, a graph
output, or a view of another buffer; its only client must be this node, and it
must have the output's dtype and broadcast pattern (hence its shape).  The node
becomes ``Elemwise{...}[(out, in)]`` and the executor passes that input's array
as the kernel's output.  Runs last: every earlier stage may move buffers.
"""
from __future__ import annotations

from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant


def _is_private_buffer(v):
    node = v.owner
    if node is None or isinstance(v, Constant):
        return False        # user input, shared storage or constant
    if isinstance(node.op, DimShuffle) or getattr(node.op, "view_map", None):
        return False        # a view of another buffer
    return True


def _read_by_other_outputs(node, o, i):
    """A multi-output kernel must not overwrite an input that another output still reads."""
    if len(node.outputs) == 1:
        return False
    sop = node.op.scalar_op
    if not hasattr(sop, "uses_input"):
        return True
    return any(sop.uses_input(k, i) for k in range(sop.nout) if k != o)


def inplace_pattern(fgraph, node):
    """{output index: input index} this node may destroy."""
    pattern, taken = {}, []
    for o, out in enumerate(node.outputs):
        for i, v in enumerate(node.inputs):
            if any(v is t for t in taken) or v.type != out.type or not _is_private_buffer(v):
                continue
            if _read_by_other_outputs(node, o, i):
                continue
            if any(c is not node for c, _ in fgraph.clients[v]):
                continue    # read after this node (or a graph output)
            pattern[o] = i
            taken.append(v)
            break
    return pattern


def inplace(fgraph, excluding=()):
    """Make every Elemwise that can reuse a dead input buffer inplace; returns the count."""
    count = 0
    for node in fgraph.toposort():
        if not isinstance(node.op, Elemwise) or node.op.inplace_pattern:
            continue
        pattern = inplace_pattern(fgraph, node)
        if not pattern:
            continue
        new = type(node.op)(node.op.scalar_op, pattern).make_node(*node.inputs)   # keeps device variants
        fgraph.replace_all(list(zip(node.outputs, new.outputs)), reason="inplace")
        count += 1
    return count
