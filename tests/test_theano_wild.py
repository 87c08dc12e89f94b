"""What public Theano model code does, run unchanged: truthiness, softmax of a vector,
theano.scalar, theano.tensor.xlogx."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.tensor.xlogx import xlogx, xlogy0


def test_variables_are_truthy_comparisons_raise():
    W = theano.shared(np.zeros((2, 3)), name="W")
    x = T.dmatrix("x")
    assert W and x and (x + 1) and T.constant(0.0)      # `if not W: W = init()` keeps W
    for cmp in (x < 1, x <= 1, x > W, x >= 0):
        with pytest.raises(TypeError, match="comparison has no truth value"):
            bool(cmp)
    with pytest.raises(TypeError):
        _ = 0 < x < 1                                    # a < b < c is refused, as in Theano
    assert T.eq(x, 1)       # eq() is no Python comparison: a variable like any other


def test_softmax_of_a_vector_is_a_row():
    v = T.dvector("v")
    s = T.nnet.softmax(v)
    assert s.ndim == 2 and s.broadcastable == (True, False)
    a = np.array([1.0, -2.0, 0.5, 3.0])
    e = np.exp(a - a.max())
    f = theano.function([v], [s, T.nnet.log_softmax(v), s[:, 0]])
    got, lgot, first = f(a)
    np.testing.assert_allclose(got, (e / e.sum())[None, :], rtol=1e-12)
    np.testing.assert_allclose(lgot, np.log(e / e.sum())[None, :], rtol=1e-12)
    np.testing.assert_allclose(first, [e[0] / e.sum()], rtol=1e-12)
    assert T.nnet.softmax(v, axis=-1).ndim == 1                 # explicit axis keeps a vector
    theano.gradient.verify_grad(lambda u: T.nnet.softmax(u)[0, 1], [a], rng=np.random.RandomState(0))


def test_scalar_module():
    sc = theano.scalar
    assert sc.upcast("int32", "float32") == "float64" and sc.upcast("int8", "uint8") == "int16"
    assert sc.upcast("float32") == "float32" and sc.upcast("floatX") == theano.config.floatX
    assert sc.float64 == T.TensorType("float64", ()) and sc.int32.dtype == "int32"
    assert sc.upgrade_to_float("int8") == ("float32",) and sc.upgrade_to_float("int64") == ("float64",)
    assert sc.basic.upcast is sc.upcast and sc.float32 in sc.float_types
    x = sc.float64("x")
    assert x.ndim == 0 and x.dtype == "float64"
    from tvmsym.tensor.elemwise import Elemwise
    y = Elemwise(sc.exp)(T.dvector("v"))
    assert y.owner.op == T.exp(T.dvector()).owner.op

    assert sc.same_out("int8", "float64") == ("int8",) and sc.upcast_out("int8", "float32") == ("float32",)


def test_xlogx_and_xlogy0():
    x, y = T.dvectors("x", "y")
    a = np.array([0.0, 0.5, 1.0, 3.0])
    b = np.array([0.0, 0.25, 0.5, 7.0])
    f = theano.function([x, y], [xlogx(x), xlogy0(x, y)])
    gx, gxy = f(a, b)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(gx, np.where(a == 0, 0, a * np.log(a)), rtol=1e-12)
        want = np.where(a == 0, 0, a * np.log(b))
    np.testing.assert_allclose(gxy, want, rtol=1e-12)
    assert gxy[0] == 0.0                    # x == 0: 0 even where log(y) is -inf
    theano.gradient.verify_grad(lambda u: xlogx(u).sum(), [np.array([0.3, 1.5, 2.0])],
                                rng=np.random.RandomState(1))
    from tvmsym import tensor
    assert tensor.xlogx.xlogx is xlogx


def test_givens_reach_scan_inner_graphs():
    # public model code: a minibatch slice replaces x everywhere, inside scan bodies too
    x = T.dvector("x")
    data = theano.shared(np.arange(10.0), name="data")
    i = T.lscalar("i")
    out, _ = theano.scan(lambda k, acc: acc + x * k, sequences=[T.arange(3)],
                         outputs_info=[T.zeros_like(x)])
    rows, _ = theano.scan(lambda a: a * x.sum(), sequences=[x])
    f = theano.function([i], [out[-1], rows], givens={x: data[i:i + 2]})
    last, r = f(2)
    np.testing.assert_allclose(last, np.array([2.0, 3.0]) * 3)
    np.testing.assert_allclose(r, np.array([2.0, 3.0]) * 5)
    h = T.dmatrix("h")
    probs, _ = theano.scan(lambda row: T.nnet.softmax(row)[0], sequences=[h])
    g = theano.function([i], probs, givens={h: data[i:i + 4].reshape((2, 2))})
    e = np.exp([0.0, 1.0])
    np.testing.assert_allclose(g(0), np.tile(e / e.sum(), (2, 1)), rtol=1e-12)


def test_theano_namespace_odds_and_ends():
    a, b, c = T.scalars("xys")                       # Theano: one variable per letter
    assert [v.name for v in (a, b, c)] == ["x", "y", "s"]
    m1, m2 = T.dmatrices("a, b")
    assert (m1.name, m2.name) == ("a", "b")
    assert len(T.dmatrices("w")) == 1
    from tvmsym.compile.io import In, Out
    u = T.dscalar("u")
    f = theano.function([In(u, value=3.0)], Out(u * 2))
    assert f() == 6.0
    x = T.dvector("x")
    np.testing.assert_allclose(theano.dot(x, x).eval({x: np.array([1.0, 2.0])}), 5.0)
