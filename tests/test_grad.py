"""tvmsym.grad: the reverse-mode engine, its options, jacobian/hessian and gradient modifiers."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import function, grad
from tvmsym.gradient import (
    DisconnectedInputError,
    GradientError,
    NullGradientError,
    disconnected_grad,
    grad_clip,
    hessian,
    jacobian,
    verify_grad,
    zero_grad,
)
from tvmsym.symbolic import scalar as ps
from tvmsym.symbolic.grad import register_scalar_grad


def test_tutorial_derivative_of_square():
    x = T.dscalar("x")
    y = x ** 2
    gy = grad(y, x)
    f = function([x], gy)
    assert f(4) == 8.0
    assert f(94.2) == pytest.approx(188.4)
    # as Theano's grad builds it: seeded with fill(cost, 1.0)
    assert tvmsym.pp(gy) == ("((fill((x ** TensorConstant{2}), TensorConstant{1.0}) * "
                             "TensorConstant{2}) * (x ** (TensorConstant{2} - TensorConstant{1})))")


def test_tutorial_logistic_derivative():
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = grad(s, x)
    dlogistic = function([x], gs)
    v = np.array([[0, 1], [-1, -2]], dtype="float64")
    sig = 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(dlogistic(v), sig * (1 - sig), rtol=1e-12)
    np.testing.assert_allclose(dlogistic(v), [[0.25, 0.19661193], [0.19661193, 0.10499359]],
                               rtol=1e-7)


def test_broadcast_dimensions_are_summed_back_and_names():
    x = T.dmatrix("x")
    b = T.dvector("b")
    c = T.dcol("c")
    cost = T.sum(T.tanh(x + b) * c)
    cost.name = "cost"
    gx, gb, gc = grad(cost, [x, b, c])
    assert gb.type == b.type and gc.type == c.type and gx.type == x.type
    assert gb.name == "(dcost/db)"
    f = function([x, b, c], [gx, gb, gc])
    xv = np.arange(6.0).reshape(3, 2) / 10
    bv, cv = np.array([0.5, -0.5]), np.array([[1.0], [2.0], [3.0]])
    t = np.tanh(xv + bv)
    rx, rb, rc = f(xv, bv, cv)
    np.testing.assert_allclose(rx, (1 - t * t) * cv)
    np.testing.assert_allclose(rb, ((1 - t * t) * cv).sum(axis=0))
    np.testing.assert_allclose(rc, t.sum(axis=1, keepdims=True))


def test_gradient_keeps_float32():
    x = T.fvector("x")
    g = grad(T.sum(T.exp(x) * 2.5), x)
    assert g.dtype == "float32"
    np.testing.assert_allclose(function([x], g)(np.zeros(3, "float32")), [2.5] * 3)


def test_gradient_of_sum_has_input_shape():
    x = T.dmatrix("x")
    g = grad(x.sum(), x)
    np.testing.assert_array_equal(function([x], g)(np.zeros((2, 3))), np.ones((2, 3)))


def test_cost_must_be_scalar():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar"):
        grad(x * 2, x)


def test_disconnected_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(x * 2)
    with pytest.raises(DisconnectedInputError, match="not part of the computational graph"):
        grad(cost, y)
    gy = grad(cost, y, disconnected_inputs="ignore")
    np.testing.assert_array_equal(function([y], gy)(np.ones(3)), np.zeros(3))
    assert grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="None")[1] is None
    with pytest.warns(UserWarning):
        grad(cost, y, disconnected_inputs="warn")


def test_integer_inputs_have_zero_gradient():
    x = T.dvector("x")
    i = T.lvector("i")
    gi = grad(T.sum(x * i), i)
    assert gi.dtype == "int64"
    np.testing.assert_array_equal(function([i], gi)(np.array([1, 2])), [0, 0])


def test_consider_constant_and_known_grads():
    x = T.dvector("x")
    y = T.exp(x)
    g = grad(T.sum(y * x), x, consider_constant=[y])        # y treated as a constant
    xv = np.array([0.0, 1.0])
    np.testing.assert_allclose(function([x], g)(xv), np.exp(xv))
    seed = T.dvector("seed")
    g2 = grad(None, x, known_grads={y: seed})               # vector-Jacobian product
    np.testing.assert_allclose(function([x, seed], g2)(xv, np.array([2.0, 3.0])),
                               [2.0, 3.0 * np.e])


def test_gradient_modifiers():
    a = T.dvector("a")
    av = np.array([1.0, 2.0, -3.0])
    gz = grad(T.sum(zero_grad(a) * a), a)
    gd = grad(T.sum(disconnected_grad(a) * a), a)
    gc = grad(T.sum(grad_clip(a, -1, 1) * a * 5), a)
    rz, rd, rc = function([a], [gz, gd, gc])(av)
    np.testing.assert_array_equal(rz, av)
    np.testing.assert_array_equal(rd, av)
    np.testing.assert_array_equal(rc, 5 * av + np.clip(5 * av, -1, 1))
    with pytest.raises(DisconnectedInputError):
        grad(T.sum(disconnected_grad(a)), a)
    np.testing.assert_array_equal(function([a], zero_grad(a) * 2)(av), 2 * av)


def test_max_ties_share_the_gradient():
    a = T.dvector("a")
    gm = grad(T.max(a), a)
    gmx = grad(T.sum(T.maximum(a, 2.0)), a)
    rm, rmx = function([a], [gm, gmx])(np.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_array_equal(rm, [0, 1, 1, 0])
    np.testing.assert_array_equal(rmx, [0, 1, 1, 1])


def test_switch_gradient():
    a, b = T.dvector("a"), T.dvector("b")
    c = T.switch(a > 0, a * b, b)
    ga, gb = grad(T.sum(c), [a, b])
    ra, rb = function([a, b], [ga, gb])(np.array([1.0, -1.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(ra, [3, 0])
    np.testing.assert_array_equal(rb, [1, 1])


def test_jacobian_and_hessian():
    x = T.dvector("x")
    J = jacobian(x ** 2, x)
    H = hessian(T.sum(x ** 3), x)
    W = T.dmatrix("W")
    JW = jacobian(T.tanh(T.dot(W, x)), W)
    f = function([x, W], [J, H, JW])
    xv, Wv = np.array([4.0, 3.0]), np.arange(6.0).reshape(3, 2) / 10
    rJ, rH, rJW = f(xv, Wv)
    np.testing.assert_allclose(rJ, np.diag(2 * xv))
    np.testing.assert_allclose(rH, np.diag(6 * xv))
    t = 1 - np.tanh(Wv @ xv) ** 2
    expect = np.zeros((3, 3, 2))
    for i in range(3):
        expect[i, i] = t[i] * xv
    np.testing.assert_allclose(rJW, expect, rtol=1e-12)
    with pytest.raises(TypeError, match="1-dimensional"):
        jacobian(W * 2, x)


def test_gradient_graph_is_fused():
    x = T.dmatrix("x")
    g = grad(T.sum(T.tanh(x) * T.exp(x)), x)
    f = function([x], g)
    text = tvmsym.printing.debugprint(f, file="str")
    kernels = [n for n in f.maker.fgraph.toposort() if not isinstance(n.op, T.DimShuffle)]
    assert len(kernels) == 1, text                  # one fused elementwise kernel
    assert "Composite" in text
    xv = np.linspace(-1, 1, 6).reshape(2, 3)
    t = np.tanh(xv)
    np.testing.assert_allclose(f(xv), (1 - t * t) * np.exp(xv) + t * np.exp(xv))


def test_undefined_gradient_is_an_error():
    class NoGrad(tvmsym.symbolic.Op):
        def make_node(self, x):
            return tvmsym.symbolic.Apply(self, [x], [x.type()])

    x = T.dvector("x")
    with pytest.raises(NullGradientError, match="no gradient is defined for op NoGrad"):
        grad(T.sum(NoGrad()(x)), x)


class _WrongExp(type(ps.exp)):
    """exp whose registered gradient is wrong (2 * exp): verify_grad must catch it."""
    name = "wrong_exp"


@register_scalar_grad(_WrongExp)
def _wrong_exp_grad(op, inputs, z, gz):
    return [gz * z * 2]


def test_verify_grad_reports_the_op():
    verify_grad(lambda a: T.exp(a) * a, [np.array([0.1, 0.2, 0.3])])
    with pytest.raises(GradientError, match="wrong_exp") as info:
        verify_grad(lambda a: T.Elemwise(_WrongExp())(a), [np.array([0.1, 0.2, 0.3])],
                    rng=np.random.default_rng(0))
    e = info.value
    assert e.analytic == pytest.approx(2 * e.numeric, rel=1e-4)


def test_rop_and_lop_tutorial():
    W, V = T.dmatrix("W"), T.dmatrix("V")
    x, v = T.dvector("x"), T.dvector("v")
    y = T.dot(x, W)
    JV = T.Rop(y, W, V)
    f = function([W, V, x], JV, on_unused_input="ignore")
    np.testing.assert_array_equal(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2, 2])
    VJ = T.Lop(y, W, v)
    np.testing.assert_array_equal(function([v, x], VJ)([2, 2], [0, 1]), [[0, 0], [2, 2]])
    y2 = T.tanh(x) * x
    xv, vv = np.array([0.5, 1.0]), np.array([1.0, 2.0])
    t = np.tanh(xv)
    np.testing.assert_allclose(function([x, v], T.Rop(y2, x, v))(xv, vv),
                               ((1 - t * t) * xv + t) * vv)


def test_custom_op_with_grad_method():
    """An Op subclass may define Theano's ``grad(inputs, output_grads)`` itself."""
    from tvmsym.gradient import grad_undefined

    class Double(tvmsym.symbolic.Op):
        def make_node(self, x, k):
            return tvmsym.symbolic.Apply(self, [x, k], [x.type()])

        def perform(self, node, inputs):
            return [inputs[0] * 2]

        def infer_shape(self, node, shapes):
            return [shapes[0]]

        def grad(self, inputs, output_grads):
            return [output_grads[0] * 2, grad_undefined(self, 1, inputs[1])]

    x, k = T.dvector("x"), T.dvector("k")
    g = grad(T.sum(Double()(x, k) * x), x)
    np.testing.assert_array_equal(function([x, k], g, on_unused_input="ignore")(
        np.array([1.0, 2.0]), np.zeros(2)), [4, 8])
    with pytest.raises(NullGradientError, match="input 1"):
        grad(T.sum(Double()(x, k)), k)


