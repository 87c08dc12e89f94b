"""T.nnet: softmax/log_softmax (fused row kernel) and the graph-level helpers, against numpy."""
import re
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T


def np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_log_softmax(a, axis=-1):
    z = a - a.max(axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis, keepdims=True))


_F = {}


def softmaxes(dtype, ndim):
    """One function per (dtype, ndim): softmax and log_softmax on the last and first axes."""
    if (dtype, ndim) not in _F:
        x = T.tensor(dtype, (False,) * ndim, name="x")
        outs = [T.nnet.softmax(x, axis=-1), T.nnet.log_softmax(x, axis=-1), T.nnet.softmax(x, axis=0),
                T.nnet.log_softmax(x, axis=0)]
        _F[dtype, ndim] = tvmsym.function([x], outs)
    return _F[dtype, ndim]


CASES = [("float32", (4, 10)), ("float32", (1, 1)), ("float32", (3, 1000)), ("float32", (5, 13)),
         ("float32", (64, 256)), ("float32", (7,)), ("float32", (2, 3, 17)), ("float32", (0, 5)),
         ("float32", (5, 0)), ("float64", (6, 40)), ("float64", (3,))]


@pytest.mark.parametrize("dtype,shape", CASES, ids=[f"{d}-{s}" for d, s in CASES])
def test_softmax_matches_numpy(dtype, shape):
    rng = np.random.default_rng(len(shape) * 100 + sum(shape))
    a = (rng.standard_normal(shape) * 5).astype(dtype)
    got = softmaxes(dtype, len(shape))(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = [np_softmax(a), np_log_softmax(a), np_softmax(a, 0), np_log_softmax(a, 0)] \
            if a.size else [a, a, a, a]
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for g, w, what in zip(got, want, ["softmax", "log_softmax", "softmax(axis=0)", "log_softmax(axis=0)"]):
        assert g.dtype == a.dtype and g.shape == a.shape, what
        np.testing.assert_allclose(g, w, err_msg=f"{what} of {dtype}{shape}", **tol)


def test_softmax_is_stable_and_handles_inf():
    a = np.array([[1000, 1001, 999, -np.inf], [-1000, -1000, -1000, -1000],
                  [-np.inf, 0, 1, 2], [3, 3, 3, 3]], "float32")
    sm, lsm = softmaxes("float32", 2)(a)[:2]
    np.testing.assert_allclose(sm, np_softmax(a), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lsm, np_log_softmax(a), rtol=1e-6, atol=1e-6)
    assert np.isfinite(lsm[[0, 1, 3], :3]).all() and lsm[0, 3] == lsm[2, 0] == -np.inf
    np.testing.assert_allclose(sm.sum(1), 1, rtol=1e-6)


def test_int_input_gives_float64():
    x = T.imatrix("x")
    y = T.nnet.softmax(x)
    assert y.dtype == "float64"
    a = np.arange(6, dtype="int32").reshape(2, 3)
    np.testing.assert_allclose(tvmsym.function([x], y)(a), np_softmax(a.astype("float64")), rtol=1e-12)


def test_printing():
    x = T.matrix("x")
    assert tvmsym.pp(T.nnet.softmax(x)) == "Softmax(x)"
    assert str(T.nnet.log_softmax(x).owner.op) == "LogSoftmax"
    assert str(T.nnet.softmax(x, axis=0).owner.op) == "Softmax{axis=0}"
    assert tvmsym.printing.debugprint(T.nnet.softmax(x), file="str") == "Softmax [id A] ''   \n |x [id B]\n"
    with pytest.raises(ValueError, match="needs at least a 1-d input"):
        T.nnet.softmax(T.scalar())
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds for array of dimension 2"):
        T.nnet.softmax(x, axis=2)


def test_softmax_is_one_fused_parallel_vector_kernel():
    """4096x1024: one PrimFunc, rows parallel, passes vectorized, exp through libmvec when present."""
    from tvmsym import _tvm
    x = T.matrix("x")
    f = tvmsym.function([x], T.nnet.softmax(x), specialize=True)   # (generic: test_generic_shapes)
    a = np.random.default_rng(0).standard_normal((4096, 1024)).astype("float32")
    np.testing.assert_allclose(f(a), np_softmax(a), rtol=2e-6, atol=1e-7)
    tir = f.as_text("tir")
    assert len(re.findall(r"def k\d+\(", tir)) == 1
    rows = a.shape[0]
    assert f"T.parallel({rows})" in tir and tir.count("T.vectorized(") >= 4
    lanes = _tvm.vector_bytes() // 4
    if _tvm.mvec_enabled:
        isa = {16: "e", 8: "d", 4: "b"}[lanes]
        assert f"_ZGV{isa}N{lanes}v_expf" in f.as_text("llvm")


def test_relu_and_crossentropies():
    x, t = T.matrix("x"), T.matrix("t")
    labels = T.ivector("labels")
    p = T.nnet.softmax(x)
    f = tvmsym.function([x, t, labels], [
        T.nnet.relu(x), T.nnet.relu(x, alpha=0.1), T.nnet.sigmoid(x), T.nnet.softplus(x),
        T.nnet.categorical_crossentropy(p, t), T.nnet.categorical_crossentropy(p, labels),
        T.nnet.binary_crossentropy(T.nnet.sigmoid(x), t)])
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 4)).astype("float32")
    lab = rng.integers(0, 4, 5).astype("int32")
    onehot = np.eye(4, dtype="float32")[lab]
    got = f(a, onehot, lab)
    sm = np_softmax(a)
    sg = 1 / (1 + np.exp(-a))
    want = [np.maximum(a, 0), np.where(a > 0, a, 0.1 * a), sg, np.log1p(np.exp(a)),
            -(onehot * np.log(sm)).sum(1), -np.log(sm[np.arange(5), lab]),
            -(onehot * np.log(sg) + (1 - onehot) * np.log(1 - sg))]
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.float32, k
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"output {k}")
    with pytest.raises(TypeError, match="categorical_crossentropy: true_dist must"):
        T.nnet.categorical_crossentropy(p, T.fvector())


