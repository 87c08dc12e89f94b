"""CPU schedules of the convolutions (``lowering/rules/conv.py``), registered before the
elementwise rule.

``cv_c_<MR>x<NR>`` (forward, input gradient): per batch element (in parallel over the
cores), that element's im2col columns are computed into cache, then every register tile
of MR rows x NR columns (NR = one or two vectors at the host's width: 8 vector
accumulators) accumulates over the whole reduction and is written once.
``cv_r_<MR>x<NR>`` (filter gradient): column panels of NR filter taps in parallel; inside,
the reduction over the batch is the outer loop: one element's packed columns of the panel
are computed, then each row tile of the panel accumulates that element's positions (the
tile lives in L1 across the batch; LLVM keeps it in registers across the inner loop).
Small or grouped convolutions are a plain reduction (last axis vectorized, outer parallel).
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..lowering.machine import PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_FLOPS
from ..symbolic.ops.conv import BaseConv
from .cpu import _blocks, _is_spatial, schedule_injective
from .cpu_matmul import _schedule_plain

s_tir = _tvm.s_tir
K_UNROLL = 4
#: what a symbolic extent (a shape-generic kernel's batch) counts as in the decisions by
#: size below: large (the parallel-or-serial choice is made at run time instead)
SYMBOLIC = 1 << 30


def _ext(sch, loop):
    e = sch.get(loop).extent
    return int(e) if isinstance(e, _tvm.tirx.IntImm) else SYMBOLIC


def _pays(ctx, flops=0, elements=0):
    """Whether waking the thread pool repays itself for a kernel of ``flops`` / ``elements``
    (the machine's ``parallel_pays`` where it has one; below the thresholds one core runs
    the kernel: LeNet's batch-1 convolutions are 0.6-3 MFLOP)."""
    m = ctx.machine
    if hasattr(m, "parallel_pays"):
        return m.parallel_pays(elements=elements, flops=flops)
    return m.threads >= 2 and (flops >= PARALLEL_MIN_FLOPS or elements >= PARALLEL_MIN_ELEMENTS)


def _flops(sch, block):
    f = 2
    for lp in sch.get_loops(block):
        f *= _ext(sch, lp)
    return f


def _tile(name):
    mr, nr = name.rsplit("_", 1)[1].split("x")
    return int(mr), int(nr)


def _batched(sch, cname, crop, ctx, raw=(), mode=None):
    """``raw``: FusedConv's kept correlation blocks (``<name>_raw``: plain copies of the
    product's elements), placed in the batch loop next to the result.  ``mode``: None (the
    sizes decide), or a shape-generic kernel's forced form (cpu_conv_generic.py): "batch"
    (the images in parallel), "rows" (one image: its row tiles in parallel), False (serial)."""
    MR, NR = _tile(cname)
    c = sch.get_sblock(cname)
    par = _pays(ctx, flops=_flops(sch, c)) if mode is None else bool(mode)
    cb = sch.get_sblock(crop)
    col2im = crop.endswith("_col2im_crop")
    pooled = getattr(ctx.op, "pool_ws", None) is not None
    gather = (col2im or pooled) and _ext(sch, sch.get_loops(c)[0]) >= 2
    if gather:
        # the col2im of the input gradient reads many rows of the element's product, a
        # pooled epilogue 2 * ph + a: reverse_compute_at cannot invert those reads, so the
        # product is computed inside the result's batch loop instead (it stays in cache);
        # the col2im's sum over the taps is vectorized along the last axis
        for r in raw:   # the kept correlation: its batch loop merged into the result's (compute_at
            # wants every reader of the product under the loop)
            sch.merge(sch.get_loops(cb)[0], sch.get_loops(sch.get_sblock(r))[0])
        outer = sch.get_loops(cb)
        sch.compute_at(c, outer[0])
        if col2im:
            sch.vectorize(outer[-1])
        else:
            _vectorize_epilogue(sch, sch.get_loops(cb), ctx)
        n = outer[0]
        i, j, k = sch.get_loops(c)[1:]
    else:
        n, i, j, k = sch.get_loops(c)
    io, ii = sch.split(i, [None, MR])
    jo, ji = sch.split(j, [None, NR])
    K = _ext(sch, k)
    k0, k1 = sch.split(k, [None, K_UNROLL if K % K_UNROLL == 0 else 1])
    sch.reorder(*([] if gather else [n]), io, jo, k0, k1, ii, ji)
    cw = sch.cache_write(c, 0, "local")
    sch.reverse_compute_at(cw, jo)
    sch.vectorize(ji)
    sch.unroll(ii)
    sch.unroll(k1)
    sch.vectorize(sch.get_loops(cw)[-1])
    col = sch.get_sblock("cv_col")
    sch.compute_at(col, n)
    cl = sch.get_loops(col)
    if _ext(sch, cl[-1]) > 1:
        sch.vectorize(cl[-1])
    if any(blk.name_hint == "cv_pad" for _, blk in _blocks(sch)):
        sch.compute_at(sch.get_sblock("cv_pad"), n)
    if not par:
        pass
    elif mode == "batch" or (mode is None and _ext(sch, n) >= 2):
        sch.parallel(n)
    elif _ext(sch, io) >= 2:
        sch.parallel(io)
    else:
        sch.parallel(jo)
    init = sch.decompose_reduction(c, k0)
    sch.vectorize(sch.get_loops(init)[-1])
    pa = sch.get_loops(sch.get_sblock("cv_pack_a"))
    sch.unroll(pa[-1])
    for r in raw:       # identity reads of the element's product: always invertible
        if not gather:
            sch.reverse_compute_at(sch.get_sblock(r), n)
        rl = sch.get_loops(sch.get_sblock(r))
        if _ext(sch, rl[-1]) > 1:
            sch.vectorize(rl[-1])
    if gather:
        return True
    if _ext(sch, n) >= 2 or not par:
        # the element's result (crop, pooling, epilogue) while its product is in cache; a
        # pooled read (2 * ph * OW + 2 * pw) is not invertible for TVM: then a separate pass
        try:
            sch.reverse_compute_at(sch.get_sblock(crop), n)
            return True
        except Exception:       # noqa: BLE001
            return False
    return False


def _vectorize_epilogue(sch, loops, ctx):
    """The pooled epilogue's rows as vectors (its activation then runs on vectors: libmvec's
    tanh, not a scalar call per element): the last axis, with the one before it when a
    row is shorter than a vector (LeNet conv2: 4 pooled columns, 4 x 4 per channel)."""
    lanes = max(1, _tvm.vector_bytes() // 4)
    inner = loops[2:]          # (batch, channel,) then the pooled positions
    if not inner:
        return
    last = inner[-1]
    if _ext(sch, last) < lanes and len(inner) >= 2 and _ext(sch, inner[-2]) * _ext(sch, last) <= 4 * lanes:
        last = sch.fuse(inner[-2], last)
    if _ext(sch, last) >= 2:
        sch.vectorize(last)


def _reduced(sch, cname, ctx, mode=None):
    MR, NR = _tile(cname)
    c = sch.get_sblock(cname)
    par = _pays(ctx, flops=_flops(sch, c)) if mode is None else bool(mode)
    i, j, rn, rp = sch.get_loops(c)
    io, ii = sch.split(i, [None, MR])
    jo, ji = sch.split(j, [None, NR])
    if _ext(sch, jo) >= 2:
        sch.reorder(jo, rn, io, rp, ii, ji)
        if par:
            sch.parallel(jo)
    else:
        sch.reorder(io, jo, rn, rp, ii, ji)
        if par:
            sch.parallel(io)
    sch.vectorize(ji)
    sch.unroll(ii)
    pb = sch.get_sblock("cv_pack_b")
    sch.compute_at(pb, rn)
    loops = sch.get_loops(pb)
    inner = loops[-(len(sch.get(pb).iter_vars) - 2):]      # positions..., ji
    sch.reorder(inner[-1], *inner[:-1])                    # one tap (ji) per pass over the positions
    init = sch.decompose_reduction(c, rn)
    sch.vectorize(sch.get_loops(init)[-1])


def _schedule_crop(sch, crop, itemsize, ctx, mode=None):
    loops = sch.get_loops(sch.get_sblock(crop))
    symbolic = any(_ext(sch, lp) == SYMBOLIC for lp in loops)
    if len(loops) >= 2 and (symbolic or _ext(sch, loops[-1]) % max(1, _tvm.vector_bytes() // itemsize)):
        outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]   # rows in parallel
        if _pays(ctx, elements=_flops(sch, sch.get_sblock(crop)) // 2) if mode is None else mode:
            sch.parallel(outer)
        lanes = max(1, _tvm.vector_bytes() // itemsize)
        if symbolic and _ext(sch, loops[-1]) % lanes == 0:
            _, li = sch.split(sch.get_loops(sch.get_sblock(crop))[-1], [None, lanes])
            sch.vectorize(li)
        return
    schedule_injective(sch, crop, itemsize)


def _plain_generic(sch, name, itemsize, par):
    """cpu_matmul's plain reduction on a symbolic batch (or a reduction over it, the filter
    gradient's): the static last axis as vectors when whole, the outer loop parallel when
    ``par`` (the run-time form)."""
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    nsp = sum(1 for iv in sch.get(b).iter_vars if iv.iter_type == 0)
    sp, red = loops[:nsp], loops[nsp:]
    lanes = max(1, _tvm.vector_bytes() // itemsize)
    if sp and _ext(sch, sp[-1]) != SYMBOLIC and _ext(sch, sp[-1]) % lanes == 0:
        last = sp[-1]
        sch.reorder(*sp[:-1], *red, last)
        lo, li = sch.split(last, [None, lanes])
        sch.vectorize(li)
        sp = sp[:-1] + [lo]
    if sp and par:
        sch.parallel(sp[0])
    sch.decompose_reduction(b, red[0])


def conv_rule(func, ctx):
    if not isinstance(ctx.op, BaseConv):
        return None
    from .cpu_conv_generic import is_symbolic, schedule_conv_generic
    if is_symbolic(func):           # a batch-generic kernel: its parallel form chosen at run time
        return schedule_conv_generic(func, ctx, _schedule_conv)
    return _schedule_conv(func, ctx)


def _schedule_conv(func, ctx, mode=None):
    st = ctx.step
    sch = s_tir.Schedule(func)
    names = [blk.name_hint for _, blk in _blocks(sch)]
    dtype = st.node.outputs[0].type.dtype
    itemsize = np.dtype(dtype).itemsize
    # the result block; FusedConv's kept pooled max is a second block of the same loop nest
    # (``<name>_crop_v0`` / ``_v1``: one multi-output compute)
    crop = [n for n in names if n.endswith(("_crop", "_crop_v0"))][0]
    raw = [n for n in names if n.endswith("_raw")]
    sibling = [n for n in names if n.endswith("_crop_v1")]
    for b, blk in _blocks(sch):          # views read by the epilogue (a bias's DimShuffle)
        keep = blk.name_hint in [crop] + raw + sibling or blk.name_hint.startswith("cv_")
        if not keep and _is_spatial(blk):
            sch.compute_inline(b)
    tile = [n for n in names if n.startswith(("cv_c_", "cv_r_"))]
    if tile and tile[0].startswith("cv_c_"):
        if _batched(sch, tile[0], crop, ctx, raw, mode):
            return sch.mod["main"]
        raw = []        # placed in the batch loop
    elif tile:
        _reduced(sch, tile[0], ctx, mode)
    elif "cv_plain" in names:
        if mode is None:
            _schedule_plain(sch, "cv_plain", dtype, True)
        else:
            _plain_generic(sch, "cv_plain", itemsize, mode)
    if getattr(ctx.op, "pool_ws", None) is not None and tile:
        # a pass of its own (the product's rows are not whole tiles): rows in parallel, the
        # pooled positions as vectors
        loops = sch.get_loops(sch.get_sblock(crop))
        rows = sch.fuse(loops[0], loops[1])
        if _pays(ctx, elements=_flops(sch, sch.get_sblock(crop)) // 2) if mode is None else mode:
            sch.parallel(rows)
        _vectorize_epilogue(sch, [rows, rows] + list(sch.get_loops(sch.get_sblock(crop))[1:]), ctx)
    else:
        _schedule_crop(sch, crop, itemsize, ctx, mode)
    for r in raw:
        _schedule_crop(sch, r, itemsize, ctx, mode)
    return sch.mod["main"]
