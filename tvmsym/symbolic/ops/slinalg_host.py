"""``theano.tensor.slinalg``'s host ops: Cholesky, Solve and Expm through scipy/numpy LAPACK.

Like ``linalg_host.py`` they have no TVM lowering (host steps between the kernels); their
gradients are ordinary graphs (``grad_rules/linalg_host.py``).
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable
from ..graph import Apply
from ..type import TensorType
from .linalg_host import HostLinalgOp, _float_input, linalg_dtype

__all__ = [
    "Cholesky",
    "Expm",
    "Solve",
    "cholesky",
    "expm",
    "solve",
    "solve_lower_triangular",
    "solve_symmetric",
    "solve_upper_triangular",
]


class Cholesky(HostLinalgOp):
    """Cholesky factor of a symmetric positive-definite matrix (stacks too): lower ``L`` with
    ``L L^T = x`` (``lower=False``: upper ``U = L^T``).  A matrix that is not positive definite
    raises LinAlgError (``on_error='nan'``: a result full of NaN instead, as Theano)."""

    __props__ = ("lower", "on_error")

    def __init__(self, lower=True, on_error="raise"):
        if on_error not in ("raise", "nan"):
            raise ValueError(f"Cholesky: on_error must be 'raise' or 'nan', got {on_error!r}")
        self.lower = bool(lower)
        self.on_error = on_error

    def make_node(self, x):
        x = self._matrix(x)
        return Apply(self, [x], [TensorType(linalg_dtype(x.dtype), x.broadcastable)()])

    def infer_shape(self, node, shapes):
        self._check_square(shapes[0])
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        x = _float_input(inputs[0], dt)
        try:
            r = self._run(np.linalg.cholesky, x, upper=not self.lower)
        except np.linalg.LinAlgError:
            if self.on_error == "raise":
                raise
            r = np.full_like(x, np.nan)
        return [np.asarray(r, dtype=dt)]


class Solve(HostLinalgOp):
    """``x`` with ``A x = b``.  ``A_structure`` is Theano's: 'general' (LU, numpy.linalg.solve,
    stacks), 'symmetric' (solved as general, as Theano), 'lower_triangular' or
    'upper_triangular' (scipy.linalg.solve_triangular, which reads that triangle only).
    ``b`` is a vector (``A`` one matrix) or has ``A``'s ndim (right-hand sides in columns).
    A singular ``A`` raises LinAlgError."""

    __props__ = ("A_structure", "lower", "overwrite_A", "overwrite_b")
    STRUCTURES = ("general", "symmetric", "lower_triangular", "upper_triangular")

    def __init__(self, A_structure="general", lower=False, overwrite_A=False, overwrite_b=False):
        if A_structure not in self.STRUCTURES:
            raise ValueError(f"Solve: A_structure must be one of {self.STRUCTURES}, got "
                             f"{A_structure!r}")
        self.A_structure = A_structure
        self.lower = bool(lower)
        self.overwrite_A = bool(overwrite_A)
        self.overwrite_b = bool(overwrite_b)

    def __str__(self):
        return f"Solve{{{self.A_structure}}}"

    __repr__ = __str__

    def make_node(self, A, b):
        A, b = self._matrix(A), as_tensor_variable(b)
        if not (b.ndim == A.ndim or (b.ndim == 1 and A.ndim == 2)):
            raise TypeError(f"{self}: b must be a vector (for one matrix A) or have A's ndim "
                            f"({A.ndim}), got {b.type}")
        dt = linalg_dtype(np.result_type(A.dtype, b.dtype).name)
        return Apply(self, [A, b], [TensorType(dt, b.broadcastable)()])

    def infer_shape(self, node, shapes):
        sa, sb = tuple(shapes[0]), tuple(shapes[1])
        self._check_square(sa)
        rows = sb[0] if len(sb) == 1 else sb[-2]
        if rows != sa[-1]:
            raise ValueError(f"{self}: A of shape {sa} and b of shape {sb} do not match "
                             f"({sa[-1]} != {rows})")
        return [sb]

    def perform(self, node, inputs):
        dt = node.outputs[0].dtype
        A, b = (_float_input(v, dt) for v in inputs)
        if A.shape[-1] == 0 or b.size == 0:
            return [np.zeros(b.shape, dt)]
        if self.A_structure in ("lower_triangular", "upper_triangular"):
            import scipy.linalg
            lower = self.A_structure == "lower_triangular"
            diag = np.diagonal(A, axis1=-2, axis2=-1)
            if np.any(diag == 0):
                raise np.linalg.LinAlgError(f"{self}: singular matrix (a zero on the diagonal "
                                            f"of the triangular A of shape {A.shape})")
            x = self._run(scipy.linalg.solve_triangular, A, b, lower=lower)
        else:
            bb = b[..., None] if b.ndim == 1 else b
            x = self._run(np.linalg.solve, A, bb)
            x = x[..., 0] if b.ndim == 1 else x
        return [np.asarray(x, dtype=dt)]


class Expm(HostLinalgOp):
    """Matrix exponential (scipy.linalg.expm, stacks too)."""

    __props__ = ()

    def make_node(self, A):
        A = self._matrix(A)
        return Apply(self, [A], [TensorType(linalg_dtype(A.dtype), A.broadcastable)()])

    def infer_shape(self, node, shapes):
        self._check_square(shapes[0])
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        import scipy.linalg
        dt = node.outputs[0].dtype
        A = _float_input(inputs[0], dt)
        if A.shape[-1] == 0:
            return [np.zeros(A.shape, dt)]
        return [np.asarray(self._run(scipy.linalg.expm, A), dtype=dt)]


cholesky = Cholesky()
solve = Solve()
solve_lower_triangular = Solve(A_structure="lower_triangular", lower=True)
solve_upper_triangular = Solve(A_structure="upper_triangular", lower=False)
solve_symmetric = Solve(A_structure="symmetric")
expm = Expm()
