"""CPU schedules for the products the register tile does not take: matrix.vector,
vector.matrix, small and batched products (``Dot``, ``MatMul``/``batched_dot``, a
non-tiled ``FusedDot``), float32 and float64, any layout.

The rule reads the product block's loads to find which axis is contiguous in memory:

* **row stream** (``dot(v, W)``, ``dot(x.T, v)``, ``dot(a, b)`` with few rows, batched
  products): the output's last axis ``j`` is contiguous in one operand, so rows of it are
  streamed and ``j`` is vectorized: each pass over ``k`` keeps ``c`` vectors of the
  output (times ``mr`` rows that share the streamed operand) in registers.  ``j`` is cut
  into a main part of whole chunks, a part of the remaining whole vectors and a tail of
  fewer than one vector (``loop_partition``): every width vectorizes (N % lanes != 0).
* **dot rows** (``dot(W, v)``, ``dot(a, b.T)``, batched matrix.vector): the reduction
  axis ``k`` is contiguous in both operands: the reduction is split by the vector width
  (``rfactor``) so each output keeps one vector register of partial sums (a pairwise-ish
  order, more accurate in float32 than a serial sum), ``MATVEC_ROWS`` rows share each
  load of the vector.

The matrix is read in place (never packed), the outer loop (batches, column chunks or
row tiles) runs on all cores when ``parallel_pays``.  Kernels with symbolic extents,
integer products and several contracted axes are left to ``cpu_matmul.py``.

Shape-generic kernels (symbolic extents, issue 13) get the same tiles by construction:
``dot(W, v)`` with symbolic rows and K runs ``MATVEC_ROWS``-row tiles whose guards are
dropped in the whole tiles (``_generic_rows``, ``_drop_guards``: only the guards of the
loop being split, so a symbolic K's last partial vector stays guarded), the partial sums
a fixed-size buffer per loop (registers; a symbolic size was a workspace per call), the
whole tiles parallel when rows x K repays it at run time.  ``rows_in_place`` schedules
the tail rows of a generic product (``lowering/generic_matmul.py``; all rows of a batch
of 1) as sweeps over B read in place.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..symbolic.ops.linalg import Dot, FusedDot, MatMul
from .common import (
    blocks as _blocks,
    extent as _extent,
    inline_views,
    is_spatial as _is_spatial,
    lanes_of,
    parallel_pays,
)
from .cpu import schedule_injective

s_tir = _tvm.s_tir
tirx = _tvm.tirx

K_UNROLL = 4        # rows of the streamed operand per step of the reduction loop
CHUNK = 4           # vectors of one output row accumulated per pass (row stream)
MAX_ACC = 16        # accumulators of a tile (32 spill on AVX-512, see lowering/machine.py)
MATVEC_ROWS = 4     # rows sharing each vector load (dot rows)


def _ext(sch, loop):
    """A loop's extent: an int, or None when it is symbolic (a shape-generic kernel)."""
    e = sch.get(loop).extent
    return int(e) if isinstance(e, tirx.IntImm) else None


# ------------------------------------------------------------------ which axis is contiguous
class _Access:
    """One operand read of the product block: its buffer and index expressions."""
    def __init__(self, region):
        self.buffer = region.source
        self.indices = [r.min for r in region.region]


def _loads(blk, out_buf):
    """The operand reads of ``blk`` (its read regions, the accumulator excluded)."""
    return [_Access(r) for r in blk.reads if not r.source.same_as(out_buf)
            and all(int(x.extent) == 1 for x in r.region if isinstance(x.extent, tirx.IntImm))]


def _uses(expr, var):
    """``var`` occurs in the index expression ``expr``."""
    if expr.same_as(var):
        return True
    for attr in ("a", "b", "value", "args"):
        sub = getattr(expr, attr, None)
        if sub is None:
            continue
        for e in (sub if isinstance(sub, (list, tuple)) or type(sub).__name__ == "Array" else [sub]):
            if isinstance(e, tirx.PrimExpr) and _uses(e, var):
                return True
    return False


