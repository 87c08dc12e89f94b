"""Schedules: ordered rules that may decline (return None), a fallback last.

``schedule(func, target_kind)`` returns the scheduled PrimFunc.
"""
from .registry import schedule, register_rule, RULES  # noqa: F401
