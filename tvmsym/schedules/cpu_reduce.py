"""CPU (llvm) schedules for reductions and softmax; registered before the elementwise rule.

* A reduction is walked in the input's memory order.  When the innermost axis is
  reduced, it is split by the vector width and ``rfactor``-ed, so each row keeps
  ``lanes`` partial results in a vector register; rows run in parallel.  A
  reduction with too few rows to share out (a full sum) is first ``rfactor``-ed on
  its outermost reduced loop, giving parallel chunks combined at the end.  When
  the innermost axis is kept (``sum(axis=0)``), that axis is vectorized and
  split across threads instead.
* Softmax/LogSoftmax of the last axis becomes one loop over rows (parallel) with
  the row's max, exp-sum and normalization computed under it (``compute_at``),
  each pass vectorized at the native lane count (so exp goes through libmvec).

TVM order constraints (TVM_NOTES): vectorize/parallel before ``decompose_reduction``;
``rfactor`` before vectorizing a reduce loop.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..lowering.machine import ACCUMULATORS
from .common import (
    blocks as _blocks,
    extent as _extent,
    inline_views as _inline_views,
    is_spatial as _is_spatial,
    parallel_pays,
)

s_tir = _tvm.s_tir


def _vector_split(sch, loop, lanes):
    """Split ``loop`` by ``lanes`` and vectorize the inner part when it divides evenly."""
    n = _extent(sch, loop)
    if lanes > 1 and n >= lanes and n % lanes == 0:
        outer, inner = sch.split(loop, [None, lanes])
        sch.vectorize(inner)
        return outer, inner
    return loop, None


def _partial_width(n, lanes):
    """Partials per row: ACCUMULATORS vectors when the extent allows (hides the latency of
    the combining instruction), else one vector, else 0 (no rfactor)."""
    if lanes <= 1 or n % lanes or n < 2 * lanes:
        return 0
    wide = lanes * ACCUMULATORS
    return wide if n % wide == 0 and n >= 2 * wide else lanes


def _rfactor_split(sch, block, loop, lanes):
    """Split a reduce loop by the partial width and rfactor it (partials last in the buffer)."""
    width = _partial_width(_extent(sch, loop), lanes)
    if not width:
        return None
    _, inner = sch.split(loop, [None, width])
    return sch.rfactor(inner, factor_axis=_spatial_count(sch, block))


def _spatial_count(sch, block):
    """ndim of the block's output buffer: rfactor's ``factor_axis`` for "partials last"."""
    return sum(1 for iv in sch.get(block).iter_vars if iv.iter_type == 0)


def _vectorize_rf_under(sch, rf, depth, lanes):
    """After compute_at, an rfactor block's loops below ``depth`` follow its iterators: the
    lane iterator (rfactor puts it first), then the reduce one; move the lanes innermost."""
    loops = [l for l in sch.get_loops(rf)[depth:] if _extent(sch, l) > 1]
    if len(loops) == 2 and _extent(sch, loops[0]) in (lanes, lanes * ACCUMULATORS):
        sch.reorder(loops[1], loops[0])
        if _extent(sch, loops[0]) > lanes:
            u, v = sch.split(loops[0], [None, lanes])
            sch.unroll(u)
            sch.vectorize(v)
        else:
            sch.vectorize(loops[0])
        return loops[1]
    return None


# --------------------------------------------------------------------------- softmax
def softmax_rule(func, ctx):
    from ..symbolic.ops.nnet import LogSoftmax, Softmax
    op = ctx.op
    if not isinstance(op, Softmax):
        return None
    outs = ctx.outputs
    if len(outs) != 1:
        return None
    name = outs[0]
    sch = s_tir.Schedule(func)
    out = sch.get_sblock(name)
    nd = len(sch.get_loops(out))
    if op.axis not in (-1, nd - 1) or nd < 2:
        return None
    log = isinstance(op, LogSoftmax)
    parts = [name + s for s in (("_max", "_sum", "_lse") if log else ("_max", "_exp", "_sum", "_rcp"))]
    lanes = ctx.lanes(ctx.out_dtype)
    from .cpu_narrow import narrow, softmax_rows  # (w6: rows shorter than a vector)
    if narrow(_extent(sch, sch.get_loops(out)[-1]), lanes):
        work = _volume(sch, out)
        return softmax_rows(func, ctx, parts, 0 if parallel_pays(elements=work) else work + 1)
    _inline_views(sch, set(parts) | {name})
    _fuse_rows(sch, out, parts, lanes, nd - 1, _volume(sch, out))
    return sch.mod["main"]


def _volume(sch, block):
    return int(np.prod([_extent(sch, l) for l in sch.get_loops(block)]))


def _fuse_rows(sch, out, parts, lanes, n_row_loops, work):
    """One loop over rows (the first ``n_row_loops`` loops of ``out``, parallel) with every
    block of ``parts`` (producers of ``out``, in order) computed per row under it.

    Reductions are rfactor-ed by ``lanes`` first (rfactor needs each in its own loop nest),
    then moved under the row (compute_at), their lane loops moved innermost and vectorized.
    """
    order = []
    for p in parts:
        b = sch.get_sblock(p)
        if not _is_spatial(sch.get(b)):
            rf = _rfactor_split(sch, b, sch.get_loops(b)[-1], lanes)
            if rf is not None:
                order.append(rf)
        order.append(b)
    loops = sch.get_loops(out)
    rows = loops[:n_row_loops]
    row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
    if len(loops) > n_row_loops:
        _vector_split(sch, loops[-1], lanes)
    for b in reversed(order):
        sch.compute_at(b, row, preserve_unit_loops=True)
    if parallel_pays(elements=work):
        sch.parallel(row)
    inits = []
    for b in order:
        blk = sch.get(b)
        if blk.name_hint.endswith("_rf"):
            ko = _vectorize_rf_under(sch, b, 1, lanes)
            if ko is not None:
                inits.append((b, ko))
        elif _is_spatial(blk) and len(sch.get_loops(b)) > 1:
            _vector_split(sch, sch.get_loops(b)[-1], lanes)
    for b, ko in inits:
        init = sch.decompose_reduction(b, ko)
        sch.vectorize(sch.get_loops(init)[-1])


# --------------------------------------------------------------------------- reductions


def _reduce_blocks(sch, name, index=None):
    """(reduction block, epilogue block or None) of the reduction ``name``; ``index``: a
    ``_block_index`` of ``sch`` (one scan of the blocks for all the reductions of a kernel)."""
    if index is not None:
        return index.get((name, "red"), (None, None))
    red = epi = None
    for b, blk in _blocks(sch):
        if blk.name_hint == name + "_red" or (blk.name_hint == name and not _is_spatial(blk)):
            red = b
        elif blk.name_hint == name and red is not None:
            epi = b
    return red, epi


def _block_index(sch):
    """One scan of the root's blocks: ``(name, "red")`` -> ``_reduce_blocks(sch, name)``
    for every reduction name, and every block by its name.  Multi-output kernels (a
    SiblingReduce of 16 parts) look their blocks up here instead of scanning every block
    once per part and question (quadratic in the parts)."""
    index, red = {}, {}
    for b, blk in _blocks(sch):
        name = blk.name_hint
        index.setdefault(name, b)
        if name.endswith("_red"):
            red[name[:-4]] = b
        elif not _is_spatial(blk):
            red[name] = b
    for name, r in red.items():
        epi = index.get(name)
        if epi is not None and index.get(name + "_red") is r:
            index[(name, "red")] = (r, epi)
        else:
            index[(name, "red")] = (r, None)
    return index


def _find(sch, name, index=None):
    if index is not None:
        return index.get(name)
    for b, blk in _blocks(sch):
        if blk.name_hint == name:
            return b
    return None


def _divisor_at_most(n, cap):
    for p in range(min(n, cap), 1, -1):
        if n % p == 0:
            return p
    return 1


def reduce_rule(func, ctx):
    """CAReduce (sum, prod, max, min, all, any, mean): memory-order loops, rfactor, threads."""
    from ..symbolic.ops.reduce import Argmax, CAReduce
    op = ctx.op
    if not isinstance(op, CAReduce):
        return None
    outs = ctx.outputs
    if len(outs) != 1:
        return None
    if isinstance(op, Argmax):
        return _argmax_schedule(func, ctx, op, outs[0])
    sch = s_tir.Schedule(func)
    red, epi = _reduce_blocks(sch, outs[0])
    if red is None:
        return None
    _inline_views(sch, _reduce_names(sch, outs[0]))
    xv = ctx.step.node.inputs[0]
    _schedule_careduce(sch, ctx, op, outs[0], xv, xv in ctx.step.inputs)
    return sch.mod["main"]


def sibling_reduce_rule(func, ctx):
    """SiblingReduce: each part scheduled as its own reduction (its elementwise function of
    the input inlined), one after the other in the one kernel."""
    from ..symbolic.ops.reduce_siblings import SiblingReduce
    op = ctx.op
    if not isinstance(op, SiblingReduce) or len(ctx.outputs) != len(op.parts):
        return None
    sch = s_tir.Schedule(func)
    index = _block_index(sch)           # one scan (blocks of inlined views are not looked up)
    keep = set()
    for name in ctx.outputs:
        if _reduce_blocks(sch, name, index)[0] is None:
            return None
        keep |= _reduce_names(sch, name, index)
    _inline_views(sch, keep)            # the parts' elementwise functions, views
    st = ctx.step
    x = st.node.inputs[0]
    for name in ctx.outputs:
        for b in _reduce_blocks(sch, name, index):
            if b is not None and not sch.get_loops(b):
                sch.add_unit_loop(b)    # any loopless (0-d) block trips rfactor (see below)
    for (red, pre, _idx), name in zip(op.parts, ctx.outputs):
        # the loop order of the separate kernel (its elementwise input inlined: not direct),
        # so the sums add in the same order, bit for bit
        _schedule_careduce(sch, ctx, red, name, x, pre is None and x in st.inputs, index)
    return sch.mod["main"]


def _reduce_names(sch, name, index=None):
    red, epi = _reduce_blocks(sch, name, index)
    part = _find(sch, name + "_part", index)
    return {sch.get(b).name_hint for b in (red, epi, part) if b is not None}


def _schedule_careduce(sch, ctx, op, name, xv, direct, index=None):
    """Schedule the reduction ``name`` (its ``_red``/``_part``/epilogue blocks) of input
    variable ``xv``; ``direct``: its loops may follow ``xv``'s memory order.  ``index``: a
    ``_block_index`` made before any block was transformed (the block handles of other
    reductions stay valid while this one is scheduled)."""
    from ..symbolic.ops.reduce import Argmax
    red, epi = _reduce_blocks(sch, name, index)
    part = _find(sch, name + "_part", index)
    for b in (red, epi):
        if b is not None and not sch.get_loops(b):
            sch.add_unit_loop(b)        # a loopless (0-d) block trips rfactor's BlockReplacer check
    nd = xv.type.ndim
    axes = op.reduced_axes(nd)
    kept = [d for d in range(nd) if d not in axes]
    block = red if part is None else part
    loops = sch.get_loops(block)
    lead = loops[:1] if part is not None else []      # the slice loop of a two-stage reduction
    loops = loops[len(lead):]
    dims = kept + list(axes)            # the input dimension each loop walks
    if direct and len(loops) == nd:
        order = [loops[dims.index(d)] for d in range(nd)]
        if order != loops:
            sch.reorder(*lead, *order)
        kinds = ["R" if d in axes else "S" for d in range(nd)]
    else:
        order, kinds = loops, ["S"] * len(kept) + ["R"] * len(axes)
    order, kinds = lead + order, ["S"] * len(lead) + kinds
    in_dtype = xv.type.dtype
    from ..lowering.rules.reduce import accumulator_dtype
    acc = in_dtype if isinstance(op, Argmax) else accumulator_dtype(op, in_dtype)
    lanes = ctx.lanes("uint8" if acc == "bool" else acc)
    fused = list(zip(order, kinds))
    total = int(np.prod([_extent(sch, l) for l, _ in fused]))
    # threads to share among (0: run on one)
    par = ctx.threads if parallel_pays(ctx, elements=total) else 0
    if fused[-1][1] == "R":
        _schedule_row_reduction(sch, block, fused, lanes, par)
    else:
        _schedule_column_reduction(sch, block, fused, lanes, par)
    if epi is not None:
        eloops = sch.get_loops(epi)
        if eloops:
            el = sch.fuse(*eloops) if len(eloops) > 1 else eloops[0]
            n = _extent(sch, el)
            outer, _ = _vector_split(sch, el, lanes)
            if par and parallel_pays(ctx, elements=n):
                sch.parallel(outer)
    return sch.mod["main"]


def _argmax_schedule(func, ctx, op, name):
    """Argmax/Argmin = an extreme-value pass and a first-index pass (lowering/rules/reduce.py).

    Over the last axis of a buffer both passes run per row (vectorized rfactor partials,
    rows parallel); otherwise the passes are only spread over threads by their outer loop.
    """
    sch = s_tir.Schedule(func)
    if _find(sch, name + "_lanes") is not None:
        return _argmax_lanes_schedule(sch, ctx, name)
    parts = [name + "_val", name + "_red"]
    if _find(sch, parts[0]) is None:
        return None
    _inline_views(sch, set(parts) | {name})
    st = ctx.step
    x = st.node.inputs[0]
    out = sch.get_sblock(name)
    lanes = ctx.lanes("uint8" if x.type.dtype == "bool" else x.type.dtype)
    nd = x.type.ndim
    if x in st.inputs and nd >= 2 and op.reduced_axes(nd) == (nd - 1,):
        red = sch.get_sblock(parts[0])
        work = _volume(sch, red)
        _fuse_rows(sch, out, parts, lanes, nd - 1, work)
        return sch.mod["main"]
    for p in parts:
        b = sch.get_sblock(p)
        loops = sch.get_loops(b)
        if loops and _binds_data_parallel(sch, b) and parallel_pays(ctx, elements=_volume(sch, b)) \
                and ctx.threads > 1:
            sch.parallel(loops[0])
    return sch.mod["main"]


def _argmax_lanes_schedule(sch, ctx, name):
    """The one-pass argmax (lowering/rules/reduce.py ``_argmax_one_pass``).

    ``<name>_lanes`` walks its reduce loops in order (its reducer is sequential: never
    rfactor or reorder them) with the vector of lanes innermost: per lane the best (block
    extreme, block) so far, or ``ACCUMULATORS`` unrolled vectors of (value, chunk) pairs.
    Rows: the per-row steps (``_rext``, ``_tgt``, ``_mid``, ``_red``) run under the row
    loop right after its lanes (partials stay in registers; the few lane steps unrolled,
    the block scan vectorized), rows in parallel; a full reduction runs its slices in
    parallel instead.  Columns: threads take tiles of the kept axis, each walking all rows.
    """
    lanes_b = sch.get_sblock(name + "_lanes")
    red_b = _find(sch, name + "_red")
    mid_b = _find(sch, name + "_mid")
    rext_b = _find(sch, name + "_rext")
    tgt_b = _find(sch, name + "_tgt")
    nmin_b = _find(sch, name + "_nmin")
    epi = sch.get_sblock(name)
    keep = {name, name + "_lanes", name + "_mid", name + "_red", name + "_rext", name + "_tgt",
            name + "_nmin"}
    _inline_views(sch, keep)
    blk = sch.get(lanes_b)
    kinds = [iv.iter_type for iv in blk.iter_vars]          # 0 spatial, 2 reduce
    loops = sch.get_loops(lanes_b)
    if len(loops) != len(kinds):
        return None
    sp = [l for l, k in zip(loops, kinds) if k == 0]
    rd = [l for l, k in zip(loops, kinds) if k != 0]
    dtype = ctx.step.node.inputs[0].type.dtype
    lanes = ctx.lanes("uint8" if dtype == "bool" else dtype)
    work = _volume(sch, lanes_b)
    par = parallel_pays(ctx, elements=work)
    if red_b is not None:                   # rows: [kept..., (slice), lane] x [chunks...]
        vec = sp[-1]
        outer = sp[:-1]
        sch.reorder(*outer, *rd, vec)
        red_spatial = sum(1 for iv in sch.get(red_b).iter_vars if iv.iter_type == 0)
        row = None
        if red_spatial and outer:           # per-row combine under the fused row loop
            rows = outer[:red_spatial]
            row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
            for b in (rext_b, nmin_b, tgt_b, mid_b):
                if b is not None:
                    sch.reverse_compute_at(b, row, preserve_unit_loops=True)
            sch.reverse_compute_at(red_b, row, preserve_unit_loops=True)
            sch.reverse_compute_at(epi, row, preserve_unit_loops=True)
            if par:
                sch.parallel(row)
        elif outer:                         # slices of a full reduction, in parallel
            sl = sch.fuse(*outer) if len(outer) > 1 else outer[0]
            if par:
                sch.parallel(sl)
            if mid_b is not None and tgt_b is None:     # (a block scan needs every slice)
                sch.reverse_compute_at(mid_b, sl, preserve_unit_loops=True)
        if mid_b is not None:               # [..., lane] x [accumulator]: lanes innermost
            ml = sch.get_loops(mid_b)
            sch.reorder(ml[-1], ml[-2])
            if _extent(sch, ml[-2]) == lanes:
                sch.vectorize(ml[-2])
                sch.decompose_reduction(mid_b, ml[-1])
        if row is not None:                 # a row's few lane results: straight-line code
            for b in (rext_b, nmin_b, tgt_b, red_b):
                n_red = sum(1 for iv in sch.get(b).iter_vars if iv.iter_type != 0) \
                    if b is not None else 0
                if n_red and len(sch.get_loops(b)) > n_red:
                    rl = sch.get_loops(b)[-n_red:]
                    sch.decompose_reduction(b, rl[0])
                    for r in rl:
                        sch.unroll(r)
        _unroll_vectorize(sch, vec, lanes)
        init = sch.decompose_reduction(lanes_b, sch.get_loops(lanes_b)[len(outer) if row is None
                                                                       else 1])
        il = sch.get_loops(init)
        _vector_split(sch, il[-1], lanes)
        return sch.mod["main"]
    # columns: [kept...] x [reduced...]; the innermost kept axis is the vector
    last = sp[-1]
    n = _extent(sch, last)
    if lanes <= 1 or n % lanes:
        if par:
            sch.parallel(sp[0])
        return sch.mod["main"]
    tile = lanes * ACCUMULATORS if n % (lanes * ACCUMULATORS) == 0 else lanes
    ko, kt = sch.split(last, [None, tile])
    sch.reorder(*sp[:-1], ko, *rd, kt)
    outer = sch.fuse(*sp[:-1], ko) if sp[:-1] else ko
    if par and _extent(sch, outer) > 1:
        sch.parallel(outer)
    _unroll_vectorize(sch, kt, lanes)
    init = sch.decompose_reduction(lanes_b, sch.get_loops(lanes_b)[1])
    _vector_split(sch, sch.get_loops(init)[-1], lanes)
    el = sch.get_loops(epi)
    el = sch.fuse(*el) if len(el) > 1 else el[0]
    _vector_split(sch, el, lanes)
    return sch.mod["main"]


def _unroll_vectorize(sch, loop, lanes):
    """Vectorize ``loop`` by ``lanes``; the vectors it holds beyond one are unrolled."""
    n = _extent(sch, loop)
    if n > lanes:
        u, v = sch.split(loop, [None, lanes])
        sch.unroll(u)
        sch.vectorize(v)
    else:
        sch.vectorize(loop)


def _binds_data_parallel(sch, block):
    """Whether the block's first iterator is spatial (so its outer loop may run in parallel)."""
    ivs = sch.get(block).iter_vars
    return bool(ivs) and ivs[0].iter_type == 0 and len(sch.get_loops(block)) >= 1 \
        and _extent(sch, sch.get_loops(block)[0]) == int(ivs[0].dom.extent)


