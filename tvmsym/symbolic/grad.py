"""Reverse-mode automatic differentiation over tvmsym graphs.

Gradients live in side tables, JAX-style, next to nothing else: ``GRAD`` maps
an Op class to ``fn(node, inputs, output_grads) -> [input grad or None]``
(``register_grad(OpClass)``), and ``SCALAR_GRAD`` maps a scalar op class to the
elementwise rule ``fn(op, inputs, output, gz) -> [grad or None]`` used for
``Elemwise`` nodes (``register_scalar_grad``).  A rule returns ``None`` for an
input that receives no gradient, or ``undefined(op, i, why)`` when the gradient
exists mathematically but is not implemented.  The rules are in
``grad_rules/``; an Op may also define ``grad(inputs, output_grads)`` itself.

``grad`` walks the graph once in reverse topological order, summing the
contributions reaching each variable; integer and boolean variables carry no
gradient (Theano: they are discrete), and ``consider_constant`` variables stop
it.  The result is an ordinary graph: compiling it runs the same rewrites
(fusion included) as any other graph.
"""
from __future__ import annotations

import functools

import numpy as np

from .graph import Op, Variable, toposort
from .type import COMPLEX_DTYPES, FLOAT_DTYPES

GRAD = {}
SCALAR_GRAD = {}


def register_grad(*op_classes):
    """Decorator: ``@register_grad(Sum)`` on ``fn(node, inputs, output_grads)``."""
    def deco(fn):
        for c in op_classes:
            GRAD[c] = fn
        return fn
    return deco


def register_scalar_grad(*scalar_op_classes):
    """Decorator for elementwise rules: ``fn(scalar_op, inputs, output, gz) -> [grads]``.

    ``inputs`` are the Elemwise's tensor inputs (already of equal ndim) and ``gz``
    the gradient of its output; the Elemwise rule sums the results back over
    broadcast dimensions.  Accepts scalar op classes or instances.
    """
    def deco(fn):
        for c in scalar_op_classes:
            SCALAR_GRAD[c if isinstance(c, type) else type(c)] = fn
        return fn
    return deco


class GradUndefined:
    """Marks an input whose gradient is not implemented; an error if it is needed."""

    def __init__(self, op, index, why=""):
        self.op, self.index, self.why = op, index, why


def undefined(op, index, why=""):
    return GradUndefined(op, index, why)


def grad_undefined(op, x_pos, x, comment=""):
    """What an Op's ``grad`` returns for an input whose gradient is mathematically undefined."""
    return undefined(op, x_pos, comment or f"the gradient of {op} with respect to input {x_pos} "
                                           "is undefined")


def grad_not_implemented(op, x_pos, x, comment=""):
    """What an Op's ``grad`` returns for an input whose gradient is not implemented."""
    return undefined(op, x_pos, comment)


class DisconnectedInputError(ValueError):
    """``wrt`` does not influence the cost (``disconnected_inputs='raise'``)."""


class NullGradientError(NotImplementedError):
    """A needed gradient is not implemented for some op."""


NullTypeGradError = NullGradientError      # Theano's name


class DisconnectedType:
    """Returned for a disconnected input when ``return_disconnected='Disconnected'``; an op's
    gradient may return it (Theano's ``DisconnectedType()()``) for an input that does not
    affect its outputs."""

    def __repr__(self):
        return "DisconnectedType()"

    def __call__(self):
        return self     # Theano makes a variable of this type; here the marker itself


class SymbolicZero:
    """A gradient known to be zero: what a rule returns for an input whose gradient vanishes
    (``//``, ``floor``, ``sign``, comparisons, ``zero_grad``), as JAX's symbolic zeros.

    It is never materialized nor propagated: ``grad`` drops it from the sums and does not
    backpropagate through an output whose gradient is only zeros; the input stays connected
    (no ``DisconnectedInputError``), and a requested gradient that is entirely zero becomes
    ``zeros_like(wrt)`` at the output only.  Zeros of the user's graph (``0 * x``) are ordinary
    constants and keep IEEE semantics (NaN for x = NaN).  ``like``: the input it stands for.
    """

    __slots__ = ("like",)

    def __init__(self, like):
        self.like = like

    def __repr__(self):
        return f"SymbolicZero({self.like})"


