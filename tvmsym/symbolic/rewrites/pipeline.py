"""The rewrite pipeline: one readable, ordered list of named stages.

Each stage is ``(name, fn(fgraph, excluding=...), levels)``; ``levels`` are the
optimizer levels that run it (``fast_run``, ``fast_compile``; ``None`` for a
stage that must run even with ``Mode(optimizer=None)``).  ``excluding`` holds
stage names, rule names and tags (``optimizer_excluding=fusion:inplace``).
"""
from __future__ import annotations

import time

from .blas import dot_epilogue
from .canonicalize import canonicalize
from .constfold import constant_folding
from .dimshuffle import merge_dimshuffles
from .fusion import fusion
from .inplace import inplace
from .merge import merge
from .placement import place
from .stabilize import stabilize
from .lazy_ifelse import lazy_ifelse
from ..ops.corr import conv_epilogue, conv_to_corr
from .complex import split_complex

RUN = ("fast_run",)
BOTH = ("fast_run", "fast_compile")

STAGES = [
    ("merge", merge, BOTH),                      # common subexpressions, identical constants
    ("split_complex", split_complex, BOTH + (None,)),  # complex ops -> real ops on (re, im) parts
    ("constfold", constant_folding, BOTH),       # size cap: config.constant_folding_limit
    ("dimshuffle", merge_dimshuffles, BOTH),     # DimShuffle(DimShuffle(x)) -> one; trivial -> x
    ("canonicalize", canonicalize, RUN),         # x*1, x+0, --x, ...
    ("stabilize", stabilize, RUN),               # log(1+exp(x)) -> softplus(x), ...
    ("merge_again", merge, RUN),                 # rules above may build duplicates
    ("conv", conv_to_corr, BOTH),                # AbstractConv2d -> CorrMM (explicit filter flip)
    ("fusion", fusion, BOTH),                    # Elemwise chains -> Elemwise{Composite}
    ("dot_epilogue", dot_epilogue, RUN),         # dot + the Elemwise reading it -> FusedDot (cpu)
    ("conv_epilogue", conv_epilogue, RUN),       # conv [+ max pool] + bias/activation -> FusedConv (cpu)
    ("lazy_ifelse", lazy_ifelse, BOTH + (None,)),  # ifelse branches -> functions: only one runs
    ("placement", place, BOTH + (None,)),        # device=cuda only: GPU ops + transfers
    ("inplace", inplace, RUN),                   # last: buffer reuse decisions
]


def stage_names():
    return [name for name, _, _ in STAGES]


def optimize(fgraph, optimizer="fast_run", excluding=(), including=()):
    """Run, in order, the stages of ``optimizer`` (None, 'fast_compile', 'fast_run')."""
    excluding = set(excluding)
    fgraph.stage_times = {}     # stage name -> seconds (bench/bench_compile.py prints them)
    for name, fn, levels in STAGES:
        if optimizer not in levels and not (name in including and optimizer is not None):
            continue
        if name in excluding:
            continue
        t0 = time.perf_counter()
        fn(fgraph, excluding=excluding)
        fgraph.stage_times[name] = time.perf_counter() - t0
    return fgraph

# tvmsym.distributed: independent allreduces of one op and dtype become one message
# (before fusion, so the packing around the message fuses with its neighbours)
from .collectives import bucket_collectives  # noqa: E402
STAGES.insert(stage_names().index("fusion"), ("collectives", bucket_collectives, RUN))

# --- gof helper (issue 14): second(cost, 1.0) of theano.grad -> 1.0 before anything else
from .useless_fill import useless_fill  # noqa: E402
STAGES.insert(0, ("useless_fill", useless_fill, BOTH))
# Theano's ShapeFeature: x.shape from input shapes, so a value read for its shape alone is
# never computed (a speed rule: the value's kernel is gone); before constant folding
from .shape_feature import shape_feature  # noqa: E402
STAGES.insert([n for n, _, _ in STAGES].index("constfold"), ("shape_feature", shape_feature, BOTH))

