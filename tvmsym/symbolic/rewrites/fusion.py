"""Elementwise fusion: a connected group of Elemwise nodes becomes one ``Elemwise{Composite}``.

A group grows from a consumer towards its producers.  A producer joins when it
is an Elemwise with the consumer's broadcast pattern (so nothing is recomputed
per broadcast element) and when no path leaves the group and re-enters it (the
fused node would depend on itself).  A group output used outside the group
becomes an extra output of the Composite.  One-element constants become
immediates (``('c', value, dtype)``).  Lowering turns the node into one TE
compute, hence one loop nest.
"""
from __future__ import annotations

from .. import scalar as ps
from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant

MAX_INPUTS = 64          # kernel arguments of one fused node


def _fusable(node):
    return isinstance(node.op, Elemwise) and not node.op.inplace_pattern


def _immediate(v):
    """(value, dtype) if ``v`` is a one-element constant that broadcasts everywhere."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if isinstance(v, Constant) and v.data.size == 1 and all(v.type.broadcastable) \
            and v.data.dtype.kind in "biuf":
        return v.data.reshape(())[()], v.type.dtype      # numpy scalar: prints 0.1, not 0.100000001
    return None


def _reaches(fgraph, starts, targets, forward, index, bound):
    """Is a node of ``targets`` reachable from ``starts`` through nodes outside ``targets``?

    ``index`` is the topological position of each node: going forward, a node after
    ``bound`` (the group's last node) cannot lead back into the group; going backward, a
    node before ``bound`` (the group's first node) cannot come from it.
    """
    stack, seen = list(starts), set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if forward:
            nxt = [c for o in n.outputs for c, _ in fgraph.clients.get(o, ()) if c != "output"]
        else:
            nxt = [i.owner for i in n.inputs if i.owner is not None]
        for m in nxt:
            if m in targets:
                return True
            if (index[m] < bound) if forward else (index[m] > bound):
                stack.append(m)
    return False


def _can_join(fgraph, p, group, index):
    last = max(index[n] for n in group)
    first = min(index[n] for n in group)
    outside_users = [c for o in p.outputs for c, _ in fgraph.clients[o]
                     if c != "output" and c not in group and index[c] < last]
    if _reaches(fgraph, outside_users, group, True, index, last):
        return False            # p -> outside -> group
    outside_producers = [i.owner for i in p.inputs
                         if i.owner is not None and i.owner not in group and index[i.owner] > first]
    return not _reaches(fgraph, outside_producers, group, False, index, first)   # group -> outside -> p


def _grow(fgraph, root, index):
    pattern = root.outputs[0].broadcastable
    group = {root}
    changed = True
    while changed:
        changed = False
        for node in list(group):
            for v in node.inputs:
                p = v.owner
                if p is None or p in group or not _fusable(p) or _immediate(v) is not None:
                    continue
                if any(o.broadcastable != pattern for o in p.outputs):
                    continue
                if _can_join(fgraph, p, group, index):
                    group.add(p)
                    changed = True
    return group


def _substitute(e, args, memo):
    """Inline a Composite's expression tree ``e`` with its inputs replaced by ``args``."""
    if id(e) in memo:
        return memo[id(e)]
    if e[0] == "i":
        r = args[e[1]]
    elif e[0] == "c":
        r = e
    else:
        r = (e[0],) + tuple(_substitute(c, args, memo) for c in e[1:])
    memo[id(e)] = r
    return r


def _simplify(sop, args, node):
    """Inside a fused group every operand already has the group's shape, so Theano's
    broadcasting idioms fold away: ``switch(True, a, b) -> a`` (``fill``), ``1 * x -> x``,
    ``-(-x) -> x``."""
    out = node.outputs[0].type.dtype

    def keep(k):
        e = args[k]
        return e if node.inputs[k].type.dtype == out else (ps.Cast(out), e)

    if type(sop) is type(ps.neg) and type(args[0][0]) is type(ps.neg):
        return args[0][1]                       # -(-x) -> x (stabilize's sigmoid(-t) of t = -x)
    if type(sop) is type(ps.switch) and args[0][0] == "c":
        return keep(1 if args[0][1] else 2)
    if type(sop) is type(ps.mul) or type(sop) is type(ps.add):
        unit = 1 if type(sop) is type(ps.mul) else 0
        for k in (0, 1):
            if args[k][0] == "c" and args[k][1] == unit:
                return keep(1 - k)
    return (sop,) + tuple(args)


def _composite_node(fgraph, group):
    order = [n for n in fgraph.toposort() if n in group]
    inputs, exprs = [], {}

    def expr_of(v):
        if v in exprs:
            return exprs[v]
        imm = _immediate(v)
        if imm is not None:
            e = ("c", imm[0], imm[1])
        else:
            e = ("i", len(inputs))
            inputs.append(v)
        exprs[v] = e
        return e

    for node in order:
        args = [expr_of(v) for v in node.inputs]
        sop = node.op.scalar_op
        if isinstance(sop, ps.Composite):
            memo = {}
            outs = [_substitute(e, args, memo) for e in sop.exprs]
        else:
            outs = [_simplify(sop, args, node)]
        for o, e in zip(node.outputs, outs):
            exprs[o] = e
    outputs = [o for n in order for o in n.outputs
               if any(c == "output" or c not in group for c, _ in fgraph.clients[o])]
    if not inputs or len(inputs) > MAX_INPUTS:
        return None
    pairs = []
    for o in list(outputs):         # an output that folded to one of the inputs needs no kernel
        e = exprs[o]
        if e[0] == "i" and inputs[e[1]].type == o.type:
            pairs.append((o, inputs[e[1]]))
            outputs.remove(o)
    if not outputs:
        return pairs
    comp = ps.Composite([exprs[o] for o in outputs], [v.type.dtype for v in inputs])
    new = Elemwise(comp).make_node(*inputs)
    if any(o.type != n.type for o, n in zip(outputs, new.outputs)):
        return None
    return pairs + list(zip(outputs, new.outputs))


def fusion(fgraph, excluding=()):
    """Fuse until no group of two or more Elemwise nodes is left; returns the number of groups."""
    count = 0
    done = set()
    while True:
        order = fgraph.toposort()
        index = {n: k for k, n in enumerate(order)}
        for node in reversed(order):
            if node in done or not _fusable(node):
                continue
            group = _grow(fgraph, node, index)
            pairs = _composite_node(fgraph, group) if len(group) > 1 else None
            if pairs is None:
                done.add(node)
                continue
            fgraph.replace_all(pairs, reason="fusion")
            count += 1
            break
        else:
            return count
