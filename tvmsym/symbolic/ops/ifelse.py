"""``ifelse(cond, then, else)``: Theano's lazy conditional (``theano.ifelse``).

``IfElse(n_outs)(cond, *then_outs, *else_outs)`` returns the ``then`` values when the
scalar ``cond`` is nonzero, else the ``else`` values.  Unlike ``switch`` (elementwise,
both sides computed), only the taken branch is computed: at compile time the stage
``lazy_ifelse`` moves the nodes that only a branch needs into a ``LazyIfElse`` node,
which holds each branch as its own compiled function and calls only the taken one
(a host step: the executor runs it between kernels).  An ``IfElse`` left as it is
(``optimizer_excluding=lazy_ifelse``, device=cuda) evaluates both sides and selects.

The two sides may have different shapes: the result's shape is then known only when
the call decides, and what reads it runs in numpy (the executor's data-dependent steps).
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable, cast
from ..graph import Apply, Constant, Op, toposort
from ..type import TensorType


class IfElse(Op):
    """``(cond, *then_outs, *else_outs) -> outs``; prints as Theano's ``if{}``."""

    host_only = "selects on the host (lazy_ifelse makes the branches functions)"

    __props__ = ("n_outs", "as_view", "name")

    def __init__(self, n_outs, as_view=False, name=None):
        self.n_outs = int(n_outs)
        self.as_view = bool(as_view)
        self.name = name

    def __str__(self):
        args = ([self.name] if self.name else []) + (["inplace"] if self.as_view else [])
        return f"if{{{','.join(args)}}}"

    __repr__ = __str__

    def make_node(self, cond, *ts_fs):
        cond = as_tensor_variable(cond)
        if cond.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond} of type "
                            f"{cond.type} (use switch for an elementwise choice)")
        if len(ts_fs) != 2 * self.n_outs:
            raise TypeError(f"{self} takes {self.n_outs} then-values and {self.n_outs} "
                            f"else-values, got {len(ts_fs)} values")
        ts = [as_tensor_variable(t) for t in ts_fs[:self.n_outs]]
        fs = [as_tensor_variable(f) for f in ts_fs[self.n_outs:]]
        outs = []
        for k, (t, f) in enumerate(zip(ts, fs)):
            if t.ndim != f.ndim:
                raise TypeError(f"ifelse: output {k}: the then-value {t} ({t.type}) and the "
                                f"else-value {f} ({f.type}) have different numbers of dimensions")
            if t.dtype != f.dtype:
                if _weak(f) and not _weak(t):       # ifelse(c, x.sum(), 0.0): a Python scalar
                    dt = t.dtype                    # takes the other side's dtype (NEP 50)
                elif _weak(t) and not _weak(f):
                    dt = f.dtype
                else:
                    dt = np.result_type(t.dtype, f.dtype).name
                ts[k] = t = cast(t, dt) if t.dtype != dt else t
                fs[k] = f = cast(f, dt) if f.dtype != dt else f
            bc = tuple(a and b for a, b in zip(t.broadcastable, f.broadcastable))
            outs.append(TensorType(ts[k].dtype, bc)())
        return Apply(self, [cond] + ts + fs, outs)

    def perform(self, node, inputs):
        n = self.n_outs
        chosen = inputs[1:1 + n] if inputs[0] else inputs[1 + n:]
        return [np.array(v) for v in chosen]       # never the input array itself

    def infer_shape_values(self, node, shapes, values):
        n = self.n_outs
        c = values[0]
        if c is not None:                           # the condition is known at build time
            return list(shapes[1:1 + n] if c else shapes[1 + n:])
        return [tuple(t) if tuple(t) == tuple(f) else None
                for t, f in zip(shapes[1:1 + n], shapes[1 + n:])]

    def infer_shape(self, node, shapes):
        n = self.n_outs
        return [tuple(t) if tuple(t) == tuple(f) else None
                for t, f in zip(shapes[1:1 + n], shapes[1 + n:])]