# Theano's names of rewrites that user code excludes (Mode.excluding('local_elemwise_fusion'))
THEANO_ALIASES = {"local_elemwise_fusion": "fusion", "elemwise_fusion": "fusion",
                  "constant_folding": "constfold", "canonicalize": "canonicalize",
                  "stabilize": "stabilize", "specialize": "stabilize", "merge": "merge",
                  "local_fill_to_alloc": "useless_fill", "local_useless_fill": "useless_fill",
                  "ShapeOpt": "shape_feature", "local_shape_to_shape_i": "shape_feature"}
_optimize_stages = optimize


def optimize(fgraph, optimizer="fast_run", excluding=(), including=()):  # noqa: F811
    """Run, in order, the stages of ``optimizer``; Theano's rewrite names (THEANO_ALIASES)
    select the stage that does their job."""
    excluding = set(excluding) | {THEANO_ALIASES[n] for n in excluding if n in THEANO_ALIASES}
    including = set(including) | {THEANO_ALIASES[n] for n in including if n in THEANO_ALIASES}
    return _optimize_stages(fgraph, optimizer, excluding, including)

# scan helper (issue 13): a TensorDot that is a matrix product of reshaped operands becomes a Dot
from .tensordot import tensordot_as_dot  # noqa: E402
STAGES.insert(stage_names().index("merge") + 1, ("tensordot_as_dot", tensordot_as_dot, RUN))
# scan helper (issue 13): acc + dot(a, b) as one kernel, when a mode includes it (scan gradients)
from .acc_epilogue import acc_epilogue  # noqa: E402
STAGES.insert(stage_names().index("dot_epilogue"), ("acc_epilogue", acc_epilogue, ()))
# scan helper (issue 13): slices' gradients summed into zeros -> one join and one increment
from .inc_join import inc_join  # noqa: E402
STAGES.insert(stage_names().index("fusion"), ("inc_join", inc_join, RUN))
# arch (issue 12): reductions of one input over the same axes -> one multi-output kernel (cpu)
from .sibling_reduce import sibling_reductions  # noqa: E402
STAGES.insert(stage_names().index("dot_epilogue") + 1, ("sibling_reductions", sibling_reductions, RUN))
# lstm helper (issue 13): a weight's gradient through a scan as one product after the loop
from .scan_weights import scan_weight_grads  # noqa: E402
# (only when a mode includes it: tvmsym's K = steps x batch product with a transposed operand
# runs no faster today than the loop's per-step products, LSTM 3-8% slower in total with it)
STAGES.insert(stage_names().index("merge") + 1, ("scan_weight_grads", scan_weight_grads, ()))
# lstm helper (issue 13): the forward loop stores the values its gradient reads (Theano's scan)
from .scan_saved import scan_saved  # noqa: E402
STAGES.insert(stage_names().index("scan_weight_grads") + 1, ("scan_saved", scan_saved, RUN))
# lstm helper (issue 13): inc_subtensor(zeros[idx], y) as rows summed per index (same bits as add.at)
from .zeros_scatter import zeros_scatter  # noqa: E402
STAGES.insert(stage_names().index("scan_saved") + 1, ("zeros_scatter", zeros_scatter, RUN))
# lstm helper (issue 13): a scan body's dot(x_t, W) of a sequence as one product before the loop
# (only when a mode includes it: the reshapes around the products are copies today, W10 lost 5-10%)
from .scan_hoist_dot import scan_hoist_dot  # noqa: E402
STAGES.insert(stage_names().index("scan_weight_grads"), ("scan_hoist_dot", scan_hoist_dot, ()))
# w6 helper (issue 13): grad(mean(f(x)))'s element count reads x, so f(x) keeps one reader
# and runs inside the mean; f(broadcast(c)) -> broadcast(f(c)) fuses f with c's producer
# (W6's loss and its gradient's -1/n: two kernels fewer)
from .small_kernels import count_source, unary_before_broadcast  # noqa: E402
STAGES.insert(stage_names().index("fusion"), ("count_source", count_source, RUN))
STAGES.insert(stage_names().index("fusion"), ("unary_before_broadcast", unary_before_broadcast, RUN))
# rnn helper (issue 13): a scan gradient fed inc_subtensor(zeros_like(hs)[k], g) takes g itself
from .scan_grad_rows import scan_grad_rows  # noqa: E402
STAGES.insert(stage_names().index("merge_again") + 1, ("scan_grad_rows", scan_grad_rows, RUN))
