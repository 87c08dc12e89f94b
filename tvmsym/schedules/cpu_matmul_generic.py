"""CPU schedule of shape-generic matrix products (lowering/generic_matmul.py).

The product comes lowered as whole row tiles ``[T, MR, Np]`` (``T = M // MR`` symbolic)
plus a tail ``[M % MR, 1, Np]``; each part gets the SAME register tile as a specialized
product (``cpu_matmul._schedule_packed`` with its rows already split), a FusedDot's
epilogue is inlined into the tile's write-back as there, and the two parts' outputs are
then merged into the one ``[M, N]`` output buffer (``merge_rows``: row ``t * MR + r`` of
the main part, ``T * MR + r`` of the tail), so no copy pass is added.  A tail lowered
to read B in place (``INPLACE``, a row-major B that would be packed) is scheduled as
sweeps (``cpu_gemv.rows_in_place``) and the packing of B is guarded by ``M >= MR``
(``_guard_pack``): a product of fewer rows than a tile never packs.

Whether the cores share the product depends on its flops, known only at run time: both a
parallel and a serial version are scheduled, under ``if 2*M*N*K >= PARALLEL_MIN_FLOPS``.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..lowering.generic_matmul import INPLACE, MAIN, TAIL
from ..lowering.machine import PARALLEL_MIN_FLOPS
from .common import blocks as _blocks, inline_views, lanes_of
from .cpu_gemv import rows_in_place
from .cpu_matmul import _schedule_packed

s_tir = _tvm.s_tir
tirx = _tvm.tirx
tvm_ffi = _tvm.tvm_ffi
tvm = _tvm.tvm


def _ssa(func):
    return tirx.transform.ConvertSSA()(tvm.IRModule({"main": func}))["main"]


def _parts(names, base):
    """[(tile block, epilogue block or None, rows of a tile)] of the main part and the tail."""
    out = []
    for suffix in (MAIN, TAIL):
        tile = base + suffix + "_c" if base + suffix + "_c" in names else base + suffix
        if tile not in names:
            continue
        out.append((tile, base + suffix if tile != base + suffix else None))
    return out


def _schedule_epilogue_block(sch, epi, lanes, par):
    """A padded product's epilogue (or crop) block [tiles, rows, N]: rows x N fused and
    vectorized (static), the tiles in parallel when ``par``."""
    from .cpu_generic import main_and_tail
    b = sch.get_sblock(epi)
    t, r, j = sch.get_loops(b)
    f = sch.fuse(r, j)
    n = int(sch.get(f).extent)
    if n % lanes == 0 and n >= lanes:
        _, v = sch.split(f, [None, lanes])
        sch.vectorize(v)
        split_later = None
    else:
        split_later = sch.get(f).loop_var
    if par:
        sch.parallel(t)
    return split_later, main_and_tail


def _schedule_once(func, ctx, base, dtype, par, pack_guard=None):
    sch = s_tir.Schedule(func)
    names = [blk.name_hint for _, blk in _blocks(sch)]
    parts = _parts(names, base)
    keep = {n for p in parts for n in p if n}
    inline_views(sch, keep, skip_prefix="mm_")
    lanes = lanes_of(dtype, ctx.machine)
    later = []
    finish = []
    for k, (tile, epi) in enumerate(parts):
        if INPLACE in sch.get(sch.get_sblock(tile)).annotations:
            finish.append(rows_in_place(sch, tile, dtype, ctx.machine))     # the tail rows, B in place
        else:
            _schedule_packed(sch, names, tile, dtype, ctx.machine, rows_split=True, par=par, pack=k == 0)
        if epi is None:
            continue
        try:
            sch.reverse_compute_inline(sch.get_sblock(epi))      # into the tile's write-back
            continue
        except Exception:       # noqa: BLE001  (a padded product: a pass of its own)
            pass
        v, mt = _schedule_epilogue_block(sch, epi, lanes_of(ctx.out_dtype, ctx.machine), par)
        if v is not None:
            later.append((v, mt))
    f = sch.mod["main"]
    for fin in finish:
        f = fin(f)
    if pack_guard is not None and "mm_pack_b" in names:
        f = _guard_pack(f, pack_guard)
    for v, mt in later:         # a static row x N not a multiple of the lanes: main + tail
        f = tvm_ffi.structural_map(
            f, (tirx.For, lambda s, v=v, mt=mt: mt(s, lanes, False) if s.loop_var.same_as(v) else s),
            order="post")
    return f


def _guard_pack(func, cond):
    """``func`` with the loop nest that packs B run only ``if cond`` (whole row tiles
    exist: the tail rows read B in place)."""
    root = func.body.block
    body = root.body
    stmts = list(body.seq) if isinstance(body, tirx.SeqStmt) else [body]

    def packs(st):
        found = []
        tvm_ffi.structural_map(st, (s_tir.SBlock, lambda b: (found.append(1) if b.name_hint == "mm_pack_b"
                                                             else None) or b), order="post")
        return bool(found)
    new = [tirx.IfThenElse(cond, st, None) if packs(st) else st for st in stmts]
    if len(new) == 1 and new[0].same_as(stmts[0]):
        return func
    nb = tirx.SeqStmt(new) if len(new) > 1 else new[0]
    new_root = s_tir.SBlock(root.iter_vars, root.reads, root.writes, root.name_hint, nb, root.init,
                            root.alloc_buffers, root.match_buffers, root.annotations)
    return tvm_ffi.structural_map(func, (s_tir.SBlock, lambda b: new_root if b.same_as(root) else b),
                                  order="post")


def _combine(fp, fs, cond):
    """One function: ``fp``'s body if ``cond`` else ``fs``'s (same parameters)."""
    rp, rs = fp.body.block, fs.body.block
    allocs = list(rp.alloc_buffers)
    allocs += [b for b in rs.alloc_buffers if not any(b.same_as(c) for c in allocs)]
    body = tirx.IfThenElse(cond, rp.body, rs.body)
    root = s_tir.SBlock(rp.iter_vars, rp.reads, rp.writes, rp.name_hint, body, rp.init, allocs,
                        rp.match_buffers, rp.annotations)
    f = tvm_ffi.structural_map(fp, (s_tir.SBlock, lambda b: root if b.same_as(rp) else b), order="post")
    return _ssa(f)


def merge_rows(func, main, tail, out_shape, mr, align):
    """``func`` with its outputs ``main`` [T, MR, N] and ``tail`` [R, 1, N] (buffer vars;
    either may be None when statically empty) replaced by one output [M, N]: main[t, r, j]
    is row ``t*MR + r``, tail[r, 0, j] row ``(M // MR) * MR + r``."""
    M, N = out_shape
    t0 = (main if main is not None else tail).ty
    out = tirx.decl_buffer((M, N), t0.dtype, "out", None, None, None, t0.storage_scope, align,
                           t0.offset_factor)
    T = tirx.floordiv(M, mr) if not isinstance(M, int) else M // mr

    def rows(buf, idx):
        if main is not None and buf.same_as(main):
            return idx[0] * mr + idx[1]
        return T * mr + idx[0]

    def is_part(buf):
        return any(p is not None and buf.same_as(p) for p in (main, tail))

    def store(s):
        if not is_part(s.buffer):
            return s
        return tirx.BufferStore(out, s.value, [rows(s.buffer, s.indices), s.indices[2]])

    def load(e):
        if not is_part(e.source):
            return e
        return tirx.BufferLoad(out, [rows(e.source, e.indices), e.indices[2]])

    def region(r):
        if not is_part(r.source):
            return r
        a, b, c = r.region
        if main is not None and r.source.same_as(main):
            if isinstance(a.extent, tirx.IntImm) and int(a.extent) == 1:
                rr = tvm.ir.Range.from_min_extent(a.min * mr + b.min, b.extent)
            else:
                rr = tvm.ir.Range.from_min_extent(a.min * mr, a.extent * mr)
        else:
            rr = tvm.ir.Range.from_min_extent(T * mr + a.min, a.extent)
        return tirx.BufferRegion(out, [rr, c])
    some = main if main is not None else tail
    TL = type(tirx.BufferLoad(some, [0, 0, 0]))
    TR = type(tirx.BufferRegion(some, [tvm.ir.Range.from_min_extent(0, 1)] * 3))
    body = tvm_ffi.structural_map(func.body, [(tirx.BufferStore, store), (TL, load), (TR, region)],
                                  order="post")
    params = [p for p in func.params if not is_part(p)] + [out]
    return tirx.PrimFunc(params, body, func.ret_type, func.attrs)


def schedule_product_generic(func, ctx, base, out_shape, align):
    """The scheduled, merged PrimFunc of a generic product lowered by generic_matmul.py."""
    node = ctx.step.node
    a, b = node.inputs[:2]
    dtype = np.result_type(a.type.dtype, b.type.dtype).name
    sch = s_tir.Schedule(func)
    names = [blk.name_hint for _, blk in _blocks(sch)]
    parts = _parts(names, base)
    mr = ctx.machine.matmul_tile(dtype, int(out_shape[1]))[0]     # as lowered (generic_matmul.py)
    M, N = out_shape
    # the tail rows read B in place: no packing unless a whole row tile exists
    tail_direct = any(INPLACE in sch.get(sch.get_sblock(t)).annotations for t, _ in parts)
    guard = None
    if tail_direct and not isinstance(M, int):
        guard = tirx.GE(M, tirx.IntImm(str(M.ty) if hasattr(M, "ty") else "int32", mr))
    fp = _schedule_once(func, ctx, base, dtype, True, guard)
    fs = _schedule_once(func, ctx, base, dtype, False, guard)
    K = ctx.shapes[0][1]
    flops = tirx.Cast("int64", M) * tirx.IntImm("int64", 2 * int(N)) * tirx.Cast("int64", K) \
        if not all(isinstance(d, int) for d in (M, K)) else 2 * int(M) * int(N) * int(K)
    if isinstance(flops, int):
        f = fp if flops >= PARALLEL_MIN_FLOPS else fs
    else:
        f = _combine(fp, fs, tirx.GE(flops, tirx.IntImm("int64", PARALLEL_MIN_FLOPS)))
    from tvm.tirx.buffer import is_buffer_var
    outs = dict(zip([t for t, _ in parts], [p for p in f.params if is_buffer_var(p)][-len(parts):]))
    main = next((outs[t] for t in outs if MAIN in t), None)
    tail = next((outs[t] for t in outs if TAIL in t), None)
    return merge_rows(f, main, tail, out_shape, mr, align)