def symbolic_zero(x):
    """The zero gradient of ``x`` (a ``SymbolicZero``; None for a discrete ``x``: no gradient)."""
    return SymbolicZero(x) if is_continuous(x) else None


def _ensure_rules():
    from . import grad_rules  # noqa: F401  (registers the tables)


def find_grad(op):
    """The gradient function of an op: ``fn(node, inputs, output_grads)``, or None."""
    _ensure_rules()
    for cls in type(op).__mro__:
        if cls in GRAD:
            return GRAD[cls]
    meth = type(op).grad
    if meth is not Op.grad:
        return lambda node, inputs, gouts: node.op.grad(inputs, gouts)
    return None


def find_scalar_grad(scalar_op):
    _ensure_rules()
    for cls in type(scalar_op).__mro__:
        if cls in SCALAR_GRAD:
            return SCALAR_GRAD[cls]
    return None


def is_continuous(v):
    return v.type.dtype in FLOAT_DTYPES or v.type.dtype in COMPLEX_DTYPES


# ----------------------------------------------------------------------- small tensor helpers
def zeros_like(x, dtype=None):
    """zeros with the shape of ``x`` (NaN-safe: ``x * 0`` would not be)."""
    from .ops.alloc import zeros_like as _zeros_like
    return _zeros_like(x, dtype=dtype) if dtype is not None else _zeros_like(x)


def ones_like(x, dtype=None):
    from .ops.alloc import ones_like as _ones_like
    return _ones_like(x, dtype=dtype) if dtype is not None else _ones_like(x)


def Constant_true():
    from .basic import constant
    return constant(np.array(True))


def sum_to(g, broadcastable):
    """Sum ``g`` over the dimensions where ``broadcastable`` is True but ``g``'s is not."""
    axes = [d for d, (b, gb) in enumerate(zip(broadcastable, g.broadcastable)) if b and not gb]
    if not axes:
        return g
    from .ops.reduce import sum as _sum
    return _sum(g, axis=axes, keepdims=True)


def fill(like, g):
    """``g`` broadcast to the shape of ``like`` (Theano's ``fill``/``second``)."""
    from .basic import switch
    r = switch(Constant_true(), g, like)
    if r.dtype != g.dtype:
        from .basic import cast
        r = cast(r, g.dtype)
    return r


def broadcast_like(g, v):
    """``g`` with v's full shape where g is broadcastable but v is not."""
    if any(gb and not vb for gb, vb in zip(g.broadcastable, v.broadcastable)):
        return fill(v, g)
    return g


def _fit(v, g, node, i):
    """Make the gradient ``g`` of input ``v`` match v's ndim, broadcastable dims and dtype."""
    from .basic import as_tensor_variable, cast
    if _sparse(v) or _sparse(g):        # sparse gradients: the rules give the input's type
        return g
    g = as_tensor_variable(g)
    if g.ndim != v.ndim:
        raise TypeError(f"gradient rule of {node.op} returned a {g.ndim}-d gradient for its "
                        f"{v.ndim}-d input {i} ({v.type}); this is a bug in that rule")
    g = sum_to(g, v.broadcastable)
    if g.dtype != v.dtype and is_continuous(v):
        g = cast(g, v.dtype)
    return g


def _add_all(terms):
    if len(terms) == 1:
        return terms[0]
    from .basic import add
    if any(_sparse(t) for t in terms):      # sparse + sparse stays sparse (sparse/ops.py)
        from .sparse.ops import add
    return functools.reduce(add, terms)


def _sparse(v):
    return getattr(getattr(v, "type", None), "format", None) is not None



# ----------------------------------------------------------------------- sigmoid shortcuts
def _is_one(v):
    from .rewrites.db import scalar_value
    return scalar_value(v) == 1


def _elemwise_of(v, sop_name):
    from .elemwise import Elemwise
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op.name == sop_name:
        return node
    return None


