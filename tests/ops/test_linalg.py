"""dot / matmul / outer / tensordot / batched_dot against numpy (compiled for llvm).

One function per dtype computes every product at once; each shape record is one build.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T

DTYPES = ["float32", "float64", "int32", "int64"]
TOL = {"float32": dict(rtol=2e-4, atol=1e-3), "float64": dict(rtol=1e-10, atol=1e-10),
       "int32": dict(rtol=0, atol=0), "int64": dict(rtol=0, atol=0)}


def _rand(rng, shape, dtype):
    if dtype.startswith("int"):
        return rng.integers(-5, 6, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


_FUNCS = {}


def products(dtype):
    """One compiled function with all the products of (a, b, u, v, p, q) (cached per dtype)."""
    if dtype not in _FUNCS:
        a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
        u, v = T.vector("u", dtype=dtype), T.vector("v", dtype=dtype)
        p, q = T.tensor3("p", dtype=dtype), T.tensor3("q", dtype=dtype)
        outs = [T.dot(a, b), T.dot(a, v), T.dot(u, a), T.dot(v, v), a @ b, T.dot(a.T, a),
                T.outer(u, v), T.batched_dot(p, q), p @ b, T.dot(p, b), T.dot(a, q),
                T.tensordot(p, q, [[1, 2], [2, 1]]), T.tensordot(p, b, 1), p @ v, v @ q]
        _FUNCS[dtype] = tvmsym.function([a, b, u, v, p, q], outs)
    return _FUNCS[dtype]


def reference(a, b, u, v, p, q):
    return [a @ b, a @ v, u @ a, v @ v, a @ b, a.T @ a, np.outer(u, v), np.matmul(p, q), p @ b,
            np.dot(p, b), np.dot(a, q), np.tensordot(p, q, [[1, 2], [2, 1]]),
            np.tensordot(p, b, 1), p @ v, v @ q]


# (M, K, N, B): a is MxK, b is KxN, u is M, v is K, p is BxMxK, q is BxKxM ... see shapes()
SHAPES = [(3, 4, 5, 2), (1, 1, 1, 1), (1, 7, 1, 3), (33, 17, 40, 2), (0, 3, 4, 2), (5, 0, 4, 1),
          (64, 64, 64, 1)]


def shapes(M, K, N, B):
    return dict(a=(M, K), b=(K, N), u=(M,), v=(K,), p=(B, M, K), q=(B, K, M))


FAST = ([("float32", d) for d in SHAPES[:6]] + [("float64", d) for d in SHAPES[:4:2]]
        + [(t, SHAPES[k]) for t in ("int32", "int64") for k in (3, 4)])
SLOW = [pytest.param(t, d, marks=pytest.mark.slow) for t in DTYPES for d in SHAPES
        if (t, d) not in FAST]


@pytest.mark.parametrize("dtype,dims", FAST + SLOW, ids=str)
def test_products_vs_numpy(dtype, dims):
    rng = np.random.default_rng(sum(dims))
    sh = shapes(*dims)
    args = [_rand(rng, sh[k], dtype) for k in "abuvpq"]
    # non-contiguous inputs: a strided view of a bigger array
    big = _rand(rng, (dims[0], 2 * dims[1]), dtype)
    args[0] = big[:, ::2]
    outs = products(dtype)(*args)
    for k, (o, r) in enumerate(zip(outs, reference(*args))):
        assert o.dtype == r.dtype, k
        assert o.shape == r.shape, k
        np.testing.assert_allclose(o, r, err_msg=f"output {k}", **TOL[dtype])


_MM = {}


@pytest.mark.parametrize("M,K,N,dtype", [(1024, 1024, 1024, "float32"), (130, 77, 45, "float32"),
                                         (257, 64, 100, "float32"), (8, 9, 1000, "float32"),
                                         (130, 77, 45, "float64"),
                                         pytest.param(257, 64, 100, "float64", marks=pytest.mark.slow)])
def test_packed_matmul_odd_shapes(M, K, N, dtype):
    """The register-tiled kernel pads rows to the tile and columns to the panel width."""
    if dtype not in _MM:
        x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
        _MM[dtype] = tvmsym.function([x, y], [T.dot(x, y), T.dot(x, y.T.T) * 2])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    c, c2 = _MM[dtype](a, b)
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(c, a @ b, **tol)
    np.testing.assert_allclose(c2, 2 * (a @ b), **tol)
    if M >= 64:
        # small padded products run in place instead (lowering/gemv_shapes.py, issue 13)
        from tvmsym.lowering.gemv_shapes import unpacked
        from tvmsym.lowering.machine import host
        # (a shape-generic product, symbolic M, keeps the tile: only specialized kernels ask)
        assert "mm_pack_b" in _MM[dtype].as_text("tir") or unpacked(M, N, K, (), host(), dtype)


def test_matmul_batch_broadcast():
    x = T.tensor("float64", (False, True, False, False), "x")
    y = T.tensor3("y", dtype="float64")
    f = tvmsym.function([x, y], x @ y)
    a, b = np.random.rand(2, 1, 3, 4), np.random.rand(5, 4, 2)
    np.testing.assert_allclose(f(a, b), a @ b)
    assert (x @ y).broadcastable == (False, False, False, False)


def test_mixed_dtypes_and_scalar_dot():
    x, i = T.fmatrix("x"), T.imatrix("i")
    s = T.fscalar("s")
    assert T.dot(x, i).dtype == "float64"           # numpy: float32 . int32 -> float64
    f = tvmsym.function([x, i, s], [T.dot(x, i), T.dot(s, x)])
    a, b = np.ones((2, 3), "float32"), np.arange(6, dtype="int32").reshape(3, 2)
    r, r2 = f(a, b, 2.0)
    np.testing.assert_array_equal(r, a @ b)
    np.testing.assert_array_equal(r2, 2 * a)


def test_printing():
    x, y = T.matrix("x"), T.matrix("y")
    assert tvmsym.pp(T.dot(x, y)) == "(x \\dot y)"
    assert str(T.dot(x, y).owner.op) == "dot"
    text = tvmsym.printing.debugprint(T.dot(x, y), file="str")
    assert text == "dot [id A] ''   \n |x [id B]\n |y [id C]\n"
    assert tvmsym.pp(T.tensordot(T.tensor3("p"), y, 1)).startswith("TensorDot{[2], [0]}(p, y)")


def test_shape_errors_at_call_time():
    f = products("float64")
    rng = np.random.default_rng(1)
    sh = shapes(3, 4, 5, 2)
    args = [_rand(rng, sh[k], "float64") for k in "abuvpq"]
    args[1] = np.ones((5, 5))
    with pytest.raises(ValueError, match=r"dot: shapes \(3, 4\) and \(5, 5\) not aligned: 4 \(dim 1\) != 5 \(dim 0\)"):
        f(*args)


def test_errors_at_build_time():
    x, y = T.matrix("x"), T.matrix("y")
    with pytest.raises(ValueError, match="matmul: operand 0 is a scalar"):
        T.matmul(T.scalar("s"), x)
    with pytest.raises(ValueError, match="tensordot: axis 2 is out of range for a 2-d operand"):
        T.tensordot(x, y, [[2], [0]])
    with pytest.raises(ValueError, match="tensordot: axes lists have different lengths"):
        T.tensordot(x, y, [[0, 1], [0]])
    with pytest.raises(ValueError, match="axes=3 needs operands with at least 3 dimensions"):
        T.tensordot(x, y, 3)
    with pytest.raises(TypeError, match="batched_dot needs operands with a batch dimension"):
        T.batched_dot(T.vector("v"), x)


def test_bool_and_constant_operands():
    x, m = T.matrix("x"), T.matrix("m", dtype="bool")
    f = tvmsym.function([x, m], [T.dot(T.constant([[2.]], dtype="float32"), x), T.dot(m, m),
                                 T.dot(x, T.constant(np.ones((3, 2), "float32")))])
    a = np.arange(3, dtype="float32").reshape(1, 3)
    b = np.array([[True, False], [True, True]])
    r = f(a, b)
    np.testing.assert_array_equal(r[0], 2 * a)
    assert r[1].dtype == np.bool_
    np.testing.assert_array_equal(r[1], np.dot(b, b))
    np.testing.assert_array_equal(r[2], a @ np.ones((3, 2), "float32"))


def test_packed_batched_matmul_with_broadcast():
    """Batched products use the packed kernel too, batch dims broadcast (odd M, N, K)."""
    x = T.tensor("float32", (False, True, False, False), "x")
    y = T.tensor3("y", dtype="float32")
    p, q = T.tensor3("p"), T.tensor3("q")
    f = tvmsym.function([x, y, p, q], [x @ y, T.batched_dot(p, q)])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 41, 33), dtype="float32"), rng.standard_normal((5, 33, 20), dtype="float32")
    c, d = rng.standard_normal((6, 64, 48), dtype="float32"), rng.standard_normal((6, 48, 32), dtype="float32")
    r = f(a, b, c, d)
    np.testing.assert_allclose(r[0], a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(r[1], c @ d, rtol=1e-4, atol=1e-4)
    # the register-tiled kernel, unless the products are small enough to run in place
    # (lowering/gemv_shapes.py, issue 13)
    from tvmsym.lowering.gemv_shapes import unpacked
    from tvmsym.lowering.machine import host
    tiled = not unpacked(41, 20, 33, (2, 5), host()) or not unpacked(64, 32, 48, (6,), host())
    assert ("mm_rows" in f.as_text("tir")) == tiled


def test_packed_tensordot_one_axis():
    """A one-axis tensordot (n-d dot) is a matrix product over the flattened free dims."""
    p, w, q = T.tensor3("p"), T.matrix("w"), T.tensor3("q")
    f = tvmsym.function([p, w, q], [T.dot(p, w), T.tensordot(p, q, [[1], [2]]), T.tensordot(w, q, [[0], [1]])])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 33, 40), dtype="float32"), rng.standard_normal((40, 27), dtype="float32")
    c = rng.standard_normal((3, 40, 33), dtype="float32")
    r = f(a, b, c)
    refs = [np.dot(a, b), np.tensordot(a, c, [[1], [2]]), np.tensordot(b, c, [[0], [1]])]
    for o, e in zip(r, refs):
        np.testing.assert_allclose(o, e, rtol=1e-4, atol=1e-4)
    # 2 blocks (init + update) per tiled product; w.q is small; dot(p, w) (a batch of five
    # 33x40x27 products, w read in place) runs in place when lowering/gemv_shapes.py says so
    from tvmsym.lowering.gemv_shapes import unpacked
    from tvmsym.lowering.machine import host
    tiled = 1 + (not unpacked(33, 27, 40, (5,), host()))
    assert f.as_text("tir").count("T.sblock_attr({\"mm_cols\"") >= 2 * tiled


_VECMAT = {}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("K,N", [(400, 784), (5, 32), (1, 8), (7, 33), (3, 1), (64, 16), (0, 24)])
def test_dot_of_transposed_matrix_and_vector(dtype, K, N):
    # dot(x.T, d): the gradient of dot(x, w) w.r.t. w (vector.matrix schedule when N fills vectors)
    if dtype not in _VECMAT:
        x, d = T.matrix("x", dtype=dtype), T.vector("d", dtype=dtype)
        _VECMAT[dtype] = tvmsym.function([x, d], T.dot(x.T, d))
    rng = np.random.default_rng(K * 100 + N)
    x, d = _rand(rng, (K, N), dtype), _rand(rng, (K,), dtype)
    got = _VECMAT[dtype](x, d)
    assert got.dtype == dtype and got.shape == (N,)
    np.testing.assert_allclose(got, x.T @ d, **TOL[dtype])
