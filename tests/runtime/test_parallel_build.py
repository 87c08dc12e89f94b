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
    good = tvm.te.create_prim_func([a, tvm.te.compute((8,), lambda i: a[i] + 1, name="b")])
    funcs = {f"k{i}": good.with_attr("global_symbol", f"k{i}") for i in range(12)}
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
    np.testing.assert_array_equal(out.numpy(), x + 1)


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