def _weak(v):
    return isinstance(v, Constant) and getattr(v, "weak", False)


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch`` (lazily).

    The branches are variables or lists/tuples of the same length (then the result is a
    list/tuple of the same kind); paired values must have the same number of dimensions
    (their dtypes are upcast to a common one).
    """
    kind = type(then_branch) if isinstance(then_branch, (list, tuple)) else None
    ts = list(then_branch) if kind else [then_branch]
    fs = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(ts) != len(fs):
        raise ValueError(f"ifelse: the then-branch has {len(ts)} values and the else-branch "
                         f"{len(fs)}; they must have the same number")
    if not ts:
        raise ValueError("ifelse: the branches are empty")
    outs = IfElse(len(ts), name=name).make_node(condition, *ts, *fs).outputs
    if kind is None:
        return outs[0]
    return kind(outs)


# --------------------------------------------------------------------------- lazy evaluation
class LazyIfElse(Op):
    """``IfElse`` whose branches are compiled functions: only the taken one runs.

    Inputs: ``cond``, then the values the then-branch function reads (``n_then`` of
    them), then those the else-branch function reads.  Made by the ``lazy_ifelse``
    stage from an ``IfElse`` node; prints as ``if{lazy}``.
    """

    host_only = "calls the taken branch's function"
    no_grad = "made by the lazy_ifelse stage, after gradients"

    __props__ = ("n_then", "uid")

    def __init__(self, then_graph, else_graph, n_then, out_types, target=None, name=None):
        self.then_graph = then_graph        # (inputs, outputs) of each branch's own graph
        self.else_graph = else_graph
        self.n_then = n_then
        self.out_types = list(out_types)
        self.target = target
        self.name = name
        self.uid = id(self)
        self._fns = [None, None]

    def __str__(self):
        return f"if{{{self.name + ',' if self.name else ''}lazy}}"

    __repr__ = __str__

    def __getstate__(self):
        return dict(self.__dict__, _fns=[None, None])      # the branch functions are rebuilt

    def make_node(self, cond, *ins):
        return Apply(self, [cond] + list(ins), [t() for t in self.out_types])

    def branch(self, k):
        """The compiled function of branch k (0: then, 1: else), made on first use."""
        if self._fns[k] is None:
            from ...runtime.function import Function
            ins, outs = self.then_graph if k == 0 else self.else_graph
            self._fns[k] = Function(list(ins), list(outs), target=self.target,
                                    name=f"{self}.{'then' if k == 0 else 'else'}",
                                    on_unused_input="ignore")
        return self._fns[k]

    def _split(self, inputs):
        return inputs[1:1 + self.n_then], inputs[1 + self.n_then:]

    def perform(self, node, inputs):
        k = 0 if inputs[0] else 1
        outs = self.branch(k)(*self._split(inputs)[k])     # fresh arrays (never an input)
        return outs if isinstance(outs, list) else [outs]

    def infer_shape_values(self, node, shapes, values):
        c = values[0]
        taken = (0, 1) if c is None else ((0,) if c else (1,))
        found = []
        for k in taken:
            found.append(self._branch_shapes(k, self._split(shapes)[k], self._split(values)[k]))
        if c is not None:
            return found[0]
        return [t if t == f and t is not None else None for t, f in zip(*found)]

    def _branch_shapes(self, k, shapes, values):
        from ...lowering.lower import infer_shapes
        fn = self.branch(k)
        pl = fn._plan
        fg = pl.fgraph
        vals = {fg.inputs[j]: values[j] for j in pl.value_inputs}
        if any(v is None for v in vals.values()):
            return [None] * len(self.out_types)     # sized by a value known at run time only
        try:
            sh = infer_shapes(pl, [tuple(s) for s in shapes], None, vals)
        except (ValueError, TypeError, IndexError):
            return [None] * len(self.out_types)
        return [sh.get(o) for o in fg.outputs[:len(self.out_types)]]

    def shape_value_inputs(self, node):
        """Inputs whose values size a branch (``x[:n]``): the function keys its builds on them."""
        pos = []
        for k, off in ((0, 1), (1, 1 + self.n_then)):
            pos += [off + j for j in self.branch(k)._plan.value_inputs]
        return pos

    def runtime_values_ok(self, node, positions):
        return True     # a host step: the branch function reads them at run time

    def do_constant_folding(self, node):
        return False


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
