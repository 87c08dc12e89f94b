"""conv -> non-overlapping max pool -> activation(+ bias) in TRAINING graphs: one FusedConv
kernel that also keeps the correlation and the pooled max as outputs (``keep``), because
``MaxPoolGrad`` reads both: the arg-max routing (ties: every position equal to its window's
max gets the gradient, as Theano) is unchanged.

Table-driven against numpy (im2col + matmul, pooling and its tie-routing gradient written
here) at odd sizes, batch 1 (the epilogue a pass of its own), one and many channels, output
channels a multiple of the register tile's rows or not (then the padded rows are computed
too, so the per-image product stays whole tiles), float32 and float64; verify_grad through
the fused graph; exact ties.
"""
import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.printing import debugprint
from tvmsym.tensor.signal import pool


# ----------------------------------------------------------------------------- numpy
def np_conv(x, w):
    """Valid convolution (flipped filters) by im2col + matmul."""
    N, C, H, W = x.shape
    Co, _, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))   # N C OH OW kh kw
    OH, OW = win.shape[2:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, OH * OW)
    wf = w[:, :, ::-1, ::-1].reshape(Co, -1)
    return np.matmul(wf, cols).reshape(N, Co, OH, OW), cols, wf


def np_pool(c, ws):
    N, C, H, W = c.shape
    ph, pw = H // ws[0], W // ws[1]
    r = c[:, :, :ph * ws[0], :pw * ws[1]].reshape(N, C, ph, ws[0], pw, ws[1])
    return r.max(axis=(3, 5))


def np_pool_grad(c, p, gp, ws):
    """Theano's MaxPoolGrad: every position equal to its window's max gets the gradient."""
    N, C, H, W = c.shape
    ph, pw = p.shape[2:]
    r = c[:, :, :ph * ws[0], :pw * ws[1]].reshape(N, C, ph, ws[0], pw, ws[1])
    g = (r == p[:, :, :, None, :, None]) * gp[:, :, :, None, :, None]
    out = np.zeros_like(c)
    out[:, :, :ph * ws[0], :pw * ws[1]] = g.reshape(N, C, ph * ws[0], pw * ws[1])
    return out


def np_layer_grads(x, w, b, ws, gh):
    """h = tanh(pool(conv(x, w)) + b); gradients of sum(h * gh) wrt x, w, b (and h)."""
    c, cols, wf = np_conv(x, w)
    p = np_pool(c, ws)
    h = np.tanh(p + b[None, :, None, None])
    gp = gh * (1 - h * h)
    gc = np_pool_grad(c, p, gp, ws)
    N, Co = gc.shape[:2]
    g2 = gc.reshape(N, Co, -1)
    gwf = np.einsum("nop,nkp->ok", g2, cols)
    gw = gwf.reshape(w.shape)[:, :, ::-1, ::-1]
    dcols = np.einsum("ok,nop->nkp", wf, g2).reshape(N, x.shape[1], w.shape[2], w.shape[3], *c.shape[2:])
    gx = np.zeros_like(x)
    OH, OW = c.shape[2:]
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            gx[:, :, i:i + OH, j:j + OW] += dcols[:, :, i, j]
    return h, gx, gw, gp.sum((0, 2, 3))


def training_graph(ws, dtype):
    """One layer as a network uses it: its activation is materialized (the next layer reads
    it: here a 1x1 convolution, then tanh: the gradient reaching h depends on h, as in a
    network), so the pooling and the activation fold into the kernel."""
    x, w, w2 = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype), T.tensor4("w2", dtype=dtype)
    b = T.vector("b", dtype=dtype)
    gh = T.tensor4("gh", dtype=dtype)
    c = T.nnet.conv2d(x, w)
    h = T.tanh(pool.pool_2d(c, ws, ignore_border=True) + b.dimshuffle("x", 0, "x", "x"))
    nxt = T.nnet.conv2d(h, w2)          # reads h; its gradient is gh through the 1x1 filter
    gx, gw, gb = tvmsym.grad((T.tanh(nxt) * gh).sum(), [x, w, b])
    return tvmsym.function([x, w, b, w2, gh], [h, gx, gw, gb])


