"""Inner functions: the compiled inner graphs of scan, lazy ifelse and Jacobian ops.

The one place that compiles, caches and shape-infers inner graphs
(``symbolic/inner.py`` says what an op with inner graphs asks).  The executor runs a host
step through ``perform(node, inputs)``; the lowering's shape inference and planning get
``INNER`` (``inner_for``) as their ``inner`` argument, so neither ``symbolic/`` nor
``lowering/`` imports the runtime.

Compiled functions are cached per op object (weakly: they go when the op goes), so a scan
body is built once however many calls, builds or copies of the outer function run it.
"""
from __future__ import annotations

import weakref

from ..config import change_flags
from ..symbolic.inner import InnerGraphOp

_CACHE = {}         # id(obj) -> value, dropped when obj is collected


def weak_cache(obj, make):
    """``make()`` computed once per live object ``obj`` (keyed by identity, not equality)."""
    key = id(obj)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is obj:
        return hit[1]
    value = make()
    _CACHE[key] = (weakref.ref(obj, lambda _r, k=key, c=_CACHE: c.pop(k, None)), value)
    return value


class InnerFunctions:
    """The compiled inner graphs of one op (``inner_for(op)``)."""

    def __init__(self, op):
        self._op = weakref.ref(op)
        self._fns = {}

    def function(self, name):
        """The inner graph ``name`` compiled (once)."""
        fn = self._fns.get(name)
        if fn is None:
            from .function import Function
            g = self._op().inner_graph(name)
            mode = g.mode
            if g.including:
                from .mode import get_mode
                mode = get_mode(mode).including(*g.including)
            with change_flags(compute_test_value="off"):    # rewrites build new nodes
                # a scan's loop-invariant part ("<graph>#pre": U.T of the weights, once per
                # call) is built per shape: its inputs are the non-sequences, whose shapes
                # rarely change, and the specialized transposed copy is ~10x the generic one
                fn = Function(list(g.inputs), list(g.outputs), mode=mode, target=g.target,
                              name=g.name, on_unused_input="ignore",
                              specialize=name.endswith("#pre"))
            # inner functions build in memory: the scan loop binds their kernels by name
            # (runtime/scan_loop.py), which a build loaded by runtime/warm.py does not offer
            fn.__dict__["_no_warm"] = True
            self._fns[name] = fn
        return fn

    def value_inputs(self, name):
        """Positions of the inner graph's inputs whose values size its outputs."""
        return list(self.function(name)._plan.value_inputs)

    def output_shapes(self, name, shapes, values):
        """Shapes of the inner graph's outputs for input ``shapes`` (None where unknown).

        ``values``: per input its value when known (None otherwise); a value the inner
        graph's shapes depend on and that is unknown makes every shape unknown.
        """
        from ..lowering.lower import infer_shapes
        fn = self.function(name)
        g = self._op().inner_graph(name)
        n = len(g.outputs) if g.n_outputs < 0 else g.n_outputs
        pl = fn._plan
        fg = pl.fgraph
        vals = {fg.inputs[j]: values[j] for j in pl.value_inputs}
        if any(v is None for v in vals.values()):
            return [None] * n
        try:
            sh = infer_shapes(pl, [tuple(s) for s in shapes], None, vals, inner=inner_for)
        except (ValueError, TypeError, IndexError, NotImplementedError):
            return [None] * n
        return [sh.get(o) for o in fg.outputs[:n]]


def inner_for(op):
    """The ``InnerFunctions`` of ``op`` (one per live op)."""
    return weak_cache(op, lambda: InnerFunctions(op))


def perform(node, inputs):
    """Run a host step: an op with inner graphs gets its compiled functions (a scan loop:
    ``runtime/scan.py``)."""
    op = node.op
    if isinstance(op, InnerGraphOp):
        run = _RUNNERS.get(type(op))
        if run is None:
            return op.perform_inner(node, inputs, inner_for(op))
        return run(node, inputs, inner_for(op))
    return op.perform(node, inputs)


def _runners():
    from ..symbolic.ops.scan import Scan, ScanGrad
    from .scan import run_scan, run_scan_grad
    return {Scan: run_scan, ScanGrad: run_scan_grad}


class _Runners(dict):
    """{op type: runner(node, inputs, inner)}: the runtime's loops, filled at first use."""

    def get(self, key, default=None):
        if not self:
            self.update(_runners())
        return super().get(key, default)


_RUNNERS = _Runners()


def apply(op, *inputs):
    """``op(*inputs)`` for an op with inner graphs, with Theano's test values computed
    (``compute_test_value``) by running its compiled inner functions."""
    from ..config import config
    from ..symbolic.graph import compute_test_values
    node = op.make_node(*inputs)
    if config.compute_test_value != "off":
        compute_test_values(node, config.compute_test_value, perform)
    return node.outputs[0] if len(node.outputs) == 1 else node.outputs
