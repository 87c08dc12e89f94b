"""Graph -> kernels -> TE -> PrimFuncs.

``plan(fgraph)`` decides, once per compiled function, which nodes are kernels
and which are inlined into their consumers (views such as DimShuffle, and
scalar constants).  ``build_signature(plan, input_shapes)`` then lowers every
kernel to TE for concrete shapes, so every schedule sees static extents
(full vectorization, exact tiling); the runtime caches one build per shape
signature, as JAX does per input shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..symbolic.elemwise import DimShuffle, Elemwise
from ..symbolic.graph import Constant
from ..symbolic.inner import InnerGraphOp
from ..symbolic.ops.distributed import side_effect_order
from ..symbolic.ops.reduce import CAReduce
from ..symbolic.ops.subtensor import Subtensor
from ..symbolic.shapes import infer_shapes as _infer_shapes
from . import machine
from .rules import find_rule
from .rules.complex import buffer_of

INLINE_CONSTANT_MAX = 1      # constants with at most this many elements become immediates


def is_view(node):
    return isinstance(node.op, DimShuffle)


def is_slice_view(node):
    """A basic slice (``x[a:b]``, ``x[:, a:b:s]``, ``x[i]``) a kernel can read through: every
    index is a constant or a slice start/stop (read from its 0-d buffer); an int index or a
    step only known at call time keeps its own step (its bounds check, its shape)."""
    op = node.op
    if type(op) is not Subtensor or find_rule(op) is None:
        return False
    starts_stops = {k for k, j in op.slice_parts() if j < 2}
    return all(isinstance(v, Constant) or k in starts_stops
               for k, v in enumerate(node.inputs) if k >= op.n_before)


def _reads_through_views(node):
    """Kernels that may read an input through an inlined slice: elementwise ops and
    reductions (their schedules inline every spatial producer)."""
    return isinstance(node.op, (Elemwise, CAReduce)) and not is_whole_kernel(node)


# scalar ops a reduction's vectorized schedule compiles inline (transcendental functions have
# lane-specific lowerings that its rfactor split does not accept)
_ARITH = frozenset(("add", "sub", "mul", "neg", "sqr", "abs", "maximum", "minimum", "pow",
                    "true_div", "identity"))


def _arithmetic(node):
    sop = node.op.scalar_op
    prog = getattr(sop, "program", None)
    ops = [p[0] for p in prog if p[0] not in ("i", "c")] if prog is not None else [sop]
    if any(getattr(o, "name", None) not in _ARITH for o in ops):
        return False
    dts = {v.type.dtype for v in node.inputs + node.outputs}
    return len(dts) == 1        # no casts: one lane width


def _reduced_producers(fgraph, order, outputs, host_read):
    """Elementwise nodes computed inside the one reduction that reads them (``T.sum(x ** 2)``
    reads x once and writes no x ** 2 array): single-output arithmetic of one dtype, read by
    exactly one reduction kernel and nothing else."""
    out = set()
    for node in order:
        if not (isinstance(node.op, Elemwise) and len(node.outputs) == 1 and _has_rule(node)
                and not is_whole_kernel(node) and _arithmetic(node)):
            continue
        v = node.outputs[0]
        cl = fgraph.clients.get(v, ())
        if v in outputs or v in host_read or len(cl) != 1 or isinstance(cl[0][0], str):
            continue
        c = cl[0][0]
        if isinstance(c.op, CAReduce) and _has_rule(c) and not is_whole_kernel(c) \
                and not _slow_broadcast_reduce(node, c):
            out.add(node)
    return out


def _slow_broadcast_reduce(node, red):
    """A producer with an input broadcast along some axis of its output (a one-element
    constant aside) of 3 or more dims, partly reduced over other than its last axis alone: the
    reduce schedule reads it slowly from inside (the LSTM's mean pooling
    ``(hs * mask[:, :, None]).sum(0)`` over 100x16x128: 227 us generic, 599 specialized,
    against 37-44 us for the product written then summed; 2-d producers and last-axis sums
    stay faster inside, 46-64 against 91-103 us)."""
    nd = node.outputs[0].ndim
    if nd < 3 or red.op.axis is None or red.op.axis == (nd - 1,) or red.op.axis == (-1,):
        return False        # (a full reduction stays inside: the cA's sum(J ** 2), 3-d J)
    bc = node.outputs[0].type.broadcastable
    for i in node.inputs:
        if _inline_constant(_through_views(i)):
            continue
        if any(b and not o for b, o in zip(i.type.broadcastable, bc)):
            return True
    return False


def _slice_views(fgraph, order, outputs, host_read):
    """The slice views no step computes: each of their readers is a kernel that reads through
    them (directly or through DimShuffle views inlined into such kernels)."""
    clients = fgraph.clients
    memo = {}

    def readers_ok(v):
        if v in outputs or v in host_read:
            return False
        for c, _ in clients.get(v, ()):
            if isinstance(c, str) or not _has_rule(c):
                return False
            if is_view(c):
                if not all(readers_ok(o) for o in c.outputs):
                    return False
            elif not _reads_through_views(c):
                return False
        return True

    for node in order:
        if is_slice_view(node) and _has_rule(node):
            memo[node] = readers_ok(node.outputs[0])
    return {n for n, ok in memo.items() if ok}


@dataclass
class Step:
    """One kernel: ``node`` computed from buffer variables ``inputs``."""
    node: object
    inputs: list            # buffer variables read (graph inputs, constants, other kernels' outputs)
    outputs: list
    kind: str = "tvm"       # "tvm" (lowered to TE) or "host" (numpy perform)
    name: str = ""
    inlined: list = field(default_factory=list)   # view nodes fused into this kernel
    check: object = None    # op.runtime_check(node, input arrays): raises before the kernel runs


@dataclass
class Plan:
    fgraph: object
    steps: list
    order: list             # all apply nodes in topological order
    value_inputs: list = field(default_factory=list)   # inputs whose values decide shapes


def _inline_constant(v):
    return isinstance(v, Constant) and v.data.size <= INLINE_CONSTANT_MAX and v.data.dtype.kind != "c"


def _through_views(v):
    """The constant behind broadcasting views of a one-element constant (``x ** 0.5`` without
    the optimizer is ``pow(x, DimShuffle(0.5))``), else ``v``: rules then see the value."""
    w = v
    while w.owner is not None and is_view(w.owner) and len(w.owner.inputs) == 1:
        w = w.owner.inputs[0]
    return w if w is not v and _inline_constant(w) else v


def plan(fgraph, inner=None):
    """Choose kernels: every non-view node, and view nodes whose result must exist as a buffer.

    ``inner(op)``: the compiled inner graphs of an op that has some (``runtime/inner.py``);
    needed to know which inputs size such an op's outputs.
    """
    order = side_effect_order(fgraph.toposort())   # communicating ops: one deterministic order
    outputs = set(fgraph.outputs)
    # a host step (numpy perform) reads buffers: a view it reads is materialized
    host_read = {v for node in order if not _has_rule(node) or is_whole_kernel(node)
                 for v in node.inputs}
    slices = _slice_views(fgraph, order, outputs, host_read)
    slices |= _reduced_producers(fgraph, order, outputs, host_read)
    steps = []
    for node in order:
        if is_view(node) and not any(o in outputs or o in host_read for o in node.outputs):
            continue
        if node in slices:
            continue
        inlined, bufs = [], []

        def collect(v):
            if _inline_constant(v):
                return
            own = v.owner
            if own is not None and (is_view(own) or own in slices) and v not in outputs \
                    and _has_rule(own):
                if own not in inlined:
                    inlined.append(own)
                    for i in own.inputs:
                        collect(i)
            elif v not in bufs:
                bufs.append(v)

        for v in node.inputs:
            collect(v)
        kind = "tvm" if _has_rule(node) else "host"
        if kind == "host" or is_whole_kernel(node):
            bufs = [v for v in node.inputs]
            inlined = []
        steps.append(Step(node, bufs, list(node.outputs), kind, f"k{len(steps)}", inlined,
                          _runtime_check(node)))
    return Plan(fgraph, steps, order, shape_value_inputs(fgraph, order, inner))


def _has_rule(node):
    """A kernel can compute ``node`` (complex values only where rules/complex.py allows)."""
    from .rules.complex import lowerable
    rule = find_rule(node.op)
    return rule is not None and lowerable(node) and getattr(rule, "accepts", _yes)(node)


def _yes(node):
    return True


def is_whole_kernel(node):
    """The node's rule writes a whole PrimFunc (rules/sparse.py) from its input buffers."""
    return getattr(find_rule(node.op), "whole_kernel", False) and _has_rule(node)


