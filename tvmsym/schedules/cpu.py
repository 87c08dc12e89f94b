"""CPU (llvm) schedules.

Fusion is ``compute_inline`` of every producer block into the kernel's output
block; the output loop nest is flattened, vectorized at the host's register
width and parallelized over the cores when it is large enough to pay for the
thread launch.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from .registry import register_rule

s_tir = _tvm.s_tir

PARALLEL_MIN_ELEMENTS = 1 << 15     # below this a parallel launch costs more than it saves


def _blocks(sch):
    root = sch.get_sblock("root")
    return [(b, sch.get(b)) for b in sch.get_child_blocks(root)]


def _is_spatial(block):
    return all(iv.iter_type == 0 for iv in block.iter_vars)   # 0 = data parallel


def inline_producers(sch, keep):
    """compute_inline every block except those named in ``keep`` (fusion)."""
    for b, blk in _blocks(sch):
        if blk.name_hint not in keep and _is_spatial(blk):
            sch.compute_inline(b)


def _extent(loop_rv, sch):
    return int(sch.get(loop_rv).extent)


def schedule_injective(sch, block_name, dtype_bytes):
    """Flatten, vectorize and parallelize one spatial output block."""
    b = sch.get_sblock(block_name)
    loops = sch.get_loops(b)
    if not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    n = _extent(fused, sch)
    lanes = max(1, _tvm.vector_bytes() // dtype_bytes)
    if n >= lanes and n % lanes == 0:
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
    else:
        outer = fused
    if n >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(outer)


def elementwise_rule(func, info):
    """Kernels made only of spatial blocks with one output block."""
    sch = s_tir.Schedule(func)
    blocks = _blocks(sch)
    if not blocks or not all(_is_spatial(blk) for _, blk in blocks):
        return None
    out_names = info.get("outputs")
    last = blocks[-1][1].name_hint if not out_names else out_names[-1]
    if out_names and len(out_names) > 1:
        return None
    inline_producers(sch, {last})
    itemsize = np.dtype(info.get("out_dtype", "float32")).itemsize
    schedule_injective(sch, last, max(1, itemsize))
    return sch.mod["main"]


register_rule("llvm", elementwise_rule)
