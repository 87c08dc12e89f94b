"""``from tvmsym.ifelse import ifelse``: Theano's lazy conditional (``theano.ifelse``).

See ``tvmsym/symbolic/ops/ifelse.py``: only the taken branch is computed.
"""
from .symbolic.ops.ifelse import IfElse, ifelse  # noqa: F401

__all__ = ["ifelse", "IfElse"]
