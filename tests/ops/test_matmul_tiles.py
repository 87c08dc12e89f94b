"""The machine-derived matmul register tiles (issue 13): numpy's results at odd sizes, both
operand layouts, float32 and float64; the tile's arithmetic for known and unknown cores."""
from __future__ import annotations

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.lowering import machine

SIZES = [(1000, 65, 63), (63, 65, 1000), (65, 1000, 7), (7, 63, 65), (1, 1000, 65), (65, 7, 1000),
         (1000, 1, 63), (64, 128, 128)]
_F = {}


def _layouts(dtype):
    """dot(a, b), dot(a.T, b), dot(a, b.T), dot(a.T, b.T) of the same product, one function."""
    if dtype not in _F:
        a, at = T.matrix("a", dtype=dtype), T.matrix("at", dtype=dtype)
        b, bt = T.matrix("b", dtype=dtype), T.matrix("bt", dtype=dtype)
        _F[dtype] = tvmsym.function([a, at, b, bt], [T.dot(a, b), T.dot(at.T, b), T.dot(a, bt.T),
                                                       T.dot(at.T, bt.T)])
    return _F[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M,K,N", SIZES)
def test_products_match_numpy(dtype, M, K, N):
    rng = np.random.default_rng(M * 7 + K * 3 + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    ref = a.astype("float64") @ b.astype("float64")
    outs = _layouts(dtype)(a, np.ascontiguousarray(a.T), b, np.ascontiguousarray(b.T))
    tol = dict(rtol=2e-4, atol=2e-4 * np.sqrt(K)) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    for o in outs:
        assert o.shape == (M, N) and o.dtype == dtype
        np.testing.assert_allclose(o, ref, **tol)


def test_tiled_kernel_is_used_and_reads_a_in_place():
    f = _layouts("float32")
    rng = np.random.default_rng(0)
    # 130x177x100: big enough for the tile (smaller padded products run in place:
    # lowering/gemv_shapes.py)
    a, b = rng.standard_normal((130, 177)).astype("float32"), rng.standard_normal((177, 100)).astype("float32")
    for o in f(a, np.ascontiguousarray(a.T), b, np.ascontiguousarray(b.T)):
        np.testing.assert_allclose(o, a @ b, rtol=1e-4, atol=1e-4)
    tir = f.as_text("tir")
    assert "mm_rows" in tir and "mm_pack_b" in tir and "mm_pack_a" not in tir


def test_special_values_propagate_through_the_tile():
    f = _layouts("float32")
    a = np.ones((64, 64), "float32")
    b = np.ones((64, 64), "float32")
    a[3, 5], a[10, 0], b[7, 9] = np.nan, np.inf, -np.inf
    with np.errstate(invalid="ignore"):
        ref = a @ b                                      # inf - inf: NaN
    for o in f(a, np.ascontiguousarray(a.T), b, np.ascontiguousarray(b.T)):
        np.testing.assert_array_equal(o, ref)


@pytest.mark.parametrize("name,vector_bytes", [("znver4", 64), ("znver3", 32), ("skylake-avx512", 64),
                                               ("haswell", 32), ("no-such-cpu", 64), ("no-such-cpu", 32),
                                               ("no-such-cpu", 16)])
def test_tile_follows_the_machine(name, vector_bytes):
    core = machine.core_for(name, vector_bytes)
    assert core.vregs == (32 if vector_bytes >= 64 else 16)
    for dtype in ("float32", "float64"):
        lanes = vector_bytes // np.dtype(dtype).itemsize
        for n in (None, 1, 10, 17, 40, 1000):
            mr, nv = machine.matmul_tile(core, lanes, n)
            acc = mr * nv
            assert acc + nv + 1 <= core.vregs            # accumulators + B vectors + broadcast
            assert acc <= 16                             # 32 accumulators spilled (issue 13)
            if n is None or n >= 4 * lanes:
                assert acc >= core.min_accumulators      # enough chains to fill the FMA pipes
            if n is not None:
                assert (nv - 1) * lanes < n              # no panel wider than the product needs


def test_host_machine_facts():
    m = machine.host()
    assert m.core.vregs in (16, 32)
    assert m.core.min_accumulators >= 4
    mr, nv = m.matmul_tile("float32")
    assert mr >= 1 and nv >= 1
    assert not m.parallel_pays(elements=1, flops=1)
    assert m.parallel_pays(flops=10 ** 12) == (m.threads > 1)
