"""Shape-generic reshape / flatten / join / stack / split, row lookups (``W[idx]``,
``p[arange(n), y]``) and derived sizes (lowering/generic_shape_ops.py,
symbolic_shapes.py): one build serves many shapes, results equal numpy's at 1, 7, 31,
1000 and empty, generic and ``specialize=True``; gradients by finite differences; the
LSTM text model of bench/bench_lstm.py (small) builds once for many sequence lengths
and batch sizes."""
import os
import sys

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import verify_grad
from tvmsym.runtime import executor

SIZES = [7, 1, 31, 1000]


def _builds():
    return executor.build_stats["builds"]


CASES = {
    # name: (make(x, y, i), numpy(a, b, i), shapes(n) of (x, y))
    "flatten": (lambda x, y, i: T.flatten(x * 2), lambda a, b, i: (a * 2).reshape(-1)),
    "flatten transposed": (lambda x, y, i: T.flatten(x.T + 1), lambda a, b, i: (a.T + 1).reshape(-1)),
    "reshape rows": (lambda x, y, i: (x + 1).reshape((x.shape[0] * 3, -1)),
                     lambda a, b, i: (a + 1).reshape(a.shape[0] * 3, -1)),
    "reshape 3d": (lambda x, y, i: (x * y).reshape((x.shape[0], 3, 4)),
                   lambda a, b, i: (a * b).reshape(a.shape[0], 3, 4)),
    "join rows": (lambda x, y, i: T.concatenate([x, y * 2, x], axis=0),
                  lambda a, b, i: np.concatenate([a, b * 2, a], axis=0)),
    "join cols": (lambda x, y, i: T.concatenate([x, y], axis=1) - 1,
                  lambda a, b, i: np.concatenate([a, b], axis=1) - 1),
    "stack": (lambda x, y, i: T.stack([x, y], axis=1), lambda a, b, i: np.stack([a, b], axis=1)),
    "split rows": (lambda x, y, i: T.split(x, [1, x.shape[0] - 1], 2, axis=0)[1] * 3,
                   lambda a, b, i: a[1:] * 3),
    "take rows": (lambda x, y, i: x[i] * 2, lambda a, b, i: a[i] * 2),
    "take flat": (lambda x, y, i: x[i.flatten() if i.ndim > 1 else i].sum(axis=1),
                  lambda a, b, i: a[i].sum(axis=1)),
    "pick per row": (lambda x, y, i: x[T.arange(x.shape[0]), i % x.shape[1]],
                     lambda a, b, i: a[np.arange(a.shape[0]), i % a.shape[1]]),
}


def _inputs(rng, name, n):
    a = rng.standard_normal((n, 12)).astype("float32")
    b = rng.standard_normal((n, 12)).astype("float32")
    if name == "take rows" or name == "take flat":
        i = rng.integers(-n, n, size=2 * n + 1) if n else np.zeros(0, "int64")
    else:
        i = rng.integers(0, 12, size=n)
    return a, b, i.astype("int64")


@pytest.fixture(scope="module")
def funcs():
    out = {}
    for name, (make, _) in CASES.items():
        x, y, i = T.fmatrix("x"), T.fmatrix("y"), T.lvector("i")
        e = make(x, y, i)
        out[name] = {spec: tvmsym.function([x, y, i], e, specialize=spec, on_unused_input="ignore")
                     for spec in (False, True)}
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_shape_ops_one_build_any_size(funcs, name):
    ref = CASES[name][1]
    rng = np.random.default_rng(0)
    f, fs = funcs[name][False], funcs[name][True]
    counts = []
    for n in SIZES:
        a, b, i = _inputs(rng, name, n)
        before = _builds()
        got = f(a, b, i)
        counts.append(_builds() - before)
        want = ref(a, b, i)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        if n in (7, 31):        # specialized: the same answers (a build per shape)
            np.testing.assert_allclose(fs(a, b, i), want, rtol=1e-6, atol=1e-6)
    if name == "pick per row":
        # arange(n) is a build-time value up to 64 rows, a kernel beyond: the first large
        # size builds that one kernel, lent to every later size
        assert sum(counts[1:]) <= 1, counts
        a, b, i = _inputs(rng, name, 777)
        before = _builds()
        np.testing.assert_allclose(f(a, b, i), ref(a, b, i), rtol=1e-6)
        assert _builds() == before
    else:
        assert sum(counts[1:]) == 0, counts
    assert not f._plan.__dict__.get("_generic_errors"), f._plan.__dict__.get("_generic_errors")


@pytest.mark.parametrize("name", ["flatten", "reshape 3d", "join rows", "stack", "take rows",
                                  "pick per row"])
def test_shape_ops_empty(funcs, name):
    ref = CASES[name][1]
    a, b, i = _inputs(np.random.default_rng(1), name, 0)
    want = ref(a, b, i)
    got = funcs[name][False](a, b, i)
    assert got.shape == want.shape and got.dtype == want.dtype


def test_split_pieces_any_size():
    """A split's pieces are one kernel with one loop nest per piece (derived sizes)."""
    x = T.fmatrix("x")
    p = T.split(x, [2, x.shape[1] - 5, 3], 3, axis=1)
    f = tvmsym.function([x], [p[0] * 2, p[1] + 1, p[2] - 1])
    rng = np.random.default_rng(2)
    counts = []
    for n, m in [(7, 9), (1, 5), (31, 40), (1000, 33)]:
        a = rng.standard_normal((n, m)).astype("float32")
        before = _builds()
        r = f(a)
        counts.append(_builds() - before)
        for got, want in zip(r, [a[:, :2] * 2, a[:, 2:m - 3] + 1, a[:, m - 3:] - 1]):
            np.testing.assert_array_equal(got, want)
    assert sum(counts[1:]) == 0, counts


