"""FusedDot: a matrix product and the Elemwise that reads it, one kernel (rewrites/blas.py).

Numbers against numpy on packed (register-tile) and plain products, padded and
unpadded tiles, broadcast epilogue operands; the graphs it must leave alone.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.printing import debugprint
from tvmsym.runtime.mode import Mode
from tvmsym.symbolic.graph import graph_inputs

TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}


def _ops(f):
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def _layer(dtype):
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    b = T.vector("b", dtype=dtype)
    return [x, W, b], T.tanh(T.dot(x, W) + b)


_LAYER = {}


def layer(dtype):
    if dtype not in _LAYER:
        ins, out = _layer(dtype)
        _LAYER[dtype] = tvmsym.function(ins, out)
    return _LAYER[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M,K,N", [(128, 96, 64),     # packed, whole tiles: epilogue in the register write-back
                                   (130, 77, 45),     # packed, padded tiles: epilogue reads the padded product
                                   (5, 3, 7),         # plain reduction
                                   (1, 40, 1), (64, 64, 1)])
def test_dense_layer_vs_numpy(dtype, M, K, N):
    f = layer(dtype)
    assert _ops(f) == ["InplaceDimShuffle{x,0}", "FusedDot{Composite{tanh((i0 + i1))}}"]
    rng = np.random.default_rng(M * 1000 + N)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in [(M, K), (K, N), (N,)])
    got = f(x, W, b)
    assert got.dtype == dtype and got.shape == (M, N)
    np.testing.assert_allclose(got, np.tanh(x @ W + b), **TOL[dtype])


def test_debugprint_shows_the_fused_kernel():
    f = layer("float32")
    assert debugprint(f, file="str") == (
        "FusedDot{Composite{tanh((i0 + i1))}} [id A] ''   1\n"
        " |x [id B]\n"
        " |W [id C]\n"
        " |InplaceDimShuffle{x,0} [id D] ''   0\n"
        "   |b [id E]\n")


@pytest.mark.parametrize("nin,nout", [(96, 64), (97, 65)])
def test_sgd_update_is_the_gradient_products_epilogue(nin, nout):
    # W - lr * dot(x.T, d): the update reads W tile by tile in the product's epilogue (issue
    # 13: no second pass over W); a padded product (97x65) applies it to the [M, N] part
    rng = np.random.default_rng(0)
    x = T.fmatrix("x")
    d = T.fmatrix("d")
    W = tvmsym.shared(rng.standard_normal((nin, nout)).astype("float32"), name="W")
    step = tvmsym.function([x, d], [], updates=[(W, W - np.float32(0.01) * T.dot(x.T, d))])
    assert any(o.startswith("FusedDot") for o in _ops(step)) and "dot" not in _ops(step)
    W0 = W.get_value()
    xs = rng.standard_normal((32, nin)).astype("float32")
    ds = rng.standard_normal((32, nout)).astype("float32")
    for _ in range(3):
        step(xs, ds)
        W0 = W0 - np.float32(0.01) * (xs.T @ ds)
    np.testing.assert_allclose(W.get_value(), W0, rtol=1e-5, atol=1e-5)


def test_epilogue_operands_broadcast_and_repeat():
    x, W = T.fmatrix("x"), T.fmatrix("W")
    r, c, s = T.frow("r"), T.fcol("c"), T.fscalar("s")
    p = T.dot(x, W)
    out = p * p + r * c - s        # the product twice, a row, a column and a scalar
    f = tvmsym.function([x, W, r, c, s], out)
    assert sum(o.startswith("FusedDot") for o in _ops(f)) == 1
    rng = np.random.default_rng(1)
    xv, Wv = rng.standard_normal((36, 20)).astype("f"), rng.standard_normal((20, 48)).astype("f")
    rv, cv = rng.standard_normal((1, 48)).astype("f"), rng.standard_normal((36, 1)).astype("f")
    pv = xv @ Wv
    np.testing.assert_allclose(f(xv, Wv, rv, cv, np.float32(0.5)), pv * pv + rv * cv - 0.5, rtol=1e-4, atol=1e-4)


def test_left_alone():
    x, W, M = T.fmatrix("x"), T.fmatrix("W"), T.fmatrix("M")
    row = T.frow("row")
    p = T.dot(x, W)
    cases = {
        "product is also an output": [T.tanh(p), p],
        "product read twice": [T.tanh(p), T.exp(p)],
        "epilogue broadcasts the product": [T.dot(row, W) + M],
        "vector product": [T.tanh(T.dot(x, T.fvector("v")))],
        "integer product": [T.tanh(T.dot(T.imatrix("a"), T.imatrix("b")))],
    }
    for why, outs in cases.items():
        ins = sorted({v for o in outs for v in graph_inputs([o]) if v.name}, key=lambda v: v.name)
        f = tvmsym.function(ins, outs, on_unused_input="ignore")
        assert not any(o.startswith("FusedDot") for o in _ops(f)), why
    rng = np.random.default_rng(2)
    f = tvmsym.function([row, W, M], T.dot(row, W) + M)
    rv, Wv, Mv = (rng.standard_normal(s).astype("f") for s in [(1, 8), (8, 5), (4, 5)])
    np.testing.assert_allclose(f(rv, Wv, Mv), rv @ Wv + Mv, rtol=1e-5)


def test_excluded_by_name_and_not_on_cuda():
    ins, out = _layer("float32")
    f = tvmsym.function(ins, out, mode=Mode().excluding("dot_epilogue"))
    assert "FusedDot" not in " ".join(_ops(f)) and "dot" in _ops(f)
    g = tvmsym.function(ins, out, mode=Mode(target="cuda"))
    assert not any(o.startswith("FusedDot") for o in _ops(g))
    rng = np.random.default_rng(3)
    x, W, b = (rng.standard_normal(s).astype("f") for s in [(16, 8), (8, 24), (24,)])
    np.testing.assert_allclose(f(x, W, b), np.tanh(x @ W + b), rtol=1e-5, atol=1e-6)


def test_perform_matches_kernel():
    f = layer("float64")
    node = f.maker.fgraph.toposort()[-1]
    rng = np.random.default_rng(4)
    x, W, b = (rng.standard_normal(s) for s in [(6, 5), (5, 3), (1, 3)])
    (ref,) = node.op.perform(node, [x, W, b])
    np.testing.assert_allclose(ref, np.tanh(x @ W + b), rtol=1e-12)
