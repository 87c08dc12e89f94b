"""The symbolic level: types, graphs, ops, rewrites, printing. Imports without TVM."""
from .type import TensorType  # noqa: F401
from .graph import Variable, Constant, Apply, Op, TensorVariable, TensorConstant  # noqa: F401
from .fgraph import FunctionGraph  # noqa: F401
from . import basic  # noqa: F401
