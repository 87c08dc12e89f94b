"""Shape-generic kernels next to specialized ones (``specialize=True``) and numpy, in one run.

    .venv/bin/python bench/bench_generic.py [--reps 40] [--only W3]

Issue 12's "specialized speed": a function's default (shape-generic) kernels should run
within 10% of the same graph built with ``tvmsym.function(..., specialize=True)``
(gen/spec <= 1.10) on W1-W6 and softmax / log-softmax, and no workload slower against
numpy than the specialized kernels were.

Two tables:
* per core (a child process): TVM and OpenBLAS on one thread, each call timed by this
  thread's CPU time (``time.thread_time_ns``): robust while other processes load the
  machine;
* wall clock (this process, the default thread pool): what a user sees on a quiet machine.

Each row: the best of ``--reps`` calls per side, the three sides interleaved in a rotating
order (generic, specialized, numpy), on the same data, results checked against numpy
first.  On a loaded machine even the per-core figures of memory-bound rows move by
10-30% from run to run (other processes share the memory bus and evict the caches):
compare rows across several runs, or run on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

PER_CORE = "--per-core" in sys.argv
if PER_CORE:        # before TVM / OpenBLAS start their pools
    os.environ["TVM_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np

_clock = time.thread_time_ns if PER_CORE else time.perf_counter_ns


def best3(fns, reps):
    """Best time (ms) of each of ``fns``, called interleaved ``reps`` times after a warm-up."""
    for fn in fns:
        fn()
        fn()
    ts = [[] for _ in fns]
    n = len(fns)
    for r in range(reps):
        # the order rotates: no side always runs after numpy's allocations (fresh pages,
        # page faults counted in this thread's time) or always first
        for k in range(n):
            i = (k + r) % n
            t0 = _clock()
            fns[i]()
            ts[i].append(_clock() - t0)
    return [min(t) / 1e6 for t in ts]


def np_softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def np_log_softmax(a):
    z = a - a.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _w2(x, y):
    import tvmsym.tensor as T
    return T.tanh(x * y + 1) * T.exp(-abs(x)) + T.log1p(T.exp(y)) - x / (1 + y * y)


def _w2_np(a, b):
    return np.tanh(a * b + 1) * np.exp(-np.abs(a)) + np.log1p(np.exp(b)) - a / (1 + b * b)


def cases():
    """(name, input kinds, shapes, build(*vars), numpy ref(*arrays), rtol, atol)."""
    import tvmsym.tensor as T
    nn = T.nnet
    big, sm = (4096, 4096), (4096, 1024)
    M, V = "matrix", "vector"
    return [
        ("W1  (x+y)*x 2000x2000", [M, M], [(2000, 2000)] * 2, lambda x, y: (x + y) * x,
         lambda a, b: (a + b) * a, 1e-6, 0),
        ("W2  transcendental chain 4M", [V, V], [(1 << 22,)] * 2, _w2, _w2_np, 1e-5, 1e-6),
        ("    x*2+1 1999x1001", [M], [(1999, 1001)], lambda x: x * 2 + 1, lambda a: a * 2 + 1,
         1e-6, 0),
        ("    x + row 2000x2000", [M, "row"], [(2000, 2000), (1, 2000)], lambda x, r: x + r,
         lambda a, b: a + b, 1e-6, 0),
        ("    exp(x) 100x100", [M], [(100, 100)], lambda x: T.exp(x), np.exp, 1e-6, 0),
        ("W3  softmax 4096x1024", [M], [sm], nn.softmax, np_softmax, 1e-5, 1e-6),
        ("    softmax 4095x1001", [M], [(4095, 1001)], nn.softmax, np_softmax, 1e-5, 1e-6),
        ("    softmax 128x10", [M], [(128, 10)], nn.softmax, np_softmax, 1e-5, 1e-6),
        ("    log_softmax 4096x1024", [M], [sm], nn.log_softmax, np_log_softmax, 1e-5, 2e-5),
        ("    log_softmax 4095x1001", [M], [(4095, 1001)], nn.log_softmax, np_log_softmax,
         1e-5, 2e-5),
        ("W4a sum 4096x4096", [M], [big], lambda x: x.sum(), lambda a: a.sum(), 1e-4, 2.0),
        ("W4b sum(axis=1) 4096x4096", [M], [big], lambda x: x.sum(axis=1), lambda a: a.sum(1),
         1e-4, 1e-3),
        ("    sum(axis=1) 4095x1001", [M], [(4095, 1001)], lambda x: x.sum(axis=1),
         lambda a: a.sum(1), 1e-4, 1e-3),
        ("    sum(axis=0) 4096x4096", [M], [big], lambda x: x.sum(axis=0), lambda a: a.sum(0),
         1e-4, 1e-3),
        ("    max(axis=1) 4096x4096", [M], [big], lambda x: x.max(axis=1), lambda a: a.max(1),
         0, 0),
        ("    max(axis=0) 4096x4096", [M], [big], lambda x: x.max(axis=0), lambda a: a.max(0),
         0, 0),
        ("    mean 4096x4096", [M], [big], lambda x: x.mean(), lambda a: a.mean(), 1e-4, 0),
        ("    sum 16M vector", [V], [(1 << 24,)], lambda x: x.sum(), lambda a: a.sum(),
         1e-4, 2.0),
        ("    max 16M vector", [V], [(1 << 24,)], lambda x: x.max(), lambda a: a.max(), 0, 0),
        ("W5  argmax(axis=1) 4096x1024", [M], [sm], lambda x: x.argmax(axis=1),
         lambda a: a.argmax(1), 0, 0),
        ("    argmax(axis=0) 4096x1024", [M], [sm], lambda x: x.argmax(axis=0),
         lambda a: a.argmax(0), 0, 0),
    ]


def make_var(kind, name):
    import tvmsym.tensor as T
    if kind == "row":
        return T.row(name)
    return getattr(T, kind)(name)


def run_case(c, reps):
    import tvmsym
    name, kinds, shapes, build, ref, rtol, atol = c
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    vs = [make_var(k, "v%d" % i) for i, k in enumerate(kinds)]
    fg = tvmsym.function(vs, build(*vs))
    vs2 = [make_var(k, "v%d" % i) for i, k in enumerate(kinds)]
    fs = tvmsym.function(vs2, build(*vs2), specialize=True)
    want = ref(*arrays)
    errs = getattr(fg._plan, "_generic_errors", None)
    if errs:        # a kernel fell back to its specialized lowering: say so
        print(f"  ({name.strip()}: not generic: {sorted(errs)})")
    for f in (fg, fs):
        np.testing.assert_allclose(f(*arrays), want, rtol=rtol, atol=atol, err_msg=name)
    return best3([lambda: fg(*arrays), lambda: fs(*arrays), lambda: ref(*arrays)], reps)


def run_mlp(reps):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_mlp as m
    x, onehot, params = m.init()
    step, shared = m.tvmsym_step(params)
    m.check(step, shared, x, onehot, params)
    sstep, sshared = m.tvmsym_step(params, specialize=True)
    m.check(sstep, sshared, x, onehot, params)
    P = [p.copy() for p in params]
    return best3([lambda: step(x, onehot), lambda: sstep(x, onehot),
                  lambda: m.numpy_step(x, onehot, P)], reps * 5)


def table(args):
    from tvmsym import _tvm
    mode = ("per core: TVM_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, thread CPU time" if PER_CORE
            else f"wall clock: {_tvm.tvm.runtime.num_threads()} TVM threads")
    print(f"-- {mode}; target {_tvm.cpu_target()}; best of {args.reps}", flush=True)
    print(f"{'workload':32s} {'generic':>9s} {'special':>9s} {'numpy':>9s} {'gen/spec':>8s} "
          f"{'gen/np':>7s} {'spec/np':>7s}  (ms)")
    worst = []
    rows = [(c[0], lambda c=c: run_case(c, args.reps)) for c in cases()]
    rows.append(("W6  MLP SGD step, batch 128", lambda: run_mlp(args.reps)))
    for name, fn in rows:
        if args.only not in name:
            continue
        g, s, n = fn()
        flag = "  >1.10" if g / s > 1.10 else ""
        worst.append((g / s, name))
        print(f"{name:32s} {g:9.3f} {s:9.3f} {n:9.3f} {g / s:7.2f}x {g / n:6.2f}x {s / n:6.2f}x"
              f"{flag}", flush=True)
    if worst:
        r, name = max(worst)
        print(f"worst gen/spec: {r:.2f}x ({name.strip()}); goal <= 1.10x", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--only", default="", help="run the workloads whose name contains this")
    ap.add_argument("--per-core", action="store_true", help="only the per-core table")
    ap.add_argument("--wall", action="store_true", help="only the wall-clock table")
    args = ap.parse_args()
    if PER_CORE or args.wall:
        table(args)
        return
    subprocess.run([sys.executable, os.path.abspath(__file__), "--per-core", "--reps",
                    str(args.reps), "--only", args.only], check=True)
    table(args)


if __name__ == "__main__":
    main()
