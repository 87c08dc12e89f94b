"""Shape-generic kernels (lowering/symbolic_shapes.py, runtime/generic.py,
schedules/cpu_generic.py): one build serves every input shape of a signature."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.lowering.symbolic_shapes import class_pattern, signature
from tvmsym.runtime import executor

SIZES = [(7, 31), (31, 7), (1, 9), (9, 1), (1, 1), (1000, 3), (3, 1000), (0, 5), (5, 0), (2, 2)]


def _builds():
    return executor.build_stats["builds"]


@pytest.fixture(scope="module")
def ew():
    x, y, v = T.matrix("x"), T.matrix("y"), T.vector("v")
    out = T.tanh(x * y) + T.exp(-abs(x)) * v - 2 * y
    return tvmsym.function([x, y, v], out), tvmsym.function([x, y, v], out, specialize=True)


def _ref(a, b, c):
    return np.tanh(a * b) + np.exp(-np.abs(a)) * c - 2 * b


def test_one_build_many_shapes(ew):
    f, _ = ew
    rng = np.random.default_rng(0)
    shapes = [(7, 31), (31, 7), (1000, 3), (3, 1000), (13, 29), (129, 65)]
    before = None
    for k, shp in enumerate(shapes):
        a, b = rng.standard_normal(shp).astype("float32"), rng.standard_normal(shp).astype("float32")
        c = rng.standard_normal(shp[1]).astype("float32")
        np.testing.assert_allclose(f(a, b, c), _ref(a, b, c), rtol=2e-6, atol=2e-6)
        if k == 0:
            before = _builds()
    assert _builds() == before          # every later shape ran the first build's kernel


@pytest.mark.parametrize("shp", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_elementwise_odd_sizes_vs_numpy(shp, dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    v = T.vector("v", dtype=dtype)
    f = tvmsym.function([x, y, v], (x + y) * x - v)
    g = _generic_fn(f)
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(shp) * 10).astype(dtype)
    b = (rng.standard_normal(shp) * 10).astype(dtype)
    c = (rng.standard_normal(shp[1]) * 10).astype(dtype)
    ref = (a + b) * a - c
    if dtype.startswith("float"):
        # (a + b) * a - c may be contracted to an fma: tolerance relative to the terms
        tol = 4 * np.finfo(dtype).eps * (np.abs(a + b) * np.abs(a) + np.abs(c) + 1)
        assert np.all(np.abs(g(a, b, c) - ref) <= tol)
    else:
        np.testing.assert_array_equal(g(a, b, c), ref)


def _generic_fn(f):
    return f


@np.errstate(invalid="ignore")
def test_ieee_values_on_generic_kernel():
    x, y = T.vector("x"), T.vector("y")
    f = tvmsym.function([x, y], x * y + x)
    for n in (1, 7, 31, 1000):
        a = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -2.5] * n, "float32")[:n * 7 - 3]
        b = np.roll(a, 1)
        np.testing.assert_array_equal(f(a, b), a * b + a)
        assert np.array_equal(np.signbit(f(a, b)), np.signbit(a * b + a))


@pytest.mark.parametrize("pattern", ["row", "col", "scalar", "3d"])
def test_broadcasting_patterns(pattern):
    rng = np.random.default_rng(2)
    if pattern == "row":
        x, r = T.matrix("x"), T.row("r")
        f = tvmsym.function([x, r], T.maximum(x, r) * 3)
        cases = [((7, 31), (1, 31)), ((1000, 17), (1, 17)), ((1, 5), (1, 5)), ((4, 0), (1, 0))]
        ref = lambda a, b: np.maximum(a, b) * 3       # noqa: E731
    elif pattern == "col":
        x, r = T.matrix("x"), T.col("c")
        f = tvmsym.function([x, r], x - r)
        cases = [((7, 31), (7, 1)), ((33, 1000), (33, 1)), ((1, 1), (1, 1))]
        ref = lambda a, b: a - b                      # noqa: E731
    elif pattern == "scalar":
        x, r = T.matrix("x"), T.scalar("s")
        f = tvmsym.function([x, r], x / r + 1)
        cases = [((7, 31), ()), ((1000, 1000), ()), ((0, 3), ())]
        ref = lambda a, b: a / b + 1                  # noqa: E731
    else:
        x, r = T.tensor3("x"), T.matrix("m")
        f = tvmsym.function([x, r], x * r.dimshuffle("x", 0, 1))
        cases = [((3, 7, 31), (7, 31)), ((1, 5, 17), (5, 17)), ((6, 40, 40), (40, 40))]
        ref = lambda a, b: a * b[None]                # noqa: E731
    for sa, sb in cases:
        a = rng.standard_normal(sa).astype("float32")
        b = (rng.standard_normal(sb) + 3).astype("float32")
        np.testing.assert_allclose(f(a, b), ref(a, b), rtol=1e-6)


def test_specialize_true_builds_per_shape(ew):
    _, fs = ew
    rng = np.random.default_rng(3)
    n0 = _builds()
    for shp in [(7, 31), (8, 31)]:
        a, b = rng.standard_normal(shp).astype("float32"), rng.standard_normal(shp).astype("float32")
        c = rng.standard_normal(shp[1]).astype("float32")
        np.testing.assert_allclose(fs(a, b, c), _ref(a, b, c), rtol=2e-6, atol=2e-6)
    assert _builds() == n0 + 2          # one build per shape, as before
    # the specialized kernel has static extents
    tir = fs.as_text("tir")
    assert "T.int32()" not in tir and "T.int64()" not in tir and "T.vectorized" in tir


def test_generic_kernel_is_vectorized_and_parallel():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], x * y + 1)
    tir = f.as_text("tir")      # before any call: lowered with the symbolic signature
    assert "T.vectorized" in tir and "T.parallel" in tir
    assert "T.int32()" in tir   # symbolic extents (size variables)
    from tvmsym import _tvm
    lanes = _tvm.vector_bytes() // 4
    assert f"T.vectorized({lanes})" in tir


@pytest.mark.parametrize("stage", ["tir", "llvm", "asm"])
def test_as_text_before_any_call(stage):
    x, y = T.matrix("x"), T.vector("y")
    f = tvmsym.function([x, y], T.dot(x, y) + T.sum(T.exp(x)))
    text = f.as_text(stage)
    assert len(text) > 100
    a = np.ones((3, 4), "float32")
    np.testing.assert_allclose(f(a, np.ones(4, "float32")), a @ np.ones(4) + np.exp(a).sum(),
                               rtol=1e-5)


def test_as_text_cuda_before_any_call():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], T.exp(x) + y, target="cuda")
    src = f.as_text("cuda")
    assert "__global__" in src


def test_signature_pins_only_what_kernels_need():
    x, w = T.matrix("x"), T.matrix("w")
    h = T.tanh(T.dot(x, w)) * 2
    f = tvmsym.function([x, w], h)
    s1 = signature(f._plan, [(128, 20), (20, 30)])
    s2 = signature(f._plan, [(100, 20), (20, 30)])
    # the matmul kernel keeps its dims concrete: the batch size is pinned too for now,
    # unless the matmul family declares M generic
    assert s1[0] == "generic" or s1[0] == "specialized"
    assert signature(f._plan, [(7, 20), (20, 30)], specialize=True)[0] == "specialized"
    g = tvmsym.function([x], T.exp(x) + 1)
    a, b = signature(g._plan, [(128, 20)]), signature(g._plan, [(100, 21)])
    assert a == b and a[0] == "generic"
    assert s1 != signature(f._plan, [(128, 20), (20, 31)])     # a pinned dim changed
    del s2


def test_class_pattern():
    pat, sizes = class_pattern([(7, 1, 0), (7, 9)])
    assert pat == ((("c", 0), 1, 0), (("c", 0), ("c", 1)))
    assert sizes == [7, 9]


def test_mixed_generic_and_specialized_kernels():
    """A graph with elementwise (generic) and reduction/matmul (specialized) kernels gives
    numpy's answers across shapes."""
    x, w = T.matrix("x"), T.matrix("w")
    out = T.nnet.sigmoid(T.dot(x, w) + 1) * 2
    f = tvmsym.function([x, w], [out, T.sum(out, axis=0)])
    rng = np.random.default_rng(4)
    for m in (1, 7, 31, 100):
        a = rng.standard_normal((m, 5)).astype("float32")
        b = rng.standard_normal((5, 3)).astype("float32")
        r = 2 / (1 + np.exp(-(a @ b + 1)))
        o, s = f(a, b)
        np.testing.assert_allclose(o, r, rtol=1e-5)
        np.testing.assert_allclose(s, r.sum(0), rtol=1e-5)


