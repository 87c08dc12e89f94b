"""Which rows are narrow: a static row length shorter than one vector register (w6).

A kernel over ``[rows, C]`` with such a row (a classifier's 10 classes) is scheduled with
the rows as the vector loop (``schedules/cpu_narrow.py``); (log-)softmax over such rows is
lowered as plain per-row reductions for it (``generic_rules.lower_softmax_generic``).
"""
from __future__ import annotations

from .. import _tvm

tirx = _tvm.tirx


#: at most this many lanes: a row-vector iteration unrolls C < lanes strided accesses per
#: operand (1-byte types have 64 lanes on AVX-512: 63 x 64 scattered bytes per iteration
#: made LLVM run for minutes)
MAX_LANES = 16


def narrow(extent, lanes):
    """A static row length ``extent`` with 1 < extent < ``lanes`` <= ``MAX_LANES``."""
    if isinstance(extent, tirx.IntImm):
        extent = int(extent)
    if not isinstance(extent, int) or lanes > MAX_LANES:
        return False
    return 1 < extent < lanes
