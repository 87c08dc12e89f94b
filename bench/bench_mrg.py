"""MRG_RandomStreams.uniform (1,000,000 float32, Theano's 60*256 streams): the TVM kernel next
to numpy.

    .venv/bin/python bench/bench_mrg.py [--reps 50]

tvmsym: ``theano.function([], srng.uniform((1000, 1000), nstreams=60 * 256))`` (MRG31k3p,
the numbers of Theano 1.0, one stream per parallel task).  numpy: ``Generator.random``
(PCG64) and ``RandomState.random_sample`` (MT19937), float32, for scale.  Best of ``--reps``
calls each; no goal in the issues.
"""
from __future__ import annotations

import argparse

import numpy as np
from _timing import samples_ns

import tvmsym as theano
from tvmsym.sandbox.rng_mrg import MRG_RandomStreams

SHAPE = (1000, 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args()
    srng = MRG_RandomStreams(seed=1234)
    f = theano.function([], srng.uniform(SHAPE, dtype="float32", nstreams=60 * 256))
    u = f()
    assert u.dtype == np.float32 and u.shape == SHAPE and 0 < u.min() and u.max() < 1
    gen, rs = np.random.default_rng(1), np.random.RandomState(1)
    best = {}
    for name, fn in [("tvmsym MRG31k3p", f),
                     ("numpy Generator.random float32", lambda: gen.random(SHAPE, np.float32)),
                     ("numpy RandomState float64->32",
                      lambda: rs.random_sample(SHAPE).astype(np.float32))]:
        best[name] = min(samples_ns(fn, args.reps, warmup=2)) / 1e3
    base = best["tvmsym MRG31k3p"]
    for name, us in best.items():
        print(f"{name:34s} {us:9.1f} us  ({us / base:.2f}x tvmsym)")


if __name__ == "__main__":
    main()
