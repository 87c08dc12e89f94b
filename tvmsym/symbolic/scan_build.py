"""Building a loop: the graph of ``theano.scan`` (``tvmsym/scan_module`` is its import path).

    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)

``fn`` receives, in order, one value per sequence tap, one per tap of each recurrent
output (``outputs_info``), then the non-sequences; it returns the outputs of a step
(a variable or a list), optionally with a dict of shared-variable updates.  The body is
one ``Scan`` node (``tvmsym/symbolic/ops/scan.py``, printed ``for{cpu,scan_fn}``); the
runtime compiles it (``tvmsym/runtime/scan.py``).  Without ``n_steps`` the loop runs over the
shortest sequence; with it every sequence must be long enough (a negative ``n_steps``
runs backwards, as in Theano).

This module is symbolic: the two things it needs from the runtime come as arguments of
``build_scan`` (``is_shared``: is a variable a shared variable; ``perform``: how to run a
node, for Theano's ``compute_test_value``).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..config import config
from .basic import as_tensor_variable, cast, minimum
from .fgraph import clone_graph
from .graph import _MISSING, Constant, Variable, _test_value, compute_test_values, toposort
from .ops.scan import Scan, _step_type
from .type import TensorType


class OrderedUpdates(OrderedDict):
    """Theano's updates dictionary: ``{shared variable: new value}``, in insertion order
    (accepted by ``function(updates=...)``)."""


def until(condition):
    raise NotImplementedError("scan: theano.scan_module.until (a loop that stops on a "
                              "condition) is not supported")


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _taps_list(taps, what):
    if taps is None:
        return None
    taps = [taps] if isinstance(taps, int) else list(taps)
    if not all(isinstance(k, (int,)) or hasattr(k, "__index__") for k in taps):
        raise TypeError(f"scan: the taps of {what} must be integers, got {taps!r}")
    return [int(k) for k in taps]


def _seq_specs(sequences):
    specs = []
    for k, s in enumerate(_as_list(sequences)):
        taps = [0]
        if isinstance(s, dict):
            if "input" not in s:
                raise ValueError(f"scan: sequence {k} is a dict without an 'input' entry")
            taps = _taps_list(s.get("taps", [0]), f"sequence {k}") or [0]
            s = s["input"]
        s = as_tensor_variable(s)
        if s.ndim == 0:
            raise ValueError(f"scan: sequence {k} ({s}) is a scalar; a sequence needs at least "
                             "one dimension to iterate over")
        specs.append((s, taps))
    return specs


def _out_specs(outputs_info):
    """Per output: (initial value or None, taps or [])."""
    specs = []
    for k, o in enumerate(_as_list(outputs_info)):
        if o is None:
            specs.append((None, []))
            continue
        taps = [-1]
        if isinstance(o, dict):
            if o.get("initial") is None:
                specs.append((None, []))
                continue
            if "taps" in o:
                taps = _taps_list(o["taps"], f"output {k}")
                if not taps:
                    specs.append((None, []))
                    continue
            o = o["initial"]
        if any(t >= 0 for t in taps):
            raise ValueError(f"scan: the taps of output {k} must be negative (past values), "
                             f"got {taps}")
        specs.append((as_tensor_variable(o), taps))
    return specs


def _placeholder(t, name):
    v = t()
    v.name = name
    return v


def _tap_name(base, k, what="t"):
    base = base or "x"
    return f"{base}[{what}]" if k == 0 else f"{base}[{what}{k:+d}]"


def _parse_return(ret, _is_shared):
    """fn's result -> (outputs list, updates list of pairs)."""
    def is_upd(x):
        return isinstance(x, dict) or (
            isinstance(x, (list, tuple)) and x and all(isinstance(p, tuple) and len(p) == 2
                                                       and isinstance(p[0], Variable)
                                                       and _is_shared(p[0]) for p in x))
    outs, upd = ret, []
    if isinstance(ret, dict):
        outs, upd = [], list(ret.items())
    elif isinstance(ret, tuple) and len(ret) == 2 and is_upd(ret[1]) and not is_upd(ret[0]):
        outs, upd = ret[0], ret[1]
        upd = list(upd.items()) if isinstance(upd, dict) else list(upd)
    elif isinstance(ret, tuple) and len(ret) == 2 and is_upd(ret[0]):
        upd, outs = ret
        upd = list(upd.items()) if isinstance(upd, dict) else list(upd)
    if outs is None:
        outs = []
    elif not isinstance(outs, (list, tuple)):
        outs = [outs]
    return list(outs), upd


