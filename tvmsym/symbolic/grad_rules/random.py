"""Gradient of random draws: none through the state or the size; undefined for the
distribution's parameters (as Theano's RandomFunction): asking for d(draw)/d(low) raises."""
from __future__ import annotations

from ..grad import is_continuous, register_grad, undefined
from ..ops.random import RandomFunction


@register_grad(RandomFunction)
def random_grad(node, inputs, gouts):
    why = "no gradient is defined through a random draw (its parameters)"
    return [None, None] + [undefined(node.op, k, why) if is_continuous(v) else None
                           for k, v in enumerate(inputs[2:], start=2)]
