"""The first call at a new input shape (issue 12): no build and no shape inference.

A generic function's new input shape is served by the shape function of its signature
(runtime/shapefn.py): the buffers' shapes and the shape-arithmetic constants come from
straight-line code derived once, the kernels are the signature's.  These tests count
builds (``executor.build_stats``) and calls of the graph's shape inference
(``symbolic.shapes.infer_shapes``, however it is reached), and compare every result with
numpy; a guard that fails (a size where a rule took another branch) must fall back to the
general path and still be right.  No timing is asserted (bench/bench_mlp.py,
bench/bench_rnn.py print the first-call ratios).
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import executor, shapefn


@pytest.fixture
def infer_calls(monkeypatch):
    """A list that gets one entry per call of the graph's shape inference."""
    import tvmsym.lowering.lower as lower
    import tvmsym.symbolic.shapes as shapes
    calls = []
    orig = shapes.infer_shapes

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)
    monkeypatch.setattr(shapes, "infer_shapes", counting)
    monkeypatch.setattr(lower, "_infer_shapes", counting)
    return calls


def _builds():
    return executor.build_stats["builds"]


# ------------------------------------------------------------------ the MLP step (W6's model)
NIN, NH, NOUT, LR = 20, 32, 10, np.float32(0.1)


def _mlp(params):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    W1, b1, W2, b2 = [tvmsym.shared(p.copy(), name=n) for p, n in zip(params, ["W1", "b1", "W2", "b2"])]
    h = T.tanh(T.dot(x, W1) + b1)
    p_y = T.nnet.softmax(T.dot(h, W2) + b2)
    loss = T.nnet.categorical_crossentropy(p_y, y).mean()
    shared = [W1, b1, W2, b2]
    grads = tvmsym.grad(loss, shared)
    f = tvmsym.function([x, y], loss, updates=[(p, p - LR * g) for p, g in zip(shared, grads)])
    return f, shared


def _mlp_numpy(x, y, P):
    W1, b1, W2, b2 = P
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -(y * np.log(p)).sum(axis=1).mean()
    d2 = (p - y) / len(x)
    dh = (d2 @ W2.T) * (1 - h * h)
    return loss, [W1 - LR * (x.T @ dh), b1 - LR * dh.sum(axis=0),
                  W2 - LR * (h.T @ d2), b2 - LR * d2.sum(axis=0)]


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((NIN, NH)).astype("float32") * 0.3, np.zeros(NH, "float32"),
              rng.standard_normal((NH, NOUT)).astype("float32") * 0.3, np.zeros(NOUT, "float32")]
    f, shared = _mlp(params)
    return f, shared, rng


def _batch(rng, n):
    x = rng.standard_normal((n, NIN)).astype("float32")
    y = np.eye(NOUT, dtype="float32")[rng.integers(0, NOUT, n)]
    return x, y


def _check_step(f, shared, x, y):
    P = [s.get_value() for s in shared]
    loss = f(x, y)
    want, newP = _mlp_numpy(x, y, P)
    np.testing.assert_allclose(loss, want, rtol=1e-4, atol=1e-6)
    for s, p in zip(shared, newP):
        np.testing.assert_allclose(s.get_value(), p, rtol=1e-4, atol=1e-6)


def test_new_batch_sizes_no_build_no_shape_inference(mlp, infer_calls):
    f, shared, rng = mlp
    _check_step(f, shared, *_batch(rng, 16))       # the signature's build
    builds, hits = _builds(), shapefn.stats["hits"]
    del infer_calls[:]
    sizes = [12, 1, 7, 31, 3, 100]
    for n in sizes:
        _check_step(f, shared, *_batch(rng, n))
        _check_step(f, shared, *_batch(rng, n))     # (then the fast path of that shape)
    assert _builds() == builds
    assert infer_calls == [], "a new batch size ran the graph's shape inference"
    assert shapefn.stats["hits"] - hits == len(sizes)


def test_alternating_shapes_keep_their_own_buffers(mlp):
    """Builds at two shapes share kernels, not buffers: alternating calls stay right, and an
    output the caller holds is never overwritten by the other shape's call."""
    f, shared, rng = mlp
    x = T.fmatrix("x")
    g = tvmsym.function([x], T.tanh(x) * 2)
    xa = rng.standard_normal((9, 4)).astype("float32")
    xb = rng.standard_normal((5, 4)).astype("float32")
    ra = g(xa)
    rb = g(xb)
    builds = _builds()
    held = [g(xa), g(xb), g(xa), g(xb[:3].copy())]
    np.testing.assert_allclose(ra, np.tanh(xa) * 2, rtol=1e-6)
    np.testing.assert_allclose(rb, np.tanh(xb) * 2, rtol=1e-6)
    for r, xv in zip(held, [xa, xb, xa, xb[:3]]):
        np.testing.assert_allclose(r, np.tanh(xv) * 2, rtol=1e-6)
    assert _builds() == builds