def test_user_written_sigmoid_gradients_stay_finite_in_float32():
    """1/(1+exp(-z)), log(p) and log(1-p) differentiated in closed form (no inf/inf, 0/0)."""
    import tvmsym
    z = T.fvector("z")
    y = T.fvector("y")
    p = 1 / (1 + T.exp(-z))
    xent = (-y * T.log(p) - (1 - y) * T.log(1 - p)).sum()
    sig_sum = p.sum()
    f = tvmsym.function([z, y], [T.grad(xent, z), T.grad(sig_sum, z),
                                 T.grad(T.nnet.sigmoid(z).sum() + T.log(T.nnet.sigmoid(z)).sum(), z)])
    zv = np.array([-200, -90, -5, 0, 3, 90, 200], "float32")
    yv = np.array([1, 0, 1, 0, 1, 0, 1], "float32")
    g_xent, g_sig, g_nnet = f(zv, yv)
    z64 = zv.astype("float64")
    s = np.where(z64 >= 0, 1 / (1 + np.exp(-np.abs(z64))), np.exp(-np.abs(z64)) / (1 + np.exp(-np.abs(z64))))
    for g in (g_xent, g_sig, g_nnet):
        assert np.isfinite(g).all(), g
    np.testing.assert_allclose(g_xent, s - yv, rtol=1e-5, atol=1e-6)        # d xent / dz = p - y
    np.testing.assert_allclose(g_sig, s * (1 - s), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(g_nnet, s * (1 - s) + (1 - s), rtol=1e-5, atol=1e-30)


def test_sigmoid_shortcuts_match_finite_differences():
    from tvmsym.gradient import verify_grad
    rng = np.random.default_rng(3)
    zv = rng.standard_normal((3, 4))
    verify_grad(lambda z: (1 / (1 + T.exp(-z))).sum(), [zv], rng=rng)
    verify_grad(lambda z: T.log(1 / (1 + T.exp(z * 2))).sum(), [zv], rng=rng)
    verify_grad(lambda z: T.log(1 - 1 / (1 + T.exp(-z))).sum(), [zv], rng=rng)
    verify_grad(lambda z: T.log(1 - T.nnet.sigmoid(z)).sum(), [zv], rng=rng)
