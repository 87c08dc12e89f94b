"""Indexing against numpy: basic slicing, symbolic int indices, integer arrays, masks,
set/inc_subtensor and take.  One compiled function per dtype computes every record.

Inputs: x a matrix, t a 3-d tensor, i a symbolic int64 scalar, iv an int64 vector.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T


def _set(a, idx, v):
    b = a.copy()
    b[idx] = v
    return b


def _inc(a, idx, v):
    b = a.copy()
    np.add.at(b, idx, v)
    return b


RECORDS = [
    ("slice1", lambda x, t, i, iv: x[1:], lambda a, c, i, iv: a[1:]),
    ("slice_step", lambda x, t, i, iv: x[1:, ::2], lambda a, c, i, iv: a[1:, ::2]),
    ("neg_step", lambda x, t, i, iv: x[::-1], lambda a, c, i, iv: a[::-1]),
    ("neg_idx_step", lambda x, t, i, iv: x[-1, ::-2], lambda a, c, i, iv: a[-1, ::-2]),
    ("stop_neg", lambda x, t, i, iv: x[:-1, -2:], lambda a, c, i, iv: a[:-1, -2:]),
    ("big_bounds", lambda x, t, i, iv: x[-100:100, 5:], lambda a, c, i, iv: a[-100:100, 5:]),
    ("sym_int", lambda x, t, i, iv: x[i], lambda a, c, i, iv: a[i]),
    ("sym_col", lambda x, t, i, iv: x[:, i], lambda a, c, i, iv: a[:, i]),
    ("t_mixed", lambda x, t, i, iv: t[:, 1:, ::-1], lambda a, c, i, iv: c[:, 1:, ::-1]),
    ("t_int", lambda x, t, i, iv: t[0, i], lambda a, c, i, iv: c[0, i]),
    ("ellipsis", lambda x, t, i, iv: t[..., 0], lambda a, c, i, iv: c[..., 0]),
    ("newaxis", lambda x, t, i, iv: x[None, 1], lambda a, c, i, iv: a[None, 1]),
    ("newaxis_mid", lambda x, t, i, iv: x[:, None], lambda a, c, i, iv: a[:, None]),
    ("adv1", lambda x, t, i, iv: x[iv], lambda a, c, i, iv: a[iv]),
    ("adv_col", lambda x, t, i, iv: x[:, iv], lambda a, c, i, iv: a[:, iv]),
    ("adv_pair", lambda x, t, i, iv: x[iv, iv], lambda a, c, i, iv: a[iv, iv]),
    ("adv_list", lambda x, t, i, iv: x[[0, -1]], lambda a, c, i, iv: a[[0, -1]]),
    ("adv_t_front", lambda x, t, i, iv: t[iv, :, iv], lambda a, c, i, iv: c[iv, :, iv]),
    ("adv_t_mid", lambda x, t, i, iv: t[1:, iv], lambda a, c, i, iv: c[1:, iv]),
    ("mask", lambda x, t, i, iv: x[x > 2], lambda a, c, i, iv: a[a > 2]),
    ("mask_then_op", lambda x, t, i, iv: x[x > 2] * 2 + 1, lambda a, c, i, iv: a[a > 2] * 2 + 1),
    ("set_slice", lambda x, t, i, iv: T.set_subtensor(x[1:], 0), lambda a, c, i, iv: _set(a, np.s_[1:], 0)),
    ("inc_step", lambda x, t, i, iv: T.inc_subtensor(x[:, ::2], 1), lambda a, c, i, iv: _inc(a, np.s_[:, ::2], 1)),
    ("inc_neg_step", lambda x, t, i, iv: T.inc_subtensor(x[::-2], x[0]), lambda a, c, i, iv: _inc(a, np.s_[::-2], a[0])),
    ("set_sym_row", lambda x, t, i, iv: T.set_subtensor(x[i], x[0] * 2), lambda a, c, i, iv: _set(a, i, a[0] * 2)),
    ("set_t", lambda x, t, i, iv: T.set_subtensor(t[:, 0, 1:], 5), lambda a, c, i, iv: _set(c, np.s_[:, 0, 1:], 5)),
    ("inc_adv_dup", lambda x, t, i, iv: T.inc_subtensor(x[iv], 1), lambda a, c, i, iv: _inc(a, iv, 1)),
    ("set_adv", lambda x, t, i, iv: T.set_subtensor(x[:, iv], -1), lambda a, c, i, iv: _set(a, np.s_[:, iv], -1)),
    ("take_axis", lambda x, t, i, iv: T.take(x, iv, 1), lambda a, c, i, iv: np.take(a, iv, 1)),
    ("take_flat", lambda x, t, i, iv: T.take(x, iv), lambda a, c, i, iv: np.take(a, iv)),
    ("take_scalar", lambda x, t, i, iv: x.take(i, 0), lambda a, c, i, iv: np.take(a, i, 0)),
    ("shape_index", lambda x, t, i, iv: t[:, :x.shape[0] - 2], lambda a, c, i, iv: c[:, :a.shape[0] - 2]),
]

_F = {}


def function(dtype):
    if dtype not in _F:
        x, t = T.matrix("x", dtype=dtype), T.tensor3("t", dtype=dtype)
        i, iv = T.lscalar("i"), T.lvector("iv")
        _F[dtype] = tvmsym.function([x, t, i, iv], [r[1](x, t, i, iv) for r in RECORDS])
    return _F[dtype]


# (x shape, t shape, i, iv): iv has repeats and negatives; i is negative in one case
CASES = {"plain": ((4, 3), (3, 4, 3), -2, [0, 2, -1, 0]),
         "ones": ((2, 1), (1, 2, 1), 0, [0, 0, -1]),
         "tall": ((7, 5), (5, 5, 5), 3, [4, -5, 1])}


@pytest.mark.parametrize("dtype,case", [("float32", "plain"), ("float32", "ones"), ("float64", "tall"),
                                        ("int64", "plain"),
                                        pytest.param("int32", "tall", marks=pytest.mark.slow)])
def test_indexing_vs_numpy(dtype, case):
    xs, ts, i, iv = CASES[case]
    rng = np.random.default_rng(0)
    big = rng.integers(-3, 9, size=(xs[0], 2 * xs[1])).astype(dtype)
    a = big[:, ::2]                                # non-contiguous input
    c = rng.integers(-3, 9, size=ts).astype(dtype)
    iv = np.asarray(iv, dtype="int64")
    outs = function(dtype)(a, c, i, iv)
    for (name, _, ref), o in zip(RECORDS, outs):
        r = np.asarray(ref(a, c, i, iv))
        assert o.shape == r.shape, name
        assert o.dtype == r.dtype, name
        np.testing.assert_array_equal(o, r, err_msg=name)
    # the user's arrays are never written
    np.testing.assert_array_equal(a, big[:, ::2])


def test_one_kernel_serves_every_symbolic_index():
    f = function("float32")
    xs, ts, _, iv = CASES["plain"]
    a, c = np.arange(12, dtype="float32").reshape(xs), np.zeros(ts, "float32")
    f(a, c, 0, iv)
    n = len(f._builds)
    for i in (-3, -1, 1, 2):
        out = f(a, c, i, iv)
        np.testing.assert_array_equal(out[6], a[i])
    assert len(f._builds) == n


def test_index_errors_at_call_time():
    f = function("float32")
    xs, ts, _, iv = CASES["plain"]
    a, c = np.zeros(xs, "float32"), np.zeros(ts, "float32")
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        f(a, c, 4, iv)
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 0 with size 4"):
        f(a, c, -5, iv)
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 4"):
        f(a, c, 0, np.array([0, 7], "int64"))
    x = T.matrix("x")
    g = tvmsym.function([x], x[5])
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 2"):
        g(np.zeros((2, 2), "float32"))


def test_index_errors_at_build_time():
    x = T.matrix("x")
    with pytest.raises(IndexError, match="too many indices for a 2-d tensor: 3 given"):
        x[1, 2, 3]
    with pytest.raises(TypeError, match="index must be an integer scalar"):
        x[T.scalar("s")]
    with pytest.raises(IndexError, match="arrays used as indices must be of integer"):
        x[T.vector("fv")]
    with pytest.raises(IndexError, match="an index can only have a single ellipsis"):
        x[..., ...]
    with pytest.raises(TypeError, match="set_subtensor: the first argument must be an indexed tensor"):
        T.set_subtensor(x, 1)
    with pytest.raises(ValueError, match="the value has 3 dimensions, more than the 1"):
        T.set_subtensor(x[0], T.tensor3())


def test_printing_as_theano():
    x, i, iv = T.matrix("x"), T.lscalar("i"), T.lvector("iv")
    assert str(x[1:].owner.op) == "Subtensor{int64::}"
    assert str(x[1:, ::2].owner.op) == "Subtensor{int64::, ::int64}"
    assert str(x[:2].owner.op) == "Subtensor{:int64:}"
    assert str(x[i].owner.op) == "Subtensor{int64}"
    assert str(x[:, i].owner.op) == "Subtensor{::, int64}"
    assert str(x[iv].owner.op) == "AdvancedSubtensor1"
    assert str(x[:, iv].owner.op) == "AdvancedSubtensor"
    assert str(T.set_subtensor(x[1:], 0).owner.op) == "IncSubtensor{Set;int64::}"
    assert str(T.inc_subtensor(x[i], 1).owner.op) == "IncSubtensor{Inc;int64}"
    assert str(T.inc_subtensor(x[iv], 1).owner.op) == "AdvancedIncSubtensor1{no_inplace,inc}"
    assert str(T.set_subtensor(x[iv], 1).owner.op) == "AdvancedIncSubtensor1{no_inplace,set}"
    assert tvmsym.pp(x[1:, ::2]) == "x[1:, ::2]"
    assert tvmsym.pp(x[i, :-1]) == "x[i, :-1]"
    assert tvmsym.pp(T.set_subtensor(x[1:], 0)) == "set_subtensor(x[1:], 0)"
    assert tvmsym.printing.debugprint(x[1:], file="str") == (
        "Subtensor{int64::} [id A] ''   \n |x [id B]\n |TensorConstant{1} [id C]\n")
    assert x[1:].broadcastable == (False, False) and x[0].broadcastable == (False,)
    assert T.row("r")[:, 1:].broadcastable == (True, False)


def test_scalar_results_and_symbolic_slice_bounds():
    v, x, i, j = T.vector("v"), T.matrix("x"), T.iscalar("i"), T.lscalar("j")
    f = tvmsym.function([v, x, i, j], [v[i], v[-1], x[i, j], T.inc_subtensor(v[i], 1),
                                       T.set_subtensor(x[i, j], 7), v[None], x[:, None, 0],
                                       v[i:j] * 2, T.set_subtensor(v[i:], 5)])
    a, m = np.arange(5, dtype="float32"), np.arange(12, dtype="float32").reshape(3, 4)
    r = f(a, m, -2, 3)
    b, c = a.copy(), m.copy()
    b[-2] += 1
    c[-2, 3] = 7
    # symbolic slice bounds give a data-dependent shape: those steps run in numpy at call time
    ref = [a[-2], a[-1], m[-2, 3], b, c, a[None], m[:, None, 0], a[-2:3] * 2,
           np.concatenate([a[:3], [5, 5]]).astype("float32")]
    for k, (o, e) in enumerate(zip(r, ref)):
        assert o.shape == e.shape and o.dtype == e.dtype, k
        np.testing.assert_array_equal(o, e, err_msg=str(k))


def test_minibatch_slice_by_index_shares_one_build():
    """Theano's givens pattern x[i * bs:(i + 1) * bs]: the slice start is read at run time,
    so every full batch uses one build of TVM kernels (the short last batch gets its own)."""
    a = np.arange(40, dtype="float32").reshape(10, 4)
    xs = tvmsym.shared(a, name="xs")
    W = tvmsym.shared(np.ones((4, 2), "float32"), name="W")
    x, idx = T.matrix("x"), T.lscalar("idx")
    f = tvmsym.function([idx], [T.dot(x, W) + 1, x[:, 0]], givens={x: xs[idx * 3:(idx + 1) * 3]})
    for k in (0, 1, 2, 0, 3):
        r = f(k)
        np.testing.assert_array_equal(r[0], a[k * 3:(k + 1) * 3] @ np.ones((4, 2), "float32") + 1)
        np.testing.assert_array_equal(r[1], a[k * 3:(k + 1) * 3, 0])
    assert len(f._by_signature) == 2
    assert all(r.kind == "kernel" for r in f._last.prog)


def test_set_inc_partitioned_regions():
    """set/inc kernels split their loop at the region's bounds: rows, columns, reversed slices."""
    x, y = T.matrix("x"), T.vector("y")
    f = tvmsym.function([x, y], [T.set_subtensor(x[5], y), T.inc_subtensor(x[:, 3], 2),
                                 T.set_subtensor(x[2:30], 0), T.inc_subtensor(x[30:5:-1, 8:], 1),
                                 T.set_subtensor(x[-1, ::-1], y), T.inc_subtensor(x[:, -16:], x[0, -16:])])
    a = np.random.default_rng(0).standard_normal((37, 45)).astype("float32")
    v = np.arange(45, dtype="float32")
    refs = []
    for idx, val, setting in [(np.s_[5], v, True), (np.s_[:, 3], 2, False), (np.s_[2:30], 0, True),
                              (np.s_[30:5:-1, 8:], 1, False), (np.s_[-1, ::-1], v, True),
                              (np.s_[:, -16:], a[0, -16:], False)]:
        b = a.copy()
        if setting:
            b[idx] = val
        else:
            b[idx] += val
        refs.append(b)
    for k, (o, r) in enumerate(zip(f(a, v), refs)):
        np.testing.assert_array_equal(o, r, err_msg=str(k))
