"""Shape-generic reductions, the families that were still specialized (issue 12):
argmax / argmin / max_and_argmax, multi-output sibling reductions (SiblingReduce), every
axis of a 3-d / 4-d array, and middle axes.  One build serves many shapes (build counter),
the answers are numpy's (NaN, ties, +-inf, empty, integer wrap), and the generic kernels
are really generic (no fallback to the specialized lowering)."""
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import verify_grad
from tvmsym.runtime import executor
from tvmsym.symbolic.ops.reduce_siblings import SiblingReduce


@pytest.fixture(scope="module", autouse=True)
def sibling_generic():
    """Generic SiblingReduce and row argmax kernels on for this module (off by default:
    build cost, speed: lowering/symbolic_shapes.py ``SIBLING_GENERIC``,
    ``ARGMAX_ROWS_GENERIC``); the functions are made and called while they are on."""
    from tvmsym.lowering import symbolic_shapes
    old = symbolic_shapes.SIBLING_GENERIC, symbolic_shapes.ARGMAX_ROWS_GENERIC
    symbolic_shapes.SIBLING_GENERIC = symbolic_shapes.ARGMAX_ROWS_GENERIC = True
    yield
    symbolic_shapes.SIBLING_GENERIC, symbolic_shapes.ARGMAX_ROWS_GENERIC = old


def _builds():
    return executor.build_stats["builds"]


def _generic_ok(f):
    """No kernel of ``f`` fell back to its specialized lowering."""
    assert not getattr(f._plan, "_generic_errors", None), f._plan._generic_errors


def _sample(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.3
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 3).astype(dtype)


# ------------------------------------------------------------------ argmax / argmin
# (kind, ndim, axis, shapes: the first builds, every later one must not)
ARG_CASES = [
    ("rows", 2, 1, [(7, 33), (1, 1), (5, 1), (3, 1000), (31, 7), (2, 1001)]),
    ("vector", 1, None, [(7,), (1,), (31,), (1000,), (4099,)]),
    ("columns", 2, 0, [(33, 7), (1, 1), (1000, 3), (7, 31), (5, 1001)]),
    ("columns3d", 3, (0, 1), [(3, 4, 40), (1, 1, 7), (5, 7, 31)]),
    ("rows3d", 3, 2, [(2, 3, 40), (4, 1, 9), (1, 5, 1000)]),
]
ARG_DTYPES = ["float32", "float64", "int8", "uint8", "int64", "bool", "float16"]


def _np_arg(a, axis, fn):
    if isinstance(axis, tuple):
        return fn(a.reshape((-1,) + a.shape[len(axis):]), axis=0)
    return fn(a, axis=axis)


_FNS = {}


def _cached(key, make):
    """One compiled function per key for the whole module (tests share them)."""
    if key not in _FNS:
        _FNS[key] = make()
    return _FNS[key]


def _arg_fn(case, dtype):
    kind, nd, axis, _ = case

    def make():     # (one function, two kernels: one build per signature)
        x = T.TensorType(dtype, (False,) * nd)("x")
        return tvmsym.function([x], [T.argmax(x, axis), T.argmin(x, axis)])
    return _cached(("arg", kind, dtype), make)


# every dtype on the 2-d and 1-d kinds, two on the 3-d ones
ARG_PARAMS = [(c, dt) for c in ARG_CASES for dt in ARG_DTYPES
              if c[1] < 3 or dt in ("float32", "int8")]


@pytest.mark.parametrize("case,dtype", ARG_PARAMS, ids=lambda v: v[0] if isinstance(v, tuple) else v)
def test_argmax_argmin_one_build_numpy(case, dtype):
    kind, nd, axis, shapes = case
    f = _arg_fn(case, dtype)
    n = None
    for k, shp in enumerate(shapes):
        a = _sample(shp, dtype, k)
        for got, ref in zip(f(a), (np.argmax, np.argmin)):
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, _np_arg(a, axis, ref), err_msg=f"{kind} {shp}")
        if k == 0:
            n = _builds()
    # shapes with equal dims ((1, 1)) are class patterns of their own: one build each
    extra = sum(1 for s in shapes[1:] if len(set(s)) < len(s))
    assert _builds() <= n + extra
    _generic_ok(f)


