"""CPU schedules for products (Dot, MatMul, TensorDot); registered before the elementwise rule.

A large float matrix-matrix product (lowered with a packed B, see
``lowering/rules/linalg.py``) gets a register tile whose size follows from the machine
(``lowering/machine.py``: vector registers, FMA latency x pipes): MR rows x NV vector
registers of C accumulate in registers over K (unrolled by ``K_UNROLL``) while A is read
in place, with column panels spread over the cores.  On AVX-512 that is 4 x 64 float32
(16 zmm accumulators + 4 B loads, A broadcast from memory), on AVX2 4 x 24 (12 ymm).
Other products keep a plain reduction: the output's last axis vectorized when the reduction can move outside
it, the outer axis parallel.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..lowering.machine import host
from ..symbolic.ops.linalg import Dot, FusedDot, MatMul, TensorDot
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

K_UNROLL = 4
MATVEC_ROWS = 4


def _tile_of(sch, cname):
    """(MR, nj) of a packed product's block (its ``mm_rows`` / ``mm_cols`` annotations)."""
    ann = sch.get(sch.get_sblock(cname)).annotations
    return int(ann["mm_rows"]), int(ann["mm_cols"])


def _schedule_packed(sch, names, cname, dtype, machine, rows_split=False, par=None, pack=True):
    """The register tile: MR rows x nj columns (NV vector registers) of C accumulate in
    registers over K (unrolled by ``K_UNROLL``), reading packed B panels and A in place;
    column panels (or batches, or (panel, row tile) pairs) spread over the cores when
    the product repays waking them (``parallel_pays``).

    Shape-generic products (``schedules/cpu_matmul_generic.py``) reuse this tile:
    ``rows_split`` (the block's rows already are [row tiles, MR]: a symbolic tile count is
    never split), ``par`` (parallel or not, decided by the caller: the flops may be
    symbolic), ``pack=False`` (the B panels are scheduled by an earlier call); K may be
    symbolic (not unrolled then)."""
    lanes = lanes_of(dtype, machine)
    mr, nj = _tile_of(sch, cname)
    c = sch.get_sblock(cname)
    if rows_split:
        *bl, i0, i1, j, k = sch.get_loops(c)     # batch loops, row tiles, MR rows, columns, reduction
    else:
        *bl, i, j, k = sch.get_loops(c)          # batch loops (MatMul), rows, columns, reduction
    K = sch.get(k).extent
    K = int(K) if isinstance(K, _tvm.tirx.IntImm) else None     # None: symbolic
    nbatch = int(np.prod([_extent(sch, l) for l in bl])) if bl else 1
    if par is None:
        flops = 2 * nbatch * _extent(sch, i) * _extent(sch, j) * K
        par = parallel_pays(machine, flops=flops)
    if not rows_split:
        i0, i1 = sch.split(i, [None, mr])
    j0, j1 = sch.split(j, [None, nj])
    ku = K_UNROLL if K is not None and K % K_UNROLL == 0 else 1
    k0, k1 = sch.split(k, [None, ku])
    sch.reorder(*bl, j0, i0, k0, k1, i1, j1)
    cw = sch.cache_write(c, 0, "local")
    sch.reverse_compute_at(cw, i0)
    jv, jl = sch.split(j1, [None, lanes])
    sch.vectorize(jl)
    sch.unroll(jv)
    sch.unroll(i1)
    sch.unroll(k1)
    sch.vectorize(sch.get_loops(cw)[-1])
    if par:
        # batches, else column panels, over the cores; with few panels, (panel, row tile) pairs
        if bl and nbatch >= 2:
            sch.parallel(sch.fuse(*bl) if len(bl) > 1 else bl[0])
        else:
            sch.parallel(j0 if _extent(sch, j0) >= 4 * machine.threads else sch.fuse(j0, i0))
    init = sch.decompose_reduction(c, k0)
    sch.vectorize(sch.get_loops(init)[-1])
    if "mm_pack_b" in names and pack:
        ls = sch.get_loops(sch.get_sblock("mm_pack_b"))
        sch.vectorize(ls[-1])
        if par:
            outer = ls[:-2]
            if len(outer) > 1:
                outer = [sch.fuse(*outer)]
            sch.parallel(outer[0] if _extent(sch, outer[0]) > 1 else ls[-2])
    crop = [n for n in names if n.endswith("_crop")]
    if crop:
        schedule_injective(sch, crop[0], np.dtype(dtype).itemsize)


