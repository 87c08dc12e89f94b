"""``SiblingReduce``: several reductions of one input over the same axes, one kernel.

Made by the ``sibling_reductions`` rewrite (``rewrites/sibling_reduce.py``) from
``x.sum(1)``, ``x.max(1)``, ``(x * 2).mean(1)``, ...: each part is a reduction op
(``ops/reduce.py``: Sum, Prod, Mean, Max, Min, All, Any) applied to either an input of
the node or an elementwise function of its inputs (the ``Elemwise`` that fed only that
reduction: it is computed inside the kernel, never stored).  Input 0 is the shared input
``x``; the other inputs are one-element constants the elementwise parts read.  Every part
has ``x``'s shape, so the node's outputs are exactly the replaced reductions' outputs, and
its lowering (``lowering/rules/reduce_siblings.py``) is the reductions' own, so the numbers
are bit for bit those of separate kernels.
"""
from __future__ import annotations

from ..graph import Apply, Op


class SiblingReduce(Op):
    """``parts``: one ``(reduce_op, elemwise_op or None, input positions)`` per output."""

    __props__ = ("parts",)
    no_grad = "made after gradients by the sibling_reductions rewrite (llvm kernels only)"

    def __init__(self, parts):
        self.parts = tuple((red, pre, tuple(int(i) for i in idx)) for red, pre, idx in parts)

    def __str__(self):
        def one(red, pre, idx):
            return f"{red}({pre})" if pre is not None else str(red)
        return f"SiblingReduce{{{', '.join(one(*p) for p in self.parts)}}}"

    __repr__ = __str__

    # ---------------------------------------------------------------- graph
    def reduced_input(self, node, k):
        """The variable part ``k`` reduces (a fresh, unattached elementwise result when the
        part has an elementwise function) and its Apply (None for a plain input)."""
        red, pre, idx = self.parts[k]
        if pre is None:
            return node.inputs[idx[0]], None
        pnode = pre.make_node(*[node.inputs[i] for i in idx])
        return pnode.outputs[0], pnode

    def make_node(self, *inputs):
        outs = []
        for red, pre, idx in self.parts:
            v = inputs[idx[0]] if pre is None else pre.make_node(*[inputs[i] for i in idx]).outputs[0]
            outs.append(red.make_node(v).outputs[0].type())
        return Apply(self, list(inputs), outs)

    def infer_shape(self, node, shapes):
        # every part's input has x's shape (input 0): its elementwise arguments are one-element
        return [red.infer_shape(None, [tuple(shapes[0])])[0] for red, _, _ in self.parts]

    def perform(self, node, inputs):
        out = []
        for k, (red, pre, idx) in enumerate(self.parts):
            v, pnode = self.reduced_input(node, k)
            val = inputs[idx[0]] if pnode is None else \
                pre.perform(pnode, [inputs[i] for i in idx])[0]
            out.append(red.perform(red.make_node(v), [val])[0])
        return out
