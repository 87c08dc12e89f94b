"""Schedules: ordered rules that may decline (return None), a fallback last.

``schedule(func, target_kind)`` returns the scheduled PrimFunc.
"""
from .registry import RULES, register_rule, schedule  # noqa: F401
