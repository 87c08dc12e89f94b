"""Gradients of repeat and tile."""

from __future__ import annotations

from ..grad import register_grad, undefined
from ..ops.reduce import sum as _sum
from ..ops.repeat import Repeat, Tile
from ..ops.reshape import Reshape
from ..ops.shape import as_shape_vector, const_value, shape_tuple
from .shape import _like


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
