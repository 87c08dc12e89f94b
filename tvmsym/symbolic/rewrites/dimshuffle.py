"""DimShuffle merging: a DimShuffle of a DimShuffle is one DimShuffle; a trivial one is removed."""
from __future__ import annotations

from ..elemwise import DimShuffle
from .db import RewriteDB, same_type

dimshuffle_db = RewriteDB("dimshuffle")
register = dimshuffle_db.register


@register(DimShuffle)
def local_dimshuffle_dimshuffle(fgraph, node):
    """DimShuffle{o2}(DimShuffle{o1}(x)) -> DimShuffle{o1[o2]}(x)"""
    (v,) = node.inputs
    if v.owner is None or not isinstance(v.owner.op, DimShuffle):
        return None
    inner = v.owner.op.new_order
    order = tuple("x" if o == "x" else inner[o] for o in node.op.new_order)
    x = v.owner.inputs[0]
    new = DimShuffle(x.broadcastable, order)(x)
    if new.owner.op.is_trivial():
        new = x
    return [new] if same_type(node.outputs[0], new) else None


@register(DimShuffle)
def local_trivial_dimshuffle(fgraph, node):
    """DimShuffle{0,1,...}(x) -> x"""
    if node.op.is_trivial() and same_type(node.outputs[0], node.inputs[0]):
        return [node.inputs[0]]
    return None


def merge_dimshuffles(fgraph, excluding=()):
    return dimshuffle_db.run(fgraph, excluding)