def test_updates_and_shared_with_generic_kernels():
    w = tvmsym.shared(np.ones(5, "float32"), name="w")
    x = T.matrix("x")
    f = tvmsym.function([x], x * w, updates=[(w, w * 2)])
    for m in (3, 7, 1):
        a = np.ones((m, 5), "float32")
        scale = w.get_value()[0]
        np.testing.assert_array_equal(f(a), a * scale)


def test_first_call_at_new_shape_builds_nothing():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], T.exp(x) * y + x)
    a = np.ones((128, 64), "float32")
    f(a, a)
    n = _builds()
    for m in (100, 3, 77):
        b = np.ones((m, 65), "float32")
        np.testing.assert_allclose(f(b, b), np.exp(b) * b + b, rtol=1e-6)
    assert _builds() == n


# ------------------------------------------------------------------ reductions
# multiples of the partial width too (a zero-trip tail loop must still initialize), and
# sizes above the parallel threshold (per-thread partial buffers)
RED_SHAPES = [(7, 31), (31, 7), (1000, 3), (3, 1000), (1, 1), (1, 9), (9, 1), (300, 257),
              (64, 4096), (33, 128), (128, 64)]


def _red_cases():
    return {
        "sum1": (lambda x: T.sum(x, axis=1), lambda a: a.astype("float64").sum(1)),
        "sum0": (lambda x: T.sum(x, axis=0), lambda a: a.astype("float64").sum(0)),
        "mean1": (lambda x: T.mean(x, axis=1), lambda a: a.astype("float64").mean(1)),
        "mean0": (lambda x: T.mean(x, axis=0), lambda a: a.astype("float64").mean(0)),
        "max1": (lambda x: T.max(x, axis=1), lambda a: a.max(1)),
        "min0": (lambda x: T.min(x, axis=0), lambda a: a.min(0)),
        "prod1": (lambda x: T.prod(x * 0.01 + 1, axis=1), lambda a: (a * 0.01 + 1).prod(1)),
    }


