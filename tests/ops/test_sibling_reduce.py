"""Sibling reductions (issue 12): reductions of one input over the same axes, and of
elementwise functions of it, become one multi-output kernel (SiblingReduce); the numbers are
numpy's and bit for bit those of the separate kernels (the rewrite excluded)."""
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime.mode import get_mode
from tvmsym.symbolic.ops.reduce_siblings import SiblingReduce


def _graph(x, axis):
    c = np.asarray(0.5, dtype=x.dtype)
    return [x.sum(axis), x.max(axis), x.mean(axis), (x * 2).sum(axis),
            (x * c + 1).min(axis), abs(x).prod(axis)]


def _numpy(a, axis):
    f64 = "float64" if a.dtype.kind == "f" else None
    c = np.asarray(0.5, dtype=a.dtype)
    return [a.sum(axis, dtype=f64), a.max(axis), a.mean(axis, dtype=f64),
            (a * 2).sum(axis, dtype=f64), (a * c + 1).min(axis), abs(a).prod(axis)]


def _compile(dtype, ndim, axis, fused=True):
    x = T.TensorType(dtype, (False,) * ndim)("x")
    mode = get_mode(None) if fused else get_mode(None).excluding("sibling_reductions")
    # specialized kernels on both sides: the separate reductions would otherwise be
    # shape-generic ones, whose vector partials sum in another order
    return tvmsym.function([x], _graph(x, axis), mode=mode, specialize=True)


CASES = [("float32", 2, 1), ("float64", 2, 0), ("float32", 3, (0, 2)), ("float64", 1, None)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}d-axis{c[2]}")
def pair(request):
    dtype, ndim, axis = request.param
    return request.param, _compile(dtype, ndim, axis), _compile(dtype, ndim, axis, fused=False)


def _sample(shape, dtype, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if a.size > 3:
        a.flat[1] = np.nan
        a.flat[-1] = -np.inf
    return a


SHAPES = {1: [(1,), (7,), (1000,)], 2: [(1, 1), (7, 33), (64, 17)], 3: [(2, 3, 5), (4, 1, 9)]}


def test_one_kernel_and_numpy_and_separate_kernels_bit_for_bit(pair):
    (dtype, ndim, axis), f, g = pair
    nodes = f.maker.fgraph.toposort()
    assert [type(n.op) for n in nodes] == [SiblingReduce]
    assert len(f._plan.steps) == 1 and f._plan.steps[0].kind == "tvm"     # one kernel
    assert not any(isinstance(n.op, SiblingReduce) for n in g.maker.fgraph.toposort())
    rtol = 1e-6 if dtype == "float32" else 1e-12
    for k, shape in enumerate(SHAPES[ndim]):
        a = _sample(shape, dtype, k)
        got, sep = f(a), g(a)
        for r, s, e in zip(got, sep, _numpy(a, axis)):
            assert r.dtype == s.dtype and r.shape == np.shape(e)
            np.testing.assert_array_equal(r, s)                  # the same bits, NaN included
            np.testing.assert_allclose(r, np.asarray(e).astype(r.dtype), rtol=rtol)


def test_empty_reductions_as_numpy():
    """Sum, mean and prod of an empty axis: 0, nan, 1 (no identity for max: it raises)."""
    x = T.fmatrix("x")
    f = tvmsym.function([x], [x.sum(1), x.mean(1), x.prod(1), (x * 3).sum(1)])
    assert [type(n.op) for n in f.maker.fgraph.toposort()] == [SiblingReduce]
    for shape in [(3, 0), (0, 4), (0, 0)]:
        a = np.zeros(shape, "float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # numpy: mean of empty slice
            exp = [a.sum(1), a.mean(1), a.prod(1), (a * 3).sum(1)]
        for r, e in zip(f(a), exp):
            assert r.shape == e.shape and r.dtype == np.float32
            np.testing.assert_array_equal(r, e)
    g = tvmsym.function([x], [x.sum(1), x.max(1)])
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        g(np.zeros((3, 0), "float32"))
    np.testing.assert_array_equal(g(np.zeros((0, 3), "float32"))[1], np.zeros(0, "float32"))


def test_integer_and_mixed_axes_are_grouped_apart():
    x = T.imatrix("x")
    f = tvmsym.function([x], [x.sum(1), x.max(1), x.min(0), x.sum(0), (x * 3).max(0)])
    sib = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, SiblingReduce)]
    assert sorted(len(n.op.parts) for n in sib) == [2, 3]
    a = np.random.default_rng(3).integers(-2 ** 31, 2 ** 31 - 1, (5, 9), dtype="int32")
    exp = [a.sum(1, dtype="int64").astype("int64"), a.max(1), a.min(0), a.sum(0, dtype="int64"),
           (a * 3).max(0)]
    for r, e in zip(f(a), exp):
        np.testing.assert_array_equal(r, np.asarray(e).astype(r.dtype))


def test_bench_reduce_family_builds_few_kernels():
    """bench/bench_compile.py's ``reduce`` family: (x * c_k).sum(axis=1) added up; without
    the stage, (at least) one kernel per sum."""
    x = T.fmatrix("x")
    total = None
    for j in range(40):
        r = (x * np.float32(j + 1)).sum(axis=1)
        total = r if total is None else total + r
    f = tvmsym.function([x], total)
    g = tvmsym.function([x], total, mode=get_mode(None).excluding("sibling_reductions"))
    assert len(g._plan.steps) >= 40 and len(f._plan.steps) <= 6     # 3 kernels of sums + adds
    a = np.random.default_rng(4).standard_normal((8, 16)).astype("float32")
    np.testing.assert_array_equal(f(a), g(a))
    exp = sum((a * np.float32(j + 1)).astype("float64").sum(1) for j in range(40))
    np.testing.assert_allclose(f(a), exp, rtol=1e-5)