def _as_sigmoid(v):
    """``(sign, t)`` when ``v`` computes ``sigmoid(sign * t)``: ``sigmoid(t)`` or ``1 / (1 + exp(t))``."""
    node = _elemwise_of(v, "sigmoid")
    if node is not None:
        return 1, node.inputs[0]
    node = _elemwise_of(v, "true_div")
    if node is None or not _is_one(node.inputs[0]):
        return None
    den = _elemwise_of(node.inputs[1], "add")
    if den is None:
        return None
    for k in (0, 1):
        e = _elemwise_of(den.inputs[1 - k], "exp")
        if _is_one(den.inputs[k]) and e is not None and e.inputs[0].ndim == v.ndim:
            return -1, e.inputs[0]
    return None


def _sigmoid_shortcut(node, gz, dep):
    """Gradients through the user's sigmoid that stay finite where the chain rule does not.

    ``1 / (1 + exp(t))`` differentiated op by op is ``exp(t) / (1 + exp(t))**2`` (inf / inf
    once exp overflows), and ``log(sigmoid(x))`` gives ``s * (1 - s) / s`` (0 / 0 once s
    underflows).  Like Theano's sigmoid stabilizations, these nodes send their gradient to
    ``t`` in closed form: d sigmoid(a t)/dt = a s (1 - s), d log sigmoid(a t)/dt = a (1 - s),
    d log(1 - sigmoid(a t))/dt = -a s.  Returns ``(t, grad)`` or None.
    """
    from .basic import mul, neg, sigmoid, sub
    if gz is None or len(node.outputs) != 1:
        return None
    out = node.outputs[0]
    sig = _as_sigmoid(out)
    if sig is not None and sig[0] == -1:          # the user's 1 / (1 + exp(t)) itself
        a, t = sig
        if t not in dep:
            return None
        return t, neg(mul(gz, mul(out, sub(1, out))))
    if _elemwise_of(out, "log") is None:
        return None
    arg = node.inputs[0]
    sig, flip = _as_sigmoid(arg), 1
    if sig is None:
        one_minus = _elemwise_of(arg, "sub")
        if one_minus is None or not _is_one(one_minus.inputs[0]):
            return None
        sig, flip = _as_sigmoid(one_minus.inputs[1]), -1
        if sig is None:
            return None
    a, t = sig
    if t not in dep or t.ndim != out.ndim:
        return None
    sa = a * flip                                   # log(sigmoid(sa * t))
    s_neg = sigmoid(neg(t) if sa == 1 else t)       # sigmoid(-sa * t) = 1 - sigmoid(sa * t)
    g = mul(gz, s_neg)
    return t, (g if sa == 1 else neg(g))

