"""The schedule rules of each target, in the order they are tried: written here, in one place.

A rule is ``rule(func, ctx) -> PrimFunc | None``: it schedules the kernel ``func`` or
declines (None), and the next one is tried; ``ctx`` is a ``common.ScheduleContext``.
As TVM's dlight pipelines (``ApplyDefaultSchedule(Matmul(), GEMV(), ..., Fallback())``),
the most specific rules come first and a catch-all last.

``register_rule(kind, rule, first=False)`` adds a rule from another module (a new op
family): ``first=True`` before the pipeline, else after it (tried when every rule of the
pipeline declined).
"""
from __future__ import annotations

from .common import ScheduleContext, as_context  # noqa: F401  (the rules' context)


def _llvm():
    from .cpu import elementwise_rule
    from .cpu_conv import conv_rule
    from .cpu_indexing import indexing_rule
    from .cpu_matmul import matmul_rule
    from .cpu_pool import pool_rule
    from .cpu_reduce import cum_rule, reduce_rule, sibling_reduce_rule, softmax_rule
    from .mrg import mrg_cpu_rule
    from .cpu_gemv import gemv_rule     # (prod) matrix.vector, vector.matrix, small/batched products
    return [
        pool_rule,          # pooling windows: rows parallel, window unrolled
        conv_rule,          # convolutions: im2col-free tiles, output channels vectorized
        mrg_cpu_rule,       # MRG31k3p streams, inverse_permutation: kept as built (parallel)
        cum_rule,           # CumOp: topi's scan, kept as built
        reduce_rule,        # CAReduce, Argmax: rfactor to vector partials, rows/chunks parallel
        sibling_reduce_rule,  # SiblingReduce: each part as reduce_rule, one kernel
        softmax_rule,       # (Log)Softmax: one parallel loop over rows, passes under it
        indexing_rule,      # subtensor/join/tile...: last axis vectorized, rows parallel
        gemv_rule,          # (prod) untiled float products: row stream / dot rows, main + tail
        matmul_rule,        # Dot/MatMul/TensorDot/FusedDot: packed register tiles, matvec
        elementwise_rule,   # any spatial kernel: inline, flatten, vectorize + tail, parallel
    ]


def _cuda():
    from .gpu import dlight_rules, full_reduction_rule, injective_rule, reduction_rule
    from .mrg import mrg_cuda_rule
    dl = dlight_rules()
    return [
        mrg_cuda_rule,          # MRG31k3p: one stream per thread, lowered again bound
        injective_rule,         # spatial kernels: bind to blockIdx/threadIdx
        full_reduction_rule,    # a reduction to one value: two stages (chunks, then one block)
        dl["Matmul"], dl["GEMV"], dl["Reduction"], dl["GeneralReduction"],
        reduction_rule,         # one reduction block: cross-thread rows
        dl["Fallback"],         # anything else
    ]


PIPELINES = {"llvm": _llvm, "cuda": _cuda}
FIRST = {"llvm": [], "cuda": []}     # rules registered with first=True (newest first)
LAST = {"llvm": [], "cuda": []}      # rules registered after the pipeline
_BUILT = {}


def register_rule(kind, rule, first=False):
    if first:
        FIRST[kind].insert(0, rule)
    else:
        LAST[kind].append(rule)
    _BUILT.pop(kind, None)
    return rule


def rules(kind):
    """The rules of target ``kind`` in the order they are tried."""
    if kind not in _BUILT:
        _BUILT[kind] = FIRST[kind] + PIPELINES[kind]() + LAST[kind]
    return _BUILT[kind]


def schedule(func, kind, ctx=None):
    """Apply the first rule for ``kind`` that accepts ``func``; returns a PrimFunc/IRModule."""
    ctx = as_context(ctx)
    for rule in rules(kind):
        out = rule(func, ctx)
        if out is not None:
            return out
    return func
