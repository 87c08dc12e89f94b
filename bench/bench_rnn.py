"""W10: one SGD step of a tanh RNN trained through ``scan`` (BPTT), float32.

    .venv/bin/python bench/bench_rnn.py [--reps 60]

Sequence 50, batch 32, input 64, hidden 256: ``h_t = tanh(x_t W + h_{t-1} U + b)`` with
``h0`` an input, loss = batch mean of the squared norm of the last hidden state, the
gradients of W, U, b through the loop, SGD (lr 0.1) on shared variables.

tvmsym: the model as a Theano user writes it (``scan``, ``grad``, ``updates``); the scan
and its gradient each run as one compiled loop (``runtime/scan_loop.py``).  numpy: a
hand-written BPTT of the same maths (``numpy_step``, also the tests' reference).  JAX
(when installed): ``lax.scan`` + ``value_and_grad`` + ``jit``.  All run in this process,
single-threaded (``TVM_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, XLA one thread), on
the same data; times are CPU time of the process per step (the machine may be shared),
the best of ``--reps`` steps, the sides interleaved.  Goal: tvmsym <= 0.7x numpy and
ahead of JAX.
"""
from __future__ import annotations

import os

for _k, _v in (("TVM_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
               ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_k, _v)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SEQ, B, NIN, NH = 50, 32, 64, 256
LR = 0.1


def init(seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SEQ, B, NIN)).astype(dtype)
    h0 = (rng.standard_normal((B, NH)) * 0.1).astype(dtype)
    W = (rng.standard_normal((NIN, NH)) / np.sqrt(NIN)).astype(dtype)
    U = (rng.standard_normal((NH, NH)) / np.sqrt(NH)).astype(dtype)
    b = np.zeros(NH, dtype)
    return x, h0, [W, U, b]


def tvmsym_step(params, dtype="float32"):
    """The compiled training step: ``step(x, h0) -> loss``, updating W, U, b."""
    import tvmsym as theano
    import tvmsym.tensor as T
    X = T.tensor3("X", dtype=dtype)
    h0 = T.matrix("h0", dtype=dtype)
    W, U, b = [theano.shared(p.copy(), name=n) for p, n in zip(params, "WUb")]
    hs, _ = theano.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U) + b),
                        sequences=X, outputs_info=h0)
    loss = (hs[-1] ** 2).sum(axis=1).mean()
    grads = theano.grad(loss, [W, U, b])
    lr = np.asarray(LR, dtype)
    step = theano.function([X, h0], loss,
                           updates=[(p, p - lr * g) for p, g in zip([W, U, b], grads)])
    return step, [W, U, b]


def numpy_step(x, h0, P):
    """Hand-written forward + BPTT + SGD; updates ``P = [W, U, b]`` in place."""
    W, U, b = P
    lr = x.dtype.type(LR)
    hs = np.empty((len(x) + 1,) + h0.shape, h0.dtype)
    hs[0] = h0
    for t in range(len(x)):
        np.tanh(x[t] @ W + hs[t] @ U + b, out=hs[t + 1])
    h = hs[-1]
    loss = (h * h).sum(axis=1).mean()
    gh = h * x.dtype.type(2.0 / len(h))
    gW, gU, gb = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(len(x) - 1, -1, -1):
        d = gh * (1 - hs[t + 1] * hs[t + 1])
        gW += x[t].T @ d
        gU += hs[t].T @ d
        gb += d.sum(axis=0)
        gh = d @ U.T
    W -= lr * gW
    U -= lr * gU
    b -= lr * gb
    return loss


