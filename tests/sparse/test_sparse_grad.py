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
