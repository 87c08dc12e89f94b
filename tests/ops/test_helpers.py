"""The helpers Theano users call (symbolic/ops/helpers.py, nonzero.py, nnet_extra.py): values
against numpy on several shapes and dtypes (size-1, empty), gradients by finite differences,
and every result is symbolic (``.eval()`` works)."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.gradient import check_grads

nn = T.nnet
R = np.random.default_rng(3)
SHAPES = [(3, 4), (1, 5), (4, 1), (0, 3), (1, 1), (5, 7)]


def mat(dtype):
    return T.TensorType(dtype, (False, False))("x")


def data(shape, dtype, lo=-3.0, hi=3.0):
    a = R.uniform(lo, hi, size=shape)
    return a.astype(dtype) if dtype[0] == "f" else np.round(a).astype(dtype)


def run(fn, inputs, *args):
    return theano.function(inputs, fn, on_unused_input="ignore")(*args)


# --------------------------------------------------------------------------- elementwise
UNARY = [
    ("arcsinh", T.arcsinh, np.arcsinh, (-3, 3)),
    ("arccosh", T.arccosh, np.arccosh, (1, 4)),
    ("arctanh", T.arctanh, np.arctanh, (-0.99, 0.99)),
    ("deg2rad", T.deg2rad, np.deg2rad, (-400, 400)),
    ("rad2deg", T.rad2deg, np.rad2deg, (-7, 7)),
    ("round_half_away_from_zero", T.round_half_away_from_zero,
     lambda a: np.where(a >= 0, np.floor(a + 0.5), -np.floor(-a + 0.5)), (-4, 4)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,fn,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_against_numpy(name, fn, ref, rng, dtype):
    x = mat(dtype)
    f = theano.function([x], fn(x))
    for shape in SHAPES:
        a = data(shape, dtype, *rng)
        out = f(a)
        exp = ref(a)
        assert out.dtype == exp.dtype and out.shape == exp.shape, (name, shape)
        tol = 1e-6 if dtype == "float32" else 1e-13
        np.testing.assert_allclose(out, exp, rtol=tol, atol=tol)


def test_halves_and_specials():
    x = T.dvector("x")
    halves = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.0, np.inf, -np.inf, np.nan])
    r = theano.function([x], T.round_half_away_from_zero(x))(halves)
    np.testing.assert_array_equal(r[:6], [-3, -2, -1, 1, 2, 3])
    assert np.isinf(r[7]) and r[7] > 0 and np.isinf(r[8]) and r[8] < 0 and np.isnan(r[9])
    np.testing.assert_array_equal(theano.function([x], T.iround(x))(halves[:6]),
                                  [-3, -2, -1, 1, 2, 3])
    assert T.iround(x).dtype == "int64"
    np.testing.assert_array_equal(theano.function([x], T.iround(x, "half_to_even"))(halves[:6]),
                                  [-2, -2, 0, 0, 2, 2])
    s = np.array([1.0, -1.0, 2.0, np.inf, np.nan])
    np.testing.assert_array_equal(theano.function([x], T.arcsinh(x))(s), np.arcsinh(s))
    np.testing.assert_array_equal(theano.function([x], T.arctanh(x))(np.array([1.0, -1.0, 0.0])),
                                  [np.inf, -np.inf, 0.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_against_numpy(dtype):
    x, y = mat(dtype), mat(dtype)
    f = theano.function([x, y], [T.arctan2(x, y), *T.divmod(x, y), T.second(x, y),
                                 T.largest(x, y, 0.5), T.smallest(x, y, -0.5)])
    for shape in SHAPES:
        a, b = data(shape, dtype), data(shape, dtype)
        b[b == 0] = 1
        exp = [np.arctan2(a, b), a // b, a % b, b, np.maximum(np.maximum(a, b), 0.5),
               np.minimum(np.minimum(a, b), -0.5)]
        for o, e in zip(f(a, b), exp):
            assert o.dtype == e.dtype and o.shape == e.shape
            np.testing.assert_allclose(o, e, rtol=1e-6, atol=1e-6)
    # signs of zero: arctan2 is the C library's
    z = np.array([0.0, -0.0, 0.0, -0.0], dtype)
    w = np.array([0.0, 0.0, -0.0, -0.0], dtype)
    np.testing.assert_array_equal(theano.function([x, y], T.arctan2(x, y))(z[None], w[None]),
                                  np.arctan2(z, w)[None])
    # second broadcasts both ways and keeps b's dtype
    s = T.second(T.dcol(), T.fvector())
    assert s.dtype == "float32" and s.broadcastable == (False, False)


def test_int_divmod_and_isclose():
    a, b = T.lvector("a"), T.lvector("b")
    q, r = T.divmod(a, b)
    av, bv = np.array([7, -7, 7, -7, 0]), np.array([2, 2, -2, -2, 3])
    np.testing.assert_array_equal(theano.function([a, b], q)(av, bv), av // bv)
    np.testing.assert_array_equal(theano.function([a, b], r)(av, bv), av % bv)
    x, y = T.dvector("x"), T.dvector("y")
    u = np.array([1.0, 1.0 + 1e-9, np.inf, np.inf, np.nan, 0.0, 1e-9])
    v = np.array([1.0, 1.0, np.inf, -np.inf, np.nan, 1e-9, 0.0])
    f = theano.function([x, y], [T.isclose(x, y), T.isclose(x, y, equal_nan=True),
                                 T.allclose(x, y), T.isclose(x, y, rtol=0, atol=0)])
    o = f(u, v)
    np.testing.assert_array_equal(o[0], np.isclose(u, v))
    np.testing.assert_array_equal(o[1], np.isclose(u, v, equal_nan=True))
    assert bool(o[2]) is False and bool(f(u[:3], v[:3])[2]) is True
    np.testing.assert_array_equal(o[3], np.isclose(u, v, rtol=0, atol=0))
    assert theano.function([a, b], T.isclose(a, b))(av, av).all()


# --------------------------------------------------------------------------- shapes
def test_broadcast_patterns():
    x = T.dmatrix("x")
    assert T.shape_padleft(x).broadcastable == (True, False, False)
    assert T.shape_padleft(x, 2).broadcastable == (True, True, False, False)
    assert T.shape_padright(x, 2).broadcastable == (False, False, True, True)
    assert T.shape_padaxis(x, 1).broadcastable == (False, True, False)
    assert T.shape_padaxis(x, -1).broadcastable == (False, False, True)
    with pytest.raises(IndexError):
        T.shape_padaxis(x, 3)
    a = R.standard_normal((3, 4))
    np.testing.assert_array_equal(T.shape_padaxis(x, 1).eval({x: a}), a[:, None])
    np.testing.assert_array_equal(T.shape_padright(x).eval({x: a}), a[..., None])
    r = T.addbroadcast(x, 0)
    assert r.broadcastable == (True, False)
    np.testing.assert_array_equal(r.eval({x: a[:1]}), a[:1])
    with pytest.raises(Exception):
        theano.function([x], r)(a)                  # axis 0 is not 1 long
    row = T.drow("row")
    assert T.unbroadcast(row, 0).broadcastable == (False, False)
    assert T.patternbroadcast(x, (False, True)).broadcastable == (False, True)
    assert T.patternbroadcast(x, (False, False)) is x
    with pytest.raises(ValueError, match="entries"):
        T.patternbroadcast(x, (True,))
    g = theano.function([x], theano.grad((T.addbroadcast(x, 1) * 3).sum(), x))
    np.testing.assert_array_equal(g(a[:, :1]), np.full((3, 1), 3.0))


def test_tri_tril_triu_swapaxes():
    x = T.tensor3("x", dtype="float64")
    m = T.dmatrix("m")
    for shape in [(3, 4), (4, 3), (1, 1), (0, 2), (5, 5)]:
        a = R.standard_normal(shape)
        for k in (-1, 0, 2):
            np.testing.assert_array_equal(T.tril(m, k).eval({m: a}), np.tril(a, k))
            np.testing.assert_array_equal(T.triu(m, k).eval({m: a}), np.triu(a, k))
    b = R.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(T.tril(x).eval({x: b}), np.tril(b))
    np.testing.assert_array_equal(T.swapaxes(x, 0, 2).eval({x: b}), np.swapaxes(b, 0, 2))
    np.testing.assert_array_equal(T.swapaxes(x, -1, 1).eval({x: b}), np.swapaxes(b, -1, 1))
    for args in [(3,), (2, 5), (4, 3, -1), (3, 3, 1)]:
        t = T.tri(*args)
        assert t.dtype == theano.config.floatX
        np.testing.assert_array_equal(t.eval(), np.tri(*args, dtype=theano.config.floatX))
    assert T.tri(2, dtype="int32").eval().dtype == np.int32
    with pytest.raises(ValueError, match="2 dimensions"):
        T.tril(T.dvector())


def test_grids_and_stacklists():
    np.testing.assert_array_equal([g.eval() for g in T.mgrid[0:3, 1:6:2]], np.mgrid[0:3, 1:6:2])
    og = [g.eval() for g in T.ogrid[0:3, 0:4]]
    ref = np.ogrid[0:3, 0:4]
    assert [o.shape for o in og] == [r.shape for r in ref]
    for o, r in zip(og, ref):
        np.testing.assert_array_equal(o, r)
    n = T.lscalar("n")
    np.testing.assert_array_equal(T.mgrid[0:n][0].eval({n: 4}), np.arange(4))
    a, b, c, d = T.dscalars(4)
    s = T.stacklists([[a, b], [c, d]])
    assert s.ndim == 2
    np.testing.assert_array_equal(theano.function([a, b, c, d], s)(1, 2, 3, 4), [[1, 2], [3, 4]])
    x = T.dvector("x")
    s2 = T.stacklists([x, x * 2])
    np.testing.assert_array_equal(s2.eval({x: np.array([1.0, 2.0])}), [[1, 2], [2, 4]])


# --------------------------------------------------------------------------- reductions, stats
def test_ptp_cov():
    m = T.dmatrix("m")
    for shape in [(3, 5), (1, 4), (4, 1), (2, 2)]:
        a = R.standard_normal(shape)
        for axis in (None, 0, 1):
            np.testing.assert_allclose(T.ptp(m, axis=axis).eval({m: a}), np.ptp(a, axis=axis))
        if shape[1] > 1:
            np.testing.assert_allclose(T.cov(m).eval({m: a}), np.atleast_2d(np.cov(a)),
                                       rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(T.cov(m, bias=True).eval({m: a}),
                                       np.atleast_2d(np.cov(a, bias=True)), rtol=1e-12)
        if shape[0] > 1:
            np.testing.assert_allclose(T.cov(m, rowvar=False).eval({m: a}),
                                       np.atleast_2d(np.cov(a, rowvar=False)), rtol=1e-12)
    v, w = T.dvector("v"), T.dvector("w")
    av, aw = R.standard_normal(6), R.standard_normal(6)
    np.testing.assert_allclose(theano.function([v, w], T.cov(v, w))(av, aw), np.cov(av, aw),
                               rtol=1e-12)
    i = T.lmatrix("i")
    ai = np.array([[1, 5, 2], [7, 7, 0]])
    np.testing.assert_array_equal(T.ptp(i, axis=1).eval({i: ai}), np.ptp(ai, axis=1))


@pytest.mark.parametrize("dtype", ["float64", pytest.param("int32", marks=pytest.mark.slow)])
def test_topk_argtopk(dtype):
    x = T.TensorType(dtype, (False, False, False))("x")
    a = R.permutation(60).reshape(3, 4, 5).astype(dtype)        # distinct: a unique order
    # every (axis, k) case is an output of ONE function (one build; the argsort of an axis is
    # shared by its two k): the last and the first axis for float64, all three for int32
    cases = [(axis, k) for axis in ((-1, 0) if dtype == "float64" else (-1, 0, 1))
             for k in (2, -3)]
    outs = [o for axis, k in cases for o in T.topk_and_argtopk(x, k, axis=axis)]
    outs += [T.topk(x, 2, axis=None), T.argtopk(x, -1, axis=None)]
    got = theano.function([x], outs)(a)
    for j, (axis, k) in enumerate(cases):
        vv, iv = got[2 * j], got[2 * j + 1]
        srt = np.argsort(a, axis=axis)
        n = a.shape[axis]
        sel = np.flip(srt, axis=axis).take(range(k), axis=axis) if k > 0 else \
            srt.take(range(-k), axis=axis)
        np.testing.assert_array_equal(iv, sel, err_msg=f"axis={axis} k={k}")
        np.testing.assert_array_equal(vv, np.take_along_axis(a, sel, axis=axis))
        assert iv.dtype == np.int64 and vv.dtype == np.dtype(dtype) and n >= abs(k)
    np.testing.assert_array_equal(got[-2], [59, 58])
    np.testing.assert_array_equal(got[-1], [int(np.argmin(a))])
    with pytest.raises(ValueError, match="kth"):
        T.topk(x, 0)


def test_permutations_and_choose():
    x, p = T.dmatrix("x"), T.lmatrix("p")
    a = R.standard_normal((3, 5))
    perm = np.array([R.permutation(5) for _ in range(3)])
    f = theano.function([p], T.inverse_permutation(p))
    assert ("tvm", "InversePermutation") in [(s.kind, type(s.node.op).__name__)
                                             for s in f._plan.steps]      # a TVM kernel
    np.testing.assert_array_equal(f(perm), np.argsort(perm, axis=-1))
    np.testing.assert_array_equal(f(np.zeros((0, 5), "int64")), np.zeros((0, 5)))
    np.testing.assert_array_equal(f(np.array([[0]])), [[0]])
    np.testing.assert_array_equal(f(np.array([[2, 2, 9]])), [[-1, -1, 1]])   # not a permutation
    # the other cases share builds: permutations in one function, choose's modes in another
    i3, v = T.itensor3("i3"), T.lvector("v")
    p3 = np.array([[R.permutation(4) for _ in range(2)] for _ in range(3)], dtype="int32")
    o3, fwd, inv, bc = theano.function([i3, x, p, v], [
        T.inverse_permutation(i3), T.permute_row_elements(x, p),
        T.permute_row_elements(x, p, inverse=True),
        T.permute_row_elements(x, v)])(p3, a, perm, perm[0])     # v: one permutation, every row
    assert o3.dtype == np.int32
    np.testing.assert_array_equal(o3, np.argsort(p3, axis=-1))
    np.testing.assert_array_equal(fwd, np.take_along_axis(a, perm, -1))
    np.testing.assert_array_equal(inv, np.take_along_axis(a, np.argsort(perm, -1), -1))
    np.testing.assert_array_equal(bc, a[:, perm[0]])
    c, c2, c3 = T.lmatrix("c"), T.lmatrix("c2"), T.lmatrix("c3")
    ci = np.array([[0, 1, 2, 1, 0], [2, 2, 1, 0, 0], [1, 0, 0, 2, 1]])
    ch = [x, x * 10, x * 100]
    f = theano.function([c, x], T.choose(c, ch))
    np.testing.assert_allclose(f(ci, a), np.choose(ci, [a, a * 10, a * 100]))
    with pytest.raises(IndexError):
        f(ci + 3, a)
    s = T.dscalar("s")      # choices broadcast against the index
    wrap, clip, sb = theano.function([c, c2, c3, x, s], [
        T.choose(c2, ch, mode="wrap"), T.choose(c3, ch, mode="clip"),
        T.choose(c, [x, s, s * 2])])(ci, ci + 3, ci + 1, a, 4.0)
    np.testing.assert_allclose(wrap, np.choose(ci + 3, [a, a * 10, a * 100], mode="wrap"))
    np.testing.assert_allclose(clip, np.choose(ci + 1, [a, a * 10, a * 100], mode="clip"))
    np.testing.assert_allclose(sb, np.choose(ci, [a, 4.0, 8.0]))


def test_nonzero_family():
    x = T.dtensor3("x")
    for shape in [(2, 3, 4), (1, 1, 1), (0, 2, 2)]:
        a = R.standard_normal(shape) * (R.uniform(size=shape) > 0.5)
        nz = theano.function([x], list(T.nonzero(x)))(a)
        for g, e in zip(nz, np.nonzero(a)):
            np.testing.assert_array_equal(g, e)
            assert g.dtype == np.int64
        np.testing.assert_array_equal(T.nonzero(x, return_matrix=True).eval({x: a}),
                                      np.array(np.nonzero(a)).reshape(3, -1))
        np.testing.assert_array_equal(T.flatnonzero(x).eval({x: a}), np.flatnonzero(a))
        np.testing.assert_array_equal(T.nonzero_values(x).eval({x: a}),
                                      a.ravel()[np.flatnonzero(a)])
        np.testing.assert_array_equal(x[T.nonzero(x > 0)].eval({x: a}), a[a > 0])
    with pytest.raises(ValueError, match="scalar"):
        T.nonzero(T.dscalar())
    g = theano.function([x], theano.grad(T.nonzero_values(x).sum() * 2, x))
    a = np.array([[[0.0, 1.0], [2.0, 0.0]]])
    np.testing.assert_array_equal(g(a), (a != 0) * 2.0)


# --------------------------------------------------------------------------- constants, misc
def test_constants_and_copies():
    assert float(T.get_scalar_constant_value(T.constant(3.5))) == 3.5
    assert int(T.get_scalar_constant_value(np.array([[4]]))) == 4
    assert int(T.get_scalar_constant_value(T.cast(T.constant(2), "float32"))) == 2
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(T.dscalar())
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(np.ones(3))
    x = T.dtensor3("x")
    assert T.get_vector_length(x.shape) == 3
    assert T.get_vector_length(T.constant(np.arange(5))) == 5
    assert T.get_vector_length(T.stack([T.lscalar(), T.lscalar()])) == 2
    with pytest.raises(ValueError, match="length not known"):
        T.get_vector_length(T.lvector())
    with pytest.raises(TypeError):
        T.get_vector_length(T.lmatrix())
    v = T.as_tensor([1.0, 2.0])
    assert isinstance(v, T.TensorVariable) and v.ndim == 1
    c = T.tensor_copy(x)
    assert c is not x and c.type == x.type
    a = R.standard_normal((2, 1, 3))
    np.testing.assert_array_equal(c.eval({x: a}), a)


def test_every_helper_returns_a_symbolic_variable():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    outs = [T.shape_padleft(x), T.addbroadcast(T.drow(), 0), T.stacklists([x, y]), T.tril(x),
            T.tri(3), T.swapaxes(x, 0, 1), T.isclose(x, y), T.allclose(x, y), T.ptp(x), T.cov(x),
            T.flatnonzero(x), T.topk(x, 1), T.inverse_permutation(T.lvector()), T.largest(x, y),
            T.second(x, y), T.arctan2(x, y), T.deg2rad(x), T.iround(x), T.choose(T.lmatrix(), [x, y]),
            T.mgrid[0:2][0], T.ogrid[0:2][0], nn.ultra_fast_sigmoid(x),
            nn.prepend_0_to_each_row(x), nn.confusion_matrix(T.lvector(), T.lvector())[0]]
    outs += list(T.divmod(x, y)) + list(T.nonzero(x)) + list(T.topk_and_argtopk(x, 1))
    for o in outs:
        assert isinstance(o, T.TensorVariable), o
        assert hasattr(o, "eval")


# --------------------------------------------------------------------------- T.nnet
def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_nnet_crossentropies():
    x, b, y = T.dmatrix("x"), T.dvector("b"), T.lvector("y")
    for n in (4, 1):
        a, bv = R.standard_normal((n, 3)) * 20, R.standard_normal(3)
        yv = R.integers(0, 3, n)
        nll, sm = nn.crossentropy_softmax_1hot_with_bias(x, b, y)
        o = theano.function([x, b, y], [nll, sm])(a, bv, yv)
        ref = _softmax(a + bv)
        np.testing.assert_allclose(o[1], ref, rtol=1e-12)
        z = a + bv
        np.testing.assert_allclose(o[0], -(z[np.arange(n), yv] - z.max(1)
                                           - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))),
                                   rtol=1e-12)
        nll2, sm2 = nn.crossentropy_softmax_1hot(x, y)
        o2 = theano.function([x, y], [nll2, sm2])(a, yv)
        np.testing.assert_allclose(o2[1], _softmax(a), rtol=1e-12)
        np.testing.assert_allclose(np.exp(-o2[0]), _softmax(a)[np.arange(n), yv], rtol=1e-9)
        c = nn.crossentropy_categorical_1hot(x, y)
        sa = _softmax(a) + 1e-3
        np.testing.assert_allclose(c.eval({x: sa, y: yv}), -np.log(sa[np.arange(n), yv]))
    with pytest.raises(TypeError):
        nn.crossentropy_softmax_1hot(x, T.dvector())
    big = np.array([[1000.0, 0.0, -1000.0]])           # stable: no inf/nan
    o = theano.function([x, y], nn.crossentropy_softmax_1hot(x, y)[0])(big, np.array([2]))
    np.testing.assert_allclose(o, [2000.0])


def test_nnet_activations_and_rows():
    x = T.dmatrix("x")
    a = np.array([[-7.0, -3.2, -2.0, -0.5, 0.0, 0.5, 2.0, 3.2, 7.0]])

    def ufs(v):
        h = 0.5 * v
        ah = np.abs(h)
        z = np.where(ah < 1.7, 1.5 * ah / (1 + ah),
                     np.where(ah < 3, 0.935409070603099 + 0.0458812946797165 * (ah - 1.7),
                              0.99505475368673))
        return 0.5 * (np.where(h >= 0, z, -z) + 1.0)
    np.testing.assert_allclose(nn.ultra_fast_sigmoid(x).eval({x: a}), ufs(a), rtol=1e-15)
    assert np.abs(nn.ultra_fast_sigmoid(x).eval({x: a}) - 1 / (1 + np.exp(-a))).max() < 0.03
    t = T.dmatrix("t")
    tv = R.uniform(size=(1, 9))
    sig = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(nn.sigmoid_binary_crossentropy(x, t).eval({x: a, t: tv}),
                               -(tv * np.log(sig) + (1 - tv) * np.log1p(-sig)), rtol=1e-9)
    huge = np.array([[800.0, -800.0]])
    assert np.all(np.isfinite(nn.sigmoid_binary_crossentropy(x, t).eval(
        {x: huge, t: np.array([[0.0, 1.0]])})))
    for shape in [(3, 2), (1, 1), (0, 4)]:
        m = R.standard_normal(shape)
        np.testing.assert_array_equal(nn.prepend_0_to_each_row(x).eval({x: m}),
                                      np.hstack([np.zeros((shape[0], 1)), m]))
        np.testing.assert_array_equal(nn.prepend_1_to_each_row(x).eval({x: m}),
                                      np.hstack([np.ones((shape[0], 1)), m]))
    f = T.fmatrix("f")
    assert nn.prepend_1_to_each_row(f).dtype == "float32"


def test_h_softmax_and_confusion_matrix():
    X = T.dmatrix("X")
    n_in, n_classes, per, n_out, batch = 5, 3, 4, 10, 6
    W1, b1 = R.standard_normal((n_in, n_classes)), R.standard_normal(n_classes)
    W2, b2 = R.standard_normal((n_classes, n_in, per)), R.standard_normal((n_classes, per))
    xv = R.standard_normal((batch, n_in))
    full = nn.h_softmax(X, batch, n_out, n_classes, per, W1, b1, W2, b2).eval({X: xv})
    cp = _softmax(xv @ W1 + b1)
    op = np.stack([_softmax(xv @ W2[c] + b2[c]) for c in range(n_classes)], 1)
    ref = (cp[:, :, None] * op).reshape(batch, -1)[:, :n_out]
    np.testing.assert_allclose(full, ref, rtol=1e-12)
    tg = T.lvector("tg")
    tv = R.integers(0, n_out, batch)
    sel = nn.h_softmax(X, batch, n_out, n_classes, per, W1, b1, W2, b2, target=tg)
    np.testing.assert_allclose(sel.eval({X: xv, tg: tv}), ref[np.arange(batch), tv], rtol=1e-12)
    a, p = T.lvector("a"), T.lvector("p")
    cm, order = nn.confusion_matrix(a, p)
    av, pv = np.array([0, 1, 2, 2, 7]), np.array([0, 2, 2, 5, 7])
    c, o = theano.function([a, p], [cm, order])(av, pv)
    lab = np.unique(np.concatenate([av, pv]))
    np.testing.assert_array_equal(o, lab)
    np.testing.assert_array_equal(c, [[np.sum((av == i) & (pv == j)) for j in lab] for i in lab])
    with pytest.raises(ValueError, match="vectors"):
        nn.confusion_matrix(T.lmatrix(), p)


# --------------------------------------------------------------------------- gradients
def _u(*s, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, size=s)


GRADS = [
    ("arctan2", lambda a, b: T.arctan2(a, b), [_u(3, 4), _u(3, 4, lo=0.3, hi=2)]),
    ("arcsinh", lambda a: T.arcsinh(a), [_u(3, 4)]),
    ("arccosh", lambda a: T.arccosh(a), [_u(3, 4, lo=1.2, hi=3)]),
    ("arctanh", lambda a: T.arctanh(a), [_u(3, 4, lo=-0.8, hi=0.8)]),
    ("deg2rad", lambda a: T.deg2rad(a), [_u(2, 3)]),
    ("rad2deg", lambda a: T.rad2deg(a), [_u(2, 3)]),
    ("second", lambda a, b: T.second(a, b), [_u(3, 4), _u(1, 4)]),
    ("tril", lambda a: T.tril(a, 1), [_u(4, 3)]),
    ("triu", lambda a: T.triu(a), [_u(3, 3)]),
    ("swapaxes", lambda a: T.swapaxes(a, 0, 1) * _u(4, 3), [_u(3, 4)]),
    ("ptp", lambda a: T.ptp(a, axis=1), [R.permutation(12).reshape(3, 4) / 7.0]),
    ("cov", lambda a: T.cov(a), [_u(3, 5)]),
    ("largest", lambda a, b: T.largest(a, b), [_u(3, 4), _u(3, 4) + 3]),
    ("topk", lambda a: T.topk(a, 2) * np.array([1.0, 2.0]), [R.permutation(12).reshape(3, 4) / 5.0]),
    ("permute_rows", lambda a: T.permute_row_elements(a, T.constant(
        np.array([[2, 0, 1], [1, 2, 0]]))) * _u(2, 3), [_u(2, 3)]),
    ("choose", lambda a, b: T.choose(T.constant(np.array([[0, 1], [1, 0]])), [a, b]) * _u(2, 2),
     [_u(2, 2), _u(2, 2)]),
    ("stacklists", lambda a, b: T.stacklists([[a, b], [b, a]]) * _u(2, 2, 3), [_u(3), _u(3)]),
    ("padaxis", lambda a: T.shape_padaxis(a, 1) * _u(3, 2, 4), [_u(3, 4)]),
    ("xent_1hot_bias", lambda a, b: nn.crossentropy_softmax_1hot_with_bias(
        a, b, T.constant(np.array([0, 2, 1])))[0], [_u(3, 3), _u(3)]),
    ("xent_1hot_sm", lambda a: nn.crossentropy_softmax_1hot(
        a, T.constant(np.array([1, 0])))[1] * _u(2, 3), [_u(2, 3)]),
    ("xent_categorical", lambda a: nn.crossentropy_categorical_1hot(
        a, T.constant(np.array([1, 0]))), [_u(2, 3, lo=0.2, hi=1)]),
    ("h_softmax", lambda a: nn.h_softmax(a, 2, 7, 2, 4, _u(3, 2), _u(2), _u(2, 3, 4), _u(2, 4)),
     [_u(2, 3)]),
    ("ultra_fast_sigmoid", lambda a: nn.ultra_fast_sigmoid(a), [np.array([[-5.0, -2.0, 0.4, 2.5, 7.0]])]),
    ("sigmoid_bce", lambda a, t: nn.sigmoid_binary_crossentropy(a, t), [_u(2, 3, lo=-4, hi=4),
                                                                      _u(2, 3, lo=0, hi=1)]),
    ("prepend_1", lambda a: nn.prepend_1_to_each_row(a) * _u(3, 3), [_u(3, 2)]),
]
# (nonzero_values: a perturbation moves zeros; its gradient is checked in test_nonzero_family)


def test_gradients_by_finite_differences():
    res = check_grads([(fn, pt) for _, fn, pt in GRADS], n_tests=2)
    bad = [(name, r["error"]) for (name, _, _), r in zip(GRADS, res) if r["error"] is not None]
    assert not bad, bad


def test_existing_nnet_helpers_against_numpy():
    """softmax_with_bias, hard_sigmoid, elu, selu existed before: checked here against numpy."""
    x, b = T.dmatrix("x"), T.dvector("b")
    a, bv = R.standard_normal((4, 5)) * 3, R.standard_normal(5)
    np.testing.assert_allclose(nn.softmax_with_bias(x, b).eval({x: a, b: bv}), _softmax(a + bv),
                               rtol=1e-12)
    np.testing.assert_allclose(nn.hard_sigmoid(x).eval({x: a}), np.clip(0.2 * a + 0.5, 0, 1))
    np.testing.assert_allclose(nn.elu(x, 0.7).eval({x: a}),
                               np.where(a > 0, a, 0.7 * np.expm1(a)), rtol=1e-12)
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    np.testing.assert_allclose(nn.selu(x).eval({x: a}),
                               scale * np.where(a > 0, a, alpha * np.expm1(a)), rtol=1e-12)
    res = check_grads([(lambda v, w: nn.softmax_with_bias(v, w) * _u(3, 4), [_u(3, 4), _u(4)]),
                       (lambda v: nn.elu(v), [_u(3, 4)]), (lambda v: nn.selu(v), [_u(3, 4)]),
                       (lambda v: nn.hard_sigmoid(v), [_u(3, 4)])], n_tests=2)
    assert all(r["error"] is None for r in res), [r["error"] for r in res]
