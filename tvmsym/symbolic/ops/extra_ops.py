"""``theano.tensor.extra_ops``: numpy helpers on tensors.

Most are graphs of lowered ops, so they fuse and differentiate like any graph:
``diff`` (slices), ``to_one_hot`` and ``fill_diagonal``/``fill_diagonal_offset`` (masks),
``bartlett`` (arange arithmetic), ``compress`` (take of the flat non-zero indices),
``squeeze``/``repeat``/``cumsum``/``cumprod`` (the ops of ``shape.py``/``cum.py``).
The ops whose output size depends on the data, or that are lookups numpy does well,
run on the host: ``Unique``, ``BinCountOp``, ``SearchsortedOp``, ``RavelMultiIndex``,
``UnravelIndex`` and ``CpuContiguous`` (compress uses the ``nonzero`` op of ``nonzero.py``).
"""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from ..basic import as_tensor_variable, dimshuffle
from ..graph import Apply, Op
from ..type import TensorType
from .cum import CumOp, cumprod, cumsum
from .shape import arange, repeat, shape_i, squeeze
from .subtensor import getitem

__all__ = ["CumOp", "cumsum", "cumprod", "diff", "bincount", "BinCountOp", "searchsorted",
           "SearchsortedOp", "to_one_hot", "fill_diagonal", "fill_diagonal_offset",
           "ravel_multi_index", "RavelMultiIndex", "unravel_index", "UnravelIndex", "Unique",
           "unique", "compress", "squeeze", "repeat", "bartlett", "CpuContiguous",
           "cpu_contiguous"]


class _HostOp(Op):
    """An op run on the host through numpy (no TVM lowering, never placed on a GPU)."""

    kind = "opaque"
    host_only = "numpy on the host: the output size depends on the data, or a lookup numpy does well"


def _int_vector_type(n=1):
    return TensorType("int64", (False,) * n)


# --------------------------------------------------------------------------- diff
def diff(x, n=1, axis=-1):
    """numpy.diff: the ``n``-th difference along ``axis`` (slices, so it has a gradient)."""
    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise ValueError("diff: needs an input of at least one dimension")
    axis = axis % x.ndim
    lead = (slice(None),) * axis
    for _ in range(int(n)):
        x = getitem(x, lead + (slice(1, None),)) - getitem(x, lead + (slice(None, -1),))
    return x


# --------------------------------------------------------------------------- bincount
class BinCountOp(_HostOp):
    """numpy.bincount of a non-negative int vector (with optional weights and minlength):
    the output length depends on the data."""

    __props__ = ("minlength",)

    def __init__(self, minlength=None):
        self.minlength = None if minlength is None else int(minlength)

    def make_node(self, x, weights=None):
        x = as_tensor_variable(x)
        if x.ndim != 1 or x.dtype[0] not in "iub":
            raise TypeError(f"bincount: x must be an int vector, got {x.type}")
        ins = [x]
        dt = "int64"
        if weights is not None:
            weights = as_tensor_variable(weights)
            if weights.ndim != 1:
                raise TypeError(f"bincount: weights must be a vector, got {weights.type}")
            ins.append(weights)
            dt = "float64" if weights.dtype != "float32" else "float32"
        return Apply(self, ins, [TensorType(dt, (False,))()])

    def infer_shape(self, node, shapes):
        return [None]

    def perform(self, node, inputs):
        x = inputs[0]
        w = inputs[1] if len(inputs) > 1 else None
        if w is not None and w.shape != x.shape:
            raise ValueError(f"bincount: weights of shape {w.shape} do not match x of shape "
                             f"{x.shape}")
        if x.size and x.min() < 0:
            raise ValueError("bincount: x must contain non-negative integers only, got "
                             f"{int(x.min())}")
        r = np.bincount(x, weights=w, minlength=self.minlength or 0)
        return [r.astype(node.outputs[0].dtype)]

    def grad(self, inputs, gouts):
        if len(inputs) == 1:
            return [None]
        return [None, getitem(gouts[0], inputs[0])]


