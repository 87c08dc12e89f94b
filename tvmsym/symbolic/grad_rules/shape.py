"""Gradients of shape ops: reshape/flatten, join/split, repeat/tile, alloc, diag, squeeze, flip, roll.

Shape arguments (int vectors and scalars) get no gradient.
"""
from __future__ import annotations

from ..grad import is_continuous, register_grad, undefined
from ..ops.reduce import sum as _sum
from ..ops.shape import (
    Alloc,
    AllocDiag,
    ExtractDiag,
    Flatten,
    Flip,
    Join,
    Repeat,
    Reshape,
    Roll,
    SpecifyShape,
    Split,
    Squeeze,
    Tile,
    as_shape_vector,
    const_value,
    shape,
    shape_i,
    shape_tuple,
)


def _like(gz, x):
    """gz reshaped to x's shape (same number of elements)."""
    return Reshape(x.ndim)(gz, shape(x))


@register_grad(Reshape)
def reshape_grad(node, inputs, gouts):
    (x, _), (gz,) = inputs, gouts
    return [_like(gz, x), None]


@register_grad(SpecifyShape)
def specify_shape_grad(node, inputs, gouts):
    return [gouts[0]]


@register_grad(Flatten, Squeeze)
def flatten_grad(node, inputs, gouts):
    return [_like(gouts[0], inputs[0])]


@register_grad(Join)
def join_grad(node, inputs, gouts):
    (gz,), ax = gouts, node.op.axis
    if len(inputs) == 1:
        return [gz]
    sizes = as_shape_vector([shape_i(t, ax) for t in inputs])
    pieces = Split(len(inputs), ax)(gz, sizes)
    return [p if is_continuous(t) else None for p, t in zip(pieces, inputs)]


@register_grad(Split)
def split_grad(node, inputs, gouts):
    return [Join(node.op.axis)(*gouts), None]


@register_grad(Repeat)
def repeat_grad(node, inputs, gouts):
    (x, rep), (gz,), op = inputs, gouts, node.op
    r = const_value(rep)
    if r is None or r.size != 1:
        return [undefined(op, 0, "only a constant scalar number of repeats is differentiable"), None]
    r = int(r.reshape(-1)[0])
    if op.axis is None:
        g = Reshape(2)(gz, as_shape_vector([-1, r]))
        return [_like(_sum(g, axis=1), x), None]
    ax = op.axis
    dims = list(shape_tuple(x))
    g = Reshape(x.ndim + 1)(gz, as_shape_vector(dims[:ax] + [dims[ax], r] + dims[ax + 1:]))
    return [_sum(g, axis=ax + 1), None]


@register_grad(Tile)
def tile_grad(node, inputs, gouts):
    (x,), (gz,), reps = inputs, gouts, node.op.reps
    pad = len(reps) - x.ndim
    dims = [1] * pad + list(shape_tuple(x))
    inter = []
    for r, d in zip(reps, dims):
        inter += [r, d]
    g = Reshape(2 * len(reps))(gz, as_shape_vector(inter))
    g = _sum(g, axis=list(range(0, 2 * len(reps), 2)))      # -> padded x shape
    if pad:
        g = _like(g, x)
    return [g]


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
    from ..ops.shape import arange, zeros_like
    from ..ops.subtensor import set_subtensor
    (x,), (gz,) = inputs, gouts
    k = node.op.offset
    i = arange(shape_i(gz, 0))
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return [set_subtensor(zeros_like(x)[rows, cols], gz)]


@register_grad(Flip)
def flip_grad(node, inputs, gouts):
    return [Flip(node.op.axes)(gouts[0])]


@register_grad(Roll)
def roll_grad(node, inputs, gouts):
    return [Roll(-node.op.shift, node.op.axis)(gouts[0])]
