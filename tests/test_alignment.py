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
from tvmsym.runtime.executor import _align_of


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