def bincount(x, weights=None, minlength=None, assert_nonneg=False):
    """numpy.bincount (negative values always raise, whatever ``assert_nonneg``)."""
    return BinCountOp(minlength)(x, weights)


# --------------------------------------------------------------------------- searchsorted
class SearchsortedOp(_HostOp):
    """numpy.searchsorted: int64 insertion indices of ``v`` into the sorted vector ``x``."""

    __props__ = ("side",)

    def __init__(self, side="left"):
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        self.side = side

    def make_node(self, x, v, sorter=None):
        x, v = as_tensor_variable(x), as_tensor_variable(v)
        if x.ndim != 1:
            raise TypeError(f"searchsorted: x must be a vector, got {x.type}")
        ins = [x, v]
        if sorter is not None:
            sorter = as_tensor_variable(sorter)
            if sorter.ndim != 1 or sorter.dtype[0] not in "iu":
                raise TypeError(f"searchsorted: sorter must be an int vector, got {sorter.type}")
            ins.append(sorter)
        return Apply(self, ins, [TensorType("int64", v.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[1])]

    def perform(self, node, inputs):
        x, v = inputs[:2]
        sorter = inputs[2] if len(inputs) > 2 else None
        return [np.asarray(np.searchsorted(x, v, side=self.side, sorter=sorter), dtype="int64")]

    def grad(self, inputs, gouts):
        return [None] * len(inputs)


def searchsorted(x, v, side="left", sorter=None):
    """numpy.searchsorted of ``v`` into the sorted vector ``x``."""
    return SearchsortedOp(side)(x, v, sorter)


# --------------------------------------------------------------------------- one-hot, diagonals
def to_one_hot(y, nb_class, dtype=None):
    """Rows of ``one_hot[i, y[i]] = 1`` for an int vector ``y`` (a comparison kernel)."""
    from ...config import config
    y = as_tensor_variable(y)
    if y.ndim != 1:
        raise TypeError(f"to_one_hot: y must be a vector, got {y.type}")
    cls = arange(nb_class)
    return tb.cast(tb.eq(dimshuffle(y, [0, "x"]), dimshuffle(cls, ["x", 0])),
                   dtype or config.floatX)


def _diag_mask(a, offset=0):
    """True where all indices of ``a`` are equal (offset: column - row == offset, 2-d)."""
    idx = []
    for d in range(a.ndim):
        pat = ["x"] * a.ndim
        pat[d] = 0
        idx.append(dimshuffle(arange(shape_i(a, d)), pat))
    mask = tb.eq(idx[1] - idx[0], offset)
    for d in range(2, a.ndim):
        mask = tb.and_(mask, tb.eq(idx[d], idx[0]))
    return mask


def fill_diagonal(a, val):
    """``a`` with its main diagonal set to the scalar ``val`` (numpy.fill_diagonal, without
    wrapping; all indices equal for n-d).  Gradients: ``a`` gets ``gz`` off the diagonal,
    ``val`` the sum of ``gz``'s diagonal."""
    a, val = as_tensor_variable(a), as_tensor_variable(val)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: a must be at least 2-d, got {a.type}")
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal: val must be a scalar, got {val.type}")
    return tb.switch(_diag_mask(a), tb.cast(val, a.dtype), a)


def fill_diagonal_offset(a, val, offset):
    """``a`` (a matrix) with diagonal ``offset`` (column - row) set to the scalar ``val``."""
    a, val = as_tensor_variable(a), as_tensor_variable(val)
    if a.ndim != 2:
        raise TypeError(f"fill_diagonal_offset: a must be a matrix, got {a.type}")
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal_offset: val must be a scalar, got {val.type}")
    return tb.switch(_diag_mask(a, offset), tb.cast(val, a.dtype), a)


# --------------------------------------------------------------------------- (un)ravel
def _dims_list(dims, what):
    if isinstance(dims, (list, tuple)):
        return [as_tensor_variable(d) for d in dims]
    dims = as_tensor_variable(dims)
    from .shape import const_value
    c = const_value(dims)
    if c is None or dims.ndim != 1:
        raise TypeError(f"{what}: dims must be a tuple or a constant vector of known length")
    return [tb.constant(int(d), dtype="int64") for d in c]


class RavelMultiIndex(_HostOp):
    """numpy.ravel_multi_index: inputs are the index arrays then the dims (scalars)."""

    __props__ = ("mode", "order", "nindex")

    def __init__(self, mode="raise", order="C", nindex=1):
        if order not in ("C", "F"):
            raise ValueError(f"ravel_multi_index: order must be 'C' or 'F', got {order!r}")
        self.mode, self.order, self.nindex = mode, order, int(nindex)

    def make_node(self, *inputs):
        inputs = [as_tensor_variable(i) for i in inputs]
        idx = inputs[:self.nindex]
        for i in inputs:
            if i.dtype[0] not in "iu":
                raise TypeError(f"ravel_multi_index: indices and dims must be integers, got {i.type}")
        bc = idx[0].broadcastable
        return Apply(self, inputs, [TensorType("int64", bc)()])

    def infer_shape(self, node, shapes):
        return [tuple(np.broadcast_shapes(*[tuple(s) for s in shapes[:self.nindex]]))]

    def perform(self, node, inputs):
        idx, dims = inputs[:self.nindex], tuple(int(d) for d in inputs[self.nindex:])
        try:
            r = np.ravel_multi_index(tuple(idx), dims, mode=self.mode, order=self.order)
        except ValueError as e:
            raise ValueError(f"ravel_multi_index: {e} (dims {dims})") from None
        return [np.asarray(r, dtype="int64")]

    def grad(self, inputs, gouts):
        return [None] * len(inputs)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """numpy.ravel_multi_index of a tuple of int tensors into an array of shape ``dims``."""
    if not isinstance(multi_index, (list, tuple)):
        raise TypeError("ravel_multi_index: multi_index must be a tuple or a list")
    dims = _dims_list(dims, "ravel_multi_index")
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: {len(multi_index)} index arrays for {len(dims)} dims")
    return RavelMultiIndex(mode, order, len(multi_index))(*multi_index, *dims)


class UnravelIndex(_HostOp):
    """numpy.unravel_index: one int64 output per dim."""

    __props__ = ("ndim", "order")

    def __init__(self, ndim, order="C"):
        if order not in ("C", "F"):
            raise ValueError(f"unravel_index: order must be 'C' or 'F', got {order!r}")
        self.ndim, self.order = int(ndim), order

    def make_node(self, indices, *dims):
        indices = as_tensor_variable(indices)
        if indices.dtype[0] not in "iu":
            raise TypeError(f"unravel_index: indices must be integers, got {indices.type}")
        dims = [as_tensor_variable(d) for d in dims]
        return Apply(self, [indices, *dims],
                     [TensorType("int64", indices.broadcastable)() for _ in range(self.ndim)])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])] * self.ndim

    def perform(self, node, inputs):
        dims = tuple(int(d) for d in inputs[1:])
        try:
            r = np.unravel_index(inputs[0], dims, order=self.order)
        except ValueError as e:
            raise ValueError(f"unravel_index: {e} (dims {dims})") from None
        return [np.asarray(x, dtype="int64") for x in r]

    def grad(self, inputs, gouts):
        return [None] * len(inputs)


