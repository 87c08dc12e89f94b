"""Linear-algebra functions that are graphs of other ops (so they lower, fuse and
differentiate like any graph): trace, matrix_power, matrix_dot, kron, alloc_diag,
extract_diag, norm, tensorinv, tensorsolve, eigvalsh; and the triangle masks the
gradients of the factorizations use.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import basic as tb
from ..basic import as_tensor_variable, dimshuffle
from .linalg import dot
from .reduce import max as _max, min as _min, sum as _sum
from .shape import AllocDiag, ExtractDiag, arange, reshape, shape_i, stack, zeros_like

__all__ = [
    "alloc_diag",
    "eigvalsh",
    "extract_diag",
    "kron",
    "matrix_dot",
    "matrix_power",
    "norm",
    "tensorinv",
    "tensorsolve",
    "trace",
    "transpose_last",
    "tril",
    "tril_mask",
    "triu",
]


def transpose_last(x):
    """``x`` with its last two axes swapped (the transpose of each matrix of a stack)."""
    x = as_tensor_variable(x)
    return dimshuffle(x, list(range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


def tril_mask(x, k=0):
    """Boolean (n, m) mask of x's last two axes: True on and below diagonal ``k``."""
    i = dimshuffle(arange(shape_i(x, x.ndim - 2)), [0, "x"])
    j = dimshuffle(arange(shape_i(x, x.ndim - 1)), ["x", 0])
    return tb.ge(i + k, j)


def tril(x, k=0):
    """Lower triangle of each matrix of ``x`` (numpy.tril), as a masked graph."""
    x = as_tensor_variable(x)
    return tb.switch(tril_mask(x, k), x, zeros_like(x))


def triu(x, k=0):
    """Upper triangle of each matrix of ``x`` (numpy.triu), as a masked graph."""
    x = as_tensor_variable(x)
    return tb.switch(tril_mask(x, k - 1), tb.cast(0, x.dtype), x)


def extract_diag(x, offset=0):
    """The diagonal of a matrix (Theano's nlinalg.extract_diag)."""
    return ExtractDiag(offset)(as_tensor_variable(x))


def alloc_diag(v, offset=0):
    """A square matrix with vector ``v`` on its diagonal (Theano's nlinalg.alloc_diag)."""
    return AllocDiag(offset)(as_tensor_variable(v))


def trace(X):
    """Sum of the diagonal of a matrix."""
    X = as_tensor_variable(X)
    if X.ndim != 2:
        raise TypeError(f"trace: expects a matrix, got {X.type}")
    return _sum(extract_diag(X))


def matrix_dot(*args):
    """``dot(args[0], dot(args[1], ...))`` of two or more matrices/vectors, left to right."""
    if len(args) < 1:
        raise TypeError("matrix_dot: needs at least one argument")
    return functools.reduce(dot, [as_tensor_variable(a) for a in args])


def matrix_power(M, n):
    """``M`` to the integer power ``n >= 0`` by repeated squaring (numpy.linalg.matrix_power;
    a negative ``n`` inverts first)."""
    M = as_tensor_variable(M)
    n = int(n)
    if M.ndim != 2:
        raise TypeError(f"matrix_power: expects a matrix, got {M.type}")
    if n < 0:
        from .linalg_host import matrix_inverse
        M, n = matrix_inverse(M), -n
    if n == 0:
        from .shape import eye
        return tb.cast(eye(shape_i(M, 0)), M.dtype) + 0 * M
    result, base = None, M
    while n:
        if n & 1:
            result = base if result is None else dot(result, base)
        n >>= 1
        if n:
            base = dot(base, base)
    return result


