"""LSTM text classifier (Theano's LSTM tutorial model, ``lstm.py``) trained with ``scan``.

    .venv/bin/python bench/bench_lstm.py [--reps 5] [--batches 6] [--loaded]

Embedding 128 (10,000 words), hidden 128, batch 16, minibatches of varying sequence length
(up to 100, padded, with a mask), dropout off: the gates come from one ``x W + h U + b``
product sliced into 4, the mask keeps a finished sequence's state, mean pooling over time,
a softmax classifier, negative log-likelihood, plain SGD on every parameter (the
tutorial's ``sgd``).  tvmsym: the model as the tutorial writes it; numpy: a hand-written
forward and backward pass of the same maths (``numpy_step``, also the tests' reference);
JAX (when installed): ``lax.scan`` + ``value_and_grad`` + ``jit``.

Single-threaded (``TVM_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, XLA one thread); CPU
time of the process per training step, best of ``--reps`` per minibatch, summed over the
minibatches, the sides interleaved.  Each new sequence length builds once (tvmsym and
JAX); that build time is reported separately and not counted.  Also printed: the scan's
time per step, forward and gradient (goal: gradient <= 1.5x forward), and the ratio to
numpy (goal <= 0.5x).

``--loaded``: the wall-clock median of a pass over the minibatches with another CPU-bound
process running beside it (``python -c 'while 1: pass'``) against the same without it, for
tvmsym's default pool (every core) and for one thread, each in a child process; issue
13's goal: the default pool's slowdown no worse than one thread's.
"""
from __future__ import annotations

import os

