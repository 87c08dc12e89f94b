"""FunctionGraph: a cloned, editable view of a graph that tracks clients
(Theano's ``theano.gof.fg.FunctionGraph``).

Rewrites edit graphs only through ``replace`` so that ``clients`` stays right.
Every variable of the graph points back to it (``var.fgraph``), so ``var.clients`` gives
its clients as Theano does: ``[(apply_node, input_index), ..., ('output', k)]``.
"""
from __future__ import annotations

from .graph import Apply, Variable, toposort


def clone_graph(inputs, outputs, memo=None):
    """Copy the graph between inputs and outputs; returns (new_inputs, new_outputs, memo)."""
    memo = {} if memo is None else memo
    for i in inputs:
        if i not in memo:
            memo[i] = i.clone()
    for node in toposort(outputs, blockers=inputs):
        new_inputs = []
        for v in node.inputs:
            if v not in memo:
                memo[v] = v.clone()       # constants and free inputs
            new_inputs.append(memo[v])
        new_outs = [o.type() for o in node.outputs]
        for o, n in zip(node.outputs, new_outs):
            n.name = o.name
            n.tag = o.tag.copy()
            memo[o] = n
        Apply(node.op, new_inputs, new_outs).tag.update(node.tag)
    for o in outputs:
        if o not in memo:
            memo[o] = o.clone()
    return [memo[i] for i in inputs], [memo[o] for o in outputs], memo


class _Clients(dict):
    """``{variable: [(node, i), ('output', k)]}``; also callable as Theano's
    ``fgraph.clients(var)``."""

    def __call__(self, var):
        return self.get(var, [])


class FunctionGraph:
    """Inputs, outputs, and the Apply nodes between them, with client lists."""

    def __init__(self, inputs, outputs, clone=True):
        if clone:
            inputs, outputs, self.memo = clone_graph(inputs, outputs)
        else:
            self.memo = {}
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.rebuild()

    def rebuild(self):
        """Recompute clients and the node set from the outputs."""
        self.clients = _Clients()
        self.apply_nodes = set()
        for v in self.inputs:
            self.clients.setdefault(v, [])
        for node in toposort(self.outputs, blockers=self.inputs):
            self.apply_nodes.add(node)
            for i, v in enumerate(node.inputs):
                self.clients.setdefault(v, []).append((node, i))
            for o in node.outputs:
                self.clients.setdefault(o, [])
        for k, o in enumerate(self.outputs):
            self.clients.setdefault(o, []).append(("output", k))
        for v in self.clients:
            v.fgraph = self

    @property
    def variables(self):
        return set(self.clients)

    target = None           # what the graph is compiled for (set by Function; placement reads it)
    toposort_fn = None      # another valid order, set by a stage (placement: Theano's stack order)

    def toposort(self):
        if self.toposort_fn is not None:
            return self.toposort_fn(self.outputs, self.inputs)
        return toposort(self.outputs, blockers=self.inputs)

    def replace(self, old: Variable, new: Variable, reason=None, rebuild=True):
        """Make every client of ``old`` use ``new`` instead.

        ``clients`` and ``apply_nodes`` are updated in place (the nodes ``new`` brings
        are imported, the nodes left without clients are pruned), so a replacement costs
        what it changes, not a walk of the whole graph; the result is what ``rebuild``
        would compute.  ``rebuild`` is accepted for compatibility and not needed.
        """
        if old is new:
            return
        if old.type != new.type:
            raise TypeError(f"replace: {old} has type {old.type} but {new} has type {new.type} "
                            f"(rewrite {reason})")
        moved = self.clients.get(old)
        if not moved:
            return
        self.clients[old] = []          # new may read old (x -> f(x)): its clients stay
        self._import(new)
        into = self.clients[new]
        for client, i in moved:
            if client == "output":
                self.outputs[i] = new
            else:
                client.inputs[i] = new
            into.append((client, i))
        self._prune(old)

    def replace_all(self, pairs, reason=None):
        for old, new in pairs:
            self.replace(old, new, reason)

    def _import(self, var):
        """Add ``var`` and the nodes it needs that are not in the graph yet (iteratively)."""
        clients, nodes = self.clients, self.apply_nodes
        if var in clients:
            return
        stack = [(var, False)]
        while stack:
            v, expanded = stack.pop()
            node = v.owner
            if v in clients and not expanded:
                continue
            if node is None or node in nodes:
                clients.setdefault(v, [])
                v.fgraph = self
                continue
            if not expanded:
                stack.append((v, True))
                stack.extend((i, False) for i in node.inputs if i not in clients)
                continue
            if node in nodes:
                continue
            nodes.add(node)
            for o in node.outputs:
                clients.setdefault(o, [])
                o.fgraph = self
            for k, i in enumerate(node.inputs):
                clients.setdefault(i, []).append((node, k))

    def _prune(self, var):
        """Remove the nodes that no longer reach an output, starting from ``var``."""
        clients, nodes = self.clients, self.apply_nodes
        keep = None
        stack = [var]
        while stack:
            v = stack.pop()
            if clients.get(v):
                continue
            if keep is None:
                keep = set(self.inputs)
            if v in keep:
                continue
            node = v.owner
            if node is None:
                clients.pop(v, None)
                continue
            if node not in nodes or any(clients.get(o) for o in node.outputs):
                continue
            nodes.discard(node)
            for o in node.outputs:
                clients.pop(o, None)
            for k, i in enumerate(node.inputs):
                lst = clients.get(i)
                if lst is not None:
                    for n, entry in enumerate(lst):
                        if entry[0] is node and entry[1] == k:
                            del lst[n]
                            break
                    if not lst:
                        stack.append(i)

    def __str__(self):
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"

    def check_integrity(self):
        for node in self.apply_nodes:
            for o in node.outputs:
                assert o.owner is node
            for i, v in enumerate(node.inputs):
                assert (node, i) in self.clients[v], (node, v)
