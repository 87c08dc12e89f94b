"""Gradients of Softmax and LogSoftmax.

softmax:     gx = (gz - sum(gz * sm)) * sm
log_softmax: gx = gz - softmax(x) * sum(gz)

``log(softmax(x))`` (the cross-entropy of a softmax) differentiates log into
``g / sm``; multiplying that back by ``sm`` would give inf * 0 where sm underflows
to 0, so a term ``a / sm`` of gz contributes ``a`` directly (Theano reaches the
same graph with its crossentropy_softmax rewrites).
"""
from __future__ import annotations

from .. import scalar as ps
from ..basic import exp
from ..elemwise import Elemwise
from ..grad import register_grad
from ..ops.nnet import LogSoftmax, Softmax
from ..ops.reduce import sum as _sum


def _terms(g):
    """The summands of g (through Elemwise add)."""
    node = g.owner
    if node is not None and isinstance(node.op, Elemwise) and type(node.op.scalar_op) is type(ps.add):
        return _terms(node.inputs[0]) + _terms(node.inputs[1])
    return [g]


def _times_sm(term, sm):
    """term * sm, cancelling a division by sm (``a / sm * sm -> a``)."""
    node = term.owner
    if node is not None and isinstance(node.op, Elemwise) \
            and type(node.op.scalar_op) is type(ps.true_div) and node.inputs[1] is sm \
            and node.inputs[0].broadcastable == term.broadcastable:
        return node.inputs[0]
    return term * sm


@register_grad(Softmax)
def softmax_grad(node, inputs, gouts):
    (gz,), sm = gouts, node.outputs[0]
    if type(node.op) is LogSoftmax:
        return logsoftmax_grad(node, inputs, gouts)
    gsm = None
    for t in _terms(gz):
        v = _times_sm(t, sm)
        gsm = v if gsm is None else gsm + v
    return [gsm - sm * _sum(gsm, axis=node.op.axis, keepdims=True)]


@register_grad(LogSoftmax)
def logsoftmax_grad(node, inputs, gouts):
    (gz,), lsm = gouts, node.outputs[0]
    return [gz - exp(lsm) * _sum(gz, axis=node.op.axis, keepdims=True)]
