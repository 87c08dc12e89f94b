"""config.cache: built cpu kernels are kept as hash-named shared libraries under
compiledir/kernels; a new process loads them instead of building, and a corrupted
entry is rebuilt (never loaded, never a crash)."""
import glob
import json
import os
import subprocess
import sys
import textwrap
import time

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



# --------------------------------------------------------------------------- size cap (LRU)
def _scale_mod(c, n=64):
    """A small distinct kernel per constant ``c`` (its own cache entry): B = A * c."""
    te = _tvm.te
    A = te.placeholder((n,), "float32", name="A")
    func = te.create_prim_func([A, te.compute((n,), lambda i: A[i] * float(c), name="B")])
    return _tvm.tvm.IRModule({"main": _tvm.relax_alignment(func, lambda dt: 4)})


def _call_scale(ex, c, n=64):
    a, b = np.linspace(-3, 3, n).astype("float32"), np.full(n, np.nan, "float32")
    ex["main"](a, b)
    np.testing.assert_allclose(b, a * np.float32(c), rtol=1e-6)


def _entry_files(kdir):
    return sorted(p for p in os.listdir(kdir) if not p.endswith(".tmp") and p != ".secret")


def test_cache_max_mb_flag():
    assert config.cache_max_mb == 1024
    with config.change_flags(cache_max_mb="0.25"):
        assert config.cache_max_mb == 0.25
    with pytest.raises(ValueError, match="bad value -1 for config flag 'cache_max_mb'"):
        config.cache_max_mb = -1


def test_lru_pruning_keeps_the_cap_and_rebuilds_pruned_kernels(tmp_path):
    from tvmsym import cache
    kdir = str(tmp_path / "kernels")
    t = _tvm.cpu_target()
    key = {c: _tvm.cache_key(_scale_mod(c), t) for c in (1, 2, 3, 4)}
    with config.change_flags(compiledir=str(tmp_path), cache_max_mb=0):
        _call_scale(_tvm.compile_module(_scale_mod(1), t), 1)
    (e1,) = cache.entries(kdir)
    assert e1.key == key[1] and e1.complete
    size = e1.size       # library + checksum, as on disk
    assert size == (os.path.getsize(os.path.join(kdir, key[1] + ".so"))
                    + os.path.getsize(os.path.join(kdir, key[1] + ".so.sha256")))
    cap = 2.5 * size     # room for two entries of this size
    with config.change_flags(compiledir=str(tmp_path), cache_max_mb=cap / 2 ** 20):
        before = dict(_tvm.cache_stats)
        for c in (2, 3):
            _call_scale(_tvm.compile_module(_scale_mod(c), t), c)
        # the third write would exceed the cap: the least recently used entry (1) went
        assert _tvm.cache_stats["pruned"] - before["pruned"] == 1
        assert _entry_files(kdir) == sorted(
            [key[2] + ".so", key[2] + ".so.sha256", key[3] + ".so", key[3] + ".so.sha256"])
        assert sum(e.size for e in cache.entries(kdir)) <= cap
        # a hit marks its entry as used: make 2 older than 3, then load 2 from the cache
        old = time.time() - 3600
        os.utime(os.path.join(kdir, key[2] + ".so"), (old, old))
        os.utime(os.path.join(kdir, key[3] + ".so"), (old + 60, old + 60))
        hits = _tvm.cache_stats["hits"]
        _call_scale(_tvm.compile_module(_scale_mod(2), t), 2)
        assert _tvm.cache_stats["hits"] == hits + 1
        assert os.path.getmtime(os.path.join(kdir, key[2] + ".so")) > time.time() - 60
        # so writing 4 prunes 3 (now the least recently used), not 2
        _call_scale(_tvm.compile_module(_scale_mod(4), t), 4)
        assert {e.key for e in cache.entries(kdir)} == {key[2], key[4]}
        # the pruned kernel 1 is rebuilt (a miss), stored again and computes the right numbers
        misses = _tvm.cache_stats["misses"]
        _call_scale(_tvm.compile_module(_scale_mod(1), t), 1)
        assert _tvm.cache_stats["misses"] == misses + 1
        assert key[1] in {e.key for e in cache.entries(kdir)}
        assert sum(e.size for e in cache.entries(kdir)) <= cap
    # cache_max_mb=0: no cap, nothing is pruned
    with config.change_flags(compiledir=str(tmp_path), cache_max_mb=0):
        pruned = _tvm.cache_stats["pruned"]
        for c in (5, 6, 7):
            _call_scale(_tvm.compile_module(_scale_mod(c), t), c)
        assert _tvm.cache_stats["pruned"] == pruned and len(cache.entries(kdir)) == 5


