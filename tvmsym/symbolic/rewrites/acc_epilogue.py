"""``acc_epilogue``: ``acc + dot(a, b)`` -> ``FusedDot{i1 + i0}(a, b, acc)``, a full-matrix
operand included: the same fold as ``dot_epilogue`` (``blas.fold_epilogues``), as a stage
of its own.

Run only when a mode includes it: the reverse loop of a scan gradient sums each step's
weight gradient into an accumulator (``Scan`` inner graph ``"vjp_acc"``), a matrix small
enough to stay in cache, where a separate pass over it cost as much as a fifth of the
product (W10: 10.8 us for a 256x256 ``Add`` after a 49 us product, per step).
"""
from __future__ import annotations

from .blas import fold_epilogues


def acc_epilogue(fgraph, excluding=()):
    """Fold each ``Elemwise`` that reads one ``Dot`` (only) into it; returns the count."""
    return fold_epilogues(fgraph, "acc_epilogue")
