"""conv2d / conv3d and their gradients against a numpy im2col reference written here.

Each case compiles one function returning the convolution and both gradients (of
``sum(y * gy)``), so the forward, gradWeights and gradInputs kernels of every border
mode, stride, dilation and group count are all checked; cases large enough for the
register-tile kernels and small ones (plain reductions) both appear.
"""
import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.printing import debugprint
from tvmsym.tensor.nnet import abstract_conv, conv as old_conv


# ----------------------------------------------------------------------------- reference
def _pads(border_mode, ksp, dil):
    if border_mode == "valid":
        return (0,) * len(ksp)
    if border_mode == "full":
        return tuple(d * (k - 1) for k, d in zip(ksp, dil))
    if border_mode == "half":
        return tuple(d * (k // 2) for k, d in zip(ksp, dil))
    if isinstance(border_mode, int):
        return (border_mode,) * len(ksp)
    return tuple(border_mode)


def im2col_index(xsp, ksp, pads, s, d):
    """Index arrays: for every (tap, output position), the padded-image position."""
    osp = [(i + 2 * p - dd * (k - 1) - 1) // ss + 1 for i, k, p, ss, dd in zip(xsp, ksp, pads, s, d)]
    taps = np.stack(np.meshgrid(*[np.arange(k) for k in ksp], indexing="ij"), -1).reshape(-1, len(ksp))
    outs = np.stack(np.meshgrid(*[np.arange(o) for o in osp], indexing="ij"), -1).reshape(-1, len(ksp))
    pos = outs[None, :, :] * np.array(s) + taps[:, None, :] * np.array(d)    # taps x positions x dims
    return pos, osp


def ref_conv(x, w, border_mode="valid", s=None, d=None, flip=True, groups=1):
    """(y, cols, pos, pads, osp): im2col, then one matrix product per group."""
    n = x.ndim - 2
    s = s or (1,) * n
    d = d or (1,) * n
    if flip:
        w = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    ksp = w.shape[2:]
    pads = _pads(border_mode, ksp, d)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pads])
    pos, osp = im2col_index(x.shape[2:], ksp, pads, s, d)
    N, C = x.shape[:2]
    cols = xp[(slice(None), slice(None)) + tuple(pos[..., a] for a in range(n))]   # N C taps P
    Co, Cg = w.shape[:2]
    cols = cols.reshape(N, groups, Cg, pos.shape[0], -1).reshape(N, groups, Cg * pos.shape[0], -1)
    wm = w.reshape(groups, Co // groups, -1)
    y = np.einsum("gok,ngkp->ngop", wm, cols).reshape((N, Co) + tuple(osp))
    return y, cols, pos, pads, wm


def ref_grads(x, w, gy, border_mode="valid", s=None, d=None, flip=True, groups=1):
    """(gx, gw) of sum(conv(x, w) * gy): the transposed products and a col2im scatter-add."""
    n = x.ndim - 2
    y, cols, pos, pads, wm = ref_conv(x, w, border_mode, s, d, flip, groups)
    N, Co = gy.shape[:2]
    g = gy.reshape(N, groups, Co // groups, -1)
    gw = np.einsum("ngop,ngkp->gok", g, cols).reshape(w.shape)
    if flip:
        gw = gw[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    gcols = np.einsum("gok,ngop->ngkp", wm, g).reshape(N, x.shape[1], pos.shape[0], -1)
    gxp = np.zeros((N, x.shape[1]) + tuple(i + 2 * p for i, p in zip(x.shape[2:], pads)))
    np.add.at(gxp, (slice(None), slice(None)) + tuple(pos[..., a] for a in range(n)), gcols)
    gx = gxp[(slice(None), slice(None)) + tuple(slice(p, p + i) for p, i in zip(pads, x.shape[2:]))]
    return gx, gw


# ----------------------------------------------------------------------------- table
# (name, x shape, w shape, border_mode, subsample, dilation, flip, groups, dtype)
CASES = [
    ("valid", (2, 3, 9, 11), (4, 3, 3, 5), "valid", (1, 1), (1, 1), True, 1, "float64"),
    ("full", (2, 3, 7, 6), (5, 3, 3, 2), "full", (1, 1), (1, 1), True, 1, "float64"),
    ("half", (1, 2, 8, 9), (3, 2, 5, 3), "half", (1, 1), (1, 1), True, 1, "float64"),
    ("int pad", (2, 2, 6, 7), (3, 2, 3, 3), 2, (1, 1), (1, 1), False, 1, "float64"),
    ("tuple pad stride", (2, 3, 11, 10), (4, 3, 3, 4), (1, 2), (2, 3), (1, 1), True, 1, "float64"),
    ("dilation", (2, 2, 12, 11), (3, 2, 3, 3), "valid", (1, 1), (2, 3), True, 1, "float64"),
    ("dilation half stride", (1, 3, 13, 12), (2, 3, 3, 3), "half", (2, 1), (2, 2), False, 1, "float64"),
    ("groups 2", (2, 4, 8, 8), (6, 2, 3, 3), "valid", (1, 1), (1, 1), True, 2, "float64"),
    ("depthwise", (1, 3, 7, 9), (3, 1, 3, 3), "half", (1, 1), (1, 1), True, 3, "float64"),
    ("channels 1, 1x1", (3, 1, 5, 4), (1, 1, 1, 1), "valid", (1, 1), (1, 1), True, 1, "float64"),
    ("filter = input", (2, 2, 4, 5), (3, 2, 4, 5), "valid", (1, 1), (1, 1), True, 1, "float64"),
    # register-tile kernels (large enough), float32
    ("tiles valid", (6, 7, 15, 13), (24, 7, 3, 5), "valid", (1, 1), (1, 1), True, 1, "float32"),
    ("tiles full", (4, 9, 10, 9), (20, 9, 3, 3), "full", (1, 1), (1, 1), True, 1, "float32"),
    ("tiles stride dilation", (6, 7, 15, 13), (24, 7, 3, 5), (1, 2), (2, 1), (1, 2), True, 1, "float32"),
    ("tiles many channels", (3, 32, 9, 9), (40, 32, 3, 3), "half", (1, 1), (1, 1), False, 1, "float32"),
    ("tiles batch 1", (1, 16, 16, 16), (32, 16, 5, 5), "valid", (1, 1), (1, 1), True, 1, "float32"),
    ("tiles LeNet conv2", (16, 20, 12, 12), (50, 20, 5, 5), "valid", (1, 1), (1, 1), True, 1, "float32"),
    ("tiles input channels 1", (8, 1, 20, 20), (12, 1, 5, 5), "valid", (1, 1), (1, 1), True, 1, "float32"),
    ("tiles output channels 1", (4, 8, 20, 20), (1, 8, 5, 5), "half", (1, 1), (1, 1), True, 1, "float32"),
    # the input gradient's product + col2im: odd sizes, strides, dilations, pads, batch 1
    ("tiles odd stride 3 dilation 2", (3, 5, 17, 14), (12, 5, 3, 3), "half", (3, 2), (2, 2), False, 1, "float32"),
    ("tiles full stride 2 float64", (3, 6, 11, 12), (16, 6, 3, 4), "full", (2, 2), (1, 1), True, 1, "float64"),
    ("tiles batch 1 pad stride 2", (1, 10, 13, 11), (24, 10, 5, 3), (2, 1), (2, 2), (1, 1), True, 1, "float32"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv2d_and_gradients_match_im2col(case):
    name, xs, ws, bm, s, d, flip, groups, dtype = case
    x = T.tensor4("x", dtype=dtype)
    w = T.tensor4("w", dtype=dtype)
    gy = T.tensor4("gy", dtype=dtype)
    y = T.nnet.conv2d(x, w, border_mode=bm, subsample=s, filter_dilation=d, filter_flip=flip,
                      num_groups=groups)
    gx, gw = tvmsym.grad((y * gy).sum(), [x, w])
    f = tvmsym.function([x, w, gy], [y, gx, gw])
    rng = np.random.default_rng(len(name))
    xv = rng.standard_normal(xs).astype(dtype)
    wv = rng.standard_normal(ws).astype(dtype)
    ry = ref_conv(xv.astype("float64"), wv.astype("float64"), bm, s, d, flip, groups)[0]
    gyv = rng.standard_normal(ry.shape).astype(dtype)
    got = f(xv, wv, gyv)
    rgx, rgw = ref_grads(xv.astype("float64"), wv.astype("float64"), gyv.astype("float64"), bm, s, d,
                         flip, groups)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    for g, r, what in zip(got, [ry, rgx, rgw], ["conv", "grad input", "grad filters"]):
        assert g.dtype == dtype and g.shape == r.shape, (what, g.shape, r.shape)
        np.testing.assert_allclose(g, r, err_msg=f"{what} of {name}", **tol)


def test_conv3d_and_gradients_match_im2col():
    x = T.tensor5("x", dtype="float64")
    w = T.tensor5("w", dtype="float64")
    gy = T.tensor5("gy", dtype="float64")
    for bm, s, d in [("valid", (1, 1, 1), (1, 1, 1)), ((1, 0, 2), (2, 1, 1), (1, 2, 1)), ("half", (1, 2, 1), (1, 1, 1))]:
        y = T.nnet.conv3d(x, w, border_mode=bm, subsample=s, filter_dilation=d)
        gx, gw = tvmsym.grad((y * gy).sum(), [x, w])
        f = tvmsym.function([x, w, gy], [y, gx, gw])
        rng = np.random.default_rng(3)
        xv, wv = rng.standard_normal((2, 3, 6, 7, 5)), rng.standard_normal((4, 3, 3, 2, 3))
        ry = ref_conv(xv, wv, bm, s, d)[0]
        gyv = rng.standard_normal(ry.shape)
        rgx, rgw = ref_grads(xv, wv, gyv, bm, s, d)
        for g, r in zip(f(xv, wv, gyv), [ry, rgx, rgw]):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10, err_msg=str(bm))


def test_grad_functions_transpose_and_old_signature():
    x = T.tensor4("x", dtype="float64")
    w = T.tensor4("w", dtype="float64")
    gy = T.tensor4("gy", dtype="float64")
    rng = np.random.default_rng(5)
    xv, wv = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    ry = ref_conv(xv, wv, "half", (2, 2))[0]
    gyv = rng.standard_normal(ry.shape)
    rgx, rgw = ref_grads(xv, wv, gyv, "half", (2, 2))
    gi = abstract_conv.conv2d_grad_wrt_inputs(gy, w, (2, 3, 9, 8), border_mode="half", subsample=(2, 2))
    gws = abstract_conv.conv2d_grad_wrt_weights(x, gy, (4, 3, 3, 3), border_mode="half", subsample=(2, 2))
    tr = abstract_conv.conv2d_transpose(gy, w, (2, 3, 9, 8), border_mode="half", input_dilation=(2, 2))
    old = old_conv.conv2d(x, w, image_shape=(2, 3, 9, 8), filter_shape=(4, 3, 3, 3), border_mode="full")
    f = tvmsym.function([x, w, gy], [gi, gws, tr, old])
    a, b, c, o = f(xv, wv, gyv)
    np.testing.assert_allclose(a, rgx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b, rgw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(c, rgx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(o, ref_conv(xv, wv, "full")[0], rtol=1e-10, atol=1e-10)
    # the input shape given symbolically (a strided input gradient needs it)
    gi2 = abstract_conv.conv2d_grad_wrt_inputs(gy, w, x.shape, border_mode="half", subsample=(2, 2))
    np.testing.assert_allclose(tvmsym.function([x, w, gy], gi2)(xv, wv, gyv), rgx, rtol=1e-10, atol=1e-10)


def test_verify_grad_every_conv_op_and_mode():
    """Finite differences through conv (each border mode, stride, dilation, groups) and
    through both gradient ops (their own gradients are convolutions too)."""
    R = np.random.default_rng(11)

    def conv(bm, s=(1, 1), d=(1, 1), g=1, flip=True):
        return lambda a, b: T.nnet.conv2d(a, b, border_mode=bm, subsample=s, filter_dilation=d,
                                          num_groups=g, filter_flip=flip)

    cases = [(conv("valid"), [R.standard_normal((2, 2, 5, 6)), R.standard_normal((3, 2, 3, 2))]),
             (conv("full", flip=False), [R.standard_normal((1, 2, 4, 4)), R.standard_normal((2, 2, 2, 3))]),
             (conv("half", (2, 1)), [R.standard_normal((2, 1, 5, 5)), R.standard_normal((2, 1, 3, 3))]),
             (conv((1, 2), (1, 2), (2, 1)), [R.standard_normal((1, 2, 6, 5)), R.standard_normal((2, 2, 2, 2))]),
             (conv("valid", g=2), [R.standard_normal((2, 4, 4, 4)), R.standard_normal((4, 2, 2, 2))]),
             (lambda a, b: abstract_conv.conv2d_grad_wrt_weights(a, b, (3, 2, 2, 3), border_mode=1),
              [R.standard_normal((2, 2, 5, 4)), R.standard_normal((2, 3, 6, 4))]),
             (lambda a, b: abstract_conv.conv2d_grad_wrt_inputs(b, a, (2, 2, 6, 5), subsample=(2, 2)),
              [R.standard_normal((3, 2, 2, 3)), R.standard_normal((2, 3, 3, 2))]),
             (lambda a, b: T.nnet.conv3d(a, b, border_mode="half"),
              [R.standard_normal((1, 2, 3, 4, 3)), R.standard_normal((2, 2, 3, 1, 2))])]
    for k, res in enumerate(check_grads(cases, n_tests=2, rng=np.random.default_rng(0))):
        assert res["error"] is None, f"case {k}: {res['error']}"


def test_printing_abstract_then_corrmm():
    x = T.tensor4("x")
    w = T.tensor4("w")
    y = T.nnet.conv2d(x, w, filter_shape=(4, 3, 3, 3), border_mode="half")
    assert re.match(r"AbstractConv2d\{convdim=2, border_mode='half', subsample=\(1, 1\), filter_flip=True, "
                    r"imshp=\(None, None, None, None\), kshp=\(4, 3, 3, 3\), filter_dilation=\(1, 1\), "
                    r"num_groups=1, unshared=False\}", str(y.owner.op))
    f = tvmsym.function([x, w], tvmsym.grad(y.sum(), w))
    text = debugprint(f, file="str")
    assert "CorrMM_gradWeights{half, (1, 1), (1, 1), 1 False}" in text
    assert "AbstractConv2d" not in text
    # optimizer=None keeps the abstract op (and it still runs)
    g = tvmsym.function([x, w], y, mode=tvmsym.Mode(optimizer=None))
    assert "AbstractConv2d" in debugprint(g, file="str")
    xv = np.ones((1, 3, 4, 4), "float32")
    wv = np.ones((4, 3, 3, 3), "float32")
    np.testing.assert_allclose(g(xv, wv), ref_conv(xv, wv, "half")[0], rtol=1e-6)


def test_bad_arguments_raise_clear_errors():
    x = T.tensor4("x")
    w = T.tensor4("w")
    with pytest.raises(ValueError, match=r"input has 3 channels but the filters expect 2.*\(2, 3, 8, 8\)"):
        T.nnet.conv2d(x, w, input_shape=(2, 3, 8, 8), filter_shape=(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"larger than the padded input.*\(1, 1, 3, 3\).*\(2, 1, 5, 5\)"):
        T.nnet.conv2d(x, w, input_shape=(1, 1, 3, 3), filter_shape=(2, 1, 5, 5))
    with pytest.raises(ValueError, match="negative padding"):
        T.nnet.conv2d(x, w, border_mode=(-1, 0))
    with pytest.raises(ValueError, match="invalid border_mode"):
        T.nnet.conv2d(x, w, border_mode="same")
    with pytest.raises(TypeError, match=r"input must be a 4-d tensor.*matrix"):
        T.nnet.conv2d(T.matrix(), w)
    with pytest.raises(TypeError, match="must be float"):
        T.nnet.conv2d(T.itensor4(), w)
    with pytest.raises(ValueError, match="subsample must be positive"):
        T.nnet.conv2d(x, w, subsample=(0, 1))
    # shapes known only at call time: the call raises, naming both shapes
    f = tvmsym.function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match=r"input has 3 channels.*\(1, 3, 5, 5\).*\(2, 2, 3, 3\)"):
        f(np.zeros((1, 3, 5, 5), "float32"), np.zeros((2, 2, 3, 3), "float32"))
    with pytest.raises(ValueError, match=r"larger than the padded input.*\(1, 2, 2, 5\)"):
        f(np.zeros((1, 2, 2, 5), "float32"), np.zeros((2, 2, 3, 3), "float32"))


@pytest.mark.parametrize("batch", [1, 8])
def test_epilogue_fusion_bias_activation_and_pooling(batch):
    """conv -> max pool 2x2 -> tanh(+ bias per channel) and conv -> relu(+ bias) are one
    FusedConv kernel each (conv_epilogue stage), with numpy's results."""
    from tvmsym.tensor.signal import pool
    x = T.tensor4("x")
    w1, w2 = T.tensor4("w1"), T.tensor4("w2")
    b1, b2 = T.vector("b1"), T.vector("b2")
    c1 = T.nnet.conv2d(x, w1)
    h1 = T.tanh(pool.pool_2d(c1, (2, 2), ignore_border=True) + b1.dimshuffle("x", 0, "x", "x"))
    h2 = T.nnet.relu(T.nnet.conv2d(h1, w2, border_mode="half") + b2.dimshuffle("x", 0, "x", "x"))
    f = tvmsym.function([x, w1, b1, w2, b2], h2)
    text = debugprint(f, file="str")
    assert text.count("FusedConv{") == 2, text
    assert "Pool{ws=(2, 2), mode='max'}" in text and "Pool{ignore_border" not in text
    rng = np.random.default_rng(batch)
    xv = rng.standard_normal((batch, 3, 21, 20)).astype("float32")
    w1v, w2v = rng.standard_normal((16, 3, 5, 5)).astype("float32"), rng.standard_normal((24, 16, 3, 3)).astype("float32")
    b1v, b2v = rng.standard_normal(16).astype("float32"), rng.standard_normal(24).astype("float32")
    c = ref_conv(xv.astype("float64"), w1v.astype("float64"))[0][:, :, :16, :16]
    p = c.reshape(batch, 16, 8, 2, 8, 2).max((3, 5))
    r1 = np.tanh(p + b1v[None, :, None, None])
    r2 = np.maximum(ref_conv(r1, w2v.astype("float64"), "half")[0] + b2v[None, :, None, None], 0)
    np.testing.assert_allclose(f(xv, w1v, b1v, w2v, b2v), r2, rtol=2e-4, atol=2e-4)


def test_empty_batch():
    from tvmsym.tensor.signal import pool
    x = T.tensor4("x")
    w = T.tensor4("w")
    y = T.nnet.conv2d(x, w, border_mode="half")
    gw, gx = tvmsym.grad(y.sum(), [w, x])
    f = tvmsym.function([x, w], [y, gw, gx, pool.pool_2d(x, (2, 2), ignore_border=True)])
    a, b, c, d = f(np.zeros((0, 2, 5, 5), "float32"), np.ones((3, 2, 3, 3), "float32"))
    assert a.shape == (0, 3, 5, 5) and c.shape == (0, 2, 5, 5) and d.shape == (0, 2, 2, 2)
    np.testing.assert_array_equal(b, np.zeros((3, 2, 3, 3), "float32"))


@pytest.mark.parametrize("shape", [((4, 20, 12, 12), (50, 20, 5, 5)), ((2, 7, 9, 10), (3, 7, 3, 3))],
                         ids=["tiles", "plain"])
def test_grad_inputs_sums_only_the_taps_that_exist(shape):
    """An infinite filter tap reaches only the input positions that tap touches (numpy's
    col2im): a zero-padded correlation would also multiply it by the padding (0 * inf = nan)."""
    xs, ws = shape
    w = T.tensor4("w", dtype="float32")
    gy = T.tensor4("gy", dtype="float32")
    f = tvmsym.function([w, gy], abstract_conv.conv2d_grad_wrt_inputs(gy, w, xs, filter_shape=ws))
    rng = np.random.default_rng(3)
    wv = rng.standard_normal(ws).astype("float32")
    wv[1, 2, 0, 1] = np.inf
    osp = (xs[2] - ws[2] + 1, xs[3] - ws[3] + 1)
    gyv = np.abs(rng.standard_normal((xs[0], ws[0]) + osp)).astype("float32") + 0.5
    got = f(wv, gyv)
    ref = ref_grads(np.zeros(xs), wv.astype("float64"), gyv.astype("float64"))[0]
    assert np.isinf(ref).any() and not np.isnan(ref).any()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
