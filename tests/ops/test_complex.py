"""Complex tensors (complex64 / complex128) against numpy: real, imag, conj, angle, abs, complex,
complex_from_polar, arithmetic, exp, log, dot, and the gradients of real costs
(Theano's convention dC/dz = dC/dx + i dC/dy) against finite differences.

One compiled function per dtype and optimizer computes every expression; each shape record
is one build of it.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic.ops.complex import arctan2, hypot

CDTYPES = ["complex64", "complex128"]
FLOAT = {"complex64": "float32", "complex128": "float64"}
TOL = {"complex64": {"rtol": 2e-5, "atol": 2e-5}, "complex128": {"rtol": 1e-12, "atol": 1e-12}}


def _rand(rng, shape, dtype):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


# (name, symbolic fn of (z, w, x), numpy fn of (z, w, x)); z, w complex, x real of z's shape
EXPRS = [
    ("add", lambda z, w, x: z + w, lambda z, w, x: z + w),
    ("sub", lambda z, w, x: z - w, lambda z, w, x: z - w),
    ("mul", lambda z, w, x: z * w, lambda z, w, x: z * w),
    ("div", lambda z, w, x: z / w, lambda z, w, x: z / w),
    ("neg", lambda z, w, x: -z, lambda z, w, x: -z),
    ("mul_real", lambda z, w, x: z * x + x, lambda z, w, x: z * x + x),
    ("div_real", lambda z, w, x: z / (x + 3), lambda z, w, x: z / (x + 3)),
    ("scalar", lambda z, w, x: 2 * z - 1.5, lambda z, w, x: 2 * z - 1.5),
    ("exp", lambda z, w, x: T.exp(z), lambda z, w, x: np.exp(z)),
    ("log", lambda z, w, x: T.log(z), lambda z, w, x: np.log(z)),
    ("abs", lambda z, w, x: abs(z), lambda z, w, x: np.abs(z)),
    ("sqr", lambda z, w, x: T.sqr(z), lambda z, w, x: z * z),
    ("real", lambda z, w, x: T.real(z), lambda z, w, x: z.real),
    ("imag", lambda z, w, x: T.imag(z), lambda z, w, x: z.imag),
    ("conj", lambda z, w, x: T.conj(z), lambda z, w, x: np.conj(z)),
    ("angle", lambda z, w, x: T.angle(z), lambda z, w, x: np.angle(z)),
    ("complex", lambda z, w, x: T.complex(x, 2 * x), lambda z, w, x: x + 2j * x),
    ("polar", lambda z, w, x: T.complex_from_polar(abs(x), x),
     lambda z, w, x: np.abs(x) * np.exp(1j * x)),
    ("chain", lambda z, w, x: T.exp(T.conj(z) * w) / (z + 2) - T.log(w),
     lambda z, w, x: np.exp(np.conj(z) * w) / (z + 2) - np.log(w)),
    ("sum", lambda z, w, x: T.sum(z * w, axis=0), lambda z, w, x: np.sum(z * w, axis=0)),
    ("sum_all", lambda z, w, x: T.sum(z), lambda z, w, x: np.sum(z)),
    ("transpose", lambda z, w, x: (z.T * 2).T, lambda z, w, x: z * 2),
    ("switch", lambda z, w, x: T.switch(x > 0, z, w), lambda z, w, x: np.where(x > 0, z, w)),
    ("properties", lambda z, w, x: z.real + z.imag * x, lambda z, w, x: z.real + z.imag * x),
    ("arctan2", lambda z, w, x: arctan2(T.imag(z), x), lambda z, w, x: np.arctan2(z.imag, x)),
    ("hypot", lambda z, w, x: hypot(T.real(z), x), lambda z, w, x: np.hypot(z.real, x)),
]

SHAPES = [(3, 4), (1, 1), (1, 5), (7, 1), (0, 3), (5, 13)]

_FUNCS = {}


def compiled(dtype, optimizer="fast_run"):
    key = (dtype, optimizer)
    if key not in _FUNCS:
        z, w = T.matrix("z", dtype=dtype), T.matrix("w", dtype=dtype)
        x = T.matrix("x", dtype=FLOAT[dtype])
        outs = [sym(z, w, x) for _, sym, _ in EXPRS]
        _FUNCS[key] = tvmsym.function([z, w, x], outs, mode=tvmsym.Mode(optimizer=optimizer))
    return _FUNCS[key]


@pytest.mark.parametrize("dtype", CDTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_elementwise_against_numpy(dtype, shape):
    rng = np.random.default_rng(len(shape) + shape[0])
    z, w, x = _rand(rng, shape, dtype), _rand(rng, shape, dtype), rng.standard_normal(shape).astype(FLOAT[dtype])
    outs = compiled(dtype)(z, w, x)
    with np.errstate(all="ignore"):
        for (name, _, ref), got in zip(EXPRS, outs):
            want = np.asarray(ref(z, w, x))
            assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
            assert got.shape == want.shape, name
            np.testing.assert_allclose(got, want, err_msg=name, **TOL[dtype])


# without the optimizer every expression is unfused kernels of its own (the costliest build of
# the file): complex128 in the default run, complex64 with -m slow
@pytest.mark.parametrize("dtype", ["complex128", pytest.param("complex64", marks=pytest.mark.slow)])
def test_optimizer_off_same_answer(dtype):
    rng = np.random.default_rng(7)
    z, w, x = _rand(rng, (4, 5), dtype), _rand(rng, (4, 5), dtype), rng.standard_normal((4, 5)).astype(FLOAT[dtype])
    on, off = compiled(dtype)(z, w, x), compiled(dtype, None)(z, w, x)
    for (name, _, _), a, b in zip(EXPRS, on, off):
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("dtype", CDTYPES)
def test_broadcasting_and_mixed_dtypes(dtype):
    z = T.matrix("z", dtype=dtype)
    r = T.row("r", dtype=dtype)
    v = T.vector("v", dtype="float64")
    f = tvmsym.function([z, r, v], [z * r, z + v, T.exp(r) * z])
    rng = np.random.default_rng(1)
    a, b, c = _rand(rng, (3, 4), dtype), _rand(rng, (1, 4), dtype), rng.standard_normal(4)
    got = f(a, b, c)
    want = [a * b, a + c, np.exp(b) * a]
    for g, w_ in zip(got, want):
        assert g.dtype == w_.dtype
        np.testing.assert_allclose(g, w_, **TOL[dtype] if g.dtype == dtype else TOL["complex128"])


@pytest.mark.parametrize("dtype", CDTYPES)
def test_scalar_and_0d(dtype):
    s = T.scalar("s", dtype=dtype)
    f = tvmsym.function([s], [s * s + 1, abs(s), T.real(s)])
    v = np.asarray(1.5 - 2j, dtype=dtype)
    got = f(v)
    np.testing.assert_allclose(got[0], v * v + 1, **TOL[dtype])
    np.testing.assert_allclose(got[1], abs(v), **TOL[dtype])
    assert got[2] == v.real


@pytest.mark.parametrize("dtype", CDTYPES)
def test_dot_against_numpy(dtype):
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    v, x = T.vector("v", dtype=dtype), T.matrix("x", dtype=FLOAT[dtype])
    c = T.matrix("c", dtype=dtype)
    f = tvmsym.function([a, b, v, x, c], [T.dot(a, b), T.dot(a, v), T.dot(v, v), T.dot(x, b),
                                          T.dot(c, c.T) + 1j])
    rng = np.random.default_rng(3)
    for m, k, n in [(3, 4, 5), (1, 1, 1), (2, 0, 3), (6, 7, 1)]:
        A, B, V = _rand(rng, (m, k), dtype), _rand(rng, (k, n), dtype), _rand(rng, (k,), dtype)
        X = rng.standard_normal((k, k)).astype(FLOAT[dtype])
        Xm = np.resize(X, (m, k))
        got = f(A, B, V, Xm, A)
        want = [A @ B, A @ V, V @ V, Xm @ B, A @ A.T + 1j]
        for g, w_ in zip(got, want):
            assert g.dtype == w_.dtype
            np.testing.assert_allclose(g, w_, rtol=1e-4 if dtype == "complex64" else 1e-12,
                                       atol=1e-4 if dtype == "complex64" else 1e-12)


def test_nan_inf_follow_numpy():
    z = T.zvector("z")
    w = T.zvector("w")
    f = tvmsym.function([z, w], [z + w, T.real(z), T.imag(z), T.conj(z), abs(z), -z, z - w])
    inf, nan = np.inf, np.nan
    a = np.array([complex(inf, 1), complex(nan, 0), complex(1, -inf), complex(-0.0, -0.0),
                  complex(3e300, 4e300), complex(0, nan)])
    b = np.array([complex(1, 1), complex(2, inf), complex(-inf, 0), complex(0.0, 0.0),
                  complex(1e300, 0), complex(nan, nan)])
    got = f(a, b)
    want = [a + b, a.real, a.imag, np.conj(a), np.abs(a), -a, a - b]
    for g, w_ in zip(got, want):
        np.testing.assert_array_equal(g, w_)     # equal incl. NaN positions, inf, overflow-free abs
    assert np.signbit(got[5][3].real) == np.signbit((-a)[3].real)


def test_log_exp_special_values():
    z = T.zvector("z")
    f = tvmsym.function([z], [T.log(z), T.exp(z)])
    a = np.array([0j, -1 + 0j, 1e-300 + 1e-300j, -2 - 3j, 1j])
    lg, ex = f(a)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(lg, np.log(a), rtol=1e-13)
        np.testing.assert_allclose(ex, np.exp(a), rtol=1e-13)


def test_types_and_errors():
    assert repr(T.cmatrix) == "TensorType(complex64, matrix)"
    assert T.zmatrix("z").dtype == "complex128"
    assert T.complex(T.fvector(), T.fvector()).dtype == "complex64"
    assert T.complex(T.dvector(), T.fvector()).dtype == "complex128"
    assert T.abs(T.cvector()).dtype == "float32"
    assert T.real(T.zvector()).dtype == "float64"
    with pytest.raises(TypeError, match="complex"):
        T.complex(T.zvector(), T.dvector())
    z = T.zvector("z")
    g = tvmsym.function([z], z * 2)
    with pytest.raises(TypeError):
        g(np.ones(3, dtype="complex128").reshape(3, 1))
    c = T.cvector("c")
    h = tvmsym.function([c], c * 2)
    with pytest.raises(TypeError):                  # complex128 into complex64 loses precision
        h(np.ones(3, dtype="complex128"))
    np.testing.assert_array_equal(h(np.ones(3, dtype="complex64") * 1j), 2j * np.ones(3))


def test_host_fallback_for_other_ops():
    """An op without a complex lowering runs on the host (numpy) and stays correct."""
    z = T.zmatrix("z")
    f = tvmsym.function([z], [T.exp(z).flatten() * 2, T.concatenate([z, z]) + 1])
    a = _rand(np.random.default_rng(5), (2, 3), "complex128")
    got = f(a)
    np.testing.assert_allclose(got[0], np.exp(a).flatten() * 2, rtol=1e-12)
    np.testing.assert_allclose(got[1], np.concatenate([a, a]) + 1, rtol=1e-12)


def test_kernels_fuse_complex_expressions():
    """A complex elementwise chain compiles to one fused kernel reading interleaved buffers."""
    z, w = T.zmatrix("z"), T.zmatrix("w")
    f = tvmsym.function([z, w], T.exp(z * w + 1) / (z - 2))
    steps = f._plan.steps
    assert len(steps) == 1 and steps[0].kind == "tvm"
    a, b = _rand(np.random.default_rng(2), (3, 5), "complex128"), _rand(np.random.default_rng(4), (3, 5), "complex128")
    np.testing.assert_allclose(f(a, b), np.exp(a * b + 1) / (a - 2), rtol=1e-12)
    assert "float64" in f.as_text("tir")


# ------------------------------------------------------------------------------ gradients
def _num_grad(f, a, eps):
    g = np.zeros(a.shape, dtype=np.complex128)
    for idx in np.ndindex(a.shape):
        for unit in (1, 1j):
            ap, am = a.copy(), a.copy()
            ap[idx] += eps * unit
            am[idx] -= eps * unit
            g[idx] += (f(ap) - f(am)) / (2 * eps) * unit
    return g


GRAD_COSTS = [
    ("abs", lambda z, w: abs(z).sum()),
    ("real_exp", lambda z, w: T.real(T.exp(z)).sum()),
    ("imag_log", lambda z, w: T.imag(T.log(z)).sum()),
    ("abs_mul", lambda z, w: abs(z * w).sum()),
    ("abs_div", lambda z, w: abs(z / (w + 2)).sum()),
    ("abs_div_by_z", lambda z, w: abs(w / z).sum()),
    ("angle", lambda z, w: T.angle(z).sum()),
    ("conj", lambda z, w: T.real(T.conj(z) * w).sum()),
    ("sub_neg", lambda z, w: abs(w - z).sum() + T.imag(-z * w).sum()),
    ("sqr", lambda z, w: T.real(T.sqr(z)).sum()),
    ("dot", lambda z, w: abs(T.dot(z, w.T)).sum()),
    ("sum_axis", lambda z, w: abs(T.sum(z * w, axis=1)).sum()),
]


@pytest.mark.parametrize("name,cost", GRAD_COSTS, ids=[n for n, _ in GRAD_COSTS])
def test_grad_of_real_cost(name, cost):
    rng = np.random.default_rng(11)
    z, w = T.zmatrix("z"), T.zmatrix("w")
    c = cost(z, w)
    g = tvmsym.grad(c, z)
    f = tvmsym.function([z, w], c, on_unused_input="ignore")
    fg = tvmsym.function([z, w], g, on_unused_input="ignore")
    a, b = _rand(rng, (2, 3), "complex128"), _rand(rng, (2, 3), "complex128")
    got = fg(a, b)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, _num_grad(lambda v: f(v, b), a, 1e-6), atol=1e-6, rtol=1e-6)


def test_grad_real_inputs_through_complex():
    rng = np.random.default_rng(12)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    w = T.zmatrix("w")
    c = abs(T.complex(x, y) * w).sum() + T.angle(T.complex_from_polar(x, y) + 1).sum() \
        + T.real(T.exp(T.complex(y, x))).sum()
    gx, gy = tvmsym.grad(c, [x, y])
    assert gx.dtype == "float64" and gy.dtype == "float64"
    f = tvmsym.function([x, y, w], c)
    fg = tvmsym.function([x, y, w], [gx, gy])
    xa, ya = np.abs(rng.standard_normal((2, 3))) + 0.5, rng.standard_normal((2, 3))
    wa = _rand(rng, (2, 3), "complex128")
    gxa, gya = fg(xa, ya, wa)
    np.testing.assert_allclose(gxa, _num_grad(lambda v: f(v.real, ya, wa), xa.astype(complex), 1e-6).real,
                               atol=1e-6)
    np.testing.assert_allclose(gya, _num_grad(lambda v: f(xa, v.real, wa), ya.astype(complex), 1e-6).real,
                               atol=1e-6)


def test_grad_complex64_dtype():
    z = T.cmatrix("z")
    g = tvmsym.grad(abs(T.exp(z)).sum(), z)
    assert g.dtype == "complex64"
    a = _rand(np.random.default_rng(1), (2, 2), "complex64")
    got = tvmsym.function([z], g)(a)
    # |exp(x + iy)| = exp(x): dC/dx = exp(x), dC/dy = 0
    np.testing.assert_allclose(got, np.exp(a.real).astype("complex64"), rtol=1e-5, atol=1e-6)


def test_nan_inf_of_mul_div_exp_log():
    """Special values as numpy: inf/nan operands, division by 0 (numpy's x / |0|), overflow-free
    division (Smith's algorithm).  (Not here: z * z overflowing, where numpy's result depends on
    whether its C compiler contracted to an FMA.)"""
    z, w = T.zvector("z"), T.zvector("w")
    f = tvmsym.function([z, w], [z * w, z / w, T.exp(z), T.log(z), T.angle(z)])
    inf, nan = np.inf, np.nan
    a = np.array([complex(inf, 1), complex(nan, 0), complex(1, -inf), complex(-0.0, -0.0),
                  complex(3e300, 4e300), complex(0, nan), complex(2, 3), 0j, complex(1e308, 1e308)])
    b = np.array([complex(1, 1), complex(2, inf), complex(-inf, 0), 0j, complex(1e300, 0),
                  complex(nan, nan), 0j, 0j, complex(1e308, 1e308)])
    with np.errstate(all="ignore"):
        want = [a * b, a / b, np.exp(a), np.log(a), np.angle(a)]
    got = f(a, b)
    got[0], want[0] = got[0][:-1], want[0][:-1]     # overflowing products: FMA-dependent in numpy
    for name, g, r in zip(["mul", "div", "exp", "log", "angle"], got, want):
        np.testing.assert_allclose(g, r, rtol=1e-13, equal_nan=True, err_msg=name)
