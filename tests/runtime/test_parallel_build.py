"""Kernels built in groups on several threads (tvmsym/_parallel_build.py): the same kernels,
the same machine code and the same results as one ``tvm.compile``; the passes it skips
change nothing in the kernels it skips them for."""
import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _parallel_build as pb, _tvm
from tvmsym.runtime import executor

tvm = _tvm.tvm


def _graph():
    """A step with matmuls (local accumulator tiles: compaction needed), generic elementwise
    chains and reductions (no compaction needed), several outputs."""
    x, w, v = T.fmatrix("x"), T.fmatrix("w"), T.fvector("v")
    h = T.tanh(T.dot(x, w) + v)
    outs = [h.sum(axis=0), (h * h).mean(), T.exp(x) * 0.5 + x.sum(axis=1).dimshuffle(0, "x"),
            T.dot(h.T, x), abs(h - 1.5).max(axis=1)]
    return [x, w, v], outs


def _args():
    rng = np.random.default_rng(3)
    return [rng.standard_normal((37, 24)).astype("float32"),
            rng.standard_normal((24, 24)).astype("float32"),
            rng.standard_normal(24).astype("float32")]


def _built(workers, cache):
    with tvmsym.config.change_flags(build_workers=workers, cache=cache):
        ins, outs = _graph()
        f = tvmsym.function(ins, outs)
        g0, k0 = pb.stats["groups"], executor.build_stats["kernels"]
        res = f(*_args())
        return f, res, pb.stats["groups"] - g0, executor.build_stats["kernels"] - k0


@pytest.fixture(scope="module")
def serial():
    return _built(1, False)


@pytest.mark.parametrize("cache", [False, True])
def test_parallel_build_same_kernels_and_results(serial, cache):
    f1, r1, groups1, k1 = serial
    f2, r2, groups2, k2 = _built(2, cache)
    assert groups1 == 1 and groups2 >= 2        # really split (and one compile when serial)
    assert k1 == k2 > 4
    assert f1._last.kernel_names == f2._last.kernel_names
    x, w, v = _args()
    h = np.tanh(x @ w + v)
    want = [h.sum(axis=0), (h * h).mean(), np.exp(x) * 0.5 + x.sum(axis=1)[:, None], h.T @ x,
            np.abs(h - 1.5).max(axis=1)]
    for a, b, c in zip(r1, r2, want):
        np.testing.assert_array_equal(a, b)     # bit for bit: the same machine code
        np.testing.assert_allclose(b, c, rtol=2e-5, atol=2e-5)
    # the linked library (cache) or the groups' JIT modules hold every kernel
    assert "define" in f2.as_text("llvm")


def test_build_error_in_a_worker_reaches_the_caller(monkeypatch):
    """A compile failing in a worker thread raises in the calling thread (fault injected in
    the group holding k5: a real compile of the other groups runs beside it)."""
    a = tvm.te.placeholder((8,), "float32", name="a")

    def kernel(j):      # distinct kernels (identical ones would be compiled once)
        b = tvm.te.compute((8,), lambda i: a[i] + float(j), name="b")
        return tvm.te.create_prim_func([a, b]).with_attr("global_symbol", f"k{j}")
    funcs = {f"k{j}": kernel(j) for j in range(12)}
    real = pb._compile_one

    def failing(sub, target, config, compact):
        if any(gv.name_hint == "k5" for gv in sub.get_global_vars()):
            raise RuntimeError("injected failure")
        return real(sub, target, config, compact)
    monkeypatch.setattr(pb, "_compile_one", failing)
    with tvmsym.config.change_flags(build_workers=2):
        with pytest.raises(RuntimeError, match="injected failure"):
            pb.build(tvm.IRModule(funcs), _tvm.cpu_target(), _tvm.BUILD_CONFIG)
        ex = pb.build(tvm.IRModule({k: f for k, f in funcs.items() if k != "k5"}),
                      _tvm.cpu_target(), _tvm.BUILD_CONFIG)
    assert pb.last["groups"] >= 2
    x = np.arange(8, dtype="float32")
    out = tvm.runtime.empty((8,), "float32")
    ex["k7"](tvm.runtime.tensor(x), out)
    np.testing.assert_array_equal(out.numpy(), x + 7)


