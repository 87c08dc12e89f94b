"""Stages count_source and unary_before_broadcast (symbolic/rewrites/small_kernels.py)."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic.elemwise import DimShuffle, Elemwise
from tvmsym.symbolic.grad_rules.reduce import ReducedCount

OFF = tvmsym.Mode().excluding("count_source", "unary_before_broadcast")


def _kernels(f):
    return sum(1 for st in f._plan.steps if st.kind == "tvm")


def _loss_and_grad(mode=None):
    """A mean of a unary map of row sums (W6's loss: mean(-sum(y * log_softmax(z), 1)))."""
    x, y = T.matrix("x"), T.matrix("y")
    cost = T.mean(-T.sum(y * T.nnet.logsoftmax(x), axis=1))
    return tvmsym.function([x, y], [cost, tvmsym.grad(cost, x)], mode=mode)


@pytest.fixture(scope="module")
def loss_fns():
    return _loss_and_grad(), _loss_and_grad(OFF), _loss_and_grad(tvmsym.Mode(optimizer=None))


def _ref(a, b):
    a = a.astype("float64")
    m = a.max(1, keepdims=True)
    ls = a - m - np.log(np.exp(a - m).sum(1, keepdims=True))
    n = a.shape[0]
    g = (np.exp(ls) * b.sum(1, keepdims=True) - b) / n
    return np.mean(-(b * ls).sum(1)), g


@pytest.mark.parametrize("shape", [(1, 3), (7, 10), (33, 5), (128, 10), (5, 1)])
def test_loss_and_gradient_vs_numpy_and_optimizer_off(loss_fns, shape):
    rng = np.random.default_rng(shape[0])
    a = (rng.standard_normal(shape) * 3).astype("float32")
    b = rng.random(shape).astype("float32")
    ref = _ref(a, b)
    outs = [f(a, b) for f in loss_fns]
    for (c, g) in outs:
        np.testing.assert_allclose(c, ref[0], rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(g, ref[1], rtol=2e-5, atol=1e-6)
    for (c, g) in outs[1:]:
        np.testing.assert_allclose(c, outs[0][0], rtol=1e-6)
        np.testing.assert_allclose(g, outs[0][1], rtol=1e-6, atol=1e-8)


def test_count_reads_the_unary_maps_source_and_kernels_are_fewer(loss_fns):
    f, off, _ = loss_fns
    counts = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ReducedCount)]
    assert counts
    for n in counts:
        src = n.inputs[0].owner
        assert src is None or not (isinstance(src.op, Elemwise) and len(src.inputs) == 1)
    a = np.ones((4, 3), "float32")
    f(a, a), off(a, a)
    assert _kernels(f) <= _kernels(off) - 2


def test_count_unchanged_by_a_binary_map():
    """A binary map may broadcast or raise on mismatched shapes: its count stays on it."""
    x, v = T.matrix("x"), T.vector("v")
    cost = T.mean(x * v)
    f = tvmsym.function([x, v], [cost] + tvmsym.grad(cost, [x, v]))
    for n in f.maker.fgraph.toposort():
        if isinstance(n.op, ReducedCount):
            assert n.inputs[0].owner is not None and len(n.inputs[0].owner.inputs) == 2
    a, b = np.arange(6, dtype="float32").reshape(2, 3), np.array([1, 2, 3], "float32")
    c, gx, gv = f(a, b)
    np.testing.assert_allclose(c, (a * b).mean(), rtol=1e-6)
    np.testing.assert_allclose(gx, np.broadcast_to(b / 6, (2, 3)), rtol=1e-6)
    np.testing.assert_allclose(gv, a.sum(0) / 6, rtol=1e-6)
    with pytest.raises(ValueError):
        f(a, np.ones(4, "float32"))


@pytest.fixture(scope="module")
def bcast_fns():
    c, x = T.scalar("c"), T.matrix("x")
    out = T.neg(T.exp(c).dimshuffle("x", "x")) * x
    return [tvmsym.function([c, x], out, mode=m) for m in (None, OFF, tvmsym.Mode(optimizer=None))]


def test_unary_moves_before_the_broadcast(bcast_fns):
    f = bcast_fns[0]
    negs = [n for n in f.maker.fgraph.toposort()
            if isinstance(n.op, DimShuffle) and n.inputs[0].ndim == 0]
    assert negs, "the broadcast DimShuffle reads the fused 0-d value"
    a = np.ones((3, 4), "float32")
    f(np.float32(1), a), bcast_fns[1](np.float32(1), a)
    assert _kernels(f) < _kernels(bcast_fns[1])


@pytest.mark.parametrize("c", [0.5, 0.0, -0.0, np.inf, -np.inf, np.nan, 100.0])
def test_unary_before_broadcast_ieee_as_numpy(bcast_fns, c):
    a = np.array([[1.0, -2.0, 0.0], [np.inf, -0.0, 3.0]], "float32")
    with np.errstate(all="ignore"):
        ref = -np.exp(np.float32(c)) * a
        for f in bcast_fns:
            r = f(np.float32(c), a)
            np.testing.assert_array_equal(np.isnan(r), np.isnan(ref))
            np.testing.assert_array_equal(np.signbit(r[~np.isnan(r)]), np.signbit(ref[~np.isnan(ref)]))
            np.testing.assert_allclose(r, ref, rtol=1e-6)


def test_gradients_by_finite_differences():
    rng = np.random.default_rng(3)
    tvmsym.gradient.verify_grad(
        lambda x, y: T.mean(-T.sum(y * T.nnet.logsoftmax(x), axis=1)),
        [rng.standard_normal((7, 5)), rng.random((7, 5))], rng=np.random.RandomState(1))
    tvmsym.gradient.verify_grad(
        lambda c, x: T.sum(T.neg(T.tanh(c).dimshuffle("x", "x")) * x ** 2),
        [np.asarray(0.3), rng.standard_normal((3, 4))], rng=np.random.RandomState(2))
