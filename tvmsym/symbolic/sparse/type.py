"""Sparse matrix types and variables (Theano's ``theano.sparse`` type layer).

A ``SparseType(format, dtype)`` holds ``scipy.sparse`` matrices of one format ('csr' or
'csc') and dtype.  scipy is imported lazily (only when a value is checked or built), so
``import tvmsym.symbolic`` does not import it.
"""
from __future__ import annotations

import numpy as np

from ..graph import Constant, Variable
from ..type import normalize_dtype

FORMATS = ("csr", "csc")


def _sp():
    import scipy.sparse
    return scipy.sparse


def is_sparse_value(x):
    """True for a scipy.sparse matrix or array (without importing scipy when x is not one)."""
    return type(x).__module__.startswith("scipy.sparse")


class SparseType:
    """The type of a sparse matrix variable: ``SparseType('csr', 'float64')``."""

    __slots__ = ("_hash", "dtype", "format")
    ndim = 2
    broadcastable = (False, False)

    def __init__(self, format, dtype=None):
        if format not in FORMATS:
            raise ValueError(f"sparse format must be one of {FORMATS}, got {format!r}")
        self.format = format
        self.dtype = normalize_dtype(dtype)
        self._hash = hash((SparseType, self.format, self.dtype))

    def __eq__(self, other):
        return type(other) is SparseType and other.format == self.format and other.dtype == self.dtype

    def __hash__(self):
        return self._hash

    def __call__(self, name=None):
        return SparseVariable(self, name=name)

    def clone(self, format=None, dtype=None):
        return SparseType(format or self.format, dtype or self.dtype)

    def __str__(self):
        return f"Sparse[{self.dtype}, {self.format}]"

    __repr__ = __str__

    def filter(self, data, allow_downcast=False, strict=False):
        """``data`` as a scipy.sparse matrix of this format and dtype, or TypeError.

        Another sparse format or a dense 2-d array is converted (not when ``strict``);
        a dtype that would lose precision is refused unless ``allow_downcast``.
        """
        sp = _sp()
        fmt_cls = sp.csr_matrix if self.format == "csr" else sp.csc_matrix
        if type(data) is fmt_cls and data.dtype.name == self.dtype:
            return data
        if strict:
            raise TypeError(f"{self} expected a scipy.sparse.{self.format}_matrix of dtype "
                            f"{self.dtype}, got {type(data).__name__}"
                            + (f" of dtype {data.dtype}" if hasattr(data, "dtype") else ""))
        if not sp.issparse(data):
            arr = np.asarray(data)
            if arr.ndim != 2 or arr.dtype == object:
                raise TypeError(f"{self} holds 2-d sparse matrices; got {type(data).__name__} "
                                f"with {arr.ndim} dimension(s)")
            data = arr
        dt = np.dtype(data.dtype)
        if dt.name != self.dtype and not allow_downcast and not np.can_cast(dt, self.dtype, "safe"):
            raise TypeError(f"{self} cannot store a value of dtype {dt} without risking loss of "
                            "precision. If you do not mind this loss, you can: 1) explicitly cast "
                            f"your data to {self.dtype}, or 2) set \"allow_input_downcast=True\" "
                            "when calling \"function\".")
        out = fmt_cls(data, dtype=self.dtype)
        if out.shape != getattr(data, "shape", out.shape):
            raise ValueError(f"{self}: cannot convert a value of shape {data.shape}")
        return out

    def value_zeros(self, shape):
        sp = _sp()
        return (sp.csr_matrix if self.format == "csr" else sp.csc_matrix)(shape, dtype=self.dtype)


def is_sparse_var(v):
    return isinstance(getattr(v, "type", None), SparseType)


class _SparseOperators:
    """Python operators of sparse variables (Theano's ``_sparse_py_operators``)."""

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def format(self):
        return self.type.format

    @property
    def ndim(self):
        return 2

    @property
    def broadcastable(self):
        return (False, False)

    @property
    def shape(self):
        from .ops import sparse_shape
        return sparse_shape(self)

    @property
    def T(self):
        from .ops import transpose
        return transpose(self)

    def __neg__(self):
        from .ops import neg
        return neg(self)

    def __add__(self, other):
        from .ops import add
        return add(self, other)

    def __radd__(self, other):
        from .ops import add
        return add(other, self)

    def __sub__(self, other):
        from .ops import sub
        return sub(self, other)

    def __rsub__(self, other):
        from .ops import sub
        return sub(other, self)

    def __mul__(self, other):
        from .ops import mul
        return mul(self, other)

    def __rmul__(self, other):
        from .ops import mul
        return mul(other, self)

    def toarray(self):
        from .ops import dense_from_sparse
        return dense_from_sparse(self)

    def sum(self, axis=None, sparse_grad=False):
        from .ops import sp_sum
        return sp_sum(self, axis=axis, sparse_grad=sparse_grad)

    def zeros_like(self):
        from .ops import sp_zeros_like
        return sp_zeros_like(self)


class SparseVariable(_SparseOperators, Variable):
    """A symbolic sparse matrix (``theano.sparse.csr_matrix('x')``)."""

    def __str__(self):
        if self.name is None and self.owner is None:
            return f"<{self.type}>"
        return super().__str__()


class SparseConstant(_SparseOperators, Constant):
    """A scipy.sparse matrix in a graph."""

    def __init__(self, type, data, name=None, weak=False):
        Variable.__init__(self, type, None, None, name)
        self.data = type.filter(data, allow_downcast=True)
        self.weak = False

    def signature(self):
        d = self.data
        return (self.type, d.shape, d.data.tobytes(), d.indices.tobytes(), d.indptr.tobytes())

    merge_key = signature

    def __repr__(self):
        return self.name if self.name is not None else \
            f"SparseConstant{{{self.type.format},{self.type.dtype},shape={self.data.shape},nnz={self.data.nnz}}}"

    __str__ = __repr__

    def clone(self):
        cp = SparseConstant(self.type, self.data, name=self.name)
        cp.tag = self.tag.copy()
        return cp


SparseType.Constant = SparseConstant


def as_sparse_variable(x, name=None):
    """A sparse variable for ``x`` (a sparse variable, or a scipy.sparse matrix as a constant)."""
    if isinstance(x, Variable):
        if is_sparse_var(x):
            return x
        raise TypeError(f"as_sparse_variable: {x} has type {x.type}, not a sparse type; "
                        "convert a dense matrix with csr_from_dense / csc_from_dense")
    if is_sparse_value(x):
        fmt = x.format if x.format in FORMATS else "csr"
        return SparseConstant(SparseType(fmt, x.dtype.name), x, name=name)
    raise TypeError(f"as_sparse_variable: cannot make a sparse variable of "
                    f"{type(x).__name__} {x!r}")


as_sparse = as_sparse_variable


def as_sparse_or_tensor_variable(x, name=None):
    from ..basic import as_tensor_variable
    if is_sparse_var(x) or is_sparse_value(x):
        return as_sparse_variable(x, name)
    return as_tensor_variable(x, name)


def matrix(format, name=None, dtype=None):
    """A sparse matrix variable of ``format`` ('csr' or 'csc'); dtype defaults to floatX."""
    return SparseType(format, dtype)(name)


def csr_matrix(name=None, dtype=None):
    return matrix("csr", name, dtype)


def csc_matrix(name=None, dtype=None):
    return matrix("csc", name, dtype)


csr_fmatrix = SparseType("csr", "float32")
csr_dmatrix = SparseType("csr", "float64")
csc_fmatrix = SparseType("csc", "float32")
csc_dmatrix = SparseType("csc", "float64")
