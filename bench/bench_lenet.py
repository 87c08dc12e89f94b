"""W9: one SGD step of the LeNet model of Theano's tutorial (convolutional_mlp.py), float32.

    .venv/bin/python bench/bench_lenet.py [--reps 20] [--steps 3]
    TVM_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_lenet.py --per-core

Batch 128 of 1x28x28; conv 20 5x5 (valid, flipped filters) -> max-pool 2x2 (ignore_border)
-> tanh(+bias per channel); conv 50 5x5 -> max-pool 2x2 -> tanh; flatten 800 -> dense 500
tanh -> dense 10 softmax; mean negative log-likelihood of int32 labels; gradients of all 8
parameters; SGD lr 0.1 on shared variables (1.69 GFLOP per step).

tvmsym: the model as a Theano user writes it (``T.nnet.conv2d``, ``pool.pool_2d``).
numpy: im2col + matmul by hand, forward and backward (also the correctness reference: both
run ``--steps`` steps from the same parameters and must agree).  JAX where installed.
Reported: the step time of each and the ratio to numpy (goal <= 0.35x), each convolution
layer's forward / filter-gradient / input-gradient GFLOP/s next to the machine's float32
FMA peak (``bench/_peak.py``; goal: conv2 each >= 50%), and inference (forward only) at
batch 1 and 128.  Times are the best of ``--reps`` (the machine is shared).

The functions are generic in the batch (one build serves every batch size): the step and
each layer are also timed built with ``specialize=True`` (per-shape kernels), and the first
call at a new batch (100, 37, 1) is printed against the steady call at that batch, with
the kernels it built (convolution and pooling kernels: none).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _timing import samples_ns

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.tensor.nnet import abstract_conv
from tvmsym.tensor.signal import pool

B = 128
LR = np.float32(0.1)
SHAPES = [("W1", (20, 1, 5, 5)), ("b1", (20,)), ("W2", (50, 20, 5, 5)), ("b2", (50,)),
          ("W3", (800, 500)), ("b3", (500,)), ("W4", (500, 10)), ("b4", (10,))]
STEP_FLOP = 1.69e9


def init(seed=0, batch=B):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int32)
    params = []
    for name, shp in SHAPES:
        if name.startswith("b"):
            params.append(np.zeros(shp, np.float32))
        else:
            fan_in = int(np.prod(shp[1:])) if len(shp) == 4 else shp[0]
            bound = np.sqrt(6.0 / (fan_in + (shp[0] if len(shp) == 4 else shp[1])))
            params.append(rng.uniform(-bound, bound, shp).astype(np.float32))
    return x, y, params


# ----------------------------------------------------------------------------- tvmsym
def lenet_graph(x, params):
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    c1 = T.nnet.conv2d(x, W1, filter_shape=(20, 1, 5, 5))
    h1 = T.tanh(pool.pool_2d(c1, (2, 2), ignore_border=True) + b1.dimshuffle("x", 0, "x", "x"))
    c2 = T.nnet.conv2d(h1, W2, filter_shape=(50, 20, 5, 5))
    h2 = T.tanh(pool.pool_2d(c2, (2, 2), ignore_border=True) + b2.dimshuffle("x", 0, "x", "x"))
    h3 = T.tanh(T.dot(h2.flatten(2), W3) + b3)
    return T.nnet.softmax(T.dot(h3, W4) + b4)


def tvmsym_step(params, specialize=False):
    x = T.tensor4("x", dtype="float32")
    y = T.ivector("y")
    shared = [theano.shared(p.copy(), name=n) for p, (n, _) in zip(params, SHAPES)]
    p_y = lenet_graph(x, shared)
    cost = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    grads = theano.grad(cost, shared)
    step = theano.function([x, y], cost, updates=[(p, p - LR * g) for p, g in zip(shared, grads)],
                           specialize=specialize)
    predict = theano.function([x], p_y, specialize=specialize)
    return step, predict, shared


# ----------------------------------------------------------------------------- numpy
def im2col(x, k):
    """(N, C, H, W) -> (N, C*k*k, OH*OW) for a valid k x k window."""
    N, C, H, W = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))   # N C OH OW k k
    OH, OW = win.shape[2:4]
    return np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(N, C * k * k, OH * OW), OH, OW


def col2im(dcols, shape, k, OH, OW):
    N, C, H, W = shape
    d = dcols.reshape(N, C, k, k, OH, OW)
    dx = np.zeros(shape, np.float32)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + OH, j:j + OW] += d[:, :, i, j]
    return dx


def np_conv(x, W):
    """Valid convolution (flipped filters) by im2col + matmul; returns (out, cache)."""
    Co, C, k, _ = W.shape
    cols, OH, OW = im2col(x, k)
    Wf = W[:, :, ::-1, ::-1].reshape(Co, -1)
    out = np.matmul(Wf, cols).reshape(x.shape[0], Co, OH, OW)
    return out, (cols, Wf, x.shape, k, OH, OW)


def np_conv_back(dout, cache, need_dx=True):
    cols, Wf, shape, k, OH, OW = cache
    N, Co = dout.shape[:2]
    d2 = dout.reshape(N, Co, OH * OW)
    dWf = np.tensordot(d2, cols, axes=([0, 2], [0, 2]))
    dW = dWf.reshape(Co, shape[1], k, k)[:, :, ::-1, ::-1]
    dx = col2im(np.matmul(Wf.T, d2), shape, k, OH, OW) if need_dx else None
    return dx, np.ascontiguousarray(dW)


def np_pool(x):
    N, C, H, W = x.shape
    r = x.reshape(N, C, H // 2, 2, W // 2, 2)
    m = r.max(axis=(3, 5))
    return m, (r, m)


def np_pool_back(dm, cache):
    r, m = cache
    mask = r == m[:, :, :, None, :, None]          # every tied max gets the gradient (Theano)
    return (mask * dm[:, :, :, None, :, None]).reshape(r.shape[0], r.shape[1], r.shape[2] * 2, -1)


def numpy_forward(x, P):
    W1, b1, W2, b2, W3, b3, W4, b4 = P
    c1, k1 = np_conv(x, W1)
    p1, q1 = np_pool(c1)
    h1 = np.tanh(p1 + b1[None, :, None, None])
    c2, k2 = np_conv(h1, W2)
    p2, q2 = np_pool(c2)
    h2 = np.tanh(p2 + b2[None, :, None, None])
    f = h2.reshape(x.shape[0], -1)
    h3 = np.tanh(f @ W3 + b3)
    z = h3 @ W4 + b4
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p, (k1, q1, h1, k2, q2, h2, f, h3)


def numpy_step(x, y, P):
    W1, b1, W2, b2, W3, b3, W4, b4 = P
    p, (k1, q1, h1, k2, q2, h2, f, h3) = numpy_forward(x, P)
    n = x.shape[0]
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz /= np.float32(n)
    dW4, db4 = h3.T @ dz, dz.sum(0)
    dh3 = (dz @ W4.T) * (1 - h3 * h3)
    dW3, db3 = f.T @ dh3, dh3.sum(0)
    dh2 = ((dh3 @ W3.T).reshape(h2.shape)) * (1 - h2 * h2)
    db2 = dh2.sum((0, 2, 3))
    dh1, dW2 = np_conv_back(np_pool_back(dh2, q2), k2)
    dh1 = dh1 * (1 - h1 * h1)
    db1 = dh1.sum((0, 2, 3))
    _, dW1 = np_conv_back(np_pool_back(dh1, q1), k1, need_dx=False)
    for p_, g in zip(P, [dW1, db1, dW2, db2, dW3, db3, dW4, db4]):
        p_ -= LR * g.astype(np.float32)
    return loss


# ----------------------------------------------------------------------------- jax
def jax_step(params):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def model(P, x):
        W1, b1, W2, b2, W3, b3, W4, b4 = P

        def conv(a, W):
            return jax.lax.conv(a, W[:, :, ::-1, ::-1], (1, 1), "VALID")

        def mp(a):
            return jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h1 = jnp.tanh(mp(conv(x, W1)) + b1[None, :, None, None])
        h2 = jnp.tanh(mp(conv(h1, W2)) + b2[None, :, None, None])
        h3 = jnp.tanh(h2.reshape(x.shape[0], -1) @ W3 + b3)
        return jax.nn.log_softmax(h3 @ W4 + b4)

    def loss(P, x, y):
        return -jnp.mean(model(P, x)[jnp.arange(x.shape[0]), y])

    @jax.jit
    def step(P, x, y):
        l, g = jax.value_and_grad(loss)(P, x, y)
        return l, [p - LR * gi for p, gi in zip(P, g)]
    state = {"P": [jnp.asarray(p) for p in params]}

    def run(x, y):
        l, state["P"] = step(state["P"], x, y)
        return jax.block_until_ready(l)
    return run


# ----------------------------------------------------------------------------- per layer
def conv_layer_fns(N, C, H, Co, k, specialize=False):
    """tvmsym functions of one layer's forward, filter gradient and input gradient (generic
    in the batch, or ``specialize=True``: built for these shapes only)."""
    x = T.tensor4("x", dtype="float32")
    W = T.tensor4("W", dtype="float32")
    dy = T.tensor4("dy", dtype="float32")
    fwd = theano.function([x, W], T.nnet.conv2d(x, W, filter_shape=(Co, C, k, k)), specialize=specialize)
    gw = theano.function([x, dy], abstract_conv.conv2d_grad_wrt_weights(x, dy, (Co, C, k, k)),
                         specialize=specialize)
    gi = theano.function([W, dy], abstract_conv.conv2d_grad_wrt_inputs(dy, W, (N, C, H, H)),
                         specialize=specialize)
    return fwd, gw, gi


CPU_TIME = False        # --per-core: thread CPU time of single-threaded runs (a shared machine)


def best_ms(fn, reps):
    if not CPU_TIME:
        return min(samples_ns(fn, reps, warmup=2)) / 1e6
    fn()
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time_ns()
        fn()
        best = min(best, time.thread_time_ns() - t0)
    return best / 1e6


def best_ms_pool(fn, reps):
    """(best ms, threads it ran on, best ms on the whole pool or None): the pool size of each
    timed call as ``runtime/threads.py``'s load governor set it (it gives a core back to
    other processes while they keep one busy: then a 2-thread figure is a 1-thread run)."""
    from tvmsym.lowering.machine import host
    from tvmsym.runtime import threads
    if CPU_TIME:
        return best_ms(fn, reps), 1, None
    full = host().threads if threads.enabled() else None        # the pool as the process started it
    fn()
    fn()
    best, best_th, best_full = float("inf"), None, float("inf")
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        dt = (time.perf_counter_ns() - t0) / 1e6
        th = threads.pool_threads()
        if dt < best:
            best, best_th = dt, th
        if full is not None and th == full:
            best_full = min(best_full, dt)
    return best, best_th, (best_full if best_full < float("inf") else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--per-core", action="store_true",
                    help="one core each (TVM_NUM_THREADS=1, numpy's BLAS on one thread; set before "
                         "start), timed by thread CPU time against the one-core FMA peak: for a "
                         "machine other processes load")
    args = ap.parse_args()
    global CPU_TIME
    CPU_TIME = args.per_core
    if args.per_core and (os.environ.get("TVM_NUM_THREADS") != "1"
                          or os.environ.get("OPENBLAS_NUM_THREADS") != "1"):
        sys.exit("--per-core: run with TVM_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 in the environment")
    sys.path.insert(0, os.path.dirname(__file__))
    from _peak import fma_peak_gflops
    from tvmsym._tvm import vector_bytes
    import subprocess
    cpu = [ln.split(":", 1)[1].strip() for ln in subprocess.run(["lscpu"], capture_output=True, text=True)
           .stdout.splitlines() if ln.startswith("Model name")]
    print(f"CPU: {cpu[0] if cpu else '?'}; {os.cpu_count()} cores; vector bytes "
          f"{vector_bytes()}; load average {os.getloadavg()[0]:.1f} (other processes share the cores)")

    x, y, params = init()
    step, predict, shared = tvmsym_step(params)
    P = [p.copy() for p in params]
    for s in range(args.steps):           # correctness: the same steps, the same parameters
        lt = float(step(x, y))
        ln = float(numpy_step(x, y, P))
        errs = [float(np.max(np.abs(sh.get_value() - p)) / (np.max(np.abs(p)) + 1e-12))
                for sh, p in zip(shared, P)]
        print(f"step {s}: loss tvmsym {lt:.6f} numpy {ln:.6f}; max relative parameter "
              f"difference {max(errs):.2e}")
        assert abs(lt - ln) < 1e-3 * max(1, abs(ln)) and max(errs) < 1e-3, "tvmsym and numpy disagree"

    t_np = best_ms(lambda: numpy_step(x, y, P), args.reps)
    t_tv = best_ms(lambda: step(x, y), args.reps)
    sstep, _, _ = tvmsym_step(params, specialize=True)
    t_sp = best_ms(lambda: sstep(x, y), args.reps)
    print(f"\nLeNet SGD step, batch {B} ({STEP_FLOP / 1e9:.2f} GFLOP):")
    print(f"  numpy (im2col + matmul) {t_np:8.2f} ms   {STEP_FLOP / t_np / 1e6:6.1f} GFLOP/s")
    print(f"  tvmsym                  {t_tv:8.2f} ms   {STEP_FLOP / t_tv / 1e6:6.1f} GFLOP/s   "
          f"{t_tv / t_np:.2f}x numpy (goal <= 0.35x)")
    print(f"  tvmsym specialize=True  {t_sp:8.2f} ms   {STEP_FLOP / t_sp / 1e6:6.1f} GFLOP/s   "
          f"{t_sp / t_np:.2f}x numpy; generic / specialized {t_tv / t_sp:.2f}")
    new_batches(step, predict, x, y, args.reps)
    run_jax = jax_step(params)
    if run_jax is not None and args.per_core:
        print("  jax                     (not timed per core: XLA runs on its own threads)")
    elif run_jax is None:
        print("  jax                     not installed (skipped)")
    else:
        t_jx = best_ms(lambda: run_jax(x, y), args.reps)
        print(f"  jax jit                 {t_jx:8.2f} ms   {t_jx / t_np:.2f}x numpy")

    peak = fma_peak_gflops(threads=1, cpu_time=True) if args.per_core else fma_peak_gflops()
    peak_v = peak[0] if isinstance(peak, tuple) else peak
    print(f"\nper convolution layer (batch {B}); float32 FMA peak {peak_v:.0f} GFLOP/s "
          f"({'one core, ' if args.per_core else ''}bench/_peak.py; goal: conv2 each >= 50%)")
    rng = np.random.default_rng(1)
    for name, (N, C, H, Co, k) in [("conv1 1->20 28x28", (B, 1, 28, 20, 5)),
                                   ("conv2 20->50 12x12", (B, 20, 12, 50, 5))]:
        O = H - k + 1
        flop = 2.0 * N * Co * C * k * k * O * O
        fwd, gw, gi = conv_layer_fns(N, C, H, Co, k)
        sfns = dict(zip(("forward", "grad W", "grad input"), conv_layer_fns(N, C, H, Co, k, True)))
        xv = rng.standard_normal((N, C, H, H), dtype=np.float32)
        Wv = rng.standard_normal((Co, C, k, k), dtype=np.float32)
        dyv = rng.standard_normal((N, Co, O, O), dtype=np.float32)
        print(f"  {name} ({flop / 1e6:.0f} MFLOP):")
        for what, fn in (("forward", lambda: fwd(xv, Wv)), ("grad W", lambda: gw(xv, dyv)),
                         ("grad input", lambda: gi(Wv, dyv))):
            t, th, t_full = best_ms_pool(fn, max(args.reps, 40))
            g = flop / t / 1e6
            note = ""
            if t_full is not None and t_full > t:
                note = f" (best on the whole pool: {t_full:.2f} ms)"
            elif t_full is None and th is not None and not args.per_core:
                one = peak_v / (os.cpu_count() or 1) if peak_v else None
                per = f"; {100 * g / one:.0f}% of one core's peak" if one and th == 1 else ""
                note = f" (the load governor kept the pool smaller: other processes busy{per})"
            pct = f" ({100 * g / peak_v:3.0f}% of peak)" if peak_v else ""
            thr = "" if th is None else f" on {th} thread{'s' if th > 1 else ''}"
            sargs = {"forward": (xv, Wv), "grad W": (xv, dyv), "grad input": (Wv, dyv)}[what]
            ts = best_ms_pool(lambda: sfns[what](*sargs), max(args.reps, 40))[0]
            print(f"    {what:10s} {t:6.2f} ms {g:6.1f} GFLOP/s{pct}{thr}{note}; "
                  f"specialize=True {ts:6.2f} ms (generic / specialized {t / ts:.2f})")

    print("\ninference (forward only):")
    for nb in (1, B):
        xb = x[:nb].copy()
        t_np = best_ms(lambda: numpy_forward(xb, P), args.reps)
        t_tv = best_ms(lambda: predict(xb), args.reps)
        np.testing.assert_allclose(predict(xb), numpy_forward(xb, [s.get_value() for s in shared])[0],
                                   rtol=1e-3, atol=1e-5)
        print(f"  batch {nb:3d}: numpy {t_np:8.3f} ms   tvmsym {t_tv:8.3f} ms   {t_tv / t_np:.2f}x numpy "
              "(goal < 1x)")


def new_batches(step, predict, x, y, reps):
    """The first call at a batch size the functions never ran (its shape inference and
    buffers; any kernel built: ``executor.build_stats``) against the steady call at that
    size.  The convolution and pooling kernels are generic in the batch
    (lowering/generic_conv_decl.py): they are never built again."""
    from tvmsym.runtime import executor

    def first(fn, *a):
        k0 = executor.build_stats["kernels"]
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(*a)
        t, c = time.perf_counter() - t0, time.thread_time() - c0
        built = executor.build_stats["kernels"] - k0
        names = []
        if built:       # the kernels that build made (its own, not the ones it borrowed)
            b = list(fn._builds.values())[-1]
            new = set(b.kernel_names) - set(getattr(b, "kernel_src", {}))
            names = sorted({type(r.step.node.op).__name__ for r in b.steps
                            if r.step is not None and getattr(r, "name", None) in new})
        return 1e3 * (c if CPU_TIME else t), built, names
    print(f"\nnew batch sizes (first call vs steady; built at batch {B}):")
    for nb in (100, 37, 1):
        xb, yb = x[:nb].copy(), y[:nb].copy()
        for what, fn, a in (("step", step, (xb, yb)), ("predict", predict, (xb,))):
            t1, built, names = first(fn, *a)
            ts = best_ms(lambda: fn(*a), reps)
            conv = [n for n in names if "Conv" in n or "Corr" in n or "Pool" in n]
            print(f"  batch {nb:3d} {what:8s} first {t1:8.2f} ms  steady {ts:7.2f} ms  "
                  f"({t1 / ts:5.1f}x)  kernels built {built}"
                  + (f" ({', '.join(names)}; convolution/pooling: {len(conv)})" if built else ""))


if __name__ == "__main__":
    main()
