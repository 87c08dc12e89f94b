"""Checking gradients by finite differences: ``verify_grad``, ``check_grads``, ``numeric_grad``.

A runtime module because it compiles: one function computes the projected cost and the
symbolic gradients of every case, then runs at the point and at the points moved along
random directions.  Output shapes come from ``symbolic/shapes.infer_shapes`` (the same
shape inference the builds use), nothing compiled for them unless data decides a shape.
"""
from __future__ import annotations

import numpy as np

from ..symbolic.grad import grad
from ..symbolic.graph import toposort
from ..symbolic.shapes import infer_shapes
from ..symbolic.type import TensorType


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
    from ..symbolic.basic import as_tensor_variable
    from .function import function
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
    """The shape of ``out`` for inputs ``pt`` (symbolic shape inference; nothing is built),
    or None when data decides it (a boolean mask): known only when run."""
    from ..symbolic.graph import Constant
    from .inner import inner_for
    if isinstance(out, Constant):
        return out.data.shape
    if out in tensors:
        return pt[tensors.index(out)].shape
    order = toposort([out], blockers=tensors)
    try:
        shapes = infer_shapes(tensors, order, [p.shape for p in pt], inner=inner_for)
    except ValueError:      # a shared variable's shape: only a run knows it here
        return None
    return shapes.get(out)


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