def unravel_index(indices, dims, order="C"):
    """numpy.unravel_index: a tuple of int64 tensors, one per dim."""
    dims = _dims_list(dims, "unravel_index")
    res = UnravelIndex(len(dims), order)(indices, *dims)
    return tuple(res) if isinstance(res, list) else (res,)


# --------------------------------------------------------------------------- unique
class Unique(_HostOp):
    """numpy.unique: the sorted unique values, plus (in this order) the indices of their
    first occurrences (``return_index``), the indices rebuilding the input
    (``return_inverse``) and the counts (``return_counts``).  ``axis=None`` flattens."""

    __props__ = ("return_index", "return_inverse", "return_counts", "axis")
    no_grad = "Theano defines no gradient for Unique"

    def __init__(self, return_index=False, return_inverse=False, return_counts=False, axis=None):
        self.return_index = bool(return_index)
        self.return_inverse = bool(return_inverse)
        self.return_counts = bool(return_counts)
        self.axis = None if axis is None else int(axis)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if self.axis is None:
            out = TensorType(x.dtype, (False,))
        else:
            if not -x.ndim <= self.axis < x.ndim:
                raise ValueError(f"Unique: axis {self.axis} out of range for {x.type}")
            out = TensorType(x.dtype, tuple(b if d != self.axis % x.ndim else False
                                            for d, b in enumerate(x.broadcastable)))
        outs = [out()]
        if self.return_index:
            outs.append(_int_vector_type()())
        if self.return_inverse:
            outs.append(_int_vector_type()())
        if self.return_counts:
            outs.append(_int_vector_type()())
        return Apply(self, [x], outs)

    def infer_shape(self, node, shapes):
        shapes_out = [None] * len(node.outputs)
        if self.return_inverse:
            k = 1 + self.return_index
            s = shapes[0]
            shapes_out[k] = ((int(np.prod(s)),) if self.axis is None else (s[self.axis],))
        return shapes_out

    def perform(self, node, inputs):
        res = np.unique(inputs[0], return_index=self.return_index,
                        return_inverse=self.return_inverse, return_counts=self.return_counts,
                        axis=self.axis)
        if not isinstance(res, tuple):
            res = (res,)
        out = [np.asarray(res[0])]
        for r in res[1:]:
            out.append(np.asarray(r, dtype="int64").reshape(-1))
        return out


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None):
    """numpy.unique (a list of outputs when any ``return_*`` is set)."""
    return Unique(return_index, return_inverse, return_counts, axis)(ar)


