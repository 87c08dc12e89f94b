"""Printing as Theano 1.0.5 prints: constants, InplaceDimShuffle, gt(...), Composite names,
and the unoptimized gradient graph as theano.grad builds it (second(cost, 1.0), Elemwise
ops from scalar gradients without ',no_inplace', their constants through DimShuffle{})."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.printing import debugprint, pp


@pytest.mark.parametrize("value, text", [
    (2.0, "TensorConstant{2.0}"), (2, "TensorConstant{2}"), (0.5, "TensorConstant{0.5}"),
    (np.ones(1), "TensorConstant{(1,) of 1.0}"), (np.full((2, 2), 3, "int8"),
                                                  "TensorConstant{(2, 2) of 3}"),
    (np.array([1.0, 2.5]), "TensorConstant{[1.  2.5]}"), (True, "TensorConstant{True}"),
    (np.arange(30.0), "TensorConstant{[ 0.  1.  ... 28. 29.]}"),     # cut past 20 characters
])
def test_constant_text(value, text):
    c = T.constant(value)
    assert str(c) == repr(c) == text
    assert debugprint(c, file="str") == f"{text} [id A]\n"
    c.name = "k"
    assert str(c) == "k"


def test_python_scalars_print_as_written():
    x = T.dvector("x")
    # the weak 2 takes x's dtype (float64) but prints as the user wrote it, as Theano's int8 2
    assert pp(x ** 2) == "(x ** TensorConstant{2})"
    assert (x ** 2).owner.inputs[1].owner.inputs[0].dtype == "float64"
    assert pp(x * 2.0) == "(x * TensorConstant{2.0})"
    assert pp(x + np.float64(1.5)) == "(x + TensorConstant{1.5})"


def test_comparisons_and_logic_in_pp():
    x, y = T.dvectors("x", "y")
    assert pp(x > y) == "gt(x, y)" and pp(T.le(x, y)) == "le(x, y)"
    assert pp(T.eq(x, y)) == "eq(x, y)" and pp(T.neq(x, y)) == "neq(x, y)"
    assert pp((x > 0) & (y < 1)) == "(gt(x, TensorConstant{0}) & lt(y, TensorConstant{1}))"
    assert pp(~(x > y)) == "(~gt(x, y))"
    assert pp(T.nnet.sigmoid(x)) == "sigmoid(x)"


def test_dimshuffle_prints_inplace():
    x = T.dmatrix("x")
    assert str(x.dimshuffle(1, "x", 0).owner.op) == "InplaceDimShuffle{1,x,0}"
    assert debugprint(x + 1.0, file="str") == (
        "Elemwise{add,no_inplace} [id A] ''   \n"
        " |x [id B]\n"
        " |InplaceDimShuffle{x,x} [id C] ''   \n"
        "   |TensorConstant{1.0} [id D]\n")
    assert pp(x.T) == "x.T"


def test_equal_scalar_constants_share_an_id():
    # Theano caches small scalar constants: both 1s of 1 / (1 + e) are one variable
    x = T.dvector("x")
    text = debugprint(1 / (1 + T.exp(x)), file="str")
    assert text.count("TensorConstant{1} [id C]") == 2 and "[id H]" not in text


def test_composite_names():
    x = T.dvector("x")
    f = theano.function([x], T.nnet.sigmoid(x) > 0.5)
    (node,) = f.maker.fgraph.toposort()
    assert str(node.op) == "Elemwise{Composite{GT(scalar_sigmoid(i0), 0.5)}}"
    g = theano.function([x], T.nnet.softplus(x) * 2)
    assert "scalar_softplus(i0)" in str(g.maker.fgraph.toposort()[0].op)


@pytest.fixture(scope="module")
def square_grad():
    x = T.dscalar("x")
    return x, T.grad(x ** 2, x)


def test_gradient_graph_as_grad_builds_it(square_grad):
    _, gy = square_grad
    # d(x ** y)/dx = gz * y * x ** (y - 1), seeded with second(cost, 1.0)
    assert pp(gy) == ("((fill((x ** TensorConstant{2}), TensorConstant{1.0}) * TensorConstant{2})"
                      " * (x ** (TensorConstant{2} - TensorConstant{1})))")
    assert debugprint(gy, file="str") == (
        "Elemwise{mul} [id A] ''   \n"
        " |Elemwise{mul} [id B] ''   \n"
        " | |Elemwise{second,no_inplace} [id C] ''   \n"
        " | | |Elemwise{pow,no_inplace} [id D] ''   \n"
        " | | | |x [id E]\n"
        " | | | |TensorConstant{2} [id F]\n"
        " | | |TensorConstant{1.0} [id G]\n"
        " | |TensorConstant{2} [id F]\n"
        " |Elemwise{pow} [id H] ''   \n"
        "   |x [id E]\n"
        "   |Elemwise{sub} [id I] ''   \n"
        "     |TensorConstant{2} [id F]\n"
        "     |InplaceDimShuffle{} [id J] ''   \n"
        "       |TensorConstant{1} [id K]\n")
    assert debugprint(gy, depth=2, file="str") == (
        "Elemwise{mul} [id A] ''   \n"
        " |Elemwise{mul} [id B] ''   \n"
        " |Elemwise{pow} [id C] ''   \n")
    assert debugprint(gy, depth=1, file="str") == "Elemwise{mul} [id A] ''   \n"


def test_rewrites_simplify_the_gradient_not_grad(square_grad):
    x, gy = square_grad
    f = theano.function([x], gy)
    assert pp(f.maker.fgraph.outputs[0]) == "(TensorConstant{2.0} * x)"
    assert debugprint(f.maker.fgraph.outputs[0], file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |TensorConstant{2.0} [id B]\n"
        " |x [id C]\n")
    assert f(3.0) == 6.0
    # without rewrites the gradient graph runs as built (second, pow, DimShuffle{}...)
    g = theano.function([x], gy, mode=theano.Mode(optimizer=None))
    ops = [str(n.op) for n in g.maker.fgraph.toposort()]
    assert "Elemwise{second,no_inplace}" in ops and "InplaceDimShuffle{}" in ops
    for v in (3.0, -1.5, 0.0):
        assert g(v) == f(v) == 2 * v


def test_grad_of_a_vector_cost_sum_and_numbers_unchanged():
    x = T.dvector("x")
    cost = (T.tanh(x) ** 3).sum()
    g = T.grad(cost, x)
    text = debugprint(g, file="str")
    assert "Elemwise{second,no_inplace}" in text          # the seed
    a = np.array([0.3, -1.2, 2.0])
    want = 3 * np.tanh(a) ** 2 * (1 - np.tanh(a) ** 2)
    for mode in (None, theano.Mode(optimizer=None), "FAST_COMPILE"):
        f = theano.function([x], g, mode=mode)
        np.testing.assert_allclose(f(a), want, rtol=1e-12)
    f = theano.function([x], g)
    # the compiled gradient does not compute the cost for the seed
    assert not any("Sum" in str(n.op) for n in f.maker.fgraph.toposort())


def test_second_fill():
    from tvmsym.symbolic.ops.second import second
    x = T.dmatrix("x")
    s = second(x, 2.5)
    assert pp(s) == "fill(x, TensorConstant{2.5})"
    a = np.zeros((2, 3))
    for mode in (None, theano.Mode(optimizer=None)):
        np.testing.assert_array_equal(theano.function([x], s, mode=mode)(a), np.full((2, 3), 2.5))
    theano.gradient.verify_grad(lambda v: second(np.zeros((2, 2)), v), [np.array([[1.0, 2.0]])],
                                rng=np.random.RandomState(0))
