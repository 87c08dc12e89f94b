"""Shape inference over a graph: the one source of concrete shapes.

``infer_shapes(inputs, order, input_shapes)`` walks the apply nodes ``order`` (topological)
and gives every variable its concrete shape, from the ops' shape rules.  Shape arithmetic
(``x.shape[0] * 2``, small int constants) is evaluated on the way into ``values``, so
reshape/alloc/arange targets are known.  The lowering's build (``lowering/lower.py``) and
``verify_grad`` (``runtime/gradcheck.py``) both use it; nothing is compiled here: an op with
inner graphs asks the ``inner`` callable its caller passes (the runtime's ``inner_for``).
"""
from __future__ import annotations

import numpy as np

from .graph import Constant
from .inner import InnerGraphOp

VALUE_MAX = 64    # int/bool results with at most this many elements are computed at build time


def infer_shapes(inputs, order, input_shapes, values=None, input_values=None, runtime=None,
                 inner=None):
    """Concrete shapes of every variable, or a ValueError naming the node.

    ``inputs``: the graph's input variables, with ``input_shapes``; ``order``: its apply
    nodes in topological order.  Ops whose output shape depends on input values (reshape,
    alloc, arange, ...) define ``infer_shape_values(node, shapes, values)``; such values
    derive from the input shapes, so the shape signature still keys a build.  A shape that
    depends on data (a boolean mask) is None, and so are its consumers'.  ``input_values``
    ({input: array}) also enter ``values`` (a dict filled in place); what derives from them is
    added to ``runtime``.  ``inner(op)``: the inner functions of an op with inner graphs
    (without it, such an op's outputs have the shapes its ``infer_shape`` gives).
    """
    shapes = {}
    values = {} if values is None else values
    runtime = set() if runtime is None else runtime
    for v, s in zip(inputs, input_shapes):
        shapes[v] = tuple(s)
    for v, a in (input_values or {}).items():
        values[v] = np.asarray(a)
        runtime.add(v)
    for node in order:
        for i in node.inputs:
            if i not in shapes:
                if isinstance(i, Constant):
                    shapes[i] = i.data.shape
                    if value_like(i, i.data.shape):
                        values[i] = np.array(i.data)
                else:
                    raise ValueError(f"{i} is needed to compute {node.op} but is not an input")
        ins = [shapes[i] for i in node.inputs]
        op = node.op
        if any(s is None for s in ins):
            outs = [None] * len(node.outputs)
        elif isinstance(op, InnerGraphOp):
            outs = (op.infer_shape_inner(node, ins, [values.get(i) for i in node.inputs], inner(op))
                    if inner is not None else op.infer_shape(node, ins))
        elif hasattr(op, "infer_shape_values"):
            outs = op.infer_shape_values(node, ins, [values.get(i) for i in node.inputs])
        else:
            outs = op.infer_shape(node, ins)
        for o, s in zip(node.outputs, outs):
            shapes[o] = None if s is None else tuple(int(d) for d in s)
        infer_values(node, shapes, values)
        if not hasattr(op, "infer_value") and any(i in runtime for i in node.inputs):
            runtime.update(o for o in node.outputs if o in values)
    return shapes


def value_like(v, shape):
    """Whether ``v`` (of concrete ``shape``) is small integer/bool data worth computing ahead."""
    return (shape is not None and v.type.dtype[0] in "iub"
            and int(np.prod(shape)) <= VALUE_MAX)


def infer_values(node, shapes, values):
    """Add ``node``'s output values to ``values`` when they are small ints computable now."""
    op = node.op
    if not all(value_like(o, shapes[o]) for o in node.outputs) or getattr(op, "has_side_effects", False):
        return          # (communication is never run while a build is being made)
    vals = None
    if isinstance(op, InnerGraphOp):      # its values are known only when it runs
        return
    if hasattr(op, "infer_value"):        # e.g. Shape: its value is known from shapes alone
        vals = op.infer_value(node, [shapes[i] for i in node.inputs],
                              [values.get(i) for i in node.inputs])
    elif all(i in values for i in node.inputs):
        try:
            with np.errstate(all="ignore"):
                vals = op.perform(node, [values[i] for i in node.inputs])
        except NotImplementedError:
            vals = None
    if vals is not None:
        for o, v in zip(node.outputs, vals):
            values[o] = np.asarray(v, dtype=o.type.dtype)
