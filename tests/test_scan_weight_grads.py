"""``scan_weight_grads`` (rewrites/scan_weights.py): a weight's gradient through a scan body
``dot(a_t, W) + x_t`` is one product after the loop; the values equal the loop's own sum
(the rewrite excluded) and finite differences."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.runtime.mode import get_mode
from tvmsym.symbolic.ops.scan import ScanGrad

WITH = get_mode(None).including("scan_weight_grads")        # (off by default)


def _model(kind, trunc=-1, dtype="float64"):
    """A loss through a scan whose body reads ``dot(a_t, U) + x_t``: ``a_t`` the previous
    state ("state"), another sequence ("seq"), or a 1-d state ("vector")."""
    X = T.tensor3("X", dtype=dtype) if kind != "vector" else T.matrix("X", dtype=dtype)
    A = T.tensor3("A", dtype=dtype) if kind != "vector" else T.matrix("A", dtype=dtype)
    h0 = T.matrix("h0", dtype=dtype) if kind != "vector" else T.vector("h0", dtype=dtype)
    U = T.matrix("U", dtype=dtype)
    c = T.scalar("c", dtype=dtype)
    if kind == "seq":
        def step(x_t, a_t, h, U):
            return T.tanh(T.dot(a_t, U) + x_t) + c * h
        hs, _ = theano.scan(step, sequences=[X, A], outputs_info=h0, non_sequences=[U],
                            truncate_gradient=trunc)
    else:
        def step(x_t, h, U):
            return T.tanh(T.dot(h, U) + x_t)
        hs, _ = theano.scan(step, sequences=[X], outputs_info=h0, non_sequences=[U],
                            truncate_gradient=trunc)
    loss = (hs ** 2).sum() + (hs[-1] * hs[0]).sum()
    ins = [X, A, h0, U, c] if kind == "seq" else [X, h0, U]
    wrt = [U, X, h0] + ([A] if kind == "seq" else [])
    return ins, loss, T.grad(loss, wrt)


def _values(kind, n, b, k, rng):
    if kind == "vector":
        X, A, h0 = rng.standard_normal((n, k)), rng.standard_normal((n, k)), rng.standard_normal(k)
    else:
        X, A = rng.standard_normal((n, b, k)), rng.standard_normal((n, b, k))
        h0 = rng.standard_normal((b, k))
    U = rng.standard_normal((k, k)) * 0.4
    return [X, A, h0, U, np.float64(0.3)] if kind == "seq" else [X, h0, U]


@pytest.mark.parametrize("kind,trunc", [("state", -1), ("state", 2), ("seq", -1), ("vector", -1)])
def test_weight_gradient_after_the_loop_equals_the_loop_sum(kind, trunc):
    ins, loss, grads = _model(kind, trunc)
    f = theano.function(ins, grads, mode=WITH)
    ref = theano.function(ins, grads)
    # the rule ran: the ScanGrad's own gradient of U has no reader in f, one in ref
    def u_read(fn):
        g = [n for n in fn.maker.fgraph.toposort() if isinstance(n.op, ScanGrad)][0]
        pu = g.op.wrt.index([k for k, v in enumerate(g.inputs) if v.name == "U"][0])
        return bool(fn.maker.fgraph.clients.get(g.outputs[pu]))
    assert not u_read(f) and u_read(ref)
    rng = np.random.default_rng(5)
    for n, b, k in [(1, 1, 1), (5, 3, 4), (9, 2, 7)]:
        vals = _values(kind, n, b, k, rng)
        for got, want in zip(f(*vals), ref(*vals)):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_weight_gradient_after_the_loop_matches_finite_differences():
    ins, loss, grads = _model("state")
    f = theano.function(ins, loss)
    g = theano.function(ins, grads[0], mode=WITH)
    assert not any(g.maker.fgraph.clients.get(o) for n in g.maker.fgraph.toposort()
                   if isinstance(n.op, ScanGrad) for o in n.outputs[:len(n.op.wrt)])
    rng = np.random.default_rng(6)
    X, h0, U = _values("state", 4, 2, 3, rng)
    eps, num = 1e-6, np.zeros_like(U)
    for i in np.ndindex(U.shape):
        Up, Um = U.copy(), U.copy()
        Up[i] += eps
        Um[i] -= eps
        num[i] = (f(X, h0, Up) - f(X, h0, Um)) / (2 * eps)
    np.testing.assert_allclose(g(X, h0, U), num, rtol=1e-6, atol=1e-8)


def test_not_applied_when_the_weight_has_another_use():
    X, h0, U = T.dtensor3("X"), T.dmatrix("h0"), T.dmatrix("U")
    hs, _ = theano.scan(lambda x_t, h, U: T.tanh(T.dot(h, U) + x_t) + U.sum(), sequences=[X],
                        outputs_info=h0, non_sequences=[U])
    gU = T.grad(hs.sum(), U)
    f = theano.function([X, h0, U], gU, mode=WITH)
    ref = theano.function([X, h0, U], gU)
    gnode = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ScanGrad)][0]
    assert any(f.maker.fgraph.clients.get(o) for o in gnode.outputs)
    rng = np.random.default_rng(7)
    vals = [rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 4)), rng.standard_normal((4, 4))]
    np.testing.assert_allclose(f(*vals), ref(*vals), rtol=1e-12)


@pytest.mark.parametrize("backwards,trunc", [(False, -1), (True, 2)])
def test_hoisted_input_product_where_included(backwards, trunc):
    """``scan_hoist_dot`` (a mode including it, with ``scan_weight_grads``): the body's
    ``dot(x_t, W)`` becomes one product before the loop; values and gradients equal the plain
    scan's."""
    from tvmsym.symbolic.graph import toposort
    from tvmsym.symbolic.ops.linalg import Dot
    from tvmsym.symbolic.ops.scan import Scan
    X, h0, W, U, b = T.dtensor3("X"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U) + b), sequences=X,
                        outputs_info=h0, go_backwards=backwards, truncate_gradient=trunc)
    loss = (hs[-1] ** 2).sum() + hs.sum()
    outs = [loss] + T.grad(loss, [W, U, b, X, h0])
    f = theano.function([X, h0, W, U, b], outs,
                        mode=get_mode(None).including("scan_hoist_dot", "scan_weight_grads"))
    ref = theano.function([X, h0, W, U, b], outs)
    scan = [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)][0]
    body = toposort(list(scan.inner_outputs), blockers=list(scan.inner_inputs))
    assert sum(isinstance(n.op, Dot) for n in body) == 1       # dot(h, U) only
    rng = np.random.default_rng(8)
    for n, bt, k, h in [(1, 1, 1, 1), (6, 3, 4, 5)]:
        vals = [rng.standard_normal((n, bt, k)), rng.standard_normal((bt, h)),
                rng.standard_normal((k, h)), rng.standard_normal((h, h)) * 0.5,
                rng.standard_normal(h)]
        for got, want in zip(f(*vals), ref(*vals)):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
