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
from .operators import TensorOperators
from .type import TensorType


class TensorVariable(TensorOperators, Variable):
    """A Variable of TensorType; its Python operators and methods are ``TensorOperators``
    (``operators.py``)."""

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
    """Prints as Theano's: ``TensorConstant{2.0}``, ``TensorConstant{(1,) of 0.5}`` (all
    elements equal), ``TensorConstant{[1. 2.]}``; texts over 20 characters are cut in the
    middle.  A Python scalar (weak) prints as the user wrote it: ``x ** 2`` shows
    ``TensorConstant{2}`` though the constant holds x's dtype."""

    def __str__(self):
        if self.name is not None:
            return self.name
        return f"TensorConstant{{{theano_constant_text(self)}}}"

    __repr__ = __str__


def theano_constant_text(c):
    """The text inside ``TensorConstant{...}`` (Theano 1.0.5's ``TensorConstant.__str__``)."""
    data = c.data
    py = c.tag.get("py_value") if c.weak else None
    if py is not None and data.ndim == 0:
        text = str(py)
    elif data.ndim > 0 and data.size and (data.ravel() == data.ravel()[0]).all():
        text = f"{data.shape} of {data.ravel()[0]}"
    else:
        text = str(data)
    if len(text) > 20:
        text = text[:10] + ".." + text[-10:]
    return text


TensorType.Variable = TensorVariable
TensorType.Constant = TensorConstant