def kron(a, b):
    """Kronecker product (numpy.kron), as a broadcast product reshaped.  Theano requires the
    dimensions to sum to 3 or more; equal ndims are handled, a smaller one is padded with
    leading axes as numpy does."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim + b.ndim <= 2:
        raise TypeError("kron: inputs dimensions must sum to 3 or more. You can use "
                        "tensor.outer to get the outer product of two vectors")
    nd = max(a.ndim, b.ndim)
    if a.ndim < nd:
        a = dimshuffle(a, ["x"] * (nd - a.ndim) + list(range(a.ndim)))
    if b.ndim < nd:
        b = dimshuffle(b, ["x"] * (nd - b.ndim) + list(range(b.ndim)))
    pa, pb = [], []
    for d in range(nd):
        pa += [d, "x"]
        pb += ["x", d]
    prod = dimshuffle(a, pa) * dimshuffle(b, pb)
    shape = [shape_i(a, d) * shape_i(b, d) for d in range(nd)]
    return reshape(prod, stack(shape), ndim=nd)


def norm(x, ord=None):
    """numpy.linalg.norm of a vector or a matrix as a graph.  Vectors: ord None (2-norm),
    inf, -inf, 0 (count of non-zeros), any p.  Matrices: None/'fro', inf, -inf, 1, -1;
    'nuc', 2 and -2 use the singular values (a host SVD; no gradient)."""
    x = as_tensor_variable(x)
    ax = abs(x)
    if x.ndim == 1:
        if ord is None or ord == 2:
            return tb.sqrt(_sum(ax * ax))
        if ord == np.inf or ord == "inf":
            return _max(ax)
        if ord == -np.inf or ord == "-inf":
            return _min(ax)
        if ord == 0:
            return _sum(tb.neq(x, 0))
        if isinstance(ord, str):
            raise ValueError(f"norm: invalid norm order {ord!r} for a vector")
        return _sum(ax ** ord) ** (1.0 / ord)
    if x.ndim == 2:
        if ord is None or ord == "fro":
            return tb.sqrt(_sum(ax * ax))
        if ord == np.inf or ord == "inf":
            return _max(_sum(ax, axis=1))
        if ord == -np.inf or ord == "-inf":
            return _min(_sum(ax, axis=1))
        if ord == 1:
            return _max(_sum(ax, axis=0))
        if ord == -1:
            return _min(_sum(ax, axis=0))
        if ord in ("nuc", 2, -2):
            from .linalg_host import SVD
            s = SVD(compute_uv=False)(x)
            return _sum(s) if ord == "nuc" else (_max(s) if ord == 2 else _min(s))
        raise ValueError(f"norm: invalid norm order {ord!r} for a matrix")
    raise NotImplementedError(f"norm: expects a vector or a matrix, got {x.type}")


def _prod(vals):
    return functools.reduce(lambda p, q: p * q, vals, tb.constant(1, dtype="int64"))


def tensorinv(a, ind=2):
    """numpy.linalg.tensorinv: the inverse of ``a`` seen as a matrix from its first ``ind``
    axes to the rest (a reshape around ``matrix_inverse``, so it has a gradient)."""
    from .linalg_host import matrix_inverse
    a = as_tensor_variable(a)
    if ind <= 0 or ind >= a.ndim:
        raise ValueError(f"tensorinv: ind must be in 1..{a.ndim - 1}, got {ind}")
    dims = [shape_i(a, d) for d in range(a.ndim)]
    rows, cols = _prod(dims[:ind]), _prod(dims[ind:])
    inv = matrix_inverse(reshape(a, stack([rows, cols]), ndim=2))
    return reshape(inv, stack(dims[ind:] + dims[:ind]), ndim=a.ndim)


def tensorsolve(a, b, axes=None):
    """numpy.linalg.tensorsolve: ``x`` with ``tensordot(a, x, x.ndim) == b`` (a reshape around
    ``solve``, so it has a gradient)."""
    from .slinalg_host import solve
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if axes is not None:
        axes = [ax % a.ndim for ax in axes]
        order = [d for d in range(a.ndim) if d not in axes] + list(axes)
        a = dimshuffle(a, order)
    dims = [shape_i(a, d) for d in range(a.ndim)]
    nrow = _prod(dims[:b.ndim])
    xdims = dims[b.ndim:]
    x = solve(reshape(a, stack([nrow, _prod(xdims)]), ndim=2), reshape(b, stack([nrow]),
                                                                          ndim=1))
    return reshape(x, stack(xdims), ndim=len(xdims))


def eigvalsh(a, b=None, lower=True):
    """Eigenvalues of the symmetric ``a`` (ascending), or of the generalized problem
    ``a v = w b v`` (scipy.linalg.eigvalsh)."""
    from .linalg_host import Eigvalsh
    return Eigvalsh(lower)(a, b)
