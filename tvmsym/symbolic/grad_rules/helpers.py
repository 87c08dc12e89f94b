"""Gradients of the helper scalar ops (``ops/helpers.py``)."""
from __future__ import annotations

from ..basic import sqrt
from ..grad import register_scalar_grad
from ..ops import helpers as h


@register_scalar_grad(type(h.ps_arctan2))
def _arctan2(op, inp, z, gz):
    a, b = inp
    d = a * a + b * b
    return [gz * b / d, -gz * a / d]


@register_scalar_grad(type(h.ps_arccosh))
def _arccosh(op, inp, z, gz):
    x = inp[0]
    return [gz / sqrt(x * x - 1)]


@register_scalar_grad(type(h.ps_arcsinh))
def _arcsinh(op, inp, z, gz):
    x = inp[0]
    return [gz / sqrt(x * x + 1)]


@register_scalar_grad(type(h.ps_arctanh))
def _arctanh(op, inp, z, gz):
    x = inp[0]
    return [gz / (1 - x * x)]

