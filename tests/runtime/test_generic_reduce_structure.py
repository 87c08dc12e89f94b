"""The structure of generic row / column reductions and softmax (lowering/generic_rules.py
``_row_reduce``, schedules/cpu_generic.py ``rows_blocked``): every part of a row (groups of
vector accumulators, whole vectors left, the guarded tail vector, the lane tree) is
exercised by row lengths around multiples of the vector width, against numpy."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm
from tvmsym.runtime import executor

L32 = _tvm.vector_bytes() // 4          # float32 lanes
A = 4                                   # lowering.machine.ACCUMULATORS
# row lengths: below one vector, one vector, whole groups of A vectors, groups + vectors
# + tail, a tail of one
LENGTHS = sorted({1, 2, L32 - 1, L32, L32 + 1, A * L32, A * L32 + 1, A * L32 + L32 + 3,
                  3 * A * L32 + 2 * L32 - 1, 1001})


def _builds():
    return executor.build_stats["builds"]


class _Rows:
    """One function per reduction (reductions of one input in one function fuse into a
    multi-output SiblingReduce kernel, which is specialized), softmaxes together."""

    def __init__(self):
        x = T.matrix("x")
        self.fns = [tvmsym.function([x], e) for e in (T.max(x, axis=1), T.min(x, axis=1),
                                                       T.sum(x, axis=1), T.mean(x, axis=1))]
        self.fns.append(tvmsym.function([x], [T.nnet.softmax(x), T.nnet.logsoftmax(x)]))

    def __call__(self, a):
        *r, (sm, lsm) = [f(a) for f in self.fns]
        return (*r, sm, lsm)

    def errors(self):
        return [getattr(f._plan, "_generic_errors", None) for f in self.fns if
                getattr(f._plan, "_generic_errors", None)]


@pytest.fixture(scope="module")
def rows():
    return _Rows()


def _np_softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_row_lengths_one_build(rows):
    rng = np.random.default_rng(11)
    n = None
    for k, m in enumerate(LENGTHS):
        a = (rng.standard_normal((5, m)) * 4).astype("float32")
        mx, mn, s, me, sm, lsm = rows(a)
        np.testing.assert_array_equal(mx, a.max(1))
        np.testing.assert_array_equal(mn, a.min(1))
        a64 = a.astype("float64")
        np.testing.assert_allclose(s, a64.sum(1).astype("float32"), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(me, a64.mean(1).astype("float32"), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(sm, _np_softmax(a), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lsm, np.log(_np_softmax(a64)), rtol=1e-5, atol=1e-5)
        if k == 2:              # (lengths 1 and 2 may be classes of their own)
            n = _builds()
    assert _builds() == n
    assert not rows.errors()


@pytest.mark.parametrize("where", ["group", "vector", "tail"])
def test_nan_and_inf_in_each_part_of_a_row(rows, where):
    m = 3 * A * L32 + 2 * L32 + 3
    col = {"group": 5, "vector": 3 * A * L32 + L32 + 1, "tail": m - 1}[where]
    a = np.random.default_rng(12).standard_normal((4, m)).astype("float32")
    a[0, col] = np.nan
    a[1, col] = np.inf
    a[2, :] = -np.inf
    a[3, col] = -np.inf
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, mn, s, _, sm, lsm = rows(a)
        np.testing.assert_array_equal(mx, a.max(1))
        np.testing.assert_array_equal(mn, a.min(1))
        np.testing.assert_array_equal(s, a.astype("float64").sum(1).astype("float32"))
        ref = _np_softmax(a)
        np.testing.assert_allclose(sm, ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lsm, np.log(_np_softmax(a.astype("float64"))), rtol=1e-5,
                                   atol=1e-5)
    assert np.isnan(sm[0]).all() and np.isnan(sm[2]).all()


def test_column_sums_bit_for_bit_in_row_order():
    """sum(axis=0) adds the rows in order (4 at a time, the accumulator in a register):
    float64 input gives numpy's row-by-row sum bit for bit, at any row count."""
    x = T.matrix("x", dtype="float64")
    f = tvmsym.function([x], [T.sum(x, axis=0), T.max(x, axis=0), T.prod(x, axis=0)])
    rng = np.random.default_rng(13)
    for shp in [(1, 7), (3, 5), (4, 17), (5, L32 + 3), (9, 2 * L32), (103, 33)]:
        a = rng.standard_normal(shp) * 1e3
        s, mx, p = f(a)
        np.testing.assert_array_equal(s, np.add.reduce(a, axis=0))
        np.testing.assert_array_equal(mx, a.max(0))
        np.testing.assert_array_equal(p, np.multiply.reduce(a, axis=0))
    assert not getattr(f._plan, "_generic_errors", None)


def test_nan_max_is_vectorized():
    """The NaN-propagating max keeps TVM's vector loop (a ``tirx.isnan`` in it made TVM
    scalarize the loop, which LLVM then re-vectorized across rows with gathers and
    scatters: a column max 10x slower): vector compares of whole float32 vectors, no
    gather or scatter."""
    x, v = T.matrix("x"), T.vector("v")
    for ins, expr in (([x], T.max(x, axis=0)), ([x], T.max(x, axis=1)), ([v], T.min(v))):
        ll = tvmsym.function(ins, expr).as_text("llvm")
        assert any("fcmp" in line and f"<{L32} x float>" in line for line in ll.splitlines())
        assert "masked.gather" not in ll and "masked.scatter" not in ll


def test_softmax_has_no_row_buffer():
    """exp(x - max) goes to the output row, scaled in place: no intermediate buffer of the
    row's symbolic length (it was allocated per row inside the parallel loop)."""
    x = T.matrix("x")
    f = tvmsym.function([x], T.nnet.softmax(x))
    tir = f.as_text("tir")
    assert "T.int32()" in tir               # generic kernel
    assert "_exp = T.sblock_alloc_buffer" not in tir
    a = np.random.default_rng(14).standard_normal((6, 37)).astype("float32")
    np.testing.assert_allclose(f(a), _np_softmax(a), rtol=1e-5, atol=1e-7)
