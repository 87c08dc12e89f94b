"""dot benchmarks: tvmsym next to numpy (OpenBLAS) on the same data, in one run.

    .venv/bin/python bench/bench_dot.py [--reps 20]

W5   dot of two 1024x1024 float32 matrices (issue 13 goal: <= 0.95x numpy's time and
     >= 85% of the float32 FMA peak measured by bench/_peak.py), plus odd shapes (padded
     tiles), float64, and the matrix.vector, vector.matrix, small and batched products
     (128x784x256, 32x256x256, batched_dot; goal: <= 1.0x numpy).

Times are the best of 3 rounds of ``--reps`` calls, tvmsym and numpy in alternating
blocks (the machine is shared; compare ratios taken in one run), each block started after
a pause of ``SETTLE`` seconds: OpenBLAS's threads spin on a core for up to ~0.1 s after a
call (and TVM's pool threads for a while), so a block started right after the other
library's would share its cores with them.  Both sides allocate their result.
GFLOP/s = 2*M*N*K / time; the matrix.vector and vector.matrix rows (memory-bound) also
print GB/s read (the matrix's bytes / time) for both.  ``--per-core`` runs both on one thread and times this
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


SETTLE = 0.25      # seconds of pause before each block (see the module's docstring)


def best_pair(f1, f2, reps, rounds=3):
    """Best times (ms) of f1 and f2, measured in alternating blocks of ``reps`` calls.

    Blocks, not call-by-call alternation: TVM's pool threads spin for a while after a
    parallel kernel and would steal the cores from OpenBLAS's next call (and vice versa);
    the pause before each block lets the other side's threads go to sleep first.
    """
    t1, t2 = [], []
    for _ in range(rounds):
        for fn, ts in ((f1, t1), (f2, t2)):
            if _clock is time.perf_counter_ns:
                time.sleep(SETTLE)
            fn()
            for _ in range(reps):
                t0 = _clock()
                fn()
                ts.append(_clock() - t0)
    return min(t1) / 1e6, min(t2) / 1e6


def case(M, K, N, dtype="float32", vec=False, goal=None, trans=False):
    """dot(a, b) of an MxK and a KxN matrix (``vec``: a K vector; ``trans``: dot(a.T, v)
    of a KxM matrix and a K vector, a gradient's vector.matrix)."""
    if vec and M == 0:
        return case_vm(K, N, dtype, goal)
    rng = np.random.default_rng(0)
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype) if vec else T.matrix("y", dtype=dtype)
    f = tvmsym.function([x, y], T.dot(x.T if trans else x, y))
    a = rng.standard_normal((K, M) if trans else (M, K)).astype(dtype)
    b = rng.standard_normal((K,) if vec else (K, N)).astype(dtype)
    tol = 1e-3 if dtype == "float32" else 1e-9
    aa = a.T if trans else a
    np.testing.assert_allclose(f(a, b), aa @ b, rtol=tol, atol=tol)
    flops = 2 * M * K * (1 if vec else N)
    name = (f"{K}x{M}.T . {K}" if trans else f"{M}x{K} . {K}" + ("" if vec else f"x{N}")) + f" {dtype}"
    return name, (lambda: f(a, b)), (lambda: np.dot(aa, b)), flops, goal, (a.nbytes if vec else 0)


def case_vm(K, N, dtype="float32", goal=None):
    """dot(v, W): a K vector times a KxN matrix (a batch-1 dense layer)."""
    rng = np.random.default_rng(0)
    v, w = T.vector("v", dtype=dtype), T.matrix("w", dtype=dtype)
    f = tvmsym.function([v, w], T.dot(v, w))
    a = rng.standard_normal(K).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    tol = 1e-3 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(f(a, b), a @ b, rtol=tol, atol=tol)
    return (f"{K} . {K}x{N} {dtype}", (lambda: f(a, b)), (lambda: np.dot(a, b)), 2 * K * N, goal,
            b.nbytes)