@pytest.mark.parametrize("case,dtype", [(c, dt) for c in ARG_CASES for dt in
                                        ("float32", "float64", "float16") if c[1] < 3 or
                                        dt == "float32"],
                         ids=lambda v: v[0] if isinstance(v, tuple) else v)
def test_argmax_nan_inf_ties(case, dtype):
    kind, nd, axis, shapes = case
    f = _arg_fn(case, dtype)
    for k, shp in enumerate(shapes):
        a = np.round(_sample(shp, dtype, 50 + k))          # many ties
        if a.size > 4:
            a.flat[a.size // 2] = np.inf
            a.flat[a.size // 3] = -np.inf
            b = a.copy()
            b.flat[3] = np.nan
            b.flat[-1] = np.nan
        else:
            b = np.full(shp, np.nan, dtype)
        for arr in (a, b, np.full(shp, -np.inf, dtype), np.full(shp, np.nan, dtype)):
            for got, ref in zip(f(arr), (np.argmax, np.argmin)):
                np.testing.assert_array_equal(got, _np_arg(arr, axis, ref), err_msg=f"{kind} {shp}")


def test_argmax_nan_in_every_part_of_a_row():
    """The first NaN wins wherever it is: in the vector groups, the whole vectors left, the
    guarded tail (row lengths around the vector width)."""
    x = T.fmatrix("x")
    f = tvmsym.function([x], [T.argmax(x, 1), T.argmin(x, 1)])
    for m in (1, 15, 16, 17, 63, 64, 65, 100, 1000, 1001):
        a = np.random.default_rng(m).standard_normal((m, m)).astype("float32")
        for i in range(m):
            a[i, (i * 7) % m] = np.nan
            if i % 2:
                a[i, (i * 3) % m] = np.nan
        mx, mn = f(a)
        np.testing.assert_array_equal(mx, a.argmax(1))
        np.testing.assert_array_equal(mn, a.argmin(1))
    _generic_ok(f)


def test_argmax_empty():
    x = T.fmatrix("x")
    f = tvmsym.function([x], T.argmax(x, 1))
    assert f(np.zeros((0, 5), "float32")).shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros((5, 0), "float32"))
    g = tvmsym.function([x], T.argmin(x, 0))
    with pytest.raises(ValueError, match="empty"):
        g(np.zeros((0, 5), "float32"))


def test_max_and_argmax_generic():
    x = T.fmatrix("x")
    m, i = T.max_and_argmax(x, axis=1)
    f = tvmsym.function([x], [m, i])
    n = None
    for k, shp in enumerate([(7, 33), (100, 1000), (3, 31), (9, 7)]):
        a = _sample(shp, "float32", k)
        a[0, 1] = np.nan
        got_m, got_i = f(a)
        np.testing.assert_array_equal(got_m, a.max(1))
        np.testing.assert_array_equal(got_i, a.argmax(1))
        if k == 0:
            n = _builds()
    assert _builds() == n
    _generic_ok(f)


# ------------------------------------------------------------------ sibling reductions
def _sib_graph(x, axis):
    c = np.asarray(0.5, dtype=x.dtype)
    return [x.sum(axis), x.max(axis), x.mean(axis), (x * 2).sum(axis),
            (x * c + 1).min(axis), abs(x).prod(axis)]


def _sib_numpy(a, axis):
    f64 = "float64" if a.dtype.kind == "f" else None
    c = np.asarray(0.5, dtype=a.dtype)
    out = [a.sum(axis, dtype=f64), a.max(axis), a.mean(axis, dtype=f64),
           (a * 2).sum(axis, dtype=f64), (a * c + 1).min(axis), abs(a).prod(axis)]
    return [np.asarray(o).astype(a.dtype) if a.dtype.kind == "f" else o for o in out]


SIB_CASES = [("float32", 2, 1, [(7, 33), (64, 17), (3, 1000), (31, 5)]),
             ("float64", 2, 0, [(33, 7), (17, 64), (1000, 3)]),
             ("float32", 1, None, [(7,), (1000,), (33,)]),
             ("float32", 3, None, [(2, 3, 40), (4, 5, 9), (3, 7, 1)]),
             ("float64", 3, 1, [(2, 3, 40), (4, 5, 9), (3, 7, 17)]),
             ("float32", 3, (1, 2), [(2, 3, 40), (4, 5, 9)])]


@pytest.fixture(scope="module", params=SIB_CASES, ids=lambda c: f"{c[0]}-{c[1]}d-axis{c[2]}")
def sib(request):
    dtype, nd, axis, shapes = request.param
    x = T.TensorType(dtype, (False,) * nd)("x")
    f = tvmsym.function([x], _sib_graph(x, axis))
    y = T.TensorType(dtype, (False,) * nd)("y")
    sep = tvmsym.function([y], _sib_graph(y, axis),
                          mode=tvmsym.runtime.mode.get_mode(None).excluding("sibling_reductions"))
    return request.param, f, sep


def test_sibling_reduce_generic_one_build(sib):
    (dtype, nd, axis, shapes), f, sep = sib
    assert [type(n.op) for n in f.maker.fgraph.toposort()] == [SiblingReduce]
    n = None
    for k, shp in enumerate(shapes):
        a = _sample(shp, dtype, k)
        a.flat[1] = np.nan if a.size > 5 else a.flat[1]
        got = f(a)
        for g, w, s in zip(got, _sib_numpy(a, axis), sep(a)):
            rtol = 2e-6 if dtype == "float32" else 1e-12
            np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6 if dtype == "float32" else 1e-12)
            # the parts are the separate generic kernels' lowering: bit for bit
            np.testing.assert_array_equal(g, s)
        if k == 0:
            n = _builds()
    extra = sum(1 for s in shapes[1:] if 1 in s)
    assert _builds() <= n + extra
    _generic_ok(f)