def _schedule_plain(sch, name, dtype, vector_out):
    b = sch.get_sblock(name)
    blk = sch.get(b)
    loops = sch.get_loops(b)
    nsp = sum(1 for iv in blk.iter_vars if iv.iter_type == 0)
    sp, red = loops[:nsp], loops[nsp:]
    if not red:
        schedule_injective(sch, name, np.dtype(dtype).itemsize)
        return
    size = int(np.prod([_extent(sch, l) for l in sp])) if sp else 1
    lanes = lanes_of(dtype)
    if vector_out and sp and _extent(sch, sp[-1]) % lanes == 0 and _extent(sch, sp[-1]) >= lanes:
        last = sp[-1]
        sch.reorder(*sp[:-1], *red, last)
        lo, li = sch.split(last, [None, lanes])
        sch.vectorize(li)
        sp = sp[:-1] + [lo]
    if sp and parallel_pays(elements=size * int(np.prod([_extent(sch, l) for l in red]))) \
            and _extent(sch, sp[0]) > 1:
        sch.parallel(sp[0])
    sch.decompose_reduction(b, red[0])


def _matvec(sch, name, dtype):
    """out[i] = sum_k A[i, k] x[k] along contiguous k: rfactor the reduction by the vector
    width so the partial sums are one vector register per row, then add the lanes."""
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    lanes = lanes_of(dtype)
    k = loops[-1]
    K = _extent(sch, k)
    if K < 4 * lanes or K % lanes:
        return False
    ko, ki = sch.split(k, [None, lanes])
    names = [str(sch.get(l).loop_var.name) for l in list(loops[:-1]) + [ko, ki]]
    rf = sch.rfactor(ki, len(loops) - 1)   # rf buffer [i, lane]; loop handles change: find by name
    by_name = {str(sch.get(l).loop_var.name): l for l in sch.get_loops(rf)}
    *spatial, ko, ki = [by_name[n] for n in names]   # the row loop of matrix.vector (if any)
    rows = MATVEC_ROWS if spatial and _extent(sch, spatial[0]) % MATVEC_ROWS == 0 else 1
    if rows > 1:                      # a few rows per x load, one accumulator register each
        io, ii = sch.split(spatial[0], [None, rows])
        sch.reorder(io, ko, ii, ki)
        sch.unroll(ii)
        spatial = [io]
    else:
        sch.reorder(*spatial, ko, ki)
    sch.vectorize(ki)
    if spatial and parallel_pays(elements=_extent(sch, spatial[0]) * rows * K):
        sch.parallel(spatial[0])
    if rows > 1:
        # the partials in registers, and each row tile's lanes added right after it: a
        # separate pass of serial lane sums over a [rows, lanes] buffer made 1024^2 float32
        # take 67.7 us per core instead of 57.9 (numpy 55-63)
        cw = sch.cache_write(rf, 0, "local")
        sch.reverse_compute_at(cw, spatial[0])
        sch.vectorize(sch.get_loops(cw)[-1])
        sch.reverse_compute_at(b, spatial[0])
        for lp in sch.get_loops(b)[-2:]:
            sch.unroll(lp)          # straight-line lane sums: stores forwarded to loads
    sch.decompose_reduction(rf, ko)
    return True


def _is_tiled(sch, cname):
    """The product was lowered for the register tile (``lowering/rules/linalg.py``)."""
    return "mm_rows" in sch.get(sch.get_sblock(cname)).annotations


