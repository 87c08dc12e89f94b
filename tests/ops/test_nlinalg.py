"""theano.tensor.nlinalg against numpy.linalg: table-driven over shapes (stacks, empty, size
1, odd sizes) and dtypes; singular matrices raise LinAlgError as numpy; verify_grad of every
differentiable function (one compiled function per family through check_grads)."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.tensor import nlinalg as nl

R = np.random.default_rng(17)


def spd(*shape):
    a = R.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def wellcond(*shape):
    return R.standard_normal(shape) + 3 * np.eye(shape[-1])


def tensor_like(a):
    return T.tensor(dtype=a.dtype.name, broadcastable=(False,) * a.ndim)


# name -> (tvmsym function, numpy reference, input maker)
CASES = {
    "matrix_inverse": (nl.matrix_inverse, np.linalg.inv, wellcond),
    "det": (nl.det, np.linalg.det, wellcond),
    "pinv": (nl.pinv, np.linalg.pinv, lambda *s: R.standard_normal(s[:-1] + (s[-1] + 2,))),
    "eigh_w": (lambda x: nl.eigh(x)[0], lambda a: np.linalg.eigh(a)[0], spd),
    "eigh_v_abs": (lambda x: abs(nl.eigh(x)[1]), lambda a: abs(np.linalg.eigh(a)[1]), spd),
    "svd_s": (lambda x: nl.svd(x, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False),
              lambda *s: R.standard_normal(s[:-1] + (s[-1] + 1,))),
    "qr_r_abs": (lambda x: abs(nl.qr(x, mode="r")), lambda a: abs(np.linalg.qr(a, mode="r")),
                 lambda *s: R.standard_normal(s[:-1] + (s[-1] + 1,))),
}
SHAPES = [(1, 1), (3, 3), (5, 5), (2, 4, 4), (0, 0), (2, 0, 0)]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_against_numpy(name, dtype):
    fn, ref, make = CASES[name]
    tol = 1e-9 if dtype == "float64" else 2e-3
    for shape in SHAPES:
        if name in ("eig",) and len(shape) > 2:
            continue
        a = make(*shape).astype(dtype)
        x = tensor_like(a)
        out = tvmsym.function([x], fn(x))(a)
        exp = ref(a)
        assert out.dtype == np.dtype(dtype), (name, shape, out.dtype)
        assert out.shape == np.shape(exp), (name, shape)
        np.testing.assert_allclose(out, exp, rtol=tol, atol=tol, err_msg=f"{name} {shape}")


def test_integer_input_gives_float64():
    x = T.imatrix("x")
    out = tvmsym.function([x], nl.det(x))(np.array([[2, 1], [1, 3]], "int32"))
    assert out.dtype == np.float64 and np.isclose(out, 5.0)


def test_eig_svd_qr_full_outputs():
    a = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    x = T.dmatrix()
    w, v = tvmsym.function([x], nl.eig(x))(a)
    np.testing.assert_allclose(a @ v, v * w, atol=1e-12)
    u, s, vt = tvmsym.function([x], nl.svd(x))(a[:, :2])
    np.testing.assert_allclose(u[:, :2] * s @ vt, a[:, :2], atol=1e-12)
    assert u.shape == (3, 3)
    u, s, vt = tvmsym.function([x], nl.svd(x, full_matrices=False))(a[:, :2])
    assert u.shape == (3, 2) and vt.shape == (2, 2)
    q, r = tvmsym.function([x], nl.qr(x))(a)
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    q, r = tvmsym.function([x], nl.qr(x, mode="complete"))(a[:, :2])
    assert q.shape == (3, 3) and r.shape == (3, 2)
    h, tau = tvmsym.function([x], nl.qr(x, mode="raw"))(a)
    eh, et = np.linalg.qr(a, mode="raw")
    np.testing.assert_allclose(h, eh) and np.testing.assert_allclose(tau, et)


def test_eig_complex_eigenvalues_raise():
    x = T.dmatrix()
    f = tvmsym.function([x], nl.eig(x)[0])
    with pytest.raises(np.linalg.LinAlgError, match="complex eigenvalues"):
        f(np.array([[0.0, -1.0], [1.0, 0.0]]))


@pytest.mark.parametrize("fn", [nl.matrix_inverse, nl.det])
def test_singular(fn):
    x = T.dmatrix()
    f = tvmsym.function([x], fn(x))
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    if fn is nl.det:
        assert abs(f(sing)) < 1e-12          # numpy: det of a singular matrix is 0
    else:
        with pytest.raises(np.linalg.LinAlgError, match="MatrixInverse.*Singular matrix"):
            f(sing)


def test_not_square_and_bad_ndim():
    x = T.dmatrix()
    with pytest.raises(ValueError, match="square"):
        tvmsym.function([x], nl.matrix_inverse(x))(np.ones((2, 3)))
    with pytest.raises(TypeError, match="ndim >= 2"):
        nl.det(T.dvector())


def test_ill_conditioned_matches_numpy():
    h = 1.0 / (np.arange(1, 9)[:, None] + np.arange(8)[None, :])      # Hilbert, cond ~ 1e10
    x = T.dmatrix()
    out = tvmsym.function([x], nl.matrix_inverse(x))(h)
    np.testing.assert_allclose(out, np.linalg.inv(h), rtol=1e-6)


def test_graph_functions():
    a = R.standard_normal((4, 4))
    v = R.standard_normal(5)
    x, y = T.dmatrix(), T.dvector()
    outs = [nl.trace(x), nl.matrix_power(x, 5), nl.matrix_power(x, 0), nl.matrix_power(x, -2),
            nl.matrix_dot(x, x.T, x), nl.alloc_diag(y), nl.extract_diag(x),
            nl.tensorinv(x.reshape((2, 2, 4)), ind=2)]
    got = tvmsym.function([x, y], outs)(a, v)
    exp = [np.trace(a), np.linalg.matrix_power(a, 5), np.eye(4), np.linalg.matrix_power(a, -2),
           a @ a.T @ a, np.diag(v), np.diag(a), np.linalg.tensorinv(a.reshape(2, 2, 4), ind=2)]
    for g, e in zip(got, exp):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


def test_tensorsolve():
    a = R.standard_normal((2, 3, 6)) + 0.0
    a = (a.reshape(6, 6) + 4 * np.eye(6)).reshape(2, 3, 6)
    b = R.standard_normal((2, 3))
    x, y = T.dtensor3(), T.dmatrix()
    out = tvmsym.function([x, y], nl.tensorsolve(x, y))(a, b)
    np.testing.assert_allclose(out, np.linalg.tensorsolve(a, b), rtol=1e-10)
    a2 = R.standard_normal((6, 2, 3)).reshape(6, 6) + 4 * np.eye(6)
    a2 = a2.reshape(6, 2, 3)
    out = tvmsym.function([x, y], nl.tensorsolve(x, y, axes=(0,)))(a2, b)
    np.testing.assert_allclose(out, np.linalg.tensorsolve(a2, b, axes=(0,)), rtol=1e-10)


@pytest.mark.parametrize("ord", [None, "fro", np.inf, -np.inf, 1, -1, "nuc", 2, -2])
def test_norm_matrix(ord):
    a = R.standard_normal((3, 5))
    x = T.dmatrix()
    assert np.isclose(tvmsym.function([x], nl.norm(x, ord))(a), np.linalg.norm(a, ord))


@pytest.mark.parametrize("ord", [None, np.inf, -np.inf, 0, 1, 3, 0.5])
def test_norm_vector(ord):
    a = R.standard_normal(7)
    a[2] = 0.0
    x = T.dvector()
    assert np.isclose(tvmsym.function([x], nl.norm(x, ord))(a), np.linalg.norm(a, ord))


def test_printing():
    x = T.dmatrix("x")
    assert str(nl.matrix_inverse(x).owner.op) == "MatrixInverse"
    assert "Det" in tvmsym.pp(nl.det(x))
    f = tvmsym.function([x], nl.det(x) * 2 + 1)
    txt = tvmsym.printing.debugprint(f, file="str")
    assert "Det" in txt


def test_grads():
    s = spd(4, 4)
    sym = lambda f: (lambda m: f(m + m.T))
    cases = [
        (nl.matrix_inverse, [wellcond(4, 4)]),
        (nl.matrix_inverse, [wellcond(2, 3, 3)]),
        (nl.det, [wellcond(3, 3)]),
        (nl.det, [wellcond(2, 3, 3)]),
        (nl.pinv, [R.standard_normal((3, 5))]),
        (nl.pinv, [R.standard_normal((5, 3))]),
        (lambda m: nl.eigh(m)[0], [s]),
        (lambda m: nl.eigh(m)[1], [s]),
        (lambda m: nl.eigh(m, "U")[1] * nl.eigh(m, "U")[0], [s]),
        (sym(lambda m: nl.eigh(m)[1]), [s]),
        (lambda m: nl.eigh(m)[0], [np.stack([s, spd(4, 4)])]),
        (nl.trace, [R.standard_normal((3, 3))]),
        (lambda m: nl.matrix_power(m, 3), [R.standard_normal((3, 3))]),
        (lambda m: nl.matrix_dot(m, m.T, m), [R.standard_normal((3, 2))]),
        (lambda m: nl.norm(m), [R.standard_normal((3, 2))]),
        (lambda m: nl.norm(m, 1), [R.standard_normal((3, 2))]),
        (lambda v: nl.norm(v, 3), [R.standard_normal(4)]),
        (nl.alloc_diag, [R.standard_normal(3)]),
        (nl.extract_diag, [R.standard_normal((3, 3))]),
        (lambda m: nl.tensorinv(m.reshape((2, 2, 4))), [wellcond(4, 4)]),
        (lambda m, b: nl.tensorsolve(m.reshape((2, 2, 4)), b), [wellcond(4, 4),
                                                                R.standard_normal((2, 2))]),
    ]
    for res, (fn, pt) in zip(check_grads(cases, rel_tol=1e-5, abs_tol=1e-6), cases):
        assert res["error"] is None, (res["ops"], res["error"])


@pytest.mark.parametrize("fn", [lambda m: nl.eig(m)[0], lambda m: nl.svd(m)[1]])
def test_no_gradient_like_theano(fn):
    from tvmsym.gradient import NullGradientError
    x = T.dmatrix()
    with pytest.raises(NullGradientError):
        tvmsym.grad(fn(x).sum(), x)


def test_lstsq():
    a, b = R.standard_normal((6, 3)), R.standard_normal((6, 2))
    x, y = T.dmatrix(), T.dmatrix()
    got = tvmsym.function([x, y], nl.lstsq(x, y, -1))(a, b)
    exp = np.linalg.lstsq(a, b, rcond=-1)
    for g, e in zip(got, exp):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    assert got[2].dtype == np.int64


def test_theano_spellings():
    a = R.standard_normal((4, 3))
    x = T.dmatrix()
    q, r = tvmsym.function([x], nl.qr(x))(a)                  # Theano's default mode 'full'
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    h = tvmsym.function([x], nl.qr(x, "economic"))(a)
    np.testing.assert_allclose(h, np.linalg.qr(a, mode="raw")[0])
    y = T.dvector()
    b = R.standard_normal(4)
    sol = tvmsym.function([x, y], nl.lstsq()(x, y, -1)[0])(a, b)   # Theano: lstsq is an Op class
    np.testing.assert_allclose(sol, np.linalg.lstsq(a, b, rcond=-1)[0], rtol=1e-10)
    np.testing.assert_allclose(tvmsym.function([x], nl.norm(x, "inf"))(a), np.linalg.norm(a, np.inf))
