"""theano.tensor.extra_ops against numpy: shapes incl. empty and size 1, dtypes, errors;
verify_grad of the differentiable ones."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.tensor import extra_ops as eo

R = np.random.default_rng(31)


def tvar(a):
    return T.tensor(dtype=a.dtype.name, broadcastable=(False,) * a.ndim)


def run(build, *arrays):
    vs = [tvar(a) for a in arrays]
    return tvmsym.function(vs, build(*vs))(*arrays)


@pytest.mark.parametrize("shape", [(7,), (1,), (0,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("n", [1, 2])
def test_diff(shape, n):
    a = R.standard_normal(shape)
    for axis in range(-1, len(shape) - 1) if len(shape) > 1 else [-1]:
        if shape[axis] < n:
            continue
        np.testing.assert_allclose(run(lambda x: eo.diff(x, n, axis), a), np.diff(a, n, axis))
    i = R.integers(-5, 5, shape).astype("int32")
    assert run(lambda x: eo.diff(x, n), i).dtype == np.diff(i, n).dtype


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_bincount(dtype):
    x = R.integers(0, 9, 20).astype(dtype)
    w = R.standard_normal(20)
    np.testing.assert_array_equal(run(eo.bincount, x), np.bincount(x))
    np.testing.assert_allclose(run(lambda a, b: eo.bincount(a, b), x, w), np.bincount(x, w))
    np.testing.assert_array_equal(run(lambda a: eo.bincount(a, minlength=15), x),
                                  np.bincount(x, minlength=15))
    np.testing.assert_array_equal(run(eo.bincount, x[:0]), np.bincount(x[:0]))
    # a data-dependent length feeding a kernel
    np.testing.assert_array_equal(run(lambda a: eo.bincount(a) * 2 + 1, x), np.bincount(x) * 2 + 1)


def test_bincount_negative_raises():
    with pytest.raises(ValueError, match="non-negative"):
        run(eo.bincount, np.array([1, -2, 3]))


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(side):
    x = np.sort(R.integers(0, 10, 15)).astype("float64")
    v = R.integers(-1, 12, (3, 4)).astype("float64")
    out = run(lambda a, b: eo.searchsorted(a, b, side=side), x, v)
    np.testing.assert_array_equal(out, np.searchsorted(x, v, side=side))
    assert out.dtype == np.int64
    perm = R.permutation(15)
    xs = x[np.argsort(perm)]
    srt = np.argsort(xs).astype("int64")
    out = run(lambda a, b, s: eo.searchsorted(a, b, side=side, sorter=s), xs, v, srt)
    np.testing.assert_array_equal(out, np.searchsorted(xs, v, side=side, sorter=srt))
    np.testing.assert_array_equal(run(eo.searchsorted, x[:0], v), np.zeros(v.shape, "int64"))


def test_to_one_hot():
    y = np.array([0, 3, 1, 1], "int32")
    out = run(lambda a: eo.to_one_hot(a, 5), y)
    np.testing.assert_array_equal(out, np.eye(5)[y])
    assert out.dtype == np.dtype(tvmsym.config.floatX)
    assert run(lambda a: eo.to_one_hot(a, 5, dtype="int32"), y).dtype == np.int32
    assert run(lambda a: eo.to_one_hot(a, 3), y[:0]).shape == (0, 3)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (1, 1), (3, 3, 3), (0, 0)])
def test_fill_diagonal(shape):
    a = R.standard_normal(shape)
    exp = a.copy()
    np.fill_diagonal(exp, 7.5)
    out = run(lambda x, v: eo.fill_diagonal(x, v), a, np.array(7.5))
    np.testing.assert_array_equal(out, exp)


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 3, 6])
def test_fill_diagonal_offset(offset):
    a = R.standard_normal((4, 5))
    exp = a.copy()
    i = np.arange(4)
    ok = (i + offset >= 0) & (i + offset < 5)
    exp[i[ok], i[ok] + offset] = -2.0
    out = run(lambda x, v: eo.fill_diagonal_offset(x, v, offset), a, np.array(-2.0))
    np.testing.assert_array_equal(out, exp)


def test_ravel_unravel():
    dims = (3, 4, 5)
    idx = [R.integers(0, d, (2, 3)).astype("int64") for d in dims]
    for order in ("C", "F"):
        out = run(lambda a, b, c: eo.ravel_multi_index((a, b, c), dims, order=order), *idx)
        flat = np.ravel_multi_index(tuple(idx), dims, order=order)
        np.testing.assert_array_equal(out, flat)
        back = run(lambda f: list(eo.unravel_index(f, dims, order=order)), flat)
        for b, e in zip(back, np.unravel_index(flat, dims, order=order)):
            np.testing.assert_array_equal(b, e)
    with pytest.raises(ValueError, match="unravel_index"):
        run(lambda f: list(eo.unravel_index(f, dims)), np.array([60]))
    with pytest.raises(ValueError, match="ravel_multi_index"):
        run(lambda a, b: eo.ravel_multi_index((a, b), (2, 2)), np.array([2]), np.array([0]))
    clip = run(lambda a, b: eo.ravel_multi_index((a, b), (2, 2), mode="clip"), np.array([5]),
               np.array([0]))
    np.testing.assert_array_equal(clip, [2])


@pytest.mark.parametrize("flags", [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)])
def test_unique(flags):
    a = R.integers(0, 5, (4, 6)).astype("float32")
    got = run(lambda x: eo.Unique(*flags)(x), a)
    exp = np.unique(a, *map(bool, flags))
    got = got if isinstance(got, list) else [got]
    exp = exp if isinstance(exp, tuple) else (exp,)
    for g, e in zip(got, exp):
        np.testing.assert_array_equal(g, np.asarray(e).reshape(-1) if g.ndim == 1 else e)
    assert got[0].dtype == np.float32


def test_unique_axis_and_empty():
    a = np.array([[1, 2], [3, 4], [1, 2]], "int32")
    u, inv = run(lambda x: eo.unique(x, return_inverse=True, axis=0), a)
    eu, einv = np.unique(a, return_inverse=True, axis=0)
    np.testing.assert_array_equal(u, eu)
    np.testing.assert_array_equal(inv, einv.reshape(-1))
    np.testing.assert_array_equal(run(eo.unique, a[:0]), np.unique(a[:0]))
    # unique values into a kernel
    np.testing.assert_array_equal(run(lambda x: eo.unique(x) * 3, a), np.unique(a) * 3)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_compress(axis):
    a = R.standard_normal((4, 5))
    for cond in [np.array([1, 0, 1, 1], bool), np.array([0, 1], bool), np.zeros(3, bool)]:
        if axis == 1 and len(cond) > 5:
            continue
        out = run(lambda c, x: eo.compress(c, x, axis=axis), cond, a)
        np.testing.assert_array_equal(out, np.compress(cond, a, axis=axis))


def test_squeeze_repeat_cum():
    x = T.TensorType("float64", (False, True, False))()
    a = R.standard_normal((3, 1, 4))
    f = tvmsym.function([x], [eo.squeeze(x), eo.repeat(x, 2, axis=2), eo.cumsum(x, axis=2),
                              eo.cumprod(x)])
    s, r, c, p = f(a)
    np.testing.assert_array_equal(s, a[:, 0])
    np.testing.assert_array_equal(r, np.repeat(a, 2, axis=2))
    np.testing.assert_allclose(c, np.cumsum(a, axis=2))
    np.testing.assert_allclose(p, np.cumprod(a))


@pytest.mark.parametrize("M", [0, 1, 2, 5, 8, -3])
def test_bartlett(M):
    m = T.iscalar()
    out = tvmsym.function([m], eo.bartlett(m))(M)
    np.testing.assert_allclose(out, np.bartlett(M), atol=1e-15)
    assert out.dtype == np.float64


def test_cpu_contiguous():
    a = R.standard_normal((3, 4))
    x = T.dmatrix()
    f = tvmsym.function([x], eo.cpu_contiguous(x.T) + 0)
    out = f(a)
    np.testing.assert_array_equal(out, a.T)
    assert "CpuContiguous" in str(eo.cpu_contiguous(x).owner.op)


def test_grads():
    cases = [
        (lambda x: eo.diff(x), [R.standard_normal(6)]),
        (lambda x: eo.diff(x, 2, axis=0), [R.standard_normal((5, 3))]),
        (lambda x, v: eo.fill_diagonal(x, v), [R.standard_normal((3, 4)), np.array(0.3)]),
        (lambda x, v: eo.fill_diagonal(x, v), [R.standard_normal((3, 3, 3)), np.array(0.3)]),
        (lambda x, v: eo.fill_diagonal_offset(x, v, 1), [R.standard_normal((3, 4)),
                                                         np.array(0.3)]),
        (lambda w: eo.bincount(np.array([0, 2, 2, 5]), w), [R.standard_normal(4)]),
        (lambda x: eo.compress(np.array([1, 0, 1], bool), x, axis=0), [R.standard_normal((3, 2))]),
        (lambda x: eo.repeat(x, 3, axis=0), [R.standard_normal((2, 2))]),
        (lambda x: eo.cumsum(x), [R.standard_normal((2, 3))]),
        (lambda x: eo.cumprod(x, axis=1), [R.standard_normal((2, 3))]),
        (lambda x: eo.squeeze(x.dimshuffle(0, "x")), [R.standard_normal(3)]),
        (lambda x: eo.cpu_contiguous(x), [R.standard_normal((2, 3))]),
    ]
    for res, (fn, pt) in zip(check_grads(cases), cases):
        assert res["error"] is None, (res["ops"], res["error"])


def test_theano_instance_names():
    a = R.standard_normal((3, 3))
    out = run(lambda x, v: eo.fill_diagonal_(x, v), a, np.array(1.0))
    np.testing.assert_array_equal(np.diag(out), np.ones(3))
    assert eo.bartlett_ is eo.bartlett and eo.fill_diagonal_offset_ is eo.fill_diagonal_offset
