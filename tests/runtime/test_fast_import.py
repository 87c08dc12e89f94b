"""``import tvm`` through tvmsym/_fastimport.py gives every TVM module the same FFI
functions as TVM's own ``init_ffi_api`` (compared in two new processes)."""
import json
import os
import subprocess
import sys

_DUMP = """
import json, sys
if {patched}:
    from tvmsym import _fastimport
    _fastimport.install()
import tvm, tvm.support.cc, tvm_ffi
out = {{}}
for name, m in sorted(sys.modules.items()):
    if name.startswith("tvm") and m is not None:
        fns = sorted((k, getattr(v, "__name__", None)) for k, v in vars(m).items()
                     if isinstance(v, tvm_ffi.Function))
        if fns:
            out[name] = fns
print("RESULT " + json.dumps(out))
"""


def _dump(patched):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", _DUMP.format(patched=patched)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.split("RESULT ", 1)[1])


def test_fast_init_ffi_api_sets_the_same_functions():
    stock, fast = _dump(False), _dump(True)
    assert len(stock) > 30
    assert sum(len(v) for v in stock.values()) > 1000
    assert fast == stock
