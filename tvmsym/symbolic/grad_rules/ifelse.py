"""Gradient of ifelse: the output gradient goes to the taken branch, zeros to the other
(itself an ifelse, so only the taken branch's gradient is computed)."""
from __future__ import annotations

from ..grad import is_continuous, register_grad, zeros_like
from ..ops.ifelse import IfElse


@register_grad(IfElse)
def ifelse_grad(node, inputs, gouts):
    op = node.op
    n = op.n_outs
    cond, ts, fs = inputs[0], inputs[1:1 + n], inputs[1 + n:]
    gz = [g if g is not None else zeros_like(o) for g, o in zip(gouts, node.outputs)]
    g_then = IfElse(n, name=op.name)(cond, *gz, *[zeros_like(t) for t in ts])
    g_else = IfElse(n, name=op.name)(cond, *[zeros_like(f) for f in fs], *gz)
    g_then = g_then if isinstance(g_then, list) else [g_then]
    g_else = g_else if isinstance(g_else, list) else [g_else]
    return ([None] + [g if is_continuous(v) else None for g, v in zip(g_then, ts)]
            + [g if is_continuous(v) else None for g, v in zip(g_else, fs)])
