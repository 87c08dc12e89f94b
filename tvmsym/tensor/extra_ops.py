"""``theano.tensor.extra_ops``: numpy helpers (diff, bincount, searchsorted, unique, ...).

Graphs of lowered ops where the output size is known when the function is built; host
steps through numpy where it depends on the data (unique, bincount, compress's indices) or
for lookups (searchsorted, (un)ravel_index).  See ``symbolic/ops/extra_ops.py``.
"""
from ..symbolic.ops.extra_ops import (  # noqa: I001  (Theano's names, grouped)
    BinCountOp, CpuContiguous, CumOp, RavelMultiIndex, SearchsortedOp, Unique, UnravelIndex,
    bartlett, bincount, compress, cpu_contiguous, cumprod, cumsum, diff, fill_diagonal,
    fill_diagonal_offset, ravel_multi_index, repeat, searchsorted, squeeze, to_one_hot, unique,
    unravel_index)
from ..symbolic.ops.shape import Repeat as RepeatOp

# Theano's op instances of these (here graphs of other ops): the same callables
bartlett_ = bartlett
fill_diagonal_ = fill_diagonal
fill_diagonal_offset_ = fill_diagonal_offset

__all__ = ["RepeatOp", "bartlett_", "fill_diagonal_", "fill_diagonal_offset_", "BinCountOp",
           "CpuContiguous", "CumOp", "RavelMultiIndex", "SearchsortedOp", "Unique",
           "UnravelIndex", "bartlett", "bincount", "compress", "cpu_contiguous", "cumprod",
           "cumsum", "diff", "fill_diagonal", "fill_diagonal_offset", "ravel_multi_index",
           "repeat", "searchsorted", "squeeze", "to_one_hot", "unique", "unravel_index"]
