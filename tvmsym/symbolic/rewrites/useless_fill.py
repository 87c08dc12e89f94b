"""``useless_fill``: ``second(a, b)`` -> ``b`` when ``b`` already has the result's type
(Theano's ``local_useless_fill``).  The gradient of a scalar cost starts as
``second(cost, 1.0)`` (as ``theano.grad`` builds it); this stage, first in the pipeline,
makes it the constant again, so the cost itself is not computed for the gradient.

It also makes the graph's constants print their values (``5 * x`` compiles to
``TensorConstant{5.0} * x``) and gives the elementwise ops that ``grad`` built back their ordinary names
(``Elemwise{mul}`` -> ``Elemwise{mul,no_inplace}``), as Theano's rewrites do.
"""
from __future__ import annotations

from ..elemwise import Elemwise
from ..ops.second import Second


def useless_fill(fgraph, excluding=()):
    for v in fgraph.clients:
        if getattr(v, "weak", False) and "py_value" in v.tag:
            del v.tag["py_value"]   # compiled: a constant prints its value (TensorConstant{5.0})
    for node in list(fgraph.toposort()):
        op = node.op
        if not isinstance(op, Elemwise):
            continue
        if op.__dict__.get("grad_built"):
            node.op = Elemwise(op.scalar_op, dict(op.inplace_pattern))
        if isinstance(op.scalar_op, Second) and node in fgraph.apply_nodes:
            out, b = node.outputs[0], node.inputs[1]
            if b.type == out.type:
                fgraph.replace(out, b, reason="useless_fill")
