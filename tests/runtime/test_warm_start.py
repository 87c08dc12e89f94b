"""Warm start (runtime/warm.py, runtime/loader.py): a build found in the on-disk cache by
(graph after rewrites, signature, target, versions, flags) before any lowering, run with the
TVM runtime only; every key part invalidates; stale, corrupt or foreign entries are rebuilt."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tvmsym as th
import tvmsym.tensor as T
from tvmsym.runtime import warm

_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import tvmsym as th, tvmsym.tensor as T
    from tvmsym.runtime import warm
    x, y = T.fmatrix("x"), T.fmatrix("y")
    w = th.shared(np.linspace(-1, 1, 20).astype("float32").reshape(5, 4), name="w")
    h = T.tanh(T.dot(x, w)) + y * 2 + np.float32(3) * T.exp(x).sum(axis=1, keepdims=True)
    f = th.function([x, y], [h, h.mean()], updates=[(w, w - np.float32(0.1) * T.grad(h.sum(), w))])
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((7, 5)).astype("float32")
    yv = rng.standard_normal((7, 4)).astype("float32")
    w0 = w.get_value()
    r = f(xv, yv)
    want = np.tanh(xv @ w0) + yv * 2 + 3 * np.exp(xv).sum(axis=1, keepdims=True)
    g = xv.T @ (1 - np.tanh(xv @ w0) ** 2)
    ok = (np.allclose(r[0], want, rtol=1e-5, atol=1e-5) and np.allclose(r[1], want.mean(), rtol=1e-5)
          and np.allclose(w.get_value(), w0 - 0.1 * g, rtol=1e-5, atol=1e-6))
    has_tvm = "tvm" in sys.modules          # at the first result
    r2 = f(xv[:3], yv[:3])                  # another shape (its kernels may be borrowed)
    ok = ok and np.allclose(r2[0], np.tanh(xv[:3] @ w.get_value() * 0 + xv[:3] @ (w0 - 0.1 * g)) + yv[:3] * 2
                            + 3 * np.exp(xv[:3]).sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-5)
    hits, stored = warm.stats["hits"], warm.stats["stored"]
    # a shape no process built yet: the compiler comes in beside the loaded kernels
    n = 4 if hits == 0 else 6           # (the cold run's new shape is cached for the warm one)
    wv = w.get_value()
    r3 = f(xv[:n], yv[:n])
    ok = ok and np.allclose(r3[0], np.tanh(xv[:n] @ wv) + yv[:n] * 2
                            + 3 * np.exp(xv[:n]).sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-5)
    print("RESULT", ok, has_tvm, hits, stored)
""")


def _child(compiledir):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}")
    env.pop("TVMSYM_NO_WARM", None)
    p = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    ok, has_tvm, hits, stored = p.stdout.split("RESULT")[1].split()
    return ok == "True", has_tvm == "True", int(hits), int(stored)


def test_warm_start_in_a_new_process_without_tvm(tmp_path):
    ok, has_tvm, hits, stored = _child(tmp_path)
    assert ok and has_tvm and hits == 0 and stored >= 1         # cold: built, entries written
    ok, has_tvm, hits, stored = _child(tmp_path)
    assert ok, "warm results differ from numpy"
    assert not has_tvm, "a warm start imported tvm before its first result"
    assert hits >= 1
    metas = [n for n in os.listdir(tmp_path / "kernels") if n.endswith(".meta")]
    # (one entry per class pattern: the cold run's batch of 4, whose 4 equals w's columns,
    # fits the first pattern's kernels (symbolic_shapes.fit_known): no pattern of its own)
    assert len(metas) >= 1
    for n in metas:
        assert os.stat(tmp_path / "kernels" / n).st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- in process
@pytest.fixture
def cdir(tmp_path):
    with th.config.change_flags(compiledir=str(tmp_path)):
        yield tmp_path / "kernels"


def _delta(fn):
    before = {k: v for k, v in warm.stats.items() if k != "load_s"}
    out = fn()
    return out, {k: warm.stats[k] - before[k] for k in before}


def _ew(dtype="float32", bcast=(False, False), c=2.0):
    x = T.TensorType(dtype, bcast)("x")
    y = T.matrix("y", dtype=dtype)
    return th.function([x, y], T.tanh(x) * np.asarray(c, dtype) + y)


def _check(f, xv, yv, c=2.0):
    np.testing.assert_allclose(f(xv, yv), np.tanh(xv) * np.asarray(c, xv.dtype) + yv, rtol=1e-5)