@pytest.mark.parametrize("case", sorted(_red_cases()))
def test_reductions_one_build_many_shapes(case):
    expr, ref = _red_cases()[case]
    x = T.matrix("x")
    f = tvmsym.function([x], expr(x))
    rng = np.random.default_rng(5)
    n = None
    for k, shp in enumerate(RED_SHAPES):
        a = rng.standard_normal(shp).astype("float32")
        a[0, 0] = 3.0           # a value where max/min land
        tol = 2e-5 if case.startswith("prod") else 2e-6    # float32 products: order of rounding
        np.testing.assert_allclose(f(a), ref(a).astype("float32"), rtol=tol, atol=1e-6)
        if k == 0:
            n = _builds()
    # (1, 1), (1, 9), (9, 1) are other class patterns: three more builds at most
    assert _builds() <= n + 3
    assert not getattr(f._plan, "_generic_errors", None)


@pytest.mark.parametrize("n", [0, 1, 7, 31, 1000, 4096, 100003, 1 << 18])
def test_vector_sums_exact_and_empty(n):
    v = T.vector("v")
    f = tvmsym.function([v], [T.sum(v), T.mean(v), T.max(v) if n else T.sum(v)])
    a = np.random.default_rng(6).standard_normal(n).astype("float32") + 1
    s, m, mx = f(a)
    assert s == np.float32(a.astype("float64").sum())        # float64 accumulation, rounded once
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_m = np.float32(a.astype("float64").sum() / n) if n else np.float32("nan")
    np.testing.assert_array_equal(m, ref_m)
    if n:
        assert mx == a.max()


def test_float32_sum_accuracy_one_million():
    v = T.vector("v")
    f = tvmsym.function([v], T.sum(v))
    a = np.full(1_000_000, 0.1, "float32")
    exact = a.astype("float64").sum()
    assert abs(float(f(a)) - exact) / exact < 1e-7
    f(np.ones(7, "float32"))        # a new size: the same kernel
    b = np.full(999_999, 0.1, "float32")
    assert abs(float(f(b)) - b.astype("float64").sum()) / exact < 1e-7


def test_nan_propagates_in_generic_max():
    x = T.matrix("x")
    f = tvmsym.function([x], [T.max(x, axis=1), T.min(x, axis=0)])
    a = np.arange(7 * 33, dtype="float32").reshape(7, 33)
    a[2, 30] = np.nan
    mx, mn = f(a)
    np.testing.assert_array_equal(mx, a.max(1))
    np.testing.assert_array_equal(mn, a.min(0))


def test_int_reductions():
    x = T.matrix("x", dtype="int32")
    f = tvmsym.function([x], [T.sum(x, axis=1), T.max(x, axis=0), T.sum(x, axis=0)])
    for shp in [(7, 31), (100, 3)]:
        a = np.random.default_rng(7).integers(-1000, 1000, shp).astype("int32")
        s1, m0, s0 = f(a)
        np.testing.assert_array_equal(s1, a.sum(1))
        np.testing.assert_array_equal(m0, a.max(0))
        np.testing.assert_array_equal(s0, a.sum(0))


