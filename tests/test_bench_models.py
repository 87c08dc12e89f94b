"""The models of bench/bench_rnn.py (W10) and bench/bench_lstm.py: one tvmsym training step
equals the hand-written numpy step of the same script (their reference), on small sizes."""
import importlib.util
import os
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _load(name):
    sys.path.insert(0, BENCH)       # the scripts import bench/_timing.py-style neighbours
    env = dict(os.environ)          # the scripts pin thread counts for their own runs
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", os.path.join(BENCH, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(BENCH)
        os.environ.clear()
        os.environ.update(env)


@pytest.fixture(scope="module")
def rnn():
    mod = _load("bench_rnn")
    mod.SEQ, mod.B, mod.NIN, mod.NH = 6, 3, 4, 5     # small: the same code, fast
    return mod


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_rnn_step_equals_numpy_bptt(rnn, dtype, tol):
    from tvmsym.runtime import scan as rscan
    x, h0, params = rnn.init(seed=3, dtype=dtype)
    step, shared = rnn.tvmsym_step(params, dtype)
    P = [p.copy() for p in params]
    before = rscan.stats["compiled"]
    for _ in range(2):
        lt = step(x, h0)
        ln = rnn.numpy_step(x, h0, P)
        np.testing.assert_allclose(lt, ln, rtol=tol)
    assert rscan.stats["compiled"] - before == 4       # forward and gradient loops, twice
    for s, p in zip(shared, P):
        np.testing.assert_allclose(s.get_value(), p, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def lstm():
    mod = _load("bench_lstm")
    mod.N_WORDS, mod.DIM, mod.BATCH = 50, 8, 4
    return mod


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_lstm_step_equals_numpy(lstm, dtype, tol):
    params = lstm.init_params(seed=2, dtype=dtype)
    train, forward, shared = lstm.tvmsym_model(params, dtype)
    rng = np.random.default_rng(4)
    P = [p.copy() for p in params]
    for length in (7, 3):           # a new sequence length: the same body
        b = lstm.minibatch(rng, length, dtype)
        np.testing.assert_allclose(forward(*b), lstm.numpy_step(*b, P, update=False)[0], rtol=tol)
        ct = train(*b)
        cn = lstm.numpy_step(*b, P)
        np.testing.assert_allclose(ct, cn, rtol=tol)
        for s, p in zip(shared, P):
            np.testing.assert_allclose(s.get_value(), p, rtol=tol * 10, atol=tol)


@pytest.fixture(scope="module")
def mlp():
    mod = _load("bench_mlp")
    mod.NIN, mod.NH, mod.NOUT = 63, 65, 7        # odd sizes: vector tails everywhere
    return mod


@pytest.mark.parametrize("batch", [1, 7, 65])
def test_mlp_step_equals_numpy(mlp, batch):
    """W6's step (bench/bench_mlp.py) against its hand-written numpy step, three steps in a row;
    one function for every batch size (the parameters are reset per batch)."""
    mlp.B = batch
    x, onehot, params = mlp.init(seed=batch)
    if not hasattr(mlp, "_step"):
        mlp._step = mlp.tvmsym_step(params)
    step, shared = mlp._step
    for s, p in zip(shared, params):
        s.set_value(p)
    P = [p.copy() for p in params]
    for _ in range(3):
        lt = step(x, onehot)
        ln = mlp.numpy_step(x, onehot, P)
        np.testing.assert_allclose(lt, ln, rtol=1e-5)
    for s, p in zip(shared, P):
        np.testing.assert_allclose(s.get_value(), p, rtol=1e-4, atol=1e-6)


def test_mlp_step_has_one_softmax_row_kernel(mlp):
    """The loss reads log_softmax(z), its gradient softmax(z): one row kernel (LogSoftmax)
    serves both (rewrites/softmax.py: exp(LogSoftmax) fused into the gradient's Composite)."""
    mlp.B = 5
    step, _ = mlp.tvmsym_step(mlp.init(seed=0)[2])
    ops = [type(n.op).__name__ for n in step.maker.fgraph.toposort()]
    assert ops.count("LogSoftmax") == 1 and "Softmax" not in ops
