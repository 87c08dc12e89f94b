"""Gradients of the sparse ops (Theano's formulas).

A gradient w.r.t. a sparse matrix is a sparse matrix: structured rules (structured_dot,
DenseFromSparse by default, sp_sum(sparse_grad=True)) keep the input's pattern; regular
rules (dot, SparseFromDense's inverse) give the full dense gradient as a sparse matrix.
"""
from __future__ import annotations

from ..basic import dimshuffle
from ..grad import fill, register_grad
from ..ops.linalg import dot as dense_dot
from ..sparse import ops as S, structured as SS
from ..sparse.type import is_sparse_var


def _dense(g):
    return S.dense_from_sparse(g) if is_sparse_var(g) else g


def _sparse_like(g, x):
    """``g`` (dense or sparse) as a sparse matrix in x's format."""
    if is_sparse_var(g):
        if g.type.format == x.type.format:
            return g
        g = S.dense_from_sparse(g)
    return S.SparseFromDense(x.type.format)(g)


@register_grad(S.DenseFromSparse)
def _dense_from_sparse(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    if node.op.sparse_grad:
        return [S.mul_s_d(S.sp_ones_like(x), gz)]
    return [S.SparseFromDense(x.type.format)(gz)]


@register_grad(S.SparseFromDense)
def _sparse_from_dense(node, inputs, gouts):
    return [_dense(gouts[0])]


@register_grad(S.Transpose)
def _transpose(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    return [_sparse_like(S.transpose(gz) if is_sparse_var(gz) else gz.T, x)]


@register_grad(S.Neg)
def _neg(node, inputs, gouts):
    return [S.neg(gouts[0]) if is_sparse_var(gouts[0]) else -gouts[0]]


@register_grad(S.SpSum)
def _sp_sum(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    axis = node.op.axis
    gb = gz if axis is None else dimshuffle(gz, "x", 0) if axis == 0 else dimshuffle(gz, 0, "x")
    if node.op.sparse_grad:
        return [S.mul_s_d(S.sp_ones_like(x), gb)]
    return [S.SparseFromDense(x.type.format)(fill(S.dense_from_sparse(x), gb))]


@register_grad(S.AddSS)
def _add_ss(node, inputs, gouts):
    x, y = inputs
    return [_sparse_like(gouts[0], x), _sparse_like(gouts[0], y)]


@register_grad(S.AddSD)
def _add_sd(node, inputs, gouts):
    (x, _), (gz,) = inputs, gouts
    return [S.mul_s_d(S.sp_ones_like(x), gz), gz]      # Theano: structured for x


@register_grad(S.MulSS)
def _mul_ss(node, inputs, gouts):
    (x, y), (gz,) = inputs, gouts
    return [_sparse_like(S.mul(y, gz), x), _sparse_like(S.mul(x, gz), y)]


@register_grad(S.MulSD)
def _mul_sd(node, inputs, gouts):
    (x, y), (gz,) = inputs, gouts
    gy = S.dense_from_sparse(S.mul(x, gz))
    # y may broadcast against x: sum the gradient back to y's shape
    if y.ndim < 2 or any(y.broadcastable):
        from ..grad import sum_to
        if y.ndim < 2:
            from ..ops.reduce import sum as _sum
            gy = _sum(gy, axis=list(range(2 - y.ndim)))
        gy = sum_to(gy, y.broadcastable)
    return [_sparse_like(S.mul(gz, y), x), gy]


@register_grad(S.StructuredDot)
def _structured_dot(node, inputs, gouts):
    (a, b), (gz,) = inputs, gouts
    if is_sparse_var(b):
        from ..grad import undefined
        return [undefined(node.op, 0, "structured_dot of two sparse matrices"),
                undefined(node.op, 1, "structured_dot of two sparse matrices")]
    return [S.structured_dot_grad(a, b, gz), S.structured_dot(S.transpose(a), gz)]


@register_grad(S.Dot)
def _dot(node, inputs, gouts):
    (x, y), (gz,) = inputs, gouts
    xs, ys = is_sparse_var(x), is_sparse_var(y)

    def prod(a, b):
        return S.dot(a, b) if is_sparse_var(a) or is_sparse_var(b) else dense_dot(a, b)

    def T(v):
        return S.transpose(v) if is_sparse_var(v) else v.T

    if x.ndim == 1 or y.ndim == 1:
        from ..grad import undefined
        return [undefined(node.op, i, "sparse dot with a vector operand") for i in range(2)]
    gx, gy = prod(gz, T(y)), prod(T(x), gz)
    return [_sparse_like(gx, x) if xs else gx, _sparse_like(gy, y) if ys else gy]


@register_grad(S.TrueDot)
def _true_dot(node, inputs, gouts):
    (x, y), (gz,) = inputs, gouts
    ys = is_sparse_var(y)
    yT = S.transpose(y) if ys else y.T
    gx = S.true_dot(gz, yT)
    gy = S.true_dot(S.transpose(x), gz)
    if not ys and node.op.grad_preserves_dense:
        gy = S.dense_from_sparse(gy)
    elif ys:
        gy = _sparse_like(gy, y)
    return [_sparse_like(gx, x), gy]


@register_grad(S.SamplingDot)
def _sampling_dot(node, inputs, gouts):
    (x, y, p), (gz,) = inputs, gouts
    from ..grad import undefined
    pg = S.mul(p, gz)
    return [S.dot(pg, y), S.dot(S.transpose(pg), x),
            undefined(node.op, 2, "sampling_dot: the pattern p has no gradient (Theano)")]


@register_grad(S.SparseFromData)
def _from_data(node, inputs, gouts):
    op = node.op
    return [S.DataAt(op.format, op.indices, op.indptr, op.shape)(gouts[0])]


@register_grad(S.SpOnesLike, S.SpZerosLike)
def _pattern_only(node, inputs, gouts):
    return [None]


# ---------------------------------------------------------------- parts and structured functions
@register_grad(SS.CSMProperties)
def _csm_properties(node, inputs, gouts):
    (x,) = inputs
    g_data = gouts[0]
    if g_data is None:
        return [None]
    _, ind, ptr, shape = node.outputs
    return [SS.CSM(x.type.format)(g_data, ind, ptr, shape)]


@register_grad(SS.CSM)
def _csm(node, inputs, gouts):
    data, ind, ptr, _ = inputs
    gz = gouts[0]
    if not is_sparse_var(gz):
        gz = S.SparseFromDense(node.op.format)(gz)
    return [SS.CSMGrad(node.op.format)(gz, ind, ptr), None, None, None]


@register_grad(SS.Cast)
def _cast(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    return [SS.Cast(x.dtype)(_sparse_like(gz, x)) if x.dtype[0] in "fc" else None]


@register_grad(SS.Remove0, SS.EnsureSortedIndices)
def _same(node, inputs, gouts):
    return [_sparse_like(gouts[0], inputs[0])]
