"""GPU (cuda) schedules: every kernel bound to blocks and threads.

Rules are tried in order and may decline (return None); the first that
accepts a PrimFunc schedules it:

1. ``injective``: kernels made only of spatial blocks (elementwise, broadcast,
   DimShuffle): producers are inlined into the output block (fusion), the
   output loops are flattened and split over ``blockIdx.x`` x ``threadIdx.x``.
2. ``full_reduction``: a large reduction to one value in two kernels
   (partial results per thread block, then one block).
3. TVM's dlight GPU rules, each for one anchor pattern: ``Matmul``
   (shared-memory tiling), ``GEMV``, ``Reduction`` and ``GeneralReduction``
   (softmax-like; cross-thread reduction: warp shuffles / shared memory).
4. ``reduction``: any one reduction (cross-thread along the contiguous axis,
   thread per output otherwise), or a chain of them (argmax) thread per output.
5. dlight's ``Fallback`` (inline, then one block per ``max_threads`` outputs;
   a reduction runs serially inside each thread).

dlight rules are applied to the PrimFunc itself (``rule.apply(func, target)``
builds its own ``Schedule``; the ``ApplyDefaultSchedule`` module pass would
mutate its module).  A PrimFunc built for cuda with an unbound block silently
becomes host code that reads device pointers, so ``check_bound`` refuses any
scheduled PrimFunc with a block outside a thread binding.
"""
from __future__ import annotations

from .. import _tvm
from .common import as_context

s_tir = _tvm.s_tir

THREADS = 256           # threads per block of injective kernels
HOST_ONLY = set()       # op classes that have a lowering rule but no GPU schedule


class UnscheduledKernelError(RuntimeError):
    """A kernel for cuda has computation outside any thread binding (it would run on the host)."""


def has_gpu_schedule(op):
    """True when ``op``'s kernels can run on the GPU: it lowers to TE and is not host-only.

    Every TE kernel gets a GPU schedule (the Fallback rule accepts any PrimFunc),
    so the ops that stay on the host are those without a lowering rule (numpy
    ``perform`` steps), transfers, and the classes listed in ``HOST_ONLY``.
    """
    from ..lowering.rules import find_rule
    if any(c in HOST_ONLY for c in type(op).__mro__):
        return False
    return find_rule(op) is not None


def host_only(*op_classes):
    """Keep ``op_classes`` on the host under device=cuda."""
    HOST_ONLY.update(op_classes)


def _known_host_only():
    try:    # topi's scan (cumsum/cumprod) is a CPU extern: parallel loops, no blocks to bind
        from ..symbolic.ops.cum import CumOp
        host_only(CumOp)
    except ImportError:
        pass


_known_host_only()


# --------------------------------------------------------------------------- helpers
def _target(ctx):
    t = ctx.target
    if t is None:
        t = _tvm.Target.current(allow_none=True)
    if t is None:
        raise ValueError("a cuda schedule needs its target: pass ctx.target (the cuda "
                         "tvm.target.Target) or schedule inside `with target:`")
    return t


def _root_blocks(sch):
    return [(b, sch.get(b)) for b in sch.get_child_blocks(sch.get_sblock("root"))]


def _is_spatial(blk):
    return all(iv.iter_type == 0 for iv in blk.iter_vars)


def _bound(sch, block_rv):
    return any(sch.get(lp).thread_binding is not None for lp in sch.get_loops(block_rv))


def unbound_blocks(func):
    """Names of top-level blocks of ``func`` that no thread binding encloses."""
    sch = s_tir.Schedule(func)
    return [blk.name_hint for b, blk in _root_blocks(sch) if not _bound(sch, b)]


def check_bound(func, name):
    if func.attrs is not None and "tvmsym.prebound" in func.attrs:   # rng: binds its own threads
        return func
    bad = unbound_blocks(func)
    if bad:
        raise UnscheduledKernelError(
            f"kernel {name}: blocks {bad} are not bound to GPU threads, so a cuda build would run "
            "them as host code on device memory; no GPU schedule rule handled this kernel")
    return func


def bind_spatial(sch, block_rv, threads=THREADS):
    """Flatten the block's loops and split them over blockIdx.x / threadIdx.x."""
    loops = sch.get_loops(block_rv)
    if not loops:
        loops = [sch.add_unit_loop(block_rv)]
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    n = int(sch.get(fused).extent)
    bx, tx = sch.split(fused, [None, max(1, min(n, threads))])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")


# --------------------------------------------------------------------------- rules
def _writes_param(func, blk):
    return any(any(w.source.same_as(p) for p in func.params) for w in blk.writes)


