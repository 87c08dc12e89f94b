"""CPU schedules of shape-generic kernels (symbolic extents, lowering/symbolic_shapes.py).

Splitting a symbolic extent for vectorization gives scalar code (TVM guards every lane
with a predicate) and ``loop_partition`` refuses symbolic bounds, so the vectorized main
part and the scalar tail are built by construction: a loop of extent ``n`` becomes

    for o in range(n // L): for v in vectorized(L): body(o * L + v)
    for t in range(n % L): body(n // L * L + t)

and the outer loop runs in parallel when the kernel is large enough (decided at run time:
both versions are built, under ``if size >= PARALLEL_MIN_ELEMENTS``).
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..lowering.machine import PARALLEL_MIN_ELEMENTS
from .common import blocks as _blocks, is_spatial as _is_spatial
from .cpu import inline_producers

s_tir = _tvm.s_tir
tirx = _tvm.tirx
tvm_ffi = _tvm.tvm_ffi
tvm = _tvm.tvm


class GenericScheduleError(Exception):
    """The kernel is not one this module schedules on symbolic extents."""


def _subst(stmt, var, expr):
    return tvm_ffi.structural_map(stmt, (tvm.ir.Var, lambda w: expr if w.same_as(var) else w),
                                  order="post")


def _dt(e):
    return str(e.ty) if not isinstance(e, int) else "int32"


def _imm(dt, v):
    return tirx.IntImm(dt, v)


def main_and_tail(loop, lanes, parallel_outer):
    """``loop`` (a For) as a vectorized main loop over ``extent // lanes`` vectors (parallel
    if ``parallel_outer``) plus a scalar tail loop."""
    v, n, body = loop.loop_var, loop.extent, loop.body
    dt = _dt(n)
    name = v.name
    vo, vi, vt = tirx.Var(name + "_o", dt), tirx.Var(name + "_v", dt), tirx.Var(name + "_t", dt)
    L = _imm(dt, lanes)
    nmain = tirx.FloorDiv(n, L)
    vec = tirx.For(vi, _imm(dt, 0), L, tirx.ForKind.VECTORIZED, _subst(body, v, vo * L + vi))
    kind = tirx.ForKind.PARALLEL if parallel_outer else tirx.ForKind.SERIAL
    main = tirx.For(vo, _imm(dt, 0), nmain, kind, vec)
    tail = tirx.For(vt, _imm(dt, 0), tirx.FloorMod(n, L), tirx.ForKind.SERIAL,
                    _subst(body, v, nmain * L + vt))
    return tirx.SeqStmt([main, tail])


#: rows a column reduction adds per pass over the accumulator row (kept in registers)
COLUMN_ROWS = 4


def rows_blocked(loop, lanes, R):
    """``for r in range(e): for c in range(n): body`` (a reduction over rows ``r`` into a
    row of accumulators ``c``) as ``R`` rows per pass over the accumulators, in the same
    order (bit for bit the same result):

        for g in range(e // R):
            for co in range(n // L): for q in unroll(R): for cv in vectorized(L): body(g*R+q, co*L+cv)
            for ct in range(n % L): for q in range(R): body(g*R+q, n//L*L+ct)
        for rt in range(e % R): (main + tail over c)(e//R*R+rt)

    The R updates of one accumulator vector follow each other, so it stays in a register
    (one load and store per R rows instead of per row)."""
    r, e, inner = loop.loop_var, loop.extent, loop.body
    c, n, body = inner.loop_var, inner.extent, inner.body
    dt, cdt = _dt(e), _dt(n)
    Rr, L = _imm(dt, R), _imm(cdt, lanes)
    g = tirx.Var(r.name + "_g", dt)
    nmain = tirx.FloorDiv(n, L)

    def at(row_expr, col_expr):
        return _subst(_subst(body, r, row_expr), c, col_expr)
    q, co, cv = tirx.Var(r.name + "_q", dt), tirx.Var(c.name + "_o", cdt), tirx.Var(c.name + "_v", cdt)
    vec = tirx.For(co, _imm(cdt, 0), nmain, tirx.ForKind.SERIAL, tirx.For(
        q, _imm(dt, 0), Rr, tirx.ForKind.UNROLLED, tirx.For(
            cv, _imm(cdt, 0), L, tirx.ForKind.VECTORIZED, at(g * Rr + q, co * L + cv))))
    q2, ct = tirx.Var(r.name + "_q", dt), tirx.Var(c.name + "_t", cdt)
    sca = tirx.For(ct, _imm(cdt, 0), tirx.FloorMod(n, L), tirx.ForKind.SERIAL, tirx.For(
        q2, _imm(dt, 0), Rr, tirx.ForKind.SERIAL, at(g * Rr + q2, nmain * L + ct)))
    main = tirx.For(g, _imm(dt, 0), tirx.FloorDiv(e, Rr), tirx.ForKind.SERIAL,
                    tirx.SeqStmt([vec, sca]))
    rt = tirx.Var(r.name + "_t", dt)
    row = tirx.For(c, _imm(cdt, 0), n, tirx.ForKind.SERIAL,
                   _subst(body, r, tirx.FloorDiv(e, Rr) * Rr + rt))
    tail = tirx.For(rt, _imm(dt, 0), tirx.FloorMod(e, Rr), tirx.ForKind.SERIAL,
                    main_and_tail(row, lanes, False))
    return tirx.SeqStmt([main, tail])


def _replace_loop(func, var, make):
    return tvm_ffi.structural_map(
        func, (tirx.For, lambda s: make(s) if s.loop_var.same_as(var) else s), order="post")


def _shape_key(p):
    return tuple(str(d) for d in p.shape)


def _broadcasts(func):
    from tvm.tirx.buffer import is_buffer_var
    shapes = [_shape_key(p) for p in func.params if is_buffer_var(p)]
    return bool(shapes) and any(sh != shapes[-1] for sh in shapes)


def _guarded(func, size, par, ser):
    """``if size >= PARALLEL_MIN_ELEMENTS: par else ser`` as the function body."""
    return _guarded_threshold(size, PARALLEL_MIN_ELEMENTS, par, ser)


def _guarded_threshold(size, threshold, par, ser):
    """``if size >= threshold: par else ser`` (static sizes: the one taken)."""
    if isinstance(size, int) or isinstance(size, tirx.IntImm):
        return par if int(size) >= threshold else ser
    return tirx.IfThenElse(tirx.GE(size, _imm(_dt(size), threshold)), par, ser)


def generic_elementwise(func, ctx):
    """Schedule a spatial kernel on symbolic extents (every block spatial, outputs in one
    loop nest); raises ``GenericScheduleError`` for anything else."""
    sch = s_tir.Schedule(func)
    blks = _blocks(sch)
    if not blks or not all(_is_spatial(blk) for _, blk in blks):
        raise GenericScheduleError("not a spatial kernel")
    outs = inline_producers(sch)
    nests = {sch.get(sch.get_loops(sch.get_sblock(o))[0]) for o in outs
             if sch.get_loops(sch.get_sblock(o))}
    if len(nests) > 1:
        if len(nests) != len(outs):
            raise GenericScheduleError("outputs in separate loop nests")
        return _separate_nests(sch, outs, ctx)     # a split: one nest per piece
    loops = sch.get_loops(sch.get_sblock(outs[0]))
    if not loops:
        return sch.mod["main"]
    return _one_nest(sch, loops, ctx, _broadcasts(func))


def _separate_nests(sch, names, ctx):
    """Kernels whose outputs are independent loop nests (a split's pieces): each nest
    scheduled as its own elementwise kernel, one after the other."""
    plans = []
    for name in names:
        loops = sch.get_loops(sch.get_sblock(name))
        if loops:
            plans.append(_one_nest(sch, loops, ctx, True, later=True))
    f = sch.mod["main"]
    for apply in plans:
        f = apply(f)
    return f


def _one_nest(sch, loops, ctx, broadcasts, later=False):
    """The loop nest ``loops`` of ``sch`` as rows (outer loops fused, parallel when large)
    x a vectorized main part + scalar tail of the last loop (``broadcasts``: the buffers'
    shapes differ), or one fused loop.  ``later``: return ``f -> f`` that makes that
    change to a function holding the nest (several nests: every fuse first)."""
    lanes = ctx.lanes(ctx.out_dtype)
    rows = len(loops) >= 2 and broadcasts
    if rows:
        outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
        inner = loops[-1]
    else:
        inner = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        outer = None
    inner_l = sch.get(inner)
    ivar = inner_l.loop_var
    if outer is None:
        size = inner_l.extent
        par = main_and_tail(inner_l, lanes, True)
        ser = main_and_tail(inner_l, lanes, False)

        def apply(f):
            return _replace_loop(f, ivar, lambda s: _guarded(f, size, par, ser))
        return apply if later else apply(sch.mod["main"])
    outer_l = sch.get(outer)
    size = outer_l.extent * inner_l.extent
    from .cpu_narrow import narrow, rows_vectorized  # (w6: rows shorter than a vector)
    if narrow(inner_l.extent, lanes):
        def apply_narrow(f):
            return rows_vectorized(f, outer_l.loop_var, lanes, size, PARALLEL_MIN_ELEMENTS)
        return apply_narrow if later else apply_narrow(sch.mod["main"])

    def version(parallel):
        # each branch has its own loop variables (a variable is defined once per function)
        ov = tirx.Var(outer_l.loop_var.name, _dt(outer_l.extent))
        body = _subst(outer_l.body, outer_l.loop_var, ov)
        body = _replace_loop(body, ivar, lambda s: main_and_tail(s, lanes, False))
        kind = tirx.ForKind.PARALLEL if parallel else tirx.ForKind.SERIAL
        return tirx.For(ov, outer_l.min, outer_l.extent, kind, body)
    par, ser = version(True), version(False)
    ovar = outer_l.loop_var

    def apply_rows(f):
        return _replace_loop(f, ovar, lambda s: _guarded(f, size, par, ser))
    return apply_rows if later else apply_rows(sch.mod["main"])


def _ssa(func):
    """Each variable defined once (a loop copied into both branches of a guard)."""
    return tirx.transform.ConvertSSA()(tvm.IRModule({"main": func}))["main"]


def _parallel_if(func, var, size, threshold=PARALLEL_MIN_ELEMENTS, private=True, shared=()):
    """The loop of ``var`` run in parallel when ``size >= threshold`` (else serially).

    ``private``: the intermediate buffers are used only inside the loop (per row); the
    serial copy then gets its own, as a buffer used in both branches would be allocated
    above them, i.e. shared by the parallel loop's threads (a race).  Not private (1-d
    chunks: each iteration writes its own slice, read after the loop): kept shared, as are
    the buffers of ``shared`` (read after the loop)."""
    root = func.body.block
    allocs = []
    if private:     # (only the buffers this loop uses: a kernel of several reductions has
        found = []  # one row loop per reduction)
        _replace_loop(func, var, lambda s: found.append(s) or s)
        allocs = _used_buffers(found[0], [b for b in root.alloc_buffers if not any(
            b.same_as(c) for c in shared)]) if found else []
    copies = []
    for b in allocs:
        t = b.ty
        copies.append(tirx.decl_buffer(t.shape, t.dtype, b.name + "_s", None, t.strides,
                                       t.elem_offset, t.storage_scope, t.data_alignment,
                                       t.offset_factor, layout=t.layout))

    def rename(w):
        for b, c in zip(allocs, copies):
            if w.same_as(b):
                return c
        return w

    def make(s):
        par = tirx.For(s.loop_var, s.min, s.extent, tirx.ForKind.PARALLEL, s.body)
        ser = tvm_ffi.structural_map(s, (tvm.ir.Var, rename), order="post") if allocs else s
        return tirx.IfThenElse(tirx.GE(size, _imm(_dt(size), threshold)), par, ser)
    func = _replace_loop(func, var, make)
    if allocs:
        root = func.body.block
        new_root = s_tir.SBlock(root.iter_vars, root.reads, root.writes, root.name_hint,
                                root.body, root.init, list(root.alloc_buffers) + copies,
                                root.match_buffers,
                                root.annotations)
        func = tvm_ffi.structural_map(
            func, (s_tir.SBlock, lambda b: new_root if b.same_as(root) else b), order="post")
    return _ssa(func)


def _used_buffers(stmt, candidates):
    """The buffers of ``candidates`` that ``stmt`` reads or writes."""
    hit = []

    def visit(w):
        for b in candidates:
            if w.same_as(b) and not any(h.same_as(b) for h in hit):
                hit.append(b)
        return w
    tvm_ffi.structural_map(stmt, (tvm.ir.Var, visit), order="post")
    return hit


def _find_block(sch, name):
    """The block named ``name`` or None (a lookup by name, not a scan of every block)."""
    try:
        return sch.get_sblock(name)
    except Exception:       # noqa: BLE001  (no such block)
        return None


def _vector_lanes(sch, loop, lanes):
    """Vectorize a static ``loop`` (its extent a multiple of ``lanes``), unrolling the
    vectors beyond one."""
    n = int(sch.get(loop).extent)
    if n > lanes and n % lanes == 0:
        u, v = sch.split(loop, [None, lanes])
        sch.unroll(u)
        sch.vectorize(v)
    elif n == lanes:
        sch.vectorize(loop)


def _init_outside(sch, block):
    """Hoist a reduction's init out of its reduce loops: a symbolic tail loop may run zero
    times, and an init inside it would then never run (the result read uninitialized)."""
    ivs = sch.get(block).iter_vars
    loops = sch.get_loops(block)
    n_red = sum(1 for iv in ivs if iv.iter_type != 0)
    if n_red and len(loops) >= n_red:
        sch.decompose_reduction(block, loops[len(loops) - n_red])


def _partial_loops(sch, block):
    """A partials block moved under a row loop: its static lane loop (the block's first
    spatial iterator after the rows) and its reduce loops, in order (unit loops dropped)."""
    ivs = sch.get(block).iter_vars
    loops = sch.get_loops(block)[1:]
    inner = loops[len(loops) - len(ivs):] if len(loops) >= len(ivs) else loops
    kinds = [iv.iter_type for iv in ivs]
    spatial = [l for l, k in zip(inner, kinds) if k == 0]
    reduce = [l for l, k in zip(inner, kinds) if k != 0]
    return spatial[-1], reduce


def row_parts(lanes):
    """Suffixes of the blocks of a row reduction (generic_rules._row_reduce), producers
    first (the result block itself, the last lane step, is the reduction's name)."""
    parts = ["_gp", "_gm", "_gx", "_gt", "_gf"]
    w = lanes // 2
    while w > 1:
        parts.append(f"_h{w}")
        w //= 2
    return parts


def _row_reduce_at(sch, prefix, row, lanes, place=True):
    """Schedule the blocks of ``generic_rules._row_reduce(prefix, ...)`` under the loop
    ``row`` (its result block, ``prefix``, already there): the lane loops of the partials,
    of the fold and of the lane tree vectorized (the A accumulators of ``_gp`` unrolled),
    the reduction inits hoisted out of the symbolic reduce loops, the guarded tail lanes
    unrolled.  ``place=False``: the caller has put the
    blocks under ``row`` already."""
    parts = row_parts(lanes)
    for sfx in reversed(parts) if place else ():
        sch.compute_at(sch.get_sblock(prefix + sfx), row, preserve_unit_loops=True)
    for sfx in ("_gp", "_gm"):
        b = sch.get_sblock(prefix + sfx)
        l_loop, rest = _partial_loops(sch, b)
        sch.reorder(*rest, l_loop)
        _vector_lanes(sch, l_loop, lanes)                   # (before decompose_reduction)
        sch.decompose_reduction(b, rest[0])
        init = _find_block(sch, prefix + sfx + "_init")
        if init is not None and sfx == "_gp":
            _vector_lanes(sch, sch.get_loops(init)[-1], lanes)
    gx = sch.get_sblock(prefix + "_gx")
    if any(iv.iter_type != 0 for iv in sch.get(gx).iter_vars):
        l_loop, _ = _partial_loops(sch, gx)
        _init_outside(sch, gx)
        sch.unroll(l_loop)
    else:
        sch.unroll(sch.get_loops(gx)[-1])
    for sfx in ["_gt"] + parts[4:]:
        sch.vectorize(sch.get_loops(sch.get_sblock(prefix + sfx))[-1])


def generic_reduce(func, ctx):
    """Schedule a reduction lowered by lowering/generic_rules.py."""
    return _reduce_parts(func, ctx, [(ctx.op, ctx.outputs[0])])


def generic_sibling(func, ctx):
    """Schedule a SiblingReduce lowered by generic_rules.lower_sibling_generic: each part as
    its own generic reduction (same loops, same order of the sums as its separate kernel),
    one after the other in the one kernel."""
    parts = [red for red, _, _ in ctx.op.parts]
    if len(parts) != len(ctx.outputs):
        raise GenericScheduleError("a SiblingReduce part without its output")
    return _reduce_parts(func, ctx, list(zip(parts, ctx.outputs)))


def _part_names(sch, name):
    red_name = name + "_red" if _find_block(sch, name + "_red") is not None else name
    return red_name, {name, red_name, name + "_gpart", name + "_gtail", red_name + "_rows"} | {
        red_name + sfx for sfx in row_parts(64)} | {red_name + "_rows" + sfx for sfx in row_parts(64)}


def _reduce_parts(func, ctx, parts):
    """Schedule the reductions ``parts`` ((op, result name) each, all of input 0 of the
    kernel's node) on one schedule; the loop rewrites that work on the PrimFunc (main +
    tail, run-time parallel guards) are applied at the end, part by part."""
    from .common import inline_views
    x = ctx.step.node.inputs[0]
    sch = s_tir.Schedule(func)
    names, keep = [], set()
    for op, name in parts:
        red_name, ks = _part_names(sch, name)
        names.append(red_name)
        keep |= ks
    inline_views(sch, keep)
    posts = []
    for (op, name), red_name in zip(parts, names):
        posts += _reduce_part(sch, func, ctx, op, name, red_name, x)
    f = sch.mod["main"]
    for post in posts:
        f = post(f)
    return f


def _reduce_part(sch, func, ctx, op, name, red_name, x):
    """Schedule one generic reduction; returns the PrimFunc rewrites still to apply."""
    from ..lowering.generic_rules import reduce_kind
    from ..lowering.rules.reduce import accumulator_dtype
    how = reduce_kind(op, x.type.ndim)
    red = sch.get_sblock(red_name)
    epi = sch.get_sblock(name) if red_name != name else None
    if how not in ("columns", "middle") and _find_block(sch, red_name + "_gp") is None and \
            _find_block(sch, name + "_gpart") is None and \
            _find_block(sch, red_name + "_rows_gp") is None:
        return []           # an empty reduced axis: the identity, written once
    acc = accumulator_dtype(op, x.type.dtype)
    lanes = ctx.lanes("uint8" if acc == "bool" else acc)
    n_kept = x.type.ndim - len(op.reduced_axes(x.type.ndim))
    if how == "full":       # rows of the first axis (parallel), then the rows in order
        rows_b = sch.get_sblock(red_name + "_rows")
        row = sch.get_loops(rows_b)[0]
        _row_reduce_at(sch, red_name + "_rows", row, lanes)
        _init_outside(sch, red)         # (no rows: the identity)
        rows_l = sch.get(row)
        shared = [sch.get(rows_b).writes[0].source]     # read after the loop
        total = rows_l.extent * _last_extent(func, x)
        return [lambda f: _parallel_if(f, rows_l.loop_var, total, shared=shared)]
    if how == "middle":     # [lead kept] x [reduced] x [trailing kept]
        axes = op.reduced_axes(x.type.ndim)
        n_lead = axes[0]
        loops = sch.get_loops(red)
        lead, trail, rd = loops[:n_lead], loops[n_lead:n_kept], loops[n_kept:]
        sch.reorder(*lead, *rd, *trail)
        b = sch.fuse(*lead) if len(lead) > 1 else lead[0]
        inner = sch.fuse(*trail) if len(trail) > 1 else trail[0]
        init = sch.decompose_reduction(red, rd[0])
        ivar = sch.get(inner).loop_var
        il = sch.get_loops(init)[1:]
        init_var = sch.get(sch.fuse(*il) if len(il) > 1 else il[0]).loop_var
        evar = None
        if epi is not None:
            el = sch.get_loops(epi)
            evar = sch.get(sch.fuse(*el) if len(el) > 1 else el[0]).loop_var
        rvar = sch.get(rd[0]).loop_var if len(rd) == 1 else None
        bl = sch.get(b)
        size = bl.extent * _last_extent(func, x)
        posts = []
        if rvar is not None:
            posts.append(lambda f: _ssa(_replace_loop(
                f, rvar, lambda s: rows_blocked(s, lanes, COLUMN_ROWS))))
        for v in (init_var, evar) if rvar is not None else (ivar, init_var, evar):
            if v is not None:
                posts.append(lambda f, v=v: _ssa(_replace_loop(
                    f, v, lambda s: main_and_tail(s, lanes, False))))
        posts.append(lambda f: _parallel_if(f, bl.loop_var, size, private=False))
        return posts
    if how == "columns":
        loops = sch.get_loops(red)
        kept, rd = loops[:n_kept], loops[n_kept:]
        sch.reorder(*rd, *kept)
        inner = sch.fuse(*kept) if len(kept) > 1 else kept[0]
        init = sch.decompose_reduction(red, rd[0])
        ivar = sch.get(inner).loop_var
        il = sch.get_loops(init)
        init_l = sch.fuse(*il) if len(il) > 1 else il[0]
        init_var = sch.get(init_l).loop_var
        evar = None
        if epi is not None:
            el = sch.get_loops(epi)
            evar = sch.get(sch.fuse(*el) if len(el) > 1 else el[0]).loop_var
        rvar = sch.get(rd[0]).loop_var if len(rd) == 1 else None
        posts = []
        if rvar is not None:        # the reduce loop over the rows, blocked (the kept loop in it)
            posts.append(lambda f: _ssa(_replace_loop(
                f, rvar, lambda s: rows_blocked(s, lanes, COLUMN_ROWS))))
        for v in (init_var, evar) if rvar is not None else (ivar, init_var, evar):
            if v is not None:
                posts.append(lambda f, v=v: _ssa(_replace_loop(
                    f, v, lambda s: main_and_tail(s, lanes, False))))
        return posts
    if how == "rows":
        rl = sch.get_loops(red)[:n_kept]
        row = sch.fuse(*rl) if len(rl) > 1 else rl[0]
        if epi is not None:
            sch.reverse_compute_at(epi, row, preserve_unit_loops=True)
        _row_reduce_at(sch, red_name, row, lanes)
        rows_l = sch.get(row)
        total = rows_l.extent * _last_extent(func, x)
        return [lambda f: _parallel_if(f, rows_l.loop_var, total)]
    gpart = sch.get_sblock(name + "_gpart")
    gtail = sch.get_sblock(name + "_gtail")
    # full1d: P chunks of whole vectors
    gl = sch.get_loops(gpart)                   # c, l, k
    sch.reorder(gl[0], gl[2], gl[1])
    _vector_lanes(sch, sch.get_loops(gpart)[-1], lanes)        # (before decompose_reduction)
    sch.decompose_reduction(gpart, sch.get_loops(gpart)[1])
    _init_outside(sch, gtail)
    init = _find_block(sch, name + "_gpart_init")
    if init is not None:
        _vector_lanes(sch, sch.get_loops(init)[-1], lanes)
    cvar = sch.get(sch.get_loops(gpart)[0]).loop_var
    from ..lowering.machine import CHUNK_MIN_ELEMENTS
    size = _last_extent(func, x)
    return [lambda f: _parallel_if(f, cvar, size, CHUNK_MIN_ELEMENTS, private=False)]


def _last_extent(func, x):
    """The reduced input's row length: the last dim of the first parameter buffer."""
    from tvm.tirx.buffer import is_buffer_var
    p = [q for q in func.params if is_buffer_var(q)][0]
    return p.shape[-1] if len(p.shape) else tirx.IntImm("int32", 1)


def generic_softmax(func, ctx):
    """(Log)Softmax rows lowered by generic_rules.py: every pass under one row loop
    (parallel when large), partial reductions vectorized by their static width, the
    row-long passes (exp, result) as vector main part + scalar tail."""
    from ..symbolic.ops.nnet import LogSoftmax
    name = ctx.outputs[0]
    log = isinstance(ctx.op, LogSoftmax)
    reds = [name + "_max", name + "_sum"]
    lanes = ctx.lanes(ctx.out_dtype)
    from .cpu_narrow import narrow, softmax_rows  # (w6: rows shorter than a vector)
    if narrow(_last_extent(func, None), lanes):
        parts = [reds[0]] + ([name + "_sum", name + "_lse"] if log else
                             [name + "_exp", name + "_sum", name + "_rcp"])
        return softmax_rows(func, ctx, parts, PARALLEL_MIN_ELEMENTS)
    sch = s_tir.Schedule(func)
    parts = [reds[0] + sfx for sfx in row_parts(lanes)] + [reds[0]]
    if not log:
        parts.append(name + "_exp")
    parts += [reds[1] + sfx for sfx in row_parts(lanes)]
    parts += [reds[1], name + ("_lse" if log else "_rcp")]
    from .common import parts_under_rows
    out, row = parts_under_rows(sch, name, parts)
    for r in reds:
        _row_reduce_at(sch, r, row, lanes, place=False)
    spatial_vars = [sch.get(sch.get_loops(out)[-1]).loop_var]
    if not log:
        spatial_vars.append(sch.get(sch.get_loops(sch.get_sblock(name + "_exp"))[-1]).loop_var)
    rl = sch.get(row)
    f = sch.mod["main"]
    if not log:
        f = _retarget_buffer(f, sch.get(sch.get_sblock(name + "_exp")).writes[0].source,
                             sch.get(out).writes[0].source)
    for v in spatial_vars:
        f = _replace_loop(f, v, lambda s: main_and_tail(s, lanes, False))
    size = rl.extent * _last_extent(func, None)
    return _parallel_if(f, rl.loop_var, size)


def _retarget_buffer(func, old, new):
    """Every access of the intermediate ``old`` made to ``new`` (same shape and dtype)
    instead, and ``old`` no longer allocated.  Softmax's exp row goes to the output row
    that the last pass then scales in place: a row buffer of symbolic length would be a
    workspace allocation per row inside the parallel loop (TVMBackendAllocWorkspace)."""
    func = tvm_ffi.structural_map(
        func, (tvm.ir.Var, lambda b: new if b.same_as(old) else b), order="post")
    root = func.body.block
    allocs = [b for b in root.alloc_buffers if not b.same_as(new)]
    new_root = s_tir.SBlock(root.iter_vars, root.reads, root.writes, root.name_hint,
                            root.body, root.init, allocs, root.match_buffers, root.annotations)
    return tvm_ffi.structural_map(
        func, (s_tir.SBlock, lambda b: new_root if b.same_as(root) else b), order="post")


def tile_columns(loop, lanes, A, parallel):
    """``for c in range(n): body`` (``body``: an init, then loops over the rows updating the
    accumulator of column ``c``) with the column loop moved innermost in tiles, so each
    accumulator stays in a register while the rows are walked:

        for co in range(n // (A*L)):                # parallel if ``parallel``
            body with every block under for u in unroll(A): for v in vectorized(L), c = co*A*L + u*L + v
        for cm in range(n % (A*L) // L): the same with one vector, c = n1 + cm*L + v
        for ct in range(n % L): body(n2 + ct)
    """
    c, n, body = loop.loop_var, loop.extent, loop.body
    dt = _dt(n)
    T, Lm = _imm(dt, lanes * A), _imm(dt, lanes)

    def tiled(stmt, base, width):
        if isinstance(stmt, tirx.SeqStmt):
            return tirx.SeqStmt([tiled(x, base, width) for x in stmt.seq])
        if isinstance(stmt, tirx.For):
            return tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind,
                            tiled(stmt.body, base, width))
        v = tirx.Var(c.name + "_v", dt)
        if width == 1:
            return tirx.For(v, _imm(dt, 0), Lm, tirx.ForKind.VECTORIZED, _subst(stmt, c, base + v))
        u = tirx.Var(c.name + "_u", dt)
        return tirx.For(u, _imm(dt, 0), _imm(dt, width), tirx.ForKind.UNROLLED, tirx.For(
            v, _imm(dt, 0), Lm, tirx.ForKind.VECTORIZED, _subst(stmt, c, base + u * Lm + v)))
    co, cm, ct = (tirx.Var(c.name + s, dt) for s in ("_o", "_m", "_t"))
    n1 = tirx.FloorDiv(n, T) * T
    n2 = n1 + tirx.FloorDiv(n - n1, Lm) * Lm
    kind = tirx.ForKind.PARALLEL if parallel else tirx.ForKind.SERIAL
    seg1 = tirx.For(co, _imm(dt, 0), tirx.FloorDiv(n, T), kind, tiled(body, co * T, A))
    seg2 = tirx.For(cm, _imm(dt, 0), tirx.FloorDiv(n - n1, Lm), tirx.ForKind.SERIAL,
                    tiled(body, n1 + cm * Lm, 1))
    seg3 = tirx.For(ct, _imm(dt, 0), n - n2, tirx.ForKind.SERIAL, _subst(body, c, n2 + ct))
    return tirx.SeqStmt([seg1, seg2, seg3])


def generic_argmax(func, ctx):
    """Argmax / Argmin lowered by generic_rules.lower_argmax_generic.

    Rows (and a vector, one row): every block of ``generic_rules._argmax_rows`` under one
    row loop (the per-lane block walk vectorized, the lane steps unrolled, the block scan
    vectorized, the rest's two row reductions by ``_row_reduce_at``; a part with nothing
    to do skipped at run time), rows in parallel when large.  Columns: ``tile_columns``
    (tiles of the kept axis in registers, walking the rows in order), tiles in parallel
    when large."""
    from ..lowering.generic_rules import argmax_kind
    from ..lowering.machine import ACCUMULATORS
    from ..lowering.rules.reduce import _value_dtype
    from .common import inline_views
    op, name = ctx.op, ctx.outputs[0]
    x = ctx.step.node.inputs[0]
    nd = x.type.ndim
    how = argmax_kind(op, nd)
    vdt = _value_dtype(x.type.dtype)
    lanes = ctx.lanes(vdt)
    sch = s_tir.Schedule(func)
    if how == "columns":
        inline_views(sch, {name, name + "_lanes"})
        lb = sch.get_sblock(name + "_lanes")
        n_kept = nd - len(op.reduced_axes(nd))
        loops = sch.get_loops(lb)
        kept, rd = loops[:n_kept], loops[n_kept:]
        c = sch.fuse(*kept) if len(kept) > 1 else kept[0]
        sch.decompose_reduction(lb, rd[0])
        cl = sch.get(c)
        el = sch.get_loops(sch.get_sblock(name))
        evar = sch.get(sch.fuse(*el) if len(el) > 1 else el[0]).loop_var
        f = sch.mod["main"]
        from tvm.tirx.buffer import is_buffer_var
        shp = [q for q in func.params if is_buffer_var(q)][0].shape
        size = shp[0]
        for d in shp[1:]:
            size = size * d

        def tiles(s):
            par = tile_columns(s, lanes, ACCUMULATORS, True)
            ser = tile_columns(s, lanes, ACCUMULATORS, False)
            return tirx.IfThenElse(tirx.GE(size, _imm(_dt(size), PARALLEL_MIN_ELEMENTS)), par, ser)
        f = _ssa(_replace_loop(f, cl.loop_var, tiles))
        return _ssa(_replace_loop(f, evar, lambda s: main_and_tail(s, ctx.lanes("int64"), False)))
    ilanes = ctx.lanes("int64" if _wide_index(func) or np.dtype(vdt).itemsize > 4 else "int32")
    fl = np.dtype(vdt).kind == "f"
    order = [name + "_lanes", name + "_rext"] + ([name + "_nmin"] if fl else []) + [
        name + "_tgt", name + "_mid", name + "_mred"]
    qv, qi = name + "_qv", name + "_qi"
    order += [qv + sfx for sfx in row_parts(lanes)] + [qv]
    order += [qi + sfx for sfx in row_parts(ilanes)] + [qi]
    rname = name + "_red"
    own = sch.get_sblock(name) if how == "rows" else sch.get_sblock(rname)
    if how == "rows":
        order.append(rname)
    inline_views(sch, set(order) | {name, rname})
    loops = sch.get_loops(own)
    row = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    for prt in reversed(order):
        sch.compute_at(sch.get_sblock(prt), row, preserve_unit_loops=True)
    # per lane, the blocks walked in order (a sequential reducer: never reordered)
    lb = sch.get_sblock(name + "_lanes")
    l_loop, rest = _partial_loops(sch, lb)
    sch.reorder(*rest, l_loop)
    sch.vectorize(l_loop)
    init = sch.decompose_reduction(lb, rest[0])
    sch.vectorize(sch.get_loops(init)[-1])
    # a row's few lane results: straight-line code
    for sfx in ["_rext"] + (["_nmin"] if fl else []) + ["_tgt", "_mred"]:
        b = sch.get_sblock(name + sfx)
        r = sch.get_loops(b)[-1]
        sch.decompose_reduction(b, r)
        sch.unroll(r)
    # the target block scanned lane-wise (vectors), its ARG_BLOCK vectors unrolled
    mb = sch.get_sblock(name + "_mid")
    ml = sch.get_loops(mb)
    sch.reorder(ml[-1], ml[-2])
    sch.vectorize(ml[-2])
    sch.decompose_reduction(mb, ml[-1])
    _row_reduce_at(sch, qv, row, lanes, place=False)
    _row_reduce_at(sch, qi, row, ilanes, place=False)
    rl = sch.get(row)
    f = sch.mod["main"]
    # a part with nothing to do is skipped: no blocks (a row shorter than W = ARG_BLOCK * L),
    # no rest (a row length multiple of W: the usual case, where its fold and lane trees
    # would cost a third of the row)
    m = _last_extent(func, x)
    W = _imm(_dt(m), lanes * _arg_block())
    f = _guard_blocks(f, rl.loop_var, order[:order.index(qv + row_parts(lanes)[0])],
                      tirx.GE(m, W))
    f = _guard_blocks(f, rl.loop_var, [b for b in order if b.startswith((qv, qi))],
                      tirx.NE(tirx.FloorMod(m, W), _imm(_dt(m), 0)))
    if how != "rows":
        return f
    return _parallel_if(f, rl.loop_var, rl.extent * m)


def _arg_block():
    """Vectors per block of the one-pass argmax (rules/reduce.py ``ARG_BLOCK``)."""
    from ..lowering.rules.reduce import ARG_BLOCK
    return ARG_BLOCK


def _block_names(stmt):
    names = []

    def visit(b):
        names.append(b.name_hint)
        return b
    tvm_ffi.structural_map(stmt, (s_tir.SBlock, visit), order="post")
    return names


def _guard_blocks(func, var, blocks, cond):
    """In the loop of ``var``, the statements computing the blocks named in ``blocks`` run
    only when ``cond`` holds."""
    want = set(blocks) | {b + "_init" for b in blocks} | {b + "_update" for b in blocks}

    def wrap(seq):
        out = []
        for st in seq:
            if set(_block_names(st)) & want:
                out.append(tirx.IfThenElse(cond, st, None))
            else:
                out.append(st)
        return out

    def make(loop):
        body = loop.body
        if isinstance(body, tirx.SeqStmt):
            body = tirx.SeqStmt(wrap(list(body.seq)))
        return tirx.For(loop.loop_var, loop.min, loop.extent, loop.kind, body, loop.thread_binding,
                        loop.annotations)
    return _replace_loop(func, var, make)


def _wide_index(func):
    from tvm.tirx.buffer import is_buffer_var
    p = [q for q in func.params if is_buffer_var(q)][0]
    return any(not isinstance(d, int) and str(d.ty) == "int64" for d in p.shape)


def schedule_generic(func, ctx):
    """The scheduled PrimFunc of a shape-generic kernel (element-aligned buffers)."""
    from ..symbolic.ops.nnet import Softmax
    from ..symbolic.ops.reduce import CAReduce
    from ..symbolic.ops.reduce_siblings import SiblingReduce
    if isinstance(ctx.op, SiblingReduce):
        return generic_sibling(func, ctx)
    from ..symbolic.ops.reduce import Argmax
    if isinstance(ctx.op, Argmax):
        return generic_argmax(func, ctx)
    if isinstance(ctx.op, CAReduce):
        return generic_reduce(func, ctx)
    if isinstance(ctx.op, Softmax):
        return generic_softmax(func, ctx)
    return generic_elementwise(func, ctx)
