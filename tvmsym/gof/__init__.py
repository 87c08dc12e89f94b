"""``theano.gof``: the graph core.

``tvmsym.gof.graph`` holds ``Variable``, ``Constant``, ``Apply``, ``Op`` and the traversals
Theano code calls (``inputs``, ``ancestors``, ``io_toposort``, ``clone``, ...);
``tvmsym.gof.fg`` holds ``FunctionGraph``.  This layer knows no tensor type and no TVM.
"""
from . import fg, graph
from .fg import FunctionGraph
from .graph import Apply, Constant, Op, Variable

__all__ = ["Apply", "Constant", "FunctionGraph", "Op", "Variable", "fg", "graph"]
