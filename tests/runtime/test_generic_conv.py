"""Batch-generic convolutions and pooling (lowering/generic_conv_decl.py,
schedules/cpu_conv_generic.py): one build serves every batch size; the image and filter
sizes stay specialized (structural).  Results against numpy im2col references written
here, gradients against finite differences at a batch the kernels were not built at."""
import itertools

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import executor
from tvmsym.tensor.nnet import abstract_conv
from tvmsym.tensor.signal import pool

LR = np.float32(0.05)


def _kernels():
    return executor.build_stats["kernels"]


# ------------------------------------------------------------------ numpy references
def conv_fwd(x, W):
    """Valid convolution, flipped filters (Theano's conv2d), by im2col + matmul."""
    Co, C, k, _ = W.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))   # N C OH OW k k
    N, _, OH, OW = win.shape[:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * k * k, OH * OW)
    Wf = W[:, :, ::-1, ::-1].reshape(Co, -1)
    return np.matmul(Wf, cols).reshape(N, Co, OH, OW), (cols, Wf, x.shape, k)


def conv_back(d, cache):
    cols, Wf, shape, k = cache
    N, Co, OH, OW = d.shape
    d2 = d.reshape(N, Co, OH * OW)
    dW = np.tensordot(d2, cols, axes=([0, 2], [0, 2])).reshape(Co, shape[1], k, k)[:, :, ::-1, ::-1]
    dc = np.matmul(Wf.T, d2).reshape(N, shape[1], k, k, OH, OW)
    dx = np.zeros(shape, d.dtype)
    for i, j in itertools.product(range(k), range(k)):
        dx[:, :, i:i + OH, j:j + OW] += dc[:, :, i, j]
    return dx, dW


def pool_fwd(x):
    N, C, H, W = x.shape
    r = x.reshape(N, C, H // 2, 2, W // 2, 2)
    m = r.max(axis=(3, 5))
    return m, (r, m)


def pool_back(d, cache):
    r, m = cache
    g = (r == m[:, :, :, None, :, None]) * d[:, :, :, None, :, None]
    return g.reshape(r.shape[0], r.shape[1], r.shape[2] * 2, -1)


def cnn_step(x, y, P):
    """One SGD step of ``_cnn`` in numpy (updates ``P`` in place); returns the loss."""
    W1, W2, W3 = P
    c1, k1 = conv_fwd(x, W1)
    p1, q1 = pool_fwd(c1)
    h1 = np.tanh(p1)
    c2, k2 = conv_fwd(h1, W2)
    p2, q2 = pool_fwd(c2)
    h2 = np.tanh(p2)
    c3, k3 = conv_fwd(h2, W3)
    z = c3.sum(axis=(2, 3))
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    n = x.shape[0]
    loss = -np.sum(y * np.log(p)) / n
    dz = (p * y.sum(1, keepdims=True) - y) / n
    dh2, dW3 = conv_back(np.broadcast_to(dz[:, :, None, None], c3.shape).copy(), k3)
    dh1, dW2 = conv_back(pool_back(dh2 * (1 - h2 ** 2), q2), k2)
    _, dW1 = conv_back(pool_back(dh1 * (1 - h1 ** 2), q1), k1)
    for p_, g in zip(P, (dW1, dW2, dW3)):
        p_ -= LR * g.astype(p_.dtype)
    return loss


# ------------------------------------------------------------------ the models
SHAPES = [(20, 1, 5, 5), (16, 20, 5, 5), (10, 16, 4, 4)]


def _cnn(P, specialize=False):
    """28x28 -> conv 20 5x5 (the register-tile product) -> max pool 2 -> tanh -> conv 16 5x5
    -> max pool 2 -> tanh -> conv 10 4x4 (a plain reduction: one output position) -> sum
    -> softmax -> cross-entropy with one-hot targets; SGD on the three filters (their
    gradients: register-tile and plain filter gradients, col2im and plain input gradients,
    the max-pool gradients)."""
    x = T.tensor4("x", dtype="float32")
    y = T.fmatrix("y")
    sh = [tvmsym.shared(p.copy(), name=f"W{k + 1}") for k, p in enumerate(P)]
    W1, W2, W3 = sh
    h1 = T.tanh(pool.pool_2d(T.nnet.conv2d(x, W1, filter_shape=SHAPES[0]), (2, 2), ignore_border=True))
    h2 = T.tanh(pool.pool_2d(T.nnet.conv2d(h1, W2, filter_shape=SHAPES[1]), (2, 2), ignore_border=True))
    z = T.nnet.conv2d(h2, W3, filter_shape=SHAPES[2]).sum(axis=(2, 3))
    p = T.nnet.softmax(z)
    cost = -T.sum(T.sum(y * T.log(p), axis=1)) / x.shape[0]    # (rows, then a vector: generic)
    grads = tvmsym.grad(cost, sh)
    f = tvmsym.function([x, y], cost, updates=[(s, s - LR * g) for s, g in zip(sh, grads)],
                        specialize=specialize)
    return f, sh


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.3, 0.3, s).astype("float32") for s in SHAPES]


