"""Matrix.vector, vector.matrix, small and batched products (schedules/cpu_gemv.py): numpy's
results at odd sizes, both layouts, float32/float64, broadcasting batch dims, empty operands;
the schedules' properties (vectorized at the host's width with a tail, parallel where it
pays, the matrix never packed); float32 accuracy next to numpy's."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm
from tvmsym.lowering.machine import host

_F = {}


def _tol(dtype, K):
    if dtype == "float32":
        return dict(rtol=2e-4, atol=2e-5 * max(1.0, np.sqrt(K)))
    return dict(rtol=1e-10, atol=1e-12 * max(1.0, K))


def _vector_products(dtype):
    """One function, five products of a K vector and a KxN matrix in every layout:
    dot(v, W) and dot(x1, W) (row stream), dot(W.T, u) (row stream through a view),
    dot(Wt, v) (matrix.vector, contiguous rows) and dot(v, Wt.T) (the same through a view)."""
    if dtype not in _F:
        v, u = T.vector("v", dtype=dtype), T.vector("u", dtype=dtype)
        W, Wt, x1 = T.matrix("W", dtype=dtype), T.matrix("Wt", dtype=dtype), T.matrix("x1", dtype=dtype)
        _F[dtype] = tvmsym.function([v, u, W, Wt, x1], [T.dot(v, W), T.dot(x1, W), T.dot(W.T, u),
                                                          T.dot(Wt, v), T.dot(v, Wt.T)])
    return _F[dtype]


SIZES = [(1, 1), (7, 63), (63, 65), (65, 7), (1000, 65), (65, 1000), (1, 1000), (1000, 1), (800, 500)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("K,N", SIZES)
def test_vector_products_match_numpy(dtype, K, N):
    rng = np.random.default_rng(K * 31 + N)
    v = rng.standard_normal(K).astype(dtype)
    W = rng.standard_normal((K, N)).astype(dtype)
    u = rng.standard_normal(K).astype(dtype)
    Wt = np.ascontiguousarray(W.T)
    outs = _vector_products(dtype)(v, u, W, Wt, v[None])
    refs = [v @ W, v[None] @ W, W.T @ u, Wt @ v, v @ W]
    for o, r in zip(outs, refs):
        assert o.shape == r.shape and o.dtype == dtype
        np.testing.assert_allclose(o, r, **_tol(dtype, K))


def test_vector_products_of_empty_operands():
    f = _vector_products("float32")
    for K, N in [(0, 5), (5, 0), (0, 0)]:
        v, W = np.ones(K, "float32"), np.ones((K, N), "float32")
        outs = f(v, v, W, np.ascontiguousarray(W.T), v[None])
        for o, r in zip(outs, [v @ W, v[None] @ W, W.T @ v, W.T @ v, v @ W]):
            assert o.shape == r.shape
            np.testing.assert_array_equal(o, r)


def test_special_values_propagate():
    f = _vector_products("float32")
    K, N = 65, 70
    v, W = np.ones(K, "float32"), np.ones((K, N), "float32")
    v[3], W[5, 7], W[9, 69] = np.nan, np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        refs = [v @ W, v[None] @ W, W.T @ v, W.T @ v, v @ W]
        outs = f(v, v, W, np.ascontiguousarray(W.T), v[None])
    for o, r in zip(outs, refs):
        np.testing.assert_array_equal(o, r)


BATCHED = [(3, 1, 65, 7), (2, 7, 63, 1), (4, 65, 7, 63), (2, 1, 1000, 1), (5, 20, 64, 20), (1, 7, 1, 65),
           (6, 3, 17, 33)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("B,M,K,N", BATCHED)
def test_batched_dot_matches_numpy(dtype, B, M, K, N):
    key = ("bd", dtype)
    if key not in _F:
        p, q = T.tensor3("p", dtype=dtype), T.tensor3("q", dtype=dtype)
        qt = T.tensor3("qt", dtype=dtype)
        _F[key] = tvmsym.function([p, q, qt], [T.batched_dot(p, q), T.batched_dot(p, qt.dimshuffle(0, 2, 1))])
    rng = np.random.default_rng(B + M * 3 + K * 5 + N * 7)
    a = rng.standard_normal((B, M, K)).astype(dtype)
    b = rng.standard_normal((B, K, N)).astype(dtype)
    o1, o2 = _F[key](a, b, np.ascontiguousarray(b.transpose(0, 2, 1)))
    for o in (o1, o2):
        assert o.shape == (B, M, N) and o.dtype == dtype
        np.testing.assert_allclose(o, a @ b, **_tol(dtype, K))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batched_dot_of_matrices_and_vectors(dtype):
    p, q, m = T.matrix("p", dtype=dtype), T.matrix("q", dtype=dtype), T.tensor3("m", dtype=dtype)
    f = tvmsym.function([p, q, m], [T.batched_dot(p, q), T.batched_dot(m, q), T.batched_dot(p, m)])
    rng = np.random.default_rng(1)
    for B, n in [(1, 1), (7, 65), (33, 100)]:
        a, b = rng.standard_normal((B, n)).astype(dtype), rng.standard_normal((B, n)).astype(dtype)
        c = rng.standard_normal((B, n, n)).astype(dtype)
        o1, o2, o3 = f(a, b, c)
        np.testing.assert_allclose(o1, np.einsum("bi,bi->b", a, b), **_tol(dtype, n))
        np.testing.assert_allclose(o2, np.einsum("bij,bj->bi", c, b), **_tol(dtype, n))
        np.testing.assert_allclose(o3, np.einsum("bi,bij->bj", a, c), **_tol(dtype, n))


def test_matmul_broadcasts_batch_dims():
    one = T.TensorType("float32", (True, False, False))("one")
    p, q, w = T.tensor3("p"), T.tensor3("q"), T.matrix("w")
    g = tvmsym.function([one, q, p, w], [T.matmul(one, q), T.matmul(p, w)])
    h = tvmsym.function([w, q], T.matmul(w, q))
    rng = np.random.default_rng(2)
    for B, M, K, N in [(3, 1, 65, 7), (4, 7, 63, 33), (2, 1, 100, 1)]:
        a1 = rng.standard_normal((1, M, K)).astype("float32")
        b = rng.standard_normal((B, K, N)).astype("float32")
        a = rng.standard_normal((B, M, K)).astype("float32")
        w2 = rng.standard_normal((K, N)).astype("float32")
        wq = rng.standard_normal((M, K)).astype("float32")
        o1, o2 = g(a1, b, a, w2)
        np.testing.assert_allclose(o1, np.matmul(a1, b), **_tol("float32", K))
        np.testing.assert_allclose(o2, np.matmul(a, w2), **_tol("float32", K))
        np.testing.assert_allclose(h(wq, b), np.matmul(wq, b), **_tol("float32", K))


def test_batched_products_of_empty_operands():
    p, q = T.tensor3("p"), T.tensor3("q")
    f = tvmsym.function([p, q], T.batched_dot(p, q))
    for B, M, K, N in [(0, 3, 4, 5), (2, 0, 4, 5), (2, 3, 0, 5), (2, 3, 4, 0)]:
        a, b = np.ones((B, M, K), "float32"), np.ones((B, K, N), "float32")
        o = f(a, b)
        assert o.shape == (B, M, N)
        np.testing.assert_array_equal(o, a @ b)


@pytest.mark.parametrize("M,K,N", [(128, 256, 10), (7, 63, 65), (20, 30, 17), (3, 1000, 2)])
def test_small_products_match_numpy(M, K, N):
    a_, b_ = T.matrix("a"), T.matrix("b")
    bt = T.matrix("bt")
    f = _F.setdefault("small", tvmsym.function([a_, b_, bt], [T.dot(a_, b_), T.dot(a_, bt.T)]))
    rng = np.random.default_rng(M + K + N)
    a = rng.standard_normal((M, K)).astype("float32")
    b = rng.standard_normal((K, N)).astype("float32")
    for o in f(a, b, np.ascontiguousarray(b.T)):
        np.testing.assert_allclose(o, a @ b, **_tol("float32", K))


# ------------------------------------------------------------------ schedule properties
def _lanes(dtype):
    return _tvm.vector_bytes() // np.dtype(dtype).itemsize


def _parallel_expected():
    return host().threads > 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_matrix_with_a_tail_is_vectorized_and_parallel(dtype):
    """dot(v, W) with N % lanes != 0 (the LeNet dense layer at batch 1, 800 -> 500): whole
    vectors split over the cores, the columns left over one vector loop of their width."""
    v, W = T.vector("v", dtype=dtype), T.matrix("W", dtype=dtype)
    bvec = T.vector("b", dtype=dtype)
    f = tvmsym.function([v, W, bvec], T.tanh(T.dot(v, W) + bvec))
    K, N = 800, 500
    rng = np.random.default_rng(3)
    a, w, b = (rng.standard_normal(K).astype(dtype), rng.standard_normal((K, N)).astype(dtype),
               rng.standard_normal(N).astype(dtype))
    np.testing.assert_allclose(f(a, w, b), np.tanh(a @ w + b), **_tol(dtype, K))
    tir = f.as_text("tir")
    lanes = _lanes(dtype)
    assert f"T.vectorized({lanes})" in tir
    widths = {int(m) for m in re.findall(r"T\.vectorized\((\d+)\)", tir)}
    rest = [m for m in re.findall(r"T\.vectorized\((\d+), (\d+)\)", tir)]
    assert any(int(hi) == N and int(hi) - int(lo) < (host().threads + 1) * lanes for lo, hi in rest), tir
    assert lanes in widths
    assert "mm_pack" not in tir
    if _parallel_expected():
        assert "T.parallel(" in tir


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matrix_vector_reads_rows_in_vectors_and_in_parallel(dtype):
    x, v = T.matrix("x", dtype=dtype), T.vector("v", dtype=dtype)
    f = tvmsym.function([x, v], T.dot(x, v))
    a = np.ones((1024, 1024), dtype)
    np.testing.assert_allclose(f(a, np.ones(1024, dtype)), np.full(1024, 1024.0))
    tir = f.as_text("tir")
    assert f"T.vectorized({_lanes(dtype)})" in tir and "_rf" in tir and "mm_pack" not in tir
    if _parallel_expected():
        assert "T.parallel(" in tir


def test_small_vector_products_stay_on_one_thread():
    v, W = T.vector("v"), T.matrix("W")
    f = tvmsym.function([v, W], T.dot(v, W))
    np.testing.assert_allclose(f(np.ones(20, "float32"), np.ones((20, 40), "float32")), np.full(40, 20.0))
    tir = f.as_text("tir")
    assert "T.parallel(" not in tir and f"T.vectorized({_lanes('float32')})" in tir


def test_batched_vector_products_are_vectorized():
    p, q = T.tensor3("p"), T.tensor3("q")
    f = tvmsym.function([p, q], T.batched_dot(p, q))
    rng = np.random.default_rng(4)
    for shape_a, shape_b in [((64, 1, 128), (64, 128, 100)), ((64, 100, 128), (64, 128, 1))]:
        a, b = rng.standard_normal(shape_a).astype("float32"), rng.standard_normal(shape_b).astype("float32")
        np.testing.assert_allclose(f(a, b), a @ b, **_tol("float32", 128))
        tir = f.as_text("tir")
        assert f"T.vectorized({_lanes('float32')})" in tir
        if _parallel_expected():
            assert "T.parallel(" in tir


def test_float32_accuracy_is_numpys():
    """Long float32 reductions: the error against a float64 reference stays within a small
    factor of numpy's (OpenBLAS) own error."""
    rng = np.random.default_rng(5)
    K = 100_000
    v = rng.random(K).astype("float32")
    W = rng.random((K, 20)).astype("float32")
    Wt = np.ascontiguousarray(W.T)
    ref_vw = v.astype("float64") @ W.astype("float64")
    ref_mv = Wt.astype("float64") @ v.astype("float64")
    x, u, m = T.vector("x"), T.matrix("u"), T.matrix("m")
    f = tvmsym.function([x, u, m], [T.dot(x, u), T.dot(m, x)])
    o_vw, o_mv = f(v, W, Wt)
    for ours, theirs, ref in [(o_vw, v @ W, ref_vw), (o_mv, Wt @ v, ref_mv)]:
        err = np.max(np.abs(ours - ref) / ref)
        err_np = np.max(np.abs(theirs - ref) / ref)
        assert err <= 4 * err_np + 1e-6, (err, err_np)


