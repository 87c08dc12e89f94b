"""``theano.compile`` names: ``function``, ``In``, ``Out``, ``Mode``, ``shared`` and
``tvmsym.compile.ops.as_op``."""
from .ops import as_op  # noqa: F401
from .. import Out, function, shared  # noqa: F401
from ..runtime import In, Mode  # noqa: F401
from .monitormode import MonitorMode  # noqa: E402,F401  (gof helper: theano.compile.MonitorMode)
from . import monitormode  # noqa: E402,F401
