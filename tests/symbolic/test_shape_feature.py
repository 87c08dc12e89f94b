"""Theano's ShapeFeature: a value read only for its shape is never computed."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.printing import debugprint
from tvmsym.runtime.function import MissingInputError
from tvmsym.symbolic.rewrites.pipeline import stage_names


def _ops(f):
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def _value_kernels(f):
    """Nodes that read tensor data (anything but shape metadata / shape arithmetic)."""
    keep = ("Shape_i", "MakeVector", "Elemwise{add}", "Elemwise{add,no_inplace}",
            "Elemwise{Add}[(0, 0)]", "Subtensor")
    return [o for o in _ops(f) if not o.startswith(keep)]


def test_stage_is_in_the_pipeline_before_constant_folding():
    names = stage_names()
    assert names.index("shape_feature") < names.index("constfold")


def test_shape_of_a_square_is_shape_i_of_x():
    x = T.dmatrix("x")
    f = theano.function([x], (x ** 2).shape)
    assert debugprint(f, file="str") == (
        "MakeVector{dtype='int64'} [id A] ''   2\n"
        " |Shape_i{0} [id B] ''   0\n"
        " | |x [id C]\n"
        " |Shape_i{1} [id D] ''   1\n"
        "   |x [id C]\n")
    for shape in [(2, 3), (1, 1), (0, 5), (7, 0)]:
        np.testing.assert_array_equal(f(np.ones(shape)), shape)
    # the pow kernel is gone; excluding the stage brings it back
    g = theano.function([x], (x ** 2).shape, mode=theano.Mode().excluding("shape_feature"))
    assert any("pow" in o for o in _ops(g)) and not any("pow" in o for o in _ops(f))
    np.testing.assert_array_equal(g(np.ones((2, 3))), [2, 3])


CASES = {
    "join": (lambda x, y: T.concatenate([x ** 2, T.exp(y)], axis=0),
             lambda a, b: np.concatenate([a ** 2, np.exp(b)], 0)),
    "join1": (lambda x, y: T.concatenate([x, T.tanh(y.T).T], axis=1),
              lambda a, b: np.concatenate([a, b], 1)),
    "dot": (lambda x, y: T.dot(T.exp(x), y.T), lambda a, b: np.exp(a) @ b.T),
    "sum": (lambda x, y: (x * 3).sum(axis=0), lambda a, b: (a * 3).sum(0)),
    "max_keepdims": (lambda x, y: T.max(T.exp(x), axis=1, keepdims=True),
                     lambda a, b: np.exp(a).max(1, keepdims=True)),
    "dimshuffle": (lambda x, y: T.exp(x).dimshuffle(1, "x", 0), lambda a, b: np.exp(a).T[:, None]),
    "broadcast": (lambda x, y: T.exp(x) + y[0], lambda a, b: np.exp(a) + b[0]),
    "reshape": (lambda x, y: T.reshape(T.exp(x), (x.shape[1], x.shape[0])),
                lambda a, b: np.exp(a).reshape(a.shape[1], a.shape[0])),
    "flatten_sum": (lambda x, y: T.exp(T.dot(x, y.T)).sum(), lambda a, b: np.exp(a @ b.T).sum()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shapes_derived_from_input_shapes(name):
    build, ref = CASES[name]
    x, y = T.dmatrices("x", "y")
    out = build(x, y)
    f = theano.function([x, y], out.shape, on_unused_input="ignore")
    assert _value_kernels(f) == [], _ops(f)
    rng = np.random.default_rng(0)
    for n, m, k in [(2, 3, 3), (1, 1, 1), (4, 5, 5)]:
        if name in ("join1", "broadcast"):
            k, m2 = n, m
        else:
            m2 = m
        a, b = rng.standard_normal((n, m)), rng.standard_normal((k, m2))
        np.testing.assert_array_equal(f(a, b), np.shape(ref(a, b)))


def test_specify_shape_folds_to_a_constant():
    x = T.dmatrix("x")
    f = theano.function([x], (T.specify_shape(x, (2, 3)) ** 2).shape)
    ((_, node),) = [(0, n) for n in [f.maker.fgraph.outputs[0]]]
    assert isinstance(node, theano.gof.Constant) and node.data.tolist() == [2, 3]
    np.testing.assert_array_equal(f(np.ones((2, 3))), [2, 3])
    r = theano.function([x], T.ones_like(x).shape)
    assert _value_kernels(r) == []


def test_values_still_computed_when_used():
    x = T.dmatrix("x")
    y = x ** 2
    f = theano.function([x], [y, y.shape, y.shape[0] * 2])
    a = np.arange(6.0).reshape(2, 3)
    v, s, s0 = f(a)
    np.testing.assert_array_equal(v, a ** 2)
    np.testing.assert_array_equal(s, [2, 3])
    assert s0 == 4
    with pytest.raises(MissingInputError):
        theano.function([x], (x + T.dmatrix("w")).shape)     # w's shape is still an input


def test_reshape_entry_that_is_minus_one_at_run_time():
    # a symbolic reshape entry may be -1 ("the rest") when the function runs: its shape is not
    # taken from the entries (found by h_softmax's reshape(out, (batch, -1)))
    x, n = T.dmatrix("x"), T.lscalar("n")
    f = theano.function([x, n], T.reshape(T.exp(x), (2, n)).shape)
    np.testing.assert_array_equal(f(np.ones((2, 6)), -1), [2, 6])
    np.testing.assert_array_equal(f(np.ones((4, 3)), 6), [2, 6])
