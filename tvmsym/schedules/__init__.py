"""Schedules: ordered rules that may decline (return None), a fallback last.

``schedule(func, target_kind)`` returns the scheduled PrimFunc.
"""
from . import mrg as _mrg  # noqa: E402,F401  (rng: MRG31k3p kernel, registers first)
from .registry import RULES, register_rule, schedule  # noqa: F401
