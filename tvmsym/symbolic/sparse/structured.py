"""A sparse matrix's parts (``csm_properties``, ``CSM``), and the functions built from them:
structured elementwise functions (applied to the stored values only: ``structured_exp``,
``sin``, ``sqrt``, ...), ``cast``, ``remove0``, ``ensure_sorted_indices``, ``clean``,
``col_scale``, ``row_scale``.

The stored-values vector has a data-dependent length, so these run on the host (numpy /
scipy); their gradients are graphs of the same ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import basic as tb
from ..basic import as_tensor_variable
from ..graph import Apply
from ..type import TensorType
from .ops import SparseOp, _as_format, _fmt_cls, mul_s_d
from .type import SparseType, as_sparse_variable


class CSMProperties(SparseOp):
    """(data, indices, indptr, shape) of a sparse matrix (Theano's csm_properties)."""

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (False,))(), TensorType("int32", (False,))(),
                                 TensorType("int32", (False,))(), TensorType("int32", (False,))()])

    def perform(self, node, inputs):
        x = _as_format(inputs[0], node.inputs[0].type.format)
        nnz = x.indptr[-1]
        return [x.data[:nnz].copy(), x.indices[:nnz].astype(np.int32), x.indptr.astype(np.int32),
                np.asarray(x.shape, dtype=np.int32)]

    def infer_shape(self, node, shapes):
        m, n = shapes[0]
        major = m if node.inputs[0].type.format == "csr" else n
        return [None, None, (major + 1,), (2,)]     # nnz is known only at run time


class CSM(SparseOp):
    """A sparse matrix of ``format`` from (data, indices, indptr, shape) (Theano's CSM)."""

    __props__ = ("format",)

    def __init__(self, format):
        self.format = format

    def __str__(self):
        return f"CSM{{{self.format}}}"

    def make_node(self, data, indices, indptr, shape):
        data = as_tensor_variable(data)
        indices, indptr, shape = (as_tensor_variable(v) for v in (indices, indptr, shape))
        for v, name in ((data, "data"), (indices, "indices"), (indptr, "indptr"), (shape, "shape")):
            if v.ndim != 1:
                raise TypeError(f"CSM: {name} must be a vector, got {v.type}")
        for v, name in ((indices, "indices"), (indptr, "indptr"), (shape, "shape")):
            if v.dtype[0] not in "iu":
                raise TypeError(f"CSM: {name} must be integers, got {v.type}")
        return Apply(self, [data, indices, indptr, shape], [SparseType(self.format, data.dtype)()])

    def perform(self, node, inputs):
        data, indices, indptr, shape = inputs
        if len(shape) != 2:
            raise ValueError(f"CSM: shape must have 2 entries, got {list(shape)}")
        if len(data) != len(indices):
            raise ValueError(f"CSM: data ({len(data)}) and indices ({len(indices)}) differ in length")
        return [_fmt_cls(self.format)((np.array(data), np.array(indices), np.array(indptr)),
                                      shape=tuple(int(s) for s in shape))]

    def infer_shape(self, node, shapes):
        return [None]


class CSMGrad(SparseOp):
    """The values of sparse ``gz`` at the stored positions (indices, indptr) of a pattern."""

    __props__ = ("format",)
    no_grad = "made by CSM's gradient"
    __init__ = CSM.__init__

    def make_node(self, gz, indices, indptr):
        gz = as_sparse_variable(gz)
        return Apply(self, [gz, as_tensor_variable(indices), as_tensor_variable(indptr)],
                     [TensorType(gz.dtype, (False,))()])

    def perform(self, node, inputs):
        gz, indices, indptr = inputs
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (major, indices) if self.format == "csr" else (indices, major)
        vals = np.asarray(gz.tocsr()[rows, cols]).ravel() if len(rows) else np.zeros(0)
        return [vals.astype(node.outputs[0].type.dtype)]

    def infer_shape(self, node, shapes):
        return [shapes[1]]


csm_properties = CSMProperties()


def csm_data(x):
    return csm_properties(x)[0]


def csm_indices(x):
    return csm_properties(x)[1]


def csm_indptr(x):
    return csm_properties(x)[2]


def csm_shape(x):
    return csm_properties(x)[3]


CSR = CSM("csr")
CSC = CSM("csc")


def structured_monoid(tensor_op):
    """Apply ``tensor_op`` (a function of tensors) to the stored values of a sparse matrix
    (and scalar arguments): the result keeps the input's pattern."""
    def decorator(f):
        def wrapper(*args):
            x = as_sparse_variable(args[0])
            data, ind, ptr, shape = csm_properties(x)
            data = tensor_op(data, *[as_tensor_variable(a) for a in args[1:]])
            return CSM(x.type.format)(data, ind, ptr, shape)
        wrapper.__name__ = f.__name__
        wrapper.__doc__ = f.__doc__
        return wrapper
    return decorator


def _structured(name, fn, doc):
    @structured_monoid(fn)
    def f(*args):
        pass
    f.__name__ = name
    f.__doc__ = doc
    return f


