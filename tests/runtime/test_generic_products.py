"""Shape-generic matrix products (lowering/generic_matmul.py, schedules/cpu_matmul_generic.py):
one build serves every batch size (rows M, or the contraction K of a weight gradient),
results equal numpy's at odd sizes, generic and specialize=True alike, with the fused
epilogues (bias + activation, the SGD update fused into the gradient product)."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import executor

SIZES = (128, 1, 7, 31, 1000, 0, 100)


def _builds():
    return executor.build_stats["builds"]


@pytest.fixture(scope="module")
def dense():
    """y = x @ W, tanh(x @ W + b) (FusedDot), with N = 10 (a padded register panel) and
    N = 48, in float32 and float64; one function per (dtype, N, specialize)."""
    out = {}
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for n in (10, 48):
            W = rng.standard_normal((20, n)).astype(dtype)
            b = rng.standard_normal(n).astype(dtype)
            x = T.matrix("x", dtype=dtype)
            Ws, bs = tvmsym.shared(W, name="W"), tvmsym.shared(b, name="b")
            fs = {spec: tvmsym.function([x], [T.dot(x, Ws), T.tanh(T.dot(x, Ws) + bs)], specialize=spec)
                  for spec in (False, True)}
            out[(dtype, n)] = (fs, W, b)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [10, 48])
def test_dense_one_build_any_batch(dense, dtype, n):
    fs, W, b = dense[(dtype, n)]
    rng = np.random.default_rng(1)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for spec in (False, True):
        f = fs[spec]
        counts = []
        for m in (SIZES if not spec else SIZES[:3]):          # (specialized: a build per size)
            xv = rng.standard_normal((m, 20)).astype(dtype)
            before = _builds()
            p, h = f(xv)
            counts.append(_builds() - before)
            want = xv.astype("float64") @ W.astype("float64")
            assert p.shape == (m, n) and p.dtype == dtype
            np.testing.assert_allclose(p, want, **tol)
            np.testing.assert_allclose(h, np.tanh(want + b), **tol)
        if not spec:
            assert sum(counts[1:]) == 0, f"generic builds per new batch size: {counts}"
            assert not f._plan.__dict__.get("_generic_errors")
            sizes = {"x": (128, 20), "W": (20, n), "b": (n,)}
            text = f.as_text("tir", shapes=[sizes[v.name] for v in f._plan.fgraph.inputs])
            assert "_gm" in text and "_gt" in text      # the row tiles and the tail rows


def _mlp(nin, nh, nout, specialize, seed=0):
    rng = np.random.default_rng(seed)
    P = [rng.standard_normal((nin, nh)).astype("float32") * np.float32(0.3),
         rng.standard_normal(nh).astype("float32") * np.float32(0.1),
         rng.standard_normal((nh, nout)).astype("float32") * np.float32(0.3),
         rng.standard_normal(nout).astype("float32") * np.float32(0.1)]
    x, y = T.fmatrix("x"), T.fmatrix("y")
    W1, b1, W2, b2 = [tvmsym.shared(p.copy(), name=n) for p, n in zip(P, ["W1", "b1", "W2", "b2"])]
    h = T.tanh(T.dot(x, W1) + b1)
    p = T.nnet.softmax(T.dot(h, W2) + b2)
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    shared = [W1, b1, W2, b2]
    lr = np.float32(0.1)
    step = tvmsym.function([x, y], loss, updates=[(s, s - lr * g) for s, g in zip(shared, T.grad(loss, shared))],
                           specialize=specialize)
    return step, shared, P


def _numpy_step(x, y, P, lr=np.float32(0.1)):
    W1, b1, W2, b2 = [p.astype("float64") for p in P]
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - z.max(1, keepdims=True))
    s = e / e.sum(1, keepdims=True)
    loss = -(y * np.log(s)).sum(1).mean()
    d2 = (s - y) / max(len(x), 1)
    dh = (d2 @ W2.T) * (1 - h * h)
    return loss, [W1 - lr * (x.T @ dh), b1 - lr * dh.sum(0), W2 - lr * (h.T @ d2), b2 - lr * d2.sum(0)]


@pytest.mark.parametrize("specialize", [False, True])
def test_mlp_step_batch_128_100_1_builds_once(specialize):
    """The W6 step (small): the products have a symbolic batch as rows (forward, input
    gradient) and as contraction (the weight gradients, their SGD update fused)."""
    step, shared, P = _mlp(50, 24, 10, specialize)
    rng = np.random.default_rng(2)
    counts = []
    for m in ((128, 100, 1, 7, 33) if not specialize else (128, 1)):
        x = rng.standard_normal((m, 50)).astype("float32")
        y = np.eye(10, dtype="float32")[rng.integers(0, 10, m)]
        for s, p in zip(shared, P):
            s.set_value(p)
        before = _builds()
        loss = step(x, y)
        counts.append(_builds() - before)
        want, new = _numpy_step(x, y, P)
        np.testing.assert_allclose(loss, want, rtol=1e-4, atol=1e-5)
        for s, w in zip(shared, new):
            np.testing.assert_allclose(s.get_value(), w, rtol=1e-4, atol=1e-5)
    if specialize:
        assert all(c >= 1 for c in counts), counts
    else:
        assert counts[0] >= 1 and sum(counts[1:]) == 0, f"builds per batch size: {counts}"
        assert not step._plan.__dict__.get("_generic_errors")


def test_weight_gradient_contraction_symbolic():
    """x.T @ d with the batch as the contraction K (K = 0: a zero product, 1, 7, 1000)."""
    x, d = T.fmatrix("x"), T.fmatrix("d")
    f = tvmsym.function([x, d], T.dot(x.T, d))
    rng = np.random.default_rng(3)
    counts = []
    for k in (64, 7, 1, 1000, 3):
        xv = rng.standard_normal((k, 40)).astype("float32")
        dv = rng.standard_normal((k, 24)).astype("float32")
        before = _builds()
        r = f(xv, dv)
        counts.append(_builds() - before)
        np.testing.assert_allclose(r, xv.T.astype("f8") @ dv, rtol=2e-5, atol=2e-4)
    # no shared weights here: M = 40 and N = 24 are inputs' dims too; N is kept static
    # (a new N builds again), the batch K never does
    assert sum(counts[1:]) == 0, counts


_CHILD = """
import sys
import numpy as np
import tvmsym, tvmsym.tensor as T
from tvmsym.runtime import executor, shapefn, warm
rng = np.random.default_rng(0)
W = tvmsym.shared(rng.standard_normal((30, 16)).astype("float32"), name="W")
x, d = T.fmatrix("x"), T.fmatrix("d")
f = tvmsym.function([x, d], T.tanh(T.dot(x, W)), updates=[(W, W - np.float32(0.1) * T.dot(x.T, d))])
ok = True
for m in [int(a) for a in sys.argv[1].split(",")]:
    W.set_value(rng.standard_normal((30, 16)).astype("float32"))
    w0 = W.get_value()
    xv = rng.standard_normal((m, 30)).astype("float32")
    dv = rng.standard_normal((m, 16)).astype("float32")
    r = f(xv, dv)
    ok = ok and np.allclose(r, np.tanh(xv @ w0), rtol=1e-5, atol=1e-5) \\
        and np.allclose(W.get_value(), w0 - 0.1 * xv.T @ dv, rtol=1e-4, atol=1e-5)
