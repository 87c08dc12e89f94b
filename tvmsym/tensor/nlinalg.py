"""``theano.tensor.nlinalg``: numpy.linalg's functions on symbolic matrices.

The factorizations (inverse, pinv, det, eig, eigh, svd, qr) run on the host through
numpy's LAPACK (``symbolic/ops/linalg_host.py``); trace, matrix_power, matrix_dot, norm,
alloc_diag, extract_diag, tensorinv and tensorsolve are graphs of lowered ops
(``symbolic/ops/linalg_graph.py``).
"""
from ..symbolic.ops.linalg import dot, outer  # noqa: I001  (Theano's names, grouped)
from ..symbolic.ops.linalg_graph import alloc_diag, extract_diag, matrix_dot, matrix_power, norm
from ..symbolic.ops.linalg_graph import tensorinv, tensorsolve, trace
from ..symbolic.ops.linalg_host import SVD, Det, Eig, Eigh, Lstsq, MatrixInverse, MatrixPinv, QRFull
from ..symbolic.ops.linalg_host import det, eig, eigh, lstsq, matrix_inverse, pinv, qr, svd
from ..symbolic.ops.shape import AllocDiag, ExtractDiag, diag

__all__ = ["MatrixInverse", "MatrixPinv", "Det", "Eig", "Eigh", "SVD", "QRFull", "AllocDiag",
           "ExtractDiag", "matrix_inverse", "pinv", "det", "eig", "eigh", "svd", "qr", "trace",
           "matrix_power", "matrix_dot", "norm", "alloc_diag", "extract_diag", "tensorinv",
           "tensorsolve", "dot", "outer", "Lstsq", "lstsq", "diag"]
