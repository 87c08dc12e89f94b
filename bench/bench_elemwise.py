"""Elementwise benchmarks: tvmsym next to numpy on the same data, in one run.

    .venv/bin/python bench/bench_elemwise.py [--reps 30]

W1  the seed graph (x + y) * x on 2000x2000 float32   (goal: <= 0.50x numpy's time)
W2  tanh(x*y + 1) * exp(-abs(x)) + log1p(exp(y)) - x/(1 + y*y) on 4M float32 (goal: <= 0.22x)
W7  call overhead of x + y on 2x2 (median per call, microseconds)

Times are the best of ``--reps`` calls (the machine is shared; ratios taken in
one run are what to compare).  Both sides allocate their result, as a user's
call does.
"""
from __future__ import annotations

import argparse

import numpy as np
from _timing import samples_ns

import tvmsym
import tvmsym.tensor as T


def best_ms(fn, reps):
    return min(samples_ns(fn, reps, warmup=1)) / 1e6


def median_us(fn, n=20000):
    return float(np.median(samples_ns(fn, n, warmup=500))) / 1e3


def w1():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], (x + y) * x)
    fs = tvmsym.function([x, y], (x + y) * x, specialize=True)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 2000), dtype=np.float32)
    b = rng.standard_normal((2000, 2000), dtype=np.float32)
    np.testing.assert_allclose(f(a, b), (a + b) * a, rtol=1e-6)
    np.testing.assert_allclose(fs(a, b), (a + b) * a, rtol=1e-6)
    return "W1 (x+y)*x 2000x2000", lambda: f(a, b), lambda: (a + b) * a, 0.5, lambda: fs(a, b)


def w2():
    x, y = T.vector("x"), T.vector("y")
    expr = T.tanh(x * y + 1) * T.exp(-abs(x)) + T.log1p(T.exp(y)) - x / (1 + y * y)
    f = tvmsym.function([x, y], expr)
    fs = tvmsym.function([x, y], expr, specialize=True)
    rng = np.random.default_rng(0)
    n = 4 * 1024 * 1024
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)

    def ref():
        return np.tanh(a * b + 1) * np.exp(-np.abs(a)) + np.log1p(np.exp(b)) - a / (1 + b * b)
    np.testing.assert_allclose(f(a, b), ref(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fs(a, b), ref(), rtol=1e-5, atol=1e-6)
    return "W2 transcendental chain 4M", lambda: f(a, b), ref, 0.22, lambda: fs(a, b)


def w7():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], x + y)
    a = np.ones((2, 2), "float32")
    b = np.ones((2, 2), "float32")
    f(a, b)
    return median_us(lambda: f(a, b)), median_us(lambda: np.add(a, b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    from tvmsym import _tvm
    print(f"tvm threads={_tvm.tvm.runtime.num_threads()} target={_tvm.cpu_target()} "
          f"libmvec={_tvm.mvec_enabled} numpy={np.__version__}")
    # "specialized": the same graph with kernels built for the shape (function(...,
    # specialize=True), the kernels before shape-generic ones); gen/spec should be <= 1.10
    print(f"{'workload':30s} {'numpy ms':>9s} {'tvmsym ms':>10s} {'ratio':>7s} {'goal':>6s} "
          f"{'specialized':>11s} {'gen/spec':>8s}")
    for make in (w1, w2):
        name, fn, ref, goal, spec = make()
        # interleave to share the machine's noise
        tn, tt, ts = [], [], []
        for _ in range(3):
            tn.append(best_ms(ref, args.reps))
            tt.append(best_ms(fn, args.reps))
            ts.append(best_ms(spec, args.reps))
        n, t, s = min(tn), min(tt), min(ts)
        print(f"{name:30s} {n:9.3f} {t:10.3f} {t / n:6.2f}x {goal:5.2f}x {s:11.3f} {t / s:7.2f}x"
              f"{'' if t / n <= goal else '  MISSED'}")
    call, npcall = w7()
    print(f"{'W7 call x+y 2x2 (median us)':30s} {npcall:9.2f} {call:10.2f}")


if __name__ == "__main__":
    main()
