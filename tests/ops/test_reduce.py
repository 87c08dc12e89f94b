"""Reductions against numpy: a table of records run over shapes, axes, keepdims and dtypes.

One compiled function per (dtype, ndim) computes every record with every axis choice, so a
shape costs one build of all kernels (functions cache one build per input-shape signature).
"""
import warnings
import zlib

import numpy as np
import pytest
from numpy.exceptions import AxisError

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm

# name, symbolic fn(x, axis, keepdims), numpy fn(a, axis, keepdims), dtypes, raises on empty, full axes?
RECORDS = [
    ("sum", lambda x, ax, kd: T.sum(x, ax, keepdims=kd), lambda a, ax, kd: np.sum(a, ax, keepdims=kd),
     "float32 float64 int32 int64 int8 uint8 bool", False, True),
    ("prod", lambda x, ax, kd: x.prod(ax, keepdims=kd), lambda a, ax, kd: np.prod(a, ax, keepdims=kd),
     "float32 float64 int32 int64 bool", False, True),
    ("mean", lambda x, ax, kd: x.mean(ax, keepdims=kd), lambda a, ax, kd: np.mean(a, ax, keepdims=kd),
     "float32 float64 int32 int64 bool", False, True),
    ("var", lambda x, ax, kd: T.var(x, ax, keepdims=kd), lambda a, ax, kd: np.var(a, ax, keepdims=kd),
     "float32 float64 int32", False, False),
    ("std1", lambda x, ax, kd: T.std(x, ax, ddof=1, keepdims=kd),
     lambda a, ax, kd: np.std(a, ax, ddof=1, keepdims=kd), "float32 float64", False, False),
    ("all", lambda x, ax, kd: x.all(ax, keepdims=kd), lambda a, ax, kd: np.all(a, ax, keepdims=kd),
     "float32 int32 bool", False, True),
    ("any", lambda x, ax, kd: T.any(x, ax, keepdims=kd), lambda a, ax, kd: np.any(a, ax, keepdims=kd),
     "float32 int64 bool", False, True),
    ("max", lambda x, ax, kd: x.max(ax, keepdims=kd), lambda a, ax, kd: np.max(a, ax, keepdims=kd),
     "float32 float64 int32 int64 uint8 bool", True, True),
    ("min", lambda x, ax, kd: T.min(x, ax, keepdims=kd), lambda a, ax, kd: np.min(a, ax, keepdims=kd),
     "float32 float64 int32 int64 bool", True, True),
    ("argmax", lambda x, ax, kd: x.argmax(ax, keepdims=kd),
     lambda a, ax, kd: np.argmax(a, ax, keepdims=kd), "float32 int32 bool", True, True),
    ("argmin", lambda x, ax, kd: T.argmin(x, ax, keepdims=kd),
     lambda a, ax, kd: np.argmin(a, ax, keepdims=kd), "float32 int64", True, True),
    ("logsumexp", lambda x, ax, kd: T.logsumexp(x, ax, keepdims=kd),
     lambda a, ax, kd: np.log(np.sum(np.exp(a - np.max(a, ax, keepdims=True)), ax, keepdims=kd))
     + (np.max(a, ax, keepdims=True) if kd else np.squeeze(np.max(a, ax, keepdims=True), ax)),
     "float32 float64", True, False),
]
SINGLE_AXIS = {"argmax", "argmin"}       # numpy takes an int or None there


def axis_choices(ndim, name, full):
    """(axis, keepdims) pairs: every axis form for the core ops, a few for composite ones."""
    if not full:
        return [(None, False), (-1 if ndim else None, True)]
    ch = [None] + list(range(ndim)) + ([-1] if ndim else [])
    if ndim >= 2 and name not in SINGLE_AXIS:
        ch += [(0, -1)]
    if ndim >= 3 and name not in SINGLE_AXIS:
        ch += [(-3, 1), (0, 1, 2)]
    return [(a, False) for a in ch] + [(ch[-1], True)]


