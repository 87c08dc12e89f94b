"""``tvmsym.gradient``: Theano's gradient module.

``grad`` (reverse mode, see ``symbolic/grad.py``), ``jacobian``, ``hessian``,
``verify_grad`` (finite differences along random directions), and the gradient
modifiers ``disconnected_grad``/``zero_grad``/``consider_constant``/``grad_clip``
(identity in the forward pass).
"""
from __future__ import annotations

import numpy as np

from .symbolic import scalar as ps
from .symbolic.elemwise import Elemwise
from .symbolic.grad import (  # noqa: F401
    DisconnectedInputError,
    DisconnectedType,
    NullGradientError,
    grad,
    register_grad,
    register_scalar_grad,
    zeros_like,
)
from .symbolic.graph import Apply, ancestors
from .symbolic.inner import InnerGraph, InnerGraphOp
from .symbolic.type import TensorType

__all__ = ["grad", "jacobian", "hessian", "verify_grad", "GradientError", "disconnected_grad",
           "zero_grad", "consider_constant", "grad_clip", "DisconnectedInputError",
           "NullGradientError", "numeric_grad", "check_grads", "Lop", "Rop", "grad_undefined",
           "grad_not_implemented"]


# ----------------------------------------------------------------------- gradient modifiers
class _GradModifier(type(ps.identity)):
    """Identity in the forward pass; only its gradient differs (lowered as identity)."""
    nin = 1

    def __init__(self):
        pass


class ZeroGrad(_GradModifier):
    name = "zero_grad"


class DisconnectedGrad(_GradModifier):
    name = "disconnected_grad"


class ConsiderConstant(_GradModifier):
    name = "consider_constant"


class GradClip(_GradModifier):
    __props__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = float(lo), float(hi)
        self.name = f"grad_clip{{{self.lo}, {self.hi}}}"


@register_scalar_grad(ZeroGrad)
def _zero_grad_rule(op, inp, z, gz):
    return [zeros_like(inp[0])]


@register_scalar_grad(DisconnectedGrad, ConsiderConstant)
def _disconnected_rule(op, inp, z, gz):
    return [None]


@register_scalar_grad(GradClip)
def _grad_clip_rule(op, inp, z, gz):
    from .symbolic.basic import clip
    return [clip(gz, op.lo, op.hi)]


def _modifier(sop, x):
    from .symbolic.basic import as_tensor_variable
    return Elemwise(sop)(as_tensor_variable(x))


def zero_grad(x):
    """``x`` in the forward pass; its gradient is zero (the path stays connected)."""
    return _modifier(ZeroGrad(), x)


def disconnected_grad(x):
    """``x`` in the forward pass; no gradient flows through it (disconnected)."""
    return _modifier(DisconnectedGrad(), x)


def consider_constant(x):
    """Deprecated Theano name of :func:`disconnected_grad`."""
    return _modifier(ConsiderConstant(), x)


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward pass; its gradient is clipped to [lower_bound, upper_bound]."""
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower_bound {lower_bound} > upper_bound {upper_bound}")
    return _modifier(GradClip(lower_bound, upper_bound), x)


# ----------------------------------------------------------------------- for op authors
def grad_undefined(op, x_pos, x, comment=""):
    """What an Op's ``grad`` returns for an input whose gradient is mathematically undefined."""
    from .symbolic.grad import undefined
    return undefined(op, x_pos, comment or f"the gradient of {op} with respect to input {x_pos} "
                                            "is undefined")


def grad_not_implemented(op, x_pos, x, comment=""):
    """What an Op's ``grad`` returns for an input whose gradient is not implemented."""
    from .symbolic.grad import undefined
    return undefined(op, x_pos, comment)


