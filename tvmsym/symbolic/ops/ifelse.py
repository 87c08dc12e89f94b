"""``ifelse(cond, then, else)``: Theano's lazy conditional (``theano.ifelse``).

``IfElse(n_outs)(cond, *then_outs, *else_outs)`` returns the ``then`` values when the
scalar ``cond`` is nonzero, else the ``else`` values.  Unlike ``switch`` (elementwise,
both sides computed), only the taken branch is computed: at compile time the stage
``lazy_ifelse`` (``rewrites/lazy_ifelse.py``) moves the nodes that only a branch needs
into a ``LazyIfElse`` node, which holds each branch as an inner graph; the runtime
compiles them (``runtime/inner.py``) and the node calls only the taken one (a host step:
the executor runs it between kernels).  An ``IfElse`` left as it is
(``optimizer_excluding=lazy_ifelse``, device=cuda) evaluates both sides and selects.

The two sides may have different shapes: the result's shape is then known only when
the call decides, and what reads it runs in numpy (the executor's data-dependent steps).
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable, cast
from ..graph import Apply, Constant, Op
from ..inner import InnerGraph, InnerGraphOp
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
class LazyIfElse(InnerGraphOp):
    """``IfElse`` whose branches are inner graphs (``"then"``, ``"else"``): only the taken
    one runs.

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

    def __str__(self):
        return f"if{{{self.name + ',' if self.name else ''}lazy}}"

    __repr__ = __str__

    def make_node(self, cond, *ins):
        return Apply(self, [cond] + list(ins), [t() for t in self.out_types])

    def inner_graph(self, name):
        if name not in _BRANCHES:
            return super().inner_graph(name)
        ins, outs = self.then_graph if name == "then" else self.else_graph
        return InnerGraph(ins, outs, f"{self}.{name}", target=self.target)

    def _split(self, inputs):
        return inputs[1:1 + self.n_then], inputs[1 + self.n_then:]

    def perform_inner(self, node, inputs, inner):
        k = 0 if inputs[0] else 1
        outs = inner.function(_BRANCHES[k])(*self._split(inputs)[k])   # fresh arrays
        return outs if isinstance(outs, list) else [outs]

    def infer_shape_inner(self, node, shapes, values, inner):
        c = values[0]
        taken = (0, 1) if c is None else ((0,) if c else (1,))
        found = []
        for k in taken:
            # a branch sized by a value known at run time only has unknown shapes
            found.append(inner.output_shapes(_BRANCHES[k], self._split(shapes)[k],
                                             self._split(values)[k]))
        if c is not None:
            return found[0]
        return [t if t == f and t is not None else None for t, f in zip(*found)]

    def infer_shape(self, node, shapes):
        return [None] * len(self.out_types)        # known when a branch's plan is at hand

    def value_inputs_inner(self, node, inner):
        """Inputs whose values size a branch (``x[:n]``): the function keys its builds on them."""
        pos = []
        for k, off in ((0, 1), (1, 1 + self.n_then)):
            pos += [off + j for j in inner.value_inputs(_BRANCHES[k])]
        return pos

    def runtime_values_ok(self, node, positions):
        return True     # a host step: the branch function reads them at run time


_BRANCHES = ("then", "else")
