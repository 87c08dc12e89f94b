"""Schedules: per target, an ordered list of rules that may decline (``registry.py``).

``schedule(func, target_kind, ctx)`` returns the scheduled PrimFunc.
"""
from . import mrg as _mrg  # noqa: E402,F401  (rng: keeps inverse_permutation on the host under cuda)
from .common import ScheduleContext  # noqa: F401
from .registry import register_rule, rules, schedule  # noqa: F401

# isort: split
# rnn (issue 13): 2-d transposed copies in tiles (a scan gradient's hoisted U.T)
from . import cpu_transpose as _cpu_transpose  # noqa: E402,F401