def case_batched(B, M, K, N, dtype="float32", goal=None, trans=False):
    """batched_dot of BxMxK and BxKxN (``trans``: the second operand given as BxNxK and
    transposed in the graph, as attention's Q.K^T)."""
    rng = np.random.default_rng(0)
    p, q = T.tensor3("p", dtype=dtype), T.tensor3("q", dtype=dtype)
    f = tvmsym.function([p, q], T.batched_dot(p, q.dimshuffle(0, 2, 1) if trans else q))
    a = rng.standard_normal((B, M, K)).astype(dtype)
    b = rng.standard_normal((B, N, K) if trans else (B, K, N)).astype(dtype)
    bb = b.transpose(0, 2, 1) if trans else b
    np.testing.assert_allclose(f(a, b), a @ bb, rtol=1e-3, atol=1e-3)
    name = f"batched {B}x{M}x{K} . {B}x{K}x{N}{'(T)' if trans else ''} {dtype}"
    return (name, (lambda: f(a, b)), (lambda: a @ bb), 2 * B * M * N * K, goal, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--per-core", action="store_true",
                    help="one thread for TVM and OpenBLAS, timed by thread CPU time")
    args = ap.parse_args()
    cases = [case(1024, 1024, 1024, goal=0.95), case(1000, 999, 1001), case(512, 512, 512),
             case(1024, 1024, 1024, "float64"), case(1024, 1024, 0, vec=True, goal=1.0),
             case(1024, 1024, 0, vec=True, trans=True, goal=1.0),
             case(1024, 1024, 0, "float64", vec=True, goal=1.0),
             case(1024, 1024, 0, "float64", vec=True, trans=True, goal=1.0),
             case(0, 1024, 1024, vec=True, goal=1.0),            # dot(v, W)
             case(0, 800, 500, vec=True, goal=1.0),              # LeNet's dense layer, batch 1
             case(1, 800, 500, goal=1.0),                        # the same as a 1x800 matrix
             case(64, 64, 64), case_batched(32, 128, 128, 128, goal=1.0),
             case_batched(64, 1, 128, 100, goal=1.0), case_batched(64, 100, 128, 1, goal=1.0),
             case_batched(64, 50, 64, 50, goal=1.0, trans=True),  # attention: Q.K^T, 50 steps
             case_batched(64, 50, 50, 64, goal=1.0),              # attention: weights.V
             case(16, 128, 512, goal=1.0),                        # an LSTM step: h.U
             case(128, 784, 256, goal=1.0), case(784, 128, 256), case(32, 256, 256, goal=1.0),
             case(128, 256, 10, goal=1.0)]   # W6's products: forward, weight gradient, output layer
    print(f"{'workload':40s} {'tvmsym ms':>10s} {'numpy ms':>10s} {'ratio':>7s} {'tvmsym GFLOP/s':>15s}"
          f" {'numpy GFLOP/s':>14s}  {'goal':18s} GB/s tvmsym / numpy")
    w5 = None
    verdicts = []
    for name, ft, fn, flops, goal, nbytes in cases:
        reps = args.reps if flops > 1e8 else args.reps * 20
        tt, tn = best_pair(ft, fn, reps)
        w5 = w5 or (tt, tn, flops)
        mark = ""
        if goal is not None:
            ok = tt / tn <= goal
            verdicts.append(ok)
            mark = f"<= {goal:.2f}x {'ok' if ok else 'MISSED'}"
        bw = f"{nbytes / tt / 1e6:6.1f} / {nbytes / tn / 1e6:6.1f}" if nbytes else ""
        print(f"{name:40s} {tt:10.3f} {tn:10.3f} {tt / tn:6.2f}x {flops / tt / 1e6:15.1f}"
              f" {flops / tn / 1e6:14.1f}  {mark:18s} {bw}")
    peak, lanes = fma_peak_gflops(1 if args.per_core else None)
    tt, tn, flops = w5
    gf = flops / tt / 1e6
    print(f"W5 1024^3 float32: {tt / tn:.2f}x numpy (goal <= 0.95x), {gf:.1f} GFLOP/s")
    if peak:
        where = "1 thread" if args.per_core else "all cores"
        print(f"this machine's float32 FMA peak ({lanes} lanes, {where}; bench/_peak.py)"
              f": {peak:.1f} GFLOP/s; W5 reaches {gf / peak:.0%} of it (goal >= 85%)")
    print(f"goals met: {sum(verdicts)}/{len(verdicts)}")


if __name__ == "__main__":
    main()