def _contiguous_index(load):
    """The index expression of ``load``'s innermost axis longer than 1 (None: all are 1)."""
    for d in range(len(load.buffer.shape) - 1, -1, -1):
        n = load.buffer.shape[d]
        if not isinstance(n, tirx.IntImm) or int(n) > 1:     # symbolic: any size
            return load.indices[d]
    return None


def _pattern(sch, block):
    """"stream" (the output's last axis is the innermost axis of one operand, read as is),
    "dot" (the reduction axis is innermost in every operand) or None."""
    blk = sch.get(block)
    sp = [iv for iv in blk.iter_vars if iv.iter_type == 0]
    red = [iv for iv in blk.iter_vars if iv.iter_type != 0]
    if len(red) != 1 or not sp or not isinstance(blk.body, tirx.BufferStore):
        return None
    loads = _loads(blk, blk.body.buffer)
    if len(loads) != 2:
        return None
    j, k = sp[-1].var, red[0].var
    inner = [_contiguous_index(ld) for ld in loads]
    jn = sp[-1].dom.extent
    wide = not isinstance(jn, tirx.IntImm) or int(jn) > 1
    if wide and any(ix is not None and ix.same_as(j) for ix in inner):
        return "stream"
    if all(ix is not None and ix.same_as(k) for ix in inner):
        return "dot"
    return None


