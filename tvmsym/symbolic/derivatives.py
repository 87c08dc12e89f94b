"""Derived differentiation: L and R operators, Jacobians and Hessians (over ``grad``).

``Lop`` is a vector-Jacobian product (``grad`` seeded with ``known_grads``); ``Rop`` the
Jacobian-vector product, as the transpose of the linear ``Lop``; ``jacobian`` a
``JacobianOp`` whose rows are one compiled vector-Jacobian product each (its inner graph
``"vjp"``, compiled by the runtime); ``hessian`` the Jacobian of the gradient.
"""
from __future__ import annotations

import numpy as np

from .grad import grad
from .graph import _MISSING, Apply, _test_value, ancestors
from .inner import InnerGraph, InnerGraphOp
from .type import TensorType


# ----------------------------------------------------------------------- L and R operators
def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """Vector-Jacobian product: ``eval_points`` (shaped like ``f``) times d f / d wrt."""
    fs = list(f) if isinstance(f, (list, tuple)) else [f]
    ev = list(eval_points) if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(fs) != len(ev):
        raise ValueError(f"Lop: {len(fs)} outputs but {len(ev)} eval_points")
    from .basic import as_tensor_variable
    known = {o: as_tensor_variable(e) for o, e in zip(fs, ev)}
    return grad(None, wrt, known_grads=known, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs)


def placeholder(like, name):
    """A new variable of ``like``'s type, with a zero test value when ``like`` has one
    (config.compute_test_value: graphs built on it get test values too)."""
    u = like.type(name)
    tv = _test_value(like)
    if tv is not _MISSING:
        u.tag.test_value = np.zeros_like(tv)
    return u


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """Jacobian-vector product: d f / d wrt times ``eval_points`` (shaped like ``wrt``).

    Computed as the transpose of the (linear) vector-Jacobian product: with ``u``
    shaped like ``f``, ``Rop = d (Lop(f, wrt, u) . v) / d u``.
    """
    from .basic import as_tensor_variable, constant
    single_f = not isinstance(f, (list, tuple))
    fs = [f] if single_f else list(f)
    ws = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    vs = list(eval_points) if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(ws) != len(vs):
        raise ValueError(f"Rop: {len(ws)} wrt but {len(vs)} eval_points")
    us = [placeholder(o, f"u{k}") for k, o in enumerate(fs)]
    lops = Lop(fs, ws, us, disconnected_inputs="ignore")
    lops = lops if isinstance(lops, list) else [lops]
    dot = None
    for g, v in zip(lops, vs):
        t = (g * as_tensor_variable(v)).sum()
        dot = t if dot is None else dot + t
    # d dot / d u from a known 1.0 (not grad(dot, us), whose second(dot, 1.0) would keep
    # the placeholder u in the graph)
    out = grad(None, us, known_grads={dot: constant(np.ones((), dot.dtype))},
               disconnected_inputs="ignore")
    # the Jacobian-vector product does not depend on u (Lop is linear in u).  Its value may
    # not depend on ``wrt`` either (Rop(dot(x, W), W, V) is dot(x, V)), yet Theano's graph
    # kept ``wrt`` and its tutorial passes W to function(): ``wrt`` counts as used.
    for o in out:
        o.tag.rop_wrt = tuple(ws)
    return out[0] if single_f else out


# ----------------------------------------------------------------------- jacobian / hessian
class JacobianOp(InnerGraphOp):
    """Rows of a Jacobian computed by a compiled vector-Jacobian product, one row per call.

    Inputs: the expression (a vector), ``wrt``, then the free variables of the
    graph.  Theano runs a scan over ``grad(expression[i], wrt)``; this op runs
    one compiled function with a one-hot output gradient per row.
    """

    host_only = "runs a compiled vector-Jacobian product per row"
    no_grad = "hessian differentiates the gradient graph, not this op"

    def __init__(self, expression, wrt, free, consider_constant, disconnected_inputs):
        self.expression, self.wrt, self.free = expression, wrt, list(free)
        self.consider_constant = consider_constant
        self.disconnected_inputs = disconnected_inputs
        self._vjp = None

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __str__(self):
        return f"Jacobian{{{self.wrt}}}"

    def make_node(self, *inputs):
        bc = (False,) + self.wrt.broadcastable
        return Apply(self, list(inputs), [TensorType(self.wrt.dtype, bc)()])

    def do_constant_folding(self, node):
        return False

    def infer_shape(self, node, shapes):
        return [(shapes[0][0],) + tuple(shapes[1])]

    def inner_graph(self, name):
        """``"vjp"``: (free variables, output gradient e) -> the gradient of e . expression."""
        if name != "vjp":
            return super().inner_graph(name)
        if self._vjp is None:
            e = placeholder(self.expression, "e")
            g = grad(None, self.wrt, known_grads={self.expression: e},
                     consider_constant=self.consider_constant,
                     disconnected_inputs=self.disconnected_inputs)
            self._vjp = InnerGraph(list(self.free) + [e], [g], f"jacobian wrt {self.wrt}")
        return self._vjp

    def perform_inner(self, node, inputs, inner):
        n = inputs[0].shape[0]
        fn = inner.function("vjp")
        vals = list(inputs[2:])
        out = np.empty((n,) + inputs[1].shape, dtype=self.wrt.dtype)
        e = np.zeros(n, dtype=self.expression.dtype)
        for i in range(n):
            e[i] = 1
            out[i] = fn(*vals, e)[0]
            e[i] = 0
        return [out]


def _is_free(v):
    """A graph input the caller must pass: no constant data, not a shared variable."""
    return v.owner is None and not hasattr(v, "data") and not hasattr(v, "get_value")


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise", apply=None):
    """The Jacobian of the vector ``expression`` with respect to ``wrt`` (a variable or list).

    ``J[i] = grad(expression[i], wrt)``: shape ``expression.shape + wrt.shape``.
    A scalar expression gives ``grad(expression, wrt)``.  ``apply(op, *inputs)`` makes the
    JacobianOp's node (the runtime's ``inner.apply`` computes Theano's test values by running
    the compiled rows; default: the op's own call, no test values).
    """
    from .basic import as_tensor_variable
    expression = as_tensor_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        g = grad(expression, wrts, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        return g[0] if single else g
    if expression.ndim != 1:
        raise TypeError(f"jacobian expects a 1-dimensional expression, got {expression} of type "
                        f"{expression.type}; flatten it first")
    free = [v for v in ancestors([expression] + wrts) if _is_free(v)]
    # an early check: the first row's gradient graph must exist (raises for disconnected/undefined)
    grad(None, wrts, known_grads={expression: placeholder(expression, "e")},
         consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    out = []
    for w in wrts:
        op = JacobianOp(expression, w, free, consider_constant, disconnected_inputs)
        out.append(apply(op, expression, w, *free) if apply is not None else op(expression, w, *free))
    return out[0] if single else out


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise", apply=None):
    """The Hessian of the scalar ``cost`` with respect to the vector(s) ``wrt``."""
    from .basic import as_tensor_variable
    cost = as_tensor_variable(cost)
    if cost.ndim != 0:
        raise TypeError(f"hessian: cost must be a scalar, got {cost.type}")
    single = not isinstance(wrt, (list, tuple))
    wrts = [wrt] if single else list(wrt)
    out = []
    for w in wrts:
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w} of type {w.type}")
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs=disconnected_inputs, apply=apply))
    return out[0] if single else out
