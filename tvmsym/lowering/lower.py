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

from ..symbolic.elemwise import DimShuffle
from ..symbolic.graph import Constant
from .rules import find_rule

INLINE_CONSTANT_MAX = 1      # constants with at most this many elements become immediates


def is_view(node):
    return isinstance(node.op, DimShuffle)


@dataclass
class Step:
    """One kernel: ``node`` computed from buffer variables ``inputs``."""
    node: object
    inputs: list            # buffer variables read (graph inputs, constants, other kernels' outputs)
    outputs: list
    kind: str = "tvm"       # "tvm" (lowered to TE) or "host" (numpy perform)
    name: str = ""
    inlined: list = field(default_factory=list)   # view nodes fused into this kernel


@dataclass
class Plan:
    fgraph: object
    steps: list
    order: list             # all apply nodes in topological order


def _inline_constant(v):
    return isinstance(v, Constant) and v.data.size <= INLINE_CONSTANT_MAX and v.data.dtype.kind != "c"


def plan(fgraph):
    """Choose kernels: every non-view node, and view nodes whose result must exist as a buffer."""
    order = fgraph.toposort()
    outputs = set(fgraph.outputs)
    steps = []
    for node in order:
        if is_view(node) and not any(o in outputs for o in node.outputs):
            continue
        inlined, bufs = [], []

        def collect(v):
            if _inline_constant(v):
                return
            own = v.owner
            if own is not None and is_view(own) and v not in outputs and find_rule(own.op) is not None:
                if own not in inlined:
                    inlined.append(own)
                    for i in own.inputs:
                        collect(i)
            elif v not in bufs:
                bufs.append(v)

        for v in node.inputs:
            collect(v)
        kind = "tvm" if find_rule(node.op) is not None else "host"
        if kind == "host":
            bufs = [v for v in node.inputs]
            inlined = []
        steps.append(Step(node, bufs, list(node.outputs), kind, f"k{len(steps)}", inlined))
    return Plan(fgraph, steps, order)


def infer_shapes(plan, input_shapes):
    """Concrete shapes of every variable, or a ValueError naming the node."""
    fg = plan.fgraph
    shapes = {}
    for v, s in zip(fg.inputs, input_shapes):
        shapes[v] = tuple(s)
    for node in plan.order:
        for i in node.inputs:
            if i not in shapes:
                if isinstance(i, Constant):
                    shapes[i] = i.data.shape
                else:
                    raise ValueError(f"{i} is needed to compute {node.op} but is not an input")
        outs = node.op.infer_shape(node, [shapes[i] for i in node.inputs])
        for o, s in zip(node.outputs, outs):
            shapes[o] = tuple(int(d) for d in s)
    return shapes


class LowerContext:
    """What a lowering rule may ask: shapes, node names, inlined scalar constants."""

    def __init__(self, shapes, step):
        self.shapes = shapes
        self.step = step
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
        return _inline_constant(v)

    def scalar_value(self, v):
        from .rules.scalar import const
        return const(v.data.reshape(()).item(), v.type.dtype)


def lower_step(step, shapes):
    """TE placeholders (inputs) and result tensors (outputs) of one kernel."""
    from .. import _tvm
    te = _tvm.te
    ctx = LowerContext(shapes, step)
    tensors = {}
    placeholders = []
    for k, v in enumerate(step.inputs):
        p = te.placeholder(shapes[v], v.type.dtype, name=f"in{k}")
        tensors[v] = p
        placeholders.append(p)

    def te_of(v):
        if v in tensors:
            return tensors[v]
        if _inline_constant(v):
            return None
        node = v.owner
        assert node is not None and node in step.inlined, f"{v} is not available in kernel {step.name}"
        outs = find_rule(node.op)(node, [te_of(i) for i in node.inputs], ctx)
        for o, t in zip(node.outputs, outs):
            tensors[o] = t
        return tensors[v]

    node = step.node
    outs = find_rule(node.op)(node, [te_of(i) for i in node.inputs], ctx)
    return placeholders, list(outs)


def signature_key(arrays):
    return tuple(a.shape for a in arrays)


def zero_size(shapes, step):
    return any(int(np.prod(shapes[o])) == 0 for o in step.outputs)
