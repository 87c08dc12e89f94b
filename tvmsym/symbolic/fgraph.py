"""FunctionGraph: a cloned, editable view of a graph that tracks clients.

Rewrites edit graphs only through ``replace`` so that ``clients`` stays right.
"""
from __future__ import annotations

from .graph import Apply, Constant, Variable, toposort


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
        self.clients = {}
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
        """Make every client of ``old`` use ``new`` instead."""
        if old is new:
            return
        if old.type != new.type:
            raise TypeError(f"replace: {old} has type {old.type} but {new} has type {new.type} "
                            f"(rewrite {reason})")
        for client, i in list(self.clients.get(old, [])):
            if client == "output":
                self.outputs[i] = new
            else:
                client.inputs[i] = new
        if rebuild:
            self.rebuild()

    def replace_all(self, pairs, reason=None):
        for old, new in pairs:
            self.replace(old, new, reason, rebuild=False)
        self.rebuild()

    def __str__(self):
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"

    def check_integrity(self):
        for node in self.apply_nodes:
            for o in node.outputs:
                assert o.owner is node
            for i, v in enumerate(node.inputs):
                assert (node, i) in self.clients[v], (node, v)