def test_hit_skips_lowering_and_every_key_part_invalidates(cdir, monkeypatch):
    xv = np.linspace(-2, 2, 12).astype("float32").reshape(3, 4)
    yv = np.ones((3, 4), "float32")
    _, d = _delta(lambda: _check(_ew(), xv, yv))
    assert d["stored"] == 1
    # the same graph again, a new function: loaded, nothing lowered or built
    import tvmsym.runtime.executor as ex
    calls = []
    real = ex.Build.__init__
    monkeypatch.setattr(ex.Build, "__init__", lambda self, *a, **k: (calls.append(1), real(self, *a, **k))[1])
    f = _ew()
    _, d = _delta(lambda: _check(f, xv, yv))
    assert d["hits"] == 1 and not calls
    assert "tanh" in f.as_text("tir").lower() or f.as_text("tir")      # as_text builds on demand
    # another shape of the same generic signature: its entry serves it (no build, no TVM)
    calls.clear()
    _, d = _delta(lambda: _check(_ew(), xv[:2, :3], yv[:2, :3]))
    assert d["hits"] == 1 and d["stored"] == 0 and not calls, d
    # graph (another constant), dtype, broadcast pattern, signature (a square shape: one
    # class for both dims): each its own entry
    sq = np.ones((4, 4), "float32")
    for make, args in [(lambda: _ew(c=3.0), (xv, yv, 3.0)),
                       (lambda: _ew("float64"), (xv.astype("float64"), yv.astype("float64"))),
                       (lambda: _ew(bcast=(True, False)), (xv[:1], yv)),
                       (lambda: _ew(), (sq, sq))]:
        _, d = _delta(lambda: _check(make(), *args))
        assert d["hits"] == 0 and d["stored"] == 1, d
        _, d = _delta(lambda: _check(make(), *args))
        assert d["hits"] == 1, d
    # version string, target, flag: new keys
    g = warm.graph_key(_ew().maker.fgraph)
    sig = ((3, 4), (3, 4))
    k0 = warm.build_key(g, sig, "llvm")
    assert k0 == warm.build_key(g, sig, "llvm")
    assert k0 != warm.build_key(g, sig, "cuda")
    with th.config.change_flags(cuda_arch="sm_80"):
        assert warm.build_key(g, sig, "llvm") != k0
    monkeypatch.setitem(warm._env_cache, "ver", "apache-tvm=0.28.0")
    assert warm.build_key(g, sig, "llvm") != k0
    _, d = _delta(lambda: _check(_ew(), xv, yv))
    assert d["hits"] == 0 and d["stored"] == 1          # another TVM: built again
    monkeypatch.setitem(warm._env_cache, "src", "0" * 64)
    assert warm.build_key(g, sig, "llvm") != k0          # other tvmsym sources


def test_stale_or_corrupt_entries_are_rebuilt(cdir):
    xv = np.linspace(-2, 2, 10).astype("float32").reshape(2, 5)
    yv = np.zeros((2, 5), "float32")
    _check(_ew(c=5.0), xv, yv, 5.0)
    (meta,) = [cdir / n for n in os.listdir(cdir) if n.endswith(".meta")]
    good = meta.read_bytes()
    head, _, body = good.partition(b"\n")
    cases = [head + b"\n" + body.replace(b'"n_slots": ', b'"n_slots": 1'),     # edited payload
             good[:len(good) // 2],                                             # truncated
             b"tvmsym-meta-v1 " + b"x" * 40 + b"\n{}",                           # wrong header
             b""]
    for bad in cases:
        meta.write_bytes(bad)
        _, d = _delta(lambda: _check(_ew(c=5.0), xv, yv, 5.0))
        assert d["stale"] == 1 and d["hits"] == 0 and d["stored"] == 1, d
        assert meta.read_bytes() == good                 # written again by the rebuild
    # a group-writable entry is refused
    os.chmod(meta, 0o666)
    _, d = _delta(lambda: _check(_ew(c=5.0), xv, yv, 5.0))
    assert d["hits"] == 0
    os.chmod(meta, 0o600)
    # the library it names removed (pruned): rebuilt
    lib = good.split(b'"lib": "')[1].split(b'"')[0].decode()
    os.unlink(cdir / (lib + ".so"))
    _, d = _delta(lambda: _check(_ew(c=5.0), xv, yv, 5.0))
    assert d["stale"] == 1 and d["stored"] == 1
    _, d = _delta(lambda: _check(_ew(c=5.0), xv, yv, 5.0))
    assert d["hits"] == 1


def test_graph_key_is_exact():
    x = T.fmatrix("x")
    k = lambda e: warm.graph_key(th.function([x], e).maker.fgraph)     # noqa: E731
    assert k(x * 2) == k(x * 2)
    assert k(x * 2) != k(x * 3)
    assert k(x.sum(axis=0)) != k(x.sum(axis=1))
    assert k(T.maximum(x, 0)) != k(T.minimum(x, 0))
    assert k(x + np.ones((1, 3), "float32")) != k(x + np.full((1, 3), 2, "float32"))


def test_cache_off_and_cuda_do_not_use_it(tmp_path):
    with th.config.change_flags(compiledir=str(tmp_path), cache=False):
        f = _ew(c=7.0)
        assert not isinstance(f.target, warm.LightTarget)
        _check(f, np.ones((2, 2), "float32"), np.ones((2, 2), "float32"), 7.0)
    assert not (tmp_path / "kernels").exists()


def test_step_lists_are_cache_entries(cdir):
    """``python -m tvmsym.cache``: a step list (.meta) is an entry: listed, sized, cleared."""
    from tvmsym import cache
    _check(_ew(c=9.0), np.ones((2, 2), "float32"), np.ones((2, 2), "float32"), 9.0)
    es = cache.entries(str(cdir))
    metas = [e for e in es if os.path.exists(cdir / (e.key + cache.META_SUFFIX))]
    assert len(metas) == 1 and metas[0].complete and metas[0].size > 0
    n, _ = cache.clear(str(cdir))
    assert n == len(es) and not [p for p in os.listdir(cdir) if p != ".secret"]
