"""Sequence models on shape-generic kernels vs ``specialize=True`` (issue 12).

    .venv/bin/python bench/bench_generic_seq.py [--reps 5]

The LSTM text classifier of ``bench_lstm.py`` (embedding lookup, reshape, scan, mean
pooling, softmax classifier, SGD) and the tanh RNN of ``bench_rnn.py``, each compiled
twice in this process: shape-generic (the default) and ``specialize=True`` (kernels per
input shape, as before).  Printed per model:

* the time of a step, per core: CPU time of this thread (``TVM_NUM_THREADS=1``), best of
  ``--reps`` per minibatch, summed over the minibatches, generic / specialized / numpy
  interleaved call by call (their order alternating); goal: generic within 10% of
  specialized;
* what a new sequence length and a new batch size cost after the first call: kernels
  built (``executor.build_stats``), scan loops compiled (``scan_loop.loop_stats``) and the
  wall-clock time of that first call; goal: nothing built.
"""
from __future__ import annotations

import os

for _k, _v in (("TVM_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
               ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_k, _v)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lstm as L  # noqa: E402
import bench_rnn as R  # noqa: E402


def thread_us(sides, reps):
    """{side: best CPU time of this thread per call (us)} over ``reps`` rounds of one call
    per side, the sides' order alternating round by round (one warm-up call each): no side
    always runs after the same one."""
    best = {}
    for fn in sides.values():
        fn()
    keys = list(sides)
    for r in range(reps):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            t0 = time.thread_time_ns()
            sides[k]()
            dt = time.thread_time_ns() - t0
            best[k] = min(best.get(k, dt), dt)
    return {k: v / 1e3 for k, v in best.items()}


class _Specialized:
    """``tvmsym.function`` with ``specialize=True`` while a model is built."""

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        import tvmsym
        self.orig = tvmsym.function
        if self.on:
            def function(*a, **k):
                k.setdefault("specialize", True)
                return self.orig(*a, **k)
            tvmsym.function = function
        return self

    def __exit__(self, *exc):
        import tvmsym
        tvmsym.function = self.orig


def _costs(fn, args):
    """(kernels built, loops compiled, wall s) of one call."""
    from tvmsym.runtime.executor import build_stats
    try:
        from tvmsym.runtime.scan_loop import loop_stats
    except ImportError:         # (an older tvmsym: loops not counted)
        loop_stats = {"compiled": 0}
    k0, l0 = build_stats["kernels"], loop_stats["compiled"]
    t0 = time.perf_counter()
    fn(*args)
    return build_stats["kernels"] - k0, loop_stats["compiled"] - l0, time.perf_counter() - t0


def lstm(reps):
    rng = np.random.default_rng(1)
    lengths = [100, 37, 64, 23]
    batches = [L.minibatch(rng, n) for n in lengths]
    params = L.init_params()
    fns = {}
    for spec in (False, True):
        with _Specialized(spec):
            fns[spec] = L.tvmsym_model(params)[0]
    new = {}
    for spec, f in fns.items():
        f(*batches[0])
        new[spec] = [_costs(f, b) for b in batches[1:]]
        saved = L.BATCH
        L.BATCH = 11
        try:
            new[spec].append(_costs(f, L.minibatch(rng, 41)))
        finally:
            L.BATCH = saved
    P = [p.copy() for p in params]
    t = {False: 0.0, True: 0.0, "np": 0.0}
    for b in batches:
        got = thread_us({"np": lambda: L.numpy_step(*b, P), False: lambda: fns[False](*b),
                         True: lambda: fns[True](*b)}, reps)
        for k, v in got.items():
            t[k] += v
    print(f"LSTM text classifier (bench_lstm.py): minibatches of lengths {lengths}, batch "
          f"{L.BATCH}, 1 thread, CPU time per pass")
    _report(t, new, "3 new lengths, then batch 11")


def rnn(reps):
    x, h0, params = R.init()
    fns = {}
    for spec in (False, True):
        with _Specialized(spec):
            fns[spec] = R.tvmsym_step(params)[0]
    rng = np.random.default_rng(2)
    new = {}
    for spec, f in fns.items():
        f(x, h0)
        new[spec] = [_costs(f, (x[:n], h0)) for n in (37, 13)]
        for b in (17, 5):
            new[spec].append(_costs(f, (rng.standard_normal((R.SEQ, b, R.NIN)).astype("float32"),
                                        (rng.standard_normal((b, R.NH)) * 0.1).astype("float32"))))
    P = [p.copy() for p in params]
    t = thread_us({"np": lambda: R.numpy_step(x, h0, P), False: lambda: fns[False](x, h0),
                   True: lambda: fns[True](x, h0)}, reps * 4)
    print(f"tanh RNN (bench_rnn.py): sequence {R.SEQ}, batch {R.B}, hidden {R.NH}, 1 thread, "
          "CPU time per step")
    _report(t, new, "2 new lengths, then batches 17 and 5")


def _report(t, new, what):
    g, s, n = t[False], t[True], t["np"]
    print(f"  generic       {g / 1e3:9.2f} ms   ({g / s:.2f}x specialized; goal <= 1.10x)")
    print(f"  specialized   {s / 1e3:9.2f} ms")
    print(f"  numpy         {n / 1e3:9.2f} ms   (generic / numpy {g / n:.2f}x)")
    for spec, label in ((False, "generic"), (True, "specialized")):
        c = new[spec]
        print(f"  {what}, {label}: kernels built {[k for k, _, _ in c]}, scan loops "
              f"compiled {[lp for _, lp, _ in c]}, first call {[round(w, 3) for _, _, w in c]} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=["lstm", "rnn"], default=None)
    args = ap.parse_args()
    if args.only in (None, "lstm"):
        lstm(args.reps)
    if args.only in (None, "rnn"):
        rnn(args.reps)


if __name__ == "__main__":
    main()
