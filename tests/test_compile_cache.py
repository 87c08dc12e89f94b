"""config.cache: built cpu kernels are kept as hash-named shared libraries under
compiledir/kernels; a new process loads them instead of building, and a corrupted
entry is rebuilt (never loaded, never a crash)."""
import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tvmsym import _tvm
from tvmsym.config import config

_CHILD = textwrap.dedent("""
    import json, time, numpy as np
    import tvmsym, tvmsym.tensor as T
    from tvmsym import _tvm
    from tvmsym.runtime.mode import Mode
    x, y = T.vector("x"), T.vector("y")
    out = T.tanh(x * y + 1) * T.exp(-abs(x)) + x / (1 + y * y)
    xv = np.linspace(-2, 2, 1000).astype("float32"); yv = np.linspace(0, 3, 1000).astype("float32")
    ref = np.tanh(xv * yv + 1) * np.exp(-abs(xv)) + xv / (1 + yv * yv)
    res = {}
    for name, mode in (("fused", Mode()), ("unfused", Mode(optimizer=None))):
        f = tvmsym.function([x, y], out, mode=mode)
        t0 = time.perf_counter(); r = f(xv, yv); res[name + "_ms"] = 1e3 * (time.perf_counter() - t0)
        np.testing.assert_allclose(r, ref, rtol=1e-5, atol=1e-6)
    res["ll"] = "define" in f.as_text("llvm")
    res.update(_tvm.cache_stats)
    print("RESULT", json.dumps(res))
""")


def _run(cachedir, cache=True):
    env = dict(os.environ, TVMSYM_FLAGS=f"cache={cache},compiledir={cachedir}")
    r = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A cache filled by one process, then used by a second one."""
    d = tmp_path_factory.mktemp("compiledir")
    first = _run(d)
    second = _run(d)
    return d, first, second


def test_first_process_builds_and_stores(warm):
    d, first, _ = warm
    assert first["misses"] == 2 and first["hits"] == 0 and first["errors"] == 0
    libs = sorted(glob.glob(os.path.join(d, "kernels", "*.so")))
    assert len(libs) == 2                          # one library per Build (fused, unfused)
    assert all(os.path.exists(p + ".sha256") for p in libs)
    assert not glob.glob(os.path.join(d, "kernels", "*.tmp*"))


def test_second_process_reuses_the_cache(warm):
    _, first, second = warm
    assert second["hits"] == 2 and second["misses"] == 0 and second["errors"] == 0
    assert second["ll"]                             # llvm text still available (built on demand)
    # loading skips tvm.compile: the unfused build (several kernels) gets clearly cheaper
    assert second["unfused_ms"] < 0.7 * first["unfused_ms"], (first, second)


def test_corrupted_entries_are_rebuilt(warm, tmp_path):
    d, _, _ = warm
    cdir = tmp_path / "c"
    (cdir / "kernels").mkdir(parents=True)
    libs = sorted(glob.glob(os.path.join(d, "kernels", "*.so")))
    garbage = b"\x7fELF not really a shared library" * 10
    # one entry with garbage bytes (checksum mismatch), one consistent but unloadable
    a, b = [cdir / "kernels" / os.path.basename(p) for p in libs]
    a.write_bytes(garbage)
    with open(libs[0] + ".sha256") as fh:
        (cdir / "kernels" / (a.name + ".sha256")).write_text(fh.read())
    b.write_bytes(garbage)
    import hashlib
    (cdir / "kernels" / (b.name + ".sha256")).write_text(hashlib.sha256(garbage).hexdigest())
    third = _run(cdir)
    assert third["misses"] == 2 and third["hits"] == 0 and third["errors"] == 2
    fourth = _run(cdir)                             # rebuilt entries are good again
    assert fourth["hits"] == 2 and fourth["misses"] == 0 and fourth["errors"] == 0


def test_cache_on_by_default_and_off_builds_in_memory():
    assert config.cache is True         # Theano-like compiledir cache
    with config.change_flags(cache=False):
        _cache_off_builds_in_memory()


def _cache_off_builds_in_memory():
    te = _tvm.te
    A = te.placeholder((8,), "float32", name="A")
    func = te.create_prim_func([A, te.compute((8,), lambda i: A[i] * 2.0, name="B")])
    mod = _tvm.tvm.IRModule({"main": _tvm.relax_alignment(func, lambda dt: 4)})   # numpy inputs
    before = dict(_tvm.cache_stats)
    ex = _tvm.compile_module(mod, _tvm.cpu_target())
    assert _tvm.cache_stats == before and not isinstance(ex, _tvm._LoadedExecutable)
    a, b = np.arange(8, dtype="float32"), np.empty(8, "float32")
    ex["main"](a, b)
    np.testing.assert_array_equal(b, a * 2)


def test_key_depends_on_code_and_target():
    te = _tvm.te
    A = te.placeholder((8,), "float32", name="A")

    def mod(c):
        return _tvm.tvm.IRModule({"main": te.create_prim_func(
            [A, te.compute((8,), lambda i: A[i] * c, name="B")])})
    t = _tvm.cpu_target()
    assert _tvm.cache_key(mod(2.0), t) == _tvm.cache_key(mod(2.0), t)
    assert _tvm.cache_key(mod(2.0), t) != _tvm.cache_key(mod(3.0), t)
    other = _tvm.Target({"kind": "llvm", "mcpu": "x86-64"})
    assert _tvm.cache_key(mod(2.0), t) != _tvm.cache_key(mod(2.0), other)


if __name__ == "__main__":
    # first-call (build) times in fresh processes: python tests/test_compile_cache.py
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for what, cache in (("no cache", False), ("cache miss", True), ("cache hit", True),
                            ("no cache", False), ("cache hit", True)):
            r = _run(d, cache)
            print(f"{what:10s} fused {r['fused_ms']:6.1f} ms | unfused {r['unfused_ms']:6.1f} ms"
                  f" | hits {r['hits']} misses {r['misses']}")
