"""Shape-generic matrix products against specialized ones (issue 12: within 10%).

    .venv/bin/python bench/bench_generic_products.py [--reps 200]

The W6 MLP's products (784-256-10, float32) as one-product functions: the forward
layers ``tanh(x @ W1 + b1)`` and ``h @ W2 + b2`` (rows M = the batch), the input
gradient ``d @ W2.T`` and the weight gradients with their SGD update fused
``W1 - lr * x.T @ dh`` (contraction K = the batch), and logistic regression's
``x @ w`` / ``x.T @ r`` (float64, 784 features), for batch 1, 7, 100, 128, 1000.
Each is compiled twice in this process: generic (one build for every batch) and
``specialize=True`` (one build per batch); both run on one thread (TVM_NUM_THREADS=1),
timed by this thread's CPU time (min of ``--reps``), numpy beside them.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ["TVM_NUM_THREADS"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import tvmsym
import tvmsym.tensor as T

NIN, NH, NOUT = 784, 256, 10
LR = np.float32(0.01)


def best_us(fn, reps):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.thread_time_ns()
        fn()
        ts.append(time.thread_time_ns() - t0)
    return min(ts) / 1e3


def cases(rng):
    W1 = rng.standard_normal((NIN, NH)).astype("float32") * np.float32(0.05)
    b1 = np.zeros(NH, "float32")
    W2 = rng.standard_normal((NH, NOUT)).astype("float32") * np.float32(0.05)
    b2 = np.zeros(NOUT, "float32")
    w = rng.standard_normal(NIN)

    def make(spec):
        x, h, d, dh = T.fmatrix("x"), T.fmatrix("h"), T.fmatrix("d"), T.fmatrix("dh")
        sW1, sb1, sW2, sb2 = [tvmsym.shared(v.copy(), name=n)
                              for v, n in zip((W1, b1, W2, b2), ("W1", "b1", "W2", "b2"))]
        kw = dict(specialize=spec)
        xd, r = T.dmatrix("xd"), T.dvector("r")           # logistic regression (float64)
        sw = tvmsym.shared(w, name="w")
        return {
            "tanh(x@W1+b1)  M=b": (tvmsym.function([x], T.tanh(T.dot(x, sW1) + sb1), **kw),
                                   lambda m: [rng.standard_normal((m, NIN)).astype("float32")],
                                   lambda a: np.tanh(a @ W1 + b1)),
            "h@W2+b2        M=b": (tvmsym.function([h], T.dot(h, sW2) + sb2, **kw),
                                   lambda m: [rng.standard_normal((m, NH)).astype("float32")],
                                   lambda a: a @ W2 + b2),
            "d@W2.T         M=b": (tvmsym.function([d], T.dot(d, sW2.T), **kw),
                                   lambda m: [rng.standard_normal((m, NOUT)).astype("float32")],
                                   lambda a: a @ W2.T),
            "W1-lr*x.T@dh   K=b": (tvmsym.function([x, dh], sW1 - LR * T.dot(x.T, dh), **kw),
                                   lambda m: [rng.standard_normal((m, NIN)).astype("float32"),
                                              rng.standard_normal((m, NH)).astype("float32")],
                                   lambda a, b: W1 - LR * (a.T @ b)),
            "logreg x@w     M=b": (tvmsym.function([xd], T.dot(xd, sw), **kw),
                                   lambda m: [rng.standard_normal((m, NIN))],
                                   lambda a: a @ w),
            "logreg x.T@r   K=b": (tvmsym.function([xd, r], T.dot(xd.T, r), **kw),
                                   lambda m: [rng.standard_normal((m, NIN)), rng.standard_normal(m)],
                                   lambda a, v: a.T @ v),
        }
    return make(False), make(True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--batches", default="1,7,100,128,1000")
    ap.add_argument("--only", default="", help="products whose name contains this")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    gen, spec = cases(rng)
    batches = [int(b) for b in args.batches.split(",")]
    print("generic vs specialize=True products, one thread, thread CPU time (us, min of "
          f"{args.reps}); goal generic/specialized <= 1.10")
    print(f"  {'product':20s} {'batch':>5s} {'generic':>9s} {'special':>9s} {'numpy':>9s} {'gen/spec':>8s}")
    worst = 0.0
    for name in [n for n in gen if args.only in n]:
        fg, inputs, ref = gen[name]
        fs = spec[name][0]
        for m in batches:
            args_ = inputs(m)
            rg, rs = fg(*args_), fs(*args_)
            want = ref(*args_)
            np.testing.assert_allclose(rg, want, rtol=1e-3, atol=1e-4)
            np.testing.assert_allclose(rs, want, rtol=1e-3, atol=1e-4)
            tg = min(best_us(lambda: fg(*args_), args.reps // 2) for _ in range(2))
            ts = min(best_us(lambda: fs(*args_), args.reps // 2) for _ in range(2))
            tn = best_us(lambda: ref(*args_), args.reps // 2)
            worst = max(worst, tg / ts)
            print(f"  {name:20s} {m:5d} {tg:9.1f} {ts:9.1f} {tn:9.1f} {tg / ts:8.2f}")
    print(f"  worst generic/specialized: {worst:.2f}x (goal <= 1.10x)")


if __name__ == "__main__":
    main()
