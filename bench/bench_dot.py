"""dot benchmarks: tvmsym next to numpy (OpenBLAS) on the same data, in one run.

    .venv/bin/python bench/bench_dot.py [--reps 20]

W5   dot of two 1024x1024 float32 matrices (issue goal: <= 0.6x numpy's time)
     plus odd shapes (padded tiles), float64, matrix.vector and a small dot.

Times are the best of 3 rounds of ``--reps`` calls, tvmsym and numpy in alternating
blocks (the machine is shared; compare ratios taken in one run).  Both sides allocate their result.
GFLOP/s = 2*M*N*K / time.  ``--per-core`` runs both on one thread and times this
thread's CPU time, which a shared machine's other jobs barely disturb.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if "--per-core" in sys.argv:      # one thread each, CPU time of this thread: robust on a busy box
    os.environ["TVM_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    _clock = time.thread_time_ns
else:
    _clock = time.perf_counter_ns

import numpy as np

import tvmsym
import tvmsym.tensor as T
from _peak import fma_peak_gflops


def best_pair(f1, f2, reps, rounds=3):
    """Best times (ms) of f1 and f2, measured in alternating blocks of ``reps`` calls.

    Blocks, not call-by-call alternation: TVM's pool threads spin for a while after a
    parallel kernel and would steal the cores from OpenBLAS's next call (and vice versa).
    """
    t1, t2 = [], []
    for _ in range(rounds):
        for fn, ts in ((f1, t1), (f2, t2)):
            fn()
            for _ in range(reps):
                t0 = _clock()
                fn()
                ts.append(_clock() - t0)
    return min(t1) / 1e6, min(t2) / 1e6


def case(M, K, N, dtype="float32", vec=False):
    rng = np.random.default_rng(0)
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype) if vec else T.matrix("y", dtype=dtype)
    f = tvmsym.function([x, y], T.dot(x, y))
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K,) if vec else (K, N)).astype(dtype)
    tol = 1e-3 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(f(a, b), a @ b, rtol=tol, atol=tol)
    flops = 2 * M * K * (1 if vec else N)
    name = f"{M}x{K} . {K}" + ("" if vec else f"x{N}") + f" {dtype}"
    return name, (lambda: f(a, b)), (lambda: np.dot(a, b)), flops


def case_batched(B, M, K, N, dtype="float32"):
    rng = np.random.default_rng(0)
    p, q = T.tensor3("p", dtype=dtype), T.tensor3("q", dtype=dtype)
    f = tvmsym.function([p, q], T.batched_dot(p, q))
    a = rng.standard_normal((B, M, K)).astype(dtype)
    b = rng.standard_normal((B, K, N)).astype(dtype)
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-3, atol=1e-3)
    return f"batched {B}x{M}x{K} . {B}x{K}x{N} {dtype}", (lambda: f(a, b)), (lambda: a @ b), 2 * B * M * N * K


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--per-core", action="store_true",
                    help="one thread for TVM and OpenBLAS, timed by thread CPU time")
    args = ap.parse_args()
    cases = [case(1024, 1024, 1024), case(1000, 999, 1001), case(512, 512, 512),
             case(1024, 1024, 1024, "float64"), case(1024, 1024, 0, vec=True),
             case(64, 64, 64), case_batched(32, 128, 128, 128),
             case(128, 784, 256), case(128, 256, 10)]        # W6's forward products
    print(f"{'workload':40s} {'tvmsym ms':>10s} {'numpy ms':>10s} {'ratio':>7s} {'tvmsym GFLOP/s':>15s}"
          f" {'numpy GFLOP/s':>14s}")
    w5 = None
    for name, ft, fn, flops in cases:
        reps = args.reps if flops > 1e8 else args.reps * 20
        tt, tn = best_pair(ft, fn, reps)
        w5 = w5 or (tn, flops)
        print(f"{name:40s} {tt:10.3f} {tn:10.3f} {tt / tn:6.2f}x {flops / tt / 1e6:15.1f}"
              f" {flops / tn / 1e6:14.1f}")
    print("goal W5 (1024^3 float32): <= 0.60x numpy")
    peak, lanes = fma_peak_gflops(1 if args.per_core else None)
    if peak:
        need = w5[1] / (0.6 * w5[0]) / 1e6
        print(f"this machine's float32 FMA peak ({lanes} lanes; bench/_peak.py): {peak:.1f} GFLOP/s; "
              f"0.60x of numpy's 1024^3 time needs {need:.1f} GFLOP/s ({need / peak:.0%} of peak)")


if __name__ == "__main__":
    main()
