"""Ops that run inner graphs (scan's body, ifelse's branches, a Jacobian's rows).

Such an op holds its inner graphs only.  Compiling them, caching the compiled functions and
inferring their shapes is the runtime's job (``runtime/inner.py``): when the executor reaches
a step of such an op, it hands the op an ``inner`` object, and the op asks it for

* ``inner.function(name)``: the inner graph ``name`` compiled (a callable, built once);
* ``inner.output_shapes(name, input_shapes, input_values)``: the shapes of its outputs for
  those input shapes (None where only a run can tell), nothing built but the plan;
* ``inner.value_inputs(name)``: positions of its inputs whose values size its outputs.

So ``symbolic/`` never imports the runtime (PyTensor's split: scan imports compile, never the
reverse; here neither imports the other, the executor brings them together).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Op


@dataclass
class InnerGraph:
    """One inner graph: ``outputs`` as a function of ``inputs``, compiled by the runtime with
    ``mode`` for ``target`` (None: the defaults) under the function name ``name``."""
    inputs: list
    outputs: list
    name: str
    mode: object = None
    target: object = None
    n_outputs: int = field(default=-1)     # outputs the op reads shapes of (-1: all)
    including: tuple = ()                   # rewrite stages the mode adds (scan: acc_epilogue)


class InnerGraphOp(Op):
    """Base of ops whose computation is inner graphs compiled by the runtime.

    Subclasses define ``inner_graph(name)`` (an ``InnerGraph``, built once by the op) and
    ``perform_inner(node, inputs, inner)``; ``infer_shape_inner(node, shapes, values, inner)``
    and ``value_inputs_inner(node, inner)`` when their output shapes depend on the inner
    graphs.  ``perform`` without the runtime is an error naming what to do.
    """

    host_only = "runs compiled inner functions (runtime/inner.py)"

    def inner_graph(self, name) -> InnerGraph:
        raise NotImplementedError(f"{type(self).__name__} has no inner graph {name!r}")

    def perform_inner(self, node, inputs, inner):
        raise NotImplementedError(f"{self} defines no perform_inner")

    def __call__(self, *inputs):
        # no test values here (they need the compiled inner graphs): runtime/inner.py
        # ``apply(op, *inputs)`` computes them
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def perform(self, node, inputs):
        raise NotImplementedError(
            f"{self} runs compiled inner functions: evaluate it through tvmsym.function (the "
            "runtime compiles its inner graphs), not through its perform")

    def infer_shape_inner(self, node, shapes, values, inner):
        """Output shapes, asking ``inner`` about the inner graphs; default: ``infer_shape``."""
        return self.infer_shape(node, shapes)

    def value_inputs_inner(self, node, inner):
        """Input positions whose values size the outputs; default: ``shape_value_inputs``."""
        f = getattr(self, "shape_value_inputs", None)
        return list(f(node)) if f is not None else []

    def do_constant_folding(self, node):
        return False
