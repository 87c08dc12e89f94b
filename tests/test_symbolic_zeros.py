"""Symbolic zeros: gradients known to be zero are never materialized nor propagated.

``//``, ``floor``/``round``/``sign``, comparisons, ``zero_grad`` have zero gradients; the
engine (``symbolic/grad.py``) drops them from the sums and does not backpropagate through
what only they reach, so the compiled gradient graph has no ``Alloc`` of zeros and no kernel
over the zero branch (Theano's contractive autoencoder tutorial: ``T.sum(J ** 2) // n``).
A gradient that is entirely zero is ``zeros_like(wrt)`` at the output only; zeros of the
user's graph (``0 * x``) keep IEEE semantics.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import function, grad
from tvmsym.gradient import DisconnectedInputError, verify_grad, zero_grad
from tvmsym.symbolic.grad import SymbolicZero


def _ops(f):
    return [n.op for n in f.maker.fgraph.toposort()]


def _names(f):
    return [type(op).__name__ for op in _ops(f)]


def _kernels(f):
    """Graph nodes that compute (views and shape bookkeeping excluded)."""
    skip = {"DimShuffle", "InplaceDimShuffle", "Shape_i", "MakeVector", "Shape", "SpecifyShape"}
    return [n for n in f.maker.fgraph.toposort() if type(n.op).__name__ not in skip]


def _no_zero_allocs(f):
    return not any(type(op).__name__ == "Alloc" for op in _ops(f))


# --------------------------------------------------------------------------- the engine
@pytest.mark.parametrize("zero_op", [
    lambda x: x // 3, lambda x: T.floor(x), lambda x: T.round(x), lambda x: T.sgn(x),
    lambda x: T.ceil(x), lambda x: zero_grad(x), lambda x: T.cast(x > 0.2, "float64"),
])
def test_zero_branch_is_dropped(zero_op):
    x = T.dvector("x")
    cost = T.sum(T.exp(zero_op(x * 2.0)) * 3.0) + T.sum(x * x)
    g = grad(cost, x)
    f = function([x], g)
    # the gradient graph is the one of sum(x * x) alone: nothing of the zero branch runs
    assert _no_zero_allocs(f), _names(f)
    assert not any("exp" in str(op) for op in _ops(f)), _names(f)
    ref = function([x], grad(T.sum(x * x), x))
    assert len(_kernels(f)) == len(_kernels(ref))
    xv = np.array([0.3, -1.7, 2.5, 0.0, 7.25])
    np.testing.assert_allclose(f(xv), 2 * xv, rtol=1e-12)


def test_entirely_zero_gradient_is_zeros_at_the_output_and_connected():
    x = T.dmatrix("x")
    g = grad(T.sum(T.floor(x) * 2.0) // 5, x)          # connected: no DisconnectedInputError
    f = function([x], g)
    xv = np.arange(6.0).reshape(2, 3) - 2.5
    out = f(xv)
    assert out.shape == xv.shape and out.dtype == xv.dtype and not out.any()
    assert len(_kernels(f)) <= 1                       # at most the zeros of the result
    # a really disconnected input still raises
    y = T.dmatrix("y")
    with pytest.raises(DisconnectedInputError):
        grad(T.sum(T.floor(x)), y)


def test_zero_grad_keeps_the_path_connected():
    x = T.dvector("x")
    g = grad(T.sum(zero_grad(x) ** 2), x)              # Theano: zeros, no error
    np.testing.assert_array_equal(function([x], g)(np.array([1.0, np.nan])), [0.0, 0.0])


def test_integer_wrt_and_mixed_sums():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum((x // 2) * y) + T.sum(T.sgn(y) * x) + T.sum(T.tanh(y))
    gx, gy = grad(cost, [x, y])
    f = function([x, y], [gx, gy])
    assert _no_zero_allocs(f)
    xv, yv = np.array([1.5, -3.0, 4.0]), np.array([0.5, -2.0, 0.0])
    rx, ry = f(xv, yv)
    np.testing.assert_allclose(rx, np.sign(yv))
    np.testing.assert_allclose(ry, np.floor(xv / 2) + 1 - np.tanh(yv) ** 2)


def test_symbolic_mode_of_grad_reports_zeros_without_building_them():
    x = T.dvector("x")
    g = grad(T.sum(T.floor(x)), x, return_disconnected="symbolic")
    assert isinstance(g, SymbolicZero) and g.like is x


def test_user_zeros_keep_ieee_semantics():
    """Only zeros made by the gradient machinery are symbolic: ``0 * x`` is NaN for NaN x."""
    x = T.dvector("x")
    f = function([x], [0 * x, x * 0.0 + 1, T.sum(0 * x)])
    xv = np.array([np.nan, np.inf, -1.0])
    a, b, c = f(xv)
    np.testing.assert_array_equal(np.isnan(a), [True, True, False])
    np.testing.assert_array_equal(np.isnan(b), [True, True, False])
    assert np.isnan(c)
    # the gradient of the user's 0 * x is the user's 0 times the output gradient: 0 * 1 = 0
    g = function([x], grad(T.sum(0 * x), x))
    np.testing.assert_array_equal(g(xv), [0.0, 0.0, 0.0])


# --------------------------------------------------------------------------- cA tutorial
NB, NV, NH = 5, 12, 7


def _cae(dtype="float64", nb=NB, nv=NV, nh=NH, params=None):
    """Theano's contractive autoencoder tutorial (cA.py), the cost as the tutorial writes it."""
    x = T.matrix("x", dtype=dtype)
    W, bh, bv = params or (T.matrix("W", dtype=dtype), T.vector("bh", dtype=dtype),
                           T.vector("bv", dtype=dtype))
    y = T.nnet.sigmoid(T.dot(x, W) + bh)
    z = T.nnet.sigmoid(T.dot(y, W.T) + bv)
    J = T.reshape(y * (1 - y), (nb, 1, nh)) * T.reshape(W, (1, nv, nh))
    L_rec = -T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1)
    L_jacob = T.sum(J ** 2) // nb
    cost = T.mean(L_rec) + 0.1 * T.mean(L_jacob)
    return [x, W, bh, bv], cost, T.mean(L_rec)


