"""tvmsym.sparse (Theano's theano.sparse) against scipy.sparse / numpy.

Table-driven: each record is (name, symbolic fn of (x sparse, y sparse, d dense, b dense),
reference fn of the scipy/numpy values).  One function per (format, dtype) computes every
record; every shape record is one build of it.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import tvmsym
import tvmsym.sparse as S
import tvmsym.tensor as T

FORMATS = ["csr", "csc"]
DTYPES = ["float32", "float64"]
TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-12, "atol": 1e-12}}


def _dense(v):
    return v.toarray() if sp.issparse(v) else np.asarray(v)


# x, y: sparse (m x k); d: dense (m x k); b: dense (k x n)
RECORDS = [
    ("dense_from_sparse", lambda x, y, d, b: S.dense_from_sparse(x), lambda x, y, d, b: x.toarray()),
    ("toarray", lambda x, y, d, b: x.toarray() * 2, lambda x, y, d, b: x.toarray() * 2),
    ("structured_dot", lambda x, y, d, b: S.structured_dot(x, b), lambda x, y, d, b: x @ b),
    ("dot", lambda x, y, d, b: S.dot(x, b), lambda x, y, d, b: x @ b),
    ("dot_dense_sparse", lambda x, y, d, b: S.dot(b.T, x.T), lambda x, y, d, b: b.T @ x.T),
    ("dot_vector", lambda x, y, d, b: S.dot(x, b[:, 0]), lambda x, y, d, b: x @ b[:, 0]),
    ("structured_dot_sd", lambda x, y, d, b: S.structured_dot(b.T, x.T), lambda x, y, d, b: b.T @ x.T),
    ("true_dot", lambda x, y, d, b: S.true_dot(x, b), lambda x, y, d, b: x @ b),
    ("true_dot_ss", lambda x, y, d, b: S.true_dot(x, S.transpose(y)), lambda x, y, d, b: x @ y.T),
    ("dot_ss", lambda x, y, d, b: S.dot(x, S.transpose(y)), lambda x, y, d, b: (x @ y.T).toarray()),
    ("sp_sum", lambda x, y, d, b: S.sp_sum(x), lambda x, y, d, b: x.sum()),
    ("sp_sum0", lambda x, y, d, b: S.sp_sum(x, axis=0), lambda x, y, d, b: np.asarray(x.sum(0)).ravel()),
    ("sp_sum1", lambda x, y, d, b: S.sp_sum(x, axis=1), lambda x, y, d, b: np.asarray(x.sum(1)).ravel()),
    ("add_ss", lambda x, y, d, b: S.add(x, y), lambda x, y, d, b: x + y),
    ("add_sd", lambda x, y, d, b: S.add(x, d), lambda x, y, d, b: x.toarray() + d),
    ("add_ds_op", lambda x, y, d, b: x + d, lambda x, y, d, b: x.toarray() + d),
    ("add_row", lambda x, y, d, b: S.add(x, b[:, 0]), lambda x, y, d, b: x.toarray() + b[:, 0]),
    ("sub_ss", lambda x, y, d, b: x - y, lambda x, y, d, b: x - y),
    ("sub_sd", lambda x, y, d, b: x - d, lambda x, y, d, b: x.toarray() - d),
    ("mul_ss", lambda x, y, d, b: S.mul(x, y), lambda x, y, d, b: x.multiply(y)),
    ("mul_sd", lambda x, y, d, b: S.mul(x, d), lambda x, y, d, b: x.multiply(d)),
    ("mul_scalar", lambda x, y, d, b: x * 3.0, lambda x, y, d, b: x * 3.0),
    ("neg", lambda x, y, d, b: -x, lambda x, y, d, b: -x),
    ("transpose", lambda x, y, d, b: S.transpose(x), lambda x, y, d, b: x.T),
    ("T", lambda x, y, d, b: x.T.T, lambda x, y, d, b: x),
    ("csr_from_dense", lambda x, y, d, b: S.csr_from_dense(d), lambda x, y, d, b: sp.csr_matrix(d)),
    ("csc_from_dense", lambda x, y, d, b: S.csc_from_dense(d * 2), lambda x, y, d, b: sp.csc_matrix(d * 2)),
    ("sampling_dot", lambda x, y, d, b: S.sampling_dot(d, d, S.csr_from_dense(T.dot(x.toarray(), y.toarray().T))),
     lambda x, y, d, b: sp.csr_matrix((x @ y.T).toarray()).multiply(d @ d.T)),
    ("sp_ones_like", lambda x, y, d, b: S.sp_ones_like(x), lambda x, y, d, b: (x != 0).astype(x.dtype)),
    ("roundtrip", lambda x, y, d, b: S.dense_from_sparse(S.csc_from_dense(S.dense_from_sparse(x))),
     lambda x, y, d, b: x.toarray()),
]
SHAPES = [((5, 7), 3, 0.3), ((1, 1), 1, 1.0), ((0, 4), 3, 0.5), ((6, 1), 2, 0.5), ((4, 9), 17, 0.0),
          ((13, 11), 33, 0.2)]

_FUNCS = {}


def compiled(fmt, dtype):
    key = (fmt, dtype)
    if key not in _FUNCS:
        x, y = S.matrix(fmt, "x", dtype), S.matrix(fmt, "y", dtype)
        d, b = T.matrix("d", dtype=dtype), T.matrix("b", dtype=dtype)
        _FUNCS[key] = tvmsym.function([x, y, d, b], [sym(x, y, d, b) for _, sym, _ in RECORDS],
                                      on_unused_input="ignore")
    return _FUNCS[key]


def _values(fmt, dtype, shape, n, density, seed):
    rng = np.random.default_rng(seed)
    m, k = shape
    x = sp.random(m, k, density=density, format=fmt, dtype=dtype, random_state=seed)
    y = sp.random(m, k, density=density, format=fmt, dtype=dtype, random_state=seed + 1)
    d = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return x, y, d, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape,n,density", SHAPES, ids=[str(s) for s in SHAPES])
def test_ops_against_scipy(fmt, dtype, shape, n, density):
    x, y, d, b = _values(fmt, dtype, shape, n, density, 3)
    outs = compiled(fmt, dtype)(x, y, d, b)
    for (name, sym, ref), got in zip(RECORDS, outs):
        want = ref(x, y, d, b)
        if sp.issparse(want):
            assert sp.issparse(got), name
        np.testing.assert_allclose(_dense(got), _dense(want), err_msg=name, **TOL[dtype])
        assert _dense(got).dtype == np.dtype(dtype), name


def test_output_formats_and_types():
    x = S.csr_matrix("x", dtype="float64")
    assert repr(x.type) == "Sparse[float64, csr]"
    assert S.transpose(x).type.format == "csc"
    assert (x + x).type == x.type
    assert S.dense_from_sparse(x).type == T.dmatrix
    assert S.structured_dot(x, T.dmatrix()).type == T.dmatrix
    assert S.csc_matrix("z").type.format == "csc"
    assert S.csc_matrix("z").dtype == tvmsym.config.floatX
    f = tvmsym.function([x], [S.transpose(x), x * x])
    a = sp.random(3, 4, density=0.5, format="csr", random_state=0)
    t, sq = f(a)
    assert isinstance(t, sp.csc_matrix) and isinstance(sq, sp.csr_matrix)
    np.testing.assert_array_equal(t.toarray(), a.T.toarray())


def test_input_conversion_and_errors():
    x = S.csr_matrix("x", dtype="float32")
    f = tvmsym.function([x], S.dense_from_sparse(x) + 1)
    a = sp.random(3, 4, density=0.5, format="csc", dtype="float32", random_state=0)
    np.testing.assert_allclose(f(a), a.toarray() + 1)                  # csc accepted, converted
    np.testing.assert_allclose(f(a.toarray()), a.toarray() + 1)        # dense 2-d converted
    with pytest.raises(TypeError, match="precision"):
        f(a.astype("float64"))
    with pytest.raises(TypeError):
        f(np.ones(3, dtype="float32"))
    g = tvmsym.function([x], S.structured_dot(x, x.toarray().T))
    np.testing.assert_allclose(g(a), (a @ a.T).toarray(), rtol=1e-5)
    b = T.fmatrix("b")
    h = tvmsym.function([x, b], S.structured_dot(x, b))
    with pytest.raises(ValueError, match="not aligned"):
        h(a, np.ones((5, 2), dtype="float32"))
    with pytest.raises(TypeError, match="sparse"):
        S.as_sparse_variable(T.fmatrix())
    with pytest.raises(TypeError):
        S.dot(T.fmatrix(), T.fmatrix())
    y = S.csr_matrix("y", dtype="float32")
    k = tvmsym.function([x, y], x + y)
    with pytest.raises(ValueError, match="shape"):
        k(a, sp.random(4, 3, density=0.5, format="csr", dtype="float32", random_state=1))


def test_constants_and_as_sparse_variable():
    a = sp.random(4, 4, density=0.5, format="csr", random_state=2)
    c = S.as_sparse_variable(a)
    assert c.type == S.SparseType("csr", "float64")
    d = T.dmatrix("d")
    f = tvmsym.function([d], [S.structured_dot(c, d), S.dense_from_sparse(c) + S.dense_from_sparse(c)])
    v = np.random.default_rng(0).standard_normal((4, 2))
    out = f(v)
    np.testing.assert_allclose(out[0], a @ v, rtol=1e-12)
    np.testing.assert_allclose(out[1], 2 * a.toarray(), rtol=1e-12)


def test_shared_sparse_variable():
    a = sp.random(5, 6, density=0.4, format="csc", random_state=4)
    w = tvmsym.shared(a, name="W")
    assert isinstance(w, S.SparseSharedVariable) and w.type == S.SparseType("csc", "float64")
    w2 = S.shared(a.tocsr(), name="W2")
    assert w2.type.format == "csr"
    b = T.dmatrix("b")
    f = tvmsym.function([b], [S.structured_dot(w, b), S.sp_sum(w2, axis=1)])
    v = np.ones((6, 3))
    np.testing.assert_allclose(f(v)[0], a @ v, rtol=1e-12)
    w.set_value(a * 2)
    np.testing.assert_allclose(f(v)[0], 2 * (a @ v), rtol=1e-12)
    got = w.get_value()
    assert sp.issparse(got)
    np.testing.assert_allclose(got.toarray(), 2 * a.toarray())
    np.testing.assert_allclose(f(v)[1], np.asarray(a.sum(1)).ravel(), rtol=1e-12)
    # updates of sparse shared variables are refused clearly (set_value works)
    with pytest.raises(NotImplementedError, match="sparse updates are not supported"):
        tvmsym.function([], [], updates=[(w2, w2 * 2.0)])


def test_optimizer_off_same_answer():
    x, y = S.csr_matrix("x", dtype="float64"), S.csr_matrix("y", dtype="float64")
    d, b = T.dmatrix("d"), T.dmatrix("b")
    off = tvmsym.function([x, y, d, b], [sym(x, y, d, b) for _, sym, _ in RECORDS],
                          on_unused_input="ignore", mode=tvmsym.Mode(optimizer=None))
    vals = _values("csr", "float64", (6, 5), 4, 0.4, 9)
    for (name, _, _), a, c in zip(RECORDS, compiled("csr", "float64")(*vals), off(*vals)):
        np.testing.assert_allclose(_dense(a), _dense(c), rtol=1e-12, atol=1e-12, err_msg=name)


def test_shape_of_a_sparse_variable():
    x = S.csc_matrix("x", dtype="float64")
    d = T.dmatrix("d")
    f = tvmsym.function([x, d], [x.shape, T.alloc(1.0, x.shape[1], 2) + d])
    a = sp.random(3, 4, density=0.5, format="csc", random_state=0)
    shp, y = f(a, np.zeros((4, 2)))
    np.testing.assert_array_equal(shp, [3, 4])
    assert y.shape == (4, 2)