# (a new batch size is served by the loaded entry's shape function: runtime/shapefn.py)
print("RESULT", ok, "tvm" in sys.modules, executor.build_stats["builds"],
      warm.stats["hits"] + shapefn.stats["hits"])
"""


def test_warm_process_serves_new_batch_sizes_without_tvm(tmp_path):
    """A generic signature's cache entry serves every batch size in a new process: no
    ``import tvm``, no build (runtime/warm_generic.py)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}")
    env.pop("TVMSYM_NO_WARM", None)

    def child(sizes):
        p = subprocess.run([sys.executable, "-c", _CHILD, sizes], env=env, capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, p.stderr[-3000:]
        ok, has_tvm, builds, hits = p.stdout.split("RESULT")[1].split()
        return ok == "True", has_tvm == "True", int(builds), int(hits)
    ok, has_tvm, builds, _ = child("128")
    assert ok and has_tvm and builds >= 1
    ok, has_tvm, builds, hits = child("100,1,7,128")
    assert ok, "warm results differ from numpy"
    assert not has_tvm and builds == 0 and hits == 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_regression_matvec_vecmat_any_batch(dtype):
    """The tutorial's logistic regression: x @ w (matrix.vector, rows = the batch) and its
    gradient x.T @ r (vector.matrix, contraction = the batch) generic; one build."""
    rng = np.random.default_rng(4)
    x, y = T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    w0 = rng.standard_normal(64).astype(dtype)
    w = tvmsym.shared(w0.copy(), name="w")
    p = 1 / (1 + T.exp(-T.dot(x, w)))
    cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean()
    train = tvmsym.function([x, y], [p, cost], updates=[(w, w - np.asarray(0.1, dtype) * T.grad(cost, w))])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-6, atol=1e-9)
    counts = []
    for m in (400, 1, 7, 31, 1000):
        w.set_value(w0)
        xv = rng.standard_normal((m, 64)).astype(dtype)
        yv = rng.integers(0, 2, m).astype(dtype)
        before = _builds()
        pv, cv = train(xv, yv)
        counts.append(_builds() - before)
        pw = 1 / (1 + np.exp(-(xv.astype("f8") @ w0)))
        np.testing.assert_allclose(pv, pw, **tol)
        np.testing.assert_allclose(cv, (-yv * np.log(pw) - (1 - yv) * np.log(1 - pw)).mean(), **tol)
        np.testing.assert_allclose(w.get_value(), w0 - 0.1 * xv.T @ (pw - yv) / m, **tol)
    assert counts[0] >= 1 and sum(counts[1:]) == 0, counts
    assert not train._plan.__dict__.get("_generic_errors")