# --------------------------------------------------------------------------- compress
def compress(condition, x, axis=None):
    """numpy.compress: the slices of ``x`` along ``axis`` (flattened when None) where
    ``condition`` is true; a shorter condition counts as false beyond its end."""
    from .nonzero import flatnonzero
    from .subtensor import take
    x = as_tensor_variable(x)
    condition = as_tensor_variable(condition)
    if condition.ndim != 1:
        raise TypeError(f"compress: condition must be a vector, got {condition.type}")
    return take(x, flatnonzero(condition), axis=axis)


# --------------------------------------------------------------------------- bartlett
def bartlett(M):
    """numpy.bartlett: the triangular window of ``M`` points (float64; empty for M < 1)."""
    M = tb.cast(as_tensor_variable(M), "int64")
    if M.ndim != 0:
        raise TypeError(f"bartlett: M must be an integer scalar, got {M.type}")
    n = tb.cast(arange(tb.maximum(M, 0)), "float64")
    half = tb.cast(M - 1, "float64") / 2.0
    den = tb.switch(tb.le(M, 1), 1.0, half)
    w = 1.0 - abs(n - half) / den
    return tb.switch(tb.le(M, 1), tb.cast(1.0, "float64"), w)


# --------------------------------------------------------------------------- contiguous
class CpuContiguous(_HostOp):
    """A C-contiguous copy of the input if it is not one (Theano's CpuContiguous); every
    tvmsym value is contiguous when a host op reads it, so this is a checked identity."""

    __props__ = ()

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        return [np.array(inputs[0], order="C", copy=True)]

    def grad(self, inputs, gouts):
        return [gouts[0]]


cpu_contiguous = CpuContiguous()