# (name, x shape, filters (Co, kh, kw), pool window, dtype)
CASES = [
    ("LeNet conv2 batch 8", (8, 20, 12, 12), (50, 5, 5), (2, 2), "float32"),    # 50 rows: padded tiles
    ("LeNet conv1 batch 4", (4, 1, 28, 28), (20, 5, 5), (2, 2), "float32"),     # rows whole tiles
    ("odd sizes, border cropped", (3, 3, 15, 13), (8, 4, 2), (2, 3), "float32"),
    ("batch 1, channels 1", (1, 1, 11, 9), (1, 3, 3), (3, 2), "float32"),
    ("float64 many channels", (2, 16, 10, 11), (24, 3, 3), (2, 2), "float64"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fused_training_layer_matches_numpy(case):
    name, xs, (Co, kh, kw), ws, dtype = case
    f = training_graph(ws, dtype)
    rng = np.random.default_rng(len(name))
    xv = rng.standard_normal(xs).astype(dtype)
    wv = (rng.standard_normal((Co, xs[1], kh, kw)) * 0.3).astype(dtype)
    bv = rng.standard_normal(Co).astype(dtype)
    w2v = np.ones((1, Co, 1, 1), dtype)
    c_shape = (xs[2] - kh + 1, xs[3] - kw + 1)
    ph, pw = c_shape[0] // ws[0], c_shape[1] // ws[1]
    ghv = rng.standard_normal((xs[0], 1, ph, pw)).astype(dtype)
    got = f(xv, wv, bv, w2v, ghv)
    x64, w64, b64 = xv.astype("float64"), wv.astype("float64"), bv.astype("float64")
    h = np.tanh(np_pool(np_conv(x64, w64)[0], ws) + b64[None, :, None, None])
    nxt = h.sum(1, keepdims=True)                                 # the 1x1 filter of ones
    gh_full = np.repeat(ghv * (1 - np.tanh(nxt) ** 2), Co, axis=1)
    ref = np_layer_grads(x64, w64, b64, ws, gh_full)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)
    for g, r, what in zip(got, ref, ["h", "grad x", "grad w", "grad b"]):
        assert g.dtype == dtype and g.shape == r.shape, (what, g.shape, r.shape)
        np.testing.assert_allclose(g, r, err_msg=f"{what} of {name}", **tol)
    text = debugprint(f, file="str")
    assert re.search(r"FusedConv\{CorrMM\{valid.*Pool\{ws=\(%d, %d\), mode='max'\}, Composite\{tanh\(\(i0 \+ i1\)\)\}, "
                     r"keep=conv\+pool\}" % ws, text), text
    assert "Pool{ignore_border" not in text        # the forward pooling runs inside the conv kernel
    assert "MaxPoolGrad" in text                   # the routing is Theano's op, reading the kept outputs


def test_ties_route_to_every_max_as_theano():
    """Exact ties in the pooling windows (integer-valued images, a 1x1 filter of 1): every
    tied position receives its window's gradient (Theano's MaxPoolGrad), also when the
    pooling runs inside the convolution's kernel."""
    f = training_graph((2, 2), "float32")
    rng = np.random.default_rng(7)
    xv = rng.integers(0, 2, size=(2, 3, 8, 10)).astype("float32")      # many ties of 0s and 1s
    wv = np.zeros((4, 3, 1, 1), "float32")
    wv[:, 0] = 1.0                                                      # c = x[:, 0] for every channel
    bv = np.zeros(4, "float32")
    ghv = rng.standard_normal((2, 1, 4, 5)).astype("float32")
    h, gx, gw, gb = f(xv, wv, bv, np.ones((1, 4, 1, 1), "float32"), ghv)
    c = np.repeat(xv[:, :1], 4, axis=1).astype("float64")
    p = np_pool(c, (2, 2))
    nxt = np.tanh(p).sum(1, keepdims=True)
    gp = np.repeat(ghv * (1 - np.tanh(nxt) ** 2), 4, axis=1) * (1 - np.tanh(p) ** 2)
    gc = np_pool_grad(c, p, gp, (2, 2))
    ties = (c.reshape(2, 4, 4, 2, 5, 2) == p[:, :, :, None, :, None]).sum((3, 5))
    assert (ties > 1).any()                     # the case is really about ties
    np.testing.assert_allclose(gx[:, 0], gc.sum(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(gx[:, 1:], 0)
    np.testing.assert_allclose(gb, gp.sum((0, 2, 3)), rtol=1e-5, atol=1e-6)
    assert "keep=conv+pool" in debugprint(f, file="str")


def test_relu_epilogue_keeps_the_correlation():
    """Without pooling: relu(conv + b) read by the next layer; the gradient also reads the
    correlation (Theano's relu gradient reads the pre-activation), so it is kept."""
    x, w, w2 = T.tensor4("x"), T.tensor4("w"), T.tensor4("w2")
    b = T.vector("b")
    c = T.nnet.conv2d(x, w, border_mode="half")
    h = T.nnet.relu(c + b.dimshuffle("x", 0, "x", "x"))
    cost = (T.nnet.conv2d(h, w2) ** 2).sum()
    gx, gw, gb = tvmsym.grad(cost, [x, w, b])
    f = tvmsym.function([x, w, b, w2], [cost, gx, gw, gb])
    g = tvmsym.function([x, w, b, w2], [cost, gx, gw, gb], mode=tvmsym.Mode(optimizer=None))
    rng = np.random.default_rng(2)
    args = [rng.standard_normal((3, 4, 9, 7)).astype("float32"), rng.standard_normal((6, 4, 3, 3)).astype("float32"),
            rng.standard_normal(6).astype("float32"), rng.standard_normal((2, 6, 2, 2)).astype("float32")]
    for a, r in zip(f(*args), g(*args)):
        np.testing.assert_allclose(a, r, rtol=2e-4, atol=2e-4)


def test_verify_grad_through_the_fused_training_kernel():
    """Finite differences through conv -> pool -> tanh(+ b) -> conv: the gradient function
    check_grads compiles contains the FusedConv that keeps the correlation and pooled max."""
    R = np.random.default_rng(5)

    def layer(ws):
        def fun(x, w, b, w2):
            c = T.nnet.conv2d(x, w)
            h = T.tanh(pool.pool_2d(c, ws, ignore_border=True) + b.dimshuffle("x", 0, "x", "x"))
            return T.nnet.conv2d(h, w2)
        return fun

    cases = [(layer((2, 2)), [R.standard_normal((2, 2, 7, 8)), R.standard_normal((3, 2, 3, 3)),
                              R.standard_normal(3), R.standard_normal((2, 3, 1, 2))]),
             (layer((3, 2)), [R.standard_normal((1, 3, 9, 6)), R.standard_normal((5, 3, 2, 2)),
                              R.standard_normal(5), R.standard_normal((1, 5, 2, 1))])]
    for k, res in enumerate(check_grads(cases, n_tests=2, rng=np.random.default_rng(0))):
        assert res["error"] is None, f"case {k}: {res['error']}"
    # the same graph's gradient function does fuse (what check_grads compiled)
    x, w, w2 = T.tensor4("x", dtype="float64"), T.tensor4("w", dtype="float64"), T.tensor4("w2", dtype="float64")
    b = T.vector("b", dtype="float64")
    out = layer((2, 2))(x, w, b, w2)
    f = tvmsym.function([x, w, b, w2], tvmsym.grad(out.sum(), [x, w, b]))
    assert "keep=conv+pool" in debugprint(f, file="str")
