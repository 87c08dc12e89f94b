"""CPU schedule of pooling and its gradients: producers inlined, every block's spatial loops
fused and run in parallel when large, window loops unrolled (they are a few taps)."""
from __future__ import annotations

from .. import _tvm
from ..symbolic.ops.pool import PoolBase
from .common import parallel_pays
from .cpu import _blocks, _is_spatial

s_tir = _tvm.s_tir


def _ext(sch, loop):
    e = sch.get(loop).extent
    return int(e) if isinstance(e, _tvm.tirx.IntImm) else 1 << 30     # symbolic: large


def pool_rule(func, ctx):
    if not isinstance(ctx.op, PoolBase):
        return None
    from .cpu_conv_generic import is_symbolic, schedule_pool_generic
    if is_symbolic(func):           # batch-generic: parallel or serial chosen at run time
        return schedule_pool_generic(func, ctx, _schedule_pool)
    return _schedule_pool(func, ctx)


def _pays(par, elements):
    return parallel_pays(elements=elements) if par is None else par


def _schedule_pool(func, ctx, par=None):
    """``par``: None (the sizes decide whether the rows run in parallel), True or False (a
    shape-generic kernel's forms, cpu_conv_generic.py)."""
    sch = s_tir.Schedule(func)
    outs = set(ctx.outputs)
    for b, blk in _blocks(sch):
        if blk.name_hint not in outs and _is_spatial(blk):
            sch.compute_inline(b)
    for b, blk in _blocks(sch):
        loops = sch.get_loops(b)
        nsp = sum(1 for iv in blk.iter_vars if iv.iter_type == 0)
        sp, red = loops[:nsp], loops[nsp:]
        if not sp:
            continue
        if not red and len(sp) >= 2:
            # non-overlapping windows' gradient: elementwise, rows in parallel; each row's
            # loop stays plain (a flattened vector index would gather through div/mod)
            op = ctx.op
            n = getattr(op, "ndim", 0)
            exact = n and len(sp) > n and all(
                st_ == w and _ext(sch, sp[len(sp) - n + a]) % w == 0
                for a, (w, st_) in enumerate(zip(op.ws, op.stride)))
            if exact:
                # every image position x = r * ws + o: the window index r is a loop, not a
                # division per element; the ws taps of a window unrolled
                taps = []
                for a in range(n):
                    ro, ri = sch.split(sp[len(sp) - n + a], [None, op.ws[a]])
                    taps.append((ro, ri))
                lead = sp[:len(sp) - n]
                sch.reorder(*lead, *[lp for pair in taps for lp in pair])
                sch.unroll(taps[-1][1])
                outer = sch.fuse(*lead) if len(lead) > 1 else lead[0]
                rows = _ext(sch, outer)
                total = rows
                for ro, ri in taps:
                    total *= _ext(sch, ro) * _ext(sch, ri)
                if _pays(par, 4 * total):
                    sch.parallel(outer)
                continue
            outer = sch.fuse(*sp[:-1]) if len(sp) > 2 else sp[0]
            if _pays(par, 4 * _ext(sch, outer) * _ext(sch, sp[-1])):
                sch.parallel(outer)
            continue
        total = 1
        for lp in sp:
            total *= _ext(sch, lp)
        fused = sch.fuse(*sp) if len(sp) > 1 else sp[0]
        for r in red:
            if int(sch.get(r).extent) <= 8:
                sch.unroll(r)
        if _pays(par, 4 * total * max(1, len(red))):
            sch.parallel(fused)
    return sch.mod["main"]
