"""``zeros_scatter`` (rewrites/zeros_scatter.py): ``inc_subtensor(zeros[idx], y)`` gives the
same bits as ``numpy.add.at`` on zeros (duplicates summed in their order, -0.0, NaN, Inf,
negative indices, integer wrap) and raises numpy's IndexError."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.symbolic.rewrites.zeros_scatter import ScatterRowsIntoZeros


@pytest.fixture(scope="module")
def fns():
    out = {}
    for dt in ("float32", "float64", "int32"):
        y, i = T.matrix("y", dtype=dt), T.lvector("i")
        n = T.lscalar("n")
        g = T.inc_subtensor(T.zeros((n, y.shape[1]), dtype=dt)[i], y)
        f = theano.function([y, i, n], g)
        assert any(isinstance(nd.op, ScatterRowsIntoZeros) for nd in f.maker.fgraph.toposort())
        out[dt] = f
    return out


def _ref(y, i, n):
    z = np.zeros((n, y.shape[1]), y.dtype)
    np.add.at(z, i, y)
    return z


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
@pytest.mark.parametrize("m,k,n", [(0, 3, 4), (1, 1, 1), (7, 5, 3), (300, 17, 20), (2000, 3, 40)])
def test_same_bits_as_add_at(fns, dt, m, k, n):
    rng = np.random.default_rng(m + k)
    if dt == "int32":
        y = rng.integers(-2**31, 2**31 - 1, size=(m, k), dtype=np.int32)    # wraps
    else:
        y = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-6, 6, size=(m, k))).astype(dt)
    i = rng.integers(-n, n, size=m)
    np.testing.assert_array_equal(fns[dt](y, i, n), _ref(y, i, n))


def test_special_values(fns):
    y = np.array([[-0.0, np.nan], [-0.0, 1.0], [np.inf, -np.inf], [1.0, np.inf]], "float64")
    i = np.array([0, 0, 1, 1])
    got, want = fns["float64"](y, i, 2), _ref(y, i, 2)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_index_out_of_bounds(fns):
    with pytest.raises(IndexError, match="out of bounds"):
        fns["float64"](np.ones((2, 3)), np.array([0, 5]), 4)
    with pytest.raises(IndexError, match="out of bounds"):
        fns["float64"](np.ones((2, 3)), np.array([0, -5]), 4)
