"""Special functions: tvmsym's vectorized kernels next to scipy.special on the same data.

    .venv/bin/python bench/bench_special.py [--reps 10] [--n 1000000]

Each row: one function on n elements of float32 and of float64 (inputs spread over the
function's domain), best of ``--reps`` calls each side (the machine is shared), and the
ratio tvmsym / scipy (below 1: tvmsym faster).  Results are checked against scipy first.
"""
from __future__ import annotations

import argparse

import numpy as np
import scipy.special as sp
from _timing import samples_ns

import tvmsym
import tvmsym.tensor as T

CASES = [
    ("psi", T.psi, sp.psi, (0.05, 30.0)),
    ("tri_gamma", T.tri_gamma, lambda x: sp.polygamma(1, x), (0.05, 30.0)),
    ("erfinv", T.erfinv, sp.erfinv, (-0.999, 0.999)),
    ("erfcinv", T.erfcinv, sp.erfcinv, (1e-6, 1.999)),
    ("erfcx", T.erfcx, sp.erfcx, (-5.0, 50.0)),
    ("i0", T.i0, sp.i0, (-30.0, 30.0)),
    ("i1", T.i1, sp.i1, (-30.0, 30.0)),
    ("j0 (libm)", T.j0, sp.j0, (0.0, 50.0)),
]


def best_ms(fn, reps):
    return min(samples_ns(fn, reps, warmup=1)) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'function':<12} {'dtype':<8} {'tvmsym ms':>10} {'scipy ms':>10} {'ratio':>7}")
    for name, fn, ref, (lo, hi) in CASES:
        for dt in ("float32", "float64"):
            x = T.vector(dtype=dt)
            f = tvmsym.function([x], fn(x))
            a = rng.uniform(lo, hi, args.n).astype(dt)
            tol = 1e-5 if dt == "float32" else 1e-11
            np.testing.assert_allclose(f(a), ref(a), rtol=tol, atol=tol)
            ours, theirs = best_ms(lambda: f(a), args.reps), best_ms(lambda: ref(a), args.reps)
            print(f"{name:<12} {dt:<8} {ours:>10.2f} {theirs:>10.2f} {ours / theirs:>7.2f}")


if __name__ == "__main__":
    main()