def lower_whole(step, shapes, machine=None):
    """The PrimFunc of a ``whole_kernel`` step, or None (the step lowers through TE)."""
    if not is_whole_kernel(step.node):
        return None
    func = find_rule(step.node.op)(step.node, shapes, machine)
    return func["main"] if hasattr(func, "functions_items") else func


def value_positions(node, inner=None):
    """Positions of ``node``'s inputs whose values decide its output shapes."""
    op = node.op
    if isinstance(op, InnerGraphOp):
        return op.value_inputs_inner(node, inner(op)) if inner is not None else []
    f = getattr(op, "shape_value_inputs", None)
    return list(f(node)) if f is not None else []


def shape_value_inputs(fgraph, order, inner=None):
    """Indices of the graph's int inputs whose values decide a shape (``x[i:i + n]``,
    ``reshape((n, -1))``): the runtime keys builds on the shapes those values give."""
    inputs = {v: k for k, v in enumerate(fgraph.inputs)}
    stack = []
    for node in order:
        stack += [node.inputs[k] for k in value_positions(node, inner)]
    seen, found = set(), set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in inputs:
            if v.type.dtype[0] in "iu" and v.type.ndim <= 1:
                found.add(inputs[v])
            continue
        if v.owner is not None and not hasattr(v.owner.op, "infer_value"):   # Shape: no data
            stack.extend(v.owner.inputs)
    return sorted(found)




