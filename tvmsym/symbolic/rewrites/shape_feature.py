"""``shape_feature``: shapes from input shapes, so a value read only for its shape is never
computed (Theano's ShapeFeature and ``local_shape_to_shape_i``).

``Shape(v)`` becomes ``MakeVector{dtype='int64'}(d0, d1, ...)`` and ``Shape_i{k}(v)``
becomes ``dk``, where each length ``dk`` is derived symbolically from the shapes of v's
inputs: elementwise ops take the length of an input that does not broadcast along that
dimension, DimShuffle permutes, dot/reductions/joins/reshapes/alloc/specify_shape follow
their rule; an input (or a node without a rule here) gives ``Shape_i{k}(input)``, which
reads metadata only.  ``function([x], (x ** 2).shape)`` then computes
``MakeVector(Shape_i{0}(x), Shape_i{1}(x))``: the pow kernel is gone (its node has no
client left).  With ``specify_shape`` (or a broadcastable dimension) a length is a
constant, and constant folding makes the whole shape a constant.
"""
from __future__ import annotations

import numpy as np

from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant


def _ops():
    from ..ops import linalg, reduce, shape
    return shape, linalg, reduce


def _int_const(v):
    if isinstance(v, Constant) and v.data.ndim == 0 and v.data.dtype.kind in "iu":
        return int(v.data)
    return None


def _is_size(d, S):
    if isinstance(d, (int, np.integer)):
        return d >= 0
    c = _int_const(d)
    if c is not None:
        return c >= 0
    node = d.owner
    if node is None:
        return False
    if isinstance(node.op, S.Shape_i):
        return True
    if type(node.op).__name__ == "Subtensor":               # x.shape[i]
        src = node.inputs[0].owner
        return src is not None and (isinstance(src.op, S.Shape) or (
            isinstance(src.op, S.MakeVector) and all(_is_size(i, S) for i in src.inputs)))
    scalar = getattr(node.op, "scalar_op", None)
    return (type(scalar).__name__ in ("Add", "Mul", "Cast", "Identity")
            and all(_is_size(i, S) for i in node.inputs))


class _Shapes:
    """Symbolic shapes (tuples of ints or int64 scalar variables), memoized per variable."""

    def __init__(self):
        self.memo = {}
        self.shape, self.linalg, self.reduce = _ops()

    def leaf(self, v):
        S = self.shape
        return tuple(1 if b else S.Shape_i(d)(v) for d, b in enumerate(v.broadcastable))

    def of(self, v):
        # iterative post-order over the owners that have a rule (graphs may be deep)
        stack = [v]
        while stack:
            cur = stack[-1]
            if cur in self.memo:
                stack.pop()
                continue
            node = cur.owner
            deps = self._deps(node) if node is not None else ()
            pend = [d for d in deps if d not in self.memo]
            if pend:
                stack.extend(pend)
                continue
            stack.pop()
            self.memo[cur] = self._compute(cur)
        return self.memo[v]

    def _deps(self, node):
        S, L, R = self.shape, self.linalg, self.reduce
        op = node.op
        if isinstance(op, (Elemwise, DimShuffle, L.Dot, R.CAReduce, S.Join, S.SpecifyShape)):
            return [i for i in node.inputs if i.ndim]
        return ()

    def _compute(self, v):
        S, L, R = self.shape, self.linalg, self.reduce
        node = v.owner
        if node is None:
            if isinstance(v, Constant):
                return tuple(int(s) for s in v.data.shape)
            return self.leaf(v)
        op, ins = node.op, node.inputs
        bc = v.broadcastable
        try:
            if isinstance(op, Elemwise):
                out = []
                for d in range(v.ndim):
                    src = next((i for i in ins if not i.broadcastable[d]), None)
                    out.append(1 if src is None else self.memo[src][d])
                return tuple(out)
            if isinstance(op, DimShuffle):
                s = self.memo[ins[0]] if ins[0].ndim else ()
                return tuple(1 if o == "x" else s[o] for o in op.new_order)
            if isinstance(op, L.Dot):
                a, b = (self.memo[i] if i.ndim else () for i in ins)
                return tuple(a[:-1]) + (tuple(b[1:]) if len(b) == 2 else ())
            if isinstance(op, R.CAReduce) and len(node.outputs) == 1:
                s = self.memo[ins[0]]
                axes = op.reduced_axes(len(s))
                out = tuple(d for k, d in enumerate(s) if k not in axes)
                if len(out) == v.ndim:
                    return out
            if isinstance(op, S.Join):
                shapes = [self.memo[i] for i in ins]
                ax = op.axis % v.ndim
                total = shapes[0][ax]
                for s in shapes[1:]:
                    total = _add(total, s[ax])
                return tuple(total if d == ax else shapes[0][d] for d in range(v.ndim))
            if isinstance(op, S.SpecifyShape):
                s = self.memo[ins[0]]
                return tuple(g if k is None else k for k, g in zip(op.shape, s))
            if isinstance(op, S.Reshape):
                dims = _vector_entries(ins[1], S)
                # a symbolic entry may be -1 at run time (reshape's "the rest"): only entries
                # known to be sizes (non-negative constants, Shape_i) are taken as the shape
                if dims is not None and all(_is_size(d, S) for d in dims):
                    return tuple(_int_const(d) if _int_const(d) is not None else d for d in dims)
            if isinstance(op, S.Alloc):
                return tuple(_int_const(d) if _int_const(d) is not None else d for d in ins[1:])
        except (IndexError, KeyError, TypeError):
            pass
        out = self.leaf(v)
        return tuple(1 if b else d for b, d in zip(bc, out))


def _add(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    from ..basic import add
    return add(_as_int64(a), _as_int64(b))


def _as_int64(d):
    from ..basic import cast, constant
    if isinstance(d, int):
        return constant(np.int64(d))
    return d if d.dtype == "int64" else cast(d, "int64")


def _vector_entries(vec, S):
    """The scalars of a shape vector: MakeVector inputs or a constant's entries."""
    if isinstance(vec, Constant):
        return [int(x) for x in np.asarray(vec.data).ravel()]
    if vec.owner is not None and isinstance(vec.owner.op, S.MakeVector):
        return list(vec.owner.inputs)
    return None


def shape_feature(fgraph, excluding=()):
    S = _ops()[0]
    shapes = _Shapes()
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes:
            continue
        op = node.op
        if type(op) is S.Shape:
            x = node.inputs[0]
            if x.ndim == 0:
                from ..basic import constant
                new = constant(np.zeros(0, "int64"))
            else:
                dims = shapes.of(x)
                new = S.MakeVector("int64")(*[_as_int64(d) for d in dims])
        elif type(op) is S.Shape_i:
            x = node.inputs[0]
            if x.owner is None:
                continue            # Shape_i of an input: already the leaf
            d = shapes.of(x)[op.i]
            if d is node.outputs[0]:
                continue
            new = _as_int64(d)
        else:
            continue
        old = node.outputs[0]
        if new.type != old.type:
            continue
        fgraph.replace(old, new, reason="shape_feature")
