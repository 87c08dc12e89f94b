"""W8: compile time against graph size, and the compile of W6 (the MLP SGD step).

    .venv/bin/python bench/bench_compile.py [--sizes 250,500,1000,2000,4000] [--no-build]

For each graph family and size (Apply nodes in the user's graph) it prints the time of
``function()`` (graph copy + rewrites), the seconds of each rewrite stage, and the first
call's build time (lowering + TVM compile of every kernel, with the kernel disk cache
off, so it is what a new graph costs), the kernels built and the build cost per kernel
(wall and process CPU: the kernels are compiled on every core, tvmsym/_parallel_build.py).
Families:

* ``chain``:  one long elementwise chain ``z = tanh(z) * 0.5 + y``
* ``wide``:   a sum of many small terms ``exp(x * c_k) * y``
* ``reduce``: many small reductions ``(x * c_k).sum(axis=1)`` added up
* ``mlp``:    the gradient of a deep tanh MLP (dot, bias, tanh per layer) and SGD updates

Then W6 (bench/bench_mlp.py's step) compiled in new processes: cold (empty compile
directory) and warm (its kernels on disk), next to the peers' figures from
/work/shared/PERF_NOTES.md (measured there, they cannot run here).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.symbolic.graph import ancestors

# W8 of /work/shared/PERF_NOTES.md: compile W6, cold / warm (new process), seconds
PEERS = [("Theano 1.0.5 C", 8.3, 1.9), ("PyTensor 3.0 C", 14.1, 1.3),
         ("PyTensor Numba", 13.8, 0.7), ("JAX 0.10 jit", 0.30, 0.08),
         ("hand-written TVM TE", 0.37, None)]


def n_nodes(outputs):
    return len({v.owner for v in ancestors(outputs) if v.owner is not None})


def chain(k):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    z = x
    for _ in range(k):
        z = T.tanh(z) * 0.5 + y
    return [x, y], [z], {}


def wide(k):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    terms = [T.exp(x * np.float32(1.0 / (j + 1))) * y for j in range(k)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return [x, y], [total], {}


def reduce_(k):
    x = T.fmatrix("x")
    total = None
    for j in range(k):
        r = (x * np.float32(j + 1)).sum(axis=1)
        total = r if total is None else total + r
    return [x], [total], {}


def mlp(k):
    """k tanh layers of width 16, softmax-free squared loss, SGD updates of every layer."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    rng = np.random.default_rng(0)
    params, h = [], x
    for j in range(k):
        W = theano.shared((rng.standard_normal((16, 16)) * 0.3).astype("float32"), name=f"W{j}")
        b = theano.shared(np.zeros(16, "float32"), name=f"b{j}")
        params += [W, b]
        h = T.tanh(T.dot(h, W) + b)
    loss = ((h - y) ** 2).mean()
    grads = theano.grad(loss, params)
    updates = [(p, p - np.float32(0.01) * g) for p, g in zip(params, grads)]
    return [x, y], [loss], {"updates": updates}


FAMILIES = {"chain": chain, "wide": wide, "reduce": reduce_, "mlp": mlp}


def sized(family, target):
    """The family's graph with about ``target`` nodes (its size parameter found by scaling)."""
    make = FAMILIES[family]
    size = lambda k: _size(make(k))                                 # noqa: E731
    base, per = size(4), (size(8) - size(4)) / 4.0
    k = max(1, int(round(4 + (target - base) / per)))
    return (*make(k), _size(make(k)))


def _size(made):
    ins, outs, kw = made
    return n_nodes(outs + [u for _, u in kw.get("updates", [])])


def measure(family, target, build):
    ins, outs, kw, n = sized(family, target)
    t0 = time.perf_counter()
    f = theano.function(ins, outs, **kw)
    t_fn = time.perf_counter() - t0
    stages = getattr(f.maker.fgraph, "stage_times", {})
    t_build = c_build = None
    kernels = 0
    if build:
        from tvmsym.runtime.executor import build_stats
        args = [np.random.default_rng(1).standard_normal((8, 16)).astype("float32") for _ in ins]
        k0 = build_stats["kernels"]
        with theano.config.change_flags(cache=False):
            t0, c0 = time.perf_counter(), time.process_time()
            f(*args)
            t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
        kernels = build_stats["kernels"] - k0       # kernels really built (lowered + compiled)
    return n, t_fn, stages, t_build, c_build, kernels


def w6_in_new_process(compiledir):
    """Seconds of W6's function() + first call in a new process using ``compiledir``."""
    code = ("import time, sys; sys.path.insert(0, %r); import bench_mlp as b; "
            "x, y, p = b.init(); t0 = time.perf_counter(); step, _ = b.tvmsym_step(p); step(x, y); "
            "print(time.perf_counter() - t0)") % os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="250,500,1000,2000,4000")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--no-build", action="store_true", help="skip the first-call builds")
    ap.add_argument("--no-w6", action="store_true", help="skip W6 in new processes")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    measure("chain", 20, not args.no_build)    # warm-up: imports (TVM's too), first-use caches
    from tvmsym import _parallel_build
    print("compile time vs graph size (function(): copy + rewrites; build: first call, "
          "no kernel cache: lower + schedule + compile of every kernel; per kernel: build / "
          "kernels built, wall and process CPU; goal <= 15 ms wall per kernel; build workers "
          f"{_parallel_build.workers()})")
    print(f"{'graph':>8} {'nodes':>6} {'function':>9} {'build':>8} {'kernels':>8} "
          f"{'ms/kernel':>10} {'cpu ms/k':>9}   slowest rewrite stages")
    per_kernel = []
    for fam in args.families.split(","):
        for size in sizes:
            n, t_fn, stages, t_build, c_build, kernels = measure(fam, size, not args.no_build)
            top = sorted(stages.items(), key=lambda kv: -kv[1])[:4]
            st = ", ".join(f"{k} {v:.3f}" for k, v in top)
            if t_build is not None:
                b = f"{t_build:8.2f}"
                pk = f"{1e3 * t_build / max(kernels, 1):10.1f} {1e3 * c_build / max(kernels, 1):9.1f}"
                per_kernel.append((fam, 1e3 * t_build / max(kernels, 1)))
            else:
                b, pk = f"{'-':>8}", f"{'-':>10} {'-':>9}"
            print(f"{fam:>8} {n:6d} {t_fn:9.3f} {b} {kernels:8d} {pk}   {st}", flush=True)
    if per_kernel:
        worst = max(per_kernel, key=lambda t: t[1])
        print(f"build cost per kernel: worst {worst[1]:.1f} ms ({worst[0]}), median "
              f"{sorted(v for _, v in per_kernel)[len(per_kernel) // 2]:.1f} ms (goal <= 15)")
    if args.no_w6:
        return
    with tempfile.TemporaryDirectory() as d:
        cold = w6_in_new_process(d)
        warm = w6_in_new_process(d)
    print("\nW8: compile W6 (MLP 784-256-10 SGD step) in a new process, seconds "
          "(tvmsym: function() + first call, after import)")
    print(f"  {'tvmsym (this run)':<22} cold {cold:6.2f}   warm {warm:6.2f}")
    for name, c, w in PEERS:
        ws = f"{w:6.2f}" if w is not None else "    - "
        print(f"  {name:<22} cold {c:6.2f}   warm {ws}   (PERF_NOTES.md)")
    # W8 beside JAX in this run: whole processes, stages (bench_warm.py)
    print()
    import bench_warm
    bench_warm.report(reps=1)


if __name__ == "__main__":
    main()
