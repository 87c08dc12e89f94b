"""Special functions against scipy.special across their domains, tails and special values
(NaN, +-inf, poles, domain ends), float64 and float32; host-only ones too; their gradients
by finite differences; the kernels stay fused and vectorized."""
import numpy as np
import pytest
import scipy.special as sp

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import NullGradientError, check_grads

R = np.random.default_rng(41)
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan]


def logu(lo, hi, n, sign=1):
    return sign * 10.0 ** R.uniform(lo, hi, n)


def tri_gamma_ref(x):
    """scipy's polygamma(1, x); below -1e4 by the reflection psi1(x) = pi**2 / sin(pi x)**2
    - psi1(1 - x) with sin(pi x) of the exact x - round(x): scipy's own recurrence costs time
    in proportion to |x| there (25 s of CPU for this file's 500 points down to -1e8), and
    the two agree to ~1e-15 (test_tri_gamma_reference_is_scipys checks that)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    big = (x < -1e4) & np.isfinite(x)       # -inf: scipy's own value
    out[~big] = sp.polygamma(1, x[~big])
    r = x[big] - np.round(x[big])
    with np.errstate(divide="ignore"):
        out[big] = np.pi ** 2 / np.sin(np.pi * r) ** 2 - sp.polygamma(1, 1 - x[big])
    return out


# name -> (tvmsym function, scipy reference, inputs covering the domain and its tails,
#          absolute tolerance for float64 (results near a zero of the function))
KERNELS = {
    "psi": (T.psi, sp.psi, np.r_[R.uniform(-30, 30, 3000), R.uniform(0, 3, 1000),
                                 logu(-300, 300, 500), logu(-5, 8, 500, -1), -np.arange(5.0),
                                 1.4616321449683623], 1e-14),
    "tri_gamma": (T.tri_gamma, tri_gamma_ref,
                  np.r_[R.uniform(-30, 30, 3000), logu(-150, 300, 500), logu(-5, 8, 500, -1),
                        -np.arange(5.0)], 0),
    "erfinv": (T.erfinv, sp.erfinv, np.r_[R.uniform(-1, 1, 3000), 1 - logu(-16, 0, 800),
                                          -1 + logu(-16, 0, 800), logu(-300, 0, 300), 1, -1,
                                          1.5, -2], 0),
    "erfcinv": (T.erfcinv, sp.erfcinv, np.r_[R.uniform(0, 2, 3000), logu(-307, 0, 1500),
                                             2 - logu(-16, 0, 500), 1, 2, -1, 3], 0),
    "erfcx": (T.erfcx, sp.erfcx, np.r_[R.uniform(-26, 40, 3000), logu(-300, 300, 1000),
                                       -logu(-300, 1.4, 500)], 0),
    "i0": (T.i0, sp.i0, np.r_[R.uniform(-30, 30, 3000), R.uniform(-705, 705, 1000),
                              logu(-300, 2, 500)], 0),
    "i1": (T.i1, sp.i1, np.r_[R.uniform(-30, 30, 3000), R.uniform(-705, 705, 1000),
                              logu(-300, 2, 500), -logu(-300, 2, 500)], 0),
    "j0": (T.j0, sp.j0, np.r_[R.uniform(-50, 50, 3000), logu(-300, 5, 500)], 1e-15),
    "j1": (T.j1, sp.j1, np.r_[R.uniform(-50, 50, 3000), logu(-300, 5, 500),
                              -logu(-300, 5, 500)], 1e-15),
}
NAMES = sorted(KERNELS)


@pytest.fixture(scope="module", params=["float64", "float32"])
def kernel_results(request):
    """All kernels of one dtype in one compiled function: {name: (input, output)}."""
    dt = request.param
    ins = [T.vector(dtype=dt) for _ in NAMES]
    f = tvmsym.function(ins, [KERNELS[n][0](x) for n, x in zip(NAMES, ins)])
    with np.errstate(over="ignore"):          # float32 inputs saturate to +-inf: kept as such
        data = [np.r_[KERNELS[n][2], SPECIAL].astype(dt) for n in NAMES]
    outs = f(*data)
    return dt, {n: (d, o) for n, d, o in zip(NAMES, data, outs)}


@pytest.mark.parametrize("name", NAMES)
def test_against_scipy(kernel_results, name):
    dt, res = kernel_results
    x, out = res[name]
    ref = KERNELS[name][1]
    with np.errstate(all="ignore"):
        exp = ref(x.astype(np.float64))
    assert out.dtype == np.dtype(dt)
    if dt == "float64":
        rtol, atol = 2e-14, KERNELS[name][3]
        if name in ("j0", "j1"):
            rtol = 1e-11     # libm's and scipy's differ in the last digits near the zeros
        if name in ("psi", "tri_gamma"):
            rtol = 5e-13     # near the poles at large negative x (condition number ~ |x| / |x - n|)
    else:
        with np.errstate(over="ignore"):
            exp = exp.astype(np.float32)
        rtol, atol = 2.5e-7, 1e-7 if KERNELS[name][3] else 1e-40   # (subnormal results)
    np.testing.assert_allclose(out, exp, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


def test_tri_gamma_reference_is_scipys():
    x = np.r_[-10.0 ** np.random.default_rng(2).uniform(4, 5, 40), -20000.0, -12345.5, -10000.25]
    want = sp.polygamma(1, x)
    got = tri_gamma_ref(x)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    assert fin.sum() >= 40
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-14)


def test_kernels_fuse_and_vectorize():
    x = T.dvector()
    f = tvmsym.function([x], T.erfinv(T.tanh(x) * 0.5) + T.psi(x * x + 1))
    a = R.uniform(-2, 2, 1000)
    np.testing.assert_allclose(f(a), sp.erfinv(np.tanh(a) * 0.5) + sp.psi(a * a + 1),
                               rtol=1e-13, atol=1e-14)
    txt = tvmsym.printing.debugprint(f, file="str")
    assert "Composite" in txt and "HostElemwise" not in txt
    assert "erfinv" in txt and "psi" in txt
    lanes = tvmsym._tvm.vector_bytes() // 8
    assert f"<{lanes} x double>" in f.as_text("llvm")


HOST = {
    "jv": (T.jv, sp.jv, lambda: (R.uniform(-3, 5, 400).round(1), R.uniform(0, 30, 400))),
    "iv": (T.iv, sp.iv, lambda: (R.uniform(-3, 5, 400).round(1), R.uniform(-20, 20, 400))),
    "gammainc": (T.gammainc, sp.gammainc, lambda: (R.uniform(0.1, 20, 400), R.uniform(0, 40, 400))),
    "gammaincc": (T.gammaincc, sp.gammaincc, lambda: (R.uniform(0.1, 20, 400),
                                                      R.uniform(0, 40, 400))),
    "gammau": (T.gammau, lambda k, x: sp.gammaincc(k, x) * sp.gamma(k),
               lambda: (R.uniform(0.1, 20, 400), R.uniform(0, 40, 400))),
    "gammal": (T.gammal, lambda k, x: sp.gammainc(k, x) * sp.gamma(k),
               lambda: (R.uniform(0.1, 20, 400), R.uniform(0, 40, 400))),
    "chi2sf": (T.chi2sf, lambda x, k: sp.chdtrc(k, x),
               lambda: (R.uniform(0, 40, 400), R.uniform(1, 20, 400).round())),
}


@pytest.mark.parametrize("name", sorted(HOST))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_host_functions(name, dtype):
    fn, ref, make = HOST[name]
    a, b = (v.astype(dtype) for v in make())
    x, y = T.vector(dtype=dtype), T.vector(dtype=dtype)
    f = tvmsym.function([x, y], fn(x, y) * 2)
    out = f(a, b)
    assert out.dtype == np.dtype(dtype)
    exp = 2 * ref(a.astype(np.float64), b.astype(np.float64))
    tol = 1e-13 if dtype == "float64" else 3e-6
    np.testing.assert_allclose(out, exp.astype(dtype), rtol=tol, atol=tol * 1e-3)
    assert "HostElemwise" in tvmsym.printing.debugprint(f, file="str")


def test_host_broadcasting_and_empty():
    v, x = T.dscalar(), T.dmatrix()
    f = tvmsym.function([v, x], T.jv(v, x))
    a = R.uniform(0, 5, (3, 4))
    np.testing.assert_allclose(f(1.5, a), sp.jv(1.5, a), rtol=1e-14)
    assert f(1.5, np.zeros((0, 4))).shape == (0, 4)


def test_int_inputs_give_float64():
    x = T.ivector()
    out = tvmsym.function([x], T.psi(x))(np.array([1, 2, 3], "int32"))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, sp.psi([1.0, 2.0, 3.0]), rtol=1e-15)


def test_printing():
    x = T.dvector("x")
    assert tvmsym.pp(T.psi(x)) == "psi(x)"
    assert tvmsym.pp(T.jv(x, x)) == "jv(x, x)"
    assert str(T.erfinv(x).owner.op) == "Elemwise{erfinv,no_inplace}"
    assert str(T.gammainc(x, x).owner.op) == "HostElemwise{gammainc}"


def _pos(*s):
    return R.uniform(0.5, 4, s)


def test_grads():
    cases = [
        (T.psi, [_pos(5)]),
        (T.gammaln, [_pos(5)]),
        (T.gamma, [_pos(5)]),
        (T.erfinv, [R.uniform(-0.9, 0.9, 5)]),
        (T.erfcinv, [R.uniform(0.1, 1.9, 5)]),
        (T.erfcx, [R.uniform(-2, 5, 5)]),
        (T.i0, [R.uniform(-10, 10, 5)]),
        (T.i1, [np.r_[R.uniform(-10, 10, 4), 0.0]]),
        (T.j0, [R.uniform(-10, 10, 5)]),
        (T.j1, [np.r_[R.uniform(-10, 10, 4), 0.0]]),
        (lambda x: T.jv(2.5, x), [_pos(4)]),
        (lambda x: T.iv(1.5, x), [_pos(4)]),
        (lambda x: T.gammainc(2.5, x), [_pos(4)]),
        (lambda x: T.gammaincc(2.5, x), [_pos(4)]),
        (lambda x: T.gammau(2.5, x), [_pos(4)]),
        (lambda x: T.gammal(2.5, x), [_pos(4)]),
        (lambda x: T.chi2sf(x, 3.0), [_pos(4)]),
    ]
    for res, (fn, pt) in zip(check_grads(cases, rel_tol=1e-5, abs_tol=1e-6), cases):
        assert res["error"] is None, (res["ops"], res["error"])


def test_tri_gamma_grad_values():
    # d psi / dx = tri_gamma, checked against scipy rather than by differences
    x = T.dvector()
    g = tvmsym.function([x], tvmsym.grad(T.sum(T.psi(x)), x))
    a = np.array([0.2, 1.0, 3.5, -1.5])
    np.testing.assert_allclose(g(a), sp.polygamma(1, a), rtol=1e-13)


@pytest.mark.parametrize("fn", [T.jv, T.iv, T.gammainc, T.gammaincc])
def test_order_gradient_undefined(fn):
    x = T.dvector()
    with pytest.raises(NullGradientError, match="not implemented"):
        tvmsym.grad(T.sum(fn(x, 2.0)), x)


def test_kernel_value_read_twice():
    # the kernels Let-bind their intermediates: a result read by two consumers (fused, or
    # inlined into an injective op) must still make well-formed TIR (tvmsym._tvm.prim_func)
    from tvmsym.tensor import extra_ops as eo
    x = T.dvector()
    e = T.erfinv(x)
    f = tvmsym.function([x], [e * e + T.psi(e + 2), eo.diff(T.psi(x * x + 1)),
                              T.concatenate([e, e[::-1]])])
    a = R.uniform(-0.9, 0.9, 50)
    ee = sp.erfinv(a)
    for got, exp in zip(f(a), [ee * ee + sp.psi(ee + 2), np.diff(sp.psi(a * a + 1)),
                               np.r_[ee, ee[::-1]]]):
        np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-14)
