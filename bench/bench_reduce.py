"""Reduction and softmax benchmarks: tvmsym next to numpy on the same data, in one run.

    .venv/bin/python bench/bench_reduce.py [--reps 30]

W3   row softmax of 4096x1024 float32 vs numpy's
     ``e = exp(x - x.max(1, keepdims=True)); e / e.sum(1, keepdims=True)``   (goal <= 0.2x)
W4a  sum of all elements of 4096x4096 float32                               (goal <= 0.4x)
W4b  sum(axis=1) of 4096x4096 float32                                        (goal <= 0.4x)
W5   argmax(axis=1) of 4096x1024 float32 (numpy's is SIMD)                  (goal <= 1.0x)
plus sum(axis=0), max(axis=1), mean, argmin/argmax over other axes and log_softmax.

Times are the best of ``--reps`` calls, tvmsym and numpy interleaved (the machine is
shared; compare ratios taken in one run).  Both sides allocate their results.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tvmsym
import tvmsym.tensor as T


def best_pair(f1, f2, reps, f3=None):
    """Best times (ms) of f1, f2 (and f3), interleaved."""
    fns = [f1, f2] + ([f3] if f3 is not None else [])
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(reps):
        for fn, t in zip(fns, ts):
            t0 = time.perf_counter_ns()
            fn()
            t.append(time.perf_counter_ns() - t0)
    return tuple(min(t) / 1e6 for t in ts)


def np_softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def np_log_softmax(a):
    z = a - a.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def case(name, build, ref, shape, goal=None, rtol=1e-5, atol=1e-6):
    """A workload, built only when selected (``--only``)."""
    def make():
        rng = np.random.default_rng(0)
        a = rng.standard_normal(shape).astype("float32")
        x = T.matrix("x")
        f = tvmsym.function([x], build(x))
        # the same graph with kernels specialized to the shape (today's kernels before
        # shape-generic ones): the generic kernels should be within 10% of these
        fs = tvmsym.function([x], build(x), specialize=True)
        np.testing.assert_allclose(f(a), ref(a), rtol=rtol, atol=atol, err_msg=name)
        np.testing.assert_allclose(fs(a), ref(a), rtol=rtol, atol=atol, err_msg=name)
        return (lambda: f(a)), (lambda: ref(a)), (lambda: fs(a))
    return name, make, goal


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--only", default="", help="run the workloads whose name contains this")
    args = ap.parse_args()
    big = (4096, 4096)
    cases = [c for c in [
        case("W3  softmax 4096x1024", T.nnet.softmax, np_softmax, (4096, 1024), 0.2),
        case("W4a sum 4096x4096", lambda x: x.sum(), lambda a: a.sum(), big, 0.4, rtol=1e-4, atol=2.0),
        case("W4b sum(axis=1) 4096x4096", lambda x: x.sum(axis=1), lambda a: a.sum(1), big, 0.4,
             rtol=1e-4, atol=1e-3),
        case("    sum(axis=0) 4096x4096", lambda x: x.sum(axis=0), lambda a: a.sum(0), big,
             rtol=1e-4, atol=1e-3),
        case("    max(axis=1) 4096x4096", lambda x: x.max(axis=1), lambda a: a.max(1), big),
        case("    mean 4096x4096", lambda x: x.mean(), lambda a: a.mean(), big, rtol=1e-4),
        case("W5  argmax(axis=1) 4096x1024", lambda x: x.argmax(axis=1), lambda a: a.argmax(1),
             (4096, 1024), 1.0),
        case("    argmin(axis=1) 4096x1024", lambda x: T.argmin(x, axis=1), lambda a: a.argmin(1),
             (4096, 1024)),
        case("    argmax(axis=0) 4096x1024", lambda x: x.argmax(axis=0), lambda a: a.argmax(0),
             (4096, 1024)),
        case("    argmax() 4096x1024", lambda x: x.argmax(), lambda a: a.argmax(), (4096, 1024)),
        case("    argmax(keepdims) 4096x1024", lambda x: x.argmax(1, keepdims=True),
             lambda a: a.argmax(1, keepdims=True), (4096, 1024)),
        case("    log_softmax 4096x1024", T.nnet.log_softmax, np_log_softmax, (4096, 1024),
             rtol=1e-5, atol=2e-5),
    ] if args.only in c[0]]
    print(f"{'workload':32s} {'tvmsym ms':>10s} {'numpy ms':>10s} {'ratio':>7s} "
          f"{'specialized ms':>14s} {'gen/spec':>8s}  goal")
    for name, make, goal in cases:
        ft, fn, fs = make()
        tt, tn, ts = best_pair(ft, fn, args.reps, fs)
        verdict = "" if goal is None else f"<= {goal}x " + ("met" if tt / tn <= goal else "MISSED")
        print(f"{name:32s} {tt:10.3f} {tn:10.3f} {tt / tn:6.2f}x {ts:14.3f} {tt / ts:7.2f}x  "
              f"{verdict}", flush=True)


if __name__ == "__main__":
    main()
