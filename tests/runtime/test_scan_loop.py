"""The compiled scan loop (runtime/scan_loop.py): one host call per scan, forward and gradient.

Every result is checked against the host loop (``config.scan_compiled_loop = False``: one
call of the compiled body per step) and, for the RNN, against numpy; the loop is shown to
make no Python call per step (``sys.setprofile`` counts the Python calls of one function
call at two sequence lengths).
"""
import sys

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.config import change_flags
from tvmsym.runtime import scan as rscan


def _python_calls(f, *args):
    """How many Python functions run during ``f(*args)``."""
    n = [0]

    def prof(frame, event, arg):
        if event == "call":
            n[0] += 1
    sys.setprofile(prof)
    try:
        f(*args)
    finally:
        sys.setprofile(None)
    return n[0]


def _both(make, *args):
    """(compiled-loop results, host-loop results, compiled loops run) of the graph ``make()``
    (inputs, outputs[, updates])."""
    res = []
    before = rscan.stats["compiled"]
    for on in (True, False):
        with change_flags(scan_compiled_loop=on):
            spec = make()
            f = theano.function(*spec)
            res.append(f(*args))
            if on:
                ran = rscan.stats["compiled"] - before
    return res[0], res[1], ran


def _close(a, b, tol=1e-6):
    for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def _rnn_graph(dtype):
    X = T.tensor3("X", dtype=dtype)
    W, U = T.matrix("W", dtype=dtype), T.matrix("U", dtype=dtype)
    b, h0 = T.vector("b", dtype=dtype), T.matrix("h0", dtype=dtype)
    hs, _ = theano.scan(lambda x, h: T.tanh(T.dot(x, W) + T.dot(h, U) + b), sequences=X,
                        outputs_info=h0)
    loss = (hs[-1] ** 2).sum(axis=1).mean()
    return [X, W, U, b, h0], [loss] + theano.grad(loss, [W, U, b, h0, X])


def _rnn_numpy(x, w, u, b, h0):
    """Hand-written BPTT of the graph above."""
    hs = [h0]
    for t in range(len(x)):
        hs.append(np.tanh(x[t] @ w + hs[-1] @ u + b))
    h = hs[-1]
    loss = (h ** 2).sum(axis=1).mean()
    gh = 2 * h / len(h)
    gw, gu, gb, gx = np.zeros_like(w), np.zeros_like(u), np.zeros_like(b), np.zeros_like(x)
    for t in range(len(x) - 1, -1, -1):
        d = gh * (1 - hs[t + 1] ** 2)
        gw += x[t].T @ d
        gu += hs[t].T @ d
        gb += d.sum(axis=0)
        gx[t] = d @ w.T
        gh = d @ u.T
    return [loss, gw, gu, gb, gh, gx]


@pytest.fixture(scope="module")
def rnn64():
    with change_flags(scan_compiled_loop=True):
        return theano.function(*_rnn_graph("float64"))


def _rnn_values(rng, n, batch, nin, nh, dtype):
    return [rng.standard_normal((n, batch, nin)).astype(dtype),
            (rng.standard_normal((nin, nh)) * 0.3).astype(dtype),
            (rng.standard_normal((nh, nh)) * 0.3).astype(dtype),
            rng.standard_normal(nh).astype(dtype), rng.standard_normal((batch, nh)).astype(dtype)]


@pytest.mark.parametrize("n", [1, 2, 7])
def test_rnn_forward_and_gradient_match_numpy_float64(rnn64, n):
    vals = _rnn_values(np.random.default_rng(n), n, 3, 4, 5, "float64")
    before = rscan.stats["compiled"]
    got = rnn64(*vals)
    assert rscan.stats["compiled"] - before == 2          # the scan and its gradient
    for g, e in zip(got, _rnn_numpy(*vals)):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_rnn_float32_matches_numpy_and_host_loop():
    vals = _rnn_values(np.random.default_rng(3), 6, 4, 3, 8, "float32")
    got, host, ran = _both(lambda: _rnn_graph("float32"), *vals)
    assert ran == 2
    _close(got, host, 1e-5)
    for g, e in zip(got, _rnn_numpy(*[v.astype("float64") for v in vals])):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_compiled_loop_makes_no_python_call_per_step(rnn64):
    rng = np.random.default_rng(0)
    short, long_ = (_rnn_values(rng, n, 2, 3, 4, "float64") for n in (4, 40))
    rnn64(*short), rnn64(*long_)                     # built
    assert _python_calls(rnn64, *short) == _python_calls(rnn64, *long_)
    # the host loop calls the body from Python every step: the count grows with the length
    with change_flags(scan_compiled_loop=False):
        host = theano.function(*_rnn_graph("float64"))
        host(*short), host(*long_)
        assert _python_calls(host, *long_) > _python_calls(host, *short) + 36


def test_taps_backwards_and_negative_n_steps():
    def make():
        x = T.vector("x")
        n = T.iscalar("n")
        two, _ = theano.scan(lambda a, b, c, h2, h1: a + 10 * b + 100 * c + 0.5 * h1 - 0.25 * h2,
                             sequences=dict(input=x, taps=[-1, 0, 2]),
                             outputs_info=dict(initial=T.as_tensor_variable(
                                 np.asarray([1, 2], theano.config.floatX)), taps=[-2, -1]))
        back, _ = theano.scan(lambda a, h: h * 0.5 + a, sequences=x, n_steps=n,
                              outputs_info=T.as_tensor_variable(np.asarray(0, theano.config.floatX)),
                              go_backwards=True)
        neg, _ = theano.scan(lambda a: a * 2, sequences=x, n_steps=-n)
        cost = two.sum() + (back ** 2).sum() + neg.sum()
        return [x, n], [two, back, neg, theano.grad(cost, x)]
    x = np.arange(9, dtype=theano.config.floatX) / 7
    got, host, ran = _both(make, x, 5)
    assert ran == 6                     # three scans, three gradients
    _close(got, host)


