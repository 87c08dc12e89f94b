"""Timing shared by the benchmark scripts (run as ``.venv/bin/python bench/<script>.py``)."""
from __future__ import annotations

import time


def samples_ns(fn, reps, warmup=1):
    """Call ``fn`` ``warmup`` times untimed, then ``reps`` times; each timed call's nanoseconds."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    return ts