def _runtime_check(node):
    """``op.runtime_check_for(node)``: a check(node, input arrays, input shapes) that raises
    before the kernel runs (e.g. an index only known at call time), or None."""
    f = getattr(node.op, "runtime_check_for", None)
    return f(node) if f is not None else None


def infer_shapes(plan, input_shapes, values=None, input_values=None, runtime=None, inner=None):
    """Concrete shapes of every variable of ``plan`` (``symbolic/shapes.infer_shapes`` over
    its inputs and nodes; see there for ``values``, ``input_values``, ``runtime``, ``inner``)."""
    return _infer_shapes(plan.fgraph.inputs, plan.order, input_shapes, values, input_values,
                         runtime, inner)


def derived_signature(plan, input_shapes, input_values, inner=None):
    """The shapes a call's values of the plan's ``value_inputs`` give (the build key)."""
    shapes = infer_shapes(plan, input_shapes, {}, input_values, set(), inner)
    return tuple(input_shapes) + tuple(shapes[o] for n in plan.order for o in n.outputs)


class LowerContext:
    """What a lowering rule may ask: shapes, node names, inlined scalar constants, and the
    machine the kernel is for (``target``, a ``machine.Machine``: vector width, threads)."""

    def __init__(self, shapes, step, values=None, target=None):
        self.shapes = shapes
        self.step = step
        self.values = values if values is not None else {}   # build-time values (infer_shapes)
        self.target = target if target is not None else machine.host()
        self._names = {}

    def shape(self, v):
        return self.shapes[v]

    def name(self, node):
        if node not in self._names:
            op = node.op
            base = getattr(getattr(op, "scalar_op", None), "name", None) or type(op).__name__
            base = "".join(c if c.isalnum() else "_" for c in base)[:24].strip("_") or "op"
            self._names[node] = f"{base}_{len(self._names)}"
        return self._names[node]

    def is_inline_scalar(self, v):
        return _inline_constant(_through_views(v))

    def scalar_value(self, v):
        from .rules.scalar import const
        v = _through_views(v)
        return const(v.data.reshape(()).item(), v.type.dtype)


def lower_step(step, shapes, values=None, target=None, rules=None):
    """TE placeholders (inputs) and result tensors (outputs) of one kernel, lowered for the
    machine ``target`` (default: the host CPU).  ``rules(op)``: a rule to use instead of
    ``find_rule``'s, or None (shape-generic kernels: lowering/generic_rules.py)."""
    from .. import _tvm
    te = _tvm.te
    ctx = LowerContext(shapes, step, values, target)

    def rule_of(op):
        return (rules(op) if rules is not None else None) or find_rule(op)
    tensors = {}
    placeholders = []
    for k, v in enumerate(step.inputs):
        p = te.placeholder(*buffer_of(shapes[v], v.type.dtype), name=f"in{k}")
        tensors[v] = p
        placeholders.append(p)

    def te_of(v):
        if v in tensors:
            return tensors[v]
        if _inline_constant(v):
            return None
        node = v.owner
        assert node is not None and node in step.inlined, f"{v} is not available in kernel {step.name}"
        outs = rule_of(node.op)(node, [te_of(i) for i in node.inputs], ctx)
        for o, t in zip(node.outputs, outs):
            tensors[o] = t
        return tensors[v]

    node = step.node
    outs = rule_of(node.op)(node, [te_of(i) for i in node.inputs], ctx)
    return placeholders, list(outs)


def zero_size(shapes, step):
    return any(shapes[o] is not None and int(np.prod(shapes[o])) == 0 for o in step.outputs)
