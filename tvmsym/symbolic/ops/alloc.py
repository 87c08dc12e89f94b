"""Constructors: ``alloc``, ``zeros``/``ones``/``full``/``fill`` and their ``*_like``, ``arange``,
``eye``/``identity_like``, ``diag``/``diagonal`` (AllocDiag, ExtractDiag)."""

from __future__ import annotations

import numbers

import numpy as np

from ...config import config
from ..basic import as_tensor_variable, cast, constant
from ..graph import Apply, Constant, Op, Variable
from ..type import TensorType, normalize_dtype
from .shape import MakeVector, _int_scalar, _known_ints, const_value, shape_i, shape_tuple


# --------------------------------------------------------------------------- alloc and friends
class Alloc(Op):
    """``Alloc(value, *shape)``: value broadcast to ``shape`` (Theano's alloc)."""

    __props__ = ()

    def shape_value_inputs(self, node):
        return list(range(1, len(node.inputs)))

    def runtime_values_ok(self, node, positions):
        return True

    def make_node(self, value, *shape):
        value = as_tensor_variable(value)
        if isinstance(value, Constant) and value.weak and value.dtype[0] == "f":
            value = constant(value.data.item(), dtype=config.floatX)     # Theano: floats are floatX
        sh = [_int_scalar(s, "alloc") for s in shape]
        if value.ndim > len(sh):
            raise ValueError(f"alloc: the value has {value.ndim} dimensions, more than the "
                             f"{len(sh)} of the shape")
        known = _known_ints(MakeVector("int64")(*sh)) if sh else []
        bc = tuple(k == 1 for k in known)
        return Apply(self, [value] + sh, [TensorType(value.dtype, bc)()])

    def _shape(self, vshape, dims):
        dims = tuple(int(d) for d in dims)
        if any(d < 0 for d in dims):
            raise ValueError(f"alloc: negative dimension in {dims}")
        off = len(dims) - len(vshape)
        for k, s in enumerate(vshape):
            if s != 1 and s != dims[off + k]:
                raise ValueError(f"alloc: value of shape {tuple(vshape)} does not broadcast to {dims}")
        return dims

    def infer_shape_values(self, node, shapes, values):
        if any(v is None for v in values[1:]):
            return [None]
        return [self._shape(shapes[0], values[1:])]

    def perform(self, node, inputs):
        v, *dims = inputs
        return [np.array(np.broadcast_to(v, self._shape(v.shape, dims)))]