# ------------------------------------------------------------------ row stream
def _row_tile(vectors):
    """Rows of the register tile: rows x ``vectors`` accumulators <= MAX_ACC."""
    return max(1, min(8, MAX_ACC // max(1, vectors)))


def _block_under(sch, loop):
    """The product block under ``loop`` (loop_partition wraps each part in blocks)."""
    todo = list(sch.get_child_blocks(loop))
    while todo:
        bb = todo.pop(0)
        if not _is_spatial(sch.get(bb)):
            return bb
        todo.extend(sch.get_child_blocks(bb))
    raise ValueError("no reduction block in a partition")


def _rows(sch, block, n_inner, vectors, par, machine):
    """The rows of one column part of a product: loops [..., i, *inner, k] of ``block``,
    ``inner`` its ``n_inner`` column loops ([vectors, lanes] or [tail]).  ``mr`` rows x
    ``vectors`` registers accumulate over k (LLVM keeps them in registers: the kernel's
    buffers do not alias); the rows left over (M % mr) are a loop of their own."""
    i = sch.get_loops(block)[-(n_inner + 2)]
    M = _extent(sch, i)
    mr = min(_row_tile(vectors), M)
    main = M - M % mr
    if main and main < M:
        im, ir = sch.loop_partition(i, [main, None])
        subs = [(_block_under(sch, im), True), (_block_under(sch, ir), False)]
    else:
        subs = [(block, True)]
    for sb, split_rows in subs:
        loops = sch.get_loops(sb)
        i, inner, k = loops[-(n_inner + 2)], loops[-(n_inner + 1):-1], loops[-1]
        K = _extent(sch, k)
        ku = next(u for u in (K_UNROLL, 2, 1) if K % u == 0)
        k0, k1 = sch.split(k, [None, ku])
        if split_rows and mr > 1:
            io, ii = sch.split(i, [None, mr])
            sch.reorder(io, k0, k1, ii, *inner)
            if par and _extent(sch, io) >= 2 * machine.threads:
                sch.parallel(io)
                par = False
        else:
            ii = i
            sch.reorder(k0, k1, ii, *inner)
        for lp in (k1, ii, *inner[:-1]):
            if _extent(sch, lp) > 1:
                sch.unroll(lp)
        if _extent(sch, inner[-1]) > 1:
            sch.vectorize(inner[-1])
        init = sch.decompose_reduction(sb, k0)
        il = sch.get_loops(init)[-1]
        if _extent(sch, il) > 1:
            sch.vectorize(il)
    return par


def _row_stream(sch, name, dtype, machine):
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    blk = sch.get(b)
    nsp = sum(1 for iv in blk.iter_vars if iv.iter_type == 0)
    sp, (k,) = loops[:nsp], loops[nsp:]
    j = sp[-1]
    lanes = lanes_of(dtype, machine)
    N, K = _extent(sch, j), _ext(sch, k)        # K symbolic: a shape-generic vector.matrix
    # rows sharing the streamed operand: the axis before j when it indexes the other operand
    has_row = nsp >= 2 and _extent(sch, sp[-2]) > 1 and _row_axis(sch, b)
    outer = sp[:-2] if has_row else sp[:-1]
    nbatch = int(np.prod([_extent(sch, lp) for lp in outer])) if outer else 1
    work = nbatch * (_extent(sch, sp[-2]) if has_row else 1) * N * (K or 1 << 12)
    par = parallel_pays(machine, elements=work) and machine.threads > 1
    par_batch = par and nbatch >= 2 * machine.threads
    if par_batch:
        sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
    par = par and not par_batch
    if not has_row:
        _sweep(sch, b, N, K, lanes, par, machine)
        return True
    # columns outside rows: [chunks of c vectors | the rest whole vectors | the tail], each
    # part's rows in register tiles under it.  loop_partition's later parts do not start at
    # 0, which a split refuses: so the vector loop is partitioned after the lane split
    sch.reorder(j, sp[-2])
    nvec, tail = divmod(N, lanes)
    c = min(CHUNK, nvec)
    nch, rest = divmod(nvec, c) if c else (0, 0)
    jm, jt = (sch.loop_partition(j, [nvec * lanes, None]) if nvec and tail
              else ((j, None) if nvec else (None, j)))
    parts = []                  # (block, column loops under the rows, vectors per row)
    bt = _block_under(sch, jt) if jt is not None else None
    if jm is not None:
        jv, _jl = sch.split(jm, [nvec, lanes])
        jc, jr = (sch.loop_partition(jv, [nch * c, None]) if rest and nch
                  else ((jv, None) if nch else (None, jv)))
        bc = _block_under(sch, jc) if jc is not None else None
        br = _block_under(sch, jr) if jr is not None else None
        if bc is not None:
            sch.split(jc, [nch, c])
            parts.append((bc, 2, c))
        if br is not None:
            parts.append((br, 2, rest))
    if bt is not None:
        parts.append((bt, 1, 1))
    for pb, n_inner, vectors in parts:
        loops = sch.get_loops(pb)
        i, inner = loops[-2], loops[-(n_inner + 2):-2]
        sch.reorder(i, *inner)              # [.., i, *inner, k]
        par = _rows(sch, pb, n_inner, vectors, par, machine)
    return True


def _sweep(sch, b, N, K, lanes, par, machine, k_vars=None):
    """A vector.matrix product (loops [..., j, k]): the streamed matrix is read row after
    row (a column strip would put loads N elements apart: 4 KiB for 1024 float32 columns,
    one cache set, 2.1x numpy's time), ``K_UNROLL`` rows per sweep over the whole output
    row (in L1), the output's vectors split evenly over the cores (no predicate per
    vector).  The whole vectors left over (fewer than the cores) and the last N % lanes
    columns are loops of their own, their reduction split ``K_UNROLL`` ways (rfactor) so
    it is not one chain of dependent FMAs."""
    nvec, tail = divmod(N, lanes)
    parts = machine.threads if par and nvec >= 2 * machine.threads else 1
    q, rest = divmod(nvec, parts)
    # (8+ rows 4 KiB apart share one L1 set); a symbolic K is not split (no predicate)
    ku = next(u for u in (K_UNROLL, 2, 1) if K % u == 0) if K else 1
    if K is None and k_vars is not None:
        # symbolic K split by K_UNROLL all the same: the caller rewrites each k0 loop in
        # ``k_vars`` into K // ku unguarded steps plus the guarded last one (_unguarded_main)
        ku = K_UNROLL
    j = sch.get_loops(b)[-2]
    jm, jt = (sch.loop_partition(j, [nvec * lanes, None]) if nvec and tail
              else ((j, None) if nvec else (None, j)))
    bt = _block_under(sch, jt) if jt is not None else None
    if jm is not None:
        bm = _block_under(sch, jm)
        jv, _jl = sch.split(jm, [nvec, lanes])
        br = None
        if rest:
            jv, jr = sch.loop_partition(jv, [parts * q, None])
            bm, br = _block_under(sch, jv), _block_under(sch, jr)
        jp, jv = sch.split(jv, [parts, q])
        if ku > 1:
            k0, k1 = sch.split(sch.get_loops(bm)[-1], [None, ku])
            jl = sch.get_loops(bm)[-3]
            sch.reorder(jp, k0, jv, k1, jl)
            sch.unroll(k1)
            if K is None:
                k_vars.append(sch.get(k0).loop_var)
        else:
            k0 = sch.get_loops(bm)[-1]
            jl = sch.get_loops(bm)[-2]
            sch.reorder(jp, k0, jv, jl)
        sch.vectorize(jl)
        if parts > 1:
            sch.parallel(jp)
        init = sch.decompose_reduction(bm, k0)
        sch.vectorize(sch.get_loops(init)[-1])
        if br is not None:
            _rest_columns(sch, br, 2, K, ku, k_vars)
    if bt is not None:
        _rest_columns(sch, bt, 1, K, ku, k_vars)


def _rest_columns(sch, bt, n_inner, K, ku, k_vars=None):
    """Columns of a vector.matrix product left to one core (loops [..., *inner, k] of
    ``bt``: [vectors, lanes] or [tail elements]): ``ku`` partial rows of them in
    registers (rfactor), summed at the end."""
    loops = sch.get_loops(bt)
    inner, k = loops[-(n_inner + 1):-1], loops[-1]
    width = _extent(sch, inner[-1])
    if ku > 1 and K is not None and K >= 4 * ku:
        k0, k1 = sch.split(k, [None, ku])
        names = [str(sch.get(lp).loop_var.name) for lp in (*inner, k0, k1)]
        # rf buffer [..., part, j]: j stays contiguous (vector loads, not strided lanes);
        # local: the partial rows live in registers
        rf = sch.rfactor(k1, len(sch.get(bt).iter_vars) - 2)
        sch.set_scope(rf, 0, "local")
        by = {str(sch.get(lp).loop_var.name): lp for lp in sch.get_loops(rf)}
        *inner, k0, k1 = [by[n] for n in names]
        sch.reorder(k0, k1, *inner)
        sch.unroll(k1)
        for lp in inner[:-1]:
            sch.unroll(lp)
        if width > 1:
            sch.vectorize(inner[-1])
        init = sch.decompose_reduction(rf, k0)
        if width > 1:
            sch.vectorize(sch.get_loops(init)[-1])
        return
    if ku > 1:
        k0, k1 = sch.split(k, [None, ku])
        sch.reorder(k0, k1, *inner)
        sch.unroll(k1)
        if K is None:
            k_vars.append(sch.get(k0).loop_var)
    else:
        k0 = k
        sch.reorder(k0, *inner)
    if width > 1:
        sch.vectorize(inner[-1])
    init = sch.decompose_reduction(bt, k0)
    if width > 1:
        sch.vectorize(sch.get_loops(init)[-1])


def _row_axis(sch, b):
    """The product's second-to-last output axis indexes only the non-streamed operand (a
    row of A sharing the streamed rows of B)."""
    blk = sch.get(b)
    sp = [iv for iv in blk.iter_vars if iv.iter_type == 0]
    i, j = sp[-2].var, sp[-1].var
    for ld in _loads(blk, blk.body.buffer):
        if any(_uses(ix, j) for ix in ld.indices) and any(_uses(ix, i) for ix in ld.indices):
            return False
    return True


# ------------------------------------------------------------------ dot rows
def _dot_rows(sch, name, dtype, machine):
    """out[..., i] = sum_k A[..., i, k] x[..., k] along contiguous k: the reduction split by
    the vector width (rfactor: one vector register of partial sums per row, summed at the
    end: a pairwise-ish order, more accurate in float32 than a serial sum), ``MATVEC_ROWS``
    rows per tile sharing each load of x, their lanes summed right after the tile.  When
    K % lanes != 0 the last, partial vector of k is a loop of its own (loop_partition
    after the init is split off: a partitioned reduction would reset its sums)."""
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    lanes = lanes_of(dtype, machine)
    k = loops[-1]
    K = _ext(sch, k)                    # symbolic (a shape-generic kernel): any K
    if K is not None and K < 4 * lanes:
        return False
    outer = loops[:-1]
    unit = [lp for lp in outer if _ext(sch, lp) == 1]
    live = [lp for lp in outer if _ext(sch, lp) != 1]
    if not live:
        return False
    rows_loop = sch.fuse(*live) if len(live) > 1 else live[0]
    if unit:
        sch.reorder(*unit, rows_loop)
    R = _ext(sch, rows_loop)
    rows_extent = sch.get(rows_loop).extent
    nvec = K // lanes if K is not None else None
    k_extent = sch.get(k).extent
    ko, ki = sch.split(k, [None, lanes])
    lp_names = [str(sch.get(lp).loop_var.name) for lp in (rows_loop, ko, ki)]
    rf = sch.rfactor(ki, len(sch.get(b).iter_vars) - 1)     # rf buffer [..., lane]
    by_name = {str(sch.get(lp).loop_var.name): lp for lp in sch.get_loops(rf)}
    rows_loop, ko, ki = [by_name[n] for n in lp_names]
    rows = MATVEC_ROWS if R is not None and R % MATVEC_ROWS == 0 else 1
    # symbolic rows (a shape-generic kernel): row tiles too, the last partial tile guarded
    # (by construction: the full tiles drop their row guards, _generic_rows); one row per
    # pass would leave one chain of dependent FMAs per row (1.4x numpy's time at 1024^2)
    sym_rows = R is None
    if sym_rows:
        rows = MATVEC_ROWS
    if rows > 1:
        io, ii = sch.split(rows_loop, [None, rows])
        sch.reorder(io, ko, ii, ki)
    else:
        io, ii = rows_loop, None
        sch.reorder(io, ko, ki)
    if ii is not None:
        sch.unroll(ii)
    sch.vectorize(ki)
    if R is None:                       # rows known at run time: parallel decided then
        par_rows = False
    elif K is None:
        par_rows = machine.threads > 1
    else:
        par_rows = parallel_pays(machine, elements=R * K) and _extent(sch, io) >= machine.threads > 1
    if par_rows:
        sch.parallel(io)
    sch.set_scope(rf, 0, "local")       # the partials in registers (compacted to the tile)
    sch.reverse_compute_at(b, io)
    bl = sch.get_loops(b)
    below = bl[[i for i, lp in enumerate(bl) if sch.get(lp).same_as(sch.get(io))][0] + 1:]
    for lp in below:
        if (_ext(sch, lp) or 0) > 1:
            sch.unroll(lp)              # straight-line lane sums: stores forwarded to loads
    init = sch.decompose_reduction(rf, ko)
    sch.vectorize(sch.get_loops(init)[-1])
    upd = sch.get_sblock(sch.get(rf).name_hint)
    ko = sch.get_loops(upd)[-3 if rows > 1 else -2]
    kvar = None
    if K is not None and K % lanes:
        sch.loop_partition(ko, [nvec, None])
    elif K is None:
        # symbolic K: whole vectors by construction (no lane guard), the guarded last one
        kvar = sch.get(ko).loop_var
    if kvar is None and not sym_rows:
        return True
    ivar = sch.get(io).loop_var
    size = tirx.Cast("int64", rows_extent) * tirx.Cast("int64", k_extent)
    par = machine.threads > 1
    thr = machine.core.parallel_min_elements if machine.cpu else 0

    def rewrite(func):
        if kvar is not None:
            func = _unguarded_main(func, kvar, k_extent, lanes)
        if sym_rows:
            return _generic_rows(func, ivar, rows_extent, rows, size if par else None, thr)
        return func
    return rewrite


def _uses_var(expr, var):
    """``var`` occurs anywhere in ``expr``."""
    from .cpu_generic import tvm, tvm_ffi
    seen = []
    tvm_ffi.structural_map(expr, (tvm.ir.Var, lambda w: (seen.append(1) if w.same_as(var) else None) or w),
                           order="post")
    return bool(seen)


def _conjuncts(e):
    if isinstance(e, tirx.And):
        return _conjuncts(e.a) + _conjuncts(e.b)
    return [e]


def _drop_guards(stmt, var):
    """``stmt`` with every block predicate's conjuncts that mention ``var`` dropped (they
    hold by construction in a main loop); guards of other loops (a symbolic reduction's
    last vector, the rows' last tile) are kept."""
    from .cpu_generic import tvm_ffi

    def realize(r):
        keep = [c for c in _conjuncts(r.predicate) if not _uses_var(c, var)]
        pred = keep[0] if keep else True
        for c in keep[1:]:
            pred = tirx.And(pred, c)
        return s_tir.SBlockRealize(r.iter_values, pred, r.block)
    return tvm_ffi.structural_map(stmt, (s_tir.SBlockRealize, realize), order="post")


def _unguarded_main(func, kvar, K, lanes):
    """The loop of ``kvar`` (ceil(K / lanes) pieces of a symbolic extent K: vectors of a
    reduction or row tiles, each element guarded by ``< K``) as a loop over the K // lanes
    whole pieces without guards (they hold by construction) plus the guarded last one."""
    from .cpu_generic import _replace_loop, _ssa, _subst
    dt = str(kvar.ty) if hasattr(kvar, "ty") else "int32"
    L = tirx.IntImm(dt, lanes)
    nmain = tirx.FloorDiv(K, L)

    def make(loop):
        body = _drop_guards(loop.body, kvar)
        vm = tirx.Var(kvar.name + "_m", dt)
        main = tirx.For(vm, tirx.IntImm(dt, 0), nmain, loop.kind, _subst(body, kvar, vm))  # (parallel rows)
        vt = tirx.Var(kvar.name + "_t", dt)
        tail = tirx.For(vt, tirx.IntImm(dt, 0), loop.extent - nmain, tirx.ForKind.SERIAL,
                        _subst(loop.body, kvar, nmain + vt))
        return tirx.SeqStmt([main, tail])
    return _ssa(_replace_loop(func, kvar, make))


def _generic_rows(func, ivar, R, rows, size, threshold):
    """The loop of ``ivar`` (ceil(R / rows) row tiles of a symbolic row count R, each row
    guarded by ``< R``) as a loop over the R // rows whole tiles without row guards plus
    the guarded last tile.  ``size`` (an int64 expression, or None: serial): the whole
    tiles run in parallel when ``size >= threshold``, else serially.  Each of the three
    loops gets its own copy of the kernel's local buffers (a buffer shared by two loops
    is allocated above both: by all the threads of a parallel one)."""
    from .cpu_generic import _replace_loop, _ssa, _subst, tvm, tvm_ffi
    root = func.body.block
    allocs = [b for b in root.alloc_buffers if b.ty.storage_scope == "local"]
    new_allocs = []

    def copy_of(stmt, tag):
        """``stmt`` with its own copies of the local buffers; a [rows of R, lanes] one
        becomes [rows, lanes] indexed by ``row % rows`` (a fixed size: registers, where a
        symbolic size would be a workspace allocated per call and the partial sums would
        go through memory)."""
        if not allocs:
            return stmt
        pairs = []
        for b in allocs:
            t = b.ty
            compact = len(t.shape) == 2 and not isinstance(t.shape[0], tirx.IntImm)
            shape = (rows, t.shape[1]) if compact else t.shape
            c = tirx.decl_buffer(shape, t.dtype, b.name + tag, None, t.strides, t.elem_offset,
                                 t.storage_scope, t.data_alignment, t.offset_factor)
            pairs.append((b, c, compact))
        new_allocs.extend(c for _, c, _ in pairs)

        def find(buf):
            return next((p for p in pairs if buf.same_as(p[0])), None)

        def idx(p, indices):
            if not p[2]:
                return list(indices)
            return [tirx.FloorMod(indices[0], tirx.IntImm(str(indices[0].ty), rows))] + list(indices[1:])

        def store(st):
            p = find(st.buffer)
            return st if p is None else tirx.BufferStore(p[1], st.value, idx(p, st.indices))

        def load(e):
            p = find(e.source)
            return e if p is None else tirx.BufferLoad(p[1], idx(p, e.indices))

        def region(r):
            p = find(r.source)
            if p is None:
                return r
            rg = list(r.region)
            if p[2]:
                a = rg[0]
                if not (isinstance(a.extent, tirx.IntImm) and int(a.extent) == 1):
                    raise ValueError("a local buffer region of several rows")
                rg[0] = tvm.ir.Range.from_min_extent(
                    tirx.FloorMod(a.min, tirx.IntImm(str(a.min.ty), rows)), a.extent)
            return tirx.BufferRegion(p[1], rg)
        some = allocs[0]
        TL = type(tirx.BufferLoad(some, [0] * len(some.ty.shape)))
        TR = type(tirx.BufferRegion(some, [tvm.ir.Range.from_min_extent(0, 1)] * len(some.ty.shape)))
        return tvm_ffi.structural_map(stmt, [(tirx.BufferStore, store), (TL, load), (TR, region)],
                                      order="post")
    dt = str(ivar.ty) if hasattr(ivar, "ty") else "int32"
    nmain = tirx.FloorDiv(R, tirx.IntImm(dt, rows))

    def make(loop):
        body = _drop_guards(loop.body, ivar)
        vm = tirx.Var(ivar.name + "_m", dt)
        ser = tirx.For(vm, tirx.IntImm(dt, 0), nmain, tirx.ForKind.SERIAL, _subst(body, ivar, vm))
        if size is not None:
            par = tirx.For(vm, tirx.IntImm(dt, 0), nmain, tirx.ForKind.PARALLEL, _subst(body, ivar, vm))
            main = tirx.IfThenElse(tirx.GE(size, tirx.IntImm("int64", threshold)), copy_of(par, "_p"),
                                   copy_of(ser, "_s"))
        else:
            main = copy_of(ser, "_s")
        vt = tirx.Var(ivar.name + "_t", dt)
        tail = tirx.For(vt, tirx.IntImm(dt, 0), loop.extent - nmain, tirx.ForKind.SERIAL,
                        _subst(loop.body, ivar, nmain + vt))
        return tirx.SeqStmt([main, copy_of(tail, "_t")])
    func = _replace_loop(func, ivar, make)
    if new_allocs:
        root = func.body.block
        kept = [b for b in root.alloc_buffers if not any(b.same_as(a) for a in allocs)]
        new_root = s_tir.SBlock(root.iter_vars, root.reads, root.writes, root.name_hint, root.body,
                                root.init, kept + new_allocs, root.match_buffers, root.annotations)
        func = tvm_ffi.structural_map(
            func, (s_tir.SBlock, lambda b: new_root if b.same_as(root) else b), order="post")
    return _ssa(func)


# ------------------------------------------------------------------ rows reading B in place
def rows_in_place(sch, name, dtype, machine):
    """A product block [*rows, j, k] (any rows, symbolic or not; static columns j; B read
    in place, row-major) as ``_sweep``s: per row, B streamed row after row, ``K_UNROLL``
    rows of it per sweep over the output row (in L1); the columns as whole vectors plus
    the last N % lanes (every width vectorizes).  A column strip instead (registers over
    all of k) read 1x1024 . 1024x1024 at 2.2x numpy's time: rows 4 KiB apart share one L1
    set.  The tail rows of a shape-generic product (lowering/generic_matmul.py: a batch of
    1 is one row, for which packing B cost more than the whole product).

    Returns the rewrite that finishes a symbolic K (func -> func): each ``K_UNROLL`` split
    of it as K // K_UNROLL unguarded steps plus the guarded last one."""
    b = sch.get_sblock(name)
    *rows, j, k = sch.get_loops(b)
    lanes = lanes_of(dtype, machine)
    N = _extent(sch, j)
    K = _ext(sch, k)
    k_extent = sch.get(k).extent
    k_vars = []
    _sweep(sch, b, N, K, lanes, False, machine, k_vars)

    def finish(func):
        for v in k_vars:
            func = _unguarded_main(func, v, k_extent, K_UNROLL)
        return func
    return finish


# ------------------------------------------------------------------ symbolic columns
def _generic_sweep(sch, name, dtype, machine):
    """``dot(x.T, r)`` with symbolic columns (a shape-generic kernel): the rows of x swept
    one after another into the output row (in L1), the columns as a vectorized main loop
    over ``N // lanes`` vectors plus a scalar tail, built by construction
    (``cpu_generic.main_and_tail``: a split of a symbolic extent would guard every lane)."""
    from .cpu_generic import _replace_loop, _ssa, main_and_tail
    b = sch.get_sblock(name)
    j, k = sch.get_loops(b)
    k_extent = sch.get(k).extent
    # K_UNROLL rows of x per sweep (each output vector loaded and stored once per
    # K_UNROLL FMAs, K_UNROLL row streams in flight): k split with a guard that the
    # rewrite below drops from the K // K_UNROLL whole steps (_unguarded_main); the guard
    # does not depend on j, so the last step vectorizes too
    k0, k1 = sch.split(k, [None, K_UNROLL])
    sch.reorder(k0, j, k1)
    sch.unroll(k1)
    init = sch.decompose_reduction(b, k0)
    lanes = lanes_of(dtype, machine)
    jv_init = sch.get(sch.get_loops(init)[-1]).loop_var
    jv_upd = sch.get(sch.get_loops(b)[-2]).loop_var
    kvar = sch.get(k0).loop_var
    func = sch.mod["main"]
    for var in (jv_init, jv_upd):
        func = _replace_loop(func, var, lambda s: main_and_tail(s, lanes, False))
    return _unguarded_main(_ssa(func), kvar, k_extent, K_UNROLL)


# ------------------------------------------------------------------ the rule
def _static(func):
    for p in func.params:           # the parameters are the buffers (TVM 0.27)
        if hasattr(p, "shape") and not all(isinstance(d, tirx.IntImm) for d in p.shape):
            return False
    return True


def gemv_rule(func, ctx):
    st = ctx.step
    if _OFF or st is None or not isinstance(st.node.op, (Dot, MatMul, FusedDot)):
        return None
    node = st.node
    a, bb = node.inputs[:2]
    dtype = np.result_type(a.type.dtype, bb.type.dtype).name
    if dtype not in ("float32", "float64") or node.outputs[0].type.dtype == "bool":
        return None
    sch = s_tir.Schedule(func)
    reds = [blk.name_hint for _, blk in _blocks(sch) if not _is_spatial(blk)]
    if len(reds) != 1:
        return None
    cname = reds[0]
    if "mm_rows" in sch.get(sch.get_sblock(cname)).annotations:
        return None                         # the register tile (cpu_matmul.py)
    loops = sch.get_loops(sch.get_sblock(cname))
    if any(_ext(sch, lp) == 0 for lp in loops):
        return None                         # empty: nothing to stream
    epi = ctx.outputs[0] if isinstance(node.op, FusedDot) else None
    inline_views(sch, {cname, epi}, skip_prefix=None)
    left = [blk.name_hint for _, blk in _blocks(sch)]
    if set(left) - {cname, epi}:
        return None
    kind = _pattern(sch, sch.get_sblock(cname))
    if kind is not None and not _static(func):
        # shape-generic kernels (symbolic extents): matrix.vector with any rows and K;
        # vector.matrix with a symbolic contraction (the batch) and static columns, or
        # symbolic columns (by construction: _generic_sweep)
        sym = [_ext(sch, lp) is None for lp in loops]
        if kind == "stream" and (any(sym[:-2]) or len(loops) != 2):
            return None
        if kind == "stream" and sym[-2]:
            try:
                out = _generic_sweep(sch, cname, dtype, ctx.machine)
            except Exception:       # noqa: BLE001  (the general rule takes it)
                if _DEBUG:
                    raise
                return None
            if epi is not None:
                return None
            return out
    try:
        if kind == "stream":
            ok = _row_stream(sch, cname, dtype, ctx.machine)
        elif kind == "dot":
            ok = _dot_rows(sch, cname, dtype, ctx.machine)
        else:
            ok = False
    except Exception:       # noqa: BLE001  (a shape the primitives refuse: the general rule takes it)
        if _DEBUG:
            raise
        return None
    if not ok:
        return None
    if epi is not None:
        schedule_injective(sch, epi, np.dtype(node.outputs[0].type.dtype).itemsize)
    if callable(ok):                    # a by-construction rewrite of the scheduled function
        try:
            return ok(sch.mod["main"])
        except Exception:       # noqa: BLE001
            if _DEBUG:
                raise
            return None
    return sch.mod["main"]


_DEBUG = False      # raise a schedule primitive's error instead of declining (development)
_OFF = False        # decline every kernel (A/B timing against cpu_matmul.py's schedules)
