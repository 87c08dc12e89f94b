"""Gradients of the gradient modifiers (``symbolic/grad_modifiers.py``)."""
from ..grad import register_scalar_grad, symbolic_zero
from ..grad_modifiers import ConsiderConstant, DisconnectedGrad, GradClip, ZeroGrad


@register_scalar_grad(ZeroGrad)
def _zero_grad_rule(op, inp, z, gz):
    return [symbolic_zero(inp[0])]      # connected, never materialized


@register_scalar_grad(DisconnectedGrad, ConsiderConstant)
def _disconnected_rule(op, inp, z, gz):
    return [None]


@register_scalar_grad(GradClip)
def _grad_clip_rule(op, inp, z, gz):
    from ..basic import clip
    return [clip(gz, op.lo, op.hi)]
