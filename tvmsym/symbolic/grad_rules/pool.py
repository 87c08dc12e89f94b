"""Gradients of pooling (Theano's rules).

Pool max:       gx = MaxPoolGrad(x, Pool(x), gz)         (every tied max receives gz)
Pool sum / avg: gx = AveragePoolGrad(x, gz)
MaxPoolGrad:    d gz = DownsampleFactorMaxGradGrad(x, maxout, g); x and maxout get zeros
AveragePoolGrad: d gz = Pool(g) in the same mode (its adjoint); x gets zeros
DownsampleFactorMaxGradGrad: d ggx = MaxPoolGrad(x, maxout, g)
"""
from __future__ import annotations

from ..grad import register_grad, symbolic_zero
from ..ops.pool import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad, Pool


def _args(op):
    return dict(ws=op.ws, ignore_border=op.ignore_border, stride=op.stride, pad=op.pad, ndim=op.ndim)


@register_grad(Pool)
def pool_grad(node, inputs, gouts):
    (x,), (gz,), op = inputs, gouts, node.op
    if op.mode == "max":
        return [MaxPoolGrad(**_args(op))(x, node.outputs[0], gz)]
    return [AveragePoolGrad(mode=op.mode, **_args(op))(x, gz)]


@register_grad(DownsampleFactorMaxGradGrad)
def max_pool_grad_grad_grad(node, inputs, gouts):
    (x, maxout, _), (g,), op = inputs, gouts, node.op
    return [symbolic_zero(x), symbolic_zero(maxout), MaxPoolGrad(**_args(op))(x, maxout, g)]


@register_grad(AveragePoolGrad)
def average_pool_grad_grad(node, inputs, gouts):
    (x, _), (g,), op = inputs, gouts, node.op
    return [symbolic_zero(x), Pool(mode=op.mode, **_args(op))(g)]


@register_grad(MaxPoolGrad)
def max_pool_grad_grad(node, inputs, gouts):
    (x, maxout, _), (g,), op = inputs, gouts, node.op
    return [symbolic_zero(x), symbolic_zero(maxout), DownsampleFactorMaxGradGrad(**_args(op))(x, maxout, g)]
