"""theano.tensor.nnet.bn: batch normalization (train with running averages as updates, test,
the elementwise form) against numpy, and its gradients by finite differences."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.tensor.nnet import bn


def np_axes(axes, ndim):
    return {"per-activation": (0,), "spatial": (0,) + tuple(range(2, ndim))}.get(axes, axes)


@pytest.mark.parametrize("axes,shape", [("per-activation", (6, 5)), ("spatial", (4, 3, 5, 2)),
                                        ((0, 2), (3, 4, 5)), ("per-activation", (1, 4, 2, 2))])
def test_batch_normalization_train_and_test(axes, shape):
    ax = np_axes(axes, len(shape))
    pshape = tuple(1 if d in ax else n for d, n in enumerate(shape))
    x = T.tensor(dtype="float64", broadcastable=(False,) * len(shape))
    bc = tuple(s == 1 for s in pshape)
    g, b = T.tensor(dtype="float64", broadcastable=bc), T.tensor(dtype="float64", broadcastable=bc)
    rng = np.random.default_rng(0)
    rm0, rv0 = rng.standard_normal(pshape), rng.uniform(0.5, 2, pshape)
    rm, rv = tvmsym.shared(rm0.copy()), tvmsym.shared(rv0.copy())
    out, mean, invstd, nm, nv = bn.batch_normalization_train(x, g, b, axes, 1e-3, 0.3, rm, rv)
    f = tvmsym.function([x, g, b], [out, mean, invstd], updates=[(rm, nm), (rv, nv)])
    xv, gv, bv = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(pshape), rng.standard_normal(pshape)
    o, m, s = f(xv, gv, bv)
    wm = xv.mean(ax, keepdims=True)
    wv = xv.var(ax, keepdims=True)
    np.testing.assert_allclose(o, (xv - wm) / np.sqrt(wv + 1e-3) * gv + bv, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m, wm, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s, 1 / np.sqrt(wv + 1e-3), rtol=1e-12)
    cnt = np.prod([shape[d] for d in ax])
    np.testing.assert_allclose(rm.get_value(), rm0 * 0.7 + wm * 0.3, rtol=1e-12)
    np.testing.assert_allclose(rv.get_value(), rv0 * 0.7 + wv * cnt / max(cnt - 1, 1) * 0.3, rtol=1e-12)
    # test mode with the running statistics
    mt, vt = T.tensor(dtype="float64", broadcastable=bc), T.tensor(dtype="float64", broadcastable=bc)
    ft = tvmsym.function([x, g, b, mt, vt], bn.batch_normalization_test(x, g, b, mt, vt, axes, 1e-4))
    np.testing.assert_allclose(ft(xv, gv, bv, rm0, rv0), (xv - rm0) * gv / np.sqrt(rv0 + 1e-4) + bv,
                               rtol=1e-12, atol=1e-12)


def test_params_of_the_kept_dims_and_elementwise_form():
    x = T.tensor4("x", dtype="float32")
    g, b = T.vector("g", dtype="float32"), T.vector("b", dtype="float32")
    out, _, _ = bn.batch_normalization_train(x, g, b, "spatial")
    bc = (True, False, True, True)
    m = T.tensor(dtype="float32", broadcastable=bc, name="m")
    s = T.tensor(dtype="float32", broadcastable=bc, name="s")
    f = tvmsym.function([x, g, b, m, s], [out, bn.batch_normalization(x, g.dimshuffle("x", 0, "x", "x"),
                                                                       b.dimshuffle("x", 0, "x", "x"), m, s)])
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((4, 3, 5, 5)).astype("float32")
    gv, bv = rng.standard_normal(3).astype("float32"), rng.standard_normal(3).astype("float32")
    mv, sv = xv.mean((0, 2, 3), keepdims=True), xv.std((0, 2, 3), keepdims=True)
    o, e = f(xv, gv, bv, mv, sv)
    ref = (xv - mv) / np.sqrt(xv.var((0, 2, 3), keepdims=True) + 1e-4) * gv[:, None, None] + bv[:, None, None]
    np.testing.assert_allclose(o, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e, (xv - mv) * (gv[:, None, None] / sv) + bv[:, None, None], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="axes must be"):
        bn.batch_normalization_train(x, g, b, "channel")
    with pytest.raises(ValueError, match="gamma must have 4 dims"):
        bn.batch_normalization_train(x, T.matrix(), b, "spatial")
    with pytest.raises(ValueError, match="epsilon"):
        bn.batch_normalization_test(x, g, b, g, g, "spatial", epsilon=1e-7)


def test_verify_grad_batch_normalization():
    R = np.random.default_rng(2)
    cases = [(lambda x, g, b: bn.batch_normalization_train(x, g, b, "spatial")[0],
              [R.standard_normal((3, 2, 3, 2)), R.standard_normal((1, 2, 1, 1)), R.standard_normal((1, 2, 1, 1))]),
             (lambda x, g, b: bn.batch_normalization_train(x, g, b, "per-activation")[0] ** 2,
              [R.standard_normal((4, 3)), R.standard_normal((1, 3)), R.standard_normal((1, 3))]),
             (lambda x, g, b, m, v: bn.batch_normalization_test(x, g, b, m, v, "spatial"),
              [R.standard_normal((2, 3, 2, 2)), R.standard_normal((1, 3, 1, 1)), R.standard_normal((1, 3, 1, 1)),
               R.standard_normal((1, 3, 1, 1)), R.uniform(0.5, 2, (1, 3, 1, 1))])]
    for k, res in enumerate(check_grads(cases, n_tests=2, rng=np.random.default_rng(0))):
        assert res["error"] is None, f"case {k}: {res['error']}"
