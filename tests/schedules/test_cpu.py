"""CPU schedules: fused elementwise kernels are parallel and vectorized (TIR/asm), vector math."""
import math
import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm

x, y = T.matrix("x"), T.matrix("y")
rng = np.random.default_rng(0)


def rand(*shape):
    return rng.standard_normal(shape).astype("float32")


@pytest.fixture(scope="module")
def seed_fn():
    # specialize=True: static extents (the shape-generic kernels: tests/runtime/test_generic_shapes.py)
    return tvmsym.function([x, y], (x + y) * x, specialize=True)


def test_large_kernel_is_parallel_and_vectorized(seed_fn):
    a, b = rand(512, 512), rand(512, 512)
    np.testing.assert_allclose(seed_fn(a, b), (a + b) * a, rtol=1e-6)
    tir = seed_fn.as_text("tir")
    assert "T.parallel(" in tir and "T.vectorized(" in tir
    lanes = _tvm.vector_bytes() // 4
    assert f"T.vectorized({lanes})" in tir
    asm = seed_fn.as_text("asm")
    reg = {64: "z", 32: "y", 16: "x"}[_tvm.vector_bytes()] + "mm"   # the host's widest registers
    assert re.search(rf"%{reg}\d+", asm)
    assert "<%d x float>" % lanes in seed_fn.as_text("llvm")


def test_small_kernel_is_vectorized_not_parallel(seed_fn):
    a, b = rand(16, 16), rand(16, 16)
    np.testing.assert_allclose(seed_fn(a, b), (a + b) * a, rtol=1e-6)
    tir = seed_fn.as_text("tir")
    assert "T.parallel(" not in tir and "T.vectorized(" in tir


@pytest.mark.parametrize("shape", [(999, 1001), (3, 5)])
def test_sizes_not_divisible_by_the_vector_width(seed_fn, shape):
    a, b = rand(*shape), rand(*shape)
    np.testing.assert_allclose(seed_fn(a, b), (a + b) * a, rtol=1e-6)
    tir = seed_fn.as_text("tir")
    n = shape[0] * shape[1]
    lanes = _tvm.vector_bytes() // 4
    if n >= lanes:          # a vectorized main part and a scalar tail of n % lanes elements
        assert "T.vectorized(" in tir
        assert f"range({n - n % lanes}, {n})" in tir


def test_multi_output_kernel():
    f = tvmsym.function([x, y], [T.exp(x + y) * x, x + y])
    for shape in [(999, 1001), (64, 64)]:
        a, b = rand(*shape) * 0.1, rand(*shape)
        r0, r1 = f(a, b)
        np.testing.assert_allclose(r0, np.exp(a + b) * a, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(r1, a + b, rtol=1e-6)
    assert len(f._last.mod.functions_items()) == 1          # one fused kernel


VECTOR_MATH = [("exp", T.exp, np.exp, (-5, 5)), ("log", T.log, np.log, (0.01, 50)),
               ("log1p", T.log1p, np.log1p, (-0.5, 50)), ("tanh", T.tanh, np.tanh, (-6, 6)),
               ("sin", T.sin, np.sin, (-6, 6)), ("cos", T.cos, np.cos, (-6, 6)),
               ("exp2", T.exp2, np.exp2, (-5, 5)), ("log2", T.log2, np.log2, (0.01, 50)),
               ("erf", T.erf, np.vectorize(math.erf, otypes=["float64"]), (-3, 3))]


def test_vector_transcendentals_use_libmvec_and_match_numpy():
    v = T.vector("v")
    f = tvmsym.function([v], [sym(v) for _, sym, _, _ in VECTOR_MATH])
    n = 4096
    u = rng.random(n).astype("float32")
    # one input, rescaled per function inside numpy to its domain: evaluate each separately
    for k, (name, sym, ref, (lo, hi)) in enumerate(VECTOR_MATH):
        a = (lo + (hi - lo) * u).astype("float32")
        got = f(a)[k]
        np.testing.assert_allclose(got, ref(a), rtol=4e-6, atol=2e-7, err_msg=name)
    asm = f.as_text("asm")
    if _tvm.mvec_enabled and _tvm.vector_bytes() == 32:
        for name, *_ in VECTOR_MATH:
            assert f"_ZGVdN8v_{name}f" in asm, name


@pytest.mark.parametrize("dtype, n", [("float64", 1003), ("float32", 1003)])
def test_other_dtypes_tails_and_functions_without_vector_variants(dtype, n):
    d = T.vector("d", dtype=dtype)
    f = tvmsym.function([d], [T.tanh(d) + T.log1p(T.exp(d)), T.arctan(d) + T.sinh(d) + T.expm1(d),
                              T.cast(T.exp(T.cast(d, "float64")), "float32")])
    a = (rng.standard_normal(n) * 3).astype(dtype)
    r0, r1, r2 = f(a)
    tol = 1e-12 if dtype == "float64" else 3e-6
    np.testing.assert_allclose(r0, np.tanh(a) + np.logaddexp(0, a), rtol=tol, atol=tol)
    np.testing.assert_allclose(r1, np.arctan(a) + np.sinh(a) + np.expm1(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(r2, np.exp(a.astype("float64")).astype("float32"), rtol=1e-6)


def test_without_libmvec_the_stock_lowering_is_used():
    import subprocess
    import sys
    code = ("import numpy as np, tvmsym, tvmsym.tensor as T\n"
            "from tvmsym import _tvm\n"
            "v = T.vector('v'); f = tvmsym.function([v], T.exp(v) + T.log1p(abs(v)))\n"
            "a = np.linspace(-3, 3, 1000).astype('float32')\n"
            "np.testing.assert_allclose(f(a), np.exp(a) + np.log1p(abs(a)), rtol=2e-6)\n"
            "assert not _tvm.mvec_enabled and '_ZGV' not in f.as_text('asm')\n"
            "print('ok')\n")
    env = dict(__import__("os").environ, TVMSYM_NO_MVEC="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "ok", r.stderr[-2000:]


def test_broadcasting_kernels_vectorize_rows():
    v = T.vector("v")
    f = tvmsym.function([x, v], [T.exp(x + v) * x, x - v])
    g = tvmsym.function([x, v], T.exp(x + v) * x, specialize=True)
    for cols in (1001, 64, 5):
        a, b = rand(300, cols), rand(cols)
        r0, r1 = f(a, b)
        np.testing.assert_allclose(r0, np.exp(a + b) * a, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r1, a - b, rtol=1e-6)
        np.testing.assert_allclose(g(a, b), np.exp(a + b) * a, rtol=1e-5, atol=1e-6)
        tir = g.as_text("tir")
        assert "T.vectorized(" in tir
        if cols == 1001:        # rows in parallel, each row: whole vectors + a scalar tail
            lanes = _tvm.vector_bytes() // 4        # the host's register width, float32 lanes
            rows, main = 300, cols - cols % lanes
            assert f"T.parallel({rows})" in tir and f"T.vectorized({lanes})" in tir
            assert f"range({main}, {cols})" in tir
