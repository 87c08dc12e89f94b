"""Batch-generic convolution and pooling kernels: the parallel form chosen at run time.

A specialized kernel decides from its sizes whether waking the thread pool pays
(``Machine.parallel_pays``) and which loop the cores split (the images; one image's
row tiles when there is one).  A kernel lowered on a symbolic batch
(``lowering/generic_conv_decl.py``) is scheduled by the same rule (``cpu_conv.py``,
``cpu_pool.py``) once per form, and the forms are joined under a run-time condition on
the work (``cpu_matmul_generic._combine``):

    if work >= threshold:  [if batch >= 2: images in parallel  else: row tiles in parallel]
    else:                  serial

(the row-tile form only where one image alone repays the pool).  The cores split a
parallel loop's symbolic extent evenly at run time (TVM's parallel launch divides it by
the number of tasks when it runs), so the batch split stays balanced at any batch size.
"""
from __future__ import annotations

from .. import _tvm
from .common import blocks as _blocks
from .cpu_matmul_generic import _combine

s_tir = _tvm.s_tir
tirx = _tvm.tirx


def is_symbolic(func):
    """True if some buffer parameter of ``func`` has a symbolic extent."""
    for p in func.params:           # the parameters are the buffers (TVM 0.27)
        if hasattr(p, "shape") and any(not isinstance(d, (int, tirx.IntImm)) for d in p.shape):
            return True
    return False


def _work(func, names):
    """(static part, symbolic extents, first loop's extent) of the first block of ``names``
    found (the product's loops: its work is 2 x their product)."""
    sch = s_tir.Schedule(func)
    have = [blk.name_hint for _, blk in _blocks(sch)]
    for want in names:
        hit = [n for n in have if n.startswith(want) or n.endswith(want)]
        if hit:
            loops = sch.get_loops(sch.get_sblock(hit[0]))
            ext = [sch.get(lp).extent for lp in loops]
            static, sym = 1, []
            for e in ext:
                if isinstance(e, tirx.IntImm):
                    static *= int(e)
                else:
                    sym.append(e)
            return static, sym, ext[0] if ext else None
    return None


def _at_least(static, sym, threshold):
    """The PrimExpr ``static * prod(sym) >= threshold`` (int64)."""
    e = tirx.IntImm("int64", static)
    for x in sym:
        e = e * tirx.Cast("int64", x)
    return tirx.GE(e, tirx.IntImm("int64", int(threshold)))


def _can_parallel(m):
    return bool(getattr(m, "cpu", True)) and getattr(m, "threads", 1) >= 2


def schedule_conv_generic(func, ctx, schedule):
    """``schedule(func, ctx, mode)`` (cpu_conv's rule body) in its run-time forms."""
    m = ctx.machine
    if not _can_parallel(m):
        return schedule(func, ctx, False)
    core = m.core
    w = _work(func, ("cv_c_", "cv_r_", "cv_plain", "_crop", "_crop_v0"))
    if w is None or not w[1]:
        return schedule(func, ctx, None)
    static, sym, first = w
    serial = schedule(func, ctx, False)
    batched = w is not None and _work(func, ("cv_c_",)) is not None
    if batched:
        par = schedule(func, ctx, "batch")
        if m.parallel_pays(flops=2 * static):       # one image alone repays the pool
            rows = schedule(func, ctx, "rows")
            par = _combine(par, rows, tirx.GE(first, tirx.IntImm(str(first.ty), 2)))
    else:
        par = schedule(func, ctx, True)
    return _combine(par, serial, _at_least(2 * static, sym, core.parallel_min_flops))


def schedule_pool_generic(func, ctx, schedule, elements_factor=4):
    """``schedule(func, ctx, par)`` (cpu_pool's rule body) parallel if the output is large
    enough when it runs, else serial."""
    m = ctx.machine
    if not _can_parallel(m):
        return schedule(func, ctx, False)
    outs = list(ctx.outputs)
    w = _work(func, outs)
    if w is None or not w[1]:
        return schedule(func, ctx, None)
    static, sym, _ = w
    return _combine(schedule(func, ctx, True), schedule(func, ctx, False),
                    _at_least(elements_factor * static, sym, m.core.parallel_min_elements))
