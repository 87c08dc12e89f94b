"""Narrow rows on the CPU: kernels over ``[rows, C]`` with a short static row (C < lanes).

A classifier's head (10 classes, a batch of rows) runs its elementwise kernels and its
(log-)softmax over rows shorter than one vector register.  Vectorizing along the row
then leaves no whole vector: every element took the scalar tail, and each ``exp`` was a
scalar libm call (W6's ``Composite{(i2 - (exp(i0) * i1))}`` and ``LogSoftmax`` over
128 x 10 float32: ~7 us each per core, ~5 ns per element).  Here the ROW loop is the
vector loop instead: ``lanes`` rows at a time, the short row loop unrolled inside, so a
row's scalars (a broadcast operand, the row's max and sum) are one vector and ``exp``
runs ``lanes`` rows per call; the row elements are strided loads.  Rows left over (fewer
than ``lanes``) run the same body as scalars.  Each row's arithmetic, and the order of
its reductions, is the scalar code's: the results do not depend on the layout chosen.

``narrow(extent, lanes)`` decides; ``rows_vectorized`` rewrites a scheduled function's
row loop (generic kernels: the row count is symbolic, split by construction as
``cpu_generic.main_and_tail`` does).
"""
from __future__ import annotations

from .. import _tvm
from ..lowering.narrow_rows import narrow  # noqa: F401  (re-exported)

tirx = _tvm.tirx
tvm_ffi = _tvm.tvm_ffi
s_tir = _tvm.s_tir


def _unroll_inner(stmt):
    """Every loop below the row loop unrolled (static row loops and reduction loops)."""
    def unroll(s):
        if s.kind == tirx.ForKind.SERIAL and isinstance(s.extent, tirx.IntImm):
            return tirx.For(s.loop_var, s.min, s.extent, tirx.ForKind.UNROLLED, s.body,
                            s.thread_binding, s.annotations)
        return s
    return tvm_ffi.structural_map(stmt, (tirx.For, unroll), order="post")


def rows_vectorized(func, row_var, lanes, size, threshold):
    """``func`` with the loop of ``row_var`` (a row loop whose body computes whole rows of
    a static narrow length) as ``lanes`` rows per vector iteration plus a scalar tail, the
    vector loop in parallel when ``size >= threshold`` (a run-time test when symbolic)."""
    from .cpu_generic import _guarded_threshold, _replace_loop, _ssa, main_and_tail

    def make(loop):
        body = _unroll_inner(loop.body)
        loop = tirx.For(loop.loop_var, loop.min, loop.extent, tirx.ForKind.SERIAL, body)
        par = main_and_tail(loop, lanes, True)
        ser = main_and_tail(loop, lanes, False)
        return _guarded_threshold(size, threshold, par, ser)
    return _ssa(_replace_loop(func, row_var, make))


def softmax_rows(func, ctx, parts, threshold):
    """(Log)Softmax lowered narrow (``rules/nnet.lower_softmax``'s computes: ``parts`` are
    its per-row blocks, producers first, then the output block ``ctx.outputs[0]``): every
    part under the row loop, the reductions' inits split off, then ``rows_vectorized``."""
    from .common import parts_under_rows
    name = ctx.outputs[0]
    sch = s_tir.Schedule(func)
    out, row = parts_under_rows(sch, name, parts)
    for p in parts:
        b = sch.get_sblock(p)
        if any(iv.iter_type != 0 for iv in sch.get(b).iter_vars):
            sch.decompose_reduction(b, sch.get_loops(b)[-1])
    rl = sch.get(row)
    size = rl.extent * int(sch.get(sch.get_loops(out)[-1]).extent)
    lanes = ctx.lanes(ctx.out_dtype)
    return rows_vectorized(sch.mod["main"], rl.loop_var, lanes, size, threshold)