def _schedule_epilogue(sch, names, cname, epi, node, machine):
    """FusedDot: the product as a Dot's, then its epilogue.  An unpadded packed product's
    register tile is written by the epilogue itself (reverse_compute_inline into the
    tile's write-back): the product never reaches memory."""
    dtype = np.result_type(node.inputs[0].type.dtype, node.inputs[1].type.dtype).name  # the product's
    itemsize = np.dtype(node.outputs[0].type.dtype).itemsize
    if _is_tiled(sch, cname):
        _schedule_packed(sch, names, cname, dtype, machine)
        if cname != "mm_c":
            try:
                sch.reverse_compute_inline(sch.get_sblock(epi))
                return
            except Exception:       # noqa: BLE001  (then a separate pass, as below)
                pass
    else:
        _schedule_plain(sch, cname, dtype, True)
    schedule_injective(sch, epi, itemsize)


def _vecmat(sch, name, dtype, machine=None):
    """out[i] = sum_k x[k, i] v[k] (``dot(x.T, v)``, a gradient's vector.matrix): i is contiguous
    in x, so x is read row after row (a column strip would put every load 4 KiB apart for a
    1024-wide x: 2.3x numpy's time); a vector of out accumulates ``K_UNROLL`` rows of x in
    registers per pass, the columns split over the cores."""
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    if len(loops) != 2:
        return False
    i, k = loops
    lanes = lanes_of(dtype, machine)
    n, K = _extent(sch, i), _extent(sch, k)
    if K < 1 or n % lanes or len(sch.get_child_blocks(sch.get_sblock("root"))) != 1:
        return False            # an empty contraction (its zero fill is another block)
    threads = (machine or host()).threads
    par = parallel_pays(machine, elements=n * K) and n % (threads * lanes) == 0 and threads > 1
    parts = threads if par else 1
    ip, ii = sch.split(i, [parts, None])
    ic, il = sch.split(ii, [None, lanes])
    ku = next(u for u in (K_UNROLL, 2, 1) if K % u == 0)
    k0, k1 = sch.split(k, [None, ku])
    sch.reorder(ip, k0, ic, k1, il)
    sch.unroll(k1)
    sch.vectorize(il)
    if par:
        sch.parallel(ip)
    init = sch.decompose_reduction(b, k0)
    sch.vectorize(sch.get_loops(init)[-1])
    return True


def _transposed(v):
    """``v`` is a 2-d view with its axes swapped (``x.T``): the kernel reads ``x`` column-wise."""
    from ..symbolic.elemwise import DimShuffle
    return v.owner is not None and isinstance(v.owner.op, DimShuffle) and v.ndim == 2 \
        and tuple(v.owner.op.new_order) == (1, 0)


def matmul_rule(func, ctx):
    st = ctx.step
    if st is None or not isinstance(st.node.op, (Dot, MatMul, TensorDot, FusedDot)):
        return None
    node = st.node
    sch = s_tir.Schedule(func)
    names = [blk.name_hint for _, blk in _blocks(sch)]
    dtype = node.outputs[0].type.dtype
    reds = [blk.name_hint for _, blk in _blocks(sch) if not _is_spatial(blk)]
    if not reds:                    # an empty contraction (K = 0 handled by the reduction init)
        return None
    cname = reds[0]
    epi = ctx.outputs[0] if isinstance(node.op, FusedDot) else None
    inline_views(sch, {cname, epi} | {n for n in names if n.endswith("_b") or n.endswith("_crop")},
                 skip_prefix="mm_")
    if epi is not None:
        _schedule_epilogue(sch, names, cname, epi, node, ctx.machine)
    elif _is_tiled(sch, cname):
        _schedule_packed(sch, names, cname, dtype, ctx.machine)
    elif isinstance(node.op, Dot) and node.inputs[1].ndim == 1 and dtype in ("float32", "float64") \
            and (_vecmat(sch, cname, dtype, ctx.machine) if _transposed(node.inputs[0])
                 else _matvec(sch, cname, dtype)):
        pass
    else:
        # out[..., j] = sum_k A[..., k] B[k, j]: j is contiguous in B, so it vectorizes; with a
        # vector B (matrix.vector) the reduction runs along contiguous memory instead
        vector_out = not (isinstance(node.op, Dot) and node.inputs[1].ndim == 1)
        _schedule_plain(sch, cname, "int32" if dtype == "bool" else dtype, vector_out)
    return sch.mod["main"]

