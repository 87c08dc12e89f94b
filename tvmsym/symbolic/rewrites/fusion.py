"""Elementwise fusion: a connected group of Elemwise nodes becomes one ``Elemwise{Composite}``.

A group grows from a consumer towards its producers.  A producer joins when it
is an Elemwise with the consumer's broadcast pattern (so nothing is recomputed
per broadcast element) and when no path leaves the group and re-enters it (the
fused node would depend on itself).  A group output used outside the group
becomes an extra output of the Composite.  One-element constants become
immediates (``('c', value, dtype)``).  Lowering turns the node into one TE
compute, hence one loop nest.  A group stops growing at ``MAX_INPUTS`` inputs,
``MAX_OPS`` operations or ``MAX_COST`` (the size of the expression TVM compiles).
"""
from __future__ import annotations

import math

from .. import scalar as ps
from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant

# Kernel arguments of one fused node: Theano's 32.  LLVM's compile time grows about
# quadratically with a kernel's pointer arguments (a sum of 8 inputs builds in 0.14 s,
# 32 in 0.58 s, 60 in 1.4 s), so two narrower kernels build faster than one wide one.
MAX_INPUTS = 32
# A Composite's size.  ``MAX_OPS`` scalar operations bounds the depth of any walk over its
# expression: a deep chain becomes several kernels of a few hundred ops, so recursive
# helpers stay far below Python's recursion limit.  ``MAX_COST`` bounds the expression TVM
# compiles, which it expands as a tree: a value used twice counts twice and an op whose
# lowering copies its argument counts ``arg_copies`` times (``scalar.py``), so chains
# like ``z = tanh(z) * x + z`` (cost x9 per level) split before compile time explodes
# (measured: a few tens of ms per kernel at this cost; 20000 took 0.3 s).
MAX_OPS = 256
MAX_COST = 1000


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


def _can_join(fgraph, p, group, index, first, last):
    """No path p -> outside -> group and none group -> outside -> p (``first``/``last``:
    the group's first and last positions in ``index``)."""
    outside_users = [c for o in p.outputs for c, _ in fgraph.clients[o]
                     if c != "output" and c not in group and index[c] < last]
    if _reaches(fgraph, outside_users, group, True, index, last):
        return False            # p -> outside -> group
    outside_producers = [i.owner for i in p.inputs
                         if i.owner is not None and i.owner not in group and index[i.owner] > first]
    return not _reaches(fgraph, outside_producers, group, False, index, first)   # group -> outside -> p


def _ops(node):
    sop = node.op.scalar_op
    return sop.n_ops if isinstance(sop, ps.Composite) else 1


def _own_cost(node):
    """(cost of the node's own expression, copies of each input) as in ``Composite._cost``."""
    sop = node.op.scalar_op
    if isinstance(sop, ps.Composite):
        return sop.cost, sop.input_copies
    return 1, (sop.arg_copies,) * len(node.inputs)


class _Cost:
    """The compiled-expression cost of a growing group's Composite (``Composite._cost``:
    every output is one expression tree), kept incrementally: ``uses[n]`` is how many
    copies of node n's value the output expressions hold."""

    def __init__(self, root, clients):
        self.root = root
        self.clients = clients
        self.uses = {root: 1}
        self.total = _own_cost(root)[0]

    def _is_output(self, n, members):
        return any(c == "output" or c not in members for o in n.outputs for c, _ in self.clients(o))

    def with_node(self, p, group):
        """The cost if ``p`` joins (recomputed from scratch when p reads the group)."""
        if any(i.owner in group for i in p.inputs):
            return self._recompute(group | {p})[0]
        return self.total + self._uses(p, group) * _own_cost(p)[0]

    def _uses(self, p, group):
        uses = int(self._is_output(p, group | {p}))
        for o in p.outputs:
            for c, slot in self.clients(o):
                if c != "output" and c in group:
                    uses += self.uses[c] * _own_cost(c)[1][slot]
        return uses

    def add(self, p, group):
        """Record that ``p`` joined (``group`` already holds it)."""
        if any(i.owner in group for i in p.inputs):
            self.total, self.uses = self._recompute(group)
        else:
            self.uses[p] = self._uses(p, group - {p})
            self.total += self.uses[p] * _own_cost(p)[0]

    def _recompute(self, members):
        """(total, uses) walking the members from the root, consumers before producers."""
        pending = {}
        for n in members:
            for v in n.inputs:
                if v.owner in members:
                    pending[v.owner] = pending.get(v.owner, 0) + 1
        uses = {n: int(self._is_output(n, members)) for n in members}
        ready, total = [self.root], 0
        while ready:
            n = ready.pop()
            own, copies = _own_cost(n)
            total += uses[n] * own
            for c, v in zip(copies, n.inputs):
                q = v.owner
                if q in members:
                    uses[q] += uses[n] * c
                    pending[q] -= 1
                    if pending[q] == 0:
                        ready.append(q)
        return total, uses


