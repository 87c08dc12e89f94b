"""Gradients of tvmsym.sparse ops against finite differences (verify_grad_sparse), structured
(perturbing the stored values) and regular (perturbing every entry)."""
import numpy as np
import pytest
import scipy.sparse as sp

import tvmsym
import tvmsym.sparse as S
import tvmsym.tensor as T
from tvmsym.gradient import GradientError

RNG = np.random.default_rng(0)
A = sp.random(4, 5, density=0.4, format="csr", random_state=1)
B = RNG.standard_normal((5, 3))
C = RNG.standard_normal((4, 5))

# (name, op, point, structured)
CASES = [
    ("structured_dot", S.structured_dot, [A, B], True),
    ("structured_dot_csc", S.structured_dot, [A.tocsc(), B], True),
    ("structured_dot_dense_sparse", S.structured_dot, [B.T, A.T.tocsr()], True),
    ("dot", S.dot, [A, B], False),
    ("dot_csc", S.dot, [A.tocsc(), B], False),
    ("dot_dense_sparse", S.dot, [C, A.T.tocsr()], False),
    ("dense_from_sparse", lambda x: S.dense_from_sparse(x) * 3, [A], True),
    ("dense_from_sparse_regular", lambda x: S.DenseFromSparse(structured=False)(x) ** 2, [A], False),
    ("sp_sum_structured_0", lambda x: S.sp_sum(x, axis=0, sparse_grad=True), [A], True),
    ("sp_sum_1", lambda x: S.sp_sum(x, axis=1), [A], False),
    ("sp_sum_all", lambda x: S.sp_sum(x), [A.tocsc()], False),
    ("add_ss", S.add, [A, A * 2], False),
    ("add_sd", S.add, [A, C], True),
    ("sub_sd", S.sub, [A, C], True),
    ("mul_ss", S.mul, [A, A * 2], False),
    ("mul_sd", S.mul, [A, C], True),
    ("mul_s_row", lambda x, r: S.mul(x, r), [A, RNG.standard_normal(5)], True),
    ("transpose", S.transpose, [A], False),
    ("neg", lambda x: -x, [A.tocsc()], False),
    ("true_dot", S.true_dot, [A, B], False),
    ("true_dot_ss", lambda x, y: S.true_dot(x, S.transpose(y)), [A, A * 3], False),
    ("sampling_dot", lambda x, y: S.sampling_dot(x, y, A), [RNG.standard_normal((4, 3)),
                                                             RNG.standard_normal((5, 3))], False),
    ("csr_from_dense", S.csr_from_dense, [C], False),
    ("csc_from_dense", lambda d: S.csc_from_dense(d * 2), [C], False),
    ("chain", lambda x, b: T.tanh(S.structured_dot(x, b)).sum() + S.sp_sum(x * x), [A, B], True),
]


@pytest.mark.parametrize("name,op,pt,structured", CASES, ids=[c[0] for c in CASES])
def test_verify_grad_sparse(name, op, pt, structured):
    S.verify_grad_sparse(op, pt, structured=structured)


def test_verify_grad_sparse_detects_a_wrong_gradient():
    """The checker can fail: the regular gradient of a structured op differs off the pattern."""
    with pytest.raises(GradientError):
        S.verify_grad_sparse(lambda x: S.dense_from_sparse(x) * 3, [A], structured=False)


def test_structured_gradient_has_the_pattern():
    x = S.csr_matrix("x", dtype="float64")
    b = T.dmatrix("b")
    g = tvmsym.grad(S.structured_dot(x, b).sum(), x)
    assert g.type == x.type
    got = tvmsym.function([x, b], g)(A, B)
    assert sp.issparse(got)
    np.testing.assert_array_equal((got != 0).toarray() | (A != 0).toarray(), (A != 0).toarray())
    want = (np.ones((4, 3)) @ B.T) * (A.toarray() != 0)
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-12)


def test_float32():
    a = A.astype("float32")
    S.verify_grad_sparse(S.structured_dot, [a, B.astype("float32")], structured=True)


A32 = A.astype("float32")
STRUCTURED = [
    ("structured_exp", S.structured_exp, [A]),
    ("structured_log", lambda x: S.structured_log(S.structured_add(x, 2.0)), [A]),
    ("structured_sigmoid", S.structured_sigmoid, [A]),
    ("structured_pow", lambda x: S.structured_pow(x, 3.0), [A]),
    ("structured_minmax", lambda x: S.structured_maximum(S.structured_minimum(x, 0.7), 0.2), [A]),
    ("sin_tan_sinh_tanh", lambda x: S.sin(x) + S.tan(x) * S.sinh(x) + S.tanh(x), [A]),
    ("arcsin_arctan", lambda x: S.arcsin(S.structured_pow(x, 2.0)) + S.arctan(x), [A]),
    ("arcsinh_arctanh", lambda x: S.arcsinh(x) + S.arctanh(S.structured_pow(x, 3.0)), [A]),
    ("log1p_expm1_sqr_sqrt", lambda x: S.log1p(x) + S.expm1(x) + S.sqr(x) + S.sqrt(x), [A]),
    ("deg2rad_rad2deg", lambda x: S.deg2rad(x) + S.rad2deg(x), [A]),
    ("csm_data", lambda x: S.csm_data(x) * 2, [A]),
    ("csm_roundtrip", lambda x: S.CSR(S.csm_data(x) ** 2, S.csm_indices(x), S.csm_indptr(x),
                                       S.csm_shape(x)), [A]),
    ("dcast", S.dcast, [A32]),
    ("clean", lambda x: S.clean(x * 2.0), [A]),
    ("col_scale", S.col_scale, [A, np.arange(5.0)]),
    ("row_scale", S.row_scale, [A, np.arange(4.0) - 1]),
]


@pytest.mark.parametrize("name,op,pt", STRUCTURED, ids=[c[0] for c in STRUCTURED])
def test_structured_functions_grad(name, op, pt):
    S.verify_grad_sparse(op, pt, structured=True)


def test_structured_functions_values():
    x = S.csr_matrix("x", dtype="float64")
    names = ["sin", "tan", "arcsin", "arctan", "sinh", "arcsinh", "tanh", "arctanh", "rint", "sgn",
             "ceil", "floor", "trunc", "log1p", "expm1", "deg2rad", "rad2deg", "sqr", "sqrt"]
    f = tvmsym.function([x], [getattr(S, n)(x) for n in names] + [S.structured_exp(x), S.conj(x)])
    a = sp.random(5, 6, density=0.5, format="csr", random_state=3) * 0.9
    refs = [np.sin, np.tan, np.arcsin, np.arctan, np.sinh, np.arcsinh, np.tanh, np.arctanh, np.rint,
            np.sign, np.ceil, np.floor, np.trunc, np.log1p, np.expm1, np.deg2rad, np.rad2deg,
            np.square, np.sqrt, np.exp, np.conj]
    for name, ref, got in zip(names + ["structured_exp", "conj"], refs, f(a)):
        assert sp.issparse(got), name
        want = a.copy()
        want.data = ref(want.data)
        np.testing.assert_allclose(got.toarray(), want.toarray(), rtol=1e-12, err_msg=name)
    assert S.fcast(x).dtype == "float32" and S.cast(T.dmatrix(), "int32").dtype == "int32"
    b = sp.csr_matrix((np.array([0.0, 2.0, 1.0]), np.array([2, 0, 0]), np.array([0, 3, 3])), shape=(2, 3))
    cl = tvmsym.function([x], S.clean(x))(b)
    assert cl.has_sorted_indices and cl.nnz == 1 and cl[0, 0] == 3.0