def _batch(rng, n):
    x = rng.standard_normal((n, 1, 28, 28)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, n)]
    return x, y


@pytest.fixture(scope="module")
def cnn():
    P = _params()
    f, sh = _cnn(P)
    return f, sh, P


def test_cnn_one_build_any_batch(cnn):
    """Batch 128, then 37, then 1 (whose batch equals the image's channel count: one class
    of its own shapes) and 128 again: nothing is built after the first call, and every
    step equals numpy's (loss and the three updated filters)."""
    f, sh, P = cnn
    rng = np.random.default_rng(1)
    built = []
    for n in (128, 37, 1, 128):
        x, y = _batch(rng, n)
        before = _kernels()
        got = float(f(x, y))
        built.append(_kernels() - before)
        want = float(cnn_step(x, y, P))
        assert abs(got - want) < 1e-4 * max(1.0, abs(want)), (n, got, want)
        for s, p in zip(sh, P):
            np.testing.assert_allclose(s.get_value(), p, rtol=1e-3, atol=2e-5, err_msg=f"batch {n}")
    assert built[0] > 0 and built[1:] == [0, 0, 0], f"kernels built per call: {built}"
    assert not f._plan.__dict__.get("_generic_errors")


def test_cnn_kernels_are_batch_generic(cnn):
    """The convolution and pooling kernels are lowered on a symbolic batch (their TIR has
    the class variable) while the image and filter sizes are constants."""
    f, sh, P = cnn
    sizes = {"x": (128, 1, 28, 28), "y": (128, 10)}
    sizes.update({s.name: p.shape for s, p in zip(sh, P)})
    text = f.as_text("tir", shapes=[sizes[v.name] for v in f._plan.fgraph.inputs])
    conv = [blk for blk in text.split("@T.prim_func") if "cv_" in blk]
    assert conv, "no convolution kernel in the listing"
    for blk in conv:
        assert "T.int32()" in blk or "T.int64()" in blk, blk[:2000]      # the symbolic batch