def test_truncate_gradient_and_nonsequences():
    def make():
        x, w, h0 = T.matrix("x"), T.matrix("w"), T.vector("h0")
        h, _ = theano.scan(lambda xt, ht, w: T.tanh(T.dot(ht, w) + xt), sequences=x,
                           outputs_info=h0, non_sequences=w, truncate_gradient=2)
        return [x, w, h0], theano.grad(h.sum(), [x, w, h0])
    rng = np.random.default_rng(5)
    vals = [rng.standard_normal((6, 3)).astype(theano.config.floatX),
            (rng.standard_normal((3, 3)) * 0.5).astype(theano.config.floatX),
            rng.standard_normal(3).astype(theano.config.floatX)]
    got, host, ran = _both(make, *vals)
    assert ran == 2
    _close(got, host)
    assert np.all(got[0][:4] == 0) and np.any(got[0][4:] != 0)


def test_shared_variable_updates_in_fn():
    acc = theano.shared(np.zeros(3, theano.config.floatX), name="acc")

    def make():
        acc.set_value(np.zeros(3, theano.config.floatX))
        x = T.matrix("x")
        out, upd = theano.scan(lambda xt: (xt * 2, {acc: acc * 0.5 + xt}), sequences=x)
        return [x], out, upd
    x = np.arange(15, dtype=theano.config.floatX).reshape(5, 3)
    res = []
    for on in (True, False):
        with change_flags(scan_compiled_loop=on):
            spec = make()
            before = rscan.stats["compiled"]
            out = theano.function(spec[0], spec[1], updates=spec[2])(x)
            res.append((out, acc.get_value()))
            assert (rscan.stats["compiled"] - before == 1) == on
    _close(res[0][0], res[1][0])
    _close(res[0][1], res[1][1])
    e = np.zeros(3)
    for r in x:
        e = e * 0.5 + r
    _close(res[0][1], e)


def test_several_outputs_and_a_plain_output():
    def make():
        x = T.matrix("x")
        (s, p, m), _ = theano.scan(lambda xt, s: (s + xt, s * xt, xt.max()), sequences=x,
                                   outputs_info=[T.zeros((3,)), None, None])
        return [x], [s, p, m, theano.grad((s * p).sum() + m.sum(), x)]
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(theano.config.floatX)
    got, host, ran = _both(make, x)
    assert ran == 2
    _close(got, host)


def test_state_buffers_are_not_allocated_per_step(rnn64):
    """One call's allocations do not grow with the number of steps beyond the outputs."""
    import tracemalloc
    rng = np.random.default_rng(0)
    vals = [_rnn_values(rng, n, 2, 3, 4, "float64") for n in (5, 50)]
    peaks = []
    for v in vals:
        rnn64(*v)
        tracemalloc.start()
        rnn64(*v)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # the stacked states and gradients grow by (45 steps x 2 x 4 x 8 bytes) a few times over;
    # one allocation per step and kernel would add far more than this bound
    assert peaks[1] - peaks[0] < 45 * 2 * 4 * 8 * 12


def test_gradient_hoists_the_transposed_weights_out_of_the_loop():
    """``dot(g, U.T)`` in the gradient's step: ``U.T`` is computed once per loop
    (``Scan.hoisted``), the step reads it as an input (and the results stay right:
    the RNN tests above run through it)."""
    from tvmsym.symbolic.graph import toposort
    from tvmsym.symbolic.ops.scan import Scan
    ins, outs = _rnn_graph("float64")
    scans = [n.op for n in toposort(outs) if isinstance(n.op, Scan)]
    pre, main = scans[0].hoisted("vjp_acc")
    assert any("1,0" in str(v.owner.op) for v in pre.outputs)
    assert len(main.inputs) == len(scans[0].inner_graph("vjp_acc").inputs) + len(pre.outputs)
    assert scans[0].hoisted("body") is None           # the forward step has nothing to hoist


def test_acc_epilogue_where_included():
    """``acc + dot(a, b)`` folds into one FusedDot in a mode including ``acc_epilogue`` (the
    scan gradient's accumulating step); the same values as without it."""
    from tvmsym.runtime.mode import get_mode
    from tvmsym.symbolic.ops.linalg import FusedDot
    a, b, acc = T.dmatrix("a"), T.dmatrix("b"), T.dmatrix("acc")
    e = acc + T.dot(a.T, b)
    plain = theano.function([a, b, acc], e)
    fused = theano.function([a, b, acc], e, mode=get_mode(None).including("acc_epilogue"))
    assert FusedDot in [type(n.op) for n in fused.maker.fgraph.toposort()]
    without = theano.function([a, b, acc], e, mode=get_mode(None).excluding("acc_epilogue",
                                                                             "dot_epilogue"))
    assert FusedDot not in [type(n.op) for n in without.maker.fgraph.toposort()]
    rng = np.random.default_rng(9)
    for m, k, n in [(1, 1, 1), (7, 3, 5), (65, 17, 33)]:
        vals = rng.standard_normal((k, m)), rng.standard_normal((k, n)), rng.standard_normal((m, n))
        np.testing.assert_allclose(fused(*vals), vals[2] + vals[0].T @ vals[1], rtol=1e-12)
        np.testing.assert_allclose(plain(*vals), fused(*vals), rtol=1e-12)
        np.testing.assert_allclose(without(*vals), fused(*vals), rtol=1e-12)
