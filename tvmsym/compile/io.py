"""``theano.compile.io``: ``In`` and ``Out``, the input and output specifications of
``function``."""
from .. import Out  # noqa: F401
from ..runtime import In  # noqa: F401

SymbolicInput = In
SymbolicOutput = Out
