"""When does waking TVM's thread pool pay?  Measures this machine's threshold (issue 13).

    .venv/bin/python bench/parallel_threshold.py [--reps 300]

Builds one memory-bound kernel (``y = x * 2 + 1``, float32) and one matmul (MxKxN float32,
the register tile of ``schedules/cpu_matmul.py``) at growing sizes, each twice: with its
outer loop ``T.parallel`` over the pool and serial, and times both in this process (best of
``--reps`` calls, wall clock, the pool warm).  Prints per size the serial and parallel
times and the smallest size from which the parallel kernel is at least 10% faster: the
values to record for this CPU in ``tvmsym/lowering/machine.py`` (``_PARALLEL``).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))

import numpy as np  # noqa: E402

from tvmsym import _tvm  # noqa: E402

tvm, te = _tvm.tvm, _tvm.te
s_tir = _tvm.s_tir


def _best_us(f, args, reps):
    for _ in range(5):
        f(*args)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        f(*args)
        best = min(best, time.perf_counter_ns() - t0)
    return best / 1e3


def elementwise(n, parallel, lanes):
    x = te.placeholder((n,), "float32", name="x")
    y = te.compute((n,), lambda i: x[i] * 2.0 + 1.0, name="y")
    sch = s_tir.Schedule(te.create_prim_func([x, y]))
    (i,) = sch.get_loops(sch.get_sblock("y"))
    o, v = sch.split(i, [None, lanes])
    sch.vectorize(v)
    if parallel:
        sch.parallel(o)
    return tvm.compile(sch.mod, target=_tvm.cpu_target())


def matmul(m, k, n, parallel, lanes):
    nj = 4 * lanes if n % (4 * lanes) == 0 else lanes
    a = te.placeholder((m, k), "float32", name="a")
    b = te.placeholder((k, n), "float32", name="b")
    r = te.reduce_axis((0, k), "r")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="c")
    sch = s_tir.Schedule(te.create_prim_func([a, b, c]))
    blk = sch.get_sblock("c")
    i, j, kk = sch.get_loops(blk)
    i0, i1 = sch.split(i, [None, 4])
    j0, j1 = sch.split(j, [None, nj])
    sch.reorder(j0, i0, kk, i1, j1)
    cw = sch.cache_write(blk, 0, "local")
    sch.reverse_compute_at(cw, i0)
    jv, jl = sch.split(j1, [None, lanes])
    sch.vectorize(jl)
    sch.unroll(jv)
    sch.unroll(i1)
    sch.vectorize(sch.get_loops(cw)[-1])
    if parallel:
        sch.parallel(sch.fuse(j0, i0))
    init = sch.decompose_reduction(blk, kk)
    sch.vectorize(sch.get_loops(init)[-1])
    return tvm.compile(sch.mod, target=_tvm.cpu_target())


def threshold(rows):
    """The smallest size from which every larger size runs >= 10% faster in parallel."""
    got = None
    for size, ts, tp in reversed(rows):
        if tp <= 0.9 * ts:
            got = size
        else:
            break
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    args = ap.parse_args()
    threads = int(tvm.runtime.num_threads())
    lanes = _tvm.vector_bytes() // 4
    print(f"{_tvm.cpu_target().attrs.get('mcpu', '?')}, {threads} pool threads, {lanes} float32 lanes")
    if threads < 2:
        print("one thread: nothing to measure")
        return
    rows = []
    print(f"{'elements':>10s} {'serial us':>10s} {'parallel us':>12s}")
    for p in range(10, 21):
        n = 1 << p
        x = tvm.runtime.tensor(np.ones(n, "float32"))
        y = tvm.runtime.tensor(np.empty(n, "float32"))
        ts = _best_us(elementwise(n, False, lanes), (x, y), args.reps)
        tp = _best_us(elementwise(n, True, lanes), (x, y), args.reps)
        rows.append((n, ts, tp))
        print(f"{n:10d} {ts:10.2f} {tp:12.2f}")
    el = threshold(rows)
    rows = []
    print(f"{'matmul':>14s} {'flops':>10s} {'serial us':>10s} {'parallel us':>12s}")
    for m, k, n in [(8, 32, 64), (16, 64, 64), (32, 64, 64), (32, 128, 128), (64, 128, 128),
                    (64, 256, 128), (128, 256, 128), (128, 256, 256), (256, 256, 256)]:
        rng = np.random.default_rng(0)
        a = tvm.runtime.tensor(rng.standard_normal((m, k), dtype="float32"))
        b = tvm.runtime.tensor(rng.standard_normal((k, n), dtype="float32"))
        c = tvm.runtime.tensor(np.empty((m, n), "float32"))
        fl = 2 * m * k * n
        ts = _best_us(matmul(m, k, n, False, lanes), (a, b, c), args.reps // 3)
        tp = _best_us(matmul(m, k, n, True, lanes), (a, b, c), args.reps // 3)
        rows.append((fl, ts, tp))
        print(f"{f'{m}x{k}x{n}':>14s} {fl:10d} {ts:10.2f} {tp:12.2f}")
    fl = threshold(rows)
    print(f"parallel pays from: {el} elements (memory-bound), {fl} flops (matmul)")


if __name__ == "__main__":
    main()
