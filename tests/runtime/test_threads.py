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


def test_a_busy_core_takes_a_thread_away():
    x = T.fvector("x")
    f = tvmsym.function([x], T.tanh(x) * 2 + 1)
    a = np.linspace(-3, 3, 1 << 18, dtype="float32")
    ref = np.tanh(a) * 2 + 1
    f(a)                                    # built: the runtime and its pool are up
    if (os.cpu_count() or 1) < 2 or not threads.enabled():
        pytest.skip("one core, one pool thread, or no /proc/stat: nothing to govern")
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


# --- a warm-started process (no ``import tvm``) is governed too (issue 13, helper "loaded")
_WARM_CHILD = """
import json, sys, time
import numpy as np
import tvmsym, tvmsym.tensor as T
from tvmsym.runtime import threads
x = T.fvector("x")
f = tvmsym.function([x], T.tanh(x) * 2 + 1)
a = np.linspace(-3, 3, 1 << 18, dtype="float32")
ok = bool(np.allclose(f(a), np.tanh(a) * 2 + 1, rtol=1e-5, atol=1e-6))
first = threads.pool_threads()
t_end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < t_end and threads.enabled() and threads.pool_threads() > 1:
    ok = ok and bool(np.allclose(f(a), np.tanh(a) * 2 + 1, rtol=1e-5, atol=1e-6))
print(json.dumps({"tvm": "tvm" in sys.modules, "enabled": threads.enabled(),
                  "pool": threads.pool_threads(), "first": first, "ok": ok}))
"""


def _warm_child(compiledir, seconds):
    cpus = os.cpu_count() or 1
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}", TVM_NUM_THREADS=str(cpus))
    for k in ("TVMSYM_NO_WARM", "TVMSYM_ADAPTIVE_THREADS"):
        env.pop(k, None)
    p = subprocess.run([sys.executable, "-c", _WARM_CHILD, str(seconds)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    import json
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_a_warm_started_process_gives_a_busy_core_back(tmp_path):
    """The first child builds into the cache; the second loads it without ``tvm`` and,
    beside a burner process per core but one, runs on fewer threads than the CPUs.
    (Asserts the governor's decision, never a timing.)"""
    cpus = os.cpu_count() or 1
    if cpus < 2:
        pytest.skip("one core: nothing to govern")
    cold = _warm_child(tmp_path, 0)
    assert cold["ok"] and cold["tvm"] and cold["enabled"]
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(cpus - 1)]
    try:
        warm = _warm_child(tmp_path, 20)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert not warm["tvm"], "the second child rebuilt instead of loading from the cache"
    assert warm["enabled"], "a warm-started process is not governed"
    assert warm["ok"] and warm["pool"] < cpus
    # decided at the first call, from the run queue (no waiting for a time window)
    assert warm["first"] < cpus


def test_others_running_counts_burners():
    cpus = os.cpu_count() or 1
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(max(1, cpus - 1))]
    try:
        time.sleep(1.0)                     # past their start-up: CPU-bound, always runnable
        seen = max(threads.others_running() for _ in range(5))
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert seen is not None and seen >= len(hogs)
    assert threads.wanted_threads(seen, cpus, cpus, cpus) == max(1, cpus - len(hogs))


_AFFINITY_CHILD = """
import json, os
import numpy as np
allowed = sorted(os.sched_getaffinity(0))
import tvmsym, tvmsym.tensor as T
x = T.fvector("x")
f = tvmsym.function([x], T.tanh(x) * 2 + 1)
a = np.linspace(-3, 3, 1 << 18, dtype="float32")
for _ in range(3):
    assert np.allclose(f(a), np.tanh(a) * 2 + 1, rtol=1e-5, atol=1e-6)
threads = {int(t): sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
print(json.dumps({"allowed": allowed, "threads": list(threads.values())}))
"""


@pytest.mark.parametrize("pool", ["1", "all"])
def test_no_thread_is_pinned_to_one_core(tmp_path, pool):
    """TVM pins its workers (and, with a one-thread pool, the caller) to single cores;
    tvmsym leaves every thread free to migrate off a busy core (TVM_BIND_THREADS=0)."""
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("no affinity API or one CPU")
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}",
               TVM_NUM_THREADS="1" if pool == "1" else str(len(os.sched_getaffinity(0))))
    env.pop("TVM_BIND_THREADS", None)
    p = subprocess.run([sys.executable, "-c", _AFFINITY_CHILD], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    import json
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert all(t == r["allowed"] for t in r["threads"]), r