def test_sibling_reduce_reduce_family_one_kernel_generic():
    """bench_compile's reduce family: (x * c_k).sum(1) added up: a multi-output kernel,
    generic: a new batch size builds nothing."""
    x = T.fmatrix("x")
    total = None
    for j in range(6):
        r = (x * np.float32(j + 1)).sum(axis=1)
        total = r if total is None else total + r
    f = tvmsym.function([x], total)
    assert any(isinstance(n.op, SiblingReduce) for n in f.maker.fgraph.toposort())
    n = None
    for k, shp in enumerate([(7, 33), (64, 1000), (3, 17)]):
        a = _sample(shp, "float32", k)
        want = sum((a.astype("float64") * (j + 1)).sum(1) for j in range(6))
        np.testing.assert_allclose(f(a), want, rtol=1e-5)
        if k == 0:
            n = _builds()
    assert _builds() == n
    _generic_ok(f)


# ------------------------------------------------------------------ every axis / middle axes
FULL_CASES = [(3, None, [(2, 3, 40), (4, 5, 9), (5, 33, 17), (1, 2, 1000)]),
              (4, None, [(2, 3, 4, 40), (3, 5, 7, 9), (1, 2, 3, 5)]),
              (2, None, [(7, 33), (64, 17), (31, 1001)]),
              (3, 1, [(2, 3, 40), (4, 5, 9), (5, 33, 17)]),
              (4, (1, 2), [(2, 3, 4, 40), (3, 5, 7, 9), (2, 2, 3, 1001)])]
FULL_DTYPES = ["float32", "float64", "int8", "uint8", "bool"]
FULL_OPS = ["sum", "prod", "mean", "any", "all", "max", "min"]


def _full_ref(name, a, axis):
    with warnings.catch_warnings():        # (the mean of an empty slice: nan, as ours)
        warnings.simplefilter("ignore", RuntimeWarning)
        if name in ("sum", "mean") and a.dtype.kind == "f":
            r = getattr(a, name)(axis, dtype="float64")
            return np.asarray(r).astype(a.dtype)
        return getattr(a, name)(axis)


def _full_fn(nd, axis, dtype, ops=tuple(FULL_OPS)):
    def make():     # (the reductions of one input over one axis set: one SiblingReduce kernel)
        x = T.TensorType(dtype, (False,) * nd)("x")
        return tvmsym.function([x], [getattr(x, nm)(axis) for nm in ops])
    return _cached(("full", nd, axis, dtype, ops), make)


def _check_full(f, ops, a, axis):
    for nm, got in zip(ops, f(a)):
        want = _full_ref(nm, a, axis)
        assert np.asarray(got).dtype == np.asarray(want).dtype, nm
        if a.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5 if nm == "prod" else 2e-6,
                                       atol=1e-7, err_msg=f"{nm} {a.shape}")
        else:           # integers: exact, wrapping as numpy's
            np.testing.assert_array_equal(got, want, err_msg=f"{nm} {a.shape}")


