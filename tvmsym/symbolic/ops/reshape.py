"""Reshaping and joining: ``reshape``, ``flatten``, ``concatenate``/``join``, ``stack``,
``split``, ``expand_dims``, ``horizontal_stack``/``vertical_stack``."""

from __future__ import annotations

import numbers

import numpy as np

from ..basic import as_tensor_variable, cast, dimshuffle
from ..graph import Apply, Op
from ..type import TensorType
from .shape import _axis, _known_ints, as_shape_vector


# --------------------------------------------------------------------------- reshape
def _resolve_reshape(size, target, in_shape):
    target = [int(t) for t in target]
    if sum(1 for t in target if t == -1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension (-1), got {tuple(target)}")
    for t in target:
        if t < -1:
            raise ValueError(f"reshape: negative dimension {t} in {tuple(target)}")
    known = int(np.prod([t for t in target if t != -1]))
    if -1 in target:
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape array of size {size} (shape {tuple(in_shape)}) "
                             f"into shape {tuple(target)}")
        target = [size // known if t == -1 else t for t in target]
    elif known != size:
        raise ValueError(f"reshape: cannot reshape array of size {size} (shape {tuple(in_shape)}) "
                         f"into shape {tuple(target)}")
    return tuple(target)


class Reshape(Op):
    """``Reshape{ndim}(x, shape)``: numpy.reshape (C order) with one optional -1."""

    __props__ = ("ndim",)

    def __init__(self, ndim):
        self.ndim = int(ndim)

    def __str__(self):
        return f"Reshape{{{self.ndim}}}"

    def shape_value_inputs(self, node):
        return [1]

    def runtime_values_ok(self, node, positions):
        return True         # the kernel only needs the output shape

    def make_node(self, x, shp):
        x = as_tensor_variable(x)
        shp = as_shape_vector(shp, "reshape")
        known = _known_ints(shp)
        if known is not None:
            if len(known) != self.ndim:
                raise ValueError(f"reshape: shape has {len(known)} entries, Reshape{{{self.ndim}}} needs "
                                 f"{self.ndim}")
            if sum(1 for k in known if k == -1) > 1:
                raise ValueError(f"reshape: can only specify one unknown dimension (-1), got "
                                 f"{tuple(known)}")
        bc = tuple(k == 1 for k in known) if known is not None else (False,) * self.ndim
        return Apply(self, [x, shp], [TensorType(x.dtype, bc)()])

    def infer_shape_values(self, node, shapes, values):
        if values[1] is None:
            return [None]
        return [_resolve_reshape(int(np.prod(shapes[0])), values[1], shapes[0])]

    def perform(self, node, inputs):
        x, shp = inputs
        return [np.array(x.reshape(_resolve_reshape(x.size, shp, x.shape)))]


def reshape(x, newshape, ndim=None):
    """``x.reshape(newshape)``: a tuple of ints / int scalars (one may be -1) or an int vector."""
    x = as_tensor_variable(x)
    shp = as_shape_vector(newshape, "reshape")
    if ndim is None:
        k = _known_ints(shp)
        if k is None:
            raise ValueError("reshape: the length of a symbolic shape vector is unknown; pass ndim=")
        ndim = len(k)
    return Reshape(ndim)(x, shp)


class Flatten(Op):
    """``Flatten{ndim}``: keep the first ndim-1 dims, merge the rest."""

    __props__ = ("outdim",)

    def __init__(self, outdim=1):
        self.outdim = int(outdim)

    def __str__(self):
        return f"Flatten{{{self.outdim}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if not 1 <= self.outdim <= max(1, x.ndim):
            raise ValueError(f"flatten: ndim={self.outdim} must be in [1, {max(1, x.ndim)}] for a "
                             f"{x.ndim}-d tensor")
        bc = x.broadcastable[:self.outdim - 1] + (all(x.broadcastable[self.outdim - 1:]),)
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        s = shapes[0]
        return [tuple(s[:self.outdim - 1]) + (int(np.prod(s[self.outdim - 1:])),)]

    def perform(self, node, inputs):
        return [np.array(inputs[0].reshape(self.infer_shape(node, [inputs[0].shape])[0]))]


def flatten(x, ndim=1, outdim=None):
    """Theano's flatten: the result has ``ndim`` dims, the trailing ones merged."""
    return Flatten(outdim if outdim is not None else ndim)(as_tensor_variable(x))


# --------------------------------------------------------------------------- join / split
def _upcast(tensors):
    from ..basic import _resolve
    ts = _resolve(tensors)
    dt = np.result_type(*[t.dtype for t in ts]).name
    return [cast(t, dt) for t in ts]


class Join(Op):
    """numpy.concatenate along ``axis`` (prints as Theano's ``Join``)."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = int(axis)

    def __str__(self):
        return "Join"

    def make_node(self, *tensors):
        if not tensors:
            raise ValueError("join: need at least one tensor")
        tensors = _upcast(list(tensors))
        nd = tensors[0].ndim
        for t in tensors:
            if t.ndim != nd:
                raise ValueError(f"join: all tensors must have the same number of dimensions, got "
                                 f"{[t.ndim for t in tensors]}")
        if nd == 0:
            raise ValueError("join: zero-dimensional tensors cannot be concatenated")
        ax = self.axis
        if ax >= nd:
            raise ValueError(f"join: axis {ax} is out of range for {nd}-d tensors")
        bc = tuple(all(t.broadcastable[d] for t in tensors) if d != ax else
                   (len(tensors) == 1 and tensors[0].broadcastable[d]) for d in range(nd))
        return Apply(self, tensors, [TensorType(tensors[0].dtype, bc)()])

    def infer_shape(self, node, shapes):
        ax = self.axis
        first = shapes[0]
        for k, s in enumerate(shapes):
            for d in range(len(first)):
                if d != ax and s[d] != first[d]:
                    raise ValueError(f"join: all input dimensions except axis {ax} must match; "
                                     f"input 0 has shape {tuple(first)}, input {k} has shape {tuple(s)}")
        return [tuple(sum(s[ax] for s in shapes) if d == ax else first[d] for d in range(len(first)))]

    def perform(self, node, inputs):
        return [np.concatenate(inputs, axis=self.axis).astype(node.outputs[0].type.dtype, copy=False)]

    def pp(self, node, args, v):
        return f"join({self.axis}, {', '.join(args)})"


def concatenate(tensor_list, axis=0):
    """numpy.concatenate of a list of tensors."""
    tensors = [as_tensor_variable(t) for t in tensor_list]
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    axis = _axis(axis, max(1, tensors[0].ndim), "concatenate")
    return Join(axis)(*tensors)


def join(axis, *tensors):
    """Theano's ``join(axis, *tensors)``."""
    return concatenate(tensors, axis)


def expand_dims(x, axis):
    """numpy.expand_dims: a broadcastable dimension inserted at ``axis``."""
    x = as_tensor_variable(x)
    axis = _axis(axis, x.ndim + 1, "expand_dims")
    order = list(range(x.ndim))
    order.insert(axis, "x")
    return dimshuffle(x, order)


def stack(tensors, *more, axis=0):
    """numpy.stack: join tensors of one shape along a new axis (``stack(a, b)`` works too)."""
    if more or not isinstance(tensors, (list, tuple)):
        if (more and isinstance(more[-1], (numbers.Integral, np.integer))
                and isinstance(tensors, (list, tuple))):
            axis = more[-1]
        else:
            tensors = [tensors, *more]
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    return Join(axis)(*[expand_dims(t, axis) for t in tensors])


def horizontal_stack(*tensors):
    """numpy.hstack of matrices."""
    return concatenate(tensors, axis=1)


def vertical_stack(*tensors):
    """numpy.vstack of matrices."""
    return concatenate(tensors, axis=0)


class Split(Op):
    """``Split{n}``: split along ``axis`` into pieces of the given sizes (an int vector input)."""

    __props__ = ("len_splits", "axis")

    def __init__(self, len_splits, axis):
        self.len_splits = int(len_splits)
        self.axis = int(axis)

    def __str__(self):
        return f"Split{{{self.len_splits}}}"

    def shape_value_inputs(self, node):
        return [1]

    def runtime_values_ok(self, node, positions):
        return True

    def make_node(self, x, sizes):
        x = as_tensor_variable(x)
        sizes = as_shape_vector(sizes, "split")
        bc = tuple(b if d != self.axis else False for d, b in enumerate(x.broadcastable))
        return Apply(self, [x, sizes], [TensorType(x.dtype, bc)() for _ in range(self.len_splits)])

    def _check(self, n, sizes):
        sizes = [int(s) for s in sizes]
        if len(sizes) != self.len_splits:
            raise ValueError(f"split: {len(sizes)} sizes given for {self.len_splits} pieces")
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to the length {n} of axis {self.axis}")
        return sizes

    def infer_shape_values(self, node, shapes, values):
        if values[1] is None:
            return [None] * self.len_splits
        s = shapes[0]
        sizes = self._check(s[self.axis], values[1])
        return [tuple(k if d == self.axis else s[d] for d in range(len(s))) for k in sizes]

    def perform(self, node, inputs):
        x, sizes = inputs
        sizes = self._check(x.shape[self.axis], sizes)
        return [np.array(p) for p in np.split(x, np.cumsum(sizes)[:-1], axis=self.axis)]


def split(x, splits_size, n_splits, axis=0):
    """Theano's split: ``n_splits`` pieces of lengths ``splits_size`` along ``axis``."""
    x = as_tensor_variable(x)
    axis = _axis(axis, x.ndim, "split")
    out = Split(n_splits, axis)(x, splits_size)
    return out if isinstance(out, list) else [out]
