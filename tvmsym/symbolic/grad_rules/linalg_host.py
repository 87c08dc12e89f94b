"""Gradients of the LAPACK-backed ops, as graphs (matmul, masks, host solves) that lower like
any other.  The formulas are Theano's where Theano has one:

* inverse: ``-X^-T gz X^-T``; det: ``gz * det * X^-T``;
* eigh: ``V (diag(gw) + (F o V^T gV)^T) V^T`` with ``F[m, n] = 1 / (w[n] - w[m])``, folded
  onto the triangle eigh reads; eigvalsh of ``(a, b)``: ``V diag(gw) V^T`` and
  ``-V diag(gw w) V^T``, folded the same way;
* cholesky (Murray 2016): ``S = L^-T Phi(L^T gL) L^-1``, ``tril(S + S^T) - diag(S)``;
* solve: ``gb = solve(A^T, gx)``, ``gA = -gb x^T`` (its triangle for triangular A);
* pinv: the derivative of the Moore-Penrose inverse (Golub & Pereyra);
* expm: the Frechet derivative, the upper-right block of ``expm([[A^T, G], [0, A^T]])``.

Eig, SVD, QR and Lstsq have no gradient in Theano; here neither (``no_grad``).
"""
from __future__ import annotations

from .. import basic as tb
from ..basic import dimshuffle
from ..grad import register_grad, undefined
from ..ops.linalg import matmul
from ..ops.linalg_graph import transpose_last, tril, triu
from ..ops.linalg_host import (
    Det,
    Eigh,
    Eigvalsh,
    MatrixInverse,
    MatrixPinv,
)
from ..ops.shape import concatenate, ones_like, zeros_like
from ..ops.slinalg_host import Cholesky, Expm, Solve


def _mT(x):
    return transpose_last(x)


def _diag_of(x):
    """The diagonal of each matrix of ``x`` kept as a matrix (zeros elsewhere)."""
    eye = tb.eq(dimshuffle(_arange_rows(x), [0, "x"]), dimshuffle(_arange_rows(x), ["x", 0]))
    return tb.switch(eye, x, zeros_like(x))


def _arange_rows(x):
    from ..ops.shape import arange, shape_i
    return arange(shape_i(x, x.ndim - 1))


def _fold(g, lower):
    """The gradient of a function that reads only one triangle of its symmetric input:
    ``tril(g) + triu(g, 1)^T`` (lower) or ``triu(g) + tril(g, -1)^T`` (upper)."""
    if lower:
        return tril(g) + _mT(triu(g, 1))
    return triu(g) + _mT(tril(g, -1))


@register_grad(MatrixInverse)
def _inverse_grad(node, inputs, gouts):
    (gz,), xi = gouts, node.outputs[0]
    xiT = _mT(xi)
    return [-matmul(matmul(xiT, gz), xiT)]


@register_grad(Det)
def _det_grad(node, inputs, gouts):
    from ..ops.linalg_host import matrix_inverse
    (x,), (gz,), d = inputs, gouts, node.outputs[0]
    pat = list(range(d.ndim)) + ["x", "x"]
    return [dimshuffle(gz * d, pat) * _mT(matrix_inverse(x))]


@register_grad(MatrixPinv)
def _pinv_grad(node, inputs, gouts):
    (x,), (g,), p = inputs, gouts, node.outputs[0]
    pT = _mT(p)
    gT = _mT(g)
    xp = matmul(x, p)
    px = matmul(p, x)
    term1 = -matmul(matmul(pT, g), pT)
    term2 = matmul(matmul(gT, p), pT)
    term2 = term2 - matmul(xp, term2)                 # (I - X P) G^T P P^T
    term3 = matmul(matmul(pT, p), gT)
    term3 = term3 - matmul(term3, px)                 # P^T P G^T (I - P X)
    return [term1 + term2 + term3]