structured_sigmoid = _structured("structured_sigmoid", tb.sigmoid, "sigmoid of the stored values")
structured_exp = _structured("structured_exp", tb.exp, "exp of the stored values")
structured_log = _structured("structured_log", tb.log, "log of the stored values")
structured_pow = _structured("structured_pow", tb.pow, "stored values ** y (a scalar)")
structured_minimum = _structured("structured_minimum", tb.minimum, "minimum(stored values, y)")
structured_maximum = _structured("structured_maximum", tb.maximum, "maximum(stored values, y)")
structured_add = _structured("structured_add", tb.add, "stored values + y (a scalar)")

# zero-preserving functions: applied to the stored values (Theano's sparse sin, tan, ...)
sin = _structured("sin", tb.sin, "sin of a sparse matrix")
tan = _structured("tan", tb.tan, "tan of a sparse matrix")
arcsin = _structured("arcsin", tb.arcsin, "arcsin of a sparse matrix")
arctan = _structured("arctan", tb.arctan, "arctan of a sparse matrix")
sinh = _structured("sinh", tb.sinh, "sinh of a sparse matrix")
arcsinh = _structured("arcsinh", lambda x: tb.log(x + tb.sqrt(x * x + 1)), "arcsinh of a sparse matrix")
tanh = _structured("tanh", tb.tanh, "tanh of a sparse matrix")
arctanh = _structured("arctanh", lambda x: 0.5 * tb.log((1 + x) / (1 - x)), "arctanh of a sparse matrix")
rint = _structured("rint", tb.round_half_to_even, "round half to even of a sparse matrix")
sgn = _structured("sgn", tb.sgn, "sign of a sparse matrix")
ceil = _structured("ceil", tb.ceil, "ceil of a sparse matrix")
floor = _structured("floor", tb.floor, "floor of a sparse matrix")
trunc = _structured("trunc", tb.trunc, "trunc of a sparse matrix")
log1p = _structured("log1p", tb.log1p, "log1p of a sparse matrix")
expm1 = _structured("expm1", tb.expm1, "expm1 of a sparse matrix")
deg2rad = _structured("deg2rad", lambda x: x * (math.pi / 180.0), "degrees to radians")
rad2deg = _structured("rad2deg", lambda x: x * (180.0 / math.pi), "radians to degrees")
sqr = _structured("sqr", tb.sqr, "square of a sparse matrix")
sqrt = _structured("sqrt", tb.sqrt, "square root of a sparse matrix")


def conj(x):
    """The conjugate (a real sparse matrix is returned as it is)."""
    x = as_sparse_variable(x)
    if not x.dtype.startswith("complex"):
        return x
    from ..ops.complex import conj as _conj
    return _structured("conj", _conj, "")(x)


class Cast(SparseOp):
    """A sparse matrix with its values cast to ``dtype``."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).name

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [SparseType(x.type.format, self.dtype)()])

    def perform(self, node, inputs):
        return [inputs[0].astype(self.dtype)]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


def cast(variable, dtype):
    """``variable`` (sparse or dense) with ``dtype``."""
    from .type import is_sparse_var
    if is_sparse_var(variable):
        return Cast(dtype)(variable)
    return tb.cast(variable, dtype)


bcast, wcast, icast, lcast = Cast("int8"), Cast("int16"), Cast("int32"), Cast("int64")
fcast, dcast, ccast, zcast = Cast("float32"), Cast("float64"), Cast("complex64"), Cast("complex128")


class Remove0(SparseOp):
    """The same sparse matrix without explicitly stored zeros."""

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        out = inputs[0].copy()
        out.eliminate_zeros()
        return [out]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class EnsureSortedIndices(Remove0):
    """The same sparse matrix with sorted indices (and summed duplicates)."""

    def perform(self, node, inputs):
        out = inputs[0].copy()
        out.sum_duplicates()
        out.sort_indices()
        return [out]


remove0 = Remove0()
ensure_sorted_indices = EnsureSortedIndices()


def clean(x):
    """Sorted indices and no stored zeros."""
    return ensure_sorted_indices(remove0(x))


def col_scale(x, s):
    """Column j of sparse ``x`` times ``s[j]``."""
    return mul_s_d(x, as_tensor_variable(s).dimshuffle("x", 0))


def row_scale(x, s):
    """Row i of sparse ``x`` times ``s[i]``."""
    return mul_s_d(x, as_tensor_variable(s).dimshuffle(0, "x"))


__all__ = ["CSMProperties", "CSM", "CSMGrad", "csm_properties", "csm_data", "csm_indices",
           "csm_indptr", "csm_shape", "CSR", "CSC", "structured_monoid", "structured_sigmoid",
           "structured_exp", "structured_log", "structured_pow", "structured_minimum",
           "structured_maximum", "structured_add", "sin", "tan", "arcsin", "arctan", "sinh",
           "arcsinh", "tanh", "arctanh", "rint", "sgn", "ceil", "floor", "trunc", "log1p",
           "expm1", "deg2rad", "rad2deg", "sqr", "sqrt", "conj", "Cast", "cast", "bcast", "wcast",
           "icast", "lcast", "fcast", "dcast", "ccast", "zcast", "Remove0", "EnsureSortedIndices",
           "remove0", "ensure_sorted_indices", "clean", "col_scale", "row_scale"]
