"""Sparse ops (Theano's ``theano.sparse`` names and semantics), computed with scipy.sparse.

Every op has a host implementation (``perform``, scipy imported lazily).  The products of a
sparse matrix and a dense matrix (``structured_dot``, ``dot``) also compile to a TVM kernel
(lowering/rules/sparse.py).  Gradients are in ``grad_rules/sparse.py``.
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable
from ..graph import Apply, Op
from ..type import TensorType
from .type import SparseType, _sp, as_sparse_variable, is_sparse_value, is_sparse_var


def _upcast(*dtypes):
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def _fmt_cls(fmt):
    sp = _sp()
    return sp.csr_matrix if fmt == "csr" else sp.csc_matrix


def _as_format(x, fmt, dtype=None):
    """scipy value ``x`` in format ``fmt`` (and dtype)."""
    out = x.asformat(fmt)
    out = _fmt_cls(fmt)(out)         # scipy arrays -> matrices
    if dtype is not None and out.dtype.name != dtype:
        out = out.astype(dtype)
    return out


def _check_shapes(op, a, b):
    if a[-1] != b[0]:
        raise ValueError(f"{op}: shapes {tuple(a)} and {tuple(b)} not aligned: {a[-1]} (dim "
                         f"{len(a) - 1}) != {b[0]} (dim 0)")


class SparseOp(Op):
    """Base of the sparse ops: host ``perform`` with scipy; never constant-folded."""

    host_only = "scipy.sparse on the host"

    def do_constant_folding(self, node):
        return False


class DenseFromSparse(SparseOp):
    """Sparse -> dense (``x.toarray()``); the gradient is structured by default (Theano)."""

    __props__ = ("sparse_grad",)

    def __init__(self, structured=True):
        self.sparse_grad = bool(structured)

    def __str__(self):
        return f"DenseFromSparse{{structured_grad={self.sparse_grad}}}"

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.type.dtype, (False, False))()])

    def perform(self, node, inputs):
        return [inputs[0].toarray()]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class SparseShape(SparseOp):
    """``x.shape`` of a sparse matrix: an int64 vector, known from the input shapes."""

    no_grad = "integer result"

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType("int64", (False,))()])

    def infer_shape(self, node, shapes):
        return [(2,)]

    def infer_value(self, node, shapes, values):
        return [np.asarray(shapes[0], dtype="int64")]

    def perform(self, node, inputs):
        return [np.asarray(inputs[0].shape, dtype="int64")]


sparse_shape = SparseShape()


class SparseFromDense(SparseOp):
    """Dense -> sparse of ``format`` (``csr_from_dense``, ``csc_from_dense``)."""

    __props__ = ("format",)

    def __init__(self, format):
        self.format = format

    def __str__(self):
        return f"SparseFromDense{{{self.format}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim > 2:
            raise TypeError(f"sparse matrices are 2-d; {x} has {x.ndim} dimensions")
        if x.ndim < 2:
            x = x.dimshuffle(*(["x"] * (2 - x.ndim) + list(range(x.ndim))))
        return Apply(self, [x], [SparseType(self.format, x.type.dtype)()])

    def perform(self, node, inputs):
        return [_fmt_cls(self.format)(np.asarray(inputs[0]))]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class Transpose(SparseOp):
    """``x.T``: a csr matrix transposes to csc and back (no data moves)."""

    def make_node(self, x):
        x = as_sparse_variable(x)
        fmt = "csc" if x.type.format == "csr" else "csr"
        return Apply(self, [x], [SparseType(fmt, x.type.dtype)()])

    def perform(self, node, inputs):
        return [_as_format(inputs[0].T, node.outputs[0].type.format)]

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0][::-1])]


class Neg(SparseOp):
    """``-x`` of a sparse matrix."""

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        return [-inputs[0]]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class SpSum(SparseOp):
    """Sum of a sparse matrix over ``axis`` (None, 0 or 1): a dense result."""

    __props__ = ("axis", "sparse_grad")

    def __init__(self, axis=None, sparse_grad=True):
        if axis not in (None, 0, 1):
            raise ValueError(f"sp_sum: axis must be None, 0 or 1, got {axis!r}")
        self.axis = axis
        self.sparse_grad = bool(sparse_grad)

    def __str__(self):
        return f"SpSum{{axis={self.axis}}}"

    def make_node(self, x):
        x = as_sparse_variable(x)
        b = () if self.axis is None else (False,)
        return Apply(self, [x], [TensorType(x.type.dtype, b)()])

    def perform(self, node, inputs):
        (x,) = inputs
        out = node.outputs[0].type.dtype
        if self.axis is None:
            return [np.asarray(x.sum(dtype=out), dtype=out)]
        return [np.asarray(x.sum(axis=self.axis, dtype=out), dtype=out).ravel()]

    def infer_shape(self, node, shapes):
        s = shapes[0]
        return [() if self.axis is None else (s[1 - self.axis],)]


class SpOnesLike(SparseOp):
    """A sparse matrix with ``x``'s pattern and ones as values."""

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        x = inputs[0].copy()
        x.data = np.ones_like(x.data)
        return [x]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class SpZerosLike(SpOnesLike):
    """An all-zero sparse matrix of ``x``'s shape (no stored values)."""

    def perform(self, node, inputs):
        return [_fmt_cls(node.outputs[0].type.format)(inputs[0].shape, dtype=node.outputs[0].type.dtype)]


