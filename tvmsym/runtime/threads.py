"""TVM's thread pool on a shared machine: as many threads as there are free cores.

A parallel kernel splits its loop evenly over the pool's threads and returns when the
last one is done, so when another process keeps a core busy, every parallel kernel waits
for a worker that the OS runs only part of the time: on 2 loaded vCPUs the W6 MLP step
took 4-11 ms (median) with 2 threads against 1.4 ms with one (issue 13).  The governor
here measures, every ``INTERVAL`` seconds, the CPU time the other processes used (the
machine's busy time from ``/proc/stat`` minus this process's own) and resizes the calling
thread's pool (``runtime.config_threadpool``: ~30 us) to the cores left free: one thread
while another process keeps a core busy, all of them again when it stops.

``Build`` calls ``check()`` before running a build that has parallel kernels (one
``time.monotonic()`` per call between samples), also in a warm-started process that
never imports ``tvm`` (the runtime's functions through ``tvm_ffi``).  Pool threads are not pinned to cores
(``TVM_BIND_THREADS=0`` unless set).  Off when the pool has one thread
(``TVM_NUM_THREADS=1``), when ``/proc/stat`` is missing, in forked children, and with
``TVMSYM_ADAPTIVE_THREADS=0``.
"""
from __future__ import annotations

import atexit
import math
import os
import sys
import threading
import time

import numpy as np

INTERVAL = 0.2          # seconds between two samples of the machine's load
GROW_BELOW = 0.2        # cores the others use: under this a thread is given back...
SHRINK_ABOVE = 0.3      # ...and above this one is taken away (hysteresis)
MIN_ELEMENTS = 1 << 14  # a build whose buffers are all smaller has no parallel kernel

# TVM binds its pool's workers to one core each and, with a one-thread pool, the calling
# (Python) thread to core 0: on a shared machine a pinned thread waits for its busy core
# while another core is free (seen on this 2-vCPU VM: a worker pinned to CPU 1 got 0.2% of
# a core beside burner processes and its caller waited).  Threads stay free to migrate
# unless the user asks for binding (TVM_BIND_THREADS=1); TVM reads this at every resize.
_MPI_RANK_VARS = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID")
_MPI_RANK = any(v in os.environ for v in _MPI_RANK_VARS)
if not _MPI_RANK:          # (an MPI launcher places its ranks itself)
    os.environ.setdefault("TVM_BIND_THREADS", "0")

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_enabled = os.environ.get("TVMSYM_ADAPTIVE_THREADS", "1") not in ("0", "false", "False", "")
# Not in a rank of an MPI job: the launcher places the ranks, and a pool resized in an mpich
# rank ended the job at exit with "terminate called without an active exception" (inside
# TVM's pool at exit; not understood yet): tests/distributed/test_mpi.py::
# test_job_ends_cleanly fails with the governor on and passes with it off.
_enabled = _enabled and not _MPI_RANK
_max_threads = None
_configure = None


def _busy_seconds():
    """CPU seconds every process of the machine has used so far (None: unknown)."""
    try:
        with open("/proc/stat", "rb") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 8 or fields[0] != b"cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / _CLK_TCK


def others_running():
    """Tasks of other processes on the machine's run queue now: ``procs_running`` of
    ``/proc/stat`` less this process's running threads (None: unknown)."""
    try:
        with open("/proc/stat", "rb") as fh:
            running = next((int(ln.split()[1]) for ln in fh if ln.startswith(b"procs_running")), None)
        if running is None:
            return None
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as fh:
                    own += fh.read().rsplit(b")", 1)[1].split()[0] == b"R"
            except OSError:
                pass
    except (OSError, ValueError, IndexError):
        return None
    return float(max(0, running - max(1, own)))


def wanted_threads(others, current, cpus, max_threads):
    """The pool size for ``others`` cores in use by other processes (pure policy)."""
    slack = SHRINK_ABOVE if current >= max_threads else GROW_BELOW
    taken = max(0, math.ceil(others - slack))
    return max(1, min(max_threads, cpus - taken))


class _State(threading.local):
    def __init__(self):
        self.threads = _max_threads         # this thread's pool size
        self.next = 0.0                     # monotonic time of the next sample
        self.last = None                    # (wall, machine busy, own cpu) at the last sample


_state = None


def _setup():
    """Find the pool's size and its resize function (through ``tvm`` when it is imported,
    else through ``tvm_ffi``: a warm start never imports tvm)."""
    global _max_threads, _configure, _enabled, _state
    _max_threads, _configure = 1, None
    try:
        tvm = sys.modules.get("tvm")
        if tvm is not None:
            _max_threads = int(tvm.runtime.num_threads())
            _configure = tvm.get_global_func("runtime.config_threadpool", allow_missing=True)
        else:
            # a warm start never imports tvm, but its kernels loaded libtvm_runtime, which
            # registers both functions (before this a warm-started process was ungoverned)
            import tvm_ffi
            num = tvm_ffi.get_global_func("runtime.NumThreads", allow_missing=True)
            _configure = tvm_ffi.get_global_func("runtime.config_threadpool", allow_missing=True)
            if num is not None:
                _max_threads = int(num())
    except Exception:       # noqa: BLE001  (no runtime to govern)
        _configure = None
    if _max_threads < 2 or _configure is None or _busy_seconds() is None:
        _enabled = False
    _state = _State()


def enabled():
    """True when pools are resized to the machine's load."""
    if _state is None and _enabled:
        _setup()
    return _enabled


def check():
    """Before a call with parallel kernels: resize this thread's pool if a sample is due."""
    st = _state
    now = time.monotonic()
    if not _enabled or now < st.next:
        return
    st.next = now + INTERVAL
    busy, own = _busy_seconds(), time.process_time()
    last, st.last = st.last, (now, busy, own)
    if busy is None:
        return
    wall = 0.0 if last is None else now - last[0]
    if wall < INTERVAL / 2:
        # the first call (or one right after it): no time window yet, so the tasks the
        # others have on the run queue now.  Waiting for a window instead let the first
        # call run the full pool beside busy cores, and a call that took longer than the
        # window never shrank the pool (the collapse bench/bench_loaded.py shows).
        others = others_running()
        if others is None:
            return
    else:
        others = max(0.0, (busy - last[1]) - (own - last[2])) / wall
    want = wanted_threads(others, st.threads, os.cpu_count() or 1, _max_threads)
    if want != st.threads:
        try:
            _configure(1, want)
        except Exception:       # noqa: BLE001  (the runtime shutting down: leave the pool)
            _stop()
            return
        st.threads = want


def large(shape):
    """A buffer of ``shape`` may feed a parallel kernel (unknown extents: maybe)."""
    n = 1
    for d in shape or ():
        if not isinstance(d, (int, np.integer)):
            return True
        n *= int(d)
    return n >= MIN_ELEMENTS


def pool_threads():
    """This thread's current pool size (as the governor set it)."""
    return _max_threads if _state is None else _state.threads


def _stop():
    global _enabled
    _enabled = False


# the child's pool was reset to one thread (tvmsym/_tvm.py); at exit, pools stay as they are
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_stop)
atexit.register(_stop)
