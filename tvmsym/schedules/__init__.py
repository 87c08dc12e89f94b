"""Schedules: per target, an ordered list of rules that may decline (``registry.py``).

``schedule(func, target_kind, ctx)`` returns the scheduled PrimFunc.
"""
from .common import ScheduleContext  # noqa: F401
from .registry import register_rule, rules, schedule  # noqa: F401
