"""Data-parallel MLP training step: 1 rank x 2 threads vs 2 ranks x 1 thread (MPI).

    .venv/bin/python bench/bench_distributed.py [--steps 300]

The step is bench_mlp.py's (784-256-10 MLP, tanh, softmax cross-entropy, SGD, float32)
at a fixed GLOBAL batch of 128 rows:
- 1 rank x 2 threads: the plain step on all 128 rows, TVM's pool on both cores;
- 2 ranks x 1 thread (``mpiexec -n 2``): each rank the step on its 64 rows, the four
  gradients averaged by ``dist.allreduce(g, "mean")`` in the graph, which the
  ``collectives`` rewrite sends as ONE message of 814 KB per step;
- the same without bucketing (``distributed_bucketing=False``): four messages per step.
Each configuration runs in its own processes (this script runs itself as the worker);
it prints steps per second, the fraction of the wall time a rank spends inside MPI
(waiting for the other rank included), and the messages and bytes per step per rank.
Both runs start from the same weights and data; the final weights are compared.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def worker(steps, warmup):
    sys.path.insert(0, str(HERE))
    import bench_mlp as M

    import tvmsym as theano
    import tvmsym.tensor as T
    from tvmsym import distributed as dist

    x, onehot, params = M.init()
    R, N = dist.rank(), dist.size()
    xs, ys = dist.shard((x, onehot))
    xv, yv = T.fmatrix("x"), T.fmatrix("y")
    shared = [theano.shared(p.copy(), name=n) for p, n in zip(params, ["W1", "b1", "W2", "b2"])]
    W1, b1, W2, b2 = shared
    loss = M.softmax_xent(T.dot(T.tanh(T.dot(xv, W1) + b1), W2) + b2, yv)
    grads = theano.grad(loss, shared)
    if N > 1:
        grads = [dist.allreduce(g, "mean") for g in grads]
    step = theano.function([xv, yv], loss, updates=[(p, p - M.LR * g) for p, g in zip(shared, grads)])
    n_ar = theano.printing.debugprint(step, file="str").count("AllReduce{")
    for _ in range(warmup):
        step(xs, ys)
    dist.barrier()
    dist.reset_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(xs, ys)
    dist.barrier()
    wall = time.perf_counter() - t0
    st = dist.stats()
    res = dict(rank=R, size=N, rows=len(xs), steps=steps, wall=wall, comm=st["seconds"],
               messages=st["messages"] / steps, bytes=st["bytes"] / steps,
               meta=st["meta_messages"] / steps, allreduce_nodes=n_ar,
               w1=float(np.abs(W1.get_value()).sum()))
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    sys.stdout.flush()


def launch(n, threads, steps, warmup, flags=""):
    env = dict(os.environ, TVM_NUM_THREADS=str(threads), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    if flags:
        env["TVMSYM_FLAGS"] = ",".join(f for f in (os.environ.get("TVMSYM_FLAGS", ""), flags) if f)
    cmd = [sys.executable, __file__, "--worker", "--steps", str(steps), "--warmup", str(warmup)]
    if n > 1:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
        if mpiexec is None:
            sys.exit("mpiexec not found: pip install '.[mpi]'")
        cmd = [mpiexec, "-n", str(n)] + cmd
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line.split("RESULT ", 1)[1]) for line in out.splitlines() if "RESULT " in line]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.steps, args.warmup)
        return
    rows = []
    for n, threads, flags in [(1, 2, ""), (2, 1, ""), (2, 1, "distributed_bucketing=False")]:
        res = launch(n, threads, args.steps, args.warmup, flags)
        wall = max(r["wall"] for r in res)
        rows.append((n, threads, res, wall, flags))
    print("MLP 784-256-10 SGD step, global batch 128, float32, "
          f"{args.steps} steps after {args.warmup} warm-up")
    print(f"  {'config':<34}{'steps/s':>9}{'ms/step':>9}{'in MPI':>8}{'msgs/step':>11}"
          f"{'bytes/step':>12}{'checks/step':>12}{'AllReduce nodes':>17}")
    for n, threads, res, wall, flags in rows:
        comm = max(r["comm"] for r in res) / wall
        r0 = res[0]
        name = f"{n} rank x {threads} thread" + (", no buckets" if flags else "")
        print(f"  {name:<34}{args.steps / wall:9.1f}{wall / args.steps * 1e3:9.3f}"
              f"{comm:8.1%}{r0['messages']:11g}{r0['bytes']:12.0f}{r0['meta']:12g}"
              f"{r0['allreduce_nodes']:17d}")
    w1 = [r[2][0]["w1"] for r in rows]
    print(f"  final sum|W1|: {w1[0]:.6f} (1 rank) vs {w1[1]:.6f} (2 ranks), rel diff "
          f"{abs(w1[0] - w1[1]) / abs(w1[0]):.1e}")
    nbytes, msgs = rows[1][2][0]["bytes"], rows[2][2][0]["messages"]
    print("  On a network (a model, not measured here): a ring allreduce of B bytes over n ranks sends "
          "2(n-1)/n B per rank")
    for n in (2, 8):
        per = 2 * (n - 1) / n * nbytes
        print(f"    n={n}: {per / 1e6:.2f} MB per rank per step = {per / 1.25e9 * 1e3:.2f} ms at 10 Gb/s, "
              f"{per / 12.5e9 * 1e3:.3f} ms at 100 Gb/s, plus 2(n-1) = {2 * (n - 1)} latencies per message "
              "(~2-50 us each)")
    print(f"    bucketing: 1 message per step instead of {msgs:g} (one per parameter), each shape check "
          "1 more small message (distributed_check_meta=False drops it)")


if __name__ == "__main__":
    main()