@pytest.mark.parametrize("layout", ["x.v", "x.T.v"])
def test_shape_generic_vector_products_are_vectorized(layout):
    """One kernel for every size (symbolic rows, columns and contraction): whole vectors by
    construction plus a tail, float32 sums as accurate as numpy's."""
    x, v = T.matrix("x"), T.vector("v")
    f = tvmsym.function([x, v], T.dot(x, v) if layout == "x.v" else T.dot(x.T, v))
    rng = np.random.default_rng(6)
    for M, K in [(1000, 999), (7, 65), (65, 7), (1, 1000), (3, 1)]:
        a = rng.standard_normal((M, K) if layout == "x.v" else (K, M)).astype("float32")
        b = rng.standard_normal(K).astype("float32")
        ref = a @ b if layout == "x.v" else a.T @ b
        np.testing.assert_allclose(f(a, b), ref, **_tol("float32", K))
    tir = f.as_text("tir")
    assert f"T.vectorized({_lanes('float32')})" in tir


def test_generic_rows_tiles_with_a_guarded_last_tile():
    """dot(x, w) with w a shared vector (K static, rows symbolic) and batched products with one
    column: row tiles, the last partial tile guarded; every row count gives numpy's result."""
    rng = np.random.default_rng(7)
    w = tvmsym.shared(rng.standard_normal(128).astype("float32"), name="w")
    x, p, q = T.matrix("x"), T.tensor3("p"), T.tensor3("q")
    f = tvmsym.function([x], T.dot(x, w))
    g = tvmsym.function([p, q], T.batched_dot(p, q))
    for M in [1, 3, 5, 64, 1023]:
        a = rng.standard_normal((M, 128)).astype("float32")
        np.testing.assert_allclose(f(a), a @ w.get_value(), **_tol("float32", 128))
        pa = rng.standard_normal((3, M, 128)).astype("float32")
        qa = rng.standard_normal((3, 128, 1)).astype("float32")
        np.testing.assert_allclose(g(pa, qa), pa @ qa, **_tol("float32", 128))
    assert f"T.vectorized({_lanes('float32')})" in f.as_text("tir")