SHAPES = {
    0: [()],
    1: [(1,), (0,), (1000,)],
    2: [(3, 4), (1, 5), (4, 1), (0, 3), (3, 0), (64, 33)],
    3: [(2, 3, 4), (2, 0, 3), (5, 1, 17)],
}
# every shape for float32; a few shapes (incl. empty) for the other dtypes; the rest is @slow
OTHER_SHAPES = {0: [()], 1: [(7,)], 2: [(3, 4), (3, 0)]}
SLOW_SHAPES = {1: [(7,), (0,), (1000,)], 2: [(1, 5), (4, 1), (0, 3), (64, 33)],
               3: [(2, 3, 4), (1, 1, 1), (2, 0, 3), (5, 1, 17)]}
OTHER_DTYPES = ("float64", "int32", "int64", "int8", "uint8", "bool")


def make_data(shape, dtype, rng):
    if dtype == "bool":
        return np.asarray(rng.random(shape) > 0.3)
    if np.dtype(dtype).kind in "iu":
        lo = 0 if np.dtype(dtype).kind == "u" else -3
        return np.asarray(rng.integers(lo, 4, size=shape), dtype)
    # products of many floats stay finite near 1
    return np.asarray((rng.random(shape) * 0.5 + 0.75) * rng.choice([-1, 1], size=shape), dtype)


def tol(dtype, name):
    if dtype == "float32":
        return dict(rtol=2e-5 if name not in ("var", "std1", "logsumexp") else 2e-4, atol=1e-5)
    return dict(rtol=1e-10, atol=1e-12)


_FUNCS = {}


def compiled(dtype, ndim, raising):
    """One function per (dtype, ndim, raising?) computing every record and axis choice."""
    key = (dtype, ndim, raising)
    if key not in _FUNCS:
        x = T.tensor(dtype, (False,) * ndim, name="x")
        outs, specs = [], []
        for name, sym, ref, dtypes, raises, full in RECORDS:
            if dtype not in dtypes.split() or raises != raising:
                continue
            for ax, kd in axis_choices(ndim, name, full):
                outs.append(sym(x, ax, kd))
                specs.append((name, ref, ax, kd))
        _FUNCS[key] = (tvmsym.function([x], outs) if outs else None, specs)
    return _FUNCS[key]


def check(dtype, ndim, raising, a):
    f, specs = compiled(dtype, ndim, raising)
    results = f(a) if f is not None else []
    for (name, ref, ax, kd), got in zip(specs, results):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = np.asarray(ref(a, ax, kd))
        what = f"{name}(axis={ax}, keepdims={kd}) of {dtype}{a.shape}"
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != numpy's {want.dtype}"
        assert got.shape == want.shape, f"{what}: shape {got.shape} != numpy's {want.shape}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, err_msg=what, equal_nan=True, **tol(dtype, name))
        else:
            np.testing.assert_array_equal(got, want, err_msg=what)


CASES = ([("float32", nd, shape) for nd, shapes in SHAPES.items() for shape in shapes]
         + [(dt, nd, shape) for nd, shapes in OTHER_SHAPES.items() for shape in shapes
            for dt in OTHER_DTYPES])
SLOW_CASES = [(dt, nd, shape) for nd, shapes in SLOW_SHAPES.items() for shape in shapes
              for dt in OTHER_DTYPES]


@pytest.mark.parametrize("dtype,ndim,shape", CASES, ids=[f"{d}-{s}" for d, _, s in CASES])
def test_reductions_match_numpy(dtype, ndim, shape):
    run_case(dtype, ndim, shape)


@pytest.mark.slow
@pytest.mark.parametrize("dtype,ndim,shape", SLOW_CASES, ids=[f"{d}-{s}" for d, _, s in SLOW_CASES])
def test_reductions_match_numpy_sweep(dtype, ndim, shape):
    run_case(dtype, ndim, shape)


