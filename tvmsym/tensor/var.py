"""``theano.tensor.var``: the classes of tensor variables as user code meets them.

``type(T.dmatrix('x'))`` is ``tvmsym.tensor.var.TensorVariable`` and a tensor constant is a
``tvmsym.tensor.var.TensorConstant`` (Theano's ``theano.tensor.var`` classes).  They are the
symbolic layer's tensor variables (every operator and property comes from there); the
symbolic layer makes its variables through ``TensorType.Variable`` / ``TensorType.Constant``,
which this module sets to these classes.
"""
from __future__ import annotations

from ..symbolic import graph as _g
from ..symbolic.type import TensorType


class TensorVariable(_g.TensorVariable):
    """A symbolic tensor: the result of an operation or an input of a function."""


class TensorConstant(_g.TensorConstant, TensorVariable):
    """A symbolic tensor with a fixed value (``.data``)."""


# Theano's name for the operator mixin: isinstance(x, _tensor_py_operators) holds for tensors
_tensor_py_operators = _g.TensorVariable

TensorType.Variable = TensorVariable
TensorType.Constant = TensorConstant