def _ll(funcs, disabled):
    with tvm.transform.PassContext(config=_tvm.BUILD_CONFIG, disabled_pass=disabled):
        text = tvm.compile(tvm.IRModule(funcs), target=_tvm.cpu_target()).mod.inspect_source("ll")
    return re.sub(r"0x[0-9a-f]+", "", text)     # TBAA names carry object addresses


def _kernels():
    """The scheduled PrimFuncs of ``_graph``'s build (captured on their way to the compile)."""
    seen = []
    real = pb.build

    def spy(mod, target, config, objects_dir=None):
        seen.append(mod)
        return real(mod, target, config, objects_dir)
    pb.build = spy
    try:
        _built(1, False)
    finally:
        pb.build = real
    return {gv.name_hint: f for gv, f in seen[0].functions.items()}


def test_skipped_passes_do_not_change_the_code():
    kernels = _kernels()
    needs = {n: pb.needs_compaction(f) for n, f in kernels.items()}
    assert any(needs.values()) and not all(needs.values())     # both kinds are in the graph
    for name, f in kernels.items():
        stock = _ll({name: f}, [])
        trimmed = _ll({name: f}, list(pb.GPU_ONLY_PASSES) + ([] if needs[name] else [pb.COMPACT]))
        assert trimmed == stock, name


def test_abandoned_stream_stops_its_worker(monkeypatch, tmp_path):
    """A build failing while its kernels are being lowered (fault injected in the schedule
    of the 9th specialized kernel, after full groups were handed to the worker) leaves no
    worker thread, no object files and the interpreter's switch interval as it was."""
    import gc
    import sys
    import threading
    import time

    from tvmsym.runtime import backends
    real, calls = backends.schedule_host, []

    def failing(func, ctx):
        calls.append(1)
        if len(calls) == 9:
            raise RuntimeError("injected schedule failure")
        return real(func, ctx)
    monkeypatch.setattr(backends, "schedule_host", failing)
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))    # the stream's object files
    switch = sys.getswitchinterval()
    g0 = pb.stats["groups"]
    x = T.fmatrix("x")
    ws = [T.fmatrix(f"w{j}") for j in range(12)]
    outs = [T.tanh(T.dot(x, w)) * (j + 1) for j, w in enumerate(ws)]
    with tvmsym.config.change_flags(build_workers=2, cache=True):
        f = tvmsym.function([x] + ws, outs, specialize=True)
        m = np.ones((5, 5), "float32")
        with pytest.raises(RuntimeError, match="injected schedule failure"):
            f(m, *[m] * 12)
    gc.collect()
    deadline = time.time() + 60
    while any(t.name == "tvmsym-build" and t.is_alive() for t in threading.enumerate()):
        assert time.time() < deadline, "a build worker outlived its build"
        time.sleep(0.05)
    assert len(calls) == 9
    assert pb.stats["groups"] == g0             # nothing finished, nothing counted
    assert sys.getswitchinterval() == switch
    assert not list(tmp_path.glob("tvmsym-objs-*"))
    monkeypatch.undo()
    with tvmsym.config.change_flags(build_workers=2, cache=True):
        r = f(m, *[m] * 12)                     # the same function builds afterwards
    np.testing.assert_allclose(r[3], np.tanh(m @ m) * 4, rtol=1e-5)


