"""Sparse matrices in the symbolic layer: types (``type.py``) and ops (``ops.py``).

The user-facing module is ``tvmsym.sparse`` (Theano's ``theano.sparse``).
"""
from . import ops, structured
from .ops import *  # noqa: F403
from .ops import (
                   AddSD,
                   AddSS,
                   DataAt,
                   DenseFromSparse,
                   Dot,
                   MulSD,
                   MulSS,
                   Neg,
                   SamplingDot,
                   SparseFromData,
                   SparseFromDense,
                   SpOnesLike,
                   SpSum,
                   SpZerosLike,
                   StructuredDot,
                   StructuredDotGrad,
                   Transpose,
                   TrueDot,
)
from .structured import *  # noqa: F403
from .type import (  # noqa: F401
                   FORMATS,
                   SparseConstant,
                   SparseType,
                   SparseVariable,
                   as_sparse,
                   as_sparse_or_tensor_variable,
                   as_sparse_variable,
                   csc_dmatrix,
                   csc_fmatrix,
                   csc_matrix,
                   csr_dmatrix,
                   csr_fmatrix,
                   csr_matrix,
                   is_sparse_var,
                   matrix,
)

__all__ = ops.__all__ + structured.__all__ + [
    "SparseType", "SparseVariable", "SparseConstant", "as_sparse_variable", "as_sparse",
    "as_sparse_or_tensor_variable", "matrix", "csr_matrix", "csc_matrix", "csr_fmatrix",
    "csr_dmatrix", "csc_fmatrix", "csc_dmatrix", "DenseFromSparse", "SparseFromDense", "Transpose",
    "Neg", "SpSum", "SpOnesLike", "SpZerosLike", "AddSS", "AddSD", "MulSS", "MulSD",
    "StructuredDot", "StructuredDotGrad", "Dot", "TrueDot", "SamplingDot", "SparseFromData",
    "DataAt"]
