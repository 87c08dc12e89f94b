"""Sparse x dense product: tvmsym's TVM kernel next to scipy.sparse on the same data.

    .venv/bin/python bench/bench_sparse.py [--reps 10] [--per-core]

A 10,000 x 10,000 CSR matrix at 1% density (float32, 1M stored values) times a dense
10,000 x 128 float32 matrix (issue 17).  tvmsym: ``theano.sparse.structured_dot`` compiled
(rows in parallel over TVM's thread pool, vectorized over the 128 columns); scipy:
``A @ B`` (one thread: scipy's sparse kernels are serial).  Times are the best of 3 rounds
of ``--reps`` calls, in alternating blocks; both sides allocate their result.
``--per-core`` runs tvmsym on one thread too and times this thread's CPU time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if "--per-core" in sys.argv:
    os.environ["TVM_NUM_THREADS"] = "1"
    _clock = time.thread_time_ns
else:
    _clock = time.perf_counter_ns

import numpy as np
import scipy
import scipy.sparse as sp

import tvmsym
import tvmsym.sparse as S
import tvmsym.tensor as T


def best_pair(f1, f2, reps, rounds=3):
    t1, t2 = [], []
    for _ in range(rounds):
        for fn, ts in ((f1, t1), (f2, t2)):
            fn()
            for _ in range(reps):
                t0 = _clock()
                fn()
                ts.append(_clock() - t0)
    return min(t1) / 1e6, min(t2) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--per-core", action="store_true")
    ap.add_argument("--m", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--density", type=float, default=0.01)
    args = ap.parse_args()
    m, n = args.m, args.n
    a = sp.random(m, m, density=args.density, format="csr", dtype=np.float32, random_state=0)
    b = np.random.default_rng(1).standard_normal((m, n)).astype(np.float32)
    x, y = S.csr_matrix("x", dtype="float32"), T.fmatrix("y")
    f = tvmsym.function([x, y], S.structured_dot(x, y))
    t0 = time.perf_counter()
    got = f(a, b)
    first = time.perf_counter() - t0
    want = a @ b
    err = float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))
    assert err < 1e-5, err
    t_tvm, t_sp = best_pair(lambda: f(a, b), lambda: a @ b, args.reps)
    print(f"scipy {scipy.__version__}, numpy {np.__version__}, {os.cpu_count()} cpus, "
          f"TVM_NUM_THREADS={os.environ.get('TVM_NUM_THREADS', 'default')}"
          f"{' (per-core: thread CPU time)' if args.per_core else ''}")
    print(f"A {m}x{m} csr, density {args.density} ({a.nnz} stored values), B {m}x{n} float32; "
          f"first call (build) {first:.2f} s; max rel. error {err:.1e}")
    print(f"tvmsym structured_dot {t_tvm:8.2f} ms   scipy A @ B {t_sp:8.2f} ms   "
          f"ratio tvmsym/scipy {t_tvm / t_sp:.2f}x")


if __name__ == "__main__":
    main()