def alloc(value, *shape):
    """``value`` broadcast to ``shape`` (ints or int scalars, e.g. ``x.shape[0]``)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Alloc()(value, *shape)


def _shape_args(shp):
    if isinstance(shp, (numbers.Integral, np.integer)) or (isinstance(shp, Variable) and shp.ndim == 0):
        return (shp,)
    if isinstance(shp, Variable):
        k = _known_ints(shp)
        if k is None:
            raise ValueError("the length of a symbolic shape vector is unknown")
        from .subtensor import subtensor_index
        return tuple(subtensor_index(shp, d) for d in range(len(k)))
    return tuple(shp)


def full(shape, fill_value, dtype=None):
    """A tensor of ``shape`` filled with ``fill_value``."""
    if dtype is None:
        v = as_tensor_variable(fill_value)
        if isinstance(v, Constant) and v.weak:
            dtype = config.floatX if isinstance(fill_value, float) else v.dtype
        else:
            dtype = v.dtype
    return alloc(constant(fill_value, dtype=dtype) if not isinstance(fill_value, Variable)
                 else cast(fill_value, dtype), *_shape_args(shape))


def zeros(shape, dtype=None):
    """A tensor of zeros (dtype defaults to floatX)."""
    return full(shape, 0, normalize_dtype(dtype))


def ones(shape, dtype=None):
    """A tensor of ones (dtype defaults to floatX)."""
    return full(shape, 1, normalize_dtype(dtype))


def fill(model, value):
    """``value`` broadcast to the shape of ``model`` (Theano's fill)."""
    model = as_tensor_variable(model)
    return alloc(value, *shape_tuple(model))


def _const_like(model, value, dtype):
    model = as_tensor_variable(model)
    return alloc(constant(value, dtype=dtype or model.dtype), *shape_tuple(model))


def zeros_like(model, dtype=None):
    """Zeros with the shape (and by default the dtype) of ``model``."""
    return _const_like(model, 0, dtype)


def ones_like(model, dtype=None):
    """Ones with the shape (and by default the dtype) of ``model``."""
    return _const_like(model, 1, dtype)


class ARange(Op):
    """numpy.arange(start, stop, step) in ``dtype``."""

    no_grad = "its inputs are bounds of an integer range"

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = normalize_dtype(dtype)

    def __str__(self):
        return f"ARange{{dtype='{self.dtype}'}}"

    def shape_value_inputs(self, node):
        return [0, 1, 2]

    def make_node(self, start, stop, step):
        ins = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in ins:
            if v.ndim != 0:
                raise TypeError(f"arange: start, stop and step must be scalars, got {v.type}")
        c = const_value(ins[2])
        if c is not None and c == 0:
            raise ValueError("arange: step must not be zero")
        return Apply(self, ins, [TensorType(self.dtype, (False,))()])

    @staticmethod
    def _len(start, stop, step):
        if step == 0:
            raise ValueError("arange: step must not be zero")
        return max(0, int(np.ceil((stop - start) / step)))

    def infer_shape_values(self, node, shapes, values):
        if any(v is None for v in values):
            return [None]
        return [(self._len(*[v.item() for v in values]),)]

    def perform(self, node, inputs):
        a, b, s = [np.asarray(v).item() for v in inputs]
        self._len(a, b, s)
        return [np.arange(a, b, s, dtype=self.dtype)]


def arange(start, stop=None, step=1, dtype=None):
    """numpy.arange; ``dtype`` defaults to int64 for ints, floatX for Python floats."""
    if stop is None:
        start, stop = 0, start
    ins = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        strong = [v.dtype for v in ins if not (isinstance(v, Constant) and v.weak)]
        if strong:
            dtype = np.result_type(*strong).name
            if any(isinstance(v, Constant) and v.weak and v.dtype[0] == "f" for v in ins) \
                    and dtype[0] != "f":
                dtype = config.floatX
        else:
            dtype = config.floatX if any(v.dtype[0] == "f" for v in ins) else "int64"
    return ARange(dtype)(*ins)


class Eye(Op):
    """numpy.eye(n, m, k) in ``dtype``."""

    no_grad = "its inputs are sizes (integers)"

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = normalize_dtype(dtype)

    def shape_value_inputs(self, node):
        return [0, 1, 2]

    def make_node(self, n, m, k):
        n, m, k = (_int_scalar(v, "eye") for v in (n, m, k))
        return Apply(self, [n, m, k], [TensorType(self.dtype, (False, False))()])

    def infer_shape_values(self, node, shapes, values):
        if values[0] is None or values[1] is None:
            return [None]
        n, m = int(values[0]), int(values[1])
        if n < 0 or m < 0:
            raise ValueError(f"eye: negative dimensions ({n}, {m})")
        return [(n, m)]

    def perform(self, node, inputs):
        n, m, k = (int(v) for v in inputs)
        return [np.eye(n, m, k, dtype=self.dtype)]


def eye(n, m=None, k=0, dtype=None):
    """numpy.eye (dtype defaults to floatX)."""
    return Eye(dtype or config.floatX)(n, n if m is None else m, k)


def identity_like(x, dtype=None):
    x = as_tensor_variable(x)
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=dtype or x.dtype)


class AllocDiag(Op):
    """A matrix with vector ``v`` on diagonal ``offset`` (numpy.diag of a vector)."""

    __props__ = ("offset",)

    def __init__(self, offset=0):
        self.offset = int(offset)

    def make_node(self, v):
        v = as_tensor_variable(v)
        if v.ndim != 1:
            raise TypeError(f"AllocDiag takes a vector, got {v.type}")
        return Apply(self, [v], [TensorType(v.dtype, (False, False))()])

    def infer_shape(self, node, shapes):
        n = shapes[0][0] + abs(self.offset)
        return [(n, n)]

    def perform(self, node, inputs):
        return [np.diag(inputs[0], self.offset)]


class ExtractDiag(Op):
    """Diagonal ``offset`` of a matrix (numpy.diagonal / numpy.diag of a matrix)."""

    __props__ = ("offset",)

    def __init__(self, offset=0):
        self.offset = int(offset)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != 2:
            raise TypeError(f"ExtractDiag takes a matrix, got {x.type}")
        return Apply(self, [x], [TensorType(x.dtype, (False,))()])

    def infer_shape(self, node, shapes):
        n, m = shapes[0]
        k = self.offset
        return [(max(0, min(n, m - k) if k >= 0 else min(n + k, m)),)]

    def perform(self, node, inputs):
        return [np.array(np.diagonal(inputs[0], self.offset))]


def diag(v, k=0):
    """numpy.diag: a vector gives a diagonal matrix, a matrix its diagonal."""
    v = as_tensor_variable(v)
    if v.ndim == 1:
        return AllocDiag(k)(v)
    if v.ndim == 2:
        return ExtractDiag(k)(v)
    raise ValueError(f"diag: input must be 1-d or 2-d, got {v.ndim}-d")


def diagonal(x, offset=0):
    return ExtractDiag(offset)(as_tensor_variable(x))
