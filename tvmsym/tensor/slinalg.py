"""``theano.tensor.slinalg``: scipy.linalg's functions on symbolic matrices.

cholesky, solve (general, symmetric, triangular), eigvalsh and expm run on the host
through scipy/numpy LAPACK (``symbolic/ops/slinalg_host.py``, ``linalg_host.py``); kron is
a broadcast product (a fused kernel).  Gradients are graphs (Theano's formulas).
"""
from ..symbolic.ops.linalg_graph import eigvalsh, kron  # noqa: I001  (Theano's names, grouped)
from ..symbolic.ops.linalg_host import Eigvalsh
from ..symbolic.ops.slinalg_host import Cholesky, Expm, Solve, cholesky, expm, solve, solve_symmetric
from ..symbolic.ops.slinalg_host import solve_lower_triangular, solve_upper_triangular

MATRIX_STRUCTURES = ("general", "symmetric", "lower_triangular", "upper_triangular",
                     "hermitian", "banded", "diagonal", "toeplitz")

__all__ = ["MATRIX_STRUCTURES", "Cholesky", "Solve", "Expm", "Eigvalsh", "cholesky", "solve",
           "solve_lower_triangular", "solve_upper_triangular", "solve_symmetric", "expm", "eigvalsh",
           "kron"]