def test_specialize_builds_per_batch():
    """``specialize=True`` keeps the per-shape kernels: a new batch builds again (and gives
    the same results as the generic function, bit for bit in the filter gradient: the batch
    reduction runs in the same order)."""
    P = _params(2)
    fs, shs = _cnn(P, specialize=True)
    fg, shg = _cnn(P)
    rng = np.random.default_rng(3)
    for n, expect_build in ((8, True), (5, True)):
        x, y = _batch(rng, n)
        before = _kernels()
        ls = float(fs(x, y))
        assert (_kernels() > before) == expect_build
        lg = float(fg(x, y))
        assert abs(ls - lg) <= 1e-6 * max(1.0, abs(ls))
        for a, b in zip(shs, shg):
            np.testing.assert_allclose(a.get_value(), b.get_value(), rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def layer_fns():
    """Each convolution alone, float64, generic: forward, filter and input gradient (the
    fast register-tile forms at these sizes: one image is 6.5 MFLOP, enough for the
    pool alone, so batch 1 runs the form that splits its row tiles) and a small one (the
    plain reduction)."""
    out = {}
    for name, (C, H, Co, k) in {"tile": (16, 20, 32, 5), "plain": (2, 6, 3, 3)}.items():
        x = T.tensor4("x", dtype="float64")
        W = T.tensor4("W", dtype="float64")
        dy = T.tensor4("dy", dtype="float64")
        out[name] = ((C, H, Co, k), tvmsym.function([x, W], T.nnet.conv2d(x, W, filter_shape=(Co, C, k, k))),
                     tvmsym.function([x, dy], abstract_conv.conv2d_grad_wrt_weights(x, dy, (Co, C, k, k))),
                     tvmsym.function([W, dy], abstract_conv.conv2d_grad_wrt_inputs(dy, W, (None, C, H, H))))
    return out


@pytest.mark.parametrize("name", ["tile", "plain"])
def test_conv_layers_any_batch(layer_fns, name):
    """Forward, filter gradient and input gradient at batch 9, 1, 31, 4, 0: one build each
    (the empty batch is a size of its own), equal to numpy's."""
    (C, H, Co, k), fwd, gw, gi = layer_fns[name]
    rng = np.random.default_rng(4)
    W = rng.standard_normal((Co, C, k, k))
    built = []
    for n in (9, 1, 31, 4, 0):
        x = rng.standard_normal((n, C, H, H))
        dy = rng.standard_normal((n, Co, H - k + 1, H - k + 1))
        before = _kernels()
        y, dW, dx = fwd(x, W), gw(x, dy), gi(W, dy)
        built.append(_kernels() - before)
        want, cache = conv_fwd(x, W)
        wdx, wdW = conv_back(dy, cache)
        np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dW, wdW, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, wdx, rtol=1e-10, atol=1e-10)
    assert built[0] > 0 and built[1:4] == [0, 0, 0], built


def test_filter_gradient_is_deterministic(layer_fns):
    """The filter gradient's reduction over the batch runs in one order: the same call twice
    gives the same bits, at a batch it was not built at."""
    (C, H, Co, k), _, gw, _ = layer_fns["tile"]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((23, C, H, H))
    dy = rng.standard_normal((23, Co, H - k + 1, H - k + 1))
    a = gw(x, dy).copy()
    for _ in range(3):
        np.testing.assert_array_equal(gw(x, dy), a)


# ------------------------------------------------------------------ pooling, gradients
POOLS = [dict(ws=(2, 2), stride=(2, 2), pad=(0, 0), mode="max"),
         dict(ws=(3, 3), stride=(2, 2), pad=(0, 0), mode="max"),
         dict(ws=(3, 2), stride=(2, 1), pad=(1, 1), mode="average_exc_pad"),
         dict(ws=(2, 2), stride=(1, 1), pad=(0, 0), mode="sum")]


@pytest.fixture(scope="module")
def grad_fns():
    """f(x, W) = a float64 cost through a convolution and each pooling of POOLS; and its
    gradient with respect to x and W (MaxPoolGrad, AveragePoolGrad, conv gradients)."""
    x = T.tensor4("x", dtype="float64")
    W = T.tensor4("W", dtype="float64")
    c = T.nnet.conv2d(x, W, filter_shape=(4, 3, 3, 3))
    terms = [pool.pool_2d(c, ignore_border=True, **kw) for kw in POOLS]
    cost = sum(T.sum(T.sum(T.tanh(t) ** 2, axis=(1, 2, 3))) for t in terms)   # (generic sums)
    return tvmsym.function([x, W], cost), tvmsym.function([x, W], tvmsym.grad(cost, [x, W]))


def test_gradients_by_finite_differences_at_a_new_batch(grad_fns):
    """Built at batch 6, checked at batch 5 and 1 (no build): the gradients equal central
    differences of the cost along random directions."""
    fc, fgr = grad_fns
    rng = np.random.default_rng(6)
    W = rng.standard_normal((4, 3, 3, 3)) * 0.3
    fgr(rng.standard_normal((6, 3, 11, 11)), W)
    fc(rng.standard_normal((6, 3, 11, 11)), W)
    for n in (5, 1):
        x = rng.standard_normal((n, 3, 11, 11))
        before = _kernels()
        gx, gW = fgr(x, W)
        assert _kernels() == before
        eps = 1e-6
        for _ in range(3):
            vx, vW = rng.standard_normal(x.shape), rng.standard_normal(W.shape)
            fd = (fc(x + eps * vx, W + eps * vW) - fc(x - eps * vx, W - eps * vW)) / (2 * eps)
            an = np.sum(gx * vx) + np.sum(gW * vW)
            assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (n, fd, an)
        assert _kernels() == before


