"""``scan_grad_rows`` (rewrites/scan_grad_rows.py): a cost of one step of a scan's output
(``hs[-1]``) gives the reverse loop that step's gradient, not a stack of zeros built and
incremented per call.  The numbers equal the rewrite excluded (bit for bit), the numpy BPTT
reference and finite differences, on the compiled and the host loop."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.config import change_flags
from tvmsym.runtime.mode import get_mode
from tvmsym.symbolic.ops.alloc import Alloc
from tvmsym.symbolic.ops.scan import ScanGrad
from tvmsym.symbolic.ops.subtensor import IncSubtensor

WITHOUT = get_mode(None).excluding("scan_grad_rows")


def _rnn(k=-1, taps=(-1,), backwards=False, dtype="float64"):
    X = T.tensor3("X", dtype=dtype)
    h0 = T.matrix("h0", dtype=dtype) if taps == (-1,) else T.tensor3("h0", dtype=dtype)
    W, U = T.matrix("W", dtype=dtype), T.matrix("U", dtype=dtype)
    if taps == (-1,):
        def step(x_t, h):
            return T.tanh(T.dot(x_t, W) + T.dot(h, U))
    else:
        def step(x_t, h2, h1):
            return T.tanh(T.dot(x_t, W) + T.dot(h1, U) + 0.5 * h2)
    hs, _ = theano.scan(step, sequences=X, outputs_info=dict(initial=h0, taps=list(taps)),
                        go_backwards=backwards)
    loss = (hs[k] ** 2).sum()
    ins = [X, h0, W, U]
    return ins, [loss] + theano.grad(loss, [W, U, h0, X])


def _vals(n=5, b=3, i=4, h=6, taps=(-1,), seed=0):
    rng = np.random.default_rng(seed)
    h0 = rng.standard_normal((b, h) if taps == (-1,) else (2, b, h))
    return [rng.standard_normal((n, b, i)), h0, rng.standard_normal((i, h)) * 0.5,
            rng.standard_normal((h, h)) * 0.3]


def _kinds(fn):
    return [type(n.op) for n in fn.maker.fgraph.toposort()]


@pytest.fixture(scope="module")
def last_step():
    ins, outs = _rnn()
    return ins, outs, theano.function(ins, outs), theano.function(ins, outs, mode=WITHOUT)


def test_no_zero_stack_and_the_row_given(last_step):
    ins, outs, f, g = last_step
    assert IncSubtensor not in _kinds(f) and Alloc not in _kinds(f)
    sg = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ScanGrad)][0]
    assert sg.op.gy_rows == (-1,)
    assert IncSubtensor in _kinds(g)        # the rewrite is what removed them


@pytest.mark.parametrize("compiled", [True, False])
def test_same_bits_as_without_and_numpy_bptt(last_step, compiled):
    ins, outs, f, g = last_step
    v = _vals()
    with change_flags(scan_compiled_loop=compiled):
        a, b = f(*v), g(*v)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # numpy BPTT: h_t = tanh(x_t W + h_{t-1} U), loss = |h_T|^2
    X, h0, W, U = v
    hs = [h0]
    for t in range(len(X)):
        hs.append(np.tanh(X[t] @ W + hs[-1] @ U))
    gh = 2 * hs[-1]
    gW, gU, gX = np.zeros_like(W), np.zeros_like(U), np.zeros_like(X)
    for t in range(len(X) - 1, -1, -1):
        d = gh * (1 - hs[t + 1] ** 2)
        gW += X[t].T @ d
        gU += hs[t].T @ d
        gX[t] = d @ W.T
        gh = d @ U.T
    for got, want in zip(a, [(hs[-1] ** 2).sum(), gW, gU, gh, gX]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k,taps,backwards", [(0, (-1,), False), (-2, (-1,), False),
                                              (2, (-1,), True), (-1, (-2, -1), False)])
def test_other_rows_taps_and_directions(k, taps, backwards):
    ins, outs = _rnn(k, taps, backwards)
    f = theano.function(ins, outs)
    assert IncSubtensor not in _kinds(f)
    g = theano.function(ins, outs, mode=WITHOUT)
    v = _vals(taps=taps, seed=1)
    for compiled in (True, False):
        with change_flags(scan_compiled_loop=compiled):
            for x, y in zip(f(*v), g(*v)):
                np.testing.assert_array_equal(x, y)


def test_float32_and_finite_differences():
    v = _vals(n=4, b=2, i=3, h=3, seed=2)
    X, h0 = v[0], v[1]

    def cost(W, U):
        hs, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U)),
                            sequences=theano.shared(X), outputs_info=theano.shared(h0))
        return (hs[-1] ** 2).sum()
    rng = np.random.default_rng(3)
    theano.gradient.verify_grad(cost, [v[2], v[3]], rng=rng)
    ins32, outs32 = _rnn(dtype="float32")
    f32 = theano.function(ins32, outs32)
    g32 = theano.function(ins32, outs32, mode=WITHOUT)
    v32 = [a.astype("float32") for a in v]
    for x, y in zip(f32(*v32), g32(*v32)):
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, y)


def test_negative_zero_and_nan_as_the_increment():
    """0 + g: a -0.0 gradient row becomes 0.0 (as inc_subtensor on zeros), NaN stays."""
    X = T.tensor3("X", dtype="float64")
    h0 = T.matrix("h0", dtype="float64")
    c = T.matrix("c", dtype="float64")
    hs, _ = theano.scan(lambda x_t, h: h * x_t, sequences=X, outputs_info=h0)
    loss = (hs[-1] * c).sum()
    outs = theano.grad(loss, [h0, X])
    f = theano.function([X, h0, c], outs)
    g = theano.function([X, h0, c], outs, mode=WITHOUT)
    assert IncSubtensor not in _kinds(f)
    v = [np.ones((3, 1, 3)), np.ones((1, 3)), np.array([[-0.0, np.nan, 2.0]])]
    a, b = f(*v), g(*v)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.signbit(x), np.signbit(y))


def test_an_output_the_cost_does_not_read_gets_no_zero_stack():
    """Two states (h, c, as an LSTM); the cost reads h only: c's gradient stack is zeros,
    not built (gy_rows "zeros"), h's the mean over the steps (a full stack)."""
    X = T.tensor3("X", dtype="float64")
    h0, c0 = T.matrix("h0", dtype="float64"), T.matrix("c0", dtype="float64")
    U = T.matrix("U", dtype="float64")

    def step(x_t, h, c):
        c2 = 0.5 * c + T.tanh(x_t + T.dot(h, U))
        return T.tanh(c2) * x_t, c2
    (hs, cs), _ = theano.scan(step, sequences=X, outputs_info=[h0, c0])
    loss = (hs.mean(axis=0) ** 2).sum()
    outs = [loss] + theano.grad(loss, [U, h0, c0, X])
    f = theano.function([X, h0, c0, U], outs)
    g = theano.function([X, h0, c0, U], outs, mode=WITHOUT)
    sg = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, ScanGrad)][0]
    assert "zeros" in sg.op.gy_rows
    assert _kinds(f).count(Alloc) < _kinds(g).count(Alloc)     # the zero stack is not built
    rng = np.random.default_rng(6)
    v = [rng.standard_normal((5, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
         rng.standard_normal((4, 4)) * 0.4]
    for compiled in (True, False):
        with change_flags(scan_compiled_loop=compiled):
            for x, y in zip(f(*v), g(*v)):
                np.testing.assert_array_equal(x, y)