class AddSS(SparseOp):
    """sparse + sparse -> sparse (the first operand's format)."""

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_sparse_variable(y)
        return Apply(self, [x, y], [SparseType(x.type.format, _upcast(x.dtype, y.dtype))()])

    def perform(self, node, inputs):
        x, y = inputs
        if x.shape != y.shape:
            raise ValueError(f"{self}: inconsistent shapes {x.shape} and {y.shape}")
        t = node.outputs[0].type
        return [_as_format(x + y, t.format, t.dtype)]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class AddSD(SparseOp):
    """sparse + dense -> dense (numpy broadcasting of the dense operand)."""

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_tensor_variable(y)
        if y.ndim > 2:
            raise TypeError(f"sparse + dense: {y} has {y.ndim} dimensions (at most 2)")
        return Apply(self, [x, y], [TensorType(_upcast(x.dtype, y.dtype), (False, False))()])

    def perform(self, node, inputs):
        x, y = inputs
        out = np.broadcast_to(np.asarray(y), x.shape).astype(node.outputs[0].type.dtype, copy=True)
        coo = x.tocoo()
        np.add.at(out, (coo.row, coo.col), coo.data)
        return [out]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class MulSS(SparseOp):
    """sparse * sparse (elementwise) -> sparse (the first operand's format)."""

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_sparse_variable(y)
        return Apply(self, [x, y], [SparseType(x.type.format, _upcast(x.dtype, y.dtype))()])

    def perform(self, node, inputs):
        x, y = inputs
        if x.shape != y.shape:
            raise ValueError(f"{self}: inconsistent shapes {x.shape} and {y.shape}")
        t = node.outputs[0].type
        return [_as_format(x.multiply(y), t.format, t.dtype)]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class MulSD(SparseOp):
    """sparse * dense (elementwise, the dense operand broadcasts) -> sparse with x's pattern."""

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_tensor_variable(y)
        if y.ndim > 2:
            raise TypeError(f"sparse * dense: {y} has {y.ndim} dimensions (at most 2)")
        return Apply(self, [x, y], [SparseType(x.type.format, _upcast(x.dtype, y.dtype))()])

    def perform(self, node, inputs):
        x, y = inputs
        t = node.outputs[0].type
        y = np.asarray(y)
        np.broadcast_shapes(y.shape, x.shape)        # numpy's error when they do not broadcast
        x = _as_format(x, t.format, t.dtype)
        yb = np.broadcast_to(y, x.shape)
        out = x.copy()
        # values in x's own storage order: row/col of each stored entry
        if t.format == "csr":
            rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
            out.data = (x.data * yb[rows, x.indices]).astype(t.dtype, copy=False)
        else:
            cols = np.repeat(np.arange(x.shape[1]), np.diff(x.indptr))
            out.data = (x.data * yb[x.indices, cols]).astype(t.dtype, copy=False)
        return [out]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class StructuredDot(SparseOp):
    """sparse . dense -> dense, with a structured gradient (only at the stored entries of the
    sparse operand); sparse . sparse -> sparse.  Compiles to a TVM kernel (CSR rows in
    parallel, vectorized over the dense columns) for a dense operand."""

    host_only = False

    def make_node(self, a, b):
        a = as_sparse_variable(a)
        if is_sparse_var(b) or is_sparse_value(b):
            b = as_sparse_variable(b)
            return Apply(self, [a, b], [SparseType(a.type.format, _upcast(a.dtype, b.dtype))()])
        b = as_tensor_variable(b)
        if b.ndim != 2:
            raise NotImplementedError(f"structured_dot: the dense operand must be a matrix, got "
                                      f"{b.type}")
        return Apply(self, [a, b], [TensorType(_upcast(a.dtype, b.dtype),
                                               (False, b.type.broadcastable[1]))()])

    def perform(self, node, inputs):
        a, b = inputs
        _check_shapes(self, a.shape, b.shape)
        out = node.outputs[0].type
        r = a @ b
        if is_sparse_var(node.outputs[0]):
            return [_as_format(r, out.format, out.dtype)]
        return [np.asarray(r, dtype=out.dtype)]

    def infer_shape(self, node, shapes):
        _check_shapes(self, shapes[0], shapes[1])
        return [(shapes[0][0], shapes[1][1])]


