"""theano.tensor.slinalg against scipy.linalg/numpy: stacks, empty and size-1 matrices,
singular / not positive-definite inputs raising as scipy does, verify_grad of each op."""
import numpy as np
import pytest
import scipy.linalg as spl

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.tensor import slinalg as sl

R = np.random.default_rng(23)


def spd(*shape):
    a = R.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def tri(*shape, lower=True):
    a = R.standard_normal(shape) + 3 * np.eye(shape[-1])
    return np.tril(a) if lower else np.triu(a)


def tvar(a):
    return T.tensor(dtype=a.dtype.name, broadcastable=(False,) * a.ndim)


SHAPES = [(1, 1), (4, 4), (7, 7), (3, 5, 5), (0, 0)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(dtype, lower):
    tol = 1e-10 if dtype == "float64" else 1e-4
    for shape in SHAPES:
        a = spd(*shape).astype(dtype)
        x = tvar(a)
        out = tvmsym.function([x], sl.Cholesky(lower=lower)(x))(a)
        exp = np.linalg.cholesky(a, upper=not lower)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, exp, rtol=tol, atol=tol)


def test_cholesky_not_positive_definite():
    x = T.dmatrix()
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(np.linalg.LinAlgError, match="Cholesky.*not positive definite"):
        tvmsym.function([x], sl.cholesky(x))(bad)
    out = tvmsym.function([x], sl.Cholesky(on_error="nan")(x))(bad)
    assert np.isnan(out).all()


SOLVES = {
    "general": (sl.solve, lambda *s: R.standard_normal(s) + 3 * np.eye(s[-1])),
    "symmetric": (sl.solve_symmetric, spd),
    "lower": (sl.solve_lower_triangular, lambda *s: tri(*s, lower=True)),
    "upper": (sl.solve_upper_triangular, lambda *s: tri(*s, lower=False)),
}


@pytest.mark.parametrize("kind", sorted(SOLVES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_solve(kind, dtype):
    fn, make = SOLVES[kind]
    tol = 1e-9 if dtype == "float64" else 1e-3
    for shape, bshape in [((4, 4), (4,)), ((4, 4), (4, 3)), ((1, 1), (1, 1)), ((5, 5), (5, 0)),
                          ((0, 0), (0,)), ((2, 3, 3), (2, 3, 2))]:
        a, b = make(*shape).astype(dtype), R.standard_normal(bshape).astype(dtype)
        x, y = tvar(a), tvar(b)
        out = tvmsym.function([x, y], fn(x, y))(a, b)
        if kind in ("lower", "upper"):
            aa = np.tril(a) if kind == "lower" else np.triu(a)
        else:
            aa = a
        exp = np.linalg.solve(aa, b[..., None])[..., 0] if b.ndim == 1 else \
            (np.linalg.solve(aa, b) if b.size else np.zeros(b.shape))
        assert out.dtype == np.dtype(dtype) and out.shape == b.shape
        np.testing.assert_allclose(out, exp, rtol=tol, atol=tol, err_msg=f"{kind} {shape}")


def test_triangular_reads_its_triangle_only():
    a = tri(4, 4, lower=True)
    full = a + np.triu(R.standard_normal((4, 4)), 1)        # garbage above the diagonal
    b = R.standard_normal(4)
    x, y = T.dmatrix(), T.dvector()
    out = tvmsym.function([x, y], sl.solve_lower_triangular(x, y))(full, b)
    np.testing.assert_allclose(out, spl.solve_triangular(a, b, lower=True))


@pytest.mark.parametrize("fn", [sl.solve, sl.solve_lower_triangular])
def test_solve_singular(fn):
    x, y = T.dmatrix(), T.dvector()
    f = tvmsym.function([x, y], fn(x, y))
    with pytest.raises(np.linalg.LinAlgError, match="Solve.*[Ss]ingular"):
        f(np.array([[1.0, 0.0], [2.0, 0.0]]), np.ones(2))


def test_solve_shape_errors():
    x, y = T.dmatrix(), T.dvector()
    with pytest.raises(ValueError, match="do not match"):
        tvmsym.function([x, y], sl.solve(x, y))(np.eye(3), np.ones(2))
    with pytest.raises(TypeError, match="b must be"):
        sl.solve(T.dtensor3(), T.dvector())


def test_eigvalsh_expm_kron():
    a, b = spd(4, 4), spd(4, 4)
    x, y = T.dmatrix(), T.dmatrix()
    outs = tvmsym.function([x, y], [sl.eigvalsh(x), sl.eigvalsh(x, y), sl.expm(x * 0.1),
                                    sl.kron(x, y[:2, :3]), sl.kron(x[0], y)])(a, b)
    exp = [spl.eigvalsh(a), spl.eigvalsh(a, b), spl.expm(a * 0.1), np.kron(a, b[:2, :3]),
           np.kron(a[0], b)]
    for o, e in zip(outs, exp):
        np.testing.assert_allclose(o, e, rtol=1e-9, atol=1e-12)
    z = T.dtensor3()
    s = R.standard_normal((2, 3, 3))
    np.testing.assert_allclose(tvmsym.function([z], sl.expm(z))(s), spl.expm(s), rtol=1e-10)
    np.testing.assert_allclose(tvmsym.function([z, y], sl.kron(z, y))(s, b), np.kron(s, b))
    with pytest.raises(TypeError, match="sum to 3"):
        sl.kron(T.dvector(), T.dvector())


def test_kron_is_a_kernel():
    x, y = T.dmatrix(), T.dmatrix()
    f = tvmsym.function([x, y], sl.kron(x, y))
    txt = tvmsym.printing.debugprint(f, file="str")
    assert "Solve" not in txt and "Eigh" not in txt


def test_grads():
    s = spd(4, 4)
    cases = [
        (sl.cholesky, [s]),
        (sl.Cholesky(lower=False), [s]),
        (lambda m: sl.cholesky(m + m.T), [s]),
        (sl.cholesky, [np.stack([s, spd(4, 4)])]),
        (sl.Cholesky(lower=False), [np.stack([s, spd(4, 4)])]),
        (sl.solve, [R.standard_normal((4, 4)) + 3 * np.eye(4), R.standard_normal((4, 2))]),
        (sl.solve, [R.standard_normal((4, 4)) + 3 * np.eye(4), R.standard_normal(4)]),
        (sl.solve, [R.standard_normal((2, 3, 3)) + 3 * np.eye(3), R.standard_normal((2, 3, 2))]),
        (sl.solve_symmetric, [spd(3, 3), R.standard_normal((3, 2))]),
        (sl.solve_lower_triangular, [tri(4, 4), R.standard_normal((4, 2))]),
        (sl.solve_upper_triangular, [tri(4, 4, lower=False), R.standard_normal(4)]),
        (sl.eigvalsh, [s]),
        (lambda a, b: sl.eigvalsh(a, b), [s, spd(4, 4)]),
        (lambda a: sl.eigvalsh(a, lower=False), [s]),
        (sl.expm, [R.standard_normal((3, 3)) * 0.5]),
        (sl.expm, [R.standard_normal((2, 3, 3)) * 0.5]),
        (sl.kron, [R.standard_normal((2, 3)), R.standard_normal((3, 2))]),
    ]
    for res, (fn, pt) in zip(check_grads(cases, rel_tol=1e-5, abs_tol=1e-6), cases):
        assert res["error"] is None, (res["ops"], res["error"])
