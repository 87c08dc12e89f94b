"""Shape-generic basic indexing and alloc (lowering/generic_index.py): constant integer
indices and slices on symbolic sizes, their increments/sets (gradients), alloc; one build
serves many shapes, results equal numpy's (odd sizes, 1, empty where legal), generic and
specialize=True; a small RNN step changes sequence length and batch without a build."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import executor

SHAPES = [(7, 31), (1, 9), (31, 1), (1000, 3), (2, 2), (5, 0)]


def _builds():
    return executor.build_stats["builds"]


CASES = {
    "last row": (lambda x: x[-1] * 2, lambda a: a[-1] * 2),
    "first col": (lambda x: x[:, 0] + 1, lambda a: a[:, 0] + 1),
    "reversed": (lambda x: x[::-1] * x, lambda a: a[::-1] * a),
    "every 2nd, reversed cols": (lambda x: x[::2, ::-1] - 1, lambda a: a[::2, ::-1] - 1),
    "from 1": (lambda x: x[1:] * 3, lambda a: a[1:] * 3),            # n - 1: specialized
    "inc last row": (lambda x: T.inc_subtensor(x[-1], x[0]), None),
    "set first col": (lambda x: T.set_subtensor(x[:, 0], x[:, -1] * 2), None),
    "inc reversed": (lambda x: T.inc_subtensor(x[::-1], x), lambda a: a + a[::-1]),
    "alloc": (lambda x: T.alloc(np.float32(1.5), x.shape[0], x.shape[1]) + x, lambda a: a + 1.5),
    "zeros_like + row": (lambda x: T.zeros_like(x) + x[-1], lambda a: np.zeros_like(a) + a[-1]),
}


#: output lengths derived from the size (n - 1, ceil(n / 2)): specialized, only checked
DERIVED = {"from 1", "every 2nd, reversed cols"}


def _inc_last(a):
    r = a.copy()
    r[-1] += a[0]
    return r


def _set_first(a):
    r = a.copy()
    r[:, 0] = a[:, -1] * 2
    return r


REFS = {"inc last row": _inc_last, "set first col": _set_first}


@pytest.fixture(scope="module")
def funcs():
    out = {}
    for name, (make, _) in CASES.items():
        x = T.fmatrix("x")
        out[name] = {spec: tvmsym.function([x], make(x), specialize=spec) for spec in (False, True)}
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_index_ops_any_shape(funcs, name):
    ref = CASES[name][1] or REFS[name]
    rng = np.random.default_rng(0)
    for spec in (False, True):
        f = funcs[name][spec]
        counts = []
        for shp in (SHAPES if not spec else SHAPES[:3]):     # (specialized: a build per shape)
            a = rng.standard_normal(shp).astype("float32")
            try:
                want = ref(a)
            except IndexError:
                with pytest.raises(IndexError):     # x[-1] of an empty axis: both refuse
                    f(a)
                continue
            before = _builds()
            got = f(a)
            counts.append(_builds() - before)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        if not spec and name not in DERIVED:
            # besides the first shape: the (2, 2) square and the empty class patterns
            assert sum(counts[1:]) <= 2, counts
            assert not f._plan.__dict__.get("_generic_errors")


def test_rnn_sequence_length_and_batch_build_nothing():
    """scan over a sequence (h[-1], the gradient's increments, alloc of the zero gradient)."""
    rng = np.random.default_rng(1)
    W0 = rng.standard_normal((6, 8)).astype("float32") * np.float32(0.3)
    U0 = rng.standard_normal((8, 8)).astype("float32") * np.float32(0.3)
    X, h0 = T.tensor3("X"), T.fmatrix("h0")
    W, U = tvmsym.shared(W0.copy(), name="W"), tvmsym.shared(U0.copy(), name="U")
    hs, _ = tvmsym.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U)), sequences=X, outputs_info=h0)
    loss = (hs[-1] ** 2).sum(axis=1).mean()
    gW, gU = T.grad(loss, [W, U])
    f = tvmsym.function([X, h0], [loss, gW, gU])
    counts = []
    for t, b in ((20, 16), (13, 16), (20, 5), (3, 1), (1, 7)):
        xv = rng.standard_normal((t, b, 6)).astype("float32")
        hv = rng.standard_normal((b, 8)).astype("float32") * np.float32(0.1)
        before = _builds()
        lv, gw, gu = f(xv, hv)
        counts.append(_builds() - before)
        # numpy: forward and backpropagation through time
        hs_ = [hv.astype("f8")]
        for k in range(t):
            hs_.append(np.tanh(xv[k] @ W0 + hs_[-1] @ U0))
        h = hs_[-1]
        np.testing.assert_allclose(lv, (h * h).sum(1).mean(), rtol=1e-4)
        g = 2 * h / b
        GW, GU = np.zeros_like(W0, "f8"), np.zeros_like(U0, "f8")
        for k in range(t, 0, -1):
            d = g * (1 - hs_[k] ** 2)
            GW += xv[k - 1].T @ d
            GU += hs_[k - 1].T @ d
            g = d @ U0.T
        np.testing.assert_allclose(gw, GW, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(gu, GU, rtol=1e-3, atol=1e-5)
    assert counts[0] >= 1 and sum(counts[1:]) == 0, counts