def ref_pool(x, ws, stride, pad, mode):
    """ignore_border=True pooling by loops over the windows (padding excluded from the
    windows: max and average_exc_pad; sum)."""
    N, C, H, W = x.shape
    oh = (H + 2 * pad[0] - ws[0]) // stride[0] + 1
    ow = (W + 2 * pad[1] - ws[1]) // stride[1] + 1
    out = np.zeros((N, C, oh, ow), x.dtype)
    for i, j in itertools.product(range(oh), range(ow)):
        r0, c0 = i * stride[0] - pad[0], j * stride[1] - pad[1]
        win = x[:, :, max(r0, 0):min(r0 + ws[0], H), max(c0, 0):min(c0 + ws[1], W)].reshape(N, C, -1)
        out[:, :, i, j] = win.max(-1) if mode == "max" else win.sum(-1) if mode == "sum" else win.mean(-1)
    return out


@pytest.mark.parametrize("kw", POOLS, ids=[p["mode"] + str(p["ws"]) for p in POOLS])
def test_pooling_any_batch(kw):
    """Pooling alone on a symbolic batch and channel count: one build serves batch 3, 1, 7
    (channels 2, 5, 1), numpy's results."""
    x = T.tensor4("x", dtype="float64")
    f = tvmsym.function([x], pool.pool_2d(x, ignore_border=True, **kw))
    rng = np.random.default_rng(7)
    built = []
    for n, c in ((3, 2), (1, 5), (7, 1)):
        xv = rng.standard_normal((n, c, 9, 10))
        before = _kernels()
        got = f(xv)
        built.append(_kernels() - before)
        np.testing.assert_allclose(got, ref_pool(xv, **kw), rtol=1e-12, atol=1e-12)
    assert built[0] >= 1 and built[1:] == [0, 0], built


_CHILD = """
import sys
import numpy as np
import tvmsym, tvmsym.tensor as T
from tvmsym.tensor.signal import pool
from tvmsym.runtime import executor, warm_generic
x = T.tensor4("x", dtype="float32")
W = tvmsym.shared(np.linspace(-1, 1, 8 * 2 * 3 * 3).astype("float32").reshape(8, 2, 3, 3), name="W")
f = tvmsym.function([x], T.tanh(pool.pool_2d(T.nnet.conv2d(x, W, filter_shape=(8, 2, 3, 3)), (2, 2),
                                             ignore_border=True)))
n = int(sys.argv[1])
xv = np.random.default_rng(n).standard_normal((n, 2, 10, 10)).astype("float32")
r = f(xv)
Wf = W.get_value()[:, :, ::-1, ::-1]
win = np.lib.stride_tricks.sliding_window_view(xv, (3, 3), axis=(2, 3))
c = np.einsum("nchwij,ocij->nohw", win, Wf)
want = np.tanh(c.reshape(n, 8, 4, 2, 4, 2).max(axis=(3, 5)))
print("RESULT", np.allclose(r, want, rtol=1e-4, atol=1e-5), "tvm" in sys.modules,
      warm_generic.stats["hits"], executor.build_stats["kernels"])
"""


def _child(tmp_path, n):
    import os
    import subprocess
    import sys
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}")
    env.pop("TVMSYM_NO_WARM", None)
    p = subprocess.run([sys.executable, "-c", _CHILD, str(n)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    ok, has_tvm, hits, kernels = p.stdout.split("RESULT")[1].split()
    return ok == "True", has_tvm == "True", int(hits), int(kernels)


def test_warm_start_at_a_new_batch_without_tvm(tmp_path):
    """A new process whose convolution was built (by another process) at batch 16 runs batch
    7 from the on-disk entry of the generic signature: no build, no ``import tvm``."""
    ok, has_tvm, hits, kernels = _child(tmp_path, 16)
    assert ok and has_tvm and hits == 0 and kernels > 0
    ok, has_tvm, hits, kernels = _child(tmp_path, 7)
    assert ok, "results differ from numpy"
    assert hits == 1 and kernels == 0 and not has_tvm
