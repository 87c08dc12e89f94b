"""Shape values and the helpers of every shape family: ``x.shape`` (``Shape``), ``Shape_i``,
``MakeVector``, ``specify_shape``, ``x.size``.

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

The other shape families live next to this module: ``reshape.py`` (reshape, flatten,
join/stack/split, expand_dims), ``repeat.py`` (repeat, tile), ``alloc.py`` (alloc,
zeros/ones/full/fill, arange, eye, diag) and ``rearrange.py`` (squeeze, flip, roll); their
names are also reachable from here, as before the split.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..basic import as_tensor_variable, cast, constant
from ..elemwise import DimShuffle
from ..graph import Apply, Constant, Op, Variable
from ..type import TensorType, normalize_dtype


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


# ------------------------------------------------------------ ops keeping their input's type
class _SameTypeOp(Op):
    """An op of one tensor whose output has the input's type and shape."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]


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


# --------------------------------------------------------------------------- x.size
def _size(x):
    from ..basic import mul
    out = constant(1, dtype="int64")
    for s in shape_tuple(x):
        out = mul(out, s)
    return out


# --------------------------------------------------------------------------- the split families
# ``from tvmsym.symbolic.ops.shape import reshape`` keeps working: names of the families split
# out of this module resolve to their new modules (read when first asked for).
_MOVED = {
    "ARange": "alloc",
    "Alloc": "alloc",
    "AllocDiag": "alloc",
    "ExtractDiag": "alloc",
    "Eye": "alloc",
    "Flatten": "reshape",
    "Flip": "rearrange",
    "Join": "reshape",
    "Repeat": "repeat",
    "Reshape": "reshape",
    "Roll": "rearrange",
    "Split": "reshape",
    "Squeeze": "rearrange",
    "Tile": "repeat",
    "_const_like": "alloc",
    "_resolve_reshape": "reshape",
    "_shape_args": "alloc",
    "_upcast": "reshape",
    "alloc": "alloc",
    "arange": "alloc",
    "concatenate": "reshape",
    "diag": "alloc",
    "diagonal": "alloc",
    "expand_dims": "reshape",
    "eye": "alloc",
    "fill": "alloc",
    "flatten": "reshape",
    "flip": "rearrange",
    "full": "alloc",
    "horizontal_stack": "reshape",
    "identity_like": "alloc",
    "join": "reshape",
    "ones": "alloc",
    "ones_like": "alloc",
    "repeat": "repeat",
    "reshape": "reshape",
    "roll": "rearrange",
    "split": "reshape",
    "squeeze": "rearrange",
    "stack": "reshape",
    "tile": "repeat",
    "vertical_stack": "reshape",
    "zeros": "alloc",
    "zeros_like": "alloc",
}


def __getattr__(name):
    mod = _MOVED.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f"{__package__}.{mod}"), name)
