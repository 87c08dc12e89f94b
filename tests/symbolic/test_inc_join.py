"""rewrites/inc_join.py: the gradients of adjacent slices summed into zeros become one Join
and one increment (the LSTM's four gates), with the same values as without the stage."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.runtime.mode import get_mode
from tvmsym.symbolic.ops.reshape import Join
from tvmsym.symbolic.ops.subtensor import IncSubtensor


def _gates(axis, d, order):
    x, W = T.matrix("x"), T.matrix("W")
    p = T.dot(x, W) if axis == 1 else T.dot(x, W).T
    sl = [p[:, k * d:(k + 1) * d] if axis == 1 else p[k * d:(k + 1) * d] for k in range(4)]
    acts = [T.nnet.sigmoid(s) for s in sl[:3]] + [T.tanh(sl[3])]
    a = [acts[k] for k in order]
    cost = (a[0] * a[1] + a[2] * a[3]).sum()
    return [x, W], theano.grad(cost, [x, W])


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 1, 0, 2)])
def test_slice_gradients_join(axis, order):
    ins, outs = _gates(axis, 3, order)
    f = theano.function(ins, outs)
    ops = [type(n.op) for n in f.maker.fgraph.toposort()]
    assert ops.count(IncSubtensor) == 1 and ops.count(Join) == 1
    ref = theano.function(ins, outs, mode=get_mode(None).excluding("inc_join"))
    assert [type(n.op) for n in ref.maker.fgraph.toposort()].count(IncSubtensor) == 4
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((5, 4)).astype(theano.config.floatX)
    wv = rng.standard_normal((4, 12)).astype(theano.config.floatX)
    for g, e in zip(f(xv, wv), ref(xv, wv)):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


def test_gap_between_slices_is_left_alone():
    x = T.matrix("x")
    cost = (x[:, 0:2] ** 2).sum() + (x[:, 3:5] ** 3).sum()
    f = theano.function([x], theano.grad(cost, x))
    assert not any(isinstance(n.op, Join) for n in f.maker.fgraph.toposort())
    xv = np.arange(10, dtype=theano.config.floatX).reshape(2, 5)
    e = np.zeros_like(xv)
    e[:, 0:2] = 2 * xv[:, 0:2]
    e[:, 3:5] = 3 * xv[:, 3:5] ** 2
    np.testing.assert_allclose(f(xv), e)
