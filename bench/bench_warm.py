"""W8: the MLP training step of bench/bench_mlp.py compiled in a NEW process, cold and warm,
beside JAX in the same run.

    .venv/bin/python bench/bench_warm.py [--reps 3]

Each figure is a fresh Python process (the best of ``--reps``):

* cold: an empty compile directory (tvmsym: ``compiledir``; JAX: its persistent compilation
  cache directory, ``jax_compilation_cache_dir``), warm: the one the cold run filled;
* whole process: wall time from just before the process is started to its first result,
  checked against numpy's step (the same loss);
* function() -> first result: the model's compile call plus its first call;
* tvmsym's stages: import (numpy, tvmsym), function() (graph copy + rewrites), then the first
  call's import of TVM (tvmsym._tvm: the compiler, cold only), lower / schedule / build
  (TVM compile + export + load, on every core: tvmsym/_parallel_build.py) when cold, or load
  (the cache entry: step list and kernel library, runtime/warm.py) when warm, and whether
  ``tvm`` was imported at all.

Goals (issue 12): whole process <= 0.8x JAX cold and <= 0.4x JAX warm; function() -> first
result warm <= 1.0x JAX.  The children run with byte-code caching on (as an installed
package does), after one run that writes it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_TVMSYM = r"""
import time, sys, json
t_imp0 = time.perf_counter()
import numpy as np
import tvmsym
t_imp1 = time.perf_counter()
sys.path.insert(0, %(here)r)
import bench_mlp as b
x, y, p = b.init()
want = b.numpy_step(x, y, [a.copy() for a in p])
t0 = time.perf_counter()
step, _ = b.tvmsym_step(p)
t1 = time.perf_counter()
loss = float(step(x, y))
t2 = time.perf_counter()
ok = abs(loss - float(want)) <= 1e-4 * max(1.0, abs(float(want)))
t_end = time.time()
from tvmsym.runtime import warm
bld = step._last
times = dict(getattr(bld, "times", {}))
print("RESULT " + json.dumps({"end": t_end, "ok": ok, "import": t_imp1 - t_imp0,
      "function": t1 - t0, "rewrite": step.rewrite_time, "first_call": t2 - t1,
      "lower": times.get("lower", 0.0), "schedule": times.get("schedule", 0.0),
      "build": times.get("compile", 0.0), "load": warm.stats["load_s"],
      "hit": warm.stats["hits"] > 0, "tvm_imported": "tvm" in sys.modules,
      "import_tvm": getattr(sys.modules.get("tvmsym._tvm"), "import_seconds", 0.0)}))
"""

_JAX = r"""
import time, sys, json
t_imp0 = time.perf_counter()
import numpy as np
try:
    import jax
except ImportError:
    print("RESULT " + json.dumps({"missing": True})); sys.exit(0)
import jax.numpy as jnp
jax.config.update("jax_compilation_cache_dir", %(cache)r)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
t_imp1 = time.perf_counter()
sys.path.insert(0, %(here)r)
import bench_mlp as b
x, y, p = b.init()
want = b.numpy_step(x, y, [a.copy() for a in p])
t0 = time.perf_counter()

def loss_fn(P, x, y):
    W1, b1, W2, b2 = P
    h = jnp.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    return -(jax.nn.log_softmax(z) * y).sum(axis=1).mean()

@jax.jit
def step(P, x, y):
    l, g = jax.value_and_grad(loss_fn)(P, x, y)
    return l, [w - b.LR * gw for w, gw in zip(P, g)]

l, newp = step([jnp.asarray(a) for a in p], x, y)
loss = float(jax.block_until_ready(l))
t2 = time.perf_counter()
ok = abs(loss - float(want)) <= 1e-4 * max(1.0, abs(float(want)))
print("RESULT " + json.dumps({"end": time.time(), "ok": ok, "import": t_imp1 - t_imp0,
      "function": 0.0, "first_call": t2 - t0}))