def run_case(dtype, ndim, shape):
    rng = np.random.default_rng(zlib.crc32(repr((dtype, shape)).encode()))
    a = make_data(shape, dtype, rng)
    check(dtype, ndim, False, a)
    if 0 in shape:
        f, specs = compiled(dtype, ndim, True)
        if specs:
            with pytest.raises(ValueError, match="zero-size array|empty sequence"):
                f(a)
    else:
        check(dtype, ndim, True, a)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(0)
    base = make_data((6, 10, 8), "float32", rng)
    a = base[::3, 1::2, ::-1].transpose(2, 0, 1)       # strided, reversed, transposed: (8, 2, 5)
    check("float32", 3, False, a)
    check("float32", 3, True, a)


def test_nan_and_inf_semantics():
    x = T.matrix("x", dtype="float32")
    f = tvmsym.function([x], [x.max(1), x.min(1), x.argmax(1), x.argmin(1), x.sum(1),
                              T.logsumexp(x, 1)])
    a = np.array([[1, np.nan, 3, np.nan], [-np.inf, -np.inf, -np.inf, -np.inf],
                  [2, 5, 5, 1], [np.inf, 1, np.inf, -np.inf]], "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = [a.max(1), a.min(1), a.argmax(1), a.argmin(1), a.sum(1)]
    for g, w in zip(f(a), want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_allclose(f(a)[5][1:], [-np.inf, np.log(np.exp(np.float64([2, 5, 5, 1])).sum()), np.inf],
                               rtol=1e-6)


def test_dtype_and_acc_dtype_arguments():
    x = T.vector("x", dtype="int8")
    f = tvmsym.function([x], [x.sum(), x.sum(dtype="int8"), x.sum(acc_dtype="float64"),
                              x.prod(dtype="float32"), x.mean(dtype="float32")])
    a = np.full(300, 100, "int8")
    got = f(a)
    assert [g.dtype.name for g in got] == ["int64", "int8", "int64", "float32", "float32"]
    assert got[0] == 30000 and got[1] == np.sum(a, dtype="int8") and got[2] == 30000
    assert got[4] == np.float32(100)
    h = T.vector("h", dtype="float16")
    s = T.sum(h)
    assert s.dtype == "float16" and s.owner.op.acc_dtype == "float32"
    v = np.full(4096, 1.0, "float16")
    assert tvmsym.function([h], s)(v) == 4096      # float16 accumulation would stop at 2048


def test_shapes_recompile_per_signature_and_cache():
    """Kernels are built per input-shape signature (static extents let the schedules split
    and vectorize exactly) and cached: a shape seen before is not rebuilt."""
    x = T.matrix("x")
    f = tvmsym.function([x], [x.sum(0), x.max(1)])
    for shape in [(2, 3), (5, 7), (2, 3)]:
        a = np.arange(np.prod(shape), dtype="float32").reshape(shape)
        s, m = f(a)
        np.testing.assert_array_equal(s, a.sum(0))
        np.testing.assert_array_equal(m, a.max(1))
    assert len(f._builds) == 2


def test_bad_axis_raises_at_build_time():
    x = T.matrix("x")
    with pytest.raises(AxisError, match="sum: axis 2 is out of bounds for array of dimension 2"):
        x.sum(axis=2)
    with pytest.raises(AxisError, match="axis -3 is out of bounds for array of dimension 2"):
        T.max(x, axis=(0, -3))
    with pytest.raises(ValueError, match="duplicate value in 'axis'"):
        x.mean(axis=(1, -1))
    with pytest.raises(TypeError, match="axis must be"):
        x.sum(axis=1.5)


def test_empty_max_raises_clearly_at_call_time():
    x = T.matrix("x")
    f = tvmsym.function([x], x.max(axis=1))
    with pytest.raises(ValueError, match=r"zero-size array to reduction operation maximum which "
                                         r"has no identity \(Max\{axis=\[1\]\} of an input of shape \(3, 0\)\)"):
        f(np.zeros((3, 0), "float32"))
    assert f(np.zeros((0, 3), "float32")).shape == (0,)


def test_printing():
    x = T.matrix("x")
    assert str(x.sum(1).owner.op) == "Sum{axis=[1], acc_dtype=float32}"
    assert str(x.sum().owner.op) == "Sum{acc_dtype=float32}"
    assert str(T.lmatrix().sum(0, acc_dtype="float64").owner.op) == "Sum{axis=[0], acc_dtype=float64, dtype=int64}"
    assert str(x.max(-1).owner.op) == "Max{axis=[1]}"
    assert str(x.argmax(0).owner.op) == "Argmax{axis=[0]}"
    assert str(T.bmatrix().mean().owner.op) == "Mean{acc_dtype=float64}"
    assert tvmsym.pp(x.sum(axis=(0, 1))) == "Sum{acc_dtype=float32}(x)"
    text = tvmsym.printing.debugprint(x.max(1, keepdims=True), file="str")
    assert text == ("InplaceDimShuffle{0,x} [id A] ''   \n"
                    " |Max{axis=[1]} [id B] ''   \n"
                    "   |x [id C]\n")


def test_types_and_broadcastable():
    x = T.tensor("float32", (False, True, False), name="x")
    assert x.sum(0).broadcastable == (True, False)
    assert x.sum(0, keepdims=True).broadcastable == (True, True, False)
    assert x.argmax(2).dtype == "int64"
    assert T.ivector().mean().dtype == "float64"
    assert T.bvector().sum().dtype == "int64" and T.bvector().max().dtype == "int8"
    assert x.any().dtype == "bool"


def test_ops_reference_perform_matches_numpy():
    from tvmsym.symbolic.ops.reduce import Argmax, Mean, Sum
    a = np.arange(24, dtype="float64").reshape(2, 3, 4)
    x = T.tensor3("x", dtype="float64")
    node = Sum(axis=(0, 2))(x).owner
    np.testing.assert_array_equal(node.op.perform(node, [a])[0], a.sum((0, 2)))
    node = Argmax(axis=(1, 2))(x).owner
    np.testing.assert_array_equal(node.op.perform(node, [a])[0], a.reshape(2, -1).argmax(1))
    node = Mean(axis=None, ddof=1)(x).owner
    assert node.op.perform(node, [a])[0] == a.sum() / 23
    assert node.op.infer_shape(node, [(2, 3, 4)]) == [()]


# --------------------------------------------------------------------------- sort, cumsum
def test_sort_argsort_cumsum_cumprod_match_numpy():
    x, i = T.matrix("x"), T.imatrix("i")
    f = tvmsym.function([x, i], [T.sort(x), x.sort(axis=0), T.argsort(x, axis=None, kind="stable"),
                                 x.argsort(-1, kind="stable"), x.cumsum(1), x.cumprod(),
                                 T.cumsum(x, axis=-2), i.cumsum(0), i.cumprod(1),
                                 i.cumsum(dtype="float32"), i.sort(1)])
    rng = np.random.default_rng(3)
    for shape in [(5, 7), (1, 1), (0, 3), (3, 40)]:
        a = (rng.standard_normal(shape) * 0.9).astype("float32")
        if a.size > 3:
            a.flat[2] = np.nan
            a.flat[3] = a.flat[1]          # a tie: stable argsort keeps index order
        b = rng.integers(-3, 4, shape).astype("int32")
        want = [np.sort(a), np.sort(a, 0), np.argsort(a, None, kind="stable"),
                np.argsort(a, -1, kind="stable"), np.cumsum(a, 1), np.cumprod(a), np.cumsum(a, -2),
                np.cumsum(b, 0), np.cumprod(b, 1), np.cumsum(b, dtype="float32"), np.sort(b, 1)]
        for k, (g, w) in enumerate(zip(f(a, b), want)):
            assert g.dtype == w.dtype and g.shape == w.shape, (k, shape)
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=f"{k} {shape}")


def test_sort_and_cum_printing_and_errors():
    x = T.matrix("x")
    assert str(T.sort(x).owner.op) == "Sort{axis=-1, quicksort}"
    assert str(x.cumsum(0).owner.op) == "Cumsum{0}"
    assert str(T.bmatrix().cumprod(1).owner.op) == "Cumprod{1}" and T.bmatrix().cumsum(1).dtype == "int64"
    with pytest.raises(AxisError, match="cumsum: axis 2 is out of bounds for array of dimension 2"):
        x.cumsum(2)
    with pytest.raises(AxisError, match="axis -3 is out of bounds"):
        T.sort(x, -3)
    with pytest.raises(ValueError, match="sort kind must be one of"):
        T.sort(x, kind="bogo")


# --------------------------------------------------------------------------- scheduled paths
def test_large_shapes_take_the_vector_and_parallel_schedules():
    """Shapes big enough for rfactor partials, threads and two-stage full reductions."""
    x3 = T.tensor3("x3")
    b = T.tensor("bool", (False, False), name="b")
    i = T.imatrix("i")
    x = T.matrix("x")
    outs = [x.sum(), x.sum(1), x.sum(0), x.max(1), x.min(), x.mean(), x.mean(0), T.var(x, 1),
            x.argmax(1), x.argmin(), x.argmax(0), x.prod(1), T.logsumexp(x, 1), x.T.sum(1),
            x.dimshuffle(1, "x", 0).max(2), x3.sum((1, 2)), x3.sum((0, 2)), x3.max(0), b.any(1),
            b.all(), i.sum(1), i.sum(), i.max(0)]
    # (specialize=True: the static schedules; the generic ones: tests/runtime/test_generic_*)
    f = tvmsym.function([x, x3, b, i], outs, specialize=True)
    rng = np.random.default_rng(7)
    a = (rng.uniform(0.999, 1.001, (256, 512)) * rng.choice([-1, 1], (256, 512))).astype("float32")
    a[3, 100] = 7.5                               # a unique max
    a3 = rng.standard_normal((8, 64, 256)).astype("float32")
    bb = rng.random((256, 512)) > 0.001
    ii = rng.integers(-1000, 1000, (256, 512)).astype("int32")
    want = [a.sum(), a.sum(1), a.sum(0), a.max(1), a.min(), a.mean(), a.mean(0), a.var(1),
            a.argmax(1), a.argmin(), a.argmax(0), a.prod(1), np.log(np.exp(a).sum(1)), a.T.sum(1),
            a.T[:, None, :].max(2), a3.sum((1, 2)), a3.sum((0, 2)), a3.max(0), bb.any(1), bb.all(),
            ii.sum(1), ii.sum(), ii.max(0)]
    for k, (g, w) in enumerate(zip(f(a, a3, bb, ii), want)):
        assert g.dtype == w.dtype and g.shape == w.shape, k
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-3, err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
    tir = f.as_text("tir")
    lanes = _tvm.vector_bytes() // 4        # float32 lanes of the host's registers
    assert "T.parallel" in tir and f"T.vectorized({lanes})" in tir and "_part" in tir


# --------------------------------------------------------------------------- argmax / argmin
# The one-pass SIMD argmax (lowering/rules/reduce.py ``_argmax_one_pass``) has separate row
# (W = 4 vectors or 1 vector of lanes per row), sliced full-reduction and column paths: the
# shapes below reach each, and the data holds ties, NaNs, infinities and rows of -inf only.
ARG_OUTS = [("argmax", None, False), ("argmax", 0, False), ("argmax", 1, False),
            ("argmax", -1, True), ("argmin", None, False), ("argmin", 0, False),
            ("argmin", 1, False), ("argmin", 0, True)]
_ARG_FUNCS = {}


def arg_function(dtype):
    if dtype not in _ARG_FUNCS:
        x = T.tensor(dtype, (False, False), name="x")
        outs = [(x.argmax if name == "argmax" else lambda *a, **k: T.argmin(x, *a, **k))(
            ax, keepdims=kd) for name, ax, kd in ARG_OUTS]
        _ARG_FUNCS[dtype] = tvmsym.function([x], outs)
    return _ARG_FUNCS[dtype]


def arg_data(shape, dtype, rng, special=True):
    """Few distinct values (ties everywhere); floats also get NaN, +-inf, -inf-only rows."""
    if dtype == "bool":
        return np.asarray(rng.random(shape) > 0.5)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        vals = np.array([info.min, info.min + 1, 0, 1, info.max - 1, info.max], dtype)
        return rng.choice(vals, size=shape)
    a = rng.choice(np.array([-2, -1, 0, 1, 2], dtype), size=shape)
    if special and a.ndim == 2 and a.size:
        r, c = a.shape
        a[0] = -np.inf                                   # -inf only
        if r > 1:
            a[1] = np.inf
            a[1, c // 2] = np.nan                        # one NaN among +inf
        if r > 2:
            a[2, rng.integers(0, c, 3)] = np.nan         # several NaNs: the first one counts
        if r > 3:
            a[3, -1] = np.nan                            # NaN in the last lane
        if r > 4:
            a[4] = 5.0                                   # all equal: index 0
        a[rng.integers(0, r, r), rng.integers(0, c, r)] = np.nan       # scattered NaNs
        a[:, 1 % c] = np.where(np.arange(r) % 2, np.inf, -np.inf)
    return a


def check_args(a):
    f = arg_function(str(a.dtype))
    got = f(a)
    for (name, ax, kd), g in zip(ARG_OUTS, got):
        want = getattr(np, name)(a, axis=ax, keepdims=kd)
        what = f"{name}(axis={ax}, keepdims={kd}) of {a.dtype}{a.shape}"
        assert g.dtype == want.dtype and g.shape == want.shape, what
        np.testing.assert_array_equal(g, want, err_msg=what)


ARG_SHAPES = [(6, 96),          # rows: 4 accumulator vectors per row (float32)
              (5, 40),          # rows: one vector per row; columns: 40 lanes
              (96, 6),          # rows too short to vectorize; columns: < one vector
              (3, 32768),       # full reduction and argmax(1) cut into parallel slices
              (7, 32),          # rows of exactly one block
              (1, 1), (1, 96), (96, 1)]


@pytest.mark.parametrize("shape", ARG_SHAPES, ids=str)
def test_argmax_argmin_float32_ties_nan_inf(shape):
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    check_args(arg_data(shape, "float32", rng))
    check_args(arg_data(shape, "float32", rng, special=False))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int8", "int32", "int64", "uint8", "bool"])
def test_argmax_argmin_other_dtypes(dtype):
    rng = np.random.default_rng(zlib.crc32(dtype.encode()))
    for shape in [(70, 256), (2, 65536), (5, 128)]:
        check_args(arg_data(shape, dtype, rng))


def test_argmax_nan_positions_in_every_lane():
    """A single NaN (or the single maximum) at every position of a 128-wide row."""
    n = 128
    a = np.tile(np.linspace(-1, 1, n, dtype="float32"), (2 * n, 1))
    for i in range(n):
        a[i, i] = np.nan                 # row i: NaN at i
        a[n + i] = 0.0
        a[n + i, i] = 3.0 if i % 2 else -3.0
        a[n + i, (i * 7) % n] = 3.0      # a tie with an earlier or later position
    check_args(a)
    check_args(np.ascontiguousarray(a.T))


def test_argmax_of_empty_raises_like_numpy():
    f = arg_function("float32")
    for shape in [(0, 8), (3, 0)]:
        with pytest.raises(ValueError, match="attempt to get argm.. of an empty sequence"):
            f(np.zeros(shape, "float32"))
    x = T.matrix("x")
    g = tvmsym.function([x], [x.argmax(0), T.argmin(x, 1)])
    for a in (np.zeros((3, 0), "float32"), np.zeros((0, 3), "float32")):
        with pytest.raises(ValueError, match="attempt to get argm.. of an empty sequence"):
            g(a)
    # reducing a non-empty axis of an empty array: an empty result, as numpy
    h = tvmsym.function([x], x.argmax(0))
    r = h(np.zeros((3, 0), "float32"))
    assert r.shape == (0,) and r.dtype == np.int64


def test_argmax_uses_the_one_pass_vector_schedule():
    f = arg_function("float32")
    f(np.zeros((6, 96), "float32"))
    tir = f.as_text("tir")
    assert "_lanes" in tir and "_mid" in tir and "T.vectorized(8)" in tir
