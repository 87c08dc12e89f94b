"""``theano.compile.nanguardmode``: ``NanGuardMode`` (defined in ``runtime/mode.py``)."""
from ..runtime.mode import BIG, NanGuardMode  # noqa: F401

__all__ = ["NanGuardMode"]
