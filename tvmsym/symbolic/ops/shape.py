"""Shape ops: shape values, reshape/flatten, join/stack/split, repeat/tile, alloc & friends,
arange/eye/diag, squeeze/expand_dims, flip/roll.

Shapes as values: ``x.shape`` is ``Shape(x)`` (an int64 vector) and ``x.shape[0]`` a
Subtensor of it; ops whose output shape depends on input *values* (Reshape, Alloc,
ARange, Eye, Repeat, Split) define ``infer_shape_values(node, shapes, values)``.  The
executor evaluates such small int values at build time from the input shapes
(``lowering/lower.py infer_shapes``), so ``x.reshape((x.shape[0], -1))`` compiles to
a static-shape kernel per input-shape signature.  A value that comes from an int
input (``x.reshape((n, -1))``, ``x[i * bs:(i + 1) * bs]``) keys the build by the shapes
it gives (``plan.value_inputs``; kernels read such values at run time, and an op that
would bake one runs in numpy); a shape that depends on data (a boolean mask) is sized
at call time and that node and its consumers run in numpy.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...config import config
from ..basic import as_tensor_variable, cast, constant, dimshuffle
from ..elemwise import DimShuffle
from ..graph import Apply, Constant, Op, TensorVariable, Variable
from ..type import TensorType, normalize_dtype

__all__ = ["Shape", "Shape_i", "MakeVector", "Reshape", "Flatten", "Join", "Split", "Repeat",
           "Tile", "Alloc", "ARange", "Eye", "AllocDiag", "ExtractDiag", "Squeeze", "Flip", "Roll",
           "shape", "shape_i", "shape_tuple", "reshape", "flatten", "concatenate", "join", "stack",
           "split", "repeat", "tile", "alloc", "zeros", "ones", "zeros_like", "ones_like", "fill",
           "full", "arange", "eye", "identity_like", "diag", "diagonal", "squeeze", "expand_dims",
           "flip", "roll", "as_shape_vector", "SpecifyShape", "specify_shape"]


def _axis(axis, ndim, what):
    if not isinstance(axis, (numbers.Integral, np.integer)):
        raise TypeError(f"{what}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} is out of range for a {ndim}-d tensor "
                         f"(valid: {-ndim} .. {ndim - 1})")
    return int(axis) % ndim


def _int_scalar(v, what):
    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype[0] not in "iu":
        raise TypeError(f"{what}: expected an integer scalar, got {v.type}")
    return cast(v, "int64") if v.dtype != "int64" else v


def const_value(v):
    """The value of ``v`` if it is known while building the graph (a constant), else None."""
    if isinstance(v, Constant):
        return v.data
    if v.owner is not None and isinstance(v.owner.op, DimShuffle) and isinstance(v.owner.inputs[0], Constant):
        return v.owner.op.perform(v.owner, [v.owner.inputs[0].data])[0]
    return None


def _known_ints(vec):
    """Entries of an int vector variable known at graph-build time (None where unknown)."""
    c = const_value(vec)
    if c is not None:
        return [int(x) for x in np.asarray(c).reshape(-1)]
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        out = []
        for i in vec.owner.inputs:
            c = const_value(i)
            if c is not None:
                out.append(int(c))
            elif i.owner is not None and isinstance(i.owner.op, Shape_i) \
                    and i.owner.inputs[0].broadcastable[i.owner.op.i]:
                out.append(1)
            else:
                out.append(None)
        return out
    if vec.owner is not None and isinstance(vec.owner.op, Shape):
        return [1 if b else None for b in vec.owner.inputs[0].broadcastable]
    return None


# --------------------------------------------------------------------------- shape values
class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    host_only = "metadata: its value is known when kernels are built"
    no_grad = "an integer result"

    __props__ = ()

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim == 1,))()])

    def infer_shape(self, node, shapes):
        return [(len(shapes[0]),)]

    def infer_value(self, node, shapes, values):
        return [np.asarray(shapes[0], dtype="int64")]

    def perform(self, node, inputs):
        return [np.asarray(inputs[0].shape, dtype="int64")]

    def pp(self, node, args, v):
        return f"{args[0]}.shape"


class Shape_i(Op):
    """``x.shape[i]`` as an int64 scalar."""

    host_only = "metadata: its value is known when kernels are built"
    no_grad = "an integer result"

    __props__ = ("i",)

    def __init__(self, i):
        self.i = int(i)

    def make_node(self, x):
        x = as_tensor_variable(x)
        _axis(self.i, x.ndim, "Shape_i")
        return Apply(self, [x], [TensorType("int64", ())()])

    def infer_shape(self, node, shapes):
        return [()]

    def infer_value(self, node, shapes, values):
        return [np.asarray(shapes[0][self.i], dtype="int64")]

    def perform(self, node, inputs):
        return [np.asarray(inputs[0].shape[self.i], dtype="int64")]


class MakeVector(Op):
    """A vector from scalars: ``MakeVector{dtype='int64'}(a, b)``."""

    no_grad = "an integer shape vector"

    __props__ = ("dtype",)

    def __init__(self, dtype="int64"):
        self.dtype = normalize_dtype(dtype)

    def __str__(self):
        return f"MakeVector{{dtype='{self.dtype}'}}"

    def make_node(self, *scalars):
        scalars = [as_tensor_variable(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"MakeVector takes scalars, got {s.type}")
        scalars = [cast(s, self.dtype) for s in scalars]
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars) == 1,))()])

    def infer_shape(self, node, shapes):
        return [(len(node.inputs),)]

    def perform(self, node, inputs):
        return [np.array([np.asarray(i).item() for i in inputs], dtype=self.dtype).reshape(len(inputs))]

    def pp(self, node, args, v):
        return f"[{', '.join(args)}]"


def shape(x):
    """``x.shape`` as a symbolic int64 vector."""
    return Shape()(as_tensor_variable(x))


def shape_i(x, i):
    """``x.shape[i]`` as a symbolic int64 scalar (the constant 1 for a broadcastable dim)."""
    x = as_tensor_variable(x)
    i = _axis(i, x.ndim, "shape_i")
    if x.broadcastable[i]:
        return constant(1, dtype="int64")
    return Shape_i(i)(x)


def shape_tuple(x):
    """A tuple of symbolic int64 scalars, one per dimension of x."""
    x = as_tensor_variable(x)
    return tuple(shape_i(x, d) for d in range(x.ndim))


def as_shape_vector(shp, what="shape"):
    """An int64 vector variable from a tuple of ints / int scalars, or an int vector variable."""
    if isinstance(shp, (numbers.Integral, np.integer)) or (isinstance(shp, Variable) and shp.ndim == 0):
        shp = (shp,)
    if isinstance(shp, Variable):
        if shp.ndim != 1 or shp.dtype[0] not in "iu":
            raise TypeError(f"{what}: expected an int vector, got {shp.type}")
        return cast(shp, "int64") if shp.dtype != "int64" else shp
    shp = list(shp)
    if all(isinstance(s, (numbers.Integral, np.integer)) for s in shp):
        return constant(np.asarray(shp, dtype="int64").reshape(len(shp)))
    return MakeVector("int64")(*[_int_scalar(s, what) for s in shp])


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


# --------------------------------------------------------------------------- repeat / tile
class Repeat(Op):
    """numpy.repeat along ``axis`` with an int scalar or an int vector of repeats."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def shape_value_inputs(self, node):
        return [1]

    def make_node(self, x, repeats):
        x = as_tensor_variable(x)
        repeats = as_tensor_variable(repeats)
        if repeats.dtype[0] not in "iu" or repeats.ndim > 1:
            raise TypeError(f"repeat: repeats must be an int scalar or vector, got {repeats.type}")
        repeats = cast(repeats, "int64")
        if self.axis is None:
            bc = (False,)
        else:
            bc = tuple(b if d != self.axis else False for d, b in enumerate(x.broadcastable))
            c = const_value(repeats)
            if c is not None and c.ndim == 0 and int(c) == 1:
                bc = x.broadcastable
        return Apply(self, [x, repeats], [TensorType(x.dtype, bc)()])

    def _n(self, xshape, rep):
        n = int(np.prod(xshape)) if self.axis is None else xshape[self.axis]
        rep = np.asarray(rep)
        if (rep < 0).any():
            raise ValueError("repeat: negative repeats")
        if rep.ndim == 1 and rep.shape[0] not in (1, n):
            raise ValueError(f"repeat: {rep.shape[0]} repeats given for an axis of length {n}")
        return int(rep.sum()) if rep.ndim == 1 and rep.shape[0] == n else n * int(rep.reshape(-1)[0])

    def infer_shape_values(self, node, shapes, values):
        s = shapes[0]
        if self.axis is None:
            if values[1] is None:
                return [None]
            return [(self._n(s, values[1]),)]
        if values[1] is None:
            return [None]
        return [tuple(self._n(s, values[1]) if d == self.axis else s[d] for d in range(len(s)))]

    def perform(self, node, inputs):
        x, rep = inputs
        self._n(x.shape, rep)
        return [np.repeat(x, rep, axis=self.axis)]


