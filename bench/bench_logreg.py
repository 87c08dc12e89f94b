"""The Theano tutorial's logistic regression (400x784, float64): one training step.

    .venv/bin/python bench/bench_logreg.py [--reps 300]

tvmsym: the tutorial's code (``train = theano.function([x, y], [prediction, xent],
updates=...)``).  numpy: the same maths by hand (forward, cross-entropy, gradient,
update).  Best of ``--reps`` steps each, in alternating blocks; no goal in the issues.
"""
from __future__ import annotations

import argparse

import numpy as np
from _timing import samples_ns

import tvmsym as theano

T = theano.tensor
N, FEATS = 400, 784


def tutorial(rng):
    D = (rng.standard_normal((N, FEATS)), rng.integers(0, 2, size=N).astype("float64"))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = theano.shared(rng.standard_normal(FEATS), name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function([x, y], [prediction, xent], updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    return D, train, w.get_value(), float(b.get_value())


def numpy_step(D, state):
    x, y = D
    w, b = state
    z = x @ w + b
    p = 1 / (1 + np.exp(-z))
    pred = p > 0.5
    xent = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)    # -log(p), -log(1-p)
    d = (p - y) / len(y)
    state[0] = w - 0.1 * (x.T @ d + 0.02 * w)
    state[1] = b - 0.1 * d.sum()
    return pred, xent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    args = ap.parse_args()
    D, train, w0, b0 = tutorial(np.random.default_rng(1234))
    state = [w0.copy(), b0]
    pred, xent = train(*D)
    rp, rx = numpy_step(D, state)
    np.testing.assert_array_equal(pred, rp)
    np.testing.assert_allclose(xent, rx, rtol=1e-9, atol=1e-12)
    tt, tn = [], []
    for _ in range(3):
        tt.append(min(samples_ns(lambda: train(*D), args.reps // 3 + 1, warmup=5)) / 1e3)
        tn.append(min(samples_ns(lambda: numpy_step(D, state), args.reps // 3 + 1, warmup=5)) / 1e3)
    print("logistic regression step (the Theano tutorial's), 400x784 float64")
    print(f"  numpy  {min(tn):8.1f} us")
    print(f"  tvmsym {min(tt):8.1f} us")
    print(f"  ratio  {min(tt) / min(tn):8.2f}x")


if __name__ == "__main__":
    main()
