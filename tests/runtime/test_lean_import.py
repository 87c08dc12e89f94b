"""tvmsym's lean ``import tvm`` (tvmsym/_fastimport.py ``lean_import``): TVM's device
backends deferred until a cuda target is made.  The llvm machine
code is the same as with the stock import, and once the backends are loaded the process
has the same global functions and backend modules as a stock ``import tvm``; the packages
imported lazily (Relax, meta_schedule, dlight) stay unrun through llvm builds and are whole
at first use."""
import json
import os
import subprocess
import sys

_PROBE = """
import json, sys
import numpy as np
import tvmsym, tvmsym.tensor as T
from tvmsym import _tvm, _fastimport
import tvm_ffi
from tvm_ffi import registry
out = {"deferred": _fastimport.backends_deferred(),
       "cuda_hooks_before": __import__("tvm.backend.loader").backend.loader.is_loaded("cuda"),
       "disco": _tvm.tvm.runtime.disco is None}
x, y = T.fmatrix("x"), T.fmatrix("y")
w = T.fmatrix("w")
fs = [tvmsym.function([x, y], T.exp(x) * y + T.tanh(y)),
      tvmsym.function([x], x.sum(axis=1) + x.max(axis=1)),
      tvmsym.function([x, w], T.nnet.softmax(T.dot(x, w)))]
a = np.random.default_rng(0).standard_normal((7, 13)).astype("float32")
sq = np.random.default_rng(1).standard_normal((13, 13)).astype("float32")
fs[0](a, a); fs[1](a); fs[2](a, sq)
out["asm"] = [f._last.mod and f.as_text("asm") for f in fs]
out["lazy_after_llvm"] = sorted(n for n in _fastimport.LAZY_MODULES
                                if type(sys.modules.get(n)).__name__ == "_LazyModule")
from tvmsym.targets import get_target
get_target("cuda")          # loads the deferred backends
out["deferred_after"] = _fastimport.backends_deferred()
functor = registry.get_global_func("ffi.FunctionListGlobalNamesFunctor")()
out["globals"] = sorted(functor(i) for i in range(functor(-1)))
out["backend_modules"] = sorted(m for m in sys.modules if m.startswith("tvm.backend."))
out["cuda_text"] = "__global__" in tvmsym.function([x, y], T.exp(x) + y, target="cuda").as_text("cuda")
# the lazy packages load at first use, with everything they register
import tvm
out["relax_function"] = tvm.relax.Function.__name__
out["meta_schedule"] = tvm.s_tir.meta_schedule.TuneContext.__name__
out["dlight"] = tvm.s_tir.dlight.gpu.Matmul.__name__
functor = registry.get_global_func("ffi.FunctionListGlobalNamesFunctor")()   # (a snapshot)
out["globals_all"] = sorted(functor(i) for i in range(functor(-1)))
print("RESULT " + json.dumps(out))
"""


def _probe(stock):
    env = dict(os.environ)
    env["TVMSYM_FLAGS"] = "cache=False"
    if stock:
        env["TVM_DEVICE_BACKEND_AUTOLOAD"] = "1"    # set by the user: TVM's own import
        env["TVMSYM_STOCK_TVM_IMPORT"] = "1"
    else:
        env.pop("TVM_DEVICE_BACKEND_AUTOLOAD", None)
    r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.split("RESULT ", 1)[1])


def test_lean_import_defers_backends_and_builds_the_same_code():
    lean, stock = _probe(False), _probe(True)
    assert lean["deferred"] and not lean["cuda_hooks_before"]
    assert not stock["deferred"] and stock["cuda_hooks_before"]
    # disco: unavailable during import either way (TVM's own try/except)
    assert lean["disco"] and stock["disco"]
    # same llvm machine code (a fused elementwise kernel with libmvec calls, sibling
    # reductions, a product + softmax)
    assert all(lean["asm"]) and lean["asm"] == stock["asm"]
    # after the first cuda target: the backends are loaded, as a stock import has them
    assert not lean["deferred_after"]
    # (the global functions the lazy packages register from Python come at their first use)
    assert set(lean["globals"]) <= set(stock["globals"])
    assert lean["backend_modules"] == stock["backend_modules"]
    assert lean["cuda_text"] and stock["cuda_text"]
    # Relax, meta_schedule and dlight: not run by llvm builds; whole once used
    assert lean["lazy_after_llvm"] == ["tvm.relax", "tvm.s_tir.dlight", "tvm.s_tir.meta_schedule"]
    assert stock["lazy_after_llvm"] == []
    for k in ("relax_function", "meta_schedule", "dlight"):
        assert lean[k] == stock[k], k
    # all of them, but the one global Python's ``tvm.runtime.disco`` registers (Relax's
    # distributed runtime: the lean import skips its failing first import attempt, ~0.25 s)
    assert set(stock["globals_all"]) - set(lean["globals_all"]) <= {"runtime.disco.create_process_pool"}
    assert set(lean["globals_all"]) <= set(stock["globals_all"])


_INTERRUPTED = """
import sys, os
from tvmsym import _fastimport
try:
    with _fastimport.lean_import():
        assert os.environ["TVM_DEVICE_BACKEND_AUTOLOAD"] == "0"
        assert any(type(f).__name__ == "_LazyFinder" for f in sys.meta_path)
        raise KeyboardInterrupt
except KeyboardInterrupt:
    pass
print("RESULT", "TVM_DEVICE_BACKEND_AUTOLOAD" in os.environ,
      any(type(f).__name__ == "_LazyFinder" for f in sys.meta_path), _fastimport.backends_deferred())
"""


def test_interrupted_lean_import_restores_the_process_state():
    env = dict(os.environ)
    env.pop("TVM_DEVICE_BACKEND_AUTOLOAD", None)
    r = subprocess.run([sys.executable, "-c", _INTERRUPTED], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("RESULT", 1)[1].split() == ["False", "False", "False"]
