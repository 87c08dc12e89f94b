"""Gradient modifiers: identity in the forward pass, only their gradient differs.

``zero_grad`` (a zero gradient, the path stays connected), ``disconnected_grad`` and its
deprecated Theano name ``consider_constant`` (no gradient flows: disconnected), and
``grad_clip`` (the gradient clipped to an interval).  They are elementwise scalar ops
derived from ``identity``, so they lower (and fuse) as identity; their gradient rules are
in ``grad_rules/modifiers.py``.
"""
from __future__ import annotations

from . import scalar as ps
from .elemwise import Elemwise


class _GradModifier(type(ps.identity)):
    """Identity in the forward pass; only its gradient differs (lowered as identity)."""
    nin = 1

    def __init__(self):
        pass


class ZeroGrad(_GradModifier):
    name = "zero_grad"


class DisconnectedGrad(_GradModifier):
    name = "disconnected_grad"


class ConsiderConstant(_GradModifier):
    name = "consider_constant"


class GradClip(_GradModifier):
    __props__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = float(lo), float(hi)
        self.name = f"grad_clip{{{self.lo}, {self.hi}}}"


def _modifier(sop, x):
    from .basic import as_tensor_variable
    return Elemwise(sop)(as_tensor_variable(x))


def zero_grad(x):
    """``x`` in the forward pass; its gradient is zero (the path stays connected)."""
    return _modifier(ZeroGrad(), x)


def disconnected_grad(x):
    """``x`` in the forward pass; no gradient flows through it (disconnected)."""
    return _modifier(DisconnectedGrad(), x)


def consider_constant(x):
    """Deprecated Theano name of :func:`disconnected_grad`."""
    return _modifier(ConsiderConstant(), x)


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward pass; its gradient is clipped to [lower_bound, upper_bound]."""
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower_bound {lower_bound} > upper_bound {upper_bound}")
    return _modifier(GradClip(lower_bound, upper_bound), x)
