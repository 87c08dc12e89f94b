"""The LeNet model of Theano's tutorial (convolutional_mlp.py) trained a few SGD steps on
synthetic data, against a numpy implementation of the same steps (im2col by hand)."""
import re

import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.printing import debugprint
from tvmsym.tensor.signal import pool

LR = np.float32(0.1)


def im2col(x, k):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))   # N C OH OW k k
    N, C, OH, OW = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * k * k, OH * OW), OH, OW


def conv_fwd(x, W):
    Co, C, k, _ = W.shape
    cols, OH, OW = im2col(x, k)
    Wf = W[:, :, ::-1, ::-1].reshape(Co, -1)
    return np.matmul(Wf, cols).reshape(x.shape[0], Co, OH, OW), (cols, Wf, x.shape, k)


def conv_back(d, cache):
    cols, Wf, shape, k = cache
    N, Co, OH, OW = d.shape
    d2 = d.reshape(N, Co, -1)
    dW = np.tensordot(d2, cols, axes=([0, 2], [0, 2])).reshape(Co, shape[1], k, k)[:, :, ::-1, ::-1]
    dc = np.matmul(Wf.T, d2).reshape(N, shape[1], k, k, OH, OW)
    dx = np.zeros(shape, d.dtype)
    for i in range(k):
        for j in range(k):
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


def numpy_step(x, y, P):
    W1, b1, W2, b2, W3, b3, W4, b4 = P
    c1, k1 = conv_fwd(x, W1)
    p1, q1 = pool_fwd(c1)
    h1 = np.tanh(p1 + b1[None, :, None, None])
    c2, k2 = conv_fwd(h1, W2)
    p2, q2 = pool_fwd(c2)
    h2 = np.tanh(p2 + b2[None, :, None, None])
    f = h2.reshape(x.shape[0], -1)
    h3 = np.tanh(f @ W3 + b3)
    z = h3 @ W4 + b4
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    n = x.shape[0]
    loss = -np.mean(np.log(p[np.arange(n), y]))
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz /= n
    dh3 = (dz @ W4.T) * (1 - h3 ** 2)
    dh2 = (dh3 @ W3.T).reshape(h2.shape) * (1 - h2 ** 2)
    dh1, dW2 = conv_back(pool_back(dh2, q2), k2)
    dh1 = dh1 * (1 - h1 ** 2)
    _, dW1 = conv_back(pool_back(dh1, q1), k1)
    grads = [dW1, dh1.sum((0, 2, 3)), dW2, dh2.sum((0, 2, 3)), f.T @ dh3, dh3.sum(0), h3.T @ dz, dz.sum(0)]
    for p_, g in zip(P, grads):
        p_ -= LR * g.astype(p_.dtype)
    return loss


def test_lenet_trains_like_numpy():
    rng = np.random.default_rng(0)
    B = 16
    shapes = [(6, 1, 5, 5), (6,), (10, 6, 5, 5), (10,), (160, 32), (32,), (32, 10), (10,)]
    P = [rng.uniform(-0.3, 0.3, s).astype("float32") for s in shapes]
    x = T.tensor4("x", dtype="float32")
    y = T.ivector("y")
    sh = [theano.shared(p.copy(), name=f"p{k}") for k, p in enumerate(P)]
    W1, b1, W2, b2, W3, b3, W4, b4 = sh
    l1 = T.tanh(pool.pool_2d(T.nnet.conv2d(x, W1, filter_shape=(6, 1, 5, 5), input_shape=(B, 1, 28, 28)),
                             (2, 2), ignore_border=True) + b1.dimshuffle("x", 0, "x", "x"))
    l2 = T.tanh(pool.pool_2d(T.nnet.conv2d(l1, W2, filter_shape=(10, 6, 5, 5)), (2, 2), ignore_border=True)
                + b2.dimshuffle("x", 0, "x", "x"))
    h3 = T.tanh(T.dot(l2.flatten(2), W3) + b3)
    p_y = T.nnet.softmax(T.dot(h3, W4) + b4)
    cost = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    grads = theano.grad(cost, sh)
    train = theano.function([x, y], cost, updates=[(p, p - LR * g) for p, g in zip(sh, grads)])
    text = debugprint(train, file="str")
    assert "CorrMM{valid, (1, 1), (1, 1), 1 False}" in text
    assert "CorrMM_gradWeights" in text and "CorrMM_gradInputs" in text
    # each layer's pooling and tanh(+ bias) run in its convolution's kernel, which also keeps
    # the correlation and the pooled max for MaxPoolGrad (Theano's arg-max routing)
    fused = re.findall(r"Pool\{ws=\(2, 2\), mode='max'\}, Composite\{tanh\(\(i0 \+ i1\)\)\}, "
                       r"keep=conv\+pool\}\.\d \[id (\w+)\]", text)
    assert len(set(fused)) == 2, text          # both layers
    assert "Pool{ignore_border" not in text and "MaxPoolGrad" in text
    xs = rng.standard_normal((B, 1, 28, 28)).astype("float32")
    ys = rng.integers(0, 10, B).astype("int32")
    losses = []
    for step in range(4):
        lt = float(train(xs, ys))
        ln = float(numpy_step(xs, ys, P))
        losses.append(lt)
        assert abs(lt - ln) < 1e-4 * max(1.0, abs(ln)), (step, lt, ln)
        for s, p in zip(sh, P):
            np.testing.assert_allclose(s.get_value(), p, rtol=1e-3, atol=2e-5, err_msg=f"step {step}")
    assert losses[-1] < losses[0]            # it learns the batch