# ------------------------------------------------------------------ issue 13: generic matrix.vector
def test_generic_matrix_vector_row_tiles_at_odd_sizes():
    """dot(x, v) with symbolic rows and contraction (the default, shape-generic build): row
    tiles sharing each load of v, the last partial tile and the last partial vector of k
    guarded; the partial sums a fixed-size buffer (registers, not a per-call workspace); the
    whole tiles on all cores when the run-time size repays it; numpy's results at odd
    sizes in both layouts, one build for all of them."""
    from tvmsym.runtime.executor import build_stats
    x, v, u = T.matrix("x"), T.vector("v"), T.vector("u")
    f = tvmsym.function([x, v, u], [T.dot(x, v), T.dot(x.T, u)])
    rng = np.random.default_rng(13)
    sizes = [1, 7, 63, 65, 1000]
    before = build_stats["builds"]
    for M, K in [(m, k) for m in sizes for k in sizes]:
        a = rng.standard_normal((M, K)).astype("float32")
        b = rng.standard_normal(K).astype("float32")
        c = rng.standard_normal(M).astype("float32")
        o1, o2 = f(a, b, c)
        np.testing.assert_allclose(o1, a @ b, **_tol("float32", K))
        np.testing.assert_allclose(o2, a.T @ c, **_tol("float32", M))
    # one generic build for every size (two: equal sizes share a class, and M == K builds
    # its own; none from a warm cache)
    assert build_stats["builds"] - before <= 2
    tir = f.as_text("tir")
    assert f"T.vectorized({_lanes('float32')})" in tir
    allocs = re.findall(r"(\w*rf_local\w*) = T\.sblock_alloc_buffer\(\(([^)]*)\)", tir)
    assert allocs and all(re.fullmatch(r"\d+, \d+", shape) for _, shape in allocs), allocs
    if _parallel_expected():
        assert "T.parallel(" in tir


