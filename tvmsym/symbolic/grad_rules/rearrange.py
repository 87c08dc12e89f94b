"""Gradients of flip and roll."""

from __future__ import annotations

from ..grad import register_grad
from ..ops.rearrange import Flip, Roll


@register_grad(Flip)
def flip_grad(node, inputs, gouts):
    return [Flip(node.op.axes)(gouts[0])]


@register_grad(Roll)
def roll_grad(node, inputs, gouts):
    return [Roll(-node.op.shift, node.op.axis)(gouts[0])]
