"""CPU (llvm) schedules.

Fusion is ``compute_inline`` of every producer block into the kernel's output
block.  The output loop nest is flattened; the largest multiple of the vector
width is split into ``T.vectorized`` lanes (the host's register width: 8 float32
lanes with AVX2) under a ``T.parallel`` loop over the cores when the kernel is
large enough to pay for the thread launch, and the remainder (fewer than one
vector) runs as a scalar tail loop (``loop_partition``), so every size
vectorizes.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from .common import blocks as _blocks, extent, is_spatial as _is_spatial, lanes_of, parallel_pays

s_tir = _tvm.s_tir


def inline_producers(sch):
    """compute_inline every block that is not an output of the kernel (fusion)."""
    outs = {sch.get(b).name_hint for b in sch.get_output_blocks(sch.get_sblock("root"))}
    for b, blk in _blocks(sch):
        if blk.name_hint not in outs and _is_spatial(blk):
            sch.compute_inline(b)
    return sorted(outs)


def schedule_injective(sch, block_name, dtype_bytes, n_blocks=1):
    """Flatten, vectorize (main part + scalar tail) and parallelize one spatial output block.

    The ``n_blocks`` blocks of a multi-output compute share this block's loop nest and
    follow it.  TVM 0.27's ``loop_partition`` crashes on a loop holding several blocks, so
    such a nest with a tail is only parallelized (LLVM then vectorizes what it can).
    """
    b = sch.get_sblock(block_name)
    loops = sch.get_loops(b)
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    n = extent(sch, fused)
    lanes = lanes_of(dtype_bytes)
    main = n - n % lanes
    if main == 0:
        return                                  # shorter than one vector: a plain loop
    if main != n and n_blocks > 1:
        if parallel_pays(elements=n):
            sch.parallel(fused)
        return
    if main != n:
        fused, _tail = sch.loop_partition(fused, [main, None])
    outer, inner = sch.split(fused, [None, lanes])
    sch.vectorize(inner)
    if parallel_pays(elements=n):
        sch.parallel(outer)


def schedule_rows(sch, block_name, dtype_bytes, n_blocks=1):
    """Rows in parallel, each row's last axis vectorized (main part + scalar tail).

    For kernels that broadcast: a flattened index would cross rows inside one vector, and
    the broadcast input's ``index % ncols`` load would become a gather.
    """
    b = sch.get_sblock(block_name)
    loops = sch.get_loops(b)
    outer = sch.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
    inner = loops[-1]
    rows, m = extent(sch, outer), extent(sch, inner)
    lanes = lanes_of(dtype_bytes)
    main = m - m % lanes
    if main and (main == m or n_blocks == 1):
        if main != m:
            inner, _tail = sch.loop_partition(inner, [main, None])
        _, vec = sch.split(inner, [None, lanes])
        sch.vectorize(vec)
    if parallel_pays(elements=rows * m) and rows > 1:
        sch.parallel(outer)


def _broadcasts(func):
    """True if some parameter's shape differs from the last (output) parameter's."""
    shapes = [tuple(int(d) for d in p.shape) for p in func.params if hasattr(p, "shape")]
    return bool(shapes) and any(sh != shapes[-1] for sh in shapes)


def elementwise_rule(func, ctx):
    """Kernels made only of spatial blocks whose outputs share one loop nest."""
    sch = s_tir.Schedule(func)
    blocks = _blocks(sch)
    if not blocks or not all(_is_spatial(blk) for _, blk in blocks):
        return None
    outs = inline_producers(sch)
    nests = {sch.get(sch.get_loops(sch.get_sblock(o))[0]) for o in outs if sch.get_loops(sch.get_sblock(o))}
    if len(nests) > 1:
        return None                         # separate loop nests: not an elementwise kernel
    itemsize = max(1, np.dtype(ctx.out_dtype).itemsize)
    loops = sch.get_loops(sch.get_sblock(outs[0]))
    if len(loops) >= 2 and _broadcasts(func) and extent(sch, loops[-1]) >= lanes_of(itemsize):
        schedule_rows(sch, outs[0], itemsize, len(outs))
    else:
        schedule_injective(sch, outs[0], itemsize, len(outs))
    return sch.mod["main"]

