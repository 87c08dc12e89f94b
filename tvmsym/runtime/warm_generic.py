"""Warm start of shape-generic builds: one cache entry per generic signature.

``runtime/warm.py`` keys an entry by the input shapes of the build it stores.  A build of
a *generic* signature (``lowering.symbolic_shapes.signature``) serves every input shape
of that signature, so it is also stored under the signature:

one entry per (graph, dtypes, class pattern), in ``warm.store``'s format with a
``generic`` field: the classes the signature pins and their sizes (a new process knows
the pattern of its call's shapes but not the pins: they come from the plan, which needs
the compiler's modules; a call with other pinned sizes is a miss and its build replaces
the entry), every step output's dims as classes or constants, and which build-time
constants are shape arithmetic (recomputed per shape).

A call whose shapes have no entry of their own looks its signature up here: the output
shapes and shape values come from ``symbolic/shapes.infer_shapes`` on the rewritten graph
(pure Python), checked against the classes the entry records (a dim that only looked
like a class at the probe sizes is a miss), and the loaded kernels run: no ``import
tvm``, no lowering.  The library is loaded once per function and signature.
"""
from __future__ import annotations

import json

import numpy as np

from .. import cache as _kcache
from . import warm

stats = {"hits": 0, "stored": 0, "misses": 0}


def _pattern(fgraph, shapes):
    from ..lowering.symbolic_shapes import class_pattern
    bc = [tuple(getattr(v.type, "broadcastable", ())) for v in fgraph.inputs]
    return class_pattern(shapes, bc)


def _key(gk, dtypes, pattern):
    return warm.build_key(gk, ("generic", dtypes, pattern), "llvm")


def _var_ref(fgraph, order, v):
    if v in fgraph.inputs:
        return ["i", fgraph.inputs.index(v)]
    if v.owner is not None and v.owner in order:
        return ["v", order[v.owner], v.owner.outputs.index(v)]
    return None


def _var_of(fgraph, nodes, ref):
    if ref[0] == "i":
        return fgraph.inputs[ref[1]]
    return nodes[ref[1]].outputs[ref[2]]


def store(fn, key, build, sig, inner=None):
    """Write the generic entries of ``build``, the first build of generic signature ``sig``
    of function ``fn`` (False when it does not qualify)."""
    from ..lowering.symbolic_shapes import sig_structure
    from ..symbolic.graph import Constant
    gk = fn._graph_key
    cd = warm._cachedir()
    if not gk or cd is None or sig[0] != "generic":
        return False
    plan = build.plan
    struct = sig_structure(plan, sig, inner)     # (structural classes held at their size)
    if struct is None:
        return False
    fg = plan.fgraph
    order = {n: j for j, n in enumerate(fg.toposort())}
    outs = []
    for rec in build.steps:
        row = []
        for o in rec.step.outputs:
            d = struct.dims.get(o)
            if d is None or any(x is None for x in d):
                return False
            ref = _var_ref(fg, order, o)
            if ref is None:
                return False
            row.append([ref, [[x[0], x[1]] if isinstance(x, tuple) else int(x) for x in d]])
        outs.append(row)
    by_slot = {}
    for v, s in build.slot.items():
        by_slot.setdefault(s, []).append(v)
    consts = []
    for s, _ in build.const_values:
        ref = None
        for v in by_slot.get(s, ()):
            if isinstance(v, Constant):
                continue
            if v in build.values:
                ref = _var_ref(fg, order, v)
                if ref is None:
                    return False
        consts.append(ref)
    extra = {"generic": {"pins": [[int(k), int(n)] for k, n in sig[3]], "outs": outs,
                         "consts": consts}}
    if not warm.store(_key(gk, sig[1], sig[2]), build, extra):
        return False
    stats["stored"] += 1
    return True


def _entry(fn, cd, key):
    """(head, blob, lib) of an entry, loaded once per function."""
    memo = fn.__dict__.setdefault("_warm_generic", {})
    got = memo.get(key)
    if got is not None:
        return got
    data, why = _kcache.load_blob(cd, key)
    if data is None:
        if why != "missing":
            warm.stats["stale"] += 1
        return None
    try:
        nl = data.index(b"\n")
        head = json.loads(data[:nl])
        if head.get("format") != warm.META_FORMAT or head["n_inputs"] != len(fn.maker.fgraph.inputs) \
                or "generic" not in head:
            raise ValueError("format")
        lib_path, lwhy = _kcache.verify_entry(cd, head["lib"])
        if lib_path is None:
            raise ValueError(f"library: {lwhy}")
        from .loader import load_library
        lib = load_library(lib_path, [s[2] for s in head["steps"] if s[0] == "KERNEL"])
    except Exception:  # noqa: BLE001  (stale or corrupt: the caller builds it again)
        warm.stats["stale"] += 1
        return None
    _kcache.touch(lib_path)
    got = memo[key] = (head, data[nl + 1:], lib)
    return got