def test_copy_serves_new_shapes(mlp):
    """A copy without updates runs the original's kernels at a new shape (a clone of the
    shape function's build)."""
    f, shared, rng = mlp
    c = f.copy(delete_updates=True)
    x, y = _batch(rng, 6)
    P = [s.get_value() for s in shared]
    builds = _builds()
    loss = c(x, y)
    np.testing.assert_allclose(loss[0], _mlp_numpy(x, y, P)[0], rtol=1e-4)
    for s, p in zip(shared, P):
        np.testing.assert_array_equal(s.get_value(), p)
    assert _builds() == builds


# ------------------------------------------------------------------ guards: other branches
def test_constant_slice_guard_falls_back_where_the_rule_branches(infer_calls):
    """``x[:5]`` is 5 rows only while x has at least 5: below, the guard fails and the
    general path serves the shape (still right), above, the shape function does."""
    x = T.fmatrix("x")
    f = tvmsym.function([x], T.exp(x[:5]) + 1)
    rng = np.random.default_rng(1)
    hits, misses = shapefn.stats["hits"], shapefn.stats["misses"]
    for n in (9, 6, 30, 3, 1, 5, 12):
        xv = rng.standard_normal((n, 7)).astype("float32")
        np.testing.assert_allclose(f(xv), np.exp(xv[:5]) + 1, rtol=1e-6)
    assert shapefn.stats["hits"] - hits == 4         # 6, 30, 5, 12: the shape function
    assert shapefn.stats["misses"] - misses == 2     # 3, 1: its guard, then the general path


def test_shape_arithmetic_constants_follow_the_shape(infer_calls):
    """Values computed from shapes (a mean's count, ``x.shape[0]``) are recomputed per shape."""
    x = T.fmatrix("x")
    out = x.mean(axis=0) * T.cast(x.shape[0], "float32") + x.sum() / T.cast(x.shape[1], "float32")
    f = tvmsym.function([x], out)
    rng = np.random.default_rng(2)
    for n in (10, 4, 1, 17, 200):
        xv = rng.standard_normal((n, 6)).astype("float32")
        want = xv.mean(axis=0) * n + xv.sum() / 6
        np.testing.assert_allclose(f(xv), want, rtol=1e-5, atol=1e-5)


def test_shared_weight_shape_change_rebuilds_not_reuses():
    """A pinned class (a weight's dim) that changes (``set_value``) fails the shape
    function's guard: the general path builds for it, results stay right."""
    rng = np.random.default_rng(3)
    W = tvmsym.shared(rng.standard_normal((4, 3)).astype("float32"), name="W")
    x = T.fmatrix("x")
    f = tvmsym.function([x], T.tanh(T.dot(x, W)))
    for n, k in ((8, 4), (5, 4), (5, 6), (2, 6), (9, 4)):
        if W.get_value().shape[0] != k:
            W.set_value(rng.standard_normal((k, 3)).astype("float32"))
        xv = rng.standard_normal((n, k)).astype("float32")
        np.testing.assert_allclose(f(xv), np.tanh(xv @ W.get_value()), rtol=1e-5, atol=1e-6)


