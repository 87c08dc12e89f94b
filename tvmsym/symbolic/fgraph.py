"""FunctionGraph lives in the graph core (``tvmsym.gof.fg``, Theano's ``theano.gof.fg``)."""
from ..gof.fg import FunctionGraph, clone_graph  # noqa: F401
