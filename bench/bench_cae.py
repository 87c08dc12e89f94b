"""Contractive autoencoder (Theano's cA tutorial): one SGD step, 784-500, batch 20, float32.

    .venv/bin/python bench/bench_cae.py [--reps 30] [--threads 1]

tvmsym: the model as the tutorial writes it (shared W, b_hid, b_vis; a sigmoid hidden layer;
cross-entropy reconstruction; the contraction term ``T.sum(J ** 2) // n`` with
``J = reshape(h * (1 - h), (n, 1, 500)) * reshape(W, (1, 784, 500))``, a 20x784x500 array;
cost = mean(L_rec) + 0.1 * mean(L_jacob); ``grad`` and SGD updates, lr 0.01).  The floor
division makes the gradient of the contraction term zero: with symbolic zeros nothing of it
runs backwards (before: ``Alloc(0)`` carried through ``J ** 2`` and two reshapes).

numpy: the same step written by hand (forward including J, backward through the
reconstruction only), updating its parameters in place; it is also the reference the
script checks tvmsym against.  Times are per core: ``time.thread_time()`` around each call
with TVM and OpenBLAS on ``--threads`` threads (default 1, set before they load), the best
of ``--reps``; wall-clock best is printed too.  JAX (optional peer) runs the same step jitted.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv():
    n = "1"
    if "--threads" in sys.argv:
        n = sys.argv[sys.argv.index("--threads") + 1]
    for k in ("TVM_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, n)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=" + n)


_threads_from_argv()

import numpy as np  # noqa: E402

import tvmsym as theano  # noqa: E402
import tvmsym.tensor as T  # noqa: E402

NB, NV, NH = 20, 784, 500
LEVEL, LR = 0.1, 0.01


def init(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (NB, NV)).astype(np.float32)           # MNIST-like pixels in [0, 1]
    bound = 4 * np.sqrt(6.0 / (NH + NV))
    W = rng.uniform(-bound, bound, (NV, NH)).astype(np.float32)
    return x, [W, np.zeros(NH, np.float32), np.zeros(NV, np.float32)]


def tvmsym_step(params):
    x = T.fmatrix("x")
    W, bh, bv = [theano.shared(p.copy(), name=n) for p, n in zip(params, ["W", "b", "b_prime"])]
    y = T.nnet.sigmoid(T.dot(x, W) + bh)
    z = T.nnet.sigmoid(T.dot(y, W.T) + bv)
    J = T.reshape(y * (1 - y), (NB, 1, NH)) * T.reshape(W, (1, NV, NH))
    L_rec = -T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1)
    L_jacob = T.sum(J ** 2) // NB
    cost = T.mean(L_rec) + LEVEL * T.mean(L_jacob)
    shared = [W, bh, bv]
    grads = T.grad(cost, shared)
    step = theano.function([x], cost, updates=[(p, p - LR * g) for p, g in zip(shared, grads)])
    return step, shared


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_step(x, P):
    W, bh, bv = P
    y = _sigmoid(x @ W + bh)
    z = _sigmoid(y @ W.T + bv)
    L_rec = -np.sum(x * np.log(z) + (1 - x) * np.log(1 - z), axis=1)
    J = (y * (1 - y)).reshape(NB, 1, NH) * W.reshape(1, NV, NH)
    L_jacob = np.floor(np.sum(J ** 2) / np.float32(NB))
    cost = L_rec.mean() + np.float32(LEVEL) * L_jacob
    d2 = (z - x) * np.float32(1.0 / NB)                 # d cost / d (y W^T + bv)
    dh = (d2 @ W) * y * (1 - y)                          # d cost / d (x W + bh)
    W -= np.float32(LR) * (x.T @ dh + d2.T @ y)
    bh -= np.float32(LR) * dh.sum(axis=0)
    bv -= np.float32(LR) * d2.sum(axis=0)
    return cost


def jax_step():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def cost_fn(P, x):
        W, bh, bv = P
        y = jax.nn.sigmoid(x @ W + bh)
        z = jax.nn.sigmoid(y @ W.T + bv)
        L_rec = -jnp.sum(x * jnp.log(z) + (1 - x) * jnp.log(1 - z), axis=1)
        J = (y * (1 - y)).reshape(NB, 1, NH) * W.reshape(1, NV, NH)
        return L_rec.mean() + LEVEL * jnp.floor(jnp.sum(J ** 2) / NB)

    @jax.jit
    def step(P, x):
        c, g = jax.value_and_grad(cost_fn)(P, x)
        return c, [p - LR * gp for p, gp in zip(P, g)]
    return step


def best(fn, reps):
    """(best thread CPU seconds, best wall seconds) over ``reps`` calls."""
    for _ in range(3):
        fn()
    cpu, wall = [], []
    for _ in range(reps):
        c0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


def check(step, shared, x, params, n=3):
    P = [p.copy() for p in params]
    for s, p in zip(shared, params):
        s.set_value(p)
    for _ in range(n):
        np.testing.assert_allclose(step(x), numpy_step(x, P), rtol=1e-4)
    for s, p in zip(shared, P):
        np.testing.assert_allclose(s.get_value(), p, rtol=1e-3, atol=1e-5)


def kernel_counts(step):
    """(compiled steps, of which kernels) when the build exposes them, else None."""
    plan = getattr(step, "_plan", None)
    steps = getattr(plan, "steps", None)
    if steps is None:
        return None
    return len(steps), sum(1 for s in steps if getattr(s, "kind", None) == "tvm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", default="1")
    args = ap.parse_args()
    x, params = init()
    t0 = time.perf_counter()
    step, shared = tvmsym_step(params)
    step(x)
    compile_s = time.perf_counter() - t0
    check(step, shared, x, params)
    P = [p.copy() for p in params]
    nodes = step.maker.fgraph.toposort()
    allocs = sum(1 for n in nodes if type(n.op).__name__ == "Alloc")
    big = sum(1 for n in nodes for o in n.outputs if o.ndim == 3)
    t_np, t_tv = [], []
    for _ in range(3):                   # interleaved: both sides see the same machine state
        t_np.append(best(lambda: numpy_step(x, P), args.reps // 3 + 1))
        t_tv.append(best(lambda: step(x), args.reps // 3 + 1))
    np_cpu, np_wall = min(t[0] for t in t_np), min(t[1] for t in t_np)
    tv_cpu, tv_wall = min(t[0] for t in t_tv), min(t[1] for t in t_tv)
    print(f"cA 784-{NH} SGD step, batch {NB}, contraction {LEVEL}, float32, threads {args.threads}")
    print(f"  numpy (hand-written)   cpu {np_cpu * 1e3:8.2f} ms   wall {np_wall * 1e3:8.2f} ms")
    print(f"  tvmsym                 cpu {tv_cpu * 1e3:8.2f} ms   wall {tv_wall * 1e3:8.2f} ms"
          f"   (compile {compile_s:.1f} s)")
    print(f"  ratio vs numpy         cpu {tv_cpu / np_cpu:8.2f}x      wall {tv_wall / np_wall:8.2f}x")
    kc = kernel_counts(step)
    print(f"  tvmsym graph: {len(nodes)} nodes, {allocs} Alloc, {big} nodes with a 3-d output"
          + (f", {kc[0]} steps ({kc[1]} kernels)" if kc else ""))
    js = jax_step()
    if js is None:
        print("  jax: not installed")
        return
    import jax.numpy as jnp
    PJ, xj = [jnp.asarray(p) for p in params], jnp.asarray(x)

    def run_jax():
        c, _ = js(PJ, xj)
        c.block_until_ready()
    j_cpu, j_wall = best(run_jax, args.reps)
    print(f"  jax (jit)              cpu {j_cpu * 1e3:8.2f} ms   wall {j_wall * 1e3:8.2f} ms"
          f"   ({j_wall / np_wall:.2f}x numpy wall; its threads are not in cpu)")


if __name__ == "__main__":
    main()