def repeat(x, repeats, axis=None):
    """numpy.repeat."""
    x = as_tensor_variable(x)
    if axis is not None:
        axis = _axis(axis, x.ndim, "repeat")
    return Repeat(axis)(x, repeats)


class Tile(Op):
    """numpy.tile with constant repetitions (``reps`` has one int per output dimension)."""

    __props__ = ("reps",)

    def __init__(self, reps):
        self.reps = tuple(int(r) for r in reps)

    def make_node(self, x):
        x = as_tensor_variable(x)
        nd = len(self.reps)
        if x.ndim > nd:
            raise ValueError("Tile: reps must have at least x.ndim entries")
        bc = (True,) * (nd - x.ndim) + x.broadcastable
        bc = tuple(b and r == 1 for b, r in zip(bc, self.reps))
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        s = (1,) * (len(self.reps) - len(shapes[0])) + tuple(shapes[0])
        return [tuple(a * r for a, r in zip(s, self.reps))]

    def perform(self, node, inputs):
        return [np.tile(inputs[0], self.reps)]


def tile(x, reps, ndim=None):
    """numpy.tile with constant ``reps`` (a tuple of ints)."""
    x = as_tensor_variable(x)
    if isinstance(reps, (numbers.Integral, np.integer)):
        reps = (reps,)
    reps = list(reps)
    if not all(isinstance(r, (numbers.Integral, np.integer)) for r in reps):
        raise TypeError("tile: reps must be ints (symbolic repetitions are not supported)")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative repetitions {tuple(reps)}")
    nd = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (nd - len(reps)) + reps
    return Tile(reps)(x)


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


