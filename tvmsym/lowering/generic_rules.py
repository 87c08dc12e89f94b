"""Lowering rules of shape-generic kernels whose static rule decides by sizes (reductions).

The static rules (rules/reduce.py) choose partial widths and parallel chunks from the
extents; on symbolic extents the same structure is written by construction, so no
symbolic extent is ever split (TVM_NOTES 12):

* rows (the trailing axes reduced, some leading kept): per row, ``W = A*L`` partial
  results (A independent vector accumulators) over the whole groups of W of the last axis,
  ``L`` partials over the whole vectors left, a scalar tail over ``m % L``; the partials
  folded lane-wise into one vector, then its lanes and the tail (``_row_reduce``, shared
  with softmax); rows in parallel (schedules/cpu_generic.py);
* a 1-D full reduction: ``P`` chunks of whole vectors (parallel), plus a scalar rest;
* columns (the leading axes reduced, trailing kept, ``sum(axis=0)``): one reduction in
  memory order, the innermost kept loop vectorized main + tail by the schedule; the middle
  axes (kept ones on both sides) the same under a loop over the leading kept ones;
* every axis of a 2-d+ input: each row of the first axis as a row reduction (rows in
  parallel), then those partial results in order.

Accumulators are the static rule's (float32 sums in float64: as accurate as numpy's
pairwise sum).  Mean divides by the symbolic count (0 -> numpy's nan/inf).
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..symbolic.ops.reduce import Argmax, CAReduce, Mean
from .machine import ACCUMULATORS
from .rules.reduce import (
    _is_float,
    _needs_epilogue,
    _value_dtype,
    accumulator_dtype,
    highest,
    lowest,
    nanmax,
    nanmin,
    prod_reducer,
)
from .rules.scalar import cast, const
from .symbolic_shapes import accepts_reduce, accepts_softmax, argmax_kind, reduce_kind  # noqa: F401

te, tirx, tvm = _tvm.te, _tvm.tirx, _tvm.tvm

#: chunks of a parallel 1-D full reduction (per thread: a few, so threads even out)
CHUNKS_PER_THREAD = 2


class NotGeneric(Exception):
    """This node has no shape-generic lowering here (the static one is used)."""


def _reducer(kind, acc):
    return {"add": te.sum, "mul": prod_reducer, "max": nanmax if _is_float(acc) else te.max,
            "min": nanmin if _is_float(acc) else te.min, "and": te.min, "or": te.max}[kind]


def _identity(kind, acc):
    if kind in ("add", "or"):
        return const(0, acc)
    if kind in ("mul", "and"):
        return const(1, acc)
    return lowest(acc) if kind == "max" else highest(acc)


def _prod(exprs, dt="int64"):
    out = None
    for e in exprs:
        e = tirx.IntImm(dt, e) if isinstance(e, int) else cast(e, dt)
        out = e if out is None else out * e
    return tirx.IntImm(dt, 1) if out is None else out


def lower_careduce_generic(node, inputs, ctx):
    op, (x,) = node.op, inputs
    xv, ov = node.inputs[0], node.outputs[0]
    if x is None:
        raise NotGeneric("the reduced input is an inlined constant")
    # (an input computed in the kernel, e.g. a fused elementwise producer, is read the same
    # way: the schedule inlines it into the reduction blocks)
    in_dtype, out_dtype = xv.type.dtype, ov.type.dtype
    kind = op.reducer
    acc = accumulator_dtype(op, in_dtype)
    if kind in ("max", "min", "and", "or"):
        acc = _value_dtype(in_dtype) if kind in ("max", "min") else "uint8"
    if kind in ("max", "min") and op.identity is None:
        pass        # empty reductions raise in infer_shape (0 is a concrete class)
    shape = list(ctx.shape(xv))
    nd = len(shape)
    how = reduce_kind(op, nd)
    if how is None:
        raise NotGeneric(f"reduction over axes {op.reduced_axes(nd)} of {nd}-d")
    axes = sorted(op.reduced_axes(nd))
    kept = [d for d in range(nd) if d not in axes]
    out_shape = [shape[d] for d in kept]
    name = ctx.name(node)
    reducer = _reducer(kind, acc)
    ident = _identity(kind, acc)

    def convert(v):
        if kind in ("and", "or"):
            return cast(cast(v, "bool"), "uint8")
        return cast(v, acc)

    def load(oidx, ridx):
        oi, ri = iter(oidx), iter(ridx)
        return x(*[next(ri) if d in axes else next(oi) for d in range(nd)])

    L = ctx.target.lanes("uint8" if acc == "bool" else acc)
    W = L * ACCUMULATORS
    red_name = name + "_red" if _needs_epilogue(op, acc, out_dtype) else name
    if any(isinstance(shape[a], int) and shape[a] == 0 for a in axes):
        if op.identity is None:     # caught by infer_shape first; kept as a guard
            raise ValueError(op.empty_message(shape))
        red = te.compute(out_shape, lambda *i: ident, name=red_name, tag="reduce_trivial")
    elif how == "full":
        # each row of the first axis reduced as a row reduction (``<red>_rows``, in the
        # accumulator dtype: rows in parallel), then the rows in order
        rows = _row_reduce(red_name + "_rows", [shape[0]], shape[-1],
                           lambda o, ro, j: convert(x(o[0], *ro, j)), reducer,
                           _combiner(kind, acc), ident, L, ACCUMULATORS, shape[1:-1])
        t = te.reduce_axis((0, shape[0]), name="t")
        red = te.compute([], lambda: reducer(rows(t), axis=[t]), name=red_name, tag="reduce")
    elif how in ("columns", "middle"):
        rs = [te.reduce_axis((0, shape[a]), name=f"r{k}") for k, a in enumerate(axes)]
        red = te.compute(out_shape, lambda *i: reducer(convert(load(i, rs)), axis=rs),
                         name=red_name, tag="reduce")
    elif how == "rows":
        others = [shape[a] for a in axes[:-1]]
        red = _row_reduce(red_name, out_shape, shape[-1],
                          lambda o, ro, j: convert(load(o, list(ro) + [j])), reducer,
                          _combiner(kind, acc), ident, L, ACCUMULATORS, others)
    else:       # full1d
        n = shape[0]
        idt = str(n.ty) if not isinstance(n, int) else "int32"
        P = max(1, ctx.target.threads * CHUNKS_PER_THREAD)
        Wc = tirx.IntImm(idt, W)
        per = tirx.FloorDiv(tirx.FloorDiv(n, Wc), tirx.IntImm(idt, P))   # vectors per chunk
        k = te.reduce_axis((0, per), name="k")
        part = te.compute([P, W], lambda c, l: reducer(
            convert(x((c * per + k) * W + l)), axis=[k]), name=name + "_gpart", tag="reduce")
        start = per * (P * W)
        t = te.reduce_axis((0, n - start), name="t")
        tail = te.compute([], lambda: reducer(convert(x(start + t)), axis=[t]),
                          name=name + "_gtail", tag="reduce")
        lw = te.reduce_axis((0, P * W + 1), name="lw")
        last = tirx.IntImm("int32", P * W - 1)
        red = te.compute([], lambda: reducer(tirx.Select(
            lw < P * W, part(tirx.min(lw, last) // W, tirx.min(lw, last) % W), tail()), axis=lw),
            name=red_name, tag="reduce")
    if not _needs_epilogue(op, acc, out_dtype):
        return [red]

    def finish(*i):
        v = red(*i)
        if isinstance(op, Mean):
            cnt = _prod([shape[a] for a in axes])
            d = tirx.Select(cnt > op.ddof, cnt - op.ddof, tirx.IntImm("int64", 0))
            accd = str(v.ty)
            # (the divisor never a constant 0: an empty axis of the signature would make
            # TVM's constant folding fail on v / 0)
            dv = tirx.Select(d == 0, const(1, accd), cast(d, accd))
            if _is_float(accd):
                v = tirx.Select(d == 0, v * const(np.inf, accd), v / dv)
            else:
                v = tirx.Select(d == 0, v, v / dv)
        return cast(v, out_dtype)
    return [te.compute(out_shape, finish, name=name, tag="reduce_epilogue")]


def _imm(e, v):
    return v if isinstance(e, int) else tirx.IntImm(str(e.ty), v)


def _combiner(kind, acc):
    """The binary operation of ``_reducer(kind, acc)`` (the lane tree of ``_row_reduce``)."""
    from .rules.reduce import _nan_max, _nan_min
    if kind == "add":
        return lambda a, b: a + b
    if kind == "mul":
        return lambda a, b: a * b
    if kind in ("max", "min") and _is_float(acc):
        return _nan_max if kind == "max" else _nan_min
    return tirx.max if kind in ("max", "or") else tirx.min


def _row_reduce(name, outer, m, load, reducer, combine, ident, L, A=ACCUMULATORS, others=(),
                fn=None, pad=None):
    """``reducer`` over ``fn(o, load(o, r, j))``, j < m (and r over the extents ``others``),
    per outer index o, on a symbolic row length ``m``, built by construction (no symbolic
    extent is split, no chain of dependent scalar steps per row):

    * ``_gp``: W = A*L partials (A independent vector accumulators) over the m // W whole
      groups of W;
    * ``_gm``: L partials over the whole vectors left (fewer than A);
    * ``_gx``: the last m % L loaded values as one vector, the missing lanes ``pad`` (a
      guarded load per lane: nothing past the row is read), ``_gt``: ``fn`` of it, one
      vector operation (``fn(pad)`` must be ``ident``: exp(-inf - max) = 0);
    * ``_gf``: the A vectors of ``_gp``, the one of ``_gm`` and ``_gt`` combined lane-wise
      (a balanced tree of vector operations) into one vector;
    * ``_h<w>``: its lanes combined pairwise (``combine``) in log2(L) halving steps; the
      last one is the result ``name``.

    The schedule (cpu_generic.py) puts every block under the row loop, vectorizes the lane
    loops and unrolls the A accumulators."""
    W = L * A
    pad = ident if pad is None else pad

    def value(o, r, j):
        v = load(o, r, j)
        return v if fn is None else fn(o, v)
    fd = (lambda a, b: a // b) if isinstance(m, int) else (
        lambda a, b: tirx.FloorDiv(a, _imm(a, b)))
    V = fd(m, W)                    # whole groups of W
    nv = fd(m, L)                   # whole vectors
    others = list(others)
    outer = list(outer)

    def raxes(tag):
        return [te.reduce_axis((0, e), name=f"{tag}{k}") for k, e in enumerate(others)]
    rp, k = raxes("r"), te.reduce_axis((0, V), name="k")
    part = te.compute(outer + [W], lambda *ol: reducer(
        value(ol[:-1], rp, k * W + ol[-1]), axis=rp + [k]), name=name + "_gp", tag="reduce")
    rm, j = raxes("p"), te.reduce_axis((0, nv - V * A), name="j")
    mid = te.compute(outer + [L], lambda *ol: reducer(
        value(ol[:-1], rm, V * W + j * L + ol[-1]), axis=rm + [j]), name=name + "_gm",
        tag="reduce")

    def guarded(ol, r, what, otherwise):    # lane ol[-1] of the tail, or ``otherwise``
        idx = nv * L + ol[-1]
        return tirx.if_then_else(idx < m, what(ol[:-1], r, idx), otherwise)
    if others:      # each lane a reduction over the other axes (fn applied inside)
        rq = raxes("q")
        tx = te.compute(outer + [L], lambda *ol: reducer(guarded(ol, rq, value, ident), axis=rq),
                        name=name + "_gx", tag="reduce")
        tail = te.compute(outer + [L], lambda *ol: tx(*ol), name=name + "_gt")
    else:
        tx = te.compute(outer + [L], lambda *ol: guarded(ol, [], load, pad), name=name + "_gx")
        tail = te.compute(outer + [L], lambda *ol: tx(*ol) if fn is None else fn(ol[:-1], tx(*ol)),
                          name=name + "_gt")
    def fold_lane(*ol):
        vals = [part(*ol[:-1], a * L + ol[-1]) for a in range(A)] + [mid(*ol), tail(*ol)]
        while len(vals) > 1:        # a balanced tree: log2(A + 2) dependent steps
            vals = [combine(vals[i], vals[i + 1]) if i + 1 < len(vals) else vals[i]
                    for i in range(0, len(vals), 2)]
        return vals[0]
    fold = te.compute(outer + [L], fold_lane, name=name + "_gf")
    h, w = fold, L
    while w > 1:
        w //= 2
        h = _halve(h, w, outer, combine, name if w == 1 else f"{name}_h{w}")
    if L == 1:
        h = te.compute(outer, lambda *o: fold(*o, 0), name=name)
    return h


def _halve(h, w, outer, combine, name):
    """Lanes l and l + w of ``h`` (2w lanes) combined: w lanes (w == 1: no lane axis)."""
    if w == 1:
        return te.compute(outer, lambda *o: combine(h(*o, 0), h(*o, 1)), name=name)
    return te.compute(outer + [w], lambda *ol: combine(h(*ol), h(*ol[:-1], ol[-1] + w)),
                      name=name)


def lower_softmax_generic(node, inputs, ctx):
    """(Log)Softmax over the last axis on symbolic extents (rules/nnet.py's passes, each
    reduction built as vector partials + tail)."""
    from ..symbolic.ops.nnet import LogSoftmax
    from .rules.reduce import fmax
    (x,), xv, ov = inputs, node.inputs[0], node.outputs[0]
    if x is None or not accepts_softmax(node):
        raise NotGeneric("softmax of a constant or not over the last axis")
    dtype = ov.type.dtype
    shape = list(ctx.shape(xv))
    m = shape[-1]
    outer = shape[:-1]
    name = ctx.name(node)
    L = ctx.target.lanes(dtype)
    from .narrow_rows import narrow  # (w6) plain row reductions, vectorized over rows
    if ctx.target.cpu and narrow(m, L):
        from .rules.nnet import lower_softmax
        return lower_softmax(node, inputs, ctx)

    def at(o, j):
        return cast(x(*o, j), dtype)

    lo, zero = lowest(dtype), const(0, dtype)
    mx = _row_reduce(name + "_max", outer, m, lambda o, r, j: at(o, j), fmax, tirx.max, lo, L)
    if isinstance(node.op, LogSoftmax):
        s = _row_reduce(name + "_sum", outer, m, lambda o, r, j: at(o, j), te.sum,
                        lambda a, b: a + b, zero, L, fn=lambda o, v: tirx.exp(v - mx(*o)),
                        pad=lo)
        ls = te.compute(outer, lambda *o: tirx.log(s(*o)), name=name + "_lse")
        return [te.compute(shape, lambda *i: (at(i[:-1], i[-1]) - mx(*i[:-1])) - ls(*i[:-1]),
                           name=name, tag="softmax")]
    e = te.compute(shape, lambda *i: tirx.exp(at(i[:-1], i[-1]) - mx(*i[:-1])), name=name + "_exp")
    s = _row_reduce(name + "_sum", outer, m, lambda o, r, j: e(*o, j), te.sum,
                    lambda a, b: a + b, zero, L)
    r = te.compute(outer, lambda *o: const(1, dtype) / s(*o), name=name + "_rcp")
    return [te.compute(shape, lambda *i: e(*i) * r(*i[:-1]), name=name, tag="softmax")]


def _softmax_classes():
    from ..symbolic.ops.nnet import LogSoftmax, Softmax
    return (Softmax, LogSoftmax)


def lower_sibling_generic(node, inputs, ctx):
    """``SiblingReduce`` on symbolic extents: each part lowered by ``lower_careduce_generic``,
    so each part computes exactly what its separate generic kernel computes."""
    from .rules.reduce_siblings import lower_parts
    return lower_parts(node, inputs, ctx, lower_careduce_generic)


def _sibling_class():
    from ..symbolic.ops.reduce_siblings import SiblingReduce
    return SiblingReduce


#: op class -> generic lowering rule (lower_step's ``rules``)
GENERIC_RULES = {CAReduce: lower_careduce_generic, _sibling_class(): lower_sibling_generic}
for _c in _softmax_classes():
    GENERIC_RULES[_c] = lower_softmax_generic


def generic_rule(op):
    for cls in type(op).__mro__:
        if cls in GENERIC_RULES:
            return GENERIC_RULES[cls]
    return None


# ------------------------------------------------------------------ argmax / argmin
def _index_dtype(vdt, dims):
    """int32 flat indices next to values of 4 bytes or less (vectors of equal width) when the
    kernel's index arithmetic is int32 (runtime/generic.py builds int64 kernels for buffers
    of 2**31 elements or more), else int64."""
    import numpy as _np
    wide = any(not isinstance(d, int) and str(d.ty) == "int64" for d in dims)
    return "int64" if wide or _np.dtype(vdt).itemsize > 4 else "int32"


def lower_argmax_generic(node, inputs, ctx):
    """Argmax / Argmin on symbolic extents, numpy's answer (first index of the extreme; the
    first NaN when there is one):

    * rows / a vector (as one row): two row reductions built like sums (``_row_reduce``):
      the extreme (NaN propagating) ``<name>_val``, then the first index holding it (or
      holding a NaN) ``<name>_red``, a min over vector partials;
    * columns: per kept element the rows walked in order, keeping the first strictly better
      value (the specialized kernel's sequential reducer; tiles of the kept axis vectorized
      by the schedule).
    """
    from .rules.reduce import IDX_DTYPE, _seq_arg_reducer
    (x,), xv, ov = inputs, node.inputs[0], node.outputs[0]
    if x is None:
        raise NotGeneric("argmax of an inlined constant")
    vdt = _value_dtype(xv.type.dtype)
    if np.dtype(vdt).kind not in "fiub":
        raise NotGeneric(f"argmax of {vdt}")
    shape = list(ctx.shape(xv))
    nd = len(shape)
    how = argmax_kind(node.op, nd)
    if how is None:
        raise NotGeneric(f"argmax over {node.op.reduced_axes(nd)} of {nd}-d")
    is_max = node.op.reducer == "argmax"
    name = ctx.name(node)
    idt = _index_dtype(vdt, shape)
    out_shape = list(ctx.shape(ov))

    def val(*i):
        v = x(*i)
        return v if x.dtype == vdt else cast(v, vdt)
    if how == "columns":
        na = len(node.op.reduced_axes(nd))
        rax = [te.reduce_axis((0, shape[k]), name=f"c{k}") for k in range(na)]
        q = cast(rax[0].var, idt)
        for k in range(1, na):
            q = q * cast(shape[k], idt) + cast(rax[k].var, idt)
        seq = _seq_arg_reducer(is_max, vdt, idt)
        ri, _ = te.compute(out_shape, lambda *o: seq((q, val(*rax, *o)), axis=rax),
                           name=name + "_lanes", tag="reduce")
        return [te.compute(out_shape, lambda *i: cast(ri(*i), IDX_DTYPE), name=name,
                           tag="reduce_epilogue")]
    if how == "full1d":
        outer, m = [1], shape[0]

        def at(o, j):
            return val(j)
    else:
        outer, m = shape[:-1], shape[-1]

        def at(o, j):
            return val(*o, j)
    red = _argmax_rows(name, outer, m, at, vdt, idt, is_max, ctx.target.lanes(vdt),
                       ctx.target.lanes(idt))
    if how == "full1d":
        return [te.compute([], lambda: cast(red(0), IDX_DTYPE), name=name, tag="reduce_epilogue")]
    return [te.compute(out_shape, lambda *i: cast(red(*i), IDX_DTYPE), name=name,
                       tag="reduce_epilogue")]


def _argmax_rows(name, outer, m, at, vdt, idt, is_max, L, Li):
    """First index of each row's extreme (or first NaN) on a symbolic row length ``m``:

    * the whole blocks of ``W = ARG_BLOCK * L`` (rules/reduce.py ``_argmax_blocks``, the
      specialized kernel's one pass): per lane, walking the blocks in order, the block whose
      lane-wise extreme is strictly better than the lane's best (``_lanes``), and the first
      block holding a NaN; per row the extreme ``_rext``, the first NaN block ``_nmin``, the
      block to scan ``_tgt`` and the first hit in it (``_mid``, ``_mred``);
    * the ``m % W`` elements left: the extreme ``_qv`` and its first index ``_qi`` as two
      row reductions (``_row_reduce``: whole vectors + a guarded tail vector);
    * ``_red``: the blocks' answer unless the rest holds the first NaN or a strictly better
      value."""
    from .rules.reduce import ARG_BLOCK, _isnan_v, _seq_block_reducer, fmax, fmin
    fl = _is_float(vdt)
    B = ARG_BLOCK
    W = B * L
    def idx_of(e):
        return const(e, idt) if isinstance(e, int) else cast(e, idt)
    Wi = const(W, idt)
    nb = tirx.FloorDiv(m, _imm(m, W)) if not isinstance(m, int) else m // W
    nbi = idx_of(nb)
    big = tvm.tirx.max_value(idt)
    ext_fn = tirx.max if is_max else tirx.min
    c = te.reduce_axis((0, nb), name="c")

    def lanes_body(*ol):
        o, j = ol[:-1], ol[-1]
        xs = [at(o, c * W + a * L + j) for a in range(B)]
        bm = xs[0]
        for v in xs[1:]:
            bm = ext_fn(bm, v)
        q = cast(c.var, idt)
        vals = [q, bm]
        if fl:
            anynan = _isnan_v(xs[0], vdt)
            for v in xs[1:]:
                anynan = tirx.Or(anynan, _isnan_v(v, vdt))
            vals.append(tirx.Select(anynan, q, big))
        return _seq_block_reducer(is_max, vdt, idt, fl)(tuple(vals), axis=[c])
    lanes = te.compute(list(outer) + [L], lanes_body, name=name + "_lanes", tag="reduce")
    lq, lv = lanes[0], lanes[1]
    ln = lanes[2] if fl else None
    red_ext = (fmax if is_max else fmin) if fl else (te.max if is_max else te.min)
    rl = te.reduce_axis((0, L), name="rl")
    rext = te.compute(outer, lambda *o: red_ext(lv(*o, rl), axis=[rl]), name=name + "_rext",
                      tag="reduce")
    if fl:
        nl = te.reduce_axis((0, L), name="nl")
        nmin = te.compute(outer, lambda *o: te.min(ln(*o, nl), axis=[nl]), name=name + "_nmin",
                          tag="reduce")
    tl = te.reduce_axis((0, L), name="tl")

    def tgt_body(*o):
        key = tirx.Select(tirx.EQ(lv(*o, tl), rext(*o)), lq(*o, tl), big)
        if fl:
            key = tirx.Select(nmin(*o) != big, nmin(*o), key)
        return te.min(key, axis=[tl])
    tgt = te.compute(outer, tgt_body, name=name + "_tgt", tag="reduce")
    ra = te.reduce_axis((0, B), name="ra")
    miss = big
    last = idx_of(m) - const(1, idt)

    def mid_body(*ol):
        o, l = ol[:-1], ol[-1]
        g, e = tgt(*o), rext(*o)
        flat = g * Wi + cast(ra * L + l, idt)
        xa = at(o, tirx.min(flat, last))         # in bounds whatever the data (no blocks: m < W)
        hit = tirx.EQ(xa, e)
        if fl:
            hit = tirx.Select(nmin(*o) != big, _isnan_v(xa, vdt), hit)
        return te.min(tirx.Select(hit, flat, miss), axis=[ra])
    mid = te.compute(list(outer) + [L], mid_body, name=name + "_mid", tag="reduce")
    ul = te.reduce_axis((0, L), name="ul")
    mred = te.compute(outer, lambda *o: te.min(mid(*o, ul), axis=[ul]), name=name + "_mred",
                      tag="reduce")
    # the rest: m % W elements from r0
    r0 = nb * W
    rest = m - r0
    best = (nanmax if is_max else nanmin) if fl else (te.max if is_max else te.min)
    comb = _combiner("max" if is_max else "min", vdt)
    ident = lowest(vdt) if is_max else highest(vdt)
    qv = _row_reduce(name + "_qv", outer, rest, lambda o, r, j: at(o, r0 + j), best, comb,
                     ident, L)

    def key(o, r, j):
        v, e = at(o, r0 + j), qv(*o)
        jj = idx_of(j)
        hit = tirx.Select(v == e, jj, miss)
        if fl:
            hit = tirx.Select(_isnan_v(e, vdt), tirx.Select(_isnan_v(v, vdt), jj, miss), hit)
        return hit
    qi = _row_reduce(name + "_qi", outer, rest, key, te.min, tirx.min, miss, Li)

    def final(*o):
        main, e = mred(*o), rext(*o)
        other = idx_of(r0) + qi(*o)
        qe = qv(*o)
        # (the schedule skips the blocks of an empty part: their values are read only when
        # that part is not empty)
        use_rest = qe > e if is_max else qe < e
        if fl:
            use_rest = tirx.And(tirx.EQ(nmin(*o), big), tirx.Or(use_rest, _isnan_v(qe, vdt)))
        use_rest = tirx.And(tirx.GT(idx_of(rest), const(0, idt)), use_rest)
        use_rest = tirx.Or(tirx.EQ(nbi, const(0, idt)), use_rest)
        return tirx.Select(use_rest, other, main)
    return te.compute(outer, final, name=name + "_red")


GENERIC_RULES[Argmax] = lower_argmax_generic