def _trace(fn, seqs, outs, non_seqs, state_override, is_shared):
    """Call fn on placeholders; returns (placeholders per group, outputs, updates)."""
    seq_ph = []
    for s, taps in seqs:
        t = _step_type(s.type)
        seq_ph.append([_placeholder(t, _tap_name(s.name, k)) for k in taps])
    out_ph = []
    for j, (init, taps) in enumerate(outs):
        if init is None:
            out_ph.append([])
            continue
        t = state_override.get(j) or (init.type if taps == [-1] else _step_type(init.type))
        out_ph.append([_placeholder(t, _tap_name(init.name, k)) for k in taps])
    ns_ph = [_placeholder(v.type, v.name) for v in non_seqs]
    if config.compute_test_value != "off":
        _test_values(seqs, seq_ph, outs, out_ph, non_seqs, ns_ph)
    # fn gets the non-sequences themselves, as Theano's scan does (they are replaced by
    # ns_ph when the body is cloned): T.grad(y[i], x) inside fn then sees y's dependence
    # on x (the tutorial's Jacobian by scan)
    args = [p for g in seq_ph for p in g] + [p for g in out_ph for p in g] + list(non_seqs)
    ret = fn(*args)
    r_outs, upd = _parse_return(ret, is_shared)
    return seq_ph, out_ph, ns_ph, r_outs, upd


def _test_values(seqs, seq_ph, outs, out_ph, non_seqs, ns_ph):
    """Theano's compute_test_value: the placeholders get the first step's values, so fn's
    graph computes test values as it is built."""
    def give(p, val):
        if val is not _MISSING:
            p.tag.test_value = np.asarray(val)

    for (s, taps), phs in zip(seqs, seq_ph):
        tv = _test_value(s)
        if tv is _MISSING:
            continue
        lo = min(0, min(taps))
        for k, p in zip(taps, phs):
            if 0 <= k - lo < len(tv):
                give(p, tv[k - lo])
    for (init, taps), phs in zip(outs, out_ph):
        tv = _MISSING if init is None else _test_value(init)
        if tv is _MISSING or not phs:
            continue
        for k, p in zip(taps, phs):
            give(p, tv if taps == [-1] else tv[-min(taps) + k])
    for v, p in zip(non_seqs, ns_ph):
        give(p, _test_value(v))