# ----------------------------------------------------------------------- the engine
def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True,
         known_grads=None, return_disconnected="zero", null_gradients="raise"):
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or list).

    ``known_grads`` ({variable: gradient}) seeds the backward pass (``cost`` may
    then be None); ``consider_constant`` variables are treated as constants;
    ``disconnected_inputs`` is 'raise', 'warn' or 'ignore' for a ``wrt`` the cost
    does not depend on, whose gradient is then zeros ('zero'), None ('None') or
    a ``DisconnectedType`` ('Disconnected').
    """
    from .basic import as_tensor_variable, constant
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "Disconnected", "symbolic"):
        raise ValueError(f"return_disconnected must be 'zero', 'None' or 'Disconnected', got "
                         f"{return_disconnected!r}")
    # ("symbolic", for rules that differentiate an inner graph: None for a disconnected wrt,
    # a SymbolicZero for a connected one whose gradient is zero)
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {type(w).__name__} {w!r}")
    if cost is None and not known_grads:
        raise ValueError("grad: cost is None and no known_grads were given")
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"cost must be a scalar (0-d tensor); got {cost} of type {cost.type}. "
                            "Sum or average it first (e.g. cost.sum()), or use "
                            "tvmsym.gradient.jacobian for a vector")
    known = list((known_grads or {}).items())
    blockers = set(consider_constant or ())

    roots = ([cost] if cost is not None else []) + [v for v, _ in known]
    order = toposort(roots)
    # variables that depend on some wrt through continuous values
    dep = {w for w in wrt_list if w not in blockers and is_continuous(w)}
    for node in order:
        if any(i in dep for i in node.inputs):
            for o in node.outputs:
                if o not in blockers and is_continuous(o):
                    dep.add(o)
    grads = {}
    if cost is not None and cost in dep:
        one = np.ones((), dtype=cost.dtype if is_continuous(cost) else "float64")
        # Theano's start: second(cost, 1.0) (pp: fill(cost, 1.0)); the useless_fill
        # rewrite makes it the constant 1.0 again when the function compiles
        from .ops.second import second
        grads[cost] = [second(cost, constant(one))]
    for v, g in known:
        if v in dep:
            g = as_tensor_variable(g)
            if g.ndim != v.ndim:
                raise ValueError(f"known_grads: gradient {g} ({g.type}) has {g.ndim} dimension(s) "
                                 f"but {v} ({v.type}) has {v.ndim}")
            grads.setdefault(v, []).append(g)

    totals = {}
    zero_reached = set()        # variables a SymbolicZero reached (connected, zero so far)

    def total(v):
        if v in totals:
            return totals[v]
        terms = grads.get(v)
        t = _add_all(terms) if terms else None
        totals[v] = t
        return t

    for node in reversed(order):
        if not any(o in dep and o in grads for o in node.outputs):
            if any(o in zero_reached for o in node.outputs):
                # only zeros reach this node: nothing to compute, its inputs stay connected
                zero_reached.update(i for i in node.inputs if i in dep)
            continue
        if not any(i in dep for i in node.inputs):
            continue
        gouts = [total(o) for o in node.outputs]
        short = _sigmoid_shortcut(node, gouts[0], dep)
        if short is not None:
            t, g = short
            grads.setdefault(t, []).append(_fit(t, g, node, 0))
            continue
        if len(gouts) > 1 and any(g is None for g in gouts):
            gouts = [zeros_like(o) if g is None else g for o, g in zip(node.outputs, gouts)]
        rule = find_grad(node.op)
        if rule is not None and not getattr(rule, "broadcasting_ok", False):
            gouts = [broadcast_like(g, o) if g is not None else g for g, o in zip(gouts, node.outputs)]
        if rule is None:
            raise NullGradientError(
                f"tvmsym.grad: no gradient is defined for op {node.op} (needed for "
                f"{', '.join(str(i) for i in node.inputs if i in dep)}); register one with "
                "tvmsym.symbolic.grad.register_grad")
        igrads = rule(node, list(node.inputs), gouts)
        if len(igrads) != len(node.inputs):
            raise TypeError(f"gradient rule of {node.op} returned {len(igrads)} gradients for "
                            f"{len(node.inputs)} inputs")
        for i, (v, g) in enumerate(zip(node.inputs, igrads)):
            if v not in dep or g is None or isinstance(g, DisconnectedType):
                continue
            if isinstance(g, SymbolicZero):
                zero_reached.add(v)
                continue
            if isinstance(g, GradUndefined):
                if null_gradients == "return":
                    continue
                raise NullGradientError(
                    f"tvmsym.grad: the gradient of {node.op} with respect to its input {i} ({v}) "
                    f"is not implemented{': ' + g.why if g.why else ''}")
            grads.setdefault(v, []).append(_fit(v, g, node, i))

    out = []
    for w in wrt_list:
        g = total(w) if w in dep else None
        if g is None and w in zero_reached:        # connected, its gradient is zero
            g = (SymbolicZero(w) if return_disconnected == "symbolic"
                 else zeros_like(w, dtype=w.dtype))
        elif g is None:
            connected = False
            if w in blockers or not is_continuous(w):
                # integer (discrete) or constant-considered inputs: zero gradient, no error
                connected = w is cost or any(w is v for n in order for v in n.inputs)
            if not connected and disconnected_inputs != "ignore":
                msg = (f"grad method was asked to compute the gradient with respect to a "
                       f"variable that is not part of the computational graph of the cost, or is "
                       f"used only by a non-differentiable operator: {w}")
                if disconnected_inputs == "raise":
                    raise DisconnectedInputError(msg)
                import warnings
                warnings.warn(msg, stacklevel=2)
            if return_disconnected == "zero":
                g = zeros_like(w, dtype=w.dtype if is_continuous(w) else None)
            elif return_disconnected == "Disconnected":
                g = DisconnectedType()
        else:
            g = broadcast_like(g, w)
            if (add_names and cost is not None and cost.name and w.name and g.name is None
                    and g.owner is not None and g not in grads):
                g.name = f"(d{cost.name}/d{w.name})"
        out.append(g)
    return out[0] if single else out
