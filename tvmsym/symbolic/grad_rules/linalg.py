"""Gradients of Dot, MatMul and TensorDot."""
from __future__ import annotations

from ..basic import dimshuffle
from ..grad import register_grad
from ..ops.linalg import Dot, MatMul, TensorDot, dot, matmul, tensordot
from ..ops.reduce import sum as _sum


def _col(v):
    return dimshuffle(v, 0, "x")


def _row(v):
    return dimshuffle(v, "x", 0)


@register_grad(Dot)
def dot_grad(node, inputs, gouts):
    (a, b), (gz,) = inputs, gouts
    if a.ndim == 2 and b.ndim == 2:
        return [dot(gz, b.T), dot(a.T, gz)]
    if a.ndim == 2 and b.ndim == 1:           # (n,k).(k,) -> (n,)
        return [dot(_col(gz), _row(b)), dot(a.T, gz)]
    if a.ndim == 1 and b.ndim == 2:           # (k,).(k,m) -> (m,)
        return [dot(b, gz), dot(_col(a), _row(gz))]
    return [gz * b, gz * a]                   # inner product


def _swap(x):
    return dimshuffle(x, list(range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


def _reduce_batch(g, x):
    """Sum g (batch dims of the output) down to x's dims (x may have fewer batch dims)."""
    extra = g.ndim - x.ndim
    if extra:
        g = _sum(g, axis=list(range(extra)))
    return g


@register_grad(MatMul)
def matmul_grad(node, inputs, gouts):
    (a, b), (gz,) = inputs, gouts
    ga = _reduce_batch(matmul(gz, _swap(b)), a)
    gb = _reduce_batch(matmul(_swap(a), gz), b)
    return [ga, gb]


@register_grad(TensorDot)
def tensordot_grad(node, inputs, gouts):
    (a, b), (gz,) = inputs, gouts
    op = node.op
    fa, fb = op.free(a.ndim, b.ndim)
    nfa = len(fa)
    # ga: contract gz's b-free dims with b's free dims -> dims fa + (contracted b axes in b order)
    ga = tensordot(gz, b, [list(range(nfa, nfa + len(fb))), fb])
    ka = sorted(range(len(op.axes_b)), key=lambda k: op.axes_b[k])
    order_a = fa + [op.axes_a[k] for k in ka]
    ga = dimshuffle(ga, [order_a.index(d) for d in range(a.ndim)])
    # gb: contract a's free dims with gz's a-free dims -> (contracted a axes in a order) + fb
    gb = tensordot(a, gz, [fa, list(range(nfa))])
    kb = sorted(range(len(op.axes_a)), key=lambda k: op.axes_a[k])
    order_b = [op.axes_b[k] for k in kb] + fb
    gb = dimshuffle(gb, [order_b.index(d) for d in range(b.ndim)])
    return [ga, gb]