def _copy_cache(src, dst):
    import shutil
    shutil.copytree(os.path.join(src, "kernels"), os.path.join(dst, "kernels"))
    return os.path.join(dst, "kernels")


def test_truncated_entry_is_rebuilt_not_loaded(warm, tmp_path):
    """A half-written library (or checksum) is never loaded: the kernel is rebuilt."""
    d, _, _ = warm
    kdir = _copy_cache(d, tmp_path)
    lib_a, lib_b = sorted(glob.glob(os.path.join(kdir, "*.so")))
    full = os.path.getsize(lib_a)
    with open(lib_a, "r+b") as fh:          # the library cut in half, its checksum intact
        fh.truncate(full // 2)
    with open(lib_b + ".sha256", "r+b") as fh:      # the checksum cut short
        fh.truncate(10)
    r = _run(tmp_path)      # the child asserts its numbers against numpy
    assert r["errors"] == 2 and r["misses"] == 2 and r["hits"] == 0
    assert os.path.getsize(lib_a) == full
    assert open(lib_b + ".sha256").read().startswith("tvmsym-kernel-v2 ")


def _cli(compiledir, *args):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}")
    return subprocess.run([sys.executable, "-m", "tvmsym.cache", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_cli_info_list_purge_clear(warm, tmp_path):
    d, _, _ = warm
    kdir = _copy_cache(d, tmp_path)
    for m in glob.glob(os.path.join(kdir, "*.meta")):
        os.unlink(m)        # library entries only here (warm step lists: test_warm_start.py)
    libs = sorted(glob.glob(os.path.join(kdir, "*.so")))
    total = sum(os.path.getsize(p) + os.path.getsize(p + ".sha256") for p in libs)
    r = _cli(tmp_path, "info")
    assert r.returncode == 0, r.stderr
    assert f"directory: {kdir}\n" in r.stdout
    assert "entries:   2\n" in r.stdout
    assert f"size:      {total / 2 ** 20:.2f} MB\n" in r.stdout
    assert "cap:       1024 MB (cache_max_mb)\n" in r.stdout
    # list: most recent first; make the second library the older one
    old = time.time() - 3 * 86400
    os.utime(libs[1], (old, old))
    r = _cli(tmp_path, "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    keys = [os.path.basename(p)[:-3] for p in libs]
    assert lines[1].split()[0] == keys[0] and lines[2].split()[0] == keys[1]
    kb = (os.path.getsize(libs[0]) + os.path.getsize(libs[0] + ".sha256")) / 1024
    assert lines[1].split()[1] == f"{kb:.1f}"      # the size as the listing rounds it
    assert lines[3] == f"2 entries, {total / 2 ** 20:.2f} MB in {kdir}"
    # purge: only the entry unused for more than 2 days goes
    r = _cli(tmp_path, "purge", "--older-than", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("removed 1 entries (")
    assert "not used for more than 2 days" in r.stdout
    assert r.stdout.rstrip().endswith("1 entries (%.2f MB) remain" % (
        (os.path.getsize(libs[0]) + os.path.getsize(libs[0] + ".sha256")) / 2 ** 20))
    assert os.path.exists(libs[0]) and not os.path.exists(libs[1])
    assert not os.path.exists(libs[1] + ".sha256")
    run = _run(tmp_path)            # the purged kernel is rebuilt; numbers checked in the child
    assert run["hits"] == 1 and run["misses"] == 1 and run["errors"] == 0
    # clear: everything
    now_total = sum(os.path.getsize(os.path.join(kdir, n)) for n in os.listdir(kdir)
                    if n != ".secret")      # the per-cache HMAC key stays
    n_meta = len(glob.glob(os.path.join(kdir, "*.meta")))     # written again by the run
    r = _cli(tmp_path, "clear")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"removed {2 + n_meta} entries ({now_total / 2 ** 20:.2f} MB) from {kdir}\n"
    assert [n for n in os.listdir(kdir) if n != ".secret"] == []
    r = _cli(tmp_path, "info")
    assert "entries:   0\n" in r.stdout and "size:      0.00 MB\n" in r.stdout
    r = _cli(tmp_path, "list")
    assert r.stdout == f"no entries in {kdir}\n"


def test_cli_errors(tmp_path):
    r = _cli(tmp_path, "unlock")
    assert r.returncode == 2
    assert "invalid choice: 'unlock' (choose from 'info', 'list', 'clear', 'purge')" in r.stderr
    r = _cli(tmp_path, "purge")
    assert r.returncode == 2 and "the following arguments are required: --older-than" in r.stderr
    r = _cli(tmp_path, "purge", "--older-than", "-1")
    assert r.returncode == 2 and "number of days must be >= 0" in r.stderr
    r = _cli(tmp_path)
    assert r.returncode == 2 and "the following arguments are required: COMMAND" in r.stderr
    for cmd in ("info", "list", "clear"):     # a compiledir never used: one line, exit 1
        r = _cli(tmp_path, cmd)
        assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
        assert r.stderr.strip().count("\n") == 0 and "does not exist" in r.stderr


_RACER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {testdir!r})
    from test_compile_cache import _scale_mod, _call_scale
    from tvmsym import _tvm
    t = _tvm.cpu_target()
    for rnd in range(3):
        for c in range({start}, {start} + 4):
            _call_scale(_tvm.compile_module(_scale_mod(c), t), c)
    print("RESULT", _tvm.cache_stats["pruned"])
""")


def test_two_processes_share_a_capped_cache(tmp_path):
    """Two processes write, load and prune one small directory at the same time: both
    compute correct numbers, no temporary file is left, the cap holds."""
    cap_mb = 0.045      # ~3 entries of ~15 KB: every process keeps pruning the other's
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path},cache_max_mb={cap_mb}")
    testdir = os.path.dirname(os.path.abspath(__file__))
    procs = [subprocess.Popen([sys.executable, "-c", _RACER.format(testdir=testdir, start=s)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for s in (10, 12)]       # overlapping kernels 12, 13
    outs = [p.communicate(timeout=300) for p in procs]
    pruned = 0
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        pruned += int(out.split("RESULT")[1])
    assert pruned >= 4          # 6 kernels, room for 3
    kdir = tmp_path / "kernels"
    assert not [p for p in os.listdir(kdir) if ".tmp" in p]
    from tvmsym import cache
    es = cache.entries(str(kdir))
    assert es and all(e.complete for e in es)
    # simultaneous writes may each miss the other's newest entry (see _tvm._prune)
    assert sum(e.size for e in es) <= cap_mb * 2 ** 20 + max(e.size for e in es)


if __name__ == "__main__":
    # first-call (build) times in fresh processes: python tests/test_compile_cache.py
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for what, cache in (("no cache", False), ("cache miss", True), ("cache hit", True),
                            ("no cache", False), ("cache hit", True)):
            r = _run(d, cache)
            print(f"{what:10s} fused {r['fused_ms']:6.1f} ms | unfused {r['unfused_ms']:6.1f} ms"
                  f" | hits {r['hits']} misses {r['misses']}")