# --------------------------------------------------------------------------- squeeze, flip, roll
class Squeeze(Op):
    """Remove length-1 axes that are not known to be broadcastable (checked when run)."""

    __props__ = ("axes",)

    def __init__(self, axes):
        self.axes = tuple(sorted(int(a) for a in axes))

    def __str__(self):
        return f"Squeeze{{{','.join(map(str, self.axes))}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        bc = tuple(b for d, b in enumerate(x.broadcastable) if d not in self.axes)
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        s = shapes[0]
        for a in self.axes:
            if s[a] != 1:
                raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not "
                                 f"equal to one (axis {a} of shape {tuple(s)})")
        return [tuple(n for d, n in enumerate(s) if d not in self.axes)]

    def perform(self, node, inputs):
        self.infer_shape(node, [inputs[0].shape])
        return [np.array(np.squeeze(inputs[0], axis=self.axes))]


def squeeze(x, axis=None):
    """Without ``axis``: drop the broadcastable dims (Theano); with it: numpy.squeeze."""
    x = as_tensor_variable(x)
    if axis is None:
        return dimshuffle(x, [d for d, b in enumerate(x.broadcastable) if not b])
    axes = [axis] if isinstance(axis, (numbers.Integral, np.integer)) else list(axis)
    axes = sorted({_axis(a, x.ndim, "squeeze") for a in axes})
    if all(x.broadcastable[a] for a in axes):
        return dimshuffle(x, [d for d in range(x.ndim) if d not in axes])
    return Squeeze(axes)(x)