@pytest.fixture(scope="module")
def _few_rows_products():
    x, w, wt, bias = T.matrix("x"), T.matrix("w"), T.matrix("wt"), T.vector("bias")
    return tvmsym.function([x, w, wt, bias], [T.dot(x, w), T.tanh(T.dot(x, w) + bias), T.dot(x, wt.T)])


@pytest.mark.parametrize("M", [1, 2, 3, 5, 7, 65])
@pytest.mark.parametrize("K,N", [(800, 500), (63, 7), (65, 1000)])
def test_generic_products_of_few_rows_read_b_in_place(_few_rows_products, M, K, N):
    """Shape-generic dot(x, W) with fewer rows than a register tile (a batch of 1) or a few
    rows left over: those rows read W in place over its N columns (no padded panels), the
    packing of W runs only when a whole row tile exists; numpy's results for plain,
    fused (bias + tanh) and transposed-W products."""
    rng = np.random.default_rng(M * 7 + K + N)
    a = rng.standard_normal((M, K)).astype("float32")
    w = rng.standard_normal((K, N)).astype("float32")
    bias = rng.standard_normal(N).astype("float32")
    o1, o2, o3 = _few_rows_products(a, w, np.ascontiguousarray(w.T), bias)
    tol = _tol("float32", K)
    np.testing.assert_allclose(o1, a @ w, **tol)
    np.testing.assert_allclose(o2, np.tanh(a @ w + bias), **tol)
    np.testing.assert_allclose(o3, a @ w, **tol)
    tir = _few_rows_products.as_text("tir")
    generic = re.search(r"sblock\(\"Dot_\w*_g[mt]", tir)     # (M == K: specialized kernels)
    if generic and "mm_pack_b" in tir:      # the packing of W guarded by the row count
        assert re.search(r"if \w+ >= \d+:\n(\s+for .*\n)+\s+with T\.sblock\(\"mm_pack_b\"\)", tir), tir


@pytest.mark.parametrize("M,K,N", [(1, 800, 500), (7, 65, 1000), (3, 63, 7)])
def test_few_rows_generic_equals_specialized(M, K, N):
    """The generic product (tail rows in place) and the specialized one (gemv_shapes'
    unpacked tiles) both give numpy's result."""
    x, w = T.matrix("x"), T.matrix("w")
    rng = np.random.default_rng(M + K + N)
    a = rng.standard_normal((M, K)).astype("float32")
    b = rng.standard_normal((K, N)).astype("float32")
    for spec in (False, True):
        f = tvmsym.function([x, w], T.dot(x, w), specialize=spec)
        np.testing.assert_allclose(f(a, b), a @ b, **_tol("float32", K))
