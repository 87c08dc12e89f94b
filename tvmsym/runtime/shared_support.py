"""Shared variables, updates and givens in ``tvmsym.function``.

``prepare`` turns a function's (inputs, outputs, updates, givens) into the
FunctionGraph's inputs and outputs: givens are substituted first, every shared
variable the graph reads becomes an implicit input (after the explicit ones),
and every update expression becomes an extra output (after the user's).
``UpdatePlan`` (one per function and build) gives the update kernels spare buffers to
write into and installs the new values once every output is computed, all or nothing.
"""
from __future__ import annotations

import numpy as np

from ..symbolic.graph import Apply, Constant, Variable, ancestors, toposort


def _pairs(x, what):
    if x is None:
        return []
    if isinstance(x, dict):
        return list(x.items())
    if isinstance(x, (list, tuple)):
        out = []
        for p in x:
            if not (isinstance(p, (list, tuple)) and len(p) == 2):
                raise TypeError(f"{what} must be a list of (variable, expression) pairs, got {p!r}")
            out.append(tuple(p))
        return out
    raise TypeError(f"{what} must be a list of (variable, expression) pairs or a dict, "
                    f"got {type(x).__name__}")


def replace_vars(outputs, mapping):
    """Rebuild ``outputs`` with every variable in ``mapping`` replaced (Theano's clone(replace=))."""
    if not mapping:
        return list(outputs)
    memo = dict(mapping)
    for node in toposort(outputs, blockers=list(mapping)):
        new_inputs = [memo.get(v, v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        if all(a.type == b.type for a, b in zip(new_inputs, node.inputs)):
            new_outs = [o.type() for o in node.outputs]
            for o, n in zip(node.outputs, new_outs):
                n.name = o.name
                n.tag = o.tag.copy()
            Apply(node.op, new_inputs, new_outs)
        else:
            new_outs = node.op.make_node(*new_inputs).outputs
        for o, n in zip(node.outputs, new_outs):
            memo[o] = n
    return [memo.get(o, o) for o in outputs]


def _as_given(var, expr):
    from ..symbolic.basic import as_tensor_variable
    if not isinstance(var, Variable):
        raise TypeError(f"givens keys must be symbolic variables, got {type(var).__name__} {var!r}")
    expr = as_tensor_variable(expr)
    if expr.type != var.type:
        if expr.dtype != var.dtype or expr.ndim != var.ndim:
            raise TypeError(f"givens: {var} has type {var.type} but its replacement {expr} has type "
                            f"{expr.type}; cast the replacement (e.g. .astype({var.dtype!r}))")
    return expr


def _as_update(sv, expr):
    from ..symbolic.basic import as_tensor_variable
    from .shared import SharedVariable
    if not isinstance(sv, SharedVariable):
        raise TypeError(f"updates: {sv!r} is not a shared variable; only shared variables "
                        "(tvmsym.shared) can be updated")
    if hasattr(sv.type, "format") or hasattr(getattr(expr, "type", None), "format"):
        raise NotImplementedError(f"updates: {sv} is a sparse shared variable (or its update is "
                                  "sparse); sparse updates are not supported, use set_value")
    expr = as_tensor_variable(expr)
    if expr.dtype != sv.dtype:
        from ..symbolic.basic import cast
        if isinstance(expr, Constant) or sv.allow_downcast:
            expr = cast(expr, sv.dtype)
        else:
            raise TypeError(
                f"An update must have the same type as the original shared variable (shared_var="
                f"{sv}, shared_var.type={sv.type}, update_val={expr}, update_val.type={expr.type}). "
                "If the difference is related to the broadcast pattern, you can call the "
                "tensor.unbroadcast(var, axis_to_unbroadcast[, ...]) function to remove "
                "broadcastable dimensions; for a dtype difference, cast the update "
                f"(e.g. .astype({sv.dtype!r})).")
    if expr.ndim != sv.ndim:
        raise TypeError(f"update of {sv} ({sv.type}) has {expr.ndim} dimension(s) "
                        f"({expr.type}); it needs {sv.ndim}")
    if isinstance(expr, Constant) and expr.data.ndim < sv.ndim:
        expr = type(expr)(expr.type, expr.data.reshape((1,) * (sv.ndim - expr.data.ndim) + expr.data.shape))
    return expr


def prepare(fn, in_vars, outs, updates, givens, no_default_updates=False):
    """Return (fgraph inputs, fgraph outputs, number of user outputs, update pairs).

    Sets on ``fn``: ``_shared`` (the implicit inputs, in fgraph order) and
    ``_update_spec`` (pairs (shared variable, fgraph output index)).
    """
    from .shared import SharedVariable
    upd = _pairs(updates, "updates")
    giv = _pairs(givens, "givens")
    seen = set()
    for sv, _ in upd:
        if sv in seen:
            raise ValueError(f"shared variable {sv} has two updates")
        seen.add(sv)
    upd = [(sv, _as_update(sv, e)) for sv, e in upd]
    mapping = {}
    for v, e in giv:
        if v in mapping:
            raise ValueError(f"givens: {v} is given twice")
        if v in set(in_vars):
            raise ValueError(f"givens: {v} is both an input of the function and replaced by givens")
        mapping[v] = _as_given(v, e)
    exprs = replace_vars(list(outs) + [e for _, e in upd], mapping)
    user_outs, upd_exprs = exprs[:len(outs)], exprs[len(outs):]
    upd = [(sv, e) for (sv, _), e in zip(upd, upd_exprs)]

    explicit = set(in_vars)
    for v in in_vars:
        if isinstance(v, SharedVariable):
            raise TypeError(f"shared variable {v} cannot be an explicit function input; it is an "
                            "implicit input already (use givens to substitute it)")

    def shared_in(vs):
        return [v for v in ancestors(vs, blockers=in_vars)
                if isinstance(v, SharedVariable) and v not in explicit]

    # default updates (Theano's shared.default_update, e.g. random streams)
    if isinstance(no_default_updates, (list, tuple, set)):    # Theano: these variables only
        seen.update(no_default_updates)
        no_default_updates = False
    if not no_default_updates:
        pending = shared_in(user_outs + upd_exprs)
        while pending:
            sv = pending.pop()
            du = getattr(sv, "default_update", None)
            if du is None or sv in seen:
                continue
            seen.add(sv)
            e = _as_update(sv, du)
            if mapping:     # givens reach default updates too (a draw sized by a given: rng)
                e = replace_vars([e], mapping)[0]
            upd.append((sv, e))
            pending.extend(v for v in shared_in([e]) if v not in seen)

    shared_vars = []
    for v in shared_in(user_outs + [e for _, e in upd]):
        if v not in shared_vars:
            shared_vars.append(v)
    for sv, _ in upd:
        if sv not in shared_vars:
            shared_vars.append(sv)    # updated but not read: still an input (its storage)
    fn._shared = shared_vars
    n_user = len(user_outs)
    fn._update_spec = [(sv, n_user + k) for k, (sv, _) in enumerate(upd)]
    return list(in_vars) + shared_vars, user_outs + [e for _, e in upd], n_user, upd


def check_update_value(sv, arr):
    if arr.ndim != sv.ndim or arr.dtype.name != sv.dtype:
        raise TypeError(f"update of {sv} gave a {arr.dtype} array of shape {arr.shape}; "
                        f"{sv.type} needs {sv.ndim} dimension(s)")
    for d, (b, s) in enumerate(zip(sv.broadcastable, arr.shape)):
        if b and s != 1:
            raise ValueError(f"update of {sv} ({sv.type}) gave an array of shape {arr.shape}: "
                             f"dimension {d} is broadcastable and must have length 1")


def _donatable(fn, build):
    """{update output index: (slot, shape, dtype)} of the updates a spare buffer can take
    (``Build.donatable``: computed into fresh storage, returned once); once per build."""
    ok = getattr(build, "_donatable", None)
    if ok is None:
        ok = build._donatable = build.donatable([k for _, k in fn._update_spec])
    return ok


class UpdatePlan:
    """Shared-variable updates of one (function, build), precomputed once.

    ``spares()`` returns the spare buffers (in ``slots`` order) the update kernels
    write into (the old values stay untouched until ``install``, so a failed call
    changes nothing); ``install(outs)`` checks and installs the new values: a donated
    spare becomes the value and the old value the spare; an update the user also
    receives (or the old value itself) is copied, so each variable owns its array.
    The type check of the update values runs
    on every call until it has passed once on a build whose every step is a plain
    kernel (``build._fast``): there, every output's shape and dtype is fixed by the
    build, so later calls would pass it too.
    """

    __slots__ = ("slots", "_donate", "_install", "_checks", "_static", "_checked")

    def __init__(self, fn, build):
        ok = _donatable(fn, build)
        n_user = fn._n_user_outputs
        copies = build.out_is_input      # these outputs are fresh copies: never aliased
        cand = tuple(j for j in range(n_user) if not copies[j])
        slots, donate, install = [], [], []
        for sv, k in fn._update_spec:
            c = sv.container
            if k in ok:
                s, shape, dtype = ok[k]
                slots.append(s)
                donate.append((c, tuple(shape), np.dtype(dtype)))
            install.append((c, k, k in ok, cand))
        self.slots = tuple(slots)
        self._donate = tuple(donate)
        self._install = tuple(install)
        self._checks = tuple(fn._update_spec)
        self._static = getattr(build, "_fast", None) is not None
        self._checked = False

    def spares(self):
        out = []
        for c, shape, dtype in self._donate:
            sp = c.spare
            if sp is None or sp.shape != shape or sp.dtype != dtype or sp is c.value:
                sp = c.spare = np.empty(shape, dtype)
            out.append(sp)
        return out

    def install(self, outs):
        if not self._checked:
            for sv, k in self._checks:
                check_update_value(sv, outs[k])
            self._checked = self._static
        for c, k, donated, cand in self._install:
            new = outs[k]
            if donated:
                c.spare, c.value = c.value, new
                continue
            for j in cand:
                if outs[j] is new:
                    break
            else:
                if new is not c.value:
                    c.value = new
                    continue
            # the user receives this array too (or it is the old value): keep a private copy
            if c.spare is not None and c.spare.shape == new.shape:
                np.copyto(c.spare, new)
                c.spare, c.value = c.value, c.spare
            else:
                c.value = new.copy()


def update_plan(fn, build):
    """The build's ``UpdatePlan`` for ``fn`` (made on first use)."""
    p = build.__dict__.get("_update_plan")
    if p is None:
        p = build._update_plan = UpdatePlan(fn, build)
    return p
