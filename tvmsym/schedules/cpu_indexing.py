"""CPU (llvm) schedules for indexing and shape ops whose index maps keep the output's last
axis a (strided) walk over the input: Subtensor, IncSubtensor, AdvancedSubtensor, Join,
Split, Flip, Tile, Alloc, Eye, AllocDiag, Repeat, Roll.

Flattening their loop nest (the elementwise rule) would turn every lane's index into
div/mod: instead the last axis is vectorized and the rows run in parallel; a join gets one
loop range per piece and a set/inc_subtensor one per side of its region (``loop_partition``),
so every copy is branch-free.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..symbolic.ops import shape as _shape_ops, subtensor as _sub_ops
from .common import blocks as _blocks, extent as _extent, is_spatial as _is_spatial, lanes_of, parallel_pays

s_tir = _tvm.s_tir


# Indexing ops whose index maps keep the output's last axis a (strided) walk over the input:
# flattening the loop nest (the elementwise rule) would turn every lane's index into div/mod.
STRUCTURED = (_sub_ops.Subtensor, _sub_ops.IncSubtensor, _sub_ops.AdvancedSubtensor,
              _shape_ops.Join, _shape_ops.Split, _shape_ops.Flip, _shape_ops.Tile, _shape_ops.Alloc,
              _shape_ops.Eye, _shape_ops.AllocDiag, _shape_ops.Repeat, _shape_ops.Roll)


def _vectorize_last_axis(sch, name, itemsize):
    """Vectorize the last axis (when it splits evenly into lanes), parallelize the rows."""
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    if not loops:
        return
    lanes = lanes_of(itemsize)
    last = loops[-1]
    n_last = _extent(sch, last)
    total = int(np.prod([_extent(sch, l) for l in loops]))
    outer = list(loops[:-1])
    if n_last >= lanes and n_last % lanes == 0:
        lo, li = sch.split(last, [None, lanes])
        sch.vectorize(li)
        outer.append(lo)
    elif not outer:
        outer = [last]
    if parallel_pays(elements=total):
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        sch.parallel(fused)


def indexing_rule(func, ctx):
    st = ctx.step
    if st is None or not isinstance(st.node.op, STRUCTURED) or len(st.node.outputs[0].broadcastable) < 2:
        return None
    sch = s_tir.Schedule(func)
    outs = ctx.outputs
    for b, blk in _blocks(sch):
        if blk.name_hint not in outs and _is_spatial(blk):
            sch.compute_inline(b)
    if isinstance(st.node.op, _shape_ops.Join):
        _schedule_join(sch, outs[0], st, ctx)
        return sch.mod["main"]
    if isinstance(st.node.op, _sub_ops.IncSubtensor) and _schedule_inc(sch, outs[0], st, ctx):
        return sch.mod["main"]
    for o, var in zip(outs, st.node.outputs):
        _vectorize_last_axis(sch, o, max(1, np.dtype(var.type.dtype).itemsize))
    return sch.mod["main"]


def _schedule_join(sch, name, st, ctx):
    """One loop range per joined piece (loop_partition), so each copy is branch-free and its
    last axis vectorizes; the outermost loop runs in parallel."""
    node = st.node
    ax = node.op.axis
    shapes = ctx.shapes
    sizes = [s[ax] for s in shapes] if shapes else []
    _partitioned(sch, name, node, ax, [n for n in sizes if n])


def _schedule_inc(sch, name, st, ctx):
    """set/inc_subtensor: partition the first restricted axis (an int index or a unit-step
    slice) at the region's bounds, so every copy's condition is static along it."""
    node, op = st.node, st.node.op
    vals = ctx.values or {}
    known = [int(vals[v]) if v in vals else (int(v.data) if hasattr(v, "data") else None)
             for v in node.inputs[op.n_before:]]
    if not op._known(known):
        return False
    xshape = (ctx.shapes or [None])[0]
    try:
        reg = op.region(xshape, known)
    except (IndexError, ValueError):
        return False
    for d, r in enumerate(reg):
        n = xshape[d]
        if r[0] == "int" and r[1] is not None:
            lo, cnt = r[1], 1
        elif r[0] == "slice" and abs(r[2]) == 1 and r[3] < n:
            lo, cnt = (r[1], r[3]) if r[2] == 1 else (r[1] - r[3] + 1, r[3])
        else:
            continue
        parts = [p for p in (lo, cnt, n - lo - cnt) if p > 0]
        _partitioned(sch, name, node, d, parts)
        return True
    return False


def _partitioned(sch, name, node, ax, sizes):
    b = sch.get_sblock(name)
    loops = sch.get_loops(b)
    total = int(np.prod([_extent(sch, l) for l in loops]))
    if len(sizes) > 1:
        sch.loop_partition(loops[ax], sizes[:-1] + [None])
    itemsize = max(1, np.dtype(node.outputs[0].type.dtype).itemsize)
    lanes = lanes_of(itemsize)
    done = set()
    for blk_rv, _ in _blocks(sch):
        ls = sch.get_loops(blk_rv)
        if not ls:
            continue
        n = _extent(sch, ls[-1])
        if n >= lanes and n % lanes == 0:
            lo, li = sch.split(ls[-1], [None, lanes])
            sch.vectorize(li)
        first = sch.get_loops(blk_rv)[0]
        key = str(sch.get(first).loop_var.name)
        if parallel_pays(elements=total) and key not in done and len(sch.get_loops(blk_rv)) > 1:
            done.add(key)
            try:
                sch.parallel(first)
            except Exception:       # a loop shared with another piece's copy
                pass
