"""Parameter buffers declare element alignment (not TVM's 64 bytes), set structurally.

numpy arrays are only element aligned; a kernel assuming 64-byte aligned parameters
faults on them when vectorized.  ``_tvm.relax_alignment`` re-declares the parameter
buffers (a ``tvm_ffi.structural_map``, no TVMScript text round trip).
"""
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm
from tvmsym._tvm import te, tvm_ffi
from tvmsym.runtime.backends import _align_of


def _func(dtype, shape=(64, 8)):
    A = te.placeholder(shape, dtype, name="A")
    B = te.placeholder(shape, "float64", name="B")
    s = te.var("s", "float32")
    C = te.compute(shape, lambda i, j: (A[i, j] * s).astype("float64") + B[i, j], name="C")
    return te.create_prim_func([A, B, C, s])


@pytest.mark.parametrize("dtype,align", [("float32", 4), ("float16", 2), ("int8", 1), ("bool", 1)])
def test_structural_matches_text_round_trip(dtype, align):
    f = _func(dtype)
    assert [p.data_alignment for p in f.params[:3]] == [64, 64, 64]
    g = _tvm._relax_alignment_structural(f, _align_of)
    assert [p.data_alignment for p in g.params[:3]] == [align, 8, 8]
    assert str(g.params[3].ty) == str(f.params[3].ty)      # the scalar parameter is kept
    assert tvm_ffi.structural_equal(g, _tvm._relax_alignment_text(f, _align_of), map_free_vars=True)
    # every use in the body is the re-declared buffer
    seen = {}

    def visit(v):
        if _tvm.tirx.buffer.is_buffer_var(v):
            seen.setdefault(v.name, set()).add(v.data_alignment)
        return v
    tvm_ffi.structural_map(g.body, (_tvm.tvm.ir.Var, visit), order="post")
    assert seen == {"A": {align}, "B": {8}, "C": {8}}


def test_symbolic_shape_uses_the_buffer_dtype():
    # the text path read the first quoted word, the shape var "n" (np.dtype("n"): 8 bytes)
    n = te.var("n")
    A = te.placeholder((n, 4), "float32", name="A")
    f = te.create_prim_func([A, te.compute((n, 4), lambda i, j: A[i, j] + 1.0, name="C")])
    g = _tvm.relax_alignment(f, _align_of)
    assert [p.data_alignment for p in g.params] == [4, 4]


def test_already_small_alignment_is_unchanged():
    f = _tvm._relax_alignment_structural(_func("float32"), _align_of)
    assert _tvm._relax_alignment_structural(f, _align_of).same_as(f)


_CHILD = textwrap.dedent("""
    import re, sys, numpy as np
    import tvmsym, tvmsym.tensor as T
    from tvmsym import _tvm
    x, y = T.vector("x"), T.vector("y")
    f = tvmsym.function([x, y], T.tanh(x * y + 1) * T.exp(-abs(x)) + x / (1 + y * y))
    n = 4099
    xv = np.linspace(-2, 2, n + 1).astype("float32")[1:]     # address % 64 == 4 (numpy: 16-aligned)
    yv = np.linspace(0, 3, n + 3).astype("float32")[3:]
    assert xv.ctypes.data % 64 != 0 and yv.ctypes.data % 64 != 0
    out = f(xv, yv)
    ref = np.tanh(xv * yv + 1) * np.exp(-abs(xv)) + xv / (1 + yv * yv)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    ll = f.as_text("llvm")
    vec = re.findall(r"(?:load|store) <\\d+ x float>.*?align (\\d+)", ll)
    print("ALIGNS", sorted(set(vec)), "FALLBACKS", _tvm.relax_fallbacks, "ADDR", xv.ctypes.data % 64)
""")


def test_misaligned_input_into_vectorized_kernel_does_not_crash():
    r = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"ALIGNS \[(.*)\] FALLBACKS (\d+) ADDR (\d+)", r.stdout)
    assert m, r.stdout
    aligns = {int(a.strip(" '")) for a in m.group(1).split(",") if a.strip()}
    assert aligns and max(aligns) <= 4, aligns          # vector loads/stores: element alignment
    assert m.group(2) == "0"                             # the structural path built every kernel
    assert int(m.group(3)) % 64 != 0


def test_compiled_function_with_misaligned_views_in_process():
    # the same property in process, over dtypes (a crash would fail the whole run loudly)
    for dtype in ("float32", "float64"):
        x = T.vector("x", dtype=dtype)
        f = tvmsym.function([x], T.exp(x) * 2 + x)
        base = np.linspace(0, 1, 1031).astype(dtype)
        for k in (1, 2, 3):
            v = base[k:k + 1024]
            np.testing.assert_allclose(f(v), np.exp(v) * 2 + v, rtol=1e-6)


def _bench(path, reps=7, n=1000):
    """Build time of the chain tanh(x*y+1)*exp(-abs(x)) + log1p(exp(y)) - x/(1+y*y), with
    the structural or the TVMScript text relax_alignment: ``python tests/test_alignment.py``."""
    import statistics
    import time

    from tvmsym.runtime.mode import Mode
    real = {"text": _tvm._relax_alignment_text, "structural": _tvm._relax_alignment_structural}[path]
    spent = [0.0, 0]

    def timed(func, align_of):
        t0 = time.perf_counter()
        r = real(func, align_of)
        spent[0] += time.perf_counter() - t0
        spent[1] += 1
        return r
    saved, _tvm.relax_alignment = _tvm.relax_alignment, timed
    try:
        xv, yv = np.random.rand(n).astype("float32"), np.random.rand(n).astype("float32")
        for mode in (Mode(optimizer=None), Mode()):
            spent[:] = [0.0, 0]
            times = []
            for _ in range(reps):
                x, y = T.vector("x"), T.vector("y")
                out = T.tanh(x * y + 1) * T.exp(-abs(x)) + T.log1p(T.exp(y)) - x / (1 + y * y)
                f = tvmsym.function([x, y], out, mode=mode)
                t0 = time.perf_counter()
                f(xv, yv)
                times.append(time.perf_counter() - t0)
            nk, med = spent[1] // reps, statistics.median(times) * 1e3
            print(f"{path:10s} optimizer={mode.optimizer!s:9s} kernels={nk:2d} build {med:6.1f} ms"
                  f" = {med / nk:5.1f} ms/kernel | relax_alignment {spent[0] / spent[1] * 1e3:5.2f} ms/kernel")
    finally:
        _tvm.relax_alignment = saved


if __name__ == "__main__":
    for _path in ("text", "structural", "text", "structural"):
        _bench(_path)
