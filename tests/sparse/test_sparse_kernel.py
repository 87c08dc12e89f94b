"""The TVM kernel of sparse (csr) x dense products against scipy: shapes around the vector
width (scalar tail), empty dimensions, no stored values, duplicate and unsorted indices,
int64 indices, csc operands, mixed dtypes; one build serves every sparsity pattern."""
import numpy as np
import pytest
import scipy.sparse as sp

import tvmsym
import tvmsym.sparse as S
import tvmsym.tensor as T
from tvmsym import _tvm

_FUNCS = {}


def product(fmt, a_dtype, b_dtype):
    key = (fmt, a_dtype, b_dtype)
    if key not in _FUNCS:
        a, b = S.matrix(fmt, "a", a_dtype), T.matrix("b", dtype=b_dtype)
        _FUNCS[key] = tvmsym.function([a, b], [S.structured_dot(a, b), S.dot(a, b) * 2])
    return _FUNCS[key]


def _check(f, a, b, rtol):
    want = np.asarray(a @ b)
    got1, got2 = f(a, b)
    assert got1.dtype == want.dtype or got1.dtype == np.result_type(a.dtype, b.dtype)
    np.testing.assert_allclose(got1, want, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got2, 2 * want, rtol=rtol, atol=rtol)


def test_the_product_is_a_tvm_kernel():
    f = product("csr", "float32", "float32")
    kinds = {type(st.node.op).__name__: st.kind for st in f._plan.steps}
    assert kinds["StructuredDot"] == "tvm" and kinds["Dot"] == "tvm"
    a = sp.random(5, 6, density=0.5, format="csr", dtype="float32", random_state=0)
    f(a, np.ones((6, 3), "float32"))
    tir = f.as_text("tir")
    assert "T.parallel" in tir and "A_indptr" in tir


LANES = _tvm.vector_bytes() // 4


@pytest.mark.parametrize("n", [1, 3, LANES - 1, LANES, LANES + 1, 2 * LANES + 5])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_widths_around_the_vector(fmt, n):
    rng = np.random.default_rng(n)
    a = sp.random(9, 7, density=0.4, format=fmt, dtype="float32", random_state=n)
    _check(product(fmt, "float32", "float32"), a, rng.standard_normal((7, n)).astype("float32"), 1e-5)


@pytest.mark.parametrize("m,k,n", [(0, 3, 4), (3, 0, 4), (1, 1, 1), (4, 5, 0)])
def test_empty_and_unit_shapes(m, k, n):
    a = sp.random(m, k, density=0.5, format="csr", dtype="float64", random_state=1)
    _check(product("csr", "float64", "float64"), a, np.ones((k, n)), 1e-12)


def test_no_stored_values_and_pattern_changes_reuse_the_build():
    f = product("csr", "float64", "float64")
    b = np.random.default_rng(2).standard_normal((8, 5))
    for density in (0.0, 0.1, 0.9, 1.0):
        _check(f, sp.random(6, 8, density=density, format="csr", random_state=3), b, 1e-12)
    keys = [k for k in f._builds if k[0] == (6, 8)]
    assert len(keys) == 1           # nnz is a symbolic extent: one build for every pattern


def test_duplicates_unsorted_and_int64_indices():
    data = np.array([1.0, 2.0, 3.0, 4.0])
    indices = np.array([2, 0, 2, 1], dtype=np.int64)        # unsorted, column 2 twice in row 0
    indptr = np.array([0, 3, 3, 4], dtype=np.int64)
    a = sp.csr_matrix((data, indices, indptr), shape=(3, 3))
    assert not a.has_canonical_format
    b = np.arange(12, dtype="float64").reshape(3, 4)
    _check(product("csr", "float64", "float64"), a, b, 1e-12)


def test_mixed_dtypes_upcast():
    a = sp.random(5, 4, density=0.5, format="csr", dtype="float32", random_state=4)
    b = np.random.default_rng(5).standard_normal((4, 3))
    f = product("csr", "float32", "float64")
    got = f(a, b)[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, a.astype("float64") @ b, rtol=1e-12)


def test_larger_product_in_parallel():
    a = sp.random(300, 200, density=0.05, format="csr", dtype="float32", random_state=6)
    b = np.random.default_rng(7).standard_normal((200, 64)).astype("float32")
    _check(product("csr", "float32", "float32"), a, b, 1e-4)


def test_cuda_is_refused_clearly():
    x = S.csr_matrix("x", dtype="float32")
    with pytest.raises(NotImplementedError, match="sparse matrices compile for the cpu only"):
        y = T.fmatrix("y")
        tvmsym.function([x, y], S.structured_dot(x, y), target="cuda")
