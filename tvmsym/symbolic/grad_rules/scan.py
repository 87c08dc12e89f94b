"""Gradient of scan: a reverse loop over the body's vector-Jacobian product (``ScanGrad``).

The gradient of each step's inputs is the body's gradient given the gradient of that
step's outputs: what the later steps sent back to it (through the recurrent outputs'
taps) plus the cost's own gradient of that step.  ``ScanGrad`` runs that loop from the
last step to the first, summing what the steps give the non-sequences and the
initial values.  A scan whose fn updates shared variables has no gradient here.
"""
from __future__ import annotations

from ..grad import is_continuous, register_grad, undefined, zeros_like
from ..ops.scan import Scan, ScanGrad


@register_grad(Scan)
def scan_grad(node, inputs, gouts):
    op = node.op
    if op.n_shared:
        return [None] + [undefined(op, k, "scan with shared-variable updates in fn has no "
                                   "gradient") if is_continuous(v) else None
                         for k, v in enumerate(inputs[1:], 1)]
    wrt = [k for k, v in enumerate(inputs) if k > 0 and is_continuous(v)]
    if not wrt:
        return [None] * len(inputs)
    outs = node.outputs[:op.n_outs]
    gys = [g if g is not None else zeros_like(o) for g, o in zip(gouts[:op.n_outs], outs)]
    gs = ScanGrad(op, wrt)(*inputs, *outs, *gys)
    gs = gs if isinstance(gs, list) else [gs]
    res = [None] * len(inputs)
    for k, g in zip(wrt, gs):
        res[k] = g
    return res


@register_grad(ScanGrad)
def scan_grad_grad(node, inputs, gouts):
    return [undefined(node.op, k, "the gradient of a scan's gradient (second order) is not "
                      "implemented") if is_continuous(v) else None for k, v in enumerate(inputs)]
