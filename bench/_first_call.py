"""The first call at a new input shape against the steady call (issue 12: at most 3x).

``first_call_lines(fn, make_args, sizes, clock, what)`` calls the compiled ``fn`` at each new
size in turn (``make_args(n)``: its arguments) and prints, per size: the first call's time,
the steady time at that size (best of ``reps``), their ratio, and how many builds the first
call made and whether the shape function served it (runtime/shapefn.py).  One first call
is one sample (a shared machine may slow it down), so the first call is also repeated
after dropping the function's per-shape state for that shape (its build, its runner: what a
new shape's first call makes) and the best of those is printed too.
"""
from __future__ import annotations


def _forget(fn, args):
    """Drop ``fn``'s per-shape state of ``args``' shapes, so the next call is a first call."""
    key = tuple(a.shape for a in args) + tuple(v.shape for v in fn._implicit_values())
    for cache in (fn._builds, fn._kernels, fn._fast_calls):
        cache.pop(key, None)


def first_call_lines(fn, make_args, sizes, clock, what="batch", reps=20, repeats=15,
                     goal=3.0, goal_sizes=None):
    """Print one line per size of ``sizes``; returns [(size, first, best first, steady)] (us).
    ``goal_sizes``: the sizes the goal (first call <= ``goal`` x steady) is judged at (all
    by default)."""
    from tvmsym.runtime import executor, shapefn
    rows = []
    for n in sizes:
        args = make_args(n)
        b0, h0 = executor.build_stats["builds"], shapefn.stats["hits"]
        t0 = clock()
        fn(*args)
        first = (clock() - t0) / 1e3
        builds = executor.build_stats["builds"] - b0
        served = shapefn.stats["hits"] - h0
        ts = []
        for _ in range(reps):
            t0 = clock()
            fn(*args)
            ts.append(clock() - t0)
        steady = min(ts) / 1e3
        again = []
        for _ in range(repeats):
            _forget(fn, args)
            t0 = clock()
            fn(*args)
            again.append((clock() - t0) / 1e3)
        best = min(again)
        how = "shape function" if served else "general path"
        judged = goal_sizes is None or n in goal_sizes
        mark = (f"goal <= {goal:.0f}x: " + ("ok" if best <= goal * steady else "MISSED") + "; "
                if judged else "")
        print(f"  first call at {what} {n:<5d} {first:9.1f} us   ({first / steady:.2f}x the steady "
              f"{steady:.1f} us; best of {repeats} first calls {best:.1f} us = {best / steady:.2f}x, "
              f"{mark}{builds} builds, {how})")
        rows.append((n, first, best, steady))
    return rows
