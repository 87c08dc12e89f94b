"""``theano.compile`` names: ``function``, ``In``, ``Out``, ``Mode``, ``shared`` and
``tvmsym.compile.ops.as_op``."""
from .. import Out, function, shared  # noqa: F401
from ..runtime import In, Mode  # noqa: F401

# --- gof helper (issue 14): theano.compile.MonitorMode
from . import monitormode  # noqa: F401
from .monitormode import MonitorMode  # noqa: F401
from .ops import as_op  # noqa: F401