def _grow(fgraph, root, index):
    """The group of ``root``: producers join in breadth-first order (inputs in order)
    while the Composite stays under ``MAX_OPS`` operations, ``MAX_COST`` and
    ``MAX_INPUTS`` inputs (a group is never grown past a size it could not be built at)."""
    pattern = root.outputs[0].broadcastable
    group = {root}
    n_ops = _ops(root)
    cost = _Cost(root, lambda v: fgraph.clients.get(v, ()))
    inputs = {v for v in root.inputs if _immediate(v) is None}
    first = last = index[root]
    queue = [root]
    rejected = set()
    changed = True
    while changed:
        changed = False
        k = 0
        while k < len(queue):
            node = queue[k]
            k += 1
            for v in node.inputs:
                p = v.owner
                if p is None or p in group or p in rejected or not _fusable(p) \
                        or _immediate(v) is not None:
                    continue
                if any(o.broadcastable != pattern for o in p.outputs):
                    continue
                if n_ops + _ops(p) > MAX_OPS or cost.with_node(p, group) > MAX_COST:
                    rejected.add(p)         # the group only grows: it would stay too big
                    continue
                new_inputs = [i for i in p.inputs if i not in inputs and i.owner not in group
                              and _immediate(i) is None]
                if len(inputs) - len(set(p.outputs) & inputs) + len(set(new_inputs)) > MAX_INPUTS:
                    continue
                if _can_join(fgraph, p, group, index, first, last):
                    group.add(p)
                    cost.add(p, group)
                    inputs.difference_update(p.outputs)
                    inputs.update(new_inputs)
                    queue.append(p)
                    n_ops += _ops(p)
                    first, last = min(first, index[p]), max(last, index[p])
                    changed = True
    return group


def _inline(sop, args):
    """The output expressions of Composite ``sop`` with input k replaced by ``args[k]``."""
    built = []
    for p in sop.program:
        if p[0] == "i":
            built.append(args[p[1]])
        elif p[0] == "c":
            built.append(p)
        else:
            built.append((p[0],) + tuple(built[j] for j in p[1:]))
    return [built[k] for k in sop.outputs]


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
                if unit == 0 and out.startswith("float") and math.copysign(1.0, args[k][1]) > 0:
                    continue    # x + 0.0 is +0.0 at x = -0.0: only x + -0.0 is x
                return keep(1 - k)
    return (sop,) + tuple(args)


def _composite_node(fgraph, group, order):
    """Replacement pairs that turn ``group`` (``order``: its nodes in topological order)
    into one Composite node, or None."""
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
            outs = _inline(sop, args)
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