for _k, _v in (("TVM_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
               ("MKL_NUM_THREADS", "1")):
    os.environ.setdefault(_k, _v)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

N_WORDS, DIM, BATCH, MAXLEN, YDIM = 10000, 128, 16, 100, 2
LR = 0.1


def init_params(seed=0, dtype="float32"):
    """The tutorial's initialization: Wemb, lstm_W, lstm_U, lstm_b, U, b."""
    rng = np.random.default_rng(seed)

    def ortho():
        u, _, _ = np.linalg.svd(rng.standard_normal((DIM, DIM)))
        return u.astype(dtype)
    return [(0.01 * rng.random((N_WORDS, DIM))).astype(dtype),
            np.concatenate([ortho() for _ in range(4)], axis=1),
            np.concatenate([ortho() for _ in range(4)], axis=1),
            np.zeros(4 * DIM, dtype),
            (0.01 * rng.standard_normal((DIM, YDIM))).astype(dtype),
            np.zeros(YDIM, dtype)]


def minibatch(rng, length, dtype="float32"):
    """(x int64 (length, BATCH), mask, y): sequences of lengths up to ``length`` (one of
    them exactly ``length``), padded with 0 after their end."""
    lens = rng.integers(max(1, length // 3), length + 1, size=BATCH)
    lens[0] = length
    x = np.zeros((length, BATCH), np.int64)
    mask = np.zeros((length, BATCH), dtype)
    for k, ln in enumerate(lens):
        x[:ln, k] = rng.integers(1, N_WORDS, size=ln)
        mask[:ln, k] = 1
    return x, mask, rng.integers(0, YDIM, size=BATCH).astype(np.int64)


# --------------------------------------------------------------------------- tvmsym
def tvmsym_model(params, dtype="float32"):
    """(train(x, mask, y) -> cost with SGD updates, forward(x, mask, y) -> cost, shared)."""
    import tvmsym as theano
    import tvmsym.tensor as T
    names = ["Wemb", "lstm_W", "lstm_U", "lstm_b", "U", "b"]
    tp = [theano.shared(p.copy(), name=n) for p, n in zip(params, names)]
    Wemb, lW, lU, lb, Uo, bo = tp
    x = T.matrix("x", dtype="int64")
    mask = T.matrix("mask", dtype=dtype)
    y = T.vector("y", dtype="int64")
    n_timesteps, n_samples = x.shape[0], x.shape[1]
    emb = Wemb[x.flatten()].reshape([n_timesteps, n_samples, DIM])

    def _slice(_x, n, dim):
        return _x[:, n * dim:(n + 1) * dim]

    def _step(m_, x_, h_, c_):
        preact = T.dot(h_, lU) + x_
        i = T.nnet.sigmoid(_slice(preact, 0, DIM))
        f = T.nnet.sigmoid(_slice(preact, 1, DIM))
        o = T.nnet.sigmoid(_slice(preact, 2, DIM))
        c = T.tanh(_slice(preact, 3, DIM))
        c = f * c_ + i * c
        c = m_[:, None] * c + (1. - m_)[:, None] * c_
        h = o * T.tanh(c)
        h = m_[:, None] * h + (1. - m_)[:, None] * h_
        return h, c

    state_below = T.dot(emb, lW) + lb
    zeros = T.alloc(np.asarray(0., dtype=dtype), n_samples, DIM)
    (hs, _), _ = theano.scan(_step, sequences=[mask, state_below], outputs_info=[zeros, zeros],
                             name="lstm_layers", n_steps=n_timesteps)
    proj = (hs * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    pred = T.nnet.softmax(T.dot(proj, Uo) + bo)
    cost = -T.log(pred[T.arange(n_samples), y] + 1e-8).mean()
    grads = theano.grad(cost, tp)
    lr = np.asarray(LR, dtype)
    train = theano.function([x, mask, y], cost,
                            updates=[(p, p - lr * g) for p, g in zip(tp, grads)])
    forward = theano.function([x, mask, y], cost)
    return train, forward, tp


# --------------------------------------------------------------------------- numpy
def _sig(z):
    return 1 / (1 + np.exp(-z))


def numpy_step(x, mask, y, P, update=True):
    """Forward, backward and SGD of the same model; updates ``P`` in place; returns the
    cost (and the gradients, ``update=False``: nothing updated)."""
    Wemb, W, U, b, Uo, bo = P
    T_, n = x.shape
    d = DIM
    one = mask.dtype.type(1)
    emb = Wemb[x.reshape(-1)].reshape(T_, n, d)
    sb = emb @ W + b
    H = np.zeros((T_ + 1, n, d), mask.dtype)
    C = np.zeros((T_ + 1, n, d), mask.dtype)
    gates = np.empty((T_, n, 4 * d), mask.dtype)
    TC = np.empty((T_, n, d), mask.dtype)
    for t in range(T_):
        pre = H[t] @ U + sb[t]
        g = gates[t]
        g[:, :3 * d] = _sig(pre[:, :3 * d])
        g[:, 3 * d:] = np.tanh(pre[:, 3 * d:])
        i, f, o, gg = g[:, :d], g[:, d:2 * d], g[:, 2 * d:3 * d], g[:, 3 * d:]
        m = mask[t][:, None]
        c = f * C[t] + i * gg
        C[t + 1] = m * c + (one - m) * C[t]
        TC[t] = np.tanh(C[t + 1])
        H[t + 1] = m * (o * TC[t]) + (one - m) * H[t]
    msum = mask.sum(axis=0)[:, None]
    proj = (H[1:] * mask[:, :, None]).sum(axis=0) / msum
    z = proj @ Uo + bo
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    py = p[np.arange(n), y]
    cost = -np.log(py + mask.dtype.type(1e-8)).mean()
    # backward
    a = -py / (n * (py + mask.dtype.type(1e-8)))
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1
    dz = a[:, None] * (onehot - p)
    dUo = proj.T @ dz
    dbo = dz.sum(axis=0)
    dproj = (dz @ Uo.T) / msum
    dU = np.zeros_like(U)
    dsb = np.empty_like(sb)
    dh_next = np.zeros((n, d), mask.dtype)
    dc_next = np.zeros((n, d), mask.dtype)
    for t in range(T_ - 1, -1, -1):
        m = mask[t][:, None]
        g = gates[t]
        i, f, o, gg = g[:, :d], g[:, d:2 * d], g[:, 2 * d:3 * d], g[:, 3 * d:]
        dh = dproj * m + dh_next
        dhh = m * dh
        tc = TC[t]
        do = dhh * tc
        dc = dhh * o * (one - tc * tc) + dc_next
        dcc = m * dc
        dc_next = (one - m) * dc + dcc * f
        dp = dsb[t]
        dp[:, :d] = dcc * gg * i * (one - i)
        dp[:, d:2 * d] = dcc * C[t] * f * (one - f)
        dp[:, 2 * d:3 * d] = do * o * (one - o)
        dp[:, 3 * d:] = dcc * i * (one - gg * gg)
        dU += H[t].T @ dp
        dh_next = (one - m) * dh + dp @ U.T
    dsb2 = dsb.reshape(-1, 4 * d)
    dW = emb.reshape(-1, d).T @ dsb2
    db = dsb2.sum(axis=0)
    dWemb = np.zeros_like(Wemb)
    np.add.at(dWemb, x.reshape(-1), dsb2 @ W.T)
    grads = [dWemb, dW, dU, db, dUo, dbo]
    if not update:
        return cost, grads
    lr = mask.dtype.type(LR)
    for q, gq in zip(P, grads):
        q -= lr * gq
    return cost


# --------------------------------------------------------------------------- JAX
def jax_model(params):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss_fn(P, x, mask, y):
        Wemb, W, U, b, Uo, bo = P
        T_, n = x.shape
        emb = Wemb[x.reshape(-1)].reshape(T_, n, DIM)
        sb = emb @ W + b

        def cell(carry, inp):
            h, c = carry
            m, s = inp
            pre = h @ U + s
            i = jax.nn.sigmoid(pre[:, :DIM])
            f = jax.nn.sigmoid(pre[:, DIM:2 * DIM])
            o = jax.nn.sigmoid(pre[:, 2 * DIM:3 * DIM])
            g = jnp.tanh(pre[:, 3 * DIM:])
            m = m[:, None]
            c2 = m * (f * c + i * g) + (1 - m) * c
            h2 = m * (o * jnp.tanh(c2)) + (1 - m) * h
            return (h2, c2), h2
        z0 = jnp.zeros((n, DIM), sb.dtype)
        _, hs = jax.lax.scan(cell, (z0, z0), (mask, sb))
        proj = (hs * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
        p = jax.nn.softmax(proj @ Uo + bo)
        return -jnp.log(p[jnp.arange(n), y] + 1e-8).mean()

    @jax.jit
    def step(P, x, mask, y):
        loss, g = jax.value_and_grad(loss_fn)(P, x, mask, y)
        return loss, [q - LR * gq for q, gq in zip(P, g)]
    return step, [jnp.asarray(p) for p in params]


# --------------------------------------------------------------------------- timing
def cpu_us(fn, reps):
    """Best CPU time of the process per call (us) over ``reps`` calls (one warm-up)."""
    fn()
    best = None
    for _ in range(reps):
        t0 = time.process_time_ns()
        fn()
        dt = time.process_time_ns() - t0
        best = dt if best is None or dt < best else best
    return best / 1e3


def scan_step_times(train, batches, reps):
    """(forward scan us per step, gradient scan us per step): the Scan and ScanGrad nodes
    timed inside training steps (CPU time, best per minibatch)."""
    import tvmsym.runtime.inner as rinner
    from tvmsym.runtime import scan as rscan
    from tvmsym.symbolic.ops.scan import Scan, ScanGrad
    rinner._RUNNERS.get(Scan)          # filled at first use
    times = {"f": [], "g": []}

    def timed(k, fn):
        def run(node, inputs, inner):
            t0 = time.process_time_ns()
            r = fn(node, inputs, inner)
            times[k].append(time.process_time_ns() - t0)
            return r
        return run
    fwd = grd = 0.0
    rinner._RUNNERS[Scan] = timed("f", rscan.run_scan)
    rinner._RUNNERS[ScanGrad] = timed("g", rscan.run_scan_grad)
    try:
        for x, mask, y in batches:
            times["f"].clear(), times["g"].clear()
            for _ in range(reps):
                train(x, mask, y)
            fwd += min(times["f"]) / 1e3
            grd += min(times["g"]) / 1e3
    finally:
        rinner._RUNNERS[Scan] = rscan.run_scan
        rinner._RUNNERS[ScanGrad] = rscan.run_scan_grad
    steps = sum(len(b[0]) for b in batches)
    return fwd / steps, grd / steps


def wall_ms(train, batches, reps):
    """(median, best) wall-clock ms of a pass over the minibatches (each length built first)."""
    for b in batches:
        train(*b)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for b in batches:
            train(*b)
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts)), min(ts)


def loaded(args):
    """{(threads, busy): median ms} of tvmsym's pass, each in a child process, with and
    without a CPU-bound process beside it, for every core's pool and for one thread."""
    res = {}
    cores = str(os.cpu_count() or 1)
    for threads in (cores, "1"):
        env = dict(os.environ, TVM_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        for busy in (False, True):
            hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if busy else None
            try:
                out = subprocess.run([sys.executable, __file__, "--tvmsym-only", "--reps",
                                      str(args.reps), "--batches", str(args.batches)], env=env,
                                     check=True, capture_output=True, text=True).stdout.split()
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
            res[(threads, busy)] = float(out[0])
    return res, cores


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--loaded", action="store_true",
                    help="slowdown beside a CPU-bound process: every core's pool vs one thread")
    ap.add_argument("--tvmsym-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    lengths = [MAXLEN] + list(rng.integers(10, MAXLEN, size=args.batches - 1))
    batches = [minibatch(rng, int(ln)) for ln in lengths]
    params = init_params()
    if args.tvmsym_only:
        print(*wall_ms(tvmsym_model(params)[0], batches, args.reps))
        return
    if args.loaded:
        r, cores = loaded(args)
        print(f"LSTM training pass ({len(batches)} minibatches) beside a CPU-bound process "
              "(wall-clock median ms; child processes)")
        for t in (cores, "1"):
            q, b = r[(t, False)], r[(t, True)]
            print(f"  {t + ' threads':16s} quiet {q:8.1f}  loaded {b:8.1f}  slowdown {b / q:5.2f}x")
        sd, s1 = r[(cores, True)] / r[(cores, False)], r[("1", True)] / r[("1", False)]
        print(f"  slowdown {cores} threads / slowdown 1 thread: {sd / s1:.2f} (goal <= 1: "
              f"{'ok' if sd <= s1 * 1.1 else 'MISSED'}); loaded {cores} threads vs loaded 1 "
              f"thread: {r[(cores, True)] / r[('1', True)]:.2f}x")
        return
    t0 = time.perf_counter()
    train, forward, shared = tvmsym_model(params)
    graph_s = time.perf_counter() - t0
    # one step each side from the same parameters: the same cost and updates
    P = [p.copy() for p in params]
    c_np = numpy_step(*batches[0], P)
    t0 = time.perf_counter()
    c_tv = train(*batches[0])
    first_s = time.perf_counter() - t0
    np.testing.assert_allclose(c_tv, c_np, rtol=1e-4)
    for s, p in zip(shared, P):
        np.testing.assert_allclose(s.get_value(), p, rtol=2e-3, atol=2e-5)
    builds = []
    for b in batches[1:]:           # every new length builds once (not timed below)
        t0 = time.perf_counter()
        train(*b)
        builds.append(time.perf_counter() - t0)
    jx = jax_model(params)
    jax_builds = []
    if jx is not None:
        jstep, JP = jx
        state = {"P": JP}

        def run_jax(b):
            loss, state["P"] = jstep(state["P"], *b)
            loss.block_until_ready()
        for b in batches:
            t0 = time.perf_counter()
            run_jax(b)
            jax_builds.append(time.perf_counter() - t0)
    P = [p.copy() for p in params]
    t_np = t_tv = t_jx = 0.0
    for b in batches:               # interleaved per minibatch
        t_np += cpu_us(lambda: numpy_step(*b, P), args.reps)
        t_tv += cpu_us(lambda: train(*b), args.reps)
        if jx is not None:
            t_jx += cpu_us(lambda: run_jax(b), args.reps)
    fwd, grd = scan_step_times(train, batches, max(2, args.reps // 2))
    total_steps = sum(len(b[0]) for b in batches)
    print(f"LSTM text classifier (Theano's lstm.py): embedding {DIM}, hidden {DIM}, batch "
          f"{BATCH}, {len(batches)} minibatches of lengths {sorted(int(len(b[0])) for b in batches)} "
          f"({total_steps} steps), SGD, float32, CPU time, 1 thread")
    print(f"  numpy (hand-written)      {t_np / 1e3:9.2f} ms per pass over the minibatches")
    print(f"  tvmsym                    {t_tv / 1e3:9.2f} ms   (graph {graph_s:.2f} s, first build "
          f"{first_s:.2f} s, each new length {np.mean(builds) if builds else 0:.2f} s)")
    if jx is not None:
        print(f"  jax (lax.scan, jit)       {t_jx / 1e3:9.2f} ms   (each new length builds: "
              f"{np.mean(jax_builds):.2f} s)")
    else:
        print("  jax: not installed")
    print(f"  ratio tvmsym / numpy      {t_tv / t_np:9.2f}x   (goal <= 0.5x)")
    if jx is not None:
        print(f"  ratio jax / numpy         {t_jx / t_np:9.2f}x")
    print(f"  scan per step: forward {fwd:.1f} us, gradient {grd:.1f} us "
          f"({grd / fwd:.2f}x; goal <= 1.5x)")


if __name__ == "__main__":
    main()