def jax_step(params):
    """(step(x, h0, params) -> (loss, params), params as jax arrays), or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss_fn(P, x, h0):
        W, U, b = P

        def cell(h, x_t):
            h = jnp.tanh(x_t @ W + h @ U + b)
            return h, None
        h, _ = jax.lax.scan(cell, h0, x)
        return (h * h).sum(axis=1).mean()

    @jax.jit
    def step(x, h0, P):
        loss, g = jax.value_and_grad(loss_fn)(P, x, h0)
        return loss, [p - LR * gp for p, gp in zip(P, g)]
    return step, [jnp.asarray(p) for p in params]


def cpu_best_us(fn, reps):
    """Best CPU time of the process per call (us), after warm-up; and the median."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.process_time_ns()
        fn()
        ts.append(time.process_time_ns() - t0)
    return min(ts) / 1e3, float(np.median(ts)) / 1e3


def check(step, shared, x, h0, params, n=3):
    """tvmsym's step and numpy's agree step after step (loss and parameters)."""
    P = [p.copy() for p in params]
    for s, p in zip(shared, params):
        s.set_value(p.copy())
    for _ in range(n):
        lr = numpy_step(x, h0, P)
        lt = step(x, h0)
        np.testing.assert_allclose(lt, lr, rtol=1e-4)
    for s, p in zip(shared, P):
        np.testing.assert_allclose(s.get_value(), p, rtol=1e-3, atol=1e-5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    args = ap.parse_args()
    x, h0, params = init()
    t0 = time.perf_counter()
    step, shared = tvmsym_step(params)
    step(x, h0)
    compile_s = time.perf_counter() - t0
    check(step, shared, x, h0, params)
    from tvmsym.runtime import scan as rscan
    before = dict(rscan.stats)
    step(x, h0)
    compiled = rscan.stats["compiled"] - before["compiled"]
    P = [p.copy() for p in params]
    jx = jax_step(params)
    if jx is not None:
        jstep, JP = jx
        state = {"P": JP}

        def run_jax():
            loss, state["P"] = jstep(x, h0, state["P"])
            loss.block_until_ready()
        run_jax()
    t_np, t_tv, t_jx = [], [], []
    per = max(1, args.reps // 3)
    for _ in range(3):          # interleaved: every side sees the same machine state
        t_np.append(cpu_best_us(lambda: numpy_step(x, h0, P), per))
        t_tv.append(cpu_best_us(lambda: step(x, h0), per))
        if jx is not None:
            t_jx.append(cpu_best_us(run_jax, per))
    np_best, tv_best = min(t[0] for t in t_np), min(t[0] for t in t_tv)
    print(f"W10 tanh RNN, scan over {SEQ} steps, batch {B}, {NIN}->{NH}, BPTT + SGD, float32 "
          f"(CPU time per step, 1 thread)")
    print(f"  numpy (hand-written BPTT) {np_best:9.1f} us   (median {min(t[1] for t in t_np):.1f})")
    print(f"  tvmsym                    {tv_best:9.1f} us   (median {min(t[1] for t in t_tv):.1f}, "
          f"{compiled} compiled loops per step, first call incl. build {compile_s:.2f} s)")
    if jx is not None:
        jx_best = min(t[0] for t in t_jx)
        print(f"  jax (lax.scan, jit)       {jx_best:9.1f} us   (median {min(t[1] for t in t_jx):.1f})")
    else:
        print("  jax: not installed")
    print(f"  ratio tvmsym / numpy      {tv_best / np_best:9.2f}x   (goal <= 0.7x)")
    if jx is not None:
        print(f"  ratio jax / numpy         {jx_best / np_best:9.2f}x   "
              f"(tvmsym {'ahead of' if tv_best < jx_best else 'behind'} jax)")
    # new sequence lengths: the first call (no build, shapes from the shape function of the
    # signature: runtime/shapefn.py) vs the steady call at that length (CPU time)
    from _first_call import first_call_lines
    long_x = np.concatenate([x, x])
    first_call_lines(step, lambda n: (long_x[:n].copy(), h0), (40, 1, 77), time.process_time_ns,
                     what="length", reps=5, repeats=3)


if __name__ == "__main__":
    main()
