"""A broadcasting product of 3+ dims summed over other than its last axis (the LSTM's mean
pooling ``(hs * mask[:, :, None]).sum(0)``) is written, then summed (lowering/lower.py
``_slow_broadcast_reduce``); 2-d producers, last-axis sums and non-broadcasting producers
still run inside the reduction.  Values against numpy on several shapes and dtypes."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T


def _kernels(f):
    return [type(r.step.node.op).__name__ for r in list(f._builds.values())[-1].prog]


CASES = [  # (label, build(H, M, V, X, b), inside the reduction?)
    ("3d_mask_sum0", lambda H, M, V, X, b: (H * M[:, :, None]).sum(axis=0), False),
    ("3d_row_sum01", lambda H, M, V, X, b: (H * V).sum(axis=(0, 1)), False),
    ("3d_mask_sum1", lambda H, M, V, X, b: (H * M[:, :, None]).mean(axis=1), False),
    ("3d_mask_sum2", lambda H, M, V, X, b: (H * M[:, :, None]).sum(axis=2), True),
    ("3d_square_sum0", lambda H, M, V, X, b: (H ** 2).sum(axis=0), True),
    ("2d_row_sum0", lambda H, M, V, X, b: (X * b).sum(axis=0), True),
    ("3d_mask_full", lambda H, M, V, X, b: (H * M[:, :, None]).sum(), True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label,build,inside", CASES, ids=[c[0] for c in CASES])
def test_values_and_structure(label, build, inside, dtype):
    H, M = T.tensor3("H", dtype=dtype), T.matrix("M", dtype=dtype)
    V, X, b = T.vector("V", dtype=dtype), T.matrix("X", dtype=dtype), T.vector("b", dtype=dtype)
    f = theano.function([H, M, V, X, b], build(H, M, V, X, b), on_unused_input="ignore")
    tol = 1e-5 if dtype == "float32" else 1e-12
    rng = np.random.default_rng(0)
    for n, k, d in [(7, 3, 5), (1, 1, 1), (20, 16, 33)]:
        h = rng.standard_normal((n, k, d)).astype(dtype)
        m = (rng.random((n, k)) > 0.3).astype(dtype)
        v = rng.standard_normal(d).astype(dtype)
        x = rng.standard_normal((n, d)).astype(dtype)
        bv = rng.standard_normal(d).astype(dtype)
        got = f(h, m, v, x, bv)
        want = build(h, m, v, x, bv)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    names = _kernels(f)
    assert (len(names) == 1) == inside, names