# ------------------------------------------------------------------ softmax
def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_softmax_logsoftmax_one_build_many_shapes():
    x = T.matrix("x")
    f = tvmsym.function([x], [T.nnet.softmax(x), T.nnet.logsoftmax(x)])
    rng = np.random.default_rng(8)
    n = None
    for k, shp in enumerate([(7, 31), (31, 7), (1000, 3), (3, 1000), (300, 257), (2, 17),
                             (64, 1024), (7, 64), (1024, 48)]):
        a = (rng.standard_normal(shp) * 5).astype("float32")
        sm, lsm = f(a)
        np.testing.assert_allclose(sm, _softmax(a), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lsm, np.log(_softmax(a.astype("float64"))), rtol=1e-5, atol=1e-5)
        if k == 0:
            n = _builds()
    assert _builds() == n
    assert not getattr(f._plan, "_generic_errors", None)


@pytest.mark.parametrize("shp", [(1, 1), (1, 9), (9, 1), (4, 16), (5, 0), (0, 5)])
def test_softmax_small_and_empty(shp):
    x = T.matrix("x")
    f = tvmsym.function([x], T.nnet.softmax(x))
    a = np.random.default_rng(9).standard_normal(shp).astype("float32")
    r = f(a)
    assert r.shape == a.shape
    if a.size:
        np.testing.assert_allclose(r, _softmax(a), rtol=1e-5, atol=1e-6)


def test_softmax_inf_and_nan_rows():
    x = T.matrix("x")
    f = tvmsym.function([x], T.nnet.softmax(x))
    g = tvmsym.function([x], T.nnet.softmax(x), specialize=True)
    a = np.zeros((4, 37), "float32")
    a[1, 3] = np.inf
    a[2, 30] = np.nan
    a[3, :] = -np.inf
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.isnan(f(a)), np.isnan(g(a)))
        np.testing.assert_allclose(f(a)[0], g(a)[0], rtol=1e-6)


def test_new_pinned_size_builds_only_the_specialized_kernels():
    """A cumsum keeps its dims concrete (for now): a new batch size builds its kernel again,
    while the generic kernels of the same class pattern are reused (kernel_key)."""
    from tvmsym.lowering.symbolic_shapes import class_pattern, generic_steps, structure
    x, w = T.matrix("x"), T.matrix("w")
    h = T.cumsum(T.dot(x, w), axis=1)
    out = T.nnet.softmax(h) * 2 + T.sum(x, axis=1, keepdims=True)
    f = tvmsym.function([x, w], [out, T.sum(out, axis=0)])
    rng = np.random.default_rng(11)
    b = rng.standard_normal((6, 3)).astype("float32")
    f(rng.standard_normal((128, 6)).astype("float32"), b)
    pat, _ = class_pattern([(128, 6), (6, 3)])
    gen, _ = generic_steps(f._plan, structure(f._plan, pat), "llvm")
    n_spec = sum(1 for st in f._plan.steps if st.kind == "tvm" and st.name not in gen)
    assert gen and n_spec
    k0 = executor.build_stats["kernels"]
    for m in (100, 7):
        a = rng.standard_normal((m, 6)).astype("float32")
        o, s = f(a, b)
        z = np.cumsum(a @ b, axis=1)
        e = np.exp(z - z.max(1, keepdims=True))
        ref = e / e.sum(1, keepdims=True) * 2 + a.sum(1, keepdims=True)
        np.testing.assert_allclose(o, ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s, ref.sum(0), rtol=1e-4, atol=1e-4)
    assert executor.build_stats["kernels"] - k0 == 2 * n_spec


@pytest.mark.parametrize("sizes", [(3, 30, 5), (30, 3, 12)])
def test_dims_clipped_by_constants_are_not_mistaken_for_constants(sizes):
    """x[:10] has min(n, 10) elements: constant at large (probe) sizes, n at small ones.
    A generic kernel must never run at a size where the probes' structure is wrong."""
    v = T.vector("v")
    f = tvmsym.function([v], [T.sum(v[:10]), T.exp(v[:10]) * 2, T.sum(v)])
    for n in sizes:
        a = np.arange(n, dtype="float32") * 0.1
        s, e, t = f(a)
        assert s == np.float32(a[:10].astype("float64").sum())
        np.testing.assert_allclose(e, np.exp(a[:10]) * 2, rtol=1e-6)
        np.testing.assert_allclose(t, a.astype("float64").sum(), rtol=1e-6)


def test_scan_with_a_clipped_length():
    coefficients, x = T.vector("coefficients"), T.scalar("x")
    components, _ = tvmsym.scan(fn=lambda c, p, fv: c * (fv ** p), outputs_info=None,
                                sequences=[coefficients, T.arange(10000)], non_sequences=x)
    f = tvmsym.function([coefficients, x], components.sum())
    assert f(np.asarray([1, 0, 2], "float32"), 3) == 19.0
    assert f(np.asarray([1, 1], "float32"), 2) == 3.0
