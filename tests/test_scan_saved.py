"""``scan_saved`` (rewrites/scan_saved.py): the forward loop stores the step values its
gradient reads; the gradient's step reads them instead of computing the step again.
Values equal the rewrite excluded, and the host loop's."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.config import change_flags
from tvmsym.runtime.mode import get_mode
from tvmsym.symbolic.ops.linalg import Dot, FusedDot
from tvmsym.symbolic.ops.scan import Scan, ScanGrad

D = 3


def _lstm(backwards=False, trunc=-1):
    """An LSTM step as Theano's tutorial writes it (gates sliced from one product)."""
    X, M = T.dtensor3("X"), T.dmatrix("M")
    h0, c0, U = T.dmatrix("h0"), T.dmatrix("c0"), T.dmatrix("U")

    def step(m_, x_, h_, c_):
        pre = T.dot(h_, U) + x_
        i = T.nnet.sigmoid(pre[:, :D])
        f = T.nnet.sigmoid(pre[:, D:2 * D])
        o = T.nnet.sigmoid(pre[:, 2 * D:3 * D])
        g = T.tanh(pre[:, 3 * D:])
        c = f * c_ + i * g
        c = m_[:, None] * c + (1. - m_)[:, None] * c_
        h = m_[:, None] * (o * T.tanh(c)) + (1. - m_)[:, None] * h_
        return h, c
    (hs, cs), _ = theano.scan(step, sequences=[M, X], outputs_info=[h0, c0],
                              go_backwards=backwards, truncate_gradient=trunc)
    loss = (hs ** 2).sum() + (cs[-1] * hs[0]).sum()
    return [X, M, h0, c0, U], T.grad(loss, [U, X, h0, c0]) + [loss]


def _values(n, b, rng):
    return [rng.standard_normal((n, b, 4 * D)), (rng.random((n, b)) > 0.3).astype("float64"),
            rng.standard_normal((b, D)), rng.standard_normal((b, D)),
            rng.standard_normal((D, 4 * D)) * 0.5]


@pytest.mark.parametrize("backwards,trunc", [(False, -1), (True, -1), (False, 2)])
def test_saved_values_give_the_same_gradients(backwards, trunc):
    ins, outs = _lstm(backwards, trunc)
    f = theano.function(ins, outs)
    ref = theano.function(ins, outs, mode=get_mode(None).excluding("scan_saved",
                                                                   "scan_weight_grads"))
    nodes = f.maker.fgraph.toposort()
    scan = [n.op for n in nodes if isinstance(n.op, Scan)][0]
    assert scan.n_saved > 0                       # the gates are stored by the forward loop
    grad_op = [n.op for n in nodes if isinstance(n.op, ScanGrad)][0]
    assert grad_op.scan_op is scan
    rng = np.random.default_rng(11)
    for n, b in [(1, 1), (6, 2), (9, 5)]:
        vals = _values(n, b, rng)
        got = f(*vals)
        for a, w in zip(got, ref(*vals)):
            np.testing.assert_allclose(a, w, rtol=1e-11, atol=1e-12)
        with change_flags(scan_compiled_loop=False):        # the host loop: the same
            for a, w in zip(f(*vals), got):
                np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-13)


def test_gradient_step_does_not_compute_the_forward_product_again():
    from tvmsym.runtime.inner import inner_for
    ins, outs = _lstm()
    f = theano.function(ins, outs)
    nodes = f.maker.fgraph.toposort()
    grad_op = [n.op for n in nodes if isinstance(n.op, ScanGrad)][0]
    f(*_values(4, 2, np.random.default_rng(1)))
    names = [k for k in inner_for(grad_op)._fns if k.startswith("vjp_acc") and "#pre" not in k]
    assert names
    for name in names:          # the gradient step the loop ran, as compiled
        fg = inner_for(grad_op).function(name).maker.fgraph
        dots = [n for n in fg.toposort() if isinstance(n.op, (Dot, FusedDot))]
        # the gradient's own products (dot(g, U.T), U's gradient): no dot(h_, U) of the forward
        assert dots and not any(n.inputs[1].name == "U" for n in dots)


def test_forward_only_function_is_unchanged():
    ins, outs = _lstm()
    fwd = theano.function(ins, outs[-1])
    scan = [n.op for n in fwd.maker.fgraph.toposort() if isinstance(n.op, Scan)][0]
    assert scan.n_saved == 0


def test_pooled_loop_buffers_never_overwrite_a_held_result():
    """The compiled loops reuse last call's buffers only when nothing holds them: results a
    caller keeps stay intact across calls, and every call's values are right."""
    X, h0 = T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(x_t + h), sequences=X, outputs_info=h0)
    f = theano.function([X, h0], [hs, T.grad(hs.sum(), X)])
    rng = np.random.default_rng(3)
    vals = [[rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 3))] for _ in range(3)]
    kept = [f(*v) for v in vals]            # every result held while the next call runs
    again = [f(*v) for v in vals]
    for k, a in zip(kept, again):
        for x, y in zip(k, a):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(kept[0][0], kept[1][0])
