"""The thread pool follows the machine's free cores (issue 13, runtime/threads.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import threads


@pytest.mark.parametrize("others,current,cpus,maxt,want", [
    (0.0, 2, 2, 2, 2), (0.1, 1, 2, 2, 2), (0.25, 1, 2, 2, 1), (0.25, 2, 2, 2, 2),
    (0.4, 2, 2, 2, 1), (1.0, 2, 2, 2, 1), (3.0, 2, 2, 2, 1), (1.0, 8, 8, 8, 7),
    (2.6, 8, 8, 8, 5), (0.0, 4, 8, 4, 4)])
def test_policy(others, current, cpus, maxt, want):
    assert threads.wanted_threads(others, current, cpus, maxt) == want


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or not threads.enabled(),
                    reason="one core, or no /proc/stat: nothing to govern")
def test_a_busy_core_takes_a_thread_away():
    x = T.fvector("x")
    f = tvmsym.function([x], T.tanh(x) * 2 + 1)
    a = np.linspace(-3, 3, 1 << 18, dtype="float32")
    ref = np.tanh(a) * 2 + 1
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(os.cpu_count() - 1)]
    try:
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end and threads.pool_threads() > 1:
            np.testing.assert_allclose(f(a), ref, rtol=1e-5, atol=1e-6)
        assert threads.pool_threads() < os.cpu_count()
        np.testing.assert_allclose(f(a), ref, rtol=1e-5, atol=1e-6)   # the smaller pool computes
    finally:
        for h in hogs:
            h.kill()
            h.wait()
