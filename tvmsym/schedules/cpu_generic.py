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
        raise GenericScheduleError("outputs in separate loop nests")
    loops = sch.get_loops(sch.get_sblock(outs[0]))
    if not loops:
        return sch.mod["main"]
    lanes = ctx.lanes(ctx.out_dtype)
    rows = len(loops) >= 2 and _broadcasts(func)
    if rows:
        outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
        inner = loops[-1]
    else:
        inner = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        outer = None
    f = sch.mod["main"]
    inner_l = sch.get(inner)
    ivar = inner_l.loop_var
    if outer is None:
        size = inner_l.extent
        par = main_and_tail(inner_l, lanes, True)
        ser = main_and_tail(inner_l, lanes, False)
        return _replace_loop(f, ivar, lambda s: _guarded(f, size, par, ser))
    outer_l = sch.get(outer)
    size = outer_l.extent * inner_l.extent
    from .cpu_narrow import narrow, rows_vectorized  # (w6: rows shorter than a vector)
    if narrow(inner_l.extent, lanes):
        return rows_vectorized(f, outer_l.loop_var, lanes, size, PARALLEL_MIN_ELEMENTS)

    def version(parallel):
        # each branch has its own loop variables (a variable is defined once per function)
        ov = tirx.Var(outer_l.loop_var.name, _dt(outer_l.extent))
        body = _subst(outer_l.body, outer_l.loop_var, ov)
        body = _replace_loop(body, ivar, lambda s: main_and_tail(s, lanes, False))
        kind = tirx.ForKind.PARALLEL if parallel else tirx.ForKind.SERIAL
        return tirx.For(ov, outer_l.min, outer_l.extent, kind, body)
    par, ser = version(True), version(False)
    ovar = outer_l.loop_var
    return _replace_loop(f, ovar, lambda s: _guarded(f, size, par, ser))


def _ssa(func):
    """Each variable defined once (a loop copied into both branches of a guard)."""
    return tirx.transform.ConvertSSA()(tvm.IRModule({"main": func}))["main"]


def _parallel_if(func, var, size, threshold=PARALLEL_MIN_ELEMENTS, private=True):
    """The loop of ``var`` run in parallel when ``size >= threshold`` (else serially).

    ``private``: the intermediate buffers are used only inside the loop (per row); the
    serial copy then gets its own, as a buffer used in both branches would be allocated
    above them, i.e. shared by the parallel loop's threads (a race).  Not private (1-d
    chunks: each iteration writes its own slice, read after the loop): kept shared."""
    root = func.body.block
    allocs = list(root.alloc_buffers) if private else []
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
                                root.body, root.init, allocs + copies, root.match_buffers,
                                root.annotations)
        func = tvm_ffi.structural_map(
            func, (s_tir.SBlock, lambda b: new_root if b.same_as(root) else b), order="post")
    return _ssa(func)


def _find_block(sch, name):
    for b, blk in _blocks(sch):
        if blk.name_hint == name:
            return b
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
    from ..lowering.generic_rules import reduce_kind
    from ..lowering.rules.reduce import accumulator_dtype
    from .common import inline_views
    op = ctx.op
    name = ctx.outputs[0]
    x = ctx.step.node.inputs[0]
    how = reduce_kind(op, x.type.ndim)
    sch = s_tir.Schedule(func)
    red_name = name + "_red" if _find_block(sch, name + "_red") is not None else name
    names = {name, red_name, name + "_gpart", name + "_gtail"} | {
        red_name + sfx for sfx in row_parts(64)}
    inline_views(sch, names)
    red = sch.get_sblock(red_name)
    epi = sch.get_sblock(name) if red_name != name else None
    if how != "columns" and _find_block(sch, red_name + "_gp") is None and _find_block(
            sch, name + "_gpart") is None:
        return sch.mod["main"]      # an empty reduced axis: the identity, written once
    acc = accumulator_dtype(op, x.type.dtype)
    lanes = ctx.lanes("uint8" if acc == "bool" else acc)
    n_kept = x.type.ndim - len(op.reduced_axes(x.type.ndim))
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
        f = sch.mod["main"]
        if rvar is not None:        # the reduce loop over the rows, blocked (the kept loop in it)
            f = _ssa(_replace_loop(f, rvar, lambda s: rows_blocked(s, lanes, COLUMN_ROWS)))
        for v in (init_var, evar) if rvar is not None else (ivar, init_var, evar):
            if v is not None:
                f = _ssa(_replace_loop(f, v, lambda s: main_and_tail(s, lanes, False)))
        return f
    if how == "rows":
        rl = sch.get_loops(red)[:n_kept]
        row = sch.fuse(*rl) if len(rl) > 1 else rl[0]
        if epi is not None:
            sch.reverse_compute_at(epi, row, preserve_unit_loops=True)
        _row_reduce_at(sch, red_name, row, lanes)
        rows_l = sch.get(row)
        f = sch.mod["main"]
        total = rows_l.extent * _last_extent(func, x)
        return _parallel_if(f, rows_l.loop_var, total)
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
    f = sch.mod["main"]
    from ..lowering.machine import CHUNK_MIN_ELEMENTS
    return _parallel_if(f, cvar, _last_extent(func, x), CHUNK_MIN_ELEMENTS, private=False)


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
    from .common import inline_views
    inline_views(sch, set(parts) | {name})
    out = sch.get_sblock(name)
    loops = sch.get_loops(out)
    rows = loops[:-1]
    row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
    for p in reversed(parts):
        sch.compute_at(sch.get_sblock(p), row, preserve_unit_loops=True)
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


def schedule_generic(func, ctx):
    """The scheduled PrimFunc of a shape-generic kernel (element-aligned buffers)."""
    from ..symbolic.ops.nnet import Softmax
    from ..symbolic.ops.reduce import CAReduce
    if isinstance(ctx.op, CAReduce):
        return generic_reduce(func, ctx)
    if isinstance(ctx.op, Softmax):
        return generic_softmax(func, ctx)
    return generic_elementwise(func, ctx)