def _full_params():
    """Every case in float32; the 3-d / 4-d all-axes cases in the other dtypes are the slow
    sweep (~15 s each: their dtypes are covered by the 2-d and middle-axis cases here)."""
    out = []
    for c in FULL_CASES:
        for dt in FULL_DTYPES:
            slow = c[0] >= 3 and c[1] is None and dt != "float32"
            out.append(pytest.param(c, dt, marks=pytest.mark.slow) if slow else (c, dt))
    return out


@pytest.mark.parametrize("case,dtype", _full_params(),
                         ids=lambda v: f"{v[0]}d-axis{v[1]}" if isinstance(v, tuple) else v)
def test_full_and_middle_reductions_one_build(case, dtype):
    nd, axis, shapes = case
    f = _full_fn(nd, axis, dtype)
    n = None
    for k, shp in enumerate(shapes):
        a = _sample(shp, dtype, k)
        if dtype.startswith("float"):
            a = a * 0.3         # products stay finite
        _check_full(f, FULL_OPS, a, axis)
        if k == 0:
            n = _builds()
    extra = sum(1 for s in shapes[1:] if 1 in s)
    assert _builds() <= n + extra
    _generic_ok(f)


@pytest.mark.parametrize("nd,axis,shape", [(2, None, (0, 4)), (3, None, (3, 0, 5)),
                                           (3, 1, (3, 0, 7)), (3, 1, (0, 4, 7))])
def test_full_and_middle_reductions_empty(nd, axis, shape):
    ops = ("sum", "prod", "mean", "any", "all")
    f = _full_fn(nd, axis, "float32", ops)
    _check_full(f, ops, np.zeros(shape, "float32"), axis)
    g = _full_fn(nd, axis, "float32", ("max",))
    reduced = [shape[a] for a in (range(nd) if axis is None else [axis])]
    if 0 in reduced:
        with pytest.raises(ValueError):
            g(np.zeros(shape, "float32"))
    else:
        _check_full(g, ("max",), np.zeros(shape, "float32"), axis)


def test_full_reduction_float32_accuracy_and_int_wrap():
    x3 = T.ftensor3("x")
    f = tvmsym.function([x3], [x3.sum(), x3.mean()])
    a = np.full((10, 100, 1000), 0.1, "float32")
    s, m = f(a)
    want = a.astype("float64").sum()
    assert abs(float(s) - want) / want < 1e-6          # float64 accumulators (numpy ~1e-7)
    assert abs(float(m) - 0.1) < 1e-7
    i3 = T.TensorType("int64", (False,) * 3)("i")
    g = tvmsym.function([i3], [i3.sum(), i3.prod(), i3.sum(axis=1)])
    b = np.full((3, 4, 5), 2 ** 62, "int64")
    b[0, 0, 0] = 3
    got = g(b)
    with np.errstate(over="ignore"):
        for gg, w in zip(got, [b.sum(), b.prod(), b.sum(axis=1)]):
            np.testing.assert_array_equal(gg, w)
    u = T.TensorType("uint8", (False,) * 3)("u")
    h = tvmsym.function([u], [u.max(), u.min(axis=1)])
    c = np.random.default_rng(3).integers(0, 256, size=(4, 9, 33)).astype("uint8")
    hm, hn = h(c)
    assert hm == c.max()
    np.testing.assert_array_equal(hn, c.min(axis=1))


def test_full_reduction_nan_inf():
    x3 = T.ftensor3("x")
    f = tvmsym.function([x3], [x3.max(), x3.min(), x3.sum(), x3.max(axis=1)])
    a = np.random.default_rng(4).standard_normal((3, 5, 77)).astype("float32")
    a[1, 2, 76] = np.nan
    a[2, 0, 3] = np.inf
    got = f(a)
    with np.errstate(invalid="ignore"):
        want = [a.max(), a.min(), a.sum(), a.max(axis=1)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_full_and_middle_reduction_gradients():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 5))
    verify_grad(lambda v: v.sum(), [a], rng=rng)
    verify_grad(lambda v: (v * v).mean(axis=1), [a], rng=rng)
    verify_grad(lambda v: v.max(axis=(1, 2)), [a], rng=rng)
    verify_grad(lambda v: v.max(), [rng.standard_normal((2, 3, 4, 5))], rng=rng)