class StructuredDotGrad(SparseOp):
    """The gradient of ``structured_dot(a, b)`` w.r.t. a's stored values: (gz . b.T) at a's
    pattern, as a sparse matrix like ``a``."""

    no_grad = "made by a gradient (second derivatives of structured_dot are not supported)"

    def make_node(self, a, b, gz):
        a, b, gz = as_sparse_variable(a), as_tensor_variable(b), as_tensor_variable(gz)
        return Apply(self, [a, b, gz], [SparseType(a.type.format, _upcast(a.dtype, b.dtype, gz.dtype))()])

    def perform(self, node, inputs):
        a, b, gz = inputs
        t = node.outputs[0].type
        out = _as_format(a, t.format, t.dtype).copy()
        major = np.repeat(np.arange(len(out.indptr) - 1), np.diff(out.indptr))
        rows, cols = (major, out.indices) if t.format == "csr" else (out.indices, major)
        out.data = np.einsum("ij,ij->i", gz[rows], b[cols]).astype(t.dtype, copy=False)
        return [out]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


class Dot(SparseOp):
    """``theano.sparse.dot``: a product where one or both operands are sparse; the result
    is dense, the gradient regular (not structured)."""

    host_only = False

    def __str__(self):
        return "SparseDot"

    def make_node(self, x, y):
        xs = is_sparse_var(x) or is_sparse_value(x)
        ys = is_sparse_var(y) or is_sparse_value(y)
        if not xs and not ys:
            raise TypeError(f"sparse dot needs at least one sparse operand, got {x} and {y}")
        x = as_sparse_variable(x) if xs else as_tensor_variable(x)
        y = as_sparse_variable(y) if ys else as_tensor_variable(y)
        for v, k in ((x, 0), (y, 1)):
            if v.ndim not in (1, 2):
                raise TypeError(f"sparse dot: input {k} must have 1 or 2 dimensions, got {v.type}")
        bx, by = x.broadcastable, y.broadcastable
        bout = bx[:-1] + (by[1:] if y.ndim == 2 else ())
        return Apply(self, [x, y], [TensorType(_upcast(x.dtype, y.dtype), bout)()])

    def perform(self, node, inputs):
        x, y = inputs
        _check_shapes(self, x.shape, y.shape)
        r = x @ y
        if is_sparse_value(r):
            r = r.toarray()
        return [np.asarray(r, dtype=node.outputs[0].type.dtype).reshape(self._shape(x.shape, y.shape))]

    @staticmethod
    def _shape(sx, sy):
        return tuple(sx[:-1]) + tuple(sy[1:])

    def infer_shape(self, node, shapes):
        _check_shapes(self, shapes[0], shapes[1])
        return [self._shape(shapes[0], shapes[1])]