def test_shape_errors_still_raise():
    """A call whose shapes the graph rejects fails a guard and raises the usual error."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = tvmsym.function([x, y], x + y)
    a = np.ones((4, 3), "float32")
    f(a, a)
    f(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))
    with pytest.raises(ValueError):
        f(np.ones((2, 3), "float32"), np.ones((5, 3), "float32"))


# ------------------------------------------------------------------ scan RNN: new lengths
B, RIN, RH = 3, 4, 5


def _rnn_numpy(x, h0, P, lr):
    W, U, b = P
    hs = [h0]
    for t in range(len(x)):
        hs.append(np.tanh(x[t] @ W + hs[-1] @ U + b))
    h = hs[-1]
    loss = (h * h).sum(axis=1).mean()
    gh = h * (2.0 / len(h))
    gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(len(x) - 1, -1, -1):
        d = gh * (1 - hs[t + 1] ** 2)
        gW += x[t].T @ d
        gU += hs[t].T @ d
        gb += d.sum(axis=0)
        gh = d @ U.T
    return loss, [W - lr * gW, U - lr * gU, b - lr * gb]


def test_scan_rnn_new_sequence_lengths(infer_calls):
    rng = np.random.default_rng(4)
    params = [rng.standard_normal((RIN, RH)).astype("float32") * 0.3,
              rng.standard_normal((RH, RH)).astype("float32") * 0.3, np.zeros(RH, "float32")]
    X, h0 = T.tensor3("X", dtype="float32"), T.fmatrix("h0")
    W, U, b = [tvmsym.shared(p.copy(), name=n) for p, n in zip(params, "WUb")]
    hs, _ = tvmsym.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U) + b),
                        sequences=X, outputs_info=h0)
    loss = (hs[-1] ** 2).sum(axis=1).mean()
    lr = np.float32(0.1)
    f = tvmsym.function([X, h0], loss, updates=[(p, p - lr * g) for p, g in
                                                zip([W, U, b], tvmsym.grad(loss, [W, U, b]))])
    h0v = rng.standard_normal((B, RH)).astype("float32") * 0.1

    def check(L):
        x = rng.standard_normal((L, B, RIN)).astype("float32")
        P = [s.get_value() for s in (W, U, b)]
        got = f(x, h0v)
        want, newP = _rnn_numpy(x, h0v, P, lr)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        for s, p in zip((W, U, b), newP):
            np.testing.assert_allclose(s.get_value(), p, rtol=1e-4, atol=1e-5)
    check(10)
    builds = _builds()
    del infer_calls[:]
    for L in (7, 1, 23, 10, 2):
        check(L)
    assert _builds() == builds
    assert infer_calls == [], "a new sequence length ran the graph's shape inference"


# ------------------------------------------------------------------ as_text before any call
@pytest.mark.parametrize("target,stages", [("llvm", ("tir", "llvm", "asm")),
                                           ("cuda", ("tir", "llvm", "asm", "cuda", "ptx"))])
def test_as_text_before_any_call_every_stage(target, stages):
    """A generic function shows its kernels before it is called, for every stage of its
    target (cuda: no device needed to print the code)."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    W = tvmsym.shared(np.ones((5, 3), "float32"), name="W")
    f = tvmsym.function([x, y], T.tanh(T.dot(x, W)).sum() + (x * y).sum(), target=target)
    for stage in stages:
        text = f.as_text(stage)
        assert isinstance(text, str) and len(text) > 100, stage
    other = {"llvm": "ptx", "cuda": "bogus"}[target]
    with pytest.raises(ValueError, match="unknown stage"):
        f.as_text(other)
    # still right when called afterwards, at two shapes
    for n in (4, 9):
        xv = np.full((n, 5), 0.1, "float32")
        yv = np.ones((n, 5), "float32")
        want = np.tanh(xv @ np.ones((5, 3), "float32")).sum() + (xv * yv).sum()
        if target == "llvm":
            np.testing.assert_allclose(f(xv, yv), want, rtol=1e-5)


def test_as_text_before_any_call_scan():
    X, h0 = T.tensor3("X", dtype="float32"), T.fmatrix("h0")
    U = tvmsym.shared(np.eye(3, dtype="float32"), name="U")
    hs, _ = tvmsym.scan(lambda x_t, h: T.tanh(x_t + T.dot(h, U)), sequences=X, outputs_info=h0)
    f = tvmsym.function([X, h0], hs[-1])
    for stage in ("tir", "llvm", "asm"):
        assert len(f.as_text(stage)) > 100


# ------------------------------------------------------------------ shape-manipulating graphs
def _graphs():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    return {
        "reshape": ([x], x.reshape((x.shape[0] * 2, -1)) * 2,
                    lambda a: a.reshape((a.shape[0] * 2, -1)) * 2, lambda n: [(n, 6)]),
        "join": ([x, y], T.concatenate([x, y * 2], axis=0).sum(axis=1),
                 lambda a, b: np.concatenate([a, b * 2]).sum(axis=1), lambda n: [(n, 3), (n + 2, 3)]),
        "alloc": ([x], T.alloc(np.float32(1.5), x.shape[0], 3) + x[:, :3],
                  lambda a: 1.5 + a[:, :3], lambda n: [(n, 5)]),
        "step_slice": ([x], T.exp(x[::2]) - x[::2],
                       lambda a: np.exp(a[::2]) - a[::2], lambda n: [(n, 4)]),
        "arange": ([x], x.sum(axis=1) * T.cast(T.arange(x.shape[0]), "float32"),
                   lambda a: a.sum(axis=1) * np.arange(a.shape[0], dtype="float32"), lambda n: [(n, 3)]),
        "dot_max": ([x, y], T.dot(x.T, y).max(axis=0) + x.mean(),
                    lambda a, b: (a.T @ b).max(axis=0) + a.mean(), lambda n: [(n, 4), (n, 5)]),
    }


@pytest.mark.parametrize("name", sorted(_graphs()))
def test_shape_graphs_at_many_sizes(name, infer_calls):
    """Every size gives numpy's answer (the shape function where its guards hold, the
    general path elsewhere: size 0, sizes that merge classes, branches the rules take)."""
    ins, out, ref, shapes_of = _graphs()[name]
    f = tvmsym.function(ins, out)
    rng = np.random.default_rng(5)
    for n in (4, 9, 1, 31, 0, 7, 200, 9):
        if name in ("dot_max", "step_slice", "reshape", "join") and n == 0:
            continue        # (empty reductions / reshape of 0 rows to -1: numpy refuses too)
        args = [rng.standard_normal(s).astype("float32") for s in shapes_of(n)]
        got = f(*args)
        np.testing.assert_allclose(got, ref(*args), rtol=2e-5, atol=2e-5, err_msg=f"{name} n={n}")
