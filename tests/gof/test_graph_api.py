"""Theano's graph API: theano.gof.graph / theano.gof.fg / theano.tensor.var, real modules."""
import pickle
import sys

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
import tvmsym.tensor.var
from tvmsym.gof import graph
from tvmsym.gof.fg import FunctionGraph


def test_classes_live_in_theanos_modules():
    x = T.dmatrix("x")
    y = x * 2.0
    tensor_var = sys.modules["tvmsym.tensor.var"]      # T.var is the variance, as in Theano
    assert type(x) is tensor_var.TensorVariable and callable(T.var)
    assert type(y) is T.TensorVariable
    assert type(y.owner) is theano.gof.graph.Apply
    assert type(T.constant(2.0)) is tensor_var.TensorConstant
    # real module paths, so repr(type(...)) reads as in Theano's documentation
    assert repr(type(x)) == "<class 'tvmsym.tensor.var.TensorVariable'>"
    assert repr(type(y.owner)) == "<class 'tvmsym.gof.graph.Apply'>"
    assert theano.gof.Variable is graph.Variable and theano.Apply is graph.Apply
    assert isinstance(x, graph.Variable) and isinstance(T.constant(1), graph.Constant)
    assert theano.gof.FunctionGraph is FunctionGraph


def test_variable_class_survives_clone_and_pickle():
    x = T.dvector("x")
    y = T.exp(x) + 1
    (xi,), (yo,) = graph.clone([x], [y])
    assert type(xi) is type(x) and type(yo) is type(y) and xi is not x
    assert pickle.loads(pickle.dumps(y)).__class__ is T.TensorVariable


def test_traversals():
    x, w = T.dmatrix("x"), T.dvector("w")
    c = T.constant(3.0)
    h = T.dot(x, w) * c
    out = T.tanh(h).sum()
    ins = graph.inputs([out])
    assert x in ins and w in ins and c in ins
    assert graph.orphans([x, w], [out]) and all(isinstance(v, graph.Constant)
                                               for v in graph.orphans([x, w], [out]))
    anc = graph.ancestors([out])
    assert h in anc and x in anc and out in anc
    order = graph.io_toposort([x, w], [out])
    pos = {n: k for k, n in enumerate(order)}
    for n in order:                          # every node after the nodes it reads
        for i in n.inputs:
            if i.owner is not None:
                assert pos[i.owner] < pos[n]
    assert set(order) == graph.ops([x, w], [out])
    assert graph.ancestors([out], blockers=[h])[-1] is not x
    assert x not in graph.ancestors([out], blockers=[h])


def test_clone_copy_inputs_false_and_is_same_graph():
    x = T.dvector("x")
    y = T.sqr(x) + 1
    (xi,), (yo,) = graph.clone([x], [y], copy_inputs=False)
    assert xi is x and yo is not y and yo.owner.op == y.owner.op
    assert graph.is_same_graph(y, yo)
    assert not graph.is_same_graph(y, T.sqr(x) + 2)
    f = theano.function([x], yo)
    np.testing.assert_allclose(f([1.0, 2.0]), [2.0, 5.0])


def test_clients_of_a_compiled_graph():
    x = T.dvector("x")
    y = T.exp(x)
    f = theano.function([x], [y, y * 2], mode=theano.Mode(optimizer=None))
    fg = f.maker.fgraph
    out0, out1 = fg.outputs
    assert out1.clients == [("output", 1)]
    xi = fg.inputs[0]
    assert len(xi.clients) == 1
    node, i = xi.clients[0]
    assert isinstance(node, graph.Apply) and node.inputs[i] is xi
    assert fg.clients(xi) == xi.clients            # Theano's fgraph.clients(var)
    # out0 (exp) feeds the mul and is also output 0
    assert ("output", 0) in out0.clients and any(c[0] != "output" for c in out0.clients)
    with pytest.raises(AttributeError, match="FunctionGraph"):
        _ = T.dvector("free").clients


def test_function_graph_replace_updates_clients():
    x = T.dvector("x")
    y = T.exp(x) * 2
    fg = FunctionGraph([x], [y])
    (xi,) = fg.inputs
    e = fg.outputs[0].owner.inputs[0]
    new = T.log(xi)
    fg.replace(e, new)
    assert new.clients and new.clients[0][0] is fg.outputs[0].owner
    assert e.fgraph is fg and not fg.clients.get(e)
    assert fg.toposort()[0].op == new.owner.op