def _schedule_row_reduction(sch, block, fused, lanes, par):
    """Innermost loop reduced: vector partials by rfactor; threads over the outer loop."""
    vec = sch.vectorize
    loops = sch.get_loops(block)
    inner = loops[-1]
    n = _extent(sch, inner)
    wide = lanes * ACCUMULATORS
    width = wide if n % wide == 0 and n >= 2 * wide else lanes
    if lanes > 1 and n % width == 0 and n >= 2 * width:
        ro, rv = sch.split(inner, [None, width])
        rf = sch.rfactor(rv, factor_axis=_spatial_count(sch, block))
        rl = sch.get_loops(rf)
        if width > lanes:
            u, v = sch.split(rl[-1], [None, lanes])
            sch.unroll(u)
            vec(v)
        else:
            vec(rl[-1])
        if par and fused[0][1] == "S":
            sch.parallel(rl[0])
        if fused[0][1] == "S":
            # combine each row's partials right after them: the partial buffer shrinks to one
            # row (stack, registers) instead of a rows x width array in memory
            sch.reverse_compute_at(block, sch.get_loops(rf)[0], preserve_unit_loops=True)
        # the rf block's loops: memory order, the chunk loop split off the first reduced one
        # (spatial now), the last split into (ro, [unrolled], lanes)
        ks = [k for _, k in fused]
        ks[-1:] = ["R"] + ["S"] * (2 if width > lanes else 1)
        init = sch.decompose_reduction(rf, sch.get_loops(rf)[ks.index("R")])
        il = sch.get_loops(init)
        if il and _extent(sch, il[-1]) % lanes == 0:
            _vector_split(sch, il[-1], lanes)
    elif par and fused[0][1] == "S":
        sch.parallel(sch.get_loops(block)[0])


def _schedule_column_reduction(sch, red, fused, lanes, par):
    """Innermost loop kept (e.g. sum(axis=0)): vectorize it; threads over its chunks."""
    inner = fused[-1][0]
    n = _extent(sch, inner)
    if par and fused[0][1] == "R":
        p = _divisor_at_most(n // lanes if n % lanes == 0 else n, par)   # par: threads
        if p > 1:
            po, inner = sch.split(inner, [p, None])
            sch.reorder(po, *[l for l, _ in fused[:-1]])
            sch.parallel(po)
    elif par:
        sch.parallel(fused[0][0])
    outer, v = _vector_split(sch, inner, lanes)
    rloops = [l for l, k in fused if k == "R"]
    if v is not None:
        sch.decompose_reduction(red, rloops[0])


def cum_rule(func, ctx):
    """CumOp: topi's scan is already a parallel loop over the other axes; keep it as built."""
    from ..symbolic.ops.cum import CumOp
    return func if isinstance(ctx.op, CumOp) else None