def test_derived_rows_feed_a_product():
    """``W[x.flatten()].reshape((n, b, d))`` (an embedding) then ``. V``: rows n * b are a
    derived size the product runs on generically."""
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((50, 8)).astype("float32")
    V0 = rng.standard_normal((8, 16)).astype("float32")
    W, V = tvmsym.shared(W0, name="W"), tvmsym.shared(V0, name="V")
    x = T.lmatrix("x")
    e = W[x.flatten()].reshape((x.shape[0], x.shape[1], 8))
    out = T.tanh(T.dot(e, V)).sum(axis=2)
    f = tvmsym.function([x], out)
    counts = []
    for n, b in [(5, 3), (9, 3), (1, 3), (40, 3), (7, 2), (3, 1)]:
        xv = rng.integers(0, 50, size=(n, b))
        before = _builds()
        got = f(xv)
        counts.append(_builds() - before)
        np.testing.assert_allclose(got, np.tanh(W0[xv] @ V0).sum(axis=2), rtol=1e-5, atol=1e-5)
    assert sum(counts[1:]) == 0, counts


@pytest.mark.parametrize("which", ["take rows", "reshape", "join", "split", "pick"])
def test_gradients_finite_differences(which):
    rng = np.random.default_rng(4)
    idx = np.array([3, 0, 3, -1, 2], "int64")
    if which == "take rows":
        def fn(w):
            return T.tanh(w[T.constant(idx)]) * 2
        pt = [rng.standard_normal((5, 4))]
    elif which == "reshape":
        def fn(a):
            return T.sin(a.reshape((a.shape[0] * 2, -1))) * a.flatten()[0]
        pt = [rng.standard_normal((3, 4))]
    elif which == "join":
        def fn(a, b):
            return T.concatenate([a * b, T.tanh(b)], axis=1)
        pt = [rng.standard_normal((3, 2)), rng.standard_normal((3, 2))]
    elif which == "split":
        def fn(a):
            p = T.split(a, [1, a.shape[0] - 1], 2, axis=0)
            return (p[0] * 3).sum() + T.sin(p[1])
        pt = [rng.standard_normal((4, 3))]
    else:
        def fn(a):
            return T.log(T.nnet.softmax(a)[T.arange(a.shape[0]), T.constant(np.array([1, 0, 2]))])
        pt = [rng.standard_normal((3, 4))]
    verify_grad(fn, pt, rng=rng)


def _lstm():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
    try:
        import bench_lstm as B
    finally:
        sys.path.pop(0)
    return B


def test_small_lstm_builds_once_for_many_lengths():
    """The LSTM text model (bench/bench_lstm.py: embedding lookup, reshape, scan, mean
    pooling, softmax classifier, SGD) with small dims: the first length builds, the next
    three, and two new batch sizes, build nothing; each step equals the numpy
    forward+backward+SGD step."""
    B = _lstm()
    saved = (B.N_WORDS, B.DIM, B.BATCH)
    B.N_WORDS, B.DIM, B.BATCH = 300, 16, 4
    try:
        params = B.init_params(seed=5)
        train, forward, shared = B.tvmsym_model(params)
        P = [p.copy() for p in params]
        rng = np.random.default_rng(6)
        counts = []
        for length in (9, 5, 17, 1):
            x, mask, y = B.minibatch(rng, length)
            want = B.numpy_step(x, mask, y, P)
            before = _builds()
            got = train(x, mask, y)
            counts.append(_builds() - before)
            np.testing.assert_allclose(got, want, rtol=1e-4)
            for s, p in zip(shared, P):
                np.testing.assert_allclose(s.get_value(), p, rtol=2e-3, atol=2e-5)
        assert counts[0] >= 1 and counts[1:] == [0, 0, 0], counts
        # a new batch size: no kernel and no scan loop built either (scan_loop reads its
        # extents from a table per call)
        from tvmsym.runtime.scan_loop import loop_stats
        for batch, length in ((3, 6), (7, 11)):
            B.BATCH = batch
            x, mask, y = B.minibatch(rng, length)
            want = B.numpy_step(x, mask, y, P)
            before, loops = _builds(), loop_stats["compiled"]
            np.testing.assert_allclose(train(x, mask, y), want, rtol=1e-4)
            assert (_builds(), loop_stats["compiled"]) == (before, loops)
            for s, p in zip(shared, P):
                np.testing.assert_allclose(s.get_value(), p, rtol=2e-3, atol=2e-5)
    finally:
        B.N_WORDS, B.DIM, B.BATCH = saved


def test_deep_reshapes_stay_specialized():
    """A reshape whose input + output dims exceed RESHAPE_GENERIC_DIMS keeps per-shape kernels
    (the generic one's div/mod chains took LLVM 78 s on kron's 6-d -> 3-d); shallower ones
    are generic; both equal numpy."""
    from tvmsym.lowering import symbolic_shapes as ss
    z, y = T.dtensor3("z"), T.dmatrix("y")
    deep = T.mul(z.dimshuffle(0, "x", 1, "x", 2, "x"), y.dimshuffle("x", "x", "x", 0, "x", 1))
    out = deep.reshape((z.shape[0], z.shape[1] * y.shape[0], z.shape[2] * y.shape[1]))
    assert not ss.accepts_reshape(out.owner)
    assert ss.accepts_reshape(z.reshape((z.shape[0], -1)).owner)
    f = tvmsym.function([z, y], out)
    rng = np.random.default_rng(3)
    for n in (2, 5):
        a, b = rng.standard_normal((n, 3, 3)), rng.standard_normal((4, 2))
        want = np.stack([np.kron(a[i], b) for i in range(n)])
        np.testing.assert_array_equal(f(a, b), want)