@register_grad(Eigh)
def _eigh_grad(node, inputs, gouts):
    w, v = node.outputs
    gw, gv = gouts
    lower = node.op.UPLO == "L"
    vT = _mT(v)
    if len(inputs) == 2:
        return [undefined(node.op, 0, "the gradient of the generalized eigenvectors is not "
                          "implemented (eigvalsh's is)"), undefined(node.op, 1)]
    nb = w.ndim - 1
    batch = list(range(nb))
    inner = None
    if gw is not None:
        inner = v * dimshuffle(gw, batch + ["x", nb])      # V diag(gw)
        inner = matmul(inner, vT)
    if gv is not None:
        # F[m, n] = 1 / (w[n] - w[m]) off the diagonal
        diff = dimshuffle(w, batch + ["x", nb]) - dimshuffle(w, batch + [nb, "x"])
        off = tb.neq(dimshuffle(_arange_rows(diff), [0, "x"]), dimshuffle(_arange_rows(diff), ["x", 0]))
        f = tb.switch(off, 1.0 / tb.switch(off, diff, ones_like(diff)), zeros_like(diff))
        k = _mT(f * matmul(vT, gv))
        term = matmul(matmul(v, k), vT)
        inner = term if inner is None else inner + term
    if inner is None:
        return [None]
    return [_fold(inner, lower)]


@register_grad(Eigvalsh)
def _eigvalsh_grad(node, inputs, gouts):
    (gw,), w = gouts, node.outputs[0]
    lower = node.op.lower
    v = Eigh("L" if lower else "U")(*inputs)[1]
    nb = w.ndim - 1
    vT = _mT(v)
    ga = matmul(v * dimshuffle(gw, list(range(nb)) + ["x", nb]), vT)
    if len(inputs) == 1:
        return [_fold(ga, lower)]
    gb = -matmul(v * dimshuffle(gw * w, ["x", 0]), vT)
    return [_fold(ga, lower), _fold(gb, lower)]


@register_grad(Cholesky)
def _cholesky_grad(node, inputs, gouts):
    from ..ops.slinalg_host import solve_upper_triangular
    (gz,), out = gouts, node.outputs[0]
    lower = node.op.lower
    L, gL = (out, gz) if lower else (_mT(out), _mT(gz))
    LT = _mT(L)
    p = tril(matmul(LT, gL))
    p = p - _diag_of(p) * 0.5                                   # Phi(L^T gL)
    s = solve_upper_triangular(LT, _mT(solve_upper_triangular(LT, _mT(p))))   # L^-T P L^-1
    sym = s + _mT(s)
    return [(tril(sym) if lower else triu(sym)) - _diag_of(s)]


_TRANSPOSED = {"general": "general", "symmetric": "general",
               "lower_triangular": "upper_triangular", "upper_triangular": "lower_triangular"}


@register_grad(Solve)
def _solve_grad(node, inputs, gouts):
    (A, _b), (gx,), x = inputs, gouts, node.outputs[0]
    op = node.op
    structure = _TRANSPOSED[op.A_structure]
    gb = Solve(structure, lower=structure == "lower_triangular")(_mT(A), gx)
    if x.ndim == 1:
        gA = -dimshuffle(gb, [0, "x"]) * dimshuffle(x, ["x", 0])
    else:
        gA = -matmul(gb, _mT(x))
    if op.A_structure == "lower_triangular":
        gA = tril(gA)
    elif op.A_structure == "upper_triangular":
        gA = triu(gA)
    return [gA, gb]


@register_grad(Expm)
def _expm_grad(node, inputs, gouts):
    (A,), (g,) = inputs, gouts
    from ..ops.shape import shape_i
    from ..ops.subtensor import getitem
    At = _mT(A)
    ax = A.ndim - 1
    top = concatenate([At, g], axis=ax)
    bottom = concatenate([zeros_like(At), At], axis=ax)
    big = Expm()(concatenate([top, bottom], axis=ax - 1))
    n = shape_i(A, ax)
    idx = (slice(None),) * (A.ndim - 2) + (slice(None, n), slice(n, None))
    return [getitem(big, idx)]