class TrueDot(SparseOp):
    """sparse . (sparse or dense) -> sparse (``true_dot``)."""

    __props__ = ("grad_preserves_dense",)

    def __init__(self, grad_preserves_dense=True):
        self.grad_preserves_dense = bool(grad_preserves_dense)

    def make_node(self, x, y):
        x = as_sparse_variable(x)
        y = as_sparse_variable(y) if (is_sparse_var(y) or is_sparse_value(y)) else as_tensor_variable(y)
        if y.ndim != 2:
            raise TypeError(f"true_dot: the second operand must be a matrix, got {y.type}")
        return Apply(self, [x, y], [SparseType(x.type.format, _upcast(x.dtype, y.dtype))()])

    def perform(self, node, inputs):
        x, y = inputs
        _check_shapes(self, x.shape, y.shape)
        t = node.outputs[0].type
        r = x @ y
        return [_as_format(r if is_sparse_value(r) else _fmt_cls(t.format)(np.asarray(r)), t.format, t.dtype)]

    def infer_shape(self, node, shapes):
        _check_shapes(self, shapes[0], shapes[1])
        return [(shapes[0][0], shapes[1][1])]


class SamplingDot(SparseOp):
    """``sampling_dot(x, y, p) = p * (x . y.T)``, computed only at p's stored entries."""

    def make_node(self, x, y, p):
        x, y, p = as_tensor_variable(x), as_tensor_variable(y), as_sparse_variable(p)
        if x.ndim != 2 or y.ndim != 2:
            raise TypeError(f"sampling_dot: x and y must be matrices, got {x.type} and {y.type}")
        return Apply(self, [x, y, p], [SparseType(p.type.format, _upcast(x.dtype, y.dtype, p.dtype))()])

    def perform(self, node, inputs):
        x, y, p = inputs
        if x.shape[1] != y.shape[1] or (x.shape[0], y.shape[0]) != p.shape:
            raise ValueError(f"sampling_dot: x {x.shape}, y {y.shape} and p {p.shape} do not "
                             "match (x is m x k, y n x k, p m x n)")
        t = node.outputs[0].type
        out = _as_format(p, t.format, t.dtype).copy()
        major = np.repeat(np.arange(len(out.indptr) - 1), np.diff(out.indptr))
        rows, cols = (major, out.indices) if t.format == "csr" else (out.indices, major)
        out.data = (out.data * np.einsum("ij,ij->i", x[rows], y[cols])).astype(t.dtype, copy=False)
        return [out]

    def infer_shape(self, node, shapes):
        return [shapes[2]]


class SparseFromData(SparseOp):
    """A sparse matrix with a fixed pattern (``indices``, ``indptr``, ``shape``: tuples) and
    the values of the input vector (verify_grad_sparse's structured conversion)."""

    __props__ = ("format", "indices", "indptr", "shape")

    def __init__(self, format, indices, indptr, shape):
        self.format = format
        self.indices = tuple(int(i) for i in indices)
        self.indptr = tuple(int(i) for i in indptr)
        self.shape = tuple(int(s) for s in shape)

    def __str__(self):
        return f"SparseFromData{{{self.format},{self.shape}}}"

    def make_node(self, data):
        data = as_tensor_variable(data)
        return Apply(self, [data], [SparseType(self.format, data.dtype)()])

    def perform(self, node, inputs):
        return [_fmt_cls(self.format)((np.array(inputs[0]), np.array(self.indices, np.int32),
                                       np.array(self.indptr, np.int32)), shape=self.shape)]

    def infer_shape(self, node, shapes):
        return [self.shape]


class DataAt(SparseOp):
    """The values of a sparse matrix at a fixed pattern (zero where it stores nothing)."""

    no_grad = "made by SparseFromData's gradient (verify_grad_sparse)"

    __props__ = ("format", "indices", "indptr", "shape")
    __init__ = SparseFromData.__init__

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (False,))()])

    def perform(self, node, inputs):
        x = _as_format(inputs[0], self.format)
        major = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        idx = np.array(self.indices, dtype=np.int64)
        rows, cols = (major, idx) if self.format == "csr" else (idx, major)
        return [np.asarray(x[rows, cols]).ravel().astype(node.outputs[0].type.dtype)]

    def infer_shape(self, node, shapes):
        return [(len(self.indices),)]


