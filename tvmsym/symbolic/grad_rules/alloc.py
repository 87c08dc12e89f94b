"""Gradients of alloc and the diagonal ops."""

from __future__ import annotations

from ..grad import register_grad
from ..ops.alloc import Alloc, AllocDiag, ExtractDiag
from ..ops.reduce import sum as _sum
from ..ops.shape import shape_i


@register_grad(Alloc)
def alloc_grad(node, inputs, gouts):
    (v, *dims), (gz,) = inputs, gouts
    lead = gz.ndim - v.ndim
    if lead:
        gz = _sum(gz, axis=list(range(lead)))
    return [gz] + [None] * len(dims)          # the engine sums v's broadcastable dims


@register_grad(AllocDiag)
def allocdiag_grad(node, inputs, gouts):
    return [ExtractDiag(node.op.offset)(gouts[0])]


@register_grad(ExtractDiag)
def extractdiag_grad(node, inputs, gouts):
    # gz written on diagonal k of zeros shaped like x (x may be non-square, where
    # AllocDiag's square (n + |k|) result would not match x's shape)
    from ..ops.alloc import arange, zeros_like
    from ..ops.subtensor import set_subtensor
    (x,), (gz,) = inputs, gouts
    k = node.op.offset
    i = arange(shape_i(gz, 0))
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return [set_subtensor(zeros_like(x)[rows, cols], gz)]
