"""Basic slices are views: a kernel that reads ``x[a:b]`` reads ``x`` in place (no copy kernel).

``lowering/lower.py`` (``is_slice_view``) inlines a basic ``Subtensor`` (constant indices, or
slice starts/stops known only at call time) into the elementwise and reduction kernels that
read it, as DimShuffle views already are; any other reader (a product, a host step, a function
output) gets the slice as its own buffer.  A slice is a view for the inplace stage too (its
``view_map``): no kernel writes into its base through it.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import function


def _steps(f):
    return list(f._plan.steps)


def _slice_steps(f):
    return [s for s in _steps(f) if type(s.node.op).__name__ == "Subtensor"]


def _sig(a):
    return 1 / (1 + np.exp(-a))


# --------------------------------------------------------------------------- LSTM gates
def _lstm_cell(n):
    z, c = T.dmatrix("z"), T.dmatrix("c")
    i = T.nnet.sigmoid(z[:, 0:n])
    f = T.nnet.sigmoid(z[:, n:2 * n])
    o = T.nnet.sigmoid(z[:, 2 * n:3 * n])
    g = T.tanh(z[:, 3 * n:4 * n])
    c2 = f * c + i * g
    return [z, c], [o * T.tanh(c2), c2]


@pytest.fixture(scope="module")
def lstm5():
    ins, outs = _lstm_cell(5)
    return function(ins, outs)


def _lstm_ref(zv, cv, n):
    c2 = _sig(zv[:, n:2 * n]) * cv + _sig(zv[:, :n]) * np.tanh(zv[:, 3 * n:4 * n])
    return _sig(zv[:, 2 * n:3 * n]) * np.tanh(c2), c2


def test_lstm_gate_slices_compile_to_one_kernel(lstm5):
    assert not _slice_steps(lstm5)
    assert len(_steps(lstm5)) == 1, [str(s.node.op) for s in _steps(lstm5)]


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_lstm_gate_slices_match_numpy(lstm5, batch):
    rng = np.random.default_rng(batch)
    zv, cv = rng.standard_normal((batch, 20)), rng.standard_normal((batch, 5))
    zc, cc = zv.copy(), cv.copy()
    h, c2 = lstm5(zv, cv)
    rh, rc = _lstm_ref(zv, cv, 5)
    np.testing.assert_allclose(h, rh, rtol=1e-12)
    np.testing.assert_allclose(c2, rc, rtol=1e-12)
    np.testing.assert_array_equal(zv, zc)      # the user's arrays are never written
    np.testing.assert_array_equal(cv, cc)


def test_lstm_gates_float32_odd_width():
    ins, outs = _lstm_cell(7)
    z, c = ins
    f = function([z, c], outs)
    assert not _slice_steps(f)
    rng = np.random.default_rng(0)
    zv, cv = rng.standard_normal((5, 28)), rng.standard_normal((5, 7))
    for a, b in zip(f(zv, cv), _lstm_ref(zv, cv, 7)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# --------------------------------------------------------------------------- slices
X = np.arange(7.0) * 1.5 - 2.0
M = np.arange(35.0).reshape(5, 7) / 7 - 1


@pytest.mark.parametrize("case", [
    ("neg step", lambda x: T.exp(x[::-2]) + 1, lambda x: np.exp(x[::-2]) + 1),
    ("neg step bounds", lambda x: x[5:1:-1] * 3, lambda x: x[5:1:-1] * 3),
    ("empty", lambda x: x[3:1] * 2, lambda x: x[3:1] * 2),
    ("empty sum", lambda x: (x[3:1] * 2).sum(), lambda x: np.float64(0)),
    ("reversed sum", lambda x: x[::-1].sum(), lambda x: x[::-1].sum()),
    ("int index", lambda x: T.exp(x[2]) + x[-1], lambda x: np.exp(x[2]) + x[-1]),
    ("through dimshuffle", lambda x: T.exp(x[2:5].dimshuffle("x", 0)) * 2,
     lambda x: np.exp(x[2:5])[None] * 2),
    ("two slices", lambda x: x[1:] - x[:-1], lambda x: x[1:] - x[:-1]),
])
def test_vector_slices_are_read_in_place(case):
    _, make, ref = case
    x = T.dvector("x")
    f = function([x], make(x))
    assert not _slice_steps(f)
    np.testing.assert_allclose(f(X), ref(X), rtol=1e-12)


@pytest.mark.parametrize("case", [
    ("columns step", lambda m: T.tanh(m[:, 1:6:2]), lambda m: np.tanh(m[:, 1:6:2])),
    ("rows reversed", lambda m: m[::-1, 2:] * m[::-1, :-2], lambda m: m[::-1, 2:] * m[::-1, :-2]),
    ("row", lambda m: m[3] + 1, lambda m: m[3] + 1),
    ("transposed slice", lambda m: m[1:4, ::3].T + 1, lambda m: m[1:4, ::3].T + 1),
    ("sum over a slice", lambda m: m[:, 2:5].sum(axis=1), lambda m: m[:, 2:5].sum(axis=1)),
    ("max over a slice", lambda m: m[1:, ::-2].max(axis=0), lambda m: m[1:, ::-2].max(axis=0)),
    ("empty columns", lambda m: T.exp(m[:, 4:4]), lambda m: np.exp(m[:, 4:4])),
])
def test_matrix_slices_are_read_in_place(case):
    _, make, ref = case
    m = T.dmatrix("m")
    f = function([m], make(m))
    assert not _slice_steps(f)
    out = f(M)
    np.testing.assert_allclose(out, ref(M), rtol=1e-12)
    assert out.shape == ref(M).shape


def test_symbolic_bounds():
    x = T.dvector("x")
    a, b = T.lscalar("a"), T.lscalar("b")
    f = function([x, a, b], T.exp(x[a:b]) * 2)
    assert not _slice_steps(f)
    for lo, hi in [(1, 4), (-3, 100), (4, 2), (0, 7), (-100, -2)]:
        np.testing.assert_allclose(f(X, lo, hi), np.exp(X[lo:hi]) * 2, rtol=1e-12)


def test_symbolic_step_and_index_keep_their_checks():
    x = T.dvector("x")
    i, s = T.lscalar("i"), T.lscalar("s")
    f = function([x, i], T.exp(x[i]) + 1)
    np.testing.assert_allclose(f(X, -2), np.exp(X[-2]) + 1)
    with pytest.raises(IndexError):
        f(X, 7)
    g = function([x, s], x[::s] * 2)
    np.testing.assert_allclose(g(X, -3), X[::-3] * 2)


def test_a_product_reads_a_copy_and_results_agree():
    m, w = T.dmatrix("m"), T.dmatrix("w")
    f = function([m, w], T.dot(m[:, 1:4], w) + T.exp(m[:, 0:4]))
    wv = np.arange(12.0).reshape(3, 4) / 10
    np.testing.assert_allclose(f(M, wv), M[:, 1:4] @ wv + np.exp(M[:, 0:4]), rtol=1e-12)


# --------------------------------------------------------------------------- aliasing
def test_inplace_never_writes_through_a_slice():
    """An intermediate read through two slices: an inplace kernel reading one slice must not
    write into the base the other slice still reads."""
    m = T.dmatrix("m")
    z = m * 2.0
    outs = [T.exp(z[:, :3]) + 1, z[:, 3:] * 3, T.tanh(z[:, ::2])]
    f = function([m], outs)
    assert not _slice_steps(f)
    zv = M * 2
    for a, b in zip(f(M), [np.exp(zv[:, :3]) + 1, zv[:, 3:] * 3, np.tanh(zv[:, ::2])]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_sliced_outputs_do_not_alias_across_calls_or_inputs():
    m = T.dmatrix("m")
    z = T.exp(m)
    f = function([m], [z[:, 1:3], m[::-1], z[2], z])
    mv = M.copy()
    r1 = f(mv)
    kept = [np.array(r) for r in r1]
    r2 = f(mv + 1)
    for a, b in zip(r1, kept):                      # the second call left the first's results
        np.testing.assert_array_equal(a, b)
    for a, b in zip(r2, [np.exp(M + 1)[:, 1:3], (M + 1)[::-1], np.exp(M + 1)[2], np.exp(M + 1)]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    r1[1][...] = 0                                  # writing a result never writes the input
    np.testing.assert_array_equal(mv, M)


def test_slices_of_shared_values_in_an_update_step():
    w = tvmsym.shared(M.copy(), name="w")
    x = T.dmatrix("x")
    out = T.sum(T.tanh(w[:, :3]) * x)
    f = function([x], out, updates=[(w, w * 0.5)])
    xv = np.ones((5, 3))
    a = f(xv)
    np.testing.assert_allclose(a, np.sum(np.tanh(M[:, :3]) * xv), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), M * 0.5)
    np.testing.assert_allclose(f(xv), np.sum(np.tanh(M[:, :3] * 0.5) * xv), rtol=1e-12)


# --------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@pytest.mark.parametrize("shape", [(1, 1), (0, 3), (7, 5), (33, 17)])
def test_elementwise_producers_run_inside_their_reduction(dtype, shape):
    """``sum(x * w)``, ``max(x[:, 1:] - x[:, :-1])``: one kernel, no intermediate array."""
    x, w = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype)
    outs = [T.sum(x * w), (x * x + w).sum(axis=1), (x[:, 1:] - x[:, :-1]).sum(axis=0)]
    if shape[0]:
        outs.append((x - w).max(axis=0))
    f = function([x, w], outs)
    assert len(_steps(f)) == len(outs), [str(s.node.op) for s in _steps(f)]
    rng = np.random.default_rng(1)
    if dtype == "int32":     # integer wrap as numpy's
        xv = rng.integers(-2**20, 2**20, shape).astype(dtype)
        wv = rng.integers(-2**15, 2**15, shape).astype(dtype)
    else:
        xv, wv = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    ref = [np.sum(xv * wv), (xv * xv + wv).sum(axis=1), (xv[:, 1:] - xv[:, :-1]).sum(axis=0)]
    if shape[0]:
        ref.append((xv - wv).max(axis=0))
    tol = dict(rtol=2e-5, atol=1e-4) if dtype == "float32" else dict(rtol=1e-12)
    for a, b in zip(f(xv, wv), ref):
        assert np.asarray(a).dtype == np.asarray(b).dtype or dtype != "int32"
        np.testing.assert_allclose(a, b, **tol)


def test_nan_and_inf_go_through_a_fused_reduction():
    x = T.dvector("x")
    f = function([x], [T.sum(x * 0), T.max(T.exp(x)), T.sum(x * x)])
    a, b, c = f(np.array([1.0, np.nan, 2.0]))
    assert np.isnan(a) and np.isnan(b) and np.isnan(c)
    a, b, c = f(np.array([1.0, np.inf]))
    assert np.isnan(a) and b == np.inf and c == np.inf


def test_a_producer_read_twice_keeps_its_buffer():
    x = T.dvector("x")
    y = T.exp(x)
    f = function([x], [y.sum(), y.max()])
    assert any(type(s.node.op).__name__ == "Elemwise" for s in _steps(f))
    xv = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(f(xv), [np.exp(xv).sum(), np.exp(xv).max()], rtol=1e-12)
