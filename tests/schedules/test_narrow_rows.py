"""Narrow rows (schedules/cpu_narrow.py): kernels over [rows, C] with a static C shorter than a
vector, vectorized over the rows (a classifier head: softmax, its cross-entropy gradient)."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm
from tvmsym.lowering.narrow_rows import narrow
from tvmsym.runtime import executor

LANES32 = _tvm.vector_bytes() // 4
# narrow widths (2 .. lanes-1) and the two just past them (the row-vector schedules)
WIDTHS = sorted({2, 3, LANES32 // 2 + 2, LANES32 - 1, LANES32, LANES32 + 1})
ROWS = (1, 7, 17, 128, 4000)      # 4000 x C >= the parallel threshold for C >= 9


def _softmax64(a):
    a = a.astype("float64")
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _head(c, dtype="float32", **kw):
    """softmax, log-softmax and the cross-entropy gradient's elementwise kernel over the rows
    of dot(x, W): W's C columns make C a static extent of the generic kernels."""
    x, w, v, y = T.matrix("x", dtype), T.matrix("w", dtype), T.vector("v", dtype), T.matrix("y", dtype)
    z = T.dot(x, w)
    ls = T.nnet.logsoftmax(z)
    outs = [T.nnet.softmax(z), ls, y - T.exp(ls) * v.dimshuffle(0, "x")]
    return tvmsym.function([x, w, v, y], outs, **kw)


@pytest.fixture(scope="module", params=WIDTHS)
def head(request):
    c = request.param
    return c, _head(c)


def _data(rng, m, c, dtype="float32", k=5):
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((k, c)) * 3).astype(dtype)
    return x, w, rng.standard_normal(m).astype(dtype), rng.standard_normal((m, c)).astype(dtype)


def test_narrow_predicate():
    assert narrow(10, 16) and narrow(2, 16) and narrow(15, 16)
    assert not narrow(16, 16) and not narrow(1, 16) and not narrow(17, 16)
    assert not narrow(_tvm.tirx.Var("n", "int32"), 16)
    assert narrow(_tvm.tirx.IntImm("int32", 3), 8)
    assert not narrow(10, 64)       # (1-byte types on AVX-512: not worth the unrolled code)


def test_byte_and_int_rows_build_quickly_and_match_numpy():
    """Bool and int8 rows (64 lanes on AVX-512) keep the row-long schedule; int32 rows narrow."""
    rng = np.random.default_rng(2)
    for c in (10, 40):
        x, w, v = T.matrix("x"), T.matrix("w"), T.vector("v")
        z = T.dot(x, w)
        outs = [T.and_(T.gt(z, 0), T.gt(v, 0).dimshuffle(0, "x")),
                T.cast(z, "int8") + T.cast(v * 10, "int8").dimshuffle(0, "x"),
                T.cast(z * 10, "int32") * T.cast(v * 10, "int32").dimshuffle(0, "x")]
        f = tvmsym.function([x, w, v], outs)
        for m in (1, 7, 100):
            a, b = _data(rng, m, c)[:2]
            vv = rng.standard_normal(m).astype("float32")
            zz = a @ b
            refs = [(zz > 0) & (vv > 0)[:, None],
                    zz.astype("int8") + (vv * 10).astype("int8")[:, None],
                    (zz * 10).astype("int32") * (vv * 10).astype("int32")[:, None]]
            for o, e in zip(f(a, b, vv), refs):
                assert o.dtype == e.dtype
                np.testing.assert_array_equal(o, e)