def test_perform_reference():
    from tvmsym.symbolic.ops.nnet import LogSoftmax, Softmax
    a = np.random.default_rng(2).standard_normal((3, 5))
    x = T.dmatrix("x")
    node = Softmax()(x).owner
    np.testing.assert_allclose(node.op.perform(node, [a])[0], np_softmax(a))
    node = LogSoftmax(0)(x).owner
    np.testing.assert_allclose(node.op.perform(node, [a])[0], np_log_softmax(a, 0))
    assert node.op.infer_shape(node, [(3, 5)]) == [(3, 5)]


def test_softmax_expression_is_rewritten_to_the_op():
    x = T.matrix("x")
    e = T.exp(x - x.max(1, keepdims=True))
    y = e / e.sum(1, keepdims=True)
    e2 = T.exp(x)
    y2 = e2 / e2.sum(axis=-1, keepdims=True)
    f = tvmsym.function([x], [y, y2, T.log(T.nnet.softmax(x))])
    text = tvmsym.printing.debugprint(f, file="str")
    assert text == ("Softmax [id A] ''   0\n |x [id B]\nSoftmax [id A] ''   0\n"
                    "LogSoftmax [id C] ''   1\n |x [id B]\n")
    a = np.random.default_rng(5).standard_normal((6, 9)).astype("float32") * 30
    got = f(a)
    np.testing.assert_allclose(got[0], np_softmax(a), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(got[1], np_softmax(a), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(got[2], np_log_softmax(a), rtol=2e-6, atol=2e-5)
    # not the last axis, or the rule excluded: the expression stays as written
    z = T.exp(x) / T.exp(x).sum(0, keepdims=True)
    g = tvmsym.function([x], z)
    assert "Softmax" not in tvmsym.printing.debugprint(g, file="str")
    h = tvmsym.function([x], y, mode=tvmsym.Mode().excluding("softmax"))
    assert "Softmax" not in tvmsym.printing.debugprint(h, file="str")
    np.testing.assert_allclose(h(a), np_softmax(a), rtol=2e-6, atol=1e-7)


def test_more_activations():
    x, b = T.matrix("x"), T.vector("b")
    f = tvmsym.function([x, b], [T.nnet.softmax_with_bias(x, b), T.nnet.hard_sigmoid(x),
                                 T.nnet.softsign(x), T.nnet.elu(x), T.nnet.selu(x)])
    rng = np.random.default_rng(4)
    a = (rng.standard_normal((3, 5)) * 4).astype("float32")
    bb = rng.standard_normal(5).astype("float32")
    sc, al = 1.0507009873554805, 1.6732632423543772
    want = [np_softmax(a + bb), np.clip(0.2 * a + 0.5, 0, 1), a / (1 + abs(a)),
            np.where(a > 0, a, np.expm1(a)), sc * np.where(a > 0, a, al * np.expm1(a))]
    for k, (g, w) in enumerate(zip(f(a, bb), want)):
        assert g.dtype == np.float32, k
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"output {k}")


@pytest.fixture(scope="module")
def softmax_beside_log_softmax():
    """log_softmax(x) as an output, softmax(x) read only elementwise: the softmax becomes
    exp(LogSoftmax(x)) fused into its consumer (rewrites/softmax.py); the same function
    with the rule excluded is the reference."""
    x, y = T.matrix("x"), T.matrix("y")
    outs = [T.nnet.log_softmax(x), T.nnet.softmax(x) * y - y]
    f = tvmsym.function([x, y], outs)
    g = tvmsym.function([x, y], outs, mode=tvmsym.Mode().excluding("softmax_from_log_softmax"))
    return f, g


@pytest.mark.parametrize("shape", [(1, 1), (7, 63), (65, 10), (63, 65), (3, 1)])
def test_softmax_from_log_softmax_matches_numpy(softmax_beside_log_softmax, shape):
    f, g = softmax_beside_log_softmax
    ops = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert "Softmax" not in ops and ops.count("LogSoftmax") == 1
    assert "Softmax" in [type(n.op).__name__ for n in g.maker.fgraph.toposort()]
    rng = np.random.default_rng(sum(shape))
    a = (rng.standard_normal(shape) * 5).astype("float32")
    y = rng.standard_normal(shape).astype("float32")
    a[0, 0] = -np.inf                  # a zero probability stays exactly zero
    if shape[1] > 2:
        a[-1, 1] = 80.0                # near the float32 exp overflow: shifted by the max
    ls, sy = f(a, y)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(ls, np_log_softmax(a), rtol=2e-6, atol=2e-5)
        np.testing.assert_allclose(sy, np_softmax(a) * y - y, rtol=2e-6, atol=2e-6)
        np.testing.assert_allclose(sy, g(a, y)[1], rtol=2e-6, atol=2e-6)
    if shape[1] > 1:
        assert sy[0, 0] == -y[0, 0]
    a[1 % shape[0], 0] = np.nan        # NaN propagates to its row, as in Softmax
    sy = f(a, y)[1]
    assert np.isnan(sy[1 % shape[0]]).all()
