"""schedules/cpu_transpose.py: a written-out 2-d transpose in tiles gives numpy's values at
whole-tile, partial-tile and smaller-than-a-tile shapes, every dtype; the scan gradient's
hoisted ``U.T`` (built per shape: runtime/inner.py ``#pre``) uses it."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym._tvm import vector_bytes
from tvmsym.schedules.cpu_transpose import transpose_rule
from tvmsym.schedules.registry import rules


@pytest.fixture(scope="module", params=["float32", "float64", "int32", "int8"])
def fn(request):
    dt = request.param
    U = T.matrix("U", dtype=dt)
    return dt, theano.function([U], U.T * 1, specialize=True)


def test_registered_first():
    assert rules("llvm")[0] is transpose_rule or transpose_rule in rules("llvm")[:3]


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (33, 17), (1, 40), (64, 256), (256, 256)])
def test_values(fn, shape):
    dt, f = fn
    lanes = max(1, vector_bytes() // np.dtype(dt).itemsize)
    rng = np.random.default_rng(0)
    for sh in (shape, (lanes, 2 * lanes), (2 * lanes + 1, lanes + 3)):
        a = (rng.standard_normal(sh) * 50).astype(dt)
        out = f(a)
        assert out.shape == sh[::-1] and out.flags.c_contiguous
        np.testing.assert_array_equal(out, a.T)


def test_special_values_float():
    U = T.matrix("U", dtype="float64")
    f = theano.function([U], U.T * 1, specialize=True)
    a = np.array([[np.nan, -0.0, np.inf] * 8, [1.0, -np.inf, 0.0] * 8] * 16)
    out = f(a)
    np.testing.assert_array_equal(out, a.T)
    assert np.array_equal(np.signbit(out), np.signbit(a.T))