def _cae_numpy(x, W, bh, bv, nb=NB):
    """Hand-written cost and gradients (the floor term has a zero gradient)."""
    sig = lambda a: 1 / (1 + np.exp(-a))                     # noqa: E731
    y = sig(x @ W + bh)
    z = sig(y @ W.T + bv)
    J = (y * (1 - y))[:, None, :] * W[None]
    cost = np.mean(-np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1)) \
        + 0.1 * np.floor(np.sum(J ** 2) / nb)
    d2 = (z - x) / nb
    dh = (d2 @ W) * y * (1 - y)
    return cost, [x.T @ dh + d2.T @ y, dh.sum(0), d2.sum(0)]


@pytest.fixture(scope="module")
def cae_fns():
    ins, cost, rec = _cae()
    x, W, bh, bv = ins
    f = function(ins, [cost] + grad(cost, [W, bh, bv]))
    ref = function(ins, [cost] + grad(rec, [W, bh, bv]))     # the same step without the J term
    return f, ref


def _point(rng, dtype="float64", nb=NB, nv=NV, nh=NH):
    return [rng.uniform(0.05, 0.95, (nb, nv)).astype(dtype),
            rng.uniform(-0.5, 0.5, (nv, nh)).astype(dtype),
            rng.uniform(-0.1, 0.1, nh).astype(dtype), rng.uniform(-0.1, 0.1, nv).astype(dtype)]


def test_cae_gradient_graph_has_no_zero_branch(cae_fns):
    f, ref = cae_fns
    assert _no_zero_allocs(f), _names(f)
    # the J branch runs forward only (one elementwise kernel and its sum over the 3-d J)
    three_d = [n for n in _kernels(f) if any(o.ndim == 3 for o in n.outputs)
               and type(n.op).__name__ not in ("Reshape",)]
    assert len(three_d) <= 1, [str(n.op) for n in three_d]
    assert not any(i.ndim == 3 for n in _kernels(f) if type(n.op).__name__ == "Sum"
                   and n.op.axis is not None for i in n.inputs)
    # and it is computed inside its sum: no step writes a 3-d array but the reshapes
    big = [str(st.node.op) for st in f._plan.steps
           if any(o.ndim == 3 for o in st.outputs) and type(st.node.op).__name__ != "Reshape"]
    assert not big, big
    # everything beyond the reconstruction-only step is the forward J term (cost)
    extra = len(_kernels(f)) - len(_kernels(ref))
    assert extra <= 5, (_names(f), _names(ref))


def test_cae_numbers_match_numpy_and_finite_differences(cae_fns):
    f, _ = cae_fns
    rng = np.random.default_rng(0)
    for _ in range(3):
        pt = _point(rng)
        out = f(*pt)
        cost, grads = _cae_numpy(*pt)
        np.testing.assert_allclose(out[0], cost, rtol=1e-10)
        for a, b in zip(out[1:], grads):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    x = _point(rng)[0]
    # finite differences of the whole cost (the floor term is flat at almost every point)
    verify_grad(lambda W, bh, bv: _cae_with_x(x, W, bh, bv), _point(rng)[1:], rng=rng)


def _cae_with_x(xv, W, bh, bv):
    x = T.constant(xv)
    y = T.nnet.sigmoid(T.dot(x, W) + bh)
    z = T.nnet.sigmoid(T.dot(y, W.T) + bv)
    J = T.reshape(y * (1 - y), (NB, 1, NH)) * T.reshape(W, (1, NV, NH))
    L_rec = -T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1)
    return T.mean(L_rec) + 0.1 * T.mean(T.sum(J ** 2) // NB)


def test_cae_float32_step_with_shared_updates():
    rng = np.random.default_rng(3)
    pt = _point(rng, "float32")
    sW, sbh, sbv = (tvmsym.shared(p.copy()) for p in pt[1:])
    (x, *_), c, _ = _cae("float32", params=(sW, sbh, sbv))
    gs = grad(c, [sW, sbh, sbv])
    step = function([x], c, updates=[(p, p - np.float32(0.01) * g) for p, g in zip([sW, sbh, sbv], gs)])
    assert _no_zero_allocs(step)
    P = [p.astype("float64") for p in pt[1:]]
    for _ in range(3):
        cref, grads = _cae_numpy(pt[0].astype("float64"), *P)
        np.testing.assert_allclose(step(pt[0]), cref, rtol=1e-4)
        P = [p - 0.01 * g for p, g in zip(P, grads)]
    for s, p in zip([sW, sbh, sbv], P):
        np.testing.assert_allclose(s.get_value(), p, rtol=1e-4, atol=1e-6)