class _SameTypeOp(Op):
    """An op of one tensor whose output has the input's type and shape."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]


class Flip(_SameTypeOp):
    """numpy.flip along ``axes``."""

    __props__ = ("axes",)

    def __init__(self, axes):
        self.axes = tuple(sorted(int(a) for a in axes))

    def perform(self, node, inputs):
        return [np.array(np.flip(inputs[0], self.axes))]


def flip(x, axis=None):
    """numpy.flip (all axes by default)."""
    x = as_tensor_variable(x)
    if axis is None:
        axes = range(x.ndim)
    else:
        axes = [axis] if isinstance(axis, (numbers.Integral, np.integer)) else list(axis)
    return Flip([_axis(a, x.ndim, "flip") for a in axes])(x)


class Roll(_SameTypeOp):
    """numpy.roll by a constant ``shift`` along ``axis`` (None: the flattened array)."""

    __props__ = ("shift", "axis")

    def __init__(self, shift, axis):
        self.shift = int(shift)
        self.axis = axis

    def perform(self, node, inputs):
        return [np.roll(inputs[0], self.shift, self.axis)]


def roll(x, shift, axis=None):
    """numpy.roll with an int shift."""
    x = as_tensor_variable(x)
    if not isinstance(shift, (numbers.Integral, np.integer)):
        raise TypeError("roll: shift must be an int (a symbolic shift is not supported)")
    if axis is not None:
        axis = _axis(axis, x.ndim, "roll")
    return Roll(shift, axis)(x)


# --------------------------------------------------------------------------- specify_shape
class SpecifyShape(_SameTypeOp):
    """``x`` unchanged, with its shape asserted: ``SpecifyShape{(2, 2)}`` (None: any length).

    The shape inference of what follows uses the given lengths; a call whose ``x`` has
    another shape raises ValueError before any kernel runs (the check is made when the
    build for that input-shape signature infers shapes).
    """

    host_only = "a shape check (removed by rewrites when the shape is known)"

    __props__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(None if s is None else int(s) for s in shape)

    def __str__(self):
        return f"SpecifyShape{{{self.shape}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != len(self.shape):
            raise ValueError(f"specify_shape: x is {x.ndim}-d ({x.type}) but the shape "
                             f"{self.shape} has {len(self.shape)} entries")
        for d, (s, b) in enumerate(zip(self.shape, x.broadcastable)):
            if b and s not in (None, 1):
                raise ValueError(f"specify_shape: dimension {d} of x is broadcastable (length "
                                 f"1) but the shape {self.shape} gives it length {s}")
        return Apply(self, [x], [x.type()])

    def _check(self, got):
        if any(s is not None and s != g for s, g in zip(self.shape, got)):
            raise ValueError(f"specify_shape: x has shape {tuple(got)} but the specified "
                             f"shape is {self.shape}")

    def infer_shape(self, node, shapes):
        got = tuple(shapes[0])
        if all(isinstance(g, (numbers.Integral, np.integer)) for g in got):
            self._check(got)
        return [tuple(g if s is None else s for s, g in zip(self.shape, got))]

    def perform(self, node, inputs):
        self._check(inputs[0].shape)
        return [inputs[0]]


def specify_shape(x, shape):
    """``x`` whose shape is known to be ``shape`` (ints, None for an unknown length)."""
    if isinstance(shape, Variable):
        c = const_value(shape)
        if c is None:
            raise TypeError("specify_shape: the shape must be known when the graph is built "
                            "(ints or constants), got the symbolic " + str(shape))
        shape = [int(d) for d in np.asarray(c).reshape(-1)]
    if isinstance(shape, (numbers.Integral, np.integer)):
        shape = (shape,)
    out = []
    for d in shape:
        if isinstance(d, Variable):
            c = const_value(d)
            if c is None:
                raise TypeError("specify_shape: the shape must be known when the graph is "
                                f"built (ints or constants), got the symbolic {d}")
            d = int(c)
        if d is not None and (not isinstance(d, (numbers.Integral, np.integer)) or d < 0):
            raise TypeError(f"specify_shape: shape entries must be non-negative ints or None, "
                            f"got {d!r}")
        out.append(d)
    return SpecifyShape(out)(x)


# --------------------------------------------------------------------------- methods
def _install():
    T = TensorVariable
    T.shape = property(lambda self: shape(self))
    T.size = property(lambda self: _size(self))
    T.reshape = lambda self, *shp, ndim=None: reshape(
        self, shp[0] if len(shp) == 1 else shp, ndim=ndim)
    T.flatten = lambda self, ndim=1: flatten(self, ndim)
    T.ravel = lambda self: flatten(self, 1)
    T.repeat = lambda self, repeats, axis=None: repeat(self, repeats, axis)
    T.squeeze = lambda self, axis=None: squeeze(self, axis)
    T.diagonal = lambda self, offset=0: diagonal(self, offset)


def _size(x):
    from ..basic import mul
    out = constant(1, dtype="int64")
    for s in shape_tuple(x):
        out = mul(out, s)
    return out


_install()