def injective_rule(func, ctx):
    """Spatial-only kernels: inline producers, bind the output loops to blocks/threads.

    The output blocks are those writing a parameter (a multi-output Composite has
    one block per output, ``<name>_v0``, ``<name>_v1``, ... in one loop nest).
    """
    sch = s_tir.Schedule(func)
    blocks = _root_blocks(sch)
    if not blocks or not all(_is_spatial(blk) for _, blk in blocks):
        return None
    try:
        for b, blk in blocks:
            if not _writes_param(func, blk):
                sch.compute_inline(b)
        for b, blk in _root_blocks(sch):
            loops = sch.get_loops(b)
            if loops and sch.get(loops[0]).thread_binding is not None:
                continue        # a sibling output block in an already bound loop nest
            bind_spatial(sch, b)
    except Exception:       # not inlinable (e.g. multi-output producer): let dlight try
        return None
    return sch.mod["main"]


def _row_reduction(ctx):
    """True when the reduced axes include the input's last (contiguous) one."""
    st = ctx.step
    op = getattr(st, "node", None) and st.node.op
    if op is None or not hasattr(op, "reduced_axes"):
        return True
    nd = st.node.inputs[0].ndim
    return (nd - 1) in op.reduced_axes(nd) if nd else True


def reduction_rule(func, ctx):
    """One reduction block (+ inlined producers, + one spatial epilogue).

    Reducing the contiguous axis: one thread block per output element, its
    threads split the reduction and combine partial results across threads
    (TVM's cross-thread allreduce: warp shuffles, then shared memory).
    Reducing an outer axis: one thread per output element, reading coalesced
    across threads, the reduction serial in each thread.
    """
    sch = s_tir.Schedule(func)
    blocks = _root_blocks(sch)
    red = [k for k, (_, blk) in enumerate(blocks) if not _is_spatial(blk)]
    if len(red) > 1:
        return _kernel_per_reduction(func) or _chained_reductions(func, ctx)
    if len(red) != 1:
        return None
    k = red[0]
    red_name = blocks[k][1].name_hint
    epi_names = [blk.name_hint for _, blk in blocks[k + 1:]]
    try:
        for b, _ in blocks[:k]:
            sch.compute_inline(b)
        for name in epi_names[:-1]:
            sch.compute_inline(sch.get_sblock(name))
        rb = sch.get_sblock(red_name)
        blk = sch.get(rb)
        loops = sch.get_loops(rb)
        if len(loops) != len(blk.iter_vars):
            return None
        kinds = ["S" if iv.iter_type == 0 else "R" for iv in blk.iter_vars]
        s_loops = [lp for lp, t in zip(loops, kinds) if t == "S"]
        r_loops = [lp for lp, t in zip(loops, kinds) if t == "R"]
        if kinds != sorted(kinds, key=lambda t: t == "R"):
            sch.reorder(*s_loops, *r_loops)
        r = sch.fuse(*r_loops) if len(r_loops) > 1 else r_loops[0]
        if not s_loops:
            s_loops = [sch.add_unit_loop(r)]
        s = sch.fuse(*s_loops) if len(s_loops) > 1 else s_loops[0]
        n_red = int(sch.get(r).extent)
        # TVM's allreduce knows registered reducers only (not argmax's (index, value) pair)
        cross = len(blk.writes) == 1 and (_row_reduction(ctx) or int(sch.get(s).extent) == 1)
        if cross:
            threads = min(THREADS, max(32, -(-n_red // 32) * 32))
            _, tx = sch.split(r, [None, threads])
            sch.bind(s, "blockIdx.x")
            sch.bind(tx, "threadIdx.x")
            anchor = s
        else:
            n = int(sch.get(s).extent)
            bx, tx = sch.split(s, [None, min(n, THREADS)])
            sch.bind(bx, "blockIdx.x")
            sch.bind(tx, "threadIdx.x")
            anchor = tx
            n_writes = len(sch.get(rb).writes)
            if n_writes == 1 and any(sch.get(rb).writes[0].source.same_as(p) for p in func.params):
                # accumulate in a register, write the result once
                sch.reverse_compute_at(sch.cache_write(rb, 0, "local"), tx)
        for idx, region in enumerate(sch.get(rb).writes):
            if not any(region.source.same_as(p) for p in func.params):
                sch.set_scope(rb, idx, "local")     # per-thread partials / argmax values
        if epi_names:
            sch.reverse_compute_at(sch.get_sblock(epi_names[-1]), anchor)
    except Exception:       # the pattern does not fit: the next rule may
        return None
    return sch.mod["main"]


TWO_STAGE_MIN = 1 << 16     # a full reduction of at least this many elements uses every SM


def _chunks(n):
    """Blocks of a two-stage full reduction: a divisor of n, up to 1024, >= 256 items each."""
    for c in range(min(1024, n // 256), 15, -1):
        if n % c == 0:
            return c
    return None


def full_reduction_rule(func, ctx):
    """A large reduction to one value: partial results per thread block, then one block.

    The reduction loop is split into ``chunks`` (``rfactor``): kernel 1 runs one
    thread block per chunk (cross-thread reduction within it) into a device
    workspace the host allocates; kernel 2 reduces the chunks in one block,
    then the epilogue (a Mean's division, a cast) runs once.
    """
    sch = s_tir.Schedule(func)
    blocks = _root_blocks(sch)
    red = [k for k, (_, blk) in enumerate(blocks) if not _is_spatial(blk)]
    if len(red) != 1:
        return None
    k = red[0]
    blk = blocks[k][1]
    if len(blk.writes) != 1 or any(iv.iter_type == 0 for iv in blk.iter_vars):
        return None
    red_name = blk.name_hint
    epi_names = [b.name_hint for _, b in blocks[k + 1:]]
    try:
        rb = sch.get_sblock(red_name)
        loops = sch.get_loops(rb)
        r = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        n = int(sch.get(r).extent)
        chunks = _chunks(n) if n >= TWO_STAGE_MIN else None
        if chunks is None:
            return None
        for b, _ in blocks[:k]:
            sch.compute_inline(b)
        for name in epi_names[:-1]:
            sch.compute_inline(sch.get_sblock(name))
        ro, _ = sch.split(r, [chunks, None])
        rf = sch.rfactor(ro, factor_axis=0)         # partial[chunk]
        c, inner = sch.get_loops(rf)
        _, tx = sch.split(inner, [None, THREADS])
        sch.bind(c, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        rb = sch.get_sblock(red_name)
        (f,) = sch.get_loops(rb)
        u = sch.add_unit_loop(f)
        _, ft = sch.split(f, [None, min(chunks, THREADS)])
        sch.bind(u, "blockIdx.x")
        sch.bind(ft, "threadIdx.x")
        if epi_names:
            sch.set_scope(rb, 0, "local")
            sch.reverse_compute_at(sch.get_sblock(epi_names[-1]), u)
    except Exception:
        return None
    return sch.mod["main"]


def _spatial_first(sch, block_rv):
    """Reorder a TE block's loops spatial-first; returns (spatial loops, reduction loops)."""
    blk = sch.get(block_rv)
    loops = sch.get_loops(block_rv)
    if len(loops) != len(blk.iter_vars):
        raise ValueError("loops do not map to iter vars")
    kinds = ["S" if iv.iter_type == 0 else "R" for iv in blk.iter_vars]
    s_loops = [lp for lp, t in zip(loops, kinds) if t == "S"]
    r_loops = [lp for lp, t in zip(loops, kinds) if t == "R"]
    if kinds != sorted(kinds, key=lambda t: t == "R"):
        sch.reorder(*s_loops, *r_loops)
    return s_loops, r_loops


def _reduces_contiguous(func, blk):
    """True when the block reduces along an input's last (contiguous) dimension."""
    red_vars = [iv.var for iv in blk.iter_vars if iv.iter_type != 0]
    for region in blk.reads:
        if not any(region.source.same_as(p) for p in func.params) or not region.region:
            continue
        used = _tvm.tirx.analysis.undefined_vars(region.region[-1].min, [])
        if any(u.same_as(r) for u in used for r in red_vars):
            return True
    return False


def _bind_reduction(sch, func, block_rv):
    """One reduction block as a kernel: cross-thread along a contiguous axis, else a
    thread per output.  Returns the loop an epilogue can be computed at."""
    blk = sch.get(block_rv)
    s_loops, r_loops = _spatial_first(sch, block_rv)
    r = sch.fuse(*r_loops) if len(r_loops) > 1 else r_loops[0]
    if not s_loops:
        s_loops = [sch.add_unit_loop(r)]
    s = sch.fuse(*s_loops) if len(s_loops) > 1 else s_loops[0]
    if _reduces_contiguous(func, blk) or int(sch.get(s).extent) == 1:
        n_red = int(sch.get(r).extent)
        threads = min(THREADS, max(32, -(-n_red // 32) * 32))
        _, tx = sch.split(r, [None, threads])
        sch.bind(s, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        return s
    n = int(sch.get(s).extent)
    bx, tx = sch.split(s, [None, min(n, THREADS)])
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    return tx


def _kernel_per_reduction(func):
    """Several reduction blocks (a two-stage reduction's partials and combine, argmax's
    value then index): each becomes its own kernel, intermediates in device memory the
    host allocates between them; spatial blocks are inlined or get their own kernel."""
    sch = s_tir.Schedule(func)
    try:
        for b, blk in _root_blocks(sch):
            if _is_spatial(blk) and not _writes_param(func, blk):
                sch.compute_inline(b)
        for b, blk in _root_blocks(sch):
            if not _is_spatial(blk):
                _bind_reduction(sch, func, b)
        for b, blk in _root_blocks(sch):
            loops = sch.get_loops(b)
            if _is_spatial(blk) and not (loops and sch.get(loops[0]).thread_binding is not None):
                bind_spatial(sch, b)
    except Exception:
        return None
    return sch.mod["main"]


def _chained_reductions(func, ctx):
    """Several reductions over the same output (argmax: the max, then the first index of it).

    One thread per output element: the last block's loops are bound to
    blockIdx/threadIdx and every reduction is computed, serially, inside its
    thread, its partial results in registers.
    """
    sch = s_tir.Schedule(func)
    blocks = _root_blocks(sch)
    try:
        first = next(k for k, (_, blk) in enumerate(blocks) if not _is_spatial(blk))
        for b, _ in blocks[:first]:
            sch.compute_inline(b)
        names = [blk.name_hint for _, blk in blocks[first:]]
        reds = [n for n in names if not _is_spatial(sch.get(sch.get_sblock(n)))]
        last = sch.get_sblock(names[-1])
        if _is_spatial(sch.get(last)):
            loops = sch.get_loops(last) or [sch.add_unit_loop(last)]
            r_tail = []
        else:
            loops, r_tail = _spatial_first(sch, last)
            if not loops:
                loops = [sch.add_unit_loop(r_tail[0])]
        s = sch.fuse(*loops) if len(loops) > 1 else loops[0]
        n = int(sch.get(s).extent)
        bx, tx = sch.split(s, [None, min(n, THREADS)])
        sch.bind(bx, "blockIdx.x")
        sch.bind(tx, "threadIdx.x")
        for name in reversed(names[:-1]):
            b = sch.get_sblock(name)
            if name in reds:
                sch.compute_at(b, tx)
            else:
                sch.compute_inline(b)
        for name in reds:
            b = sch.get_sblock(name)
            for idx, region in enumerate(sch.get(b).writes):
                if not any(region.source.same_as(p) for p in func.params):
                    sch.set_scope(b, idx, "local")
    except Exception:
        return None
    return sch.mod["main"]


def valid_gpu_schedule(func):
    """Every top-level block starts under a thread binding and no global buffer is allocated.

    (A serial loop outside the bindings would launch a kernel per iteration from
    the host; a global intermediate cannot be allocated inside a CUDA kernel.)
    """
    sch = s_tir.Schedule(func)
    for b, blk in _root_blocks(sch):
        loops = sch.get_loops(b)
        if not loops or sch.get(loops[0]).thread_binding is None:
            return False
    root = sch.get(sch.get_sblock("root"))
    return all(buf.scope() != "global" for buf in root.alloc_buffers)


def _dlight_rule(rule):
    def apply(func, ctx):
        target = _target(ctx)
        try:
            with target:
                sch = rule.apply(func, target, False)
        except Exception:   # a dlight rule that does not fit may raise instead of declining
            return None
        if sch is None:
            return None
        if isinstance(sch, list):
            sch = sch[0]
        out = sch.mod["main"]
        return out if valid_gpu_schedule(out) else None
    apply.__name__ = f"dlight_{type(rule).__name__}"
    apply.rule_name = type(rule).__name__
    return apply


def dlight_rules():
    """The dlight rules of the cuda pipeline (``registry.py``), wrapped as tvmsym rules."""
    from tvm.s_tir import dlight as dl
    return {name: _dlight_rule(rule) for name, rule in (
        ("Matmul", dl.gpu.Matmul()), ("GEMV", dl.gpu.GEMV()), ("Reduction", dl.gpu.Reduction()),
        ("GeneralReduction", dl.gpu.GeneralReduction()), ("Fallback", dl.gpu.Fallback()))}


def schedule_for_cuda(func, name, ctx):
    """Schedule ``func`` with the cuda rules; returns (PrimFunc, rule name) or raises."""
    from .registry import rules
    ctx = as_context(ctx)
    for rule in rules("cuda"):
        out = rule(func, ctx)
        if out is not None:
            return check_bound(out, name), getattr(rule, "rule_name", rule.__name__)
    st = ctx.step
    op = type(st.node.op).__mro__[2].__name__ if st is not None else "?"
    raise UnscheduledKernelError(
        f"kernel {name} ({st.node.op if st is not None else '?'}): no GPU schedule rule accepted "
        f"it; tvmsym.schedules.gpu.host_only({op}) keeps this op on the host under device=cuda")