@pytest.mark.parametrize("cache", [False, True])
def test_identical_kernels_are_compiled_once(cache, tmp_path):
    """A long chain is cut into identical fused kernels: each distinct kernel is compiled
    once and the others run its code under their own names (alias symbols in the linked
    library); results as numpy's, in this process and from the cache in a new one."""
    x, y = T.fmatrix("x"), T.fmatrix("y")
    z = x
    for _ in range(120):
        z = T.tanh(z) * 0.5 + y
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((7, 9)).astype("float32"), rng.standard_normal((7, 9)).astype("float32")
    want = xv
    for _ in range(120):
        want = np.tanh(want) * np.float32(0.5) + yv
    d0, k0 = pb.stats["deduplicated"], executor.build_stats["kernels"]
    with tvmsym.config.change_flags(build_workers=2, cache=cache, compiledir=str(tmp_path)):
        f = tvmsym.function([x, y], z)
        np.testing.assert_allclose(f(xv, yv), want, rtol=1e-5, atol=1e-6)
        kernels = executor.build_stats["kernels"] - k0
        same = pb.stats["deduplicated"] - d0
        assert kernels >= 4 and 0 < same < kernels     # most of them are the same kernel
        lib = f._last.backend.lib
        names = f._last.kernel_names
        assert all(lib.mod.implements_function(n) for n in names)
        assert "the same code as" in f.as_text("llvm")
    if cache:
        import os
        import subprocess
        import sys
        code = ("import numpy as np, tvmsym, tvmsym.tensor as T\n"
                "x, y = T.fmatrix('x'), T.fmatrix('y')\nz = x\n"
                "for _ in range(120): z = T.tanh(z) * 0.5 + y\n"
                "f = tvmsym.function([x, y], z)\n"
                "np.save(%r, f(np.load(%r), np.load(%r)))\n"
                "from tvmsym import cache\nprint('RESULT', cache.stats)\n") % (
                    str(tmp_path / "r.npy"), str(tmp_path / "x.npy"), str(tmp_path / "y.npy"))
        np.save(tmp_path / "x.npy", xv)
        np.save(tmp_path / "y.npy", yv)
        env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        np.testing.assert_allclose(np.load(tmp_path / "r.npy"), want, rtol=1e-5, atol=1e-6)


def test_builds_in_two_threads_at_once():
    """Two threads building at once (each with its build workers): right results, and the
    interpreter's switch interval is back as it was after both."""
    import sys
    import threading
    switch = sys.getswitchinterval()
    x = T.fmatrix("x")
    graphs = [[T.tanh(T.dot(x, x.T) * (j + 1)) + T.exp(x).sum() * k for k in range(6)]
              for j in range(2)]
    xv = np.random.default_rng(5).standard_normal((6, 6)).astype("float32") * 0.3
    out, errors = {}, []

    def run(j):
        try:
            f = tvmsym.function([x], graphs[j])
            out[j] = f(xv)
        except BaseException as e:     # noqa: BLE001
            errors.append(e)
    with tvmsym.config.change_flags(build_workers=2, cache=False):
        ts = [threading.Thread(target=run, args=(j,)) for j in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors, errors
    for j in range(2):
        for k in range(6):
            np.testing.assert_allclose(out[j][k], np.tanh(xv @ xv.T * (j + 1)) + np.exp(xv).sum() * k,
                                       rtol=1e-4, atol=1e-5)
    assert sys.getswitchinterval() == switch


def test_exit_right_after_a_cancelled_stream_waits_for_its_worker():
    """A stream cancelled while its worker compiles (a cache hit found after lowering) and the
    process exiting at once: exit waits for the worker instead of aborting in its C++ frames
    ("terminate called without an active exception": a warm-start child aborted 8 times in 10)."""
    import subprocess
    import sys
    code = (
        "import tvmsym\n"
        "from tvmsym import _parallel_build as pb, _tvm\n"
        "tvm = _tvm.tvm\n"
        "a = tvm.te.placeholder((64,), 'float32', name='a')\n"
        "def kernel(j):\n"
        "    b = tvm.te.compute((64,), lambda i: tvm.te.exp(a[i] * float(j)) + j, name='b')\n"
        "    return tvm.te.create_prim_func([a, b]).with_attr('global_symbol', f'k{j}')\n"
        "with tvmsym.config.change_flags(build_workers=2):\n"
        "    s = pb.Stream(_tvm.cpu_target(), _tvm.BUILD_CONFIG, objects=True)\n"
        "    for j in range(40):\n"
        "        s.add(f'k{j}', kernel(j))\n"
        "assert len(pb._workers) >= 1, 'no worker started'\n"
        "s.cancel()\n"
        "print('RESULT', sum(t.is_alive() for t in pb._workers))\n")
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "RESULT" in r.stdout
