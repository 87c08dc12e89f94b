"""The general call loop (builds with host steps, e.g. a scan): reshapes of intermediates
are numpy views (no kernel), intermediate buffers are kept for the next call, and a scan's
results are taken without a copy.  None of it may change a number or let a returned array
change under the user (numpy is the oracle)."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.runtime.steps import Kind


def _build(f):
    return list(f._builds.values())[-1]


@pytest.fixture(scope="module")
def fn():
    X = T.tensor3("X", dtype="float64")
    h0 = T.matrix("h0", dtype="float64")
    hs, _ = theano.scan(lambda x_t, h: T.tanh(x_t + h), sequences=X, outputs_info=h0)
    a = hs * 2.0                                    # an intermediate
    b = a.reshape((hs.shape[0] * hs.shape[1], hs.shape[2]))     # its view
    c = b + 1.0                                     # may be made inplace on b
    d = T.exp(a).flatten()                          # a flattened intermediate, returned
    e = X.reshape((X.shape[0], -1))                 # a reshape of an input, returned
    f = theano.function([X, h0], [c, a.sum(), d, e, hs])
    return f


def _ref(x, h0):
    hs, h = [], h0
    for t in range(len(x)):
        h = np.tanh(x[t] + h)
        hs.append(h)
    hs = np.array(hs)
    a = hs * 2.0
    return [a.reshape(-1, a.shape[2]) + 1.0, a.sum(), np.exp(a).ravel(), x.reshape(len(x), -1), hs]


def _vals(seed, n=4, b=3, k=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, b, k)), rng.standard_normal((b, k))


def test_general_loop_with_views_matches_numpy(fn):
    x, h0 = _vals(0)
    out = fn(x, h0)
    b = _build(fn)
    assert any(r.kind is Kind.HOST for r in b.prog) and b._fast is None   # the general loop
    assert b._reshape_views()           # at least one reshape runs as a view
    for got, want in zip(out, _ref(x, h0)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_returned_arrays_do_not_change_at_the_next_call(fn):
    x1, h1 = _vals(1)
    first = fn(x1, h1)
    kept = [np.array(o, copy=True) for o in first]
    for seed in (2, 3):
        x2, h2 = _vals(seed)
        second = fn(x2, h2)
        for got, want in zip(second, _ref(x2, h2)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    for o, k in zip(first, kept):
        np.testing.assert_array_equal(o, k)


def test_no_output_aliases_an_input_or_another_output(fn):
    x, h0 = _vals(4)
    x_keep = x.copy()
    out = fn(x, h0)
    np.testing.assert_array_equal(x, x_keep)
    assert not np.shares_memory(out[3], x)          # the input's reshape is its own array
    x[...] = 7.0
    np.testing.assert_array_equal(out[3], x_keep.reshape(len(x_keep), -1))
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            assert not np.shares_memory(np.asarray(out[i]), np.asarray(out[j]))


def test_released_buffers_are_reused(fn):
    x, h0 = _vals(5)
    fn(x, h0)
    pool = _build(fn)._general_pool
    before = {s: id(a) for s, a in pool.items()}
    assert before                   # intermediates kept for the next call
    fn(x, h0)                       # (the first call's outputs were dropped)
    assert any(before[s] == id(a) for s, a in pool.items() if s in before)