class _Order:
    """``fgraph.toposort()`` kept up to date while groups are replaced (the depth-first
    post-order from the outputs), so fusion needs no fresh toposort per group.

    ``start[n]`` is the position of the first node emitted while the walk was inside
    ``n``: positions ``start[n]..pos[n]`` hold what ``n`` brought in.  When a group is
    reached only through its root, a fresh walk differs only inside the root's range:
    if the new node reads the group's inputs in the order the walk met them, every other
    node keeps its place (the new node takes the root's); otherwise the range is walked
    again.  A group reached from elsewhere makes the whole order be recomputed.  The
    order of the Elemwise nodes is the fresh toposort's, hence every decision is; only a
    constant's DimShuffle whose reader left may keep an earlier (still valid) place.
    """

    def __init__(self, fgraph):
        self.fgraph = fgraph
        self.full()

    def full(self):
        self.start, self.pos = {}, {}
        self.nodes = self._walk(list(self.fgraph.outputs), lambda n: False, 0)
        self.recomputed_ranges = getattr(self, "recomputed_ranges", 0)
        self.recomputed = getattr(self, "recomputed", -1) + 1

    def _walk(self, outputs, done_before, base):
        """Depth-first post-order of the nodes not ``done_before`` (graph.toposort's walk),
        appended to ``self.nodes`` at positions ``base`` on; fills pos and start."""
        blocked = set(map(id, self.fgraph.inputs))
        emitted, done = [], set()
        for out in outputs:
            stack = [(out, False)]
            while stack:
                v, expanded = stack.pop()
                node = v.owner
                if node is None or id(v) in blocked or node in done or done_before(node):
                    continue
                if expanded:
                    done.add(node)
                    self.pos[node] = base + len(emitted)
                    emitted.append(node)
                    continue
                self.start[node] = base + len(emitted)
                stack.append((v, True))
                for i in reversed(node.inputs):
                    if i.owner is not None and i.owner not in done:
                        stack.append((i, False))
        return emitted

    def first_reached(self, root, group, s):
        """The owners of the group's inputs in the order the walk from ``root`` first met
        them (only those it had not emitted before ``s``)."""
        seen, found = set(), []
        stack = [(root, 0)]
        visited = {root}
        while stack:
            n, k = stack.pop()
            if k == len(n.inputs):
                continue
            stack.append((n, k + 1))
            v = n.inputs[k]
            o = v.owner
            if o in group:
                if o not in visited:
                    visited.add(o)
                    stack.append((o, 0))
            elif o is not None and _immediate(v) is None and o not in seen \
                    and self.pos.get(o, -1) >= s:
                seen.add(o)
                found.append(o)
        return found

    def replaced(self, root, group, outs):
        """Update the order after ``group`` (grown from ``root``, reached only through it)
        was replaced; ``outs`` stand for root's outputs now (one new owner)."""
        s, e = self.start[root], self.pos[root]
        pos, start, nodes = self.pos, self.start, self.nodes
        new = outs[0].owner
        before = self.first_reached(root, group, s)
        live = self.fgraph.apply_nodes
        if new is not None and new not in pos:
            seen, after = set(), []
            for v in new.inputs:
                o = v.owner
                if o is not None and o not in seen and pos.get(o, -1) >= s:
                    seen.add(o)
                    after.append(o)
            if after == before:
                # the walk meets the same subgraphs in the same order: every other node
                # keeps its place, the new node takes the root's
                gone = list(group)
                for g in group:         # constants' DimShuffles left without a reader
                    for v in g.inputs:
                        while v.owner is not None and v.owner not in live and v.owner in pos:
                            gone.append(v.owner)
                            v = v.owner.inputs[0]
                for n in gone:
                    if n in pos:
                        nodes[pos[n]] = None
                        del pos[n], start[n]
                nodes[e] = new
                pos[new], start[new] = e, s
                return
        self.recomputed_ranges += 1
        kept = []
        for n in nodes[s:e + 1]:
            if n is not None:
                del pos[n], start[n]
                if n in live and n not in group:
                    kept.append(n)
        walked = self._walk(outs, lambda n: pos.get(n, s) < s, s)
        kept = [n for n in kept if n not in pos]    # not met again: constants' DimShuffles
        shift = e + 1 - len(walked) - s
        for n in walked:
            pos[n] += shift
            start[n] += shift
        for k, n in enumerate(kept):
            pos[n] = start[n] = s + k
        self.nodes[s:e + 1] = kept + [None] * (shift - len(kept)) + walked


def _reached_only_through(fgraph, root, group):
    """True if every group node but ``root`` has all its clients in the group."""
    for n in group:
        if n is root:
            continue
        for o in n.outputs:
            for c, _ in fgraph.clients[o]:
                if c == "output" or c not in group:
                    return False
    return True


def fusion(fgraph, excluding=()):
    """Fuse until no group of two or more Elemwise nodes is left; returns the number of groups.

    Roots are tried from the end of the topological order; a group that becomes a
    Composite is followed by a retry of the new node (it cannot grow: nothing its group
    refused can join it), then the walk goes on backwards.
    """
    if fgraph.toposort_fn is not None:
        return _fusion_restarting(fgraph)
    order = _Order(fgraph)
    count = 0
    done = set()
    k = len(order.nodes) - 1
    while k >= 0:
        node = order.nodes[k]
        if node is None or node in done or not _fusable(node):
            k -= 1
            continue
        group = _grow(fgraph, node, order.pos)
        pairs = None
        if len(group) > 1:
            members = sorted(group, key=order.pos.__getitem__)
            pairs = _composite_node(fgraph, members, members)
        if pairs is None:
            done.add(node)
            k -= 1
            continue
        local = _reached_only_through(fgraph, node, group)
        fgraph.replace_all(pairs, reason="fusion")
        count += 1
        new = dict(pairs)
        outs = [new[o] for o in node.outputs if o in new]
        if local and len({v.owner for v in outs}) == 1:
            order.replaced(node, group, outs)
        else:
            order.full()
            k = len(order.nodes) - 1
    fgraph.fusion_order_recomputed = (order.recomputed, order.recomputed_ranges)
    return count


def _fusion_restarting(fgraph):
    """The plain algorithm (a fresh ``fgraph.toposort()`` after each group): for graphs
    with another order (``toposort_fn``), and the reference the tests compare with."""
    count = 0
    done = set()
    while True:
        order = fgraph.toposort()
        index = {n: k for k, n in enumerate(order)}
        for node in reversed(order):
            if node in done or not _fusable(node):
                continue
            group = _grow(fgraph, node, index)
            pairs = None
            if len(group) > 1:
                pairs = _composite_node(fgraph, group, [n for n in order if n in group])
            if pairs is None:
                done.add(node)
                continue
            fgraph.replace_all(pairs, reason="fusion")
            count += 1
            break
        else:
            return count
