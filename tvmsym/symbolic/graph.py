"""The graph of tensor programs: the graph core (``tvmsym.gof.graph``: Variable, Apply,
Op, traversal) plus the tensor variables the symbolic layer builds on it.

``TensorType(...)()`` makes an instance of ``TensorType.Variable``; ``tvmsym.tensor.var``
installs its subclasses there (Theano's ``theano.tensor.var.TensorVariable``).
"""
from __future__ import annotations

from ..gof.graph import (  # noqa: F401
    _MISSING,
    Apply,
    Constant,
    Op,
    Variable,
    _ids,
    _storage_perform,
    _Tag,
    _takes_output_storage,
    _test_value,
    _unknown_shape,
    ancestors,
    compute_test_values,
    format_constant,
    graph_inputs,
    is_constant,
    toposort,
)
from .type import TensorType


class TensorVariable(Variable):
    """A Variable of TensorType with Python operators (defined in ``basic.py``)."""

    @property
    def ndim(self):
        return self.type.ndim

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def broadcastable(self):
        return self.type.broadcastable


class TensorConstant(Constant, TensorVariable):
    pass


TensorType.Variable = TensorVariable
TensorType.Constant = TensorConstant