# ----------------------------------------------------------------------- L and R operators
def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """Vector-Jacobian product: ``eval_points`` (shaped like ``f``) times d f / d wrt."""
    fs = list(f) if isinstance(f, (list, tuple)) else [f]
    ev = list(eval_points) if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(fs) != len(ev):
        raise ValueError(f"Lop: {len(fs)} outputs but {len(ev)} eval_points")
    from .symbolic.basic import as_tensor_variable
    known = {o: as_tensor_variable(e) for o, e in zip(fs, ev)}
    return grad(None, wrt, known_grads=known, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs)


def _placeholder(like, name):
    """A new variable of ``like``'s type, with a zero test value when ``like`` has one
    (config.compute_test_value: graphs built on it get test values too)."""
    from .symbolic.graph import _MISSING, _test_value
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
    from .symbolic.basic import as_tensor_variable
    single_f = not isinstance(f, (list, tuple))
    fs = [f] if single_f else list(f)
    ws = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    vs = list(eval_points) if isinstance(eval_points, (list, tuple)) else [eval_points]
    if len(ws) != len(vs):
        raise ValueError(f"Rop: {len(ws)} wrt but {len(vs)} eval_points")
    us = [_placeholder(o, f"u{k}") for k, o in enumerate(fs)]
    lops = Lop(fs, ws, us, disconnected_inputs="ignore")
    lops = lops if isinstance(lops, list) else [lops]
    dot = None
    for g, v in zip(lops, vs):
        t = (g * as_tensor_variable(v)).sum()
        dot = t if dot is None else dot + t
    # d dot / d u from a known 1.0 (not grad(dot, us), whose second(dot, 1.0) would keep
    # the placeholder u in the graph)
    import numpy as np

    from .symbolic.basic import constant
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
            e = _placeholder(self.expression, "e")
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


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobian of the vector ``expression`` with respect to ``wrt`` (a variable or list).

    ``J[i] = grad(expression[i], wrt)``: shape ``expression.shape + wrt.shape``.
    A scalar expression gives ``grad(expression, wrt)``.
    """
    from .runtime.shared import SharedVariable
    from .symbolic.basic import as_tensor_variable
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
    free = [v for v in ancestors([expression] + wrts)
            if v.owner is None and not hasattr(v, "data") and not isinstance(v, SharedVariable)]
    # an early check: the first row's gradient graph must exist (raises for disconnected/undefined)
    grad(None, wrts, known_grads={expression: _placeholder(expression, "e")},
         consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    out = []
    for w in wrts:
        op = JacobianOp(expression, w, free, consider_constant, disconnected_inputs)
        from .runtime.inner import apply
        out.append(apply(op, expression, w, *free))
    return out[0] if single else out


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Hessian of the scalar ``cost`` with respect to the vector(s) ``wrt``."""
    from .symbolic.basic import as_tensor_variable
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
                            disconnected_inputs=disconnected_inputs))
    return out[0] if single else out


# ----------------------------------------------------------------------- verify_grad
class GradientError(Exception):
    """The symbolic gradient disagrees with finite differences."""

    def __init__(self, msg, analytic=None, numeric=None, abs_err=None, rel_err=None,
                 abs_tol=None, rel_tol=None, ops=None):
        super().__init__(msg)
        self.analytic, self.numeric = analytic, numeric
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        self.ops = ops


_EPS = {"float64": 1e-7, "float32": 3e-4, "float16": 1e-1}
_TOL = {"float64": 1e-4, "float32": 1e-2, "float16": 5e-2}


