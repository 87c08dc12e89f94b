"""``theano.gof``: the graph core.

``tvmsym.gof.graph`` holds ``Variable``, ``Constant``, ``Apply``, ``Op`` and the traversals
Theano code calls (``inputs``, ``ancestors``, ``io_toposort``, ``clone``, ...);
``tvmsym.gof.fg`` holds ``FunctionGraph``.  This layer knows no tensor type and no TVM.
"""
from . import graph, fg  # noqa: F401
from .graph import Apply, Constant, Op, Variable  # noqa: F401
from .fg import FunctionGraph  # noqa: F401

__all__ = ["Apply", "Constant", "FunctionGraph", "Op", "Variable", "graph", "fg"]
