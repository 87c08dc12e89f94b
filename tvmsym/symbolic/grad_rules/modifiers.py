"""Gradients of the gradient modifiers (``symbolic/grad_modifiers.py``)."""
from ..grad import register_scalar_grad, zeros_like
from ..grad_modifiers import ConsiderConstant, DisconnectedGrad, GradClip, ZeroGrad


@register_scalar_grad(ZeroGrad)
def _zero_grad_rule(op, inp, z, gz):
    return [zeros_like(inp[0])]


@register_scalar_grad(DisconnectedGrad, ConsiderConstant)
def _disconnected_rule(op, inp, z, gz):
    return [None]


@register_scalar_grad(GradClip)
def _grad_clip_rule(op, inp, z, gz):
    from ..basic import clip
    return [clip(gz, op.lo, op.hi)]