def build_scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
               truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
               allow_gc=None, strict=False, return_list=False, *, is_shared, perform=None):
    """Theano's ``scan``: ``(outputs, updates)``.

    ``outputs`` has one variable per output of ``fn`` (a single variable when fn has one
    output, unless ``return_list``; None when fn only returns updates), each stacking
    the steps along a new first axis.  ``updates`` ({shared: final value}) holds fn's
    shared-variable updates; pass it to ``function(updates=...)``.
    ``is_shared(v)``: whether ``v`` is a shared variable; ``perform(node, inputs)``: runs
    the scan node for its test values (``compute_test_value``).
    """
    _is_shared = is_shared
    seqs = _seq_specs(sequences)
    outs = _out_specs(outputs_info)
    non_seqs = [v if isinstance(v, Variable) else as_tensor_variable(v)
                for v in _as_list(non_sequences)]
    if n_steps is None and not seqs:
        raise ValueError("scan: no information about the number of steps: give n_steps or "
                         "at least one sequence")
    if n_steps is not None:
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or n_steps.dtype[0] not in "iu":
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps} of type "
                            f"{n_steps.type}")

    override = {}
    for attempt in range(3):
        seq_ph, out_ph, ns_ph, r_outs, upd = _trace(fn, seqs, outs, non_seqs, override, is_shared)
        if outs and len(r_outs) != len(outs):
            raise ValueError(
                f"scan: fn returned {len(r_outs)} output(s) but outputs_info has {len(outs)} "
                "entries; give one outputs_info entry per output of fn (None for an output "
                "that is not fed back)")
        r_outs = [as_tensor_variable(o) for o in r_outs]
        changed = False
        for j, ((init, taps), o) in enumerate(zip(outs, r_outs)):
            if init is None:
                continue
            st = out_ph[j][0].type
            if o.ndim != st.ndim:
                raise TypeError(
                    f"scan: output {j} of fn ({o}, type {o.type}) has {o.ndim} dimension(s) but "
                    f"its initial value in outputs_info gives steps of {st.ndim} dimension(s) "
                    f"(type {st})")
            bc = tuple(a and b for a, b in zip(st.broadcastable, o.broadcastable))
            if bc != tuple(st.broadcastable):
                override[j] = TensorType(st.dtype, bc)
                changed = True
        if not changed:
            break
    local_outs = list(outs) if outs else [(None, [])] * len(r_outs)
    # recurrent outputs keep the dtype of their initial value
    for j, ((init, taps), o) in enumerate(zip(local_outs, r_outs)):
        if init is None:
            continue
        st = out_ph[j][0].type
        if o.dtype != st.dtype:
            if not np.can_cast(o.dtype, st.dtype, "same_kind") or (
                    np.dtype(o.dtype).itemsize > np.dtype(st.dtype).itemsize and
                    not isinstance(o, Constant)):
                raise TypeError(
                    f"scan: output {j} of fn has dtype {o.dtype} but its initial value in "
                    f"outputs_info has dtype {st.dtype}; cast one of them (e.g. give the initial "
                    f"value as numpy.asarray(..., dtype='{o.dtype}'))")
            r_outs[j] = cast(o, st.dtype)
    if not outs:
        out_ph = [[] for _ in r_outs]

    # shared variables fn updates: states fed back, their final value is the update
    upd_vars, upd_exprs = [], []
    for sv, e in upd:
        if not _is_shared(sv):
            raise TypeError(f"scan: fn returned an update of {sv}, which is not a shared variable")
        e = as_tensor_variable(e)
        if e.dtype != sv.dtype:
            e = cast(e, sv.dtype)
        upd_vars.append(sv)
        upd_exprs.append(e)
    # free variables of the body (closures, shared variables) become inputs of the loop
    placeholders = [p for g in seq_ph for p in g] + [p for g in out_ph for p in g]
    own = set(placeholders) | set(ns_ph)
    memo = {p: p for p in own}
    for v, p in zip(non_seqs, ns_ph):     # fn may read a non-sequence directly too
        memo.setdefault(v, p)
    roots = set(memo) | set(upd_vars)
    # what does not depend on the step's values is computed once, outside the loop; a
    # random draw fn uses advances its state every step (its default update joins fn's),
    # also one made outside fn (Theano redraws it each step; pass it in non_sequences to
    # draw it once per call)
    drawn = []
    while True:
        inner_outs = r_outs + upd_exprs
        inner = set(roots)
        for node in toposort(inner_outs, blockers=list(roots)):
            if any(i in inner for i in node.inputs):
                inner.update(node.outputs)
        new = [i for node in toposort(inner_outs, blockers=list(roots)) for i in node.inputs
               if _is_shared(i) and getattr(i, "default_update", None) is not None
               and i not in roots]
        if not new:
            break
        for sv in dict.fromkeys(new):
            upd_vars.append(sv)
            upd_exprs.append(as_tensor_variable(sv.default_update))
            roots.add(sv)
            drawn.append(sv)
    shared_ph = [_placeholder(sv.type, sv.name) for sv in upd_vars]
    memo.update(zip(upd_vars, shared_ph))
    extra, extra_ph = [], []

    def outside(v):
        if v not in inner and v not in memo and not isinstance(v, Constant):
            p = _placeholder(v.type, v.name)
            memo[v] = p
            extra.append(v)
            extra_ph.append(p)

    for node in toposort(inner_outs, blockers=list(memo)):
        if any(o in inner for o in node.outputs):
            for i in node.inputs:
                outside(i)
    for o in inner_outs:
        outside(o)
    if strict:
        missing = [v for v in extra if v.owner is None and _is_shared(v)]
        if missing:
            raise ValueError(f"scan (strict=True): fn reads the shared variable(s) "
                             f"{', '.join(str(v) for v in missing)}; pass them in non_sequences")
    inner_inputs = placeholders + shared_ph + ns_ph + extra_ph
    _, inner_outs, _ = clone_graph(list(memo), inner_outs, memo=memo)

    # the number of steps
    if n_steps is None:
        lengths = []
        for s, taps in seqs:
            span = max(0, max(taps)) - min(0, min(taps))
            ln = s.shape[0]
            lengths.append(ln - span if span else ln)
        n = lengths[0]
        for ln in lengths[1:]:
            n = minimum(n, ln)
        n_steps = n

    state_types = []
    for j, o in enumerate(r_outs):
        ph = out_ph[j]
        state_types.append(ph[0].type if ph else o.type)
    op = Scan(inner_inputs, inner_outs, [t for _, t in seqs],
              [t for _, t in local_outs], len(upd_vars), len(ns_ph) + len(extra_ph),
              state_types, go_backwards=go_backwards, truncate_gradient=truncate_gradient,
              name=name, mode=mode)
    inits = [init for init, _ in local_outs if init is not None]
    for j, (init, taps) in enumerate(local_outs):
        if init is not None:
            k = [i for i, (ii, _) in enumerate(local_outs) if ii is not None].index(j)
            want = state_types[j] if taps == [-1] else TensorType(
                state_types[j].dtype, (False,) + state_types[j].broadcastable)
            if init.dtype != want.dtype:
                inits[k] = cast(init, want.dtype)
    node = op.make_node(n_steps, *[s for s, _ in seqs], *inits, *upd_vars, *non_seqs, *extra)
    if config.compute_test_value != "off" and perform is not None:
        compute_test_values(node, config.compute_test_value, perform)   # the body compiled
    results = node.outputs[:len(r_outs)]
    updates = OrderedUpdates(zip(upd_vars, node.outputs[len(r_outs):]))
    for sv in drawn:        # a function that does not pass ``updates`` still advances them
        sv.default_update = updates[sv]
    for k, r in enumerate(results):
        if name:
            r.name = name if len(results) == 1 else f"{name}[{k}]"
    if return_list:
        return list(results), updates
    if not results:
        return None, updates
    if len(results) == 1:
        return results[0], updates
    return list(results), updates

