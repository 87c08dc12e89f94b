"""Sibling reductions: reductions of one input over the same axes become one multi-output
kernel (``ops/reduce_siblings.SiblingReduce``).

``x.sum(1)``, ``x.max(1)`` and ``(x * c).mean(1)`` each read all of ``x``; as separate nodes
they are separate kernels (and ``x * c`` a further kernel storing a temporary).  Grouped by
(input, reduced axes), they become one node whose parts are the reductions, each possibly
of an elementwise function of ``x`` and one-element constants (the ``Elemwise`` that fed
only that reduction).  Fewer, larger kernels: the ``reduce`` family of
``bench/bench_compile.py`` builds a few kernels instead of one per reduction and product.
CPU (llvm) graphs only, like ``dot_epilogue``; at most ``MAX_PARTS`` parts per kernel
(a kernel's build time grows with its loop nests).
"""
from __future__ import annotations

from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant
from ..ops.reduce import All, Any, Max, MaxOrLowest, Mean, Min, Prod, Sum
from ..ops.reduce_siblings import SiblingReduce

MAX_PARTS = 16
REDUCTIONS = (Sum, Prod, Mean, Max, MaxOrLowest, Min, All, Any)


def _one_element_constant(v):
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    return isinstance(v, Constant) and v.data.size == 1 and v.data.dtype.kind in "biuf"


def _premapped(fgraph, v):
    """(base, elemwise node or None): ``v`` itself, or the one non-constant input of the
    single-output Elemwise computing ``v`` when that Elemwise feeds only this reduction and
    its other inputs are one-element constants (so ``v`` has the base's shape)."""
    node = v.owner
    if node is None or not isinstance(node.op, Elemwise) or len(node.outputs) != 1 \
            or getattr(node.op, "inplace_pattern", None) or v in fgraph.outputs \
            or len(fgraph.clients.get(v, ())) != 1:
        return v, None
    bases = {i for i in node.inputs if not _one_element_constant(i)}
    if len(bases) != 1:
        return v, None
    (base,) = bases
    if base.broadcastable != v.broadcastable or base.type.dtype.startswith("complex"):
        return v, None
    return base, node


def sibling_reductions(fgraph, excluding=()):
    """Group the reductions of each (input, axes) into SiblingReduce nodes; returns the
    number of reductions grouped."""
    target = getattr(fgraph, "target", None)
    if target is not None and getattr(target, "kind", "llvm") != "llvm":
        return 0
    groups = {}
    for node in fgraph.toposort():
        if type(node.op) not in REDUCTIONS:
            continue
        v = node.inputs[0]
        if v.type.dtype.startswith("complex") or node.outputs[0].type.dtype.startswith("complex"):
            continue
        base, pre = _premapped(fgraph, v)
        key = (base, node.op.reduced_axes(v.ndim))
        groups.setdefault(key, []).append((node, pre))
    count = 0
    for (base, _axes), members in groups.items():
        for s in range(0, len(members), MAX_PARTS):
            chunk = members[s:s + MAX_PARTS]
            if len(chunk) < 2:
                continue
            inputs, parts = [base], []
            for node, pre in chunk:
                if pre is None:
                    parts.append((node.op, None, (0,)))
                    continue
                idx = []
                for i in pre.inputs:
                    if i is base:
                        idx.append(0)
                    else:
                        if i not in inputs:
                            inputs.append(i)
                        idx.append(inputs.index(i))
                parts.append((node.op, pre.op, tuple(idx)))
            new = SiblingReduce(parts).make_node(*inputs)
            if any(o.type != n.outputs[0].type for o, (n, _) in zip(new.outputs, chunk)):
                continue
            fgraph.replace_all([(n.outputs[0], o) for (n, _), o in zip(chunk, new.outputs)],
                               reason="sibling_reductions")
            count += len(chunk)
    return count
