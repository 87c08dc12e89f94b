"""Gradients of reshape, flatten/squeeze, join and split."""

from __future__ import annotations

from ..grad import is_continuous, register_grad
from ..ops.rearrange import Squeeze
from ..ops.reshape import Flatten, Join, Reshape, Split
from ..ops.shape import as_shape_vector, shape_i
from .shape import _like


@register_grad(Reshape)
def reshape_grad(node, inputs, gouts):
    (x, _), (gz,) = inputs, gouts
    return [_like(gz, x), None]


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