"""


def _child(code, env):
    start = time.time()
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=900)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    r = json.loads(p.stdout.split("RESULT ", 1)[1].splitlines()[0])
    if not r.get("missing"):
        r["whole"] = r["end"] - start
    return r


def _env(**extra):
    env = dict(os.environ, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)        # as an installed package: byte code cached
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TVM_NUM_THREADS", env.get("TVM_NUM_THREADS", str(os.cpu_count() or 1)))
    return env


def _best(runs, key):
    return min(r[key] for r in runs)


def run_tvmsym(reps):
    cold, warm = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            env = _env(TVMSYM_FLAGS=f"compiledir={d}")
            code = _TVMSYM % {"here": HERE}
            cold.append(_child(code, env))
            warm.append(_child(code, env))
    return cold, warm


def run_jax(reps):
    cold, warm = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            code = _JAX % {"here": HERE, "cache": d}
            r = _child(code, _env())
            if r.get("missing"):
                return None, None
            cold.append(r)
            warm.append(_child(code, _env()))
    return cold, warm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="processes per figure (best is kept)")
    report(ap.parse_args().reps)


def report(reps):
    """Run W8 (``reps`` processes per figure) and print every figure (bench_compile.py too)."""
    # byte code of tvmsym and the bench helpers written once (a pip install has it): one
    # untimed cold run
    with tempfile.TemporaryDirectory() as d:
        _child(_TVMSYM % {"here": HERE}, _env(TVMSYM_FLAGS=f"compiledir={d}"))
    tc, tw = run_tvmsym(reps)
    jc, jw = run_jax(reps)
    ok = all(r["ok"] for r in tc + tw + (jc or []) + (jw or []))
    print(f"W8: MLP 784-256-10 SGD step (bench_mlp.py) compiled in a new process, best of "
          f"{reps}, seconds; results verified against numpy: {ok}")
    print(f"{'':28s} {'cold':>8s} {'warm':>8s}")
    print(f"{'tvmsym whole process':28s} {_best(tc, 'whole'):8.3f} {_best(tw, 'whole'):8.3f}")
    print(f"{'tvmsym function()->result':28s} {_best(tc, 'function') + _best(tc, 'first_call'):8.3f} "
          f"{min(r['function'] + r['first_call'] for r in tw):8.3f}")
    if jc is None:
        print("jax: not installed")
    else:
        print(f"{'jax whole process':28s} {_best(jc, 'whole'):8.3f} {_best(jw, 'whole'):8.3f}")
        print(f"{'jax jit()->result':28s} {_best(jc, 'first_call'):8.3f} {_best(jw, 'first_call'):8.3f}")
        wc, ww = _best(tc, "whole") / _best(jc, "whole"), _best(tw, "whole") / _best(jw, "whole")
        fw = min(r['function'] + r['first_call'] for r in tw) / _best(jw, "first_call")
        print(f"ratios tvmsym/jax: whole cold {wc:.2f}x (goal <= 0.8)  whole warm {ww:.2f}x "
              f"(goal <= 0.4)  function()->result warm {fw:.2f}x (goal <= 1.0)")
    print("tvmsym stages (best run's, seconds):")
    for name, runs in (("cold", tc), ("warm", tw)):
        r = min(runs, key=lambda r: r["whole"])
        print(f"  {name}: import {r['import']:.3f}  function() {r['function']:.3f} (rewrite "
              f"{r['rewrite']:.3f})  first call {r['first_call']:.3f} = import tvm "
              f"{r.get('import_tvm', 0.0):.3f} + lower {r['lower']:.3f} + schedule "
              f"{r['schedule']:.3f} + build {r['build']:.3f} + load {r['load']:.3f} + rest; "
              f"cache hit {r['hit']}, tvm imported {r['tvm_imported']}")
    if jc is not None:
        for name, runs in (("cold", jc), ("warm", jw)):
            r = min(runs, key=lambda r: r["whole"])
            print(f"  jax {name}: import {r['import']:.3f}  jit()+first call {r['first_call']:.3f}")


if __name__ == "__main__":
    main()
