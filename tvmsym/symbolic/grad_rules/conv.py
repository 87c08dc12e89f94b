"""Gradients of the convolutions: each is a convolution itself (Theano's abstract_conv rules).

conv(img, kern):            d img  = gradInputs(kern, gz, img spatial shape)
                            d kern = gradWeights(img, gz, kern spatial shape)
gradWeights(img, top, s):   d img  = gradInputs(g, top, img shape);  d top = conv(img, g)
gradInputs(kern, top, s):   d kern = gradWeights(g, top, kern shape); d top = conv(g, kern)
The shape inputs get no gradient.
"""
from __future__ import annotations

from ..basic import cast
from ..grad import register_grad
from ..ops.conv import AbstractConv, AbstractConv_gradInputs, AbstractConv_gradWeights, spatial_shape


def _cast(g, like):
    return g if g.type.dtype == like.type.dtype else cast(g, like.type.dtype)


@register_grad(AbstractConv)
def conv_grad(node, inputs, gouts):
    (img, kern), (gz,), op = inputs, gouts, node.op
    n = op.convdim
    gi = op.clone_with(AbstractConv_gradInputs)(kern, gz, spatial_shape(img, n))
    gk = op.clone_with(AbstractConv_gradWeights)(img, gz, spatial_shape(kern, n))
    return [_cast(gi, img), _cast(gk, kern)]


@register_grad(AbstractConv_gradWeights)
def conv_grad_weights_grad(node, inputs, gouts):
    (img, top, _), (g,), op = inputs, gouts, node.op
    n = op.convdim
    gi = op.clone_with(AbstractConv_gradInputs)(g, top, spatial_shape(img, n))
    gt = op.clone_with(AbstractConv)(img, g)
    return [_cast(gi, img), _cast(gt, top), None]


@register_grad(AbstractConv_gradInputs)
def conv_grad_inputs_grad(node, inputs, gouts):
    (kern, top, _), (g,), op = inputs, gouts, node.op
    n = op.convdim
    gk = op.clone_with(AbstractConv_gradWeights)(g, top, spatial_shape(kern, n))
    gt = op.clone_with(AbstractConv)(g, kern)
    return [_cast(gk, kern), _cast(gt, top), None]