def known(fn, key):
    """True if ``key``'s class pattern has a generic entry this function loaded before (the
    per-shape lookup is then skipped)."""
    memo = fn.__dict__.get("_warm_generic_keys")
    if not memo:
        return False
    fg = fn.maker.fgraph
    dtypes = tuple(v.type.dtype for v in fg.inputs)
    return (dtypes, _pattern(fg, key)[0]) in memo


def load(fn, key):
    """A ``WarmBuild`` for input shapes ``key`` from its generic signature's entry, or None."""
    gk = fn._graph_key
    cd = warm._cachedir()
    if not gk or cd is None:
        return None
    fg = fn.maker.fgraph
    shapes_in = [tuple(int(d) for d in s) for s in key]
    dtypes = tuple(v.type.dtype for v in fg.inputs)
    pattern, sizes = _pattern(fg, shapes_in)
    keys = fn.__dict__.setdefault("_warm_generic_keys", {})
    k = keys.get((dtypes, pattern))
    if k is None:
        k = keys[(dtypes, pattern)] = _key(gk, dtypes, pattern)
    got = _entry(fn, cd, k)
    b = None
    if got is not None:
        head, blob, lib = got
        g = head["generic"]
        if all(k < len(sizes) and sizes[k] == n for k, n in g["pins"]):
            try:
                b = _resolve(fg, head, blob, lib, g, shapes_in, sizes)
            except Exception:  # noqa: BLE001  (shapes the entry does not fit: built instead)
                b = None
    if b is None:
        stats["misses"] += 1
        return None
    stats["hits"] += 1
    warm.stats["hits"] += 1
    _kcache.stats["hits"] += 1          # a kernel library loaded from the cache (as warm.load)
    return b


def _resolve(fg, head, blob, lib, side, shapes_in, sizes):
    """The entry's build at ``shapes_in``: step output shapes from the classes (checked
    against shape inference), shape-arithmetic constants recomputed."""
    from ..symbolic.ops.distributed import side_effect_order
    from ..symbolic.shapes import infer_shapes
    nodes = fg.toposort()
    values = {}
    shapes = infer_shapes(fg.inputs, side_effect_order(nodes), shapes_in, values)
    steps, predict = [], []
    derived = {}
    for (kind, j, name, ins, outs, inplace), dims in zip(head["steps"], side["outs"]):
        new = []
        if len(dims) != len(outs):
            return None
        for (s, _, dt), (ref, d) in zip(outs, dims):
            o = _var_of(fg, nodes, ref)
            predict.append((o, tuple((x[0], x[1]) if isinstance(x, list) else int(x) for x in d)))
            got = shapes.get(o)
            if got is None or len(got) != len(d):
                return None
            shp = []
            for x, y in zip(d, got):
                if isinstance(x, list) and x[0] == "d":     # a derived size: equal keys equal
                    x = derived.setdefault(x[1], int(y))
                elif isinstance(x, list):
                    x = sizes[x[1]]
                shp.append(int(x))
            if tuple(got) != tuple(shp):
                return None         # the probes' structure does not hold at these sizes
            new.append([s, shp, dt])
        steps.append([kind, j, name, ins, new, inplace])
    consts, blobs, off, const_vars = [], [], 0, []
    for (s, dt, shape, o, n), ref in zip(head["consts"], side["consts"]):
        const_vars.append(None if ref is None else _var_of(fg, nodes, ref))
        if ref is None:
            a = blob[o:o + n]
        else:
            v = _var_of(fg, nodes, ref)
            if v not in values:
                return None
            arr = np.ascontiguousarray(np.asarray(values[v], dtype=np.dtype(dt)))
            shape, a = list(arr.shape), arr.tobytes()
        consts.append([s, dt, shape, off, len(a)])
        blobs.append(a)
        off += len(a)
    h = dict(head, steps=steps, consts=consts, input_shapes=[list(s) for s in shapes_in])
    b = warm.WarmBuild(h, b"".join(blobs), fg, lib)
    # what runtime/shapefn.py derives this build's shape function from
    b.const_vars = const_vars
    b.generic_side = {"sizes": list(sizes), "pins": [tuple(p) for p in side["pins"]],
                      "predict": predict}
    return b