def _ops_of(outputs, inputs):
    from .symbolic.graph import toposort
    names = []
    for node in toposort(outputs, blockers=inputs):
        s = str(node.op)
        if s not in names and not s.startswith("DimShuffle"):
            names.append(s)
    return names or ["<no op>"]


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None, rel_tol=None,
                mode=None, cast_to_output_type=False, no_debug_ref=True):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) by finite differences.

    The output is projected on a random array to make a scalar cost ``C``; for
    ``n_tests`` random directions ``v`` the central difference
    ``(C(pt + eps v) - C(pt - eps v)) / (2 eps)`` must match ``sum(grad C * v)``.
    One function is compiled (cost and gradients), whatever ``n_tests``.
    Raises :class:`GradientError` naming the ops of ``fun``'s graph.
    """
    (res,) = check_grads([(fun, pt)], n_tests=n_tests, rng=rng, eps=eps, abs_tol=abs_tol,
                         rel_tol=rel_tol, mode=mode)
    if res["error"] is not None:
        raise res["error"]


def check_grads(cases, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None, mode=None):
    """:func:`verify_grad` for many ``(fun, pt)`` cases with ONE compiled function.

    Returns one dict per case: ``ops`` (the ops of its graph), ``error`` (None or the
    :class:`GradientError` verify_grad would raise), ``analytic``/``numeric`` (the
    directional derivatives of each test).  The cases' inputs are disjoint, so the
    perturbation of one case does not change the cost of another.
    """
    from . import function
    from .symbolic.basic import as_tensor_variable
    if rng is None:
        rng = np.random.default_rng(42)
    preps, all_in, costs, grads_out, projs = [], [], [], [], []
    for c, (fun, pt) in enumerate(cases):
        if not isinstance(pt, (list, tuple)):
            raise TypeError("verify_grad: pt must be a list of numpy arrays")
        pt = [np.array(p) for p in pt]
        for k, p in enumerate(pt):
            if p.dtype.kind != "f":
                raise TypeError(f"verify_grad: input {k} has dtype {p.dtype}; only float inputs "
                                "can be checked (cast integer points to floatX)")
        dtype = max((p.dtype for p in pt), key=lambda d: d.itemsize).name
        # a length-1 dimension is broadcastable, so fun may broadcast it
        tensors = [TensorType(p.dtype.name, tuple(s == 1 for s in p.shape))(f"input {k}")
                   for k, p in enumerate(pt)]
        out = fun(*tensors)
        if isinstance(out, (list, tuple)):
            raise TypeError("verify_grad: fun must return one variable; check outputs one at a time")
        out = as_tensor_variable(out)
        pdt = out.dtype if out.dtype in _EPS else dtype
        shp = _shape_of(out, tensors, pt)
        if shp is None:
            shp = np.shape(function(tensors, out, mode=mode, name="verify_grad probe",
                                    on_unused_input="ignore")(*pt))
        proj = _draw(rng, shp).astype(pdt)
        P = TensorType(pdt, (False,) * proj.ndim)("random projection")
        cost = (out * P).sum() if out.ndim else out * P
        gs = grad(cost, tensors, disconnected_inputs="ignore")
        preps.append(dict(fun=fun, pt=pt, dtype=dtype, ops=_ops_of([out], tensors),
                          n_in=len(tensors), first=len(all_in)))
        all_in += tensors
        projs.append((P, proj))
        costs.append(cost)
        grads_out += list(gs)
    g = function(all_in + [P for P, _ in projs], costs + grads_out, mode=mode,
                 name="verify_grad", on_unused_input="ignore")
    proj_vals = [v for _, v in projs]

    def f(points):
        return g(*points, *proj_vals)

    base = [p for c in preps for p in c["pt"]]
    res = f(base)
    n = len(cases)
    analytic_grads = [np.asarray(v, dtype="float64") for v in res[n:]]
    results = [dict(ops=c["ops"], error=None, analytic=[], numeric=[]) for c in preps]
    for t in range(n_tests):
        dirs = [_draw(rng, p.shape) for p in base]
        epss = [eps if eps is not None else _EPS.get(c["dtype"], 1e-7) for c in preps]
        plus, minus, steps = [], [], []
        for c, e in zip(preps, epss):
            for k in range(c["first"], c["first"] + c["n_in"]):
                p, d = base[k], dirs[k]
                a, b = (p + e * d).astype(p.dtype), (p - e * d).astype(p.dtype)
                plus.append(a)
                minus.append(b)
                # the step actually taken after rounding to the input dtype
                steps.append((a.astype("float64") - b.astype("float64")) / 2)
        cp, cm = f(plus)[:n], f(minus)[:n]
        for i, (c, e, r) in enumerate(zip(preps, epss, results)):
            ks = range(c["first"], c["first"] + c["n_in"])
            numeric = (float(cp[i]) - float(cm[i])) / (2 * e)
            analytic = sum(float(np.sum(analytic_grads[k] * steps[k])) for k in ks) / e
            r["analytic"].append(analytic)
            r["numeric"].append(numeric)
            atol = abs_tol if abs_tol is not None else _TOL.get(c["dtype"], 1e-4)
            rtol = rel_tol if rel_tol is not None else _TOL.get(c["dtype"], 1e-4)
            abs_err = abs(numeric - analytic)
            scale = max(abs(numeric), abs(analytic))
            rel_err = abs_err / scale if scale > 0 else 0.0
            if r["error"] is None and not (abs_err <= atol or rel_err <= rtol):
                fun = c["fun"]
                r["error"] = GradientError(
                    f"GradientError: the gradient of {getattr(fun, '__name__', fun)} (ops: "
                    f"{', '.join(c['ops'])}) disagrees with finite differences at test {t}: "
                    f"directional derivative analytic {analytic:.9g} vs numeric {numeric:.9g} "
                    f"(abs err {abs_err:.3g} > {atol:g}, rel err {rel_err:.3g} > {rtol:g}, "
                    f"eps {e:g}, dtype {c['dtype']})",
                    analytic=analytic, numeric=numeric, abs_err=abs_err, rel_err=rel_err,
                    abs_tol=atol, rel_tol=rtol, ops=c["ops"])
    return results


def _shape_of(out, tensors, pt):
    """The shape of ``out`` for inputs ``pt``, from the ops' shape rules (nothing is built).

    Shape arithmetic (reshape targets, ``x.shape[0]``) is evaluated on the way, as the
    lowering's ``infer_shapes`` does.
    """
    from .symbolic.graph import Constant, toposort
    shapes = {t: p.shape for t, p in zip(tensors, pt)}
    values = {}
    for node in toposort([out], blockers=tensors):
        for i in node.inputs:
            if isinstance(i, Constant):
                shapes[i] = i.data.shape
                values[i] = i.data
        ins = [shapes[i] for i in node.inputs]
        op = node.op
        if isinstance(op, InnerGraphOp):
            from .runtime.inner import inner_for
            outs = op.infer_shape_inner(node, ins, [values.get(i) for i in node.inputs],
                                        inner_for(op))
        elif hasattr(op, "infer_shape_values"):
            outs = op.infer_shape_values(node, ins, [values.get(i) for i in node.inputs])
        else:
            outs = op.infer_shape(node, ins)
        for o, sh in zip(node.outputs, outs):
            if sh is None:
                return None          # data-dependent (a boolean mask): known only when run
            shapes[o] = tuple(int(d) for d in sh)
        if all(o.type.dtype[0] in "iub" for o in node.outputs):
            vals = None
            if hasattr(op, "infer_value"):
                vals = op.infer_value(node, ins, [values.get(i) for i in node.inputs])
            elif all(i in values for i in node.inputs):
                try:
                    vals = op.perform(node, [values[i] for i in node.inputs])
                except NotImplementedError:
                    vals = None
            if vals is not None:
                values.update(zip(node.outputs, (np.asarray(v) for v in vals)))
    return shapes[out] if out in shapes else (out.data.shape if isinstance(out, Constant) else ())


def _draw(rng, shape):
    if hasattr(rng, "standard_normal"):
        return np.asarray(rng.standard_normal(shape))
    return np.asarray(rng.randn(*shape))


def numeric_grad(fun, pt, eps=1e-7):
    """Central finite-difference gradient of the numpy function ``fun`` (small inputs only)."""
    pt = [np.array(p, dtype="float64") for p in pt]
    out = []
    for p in pt:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            hi = fun(*pt)
            p[idx] = old - eps
            lo = fun(*pt)
            p[idx] = old
            g[idx] = (hi - lo) / (2 * eps)
        out.append(g)
    return out