def test_head_vs_numpy_odd_rows_one_build(head):
    c, f = head
    rng = np.random.default_rng(c)
    n = None
    for k, m in enumerate(ROWS):
        x, w, v, y = _data(rng, m, c)
        sm, ls, g = f(x, w, v, y)
        z = x.astype("float64") @ w
        ref = _softmax64(z)
        np.testing.assert_allclose(sm, ref, rtol=2e-5, atol=1e-7)
        np.testing.assert_allclose(ls, np.log(ref), rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(g, y - ref * v[:, None], rtol=2e-5, atol=2e-5)
        if k == 0:
            n = executor.build_stats["builds"]
    if 8 <= c < LANES32:    # (narrower products are specialized per row count: packable() wants
        # N >= 8; wider ones are outside this change)
        assert executor.build_stats["builds"] == n      # one build serves every row count


def test_empty_rows():
    c = LANES32 // 2 + 2
    f = _head(c)
    x, w, v, y = _data(np.random.default_rng(1), 0, c)
    for r in f(x, w, v, y):
        assert r.shape == (0, c)


def test_float64_narrow_rows():
    lanes = _tvm.vector_bytes() // 8
    c = max(2, lanes - 1)
    f = _head(c, "float64")
    rng = np.random.default_rng(3)
    for m in (1, 9, 33):
        x, w, v, y = _data(rng, m, c, "float64")
        sm, ls, g = f(x, w, v, y)
        ref = _softmax64(x @ w)
        np.testing.assert_allclose(sm, ref, rtol=1e-12)
        np.testing.assert_allclose(ls, np.log(ref), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, y - ref * v[:, None], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("specialize", [False, True])
def test_inf_and_nan_rows_as_numpy(specialize):
    c = LANES32 // 2 + 2
    f = _head(c, specialize=specialize)
    rng = np.random.default_rng(5)
    x, w, v, y = _data(rng, 21, c)
    w[0, 1] = np.inf            # row r: z[r, 1] = x[r, 0] * inf: +-inf (or nan at 0)
    x[2, 1] = np.nan
    x[3, :] = 0
    x[3, 0] = -np.inf          # z[3] = -inf * w[0]: infinities of both signs
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        z = x.astype("float64") @ w.astype("float64")
        ref = _softmax64(z)
        refs = [ref, z - z.max(-1, keepdims=True)
                - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)),
                y - ref * v[:, None]]
        assert np.isnan(ref).any() and np.isfinite(ref).any()
        for a, r in zip(f(x, w, v, y), refs):
            np.testing.assert_array_equal(np.isnan(a), np.isnan(r))
            np.testing.assert_allclose(a, r, rtol=2e-5, atol=2e-5)


def test_specialized_vs_numpy_odd_rows():
    for c in (3, LANES32 // 2 + 2):
        f = _head(c, specialize=True)
        rng = np.random.default_rng(10 + c)
        for m in (1, 7, 4000):
            x, w, v, y = _data(rng, m, c)
            sm, ls, g = f(x, w, v, y)
            ref = _softmax64(x.astype("float64") @ w)
            np.testing.assert_allclose(sm, ref, rtol=2e-5, atol=1e-7)
            np.testing.assert_allclose(ls, np.log(ref), rtol=2e-5, atol=2e-5)
            np.testing.assert_allclose(g, y - ref * v[:, None], rtol=2e-5, atol=2e-5)


def test_optimizer_off_same_answer():
    c = LANES32 // 2 + 2
    f, g = _head(c), _head(c, mode=tvmsym.Mode(optimizer=None))
    x, w, v, y = _data(np.random.default_rng(6), 37, c)
    for a, b in zip(f(x, w, v, y), g(x, w, v, y)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_crossentropy_gradient_by_finite_differences():
    c = LANES32 // 2 + 2
    rng = np.random.default_rng(7)
    y = np.eye(c, dtype="float64")[rng.integers(0, c, 13)]

    def cost(x, w, b):
        p = T.nnet.softmax(T.dot(x, w) + b)
        return T.nnet.categorical_crossentropy(p, T.constant(y)).mean()
    pt = [rng.standard_normal((13, 4)), rng.standard_normal((4, c)), rng.standard_normal(c)]
    tvmsym.gradient.verify_grad(cost, pt, rng=np.random.RandomState(0))


@pytest.mark.parametrize("specialize", [False, True])
def test_kernels_are_row_vectorized(specialize):
    """The log-softmax and the broadcasting elementwise kernel vectorize the rows by the
    machine's lanes (no row-long partial sums: those are for rows of whole vectors)."""
    c = LANES32 // 2 + 2
    f = _head(c, specialize=specialize)
    x, w, v, y = _data(np.random.default_rng(8), 9, c)
    f(x, w, v, y)
    tir = f.as_text("tir")
    kernels = tir.split("@T.prim_func")
    ls = [k for k in kernels if "LogSoftmax" in k and "_lse" in k]
    assert ls and all("_max_gp" not in k and "_max_rf" not in k and f"T.vectorized({LANES32})" in k
                      for k in ls)
    ew = [k for k in kernels if "exp" in k and "LogSoftmax" not in k and "Softmax" not in k
          and "T.vectorized" in k]
    assert ew and all(f"T.vectorized({LANES32})" in k for k in ew)
