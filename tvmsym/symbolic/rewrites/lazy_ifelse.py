"""Stage ``lazy_ifelse``: an ``IfElse`` whose branches compute something becomes a
``LazyIfElse`` holding each branch as an inner graph, so only the taken one runs.

Graph surgery only: the nodes only one branch needs move into that branch's graph (their
free values become the branch's inputs); the runtime compiles the branches
(``runtime/inner.py``).
"""
from __future__ import annotations

from ..graph import Apply, Constant, toposort
from ..ops.ifelse import IfElse, LazyIfElse


def _branch_nodes(fgraph, node, positions):
    """Nodes computed only for the IfElse ``node``'s inputs at ``positions`` (one branch):
    every node whose results are read only by such nodes or by ``node`` at those positions."""
    outs = [node.inputs[i] for i in positions]
    inside = set()
    cand = toposort(outs, blockers=fgraph.inputs)
    for n in reversed(cand):        # readers before what they read
        if all(client != "output" and (client in inside or (client is node and i in positions))
               for o in n.outputs for client, i in fgraph.clients.get(o, [])):
            inside.add(n)
    return [n for n in cand if n in inside]


def _branch_graph(nodes, outs):
    """A copy of ``nodes`` whose free values are fresh input variables:
    (inputs, outputs, the outer variables the inputs stand for)."""
    outer, memo = [], {}

    def get(v):
        if v not in memo:
            if isinstance(v, Constant):
                memo[v] = v
            else:
                nv = v.type()
                nv.name = v.name
                memo[v] = nv
                outer.append(v)
        return memo[v]

    for n in nodes:
        ins = [get(v) for v in n.inputs]
        new_outs = [o.type() for o in n.outputs]
        for o, c in zip(n.outputs, new_outs):
            c.name, c.tag = o.name, o.tag.copy()
            memo[o] = c
        Apply(n.op, ins, new_outs)
    new_outs = [get(o) for o in outs]
    return [memo[v] for v in outer], new_outs, outer


def lazy_ifelse(fgraph, excluding=()):
    """Stage: each ``IfElse`` with a branch that computes something becomes a ``LazyIfElse``
    (cpu; on cuda both sides are computed and the host selects)."""
    target = getattr(fgraph, "target", None)
    if getattr(target, "kind", None) == "cuda":
        return
    for node in list(fgraph.toposort()):
        if not isinstance(node.op, IfElse) or node not in fgraph.apply_nodes:
            continue
        n = node.op.n_outs
        then_pos, else_pos = range(1, 1 + n), range(1 + n, 1 + 2 * n)
        then_nodes = _branch_nodes(fgraph, node, then_pos)
        else_nodes = _branch_nodes(fgraph, node, else_pos)
        if not then_nodes and not else_nodes:
            continue                # both sides are computed anyway: selecting is enough
        t_ins, t_outs, t_outer = _branch_graph(then_nodes, [node.inputs[i] for i in then_pos])
        e_ins, e_outs, e_outer = _branch_graph(else_nodes, [node.inputs[i] for i in else_pos])
        op = LazyIfElse((t_ins, t_outs), (e_ins, e_outs), len(t_outer),
                        [o.type for o in node.outputs], target=target, name=node.op.name)
        new = op.make_node(node.inputs[0], *t_outer, *e_outer).outputs
        fgraph.replace_all(list(zip(node.outputs, new)), reason="lazy_ifelse")