# ------------------------------------------------------------------------------ functions
dense_from_sparse = DenseFromSparse()
csr_from_dense = SparseFromDense("csr")
csc_from_dense = SparseFromDense("csc")
transpose = Transpose()
neg = Neg()
sp_ones_like = SpOnesLike()
sp_zeros_like = SpZerosLike()
add_s_s, add_s_d, mul_s_s, mul_s_d = AddSS(), AddSD(), MulSS(), MulSD()
structured_dot_grad = StructuredDotGrad()
sampling_dot = SamplingDot()
_structured_dot = StructuredDot()
_dot = Dot()


def _sparse(x):
    return is_sparse_var(x) or is_sparse_value(x)


def _weak(v, like):
    """A Python scalar takes the sparse operand's dtype (NEP 50, as for tensors)."""
    if isinstance(v, (bool, int, float)) and not _sparse(like):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        from ..basic import constant
        kind = np.dtype(like.dtype).kind
        dtype = like.dtype if (kind == "f" or isinstance(v, int)) else "float64"
        return constant(v, dtype=dtype)
    return v


def _commuting(x, y, both_sparse, sparse_dense, what):
    """Dispatch a commuting binary op with at least one sparse operand."""
    x, y = _weak(x, y), _weak(y, x)
    if _sparse(x) and _sparse(y):
        return both_sparse(x, y)
    if _sparse(x) or _sparse(y):
        return sparse_dense(x, y) if _sparse(x) else sparse_dense(y, x)
    raise TypeError(f"sparse {what} needs at least one sparse operand")


def add(x, y):
    """x + y where at least one is sparse: sparse + sparse is sparse, sparse + dense dense."""
    return _commuting(x, y, add_s_s, add_s_d, "add")


def sub(x, y):
    """x - y where at least one is sparse."""
    from ..basic import neg as dense_neg
    return add(x, neg(y) if _sparse(y) else dense_neg(as_tensor_variable(y)))


def mul(x, y):
    """Elementwise x * y where at least one is sparse: the result is sparse."""
    return _commuting(x, y, mul_s_s, mul_s_d, "mul")


def structured_dot(x, y):
    """sparse . (dense or sparse); the gradient w.r.t. x is structured (its stored entries)."""
    if _sparse(x):
        return _structured_dot(x, y)
    if _sparse(y):          # dense . sparse = (sparse.T . dense.T).T
        return _structured_dot(transpose(as_sparse_variable(y)), as_tensor_variable(x).T).T
    raise TypeError("structured_dot needs a sparse operand")


def dot(x, y):
    """Product where one or both operands are sparse; the result is dense."""
    return _dot(x, y)


def true_dot(x, y, grad_preserves_dense=True):
    """Product of a sparse matrix with a sparse or dense matrix; the result is sparse."""
    if _sparse(x):
        return TrueDot(grad_preserves_dense)(x, y)
    if _sparse(y):
        return transpose(TrueDot(grad_preserves_dense)(transpose(as_sparse_variable(y)),
                                                       as_tensor_variable(x).T))
    raise TypeError("true_dot needs a sparse operand")


def sp_sum(x, axis=None, sparse_grad=False):
    """Sum of the sparse matrix ``x`` over ``axis`` (None, 0 or 1); a dense result."""
    return SpSum(axis, sparse_grad)(x)


__all__ = [
    "add",
    "add_s_d",
    "add_s_s",
    "csc_from_dense",
    "csr_from_dense",
    "dense_from_sparse",
    "dot",
    "mul",
    "mul_s_d",
    "mul_s_s",
    "neg",
    "sampling_dot",
    "sp_ones_like",
    "sp_sum",
    "sp_zeros_like",
    "structured_dot",
    "structured_dot_grad",
    "sub",
    "transpose",
    "true_dot",
]
