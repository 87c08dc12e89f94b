"""Linear algebra: ``dot`` (Theano's rules), ``matmul``/``@``, ``outer``, ``tensordot``, ``batched_dot``.

Three ops cover them: ``Dot`` (1-d/2-d operands, numpy.dot), ``MatMul`` (stacks of
matrices with broadcast batch dimensions, numpy.matmul on >= 2-d operands) and
``TensorDot`` (any contraction, numpy.tensordot).  Products accumulate in the
output dtype, numpy's ``result_type`` of the operands.
"""
from __future__ import annotations

import numpy as np

from ..basic import as_tensor_variable, dimshuffle, mul
from ..graph import Apply, Op
from ..type import TensorType

__all__ = ["Dot", "FusedDot", "MatMul", "TensorDot", "dot", "matmul", "outer", "tensordot", "batched_dot"]


def _out_dtype(a, b):
    return np.result_type(a.dtype, b.dtype).name


def _not_aligned(what, sa, sb, da, db):
    return ValueError(f"{what}: shapes {tuple(sa)} and {tuple(sb)} not aligned: {sa[da]} (dim {da}) "
                      f"!= {sb[db]} (dim {db})")


def _product_in_out_dtype(fn, node, inputs, *args):
    """``[fn(a, b, *args)]`` with both operands cast to the output dtype first (products
    accumulate in it), the result an array of that dtype."""
    a, b = inputs
    dt = node.outputs[0].type.dtype
    return [np.asarray(fn(a.astype(dt, copy=False), b.astype(dt, copy=False), *args), dtype=dt)]


class Dot(Op):
    """numpy.dot of 1-d or 2-d operands: vector.vector, matrix.vector, vector.matrix, matrix.matrix."""

    __props__ = ()

    def __str__(self):
        return "dot"

    def make_node(self, a, b):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise TypeError(f"dot: Dot takes 1-d or 2-d operands, got {a.type} and {b.type} "
                            "(use tvmsym.tensor.dot, which handles scalars and n-d tensors)")
        bc = a.broadcastable[:-1] + (b.broadcastable[-1:] if b.ndim == 2 else ())
        return Apply(self, [a, b], [TensorType(_out_dtype(a, b), bc)()])

    def infer_shape(self, node, shapes):
        sa, sb = shapes
        if sa[-1] != sb[0]:
            raise _not_aligned("dot", sa, sb, len(sa) - 1, 0)
        return [tuple(sa[:-1]) + tuple(sb[1:])]

    def perform(self, node, inputs):
        return _product_in_out_dtype(np.dot, node, inputs)

    def pp(self, node, args, v):
        return f"({args[0]} \\dot {args[1]})"


class MatMul(Op):
    """numpy.matmul of operands with >= 2 dimensions; batch dimensions broadcast."""

    __props__ = ()

    def make_node(self, a, b):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim < 2 or b.ndim < 2:
            raise TypeError(f"MatMul takes operands with at least 2 dimensions, got {a.type} and "
                            f"{b.type}")
        nb = max(a.ndim, b.ndim) - 2
        ba = (True,) * (nb - (a.ndim - 2)) + a.broadcastable[:-2]
        bb = (True,) * (nb - (b.ndim - 2)) + b.broadcastable[:-2]
        bc = tuple(x and y for x, y in zip(ba, bb)) + (a.broadcastable[-2], b.broadcastable[-1])
        return Apply(self, [a, b], [TensorType(_out_dtype(a, b), bc)()])

    def infer_shape(self, node, shapes):
        sa, sb = shapes
        a, b = node.inputs
        if sa[-1] != sb[-2]:
            raise _not_aligned("matmul", sa, sb, len(sa) - 1, len(sb) - 2)
        nb = len(node.outputs[0].broadcastable) - 2
        pa = (1,) * (nb - len(sa) + 2) + tuple(sa[:-2])
        pb = (1,) * (nb - len(sb) + 2) + tuple(sb[:-2])
        fa = (True,) * (nb - a.ndim + 2) + a.broadcastable[:-2]
        fb = (True,) * (nb - b.ndim + 2) + b.broadcastable[:-2]
        batch = []
        for d in range(nb):
            if fa[d]:
                batch.append(pb[d])
            elif fb[d] or pa[d] == pb[d]:
                batch.append(pa[d])
            else:
                raise ValueError(f"matmul: batch dimension {d} mismatch: {pa[d]} != {pb[d]} "
                                 f"(shapes {tuple(sa)} and {tuple(sb)}); only broadcastable "
                                 "dimensions broadcast")
        return [tuple(batch) + (sa[-2], sb[-1])]

    def perform(self, node, inputs):
        return _product_in_out_dtype(np.matmul, node, inputs)

    def pp(self, node, args, v):
        return f"({args[0]} @ {args[1]})"


class TensorDot(Op):
    """numpy.tensordot: sum over ``axes_a`` of a paired with ``axes_b`` of b."""

    __props__ = ("axes_a", "axes_b")

    def __init__(self, axes_a, axes_b):
        self.axes_a = tuple(int(x) for x in axes_a)
        self.axes_b = tuple(int(x) for x in axes_b)

    def __str__(self):
        return f"TensorDot{{{list(self.axes_a)}, {list(self.axes_b)}}}"

    def free(self, nda, ndb):
        return ([d for d in range(nda) if d not in self.axes_a],
                [d for d in range(ndb) if d not in self.axes_b])

    def make_node(self, a, b):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        fa, fb = self.free(a.ndim, b.ndim)
        bc = tuple(a.broadcastable[d] for d in fa) + tuple(b.broadcastable[d] for d in fb)
        return Apply(self, [a, b], [TensorType(_out_dtype(a, b), bc)()])

    def infer_shape(self, node, shapes):
        sa, sb = shapes
        for da, db in zip(self.axes_a, self.axes_b):
            if sa[da] != sb[db]:
                raise _not_aligned("tensordot", sa, sb, da, db)
        fa, fb = self.free(len(sa), len(sb))
        return [tuple(sa[d] for d in fa) + tuple(sb[d] for d in fb)]

    def perform(self, node, inputs):
        return _product_in_out_dtype(np.tensordot, node, inputs,
                                     (list(self.axes_a), list(self.axes_b)))


class FusedDot(Op):
    """A matrix product and the elementwise expression that reads it, one kernel.

    ``FusedDot{Composite{tanh((i0 + i1))}}(a, b, c)`` is ``tanh(dot(a, b) + c)``: the
    scalar expression's ``i0`` is the product of the first two inputs, ``i1``... the
    remaining inputs, broadcast to the product's shape.  Built by the ``dot_epilogue``
    rewrite stage (``rewrites/blas.py``) so that a dense layer's bias and activation, or
    an SGD update ``w - lr * dot(x.T, d)``, are applied while the product tile is still
    in registers (Theano's ``Gemm`` covers only the update).  No gradient: it exists only
    in compiled graphs.
    """

    no_grad = "made by the dot_epilogue stage, after gradients"

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op):
        self.scalar_op = scalar_op

    def __str__(self):
        return f"FusedDot{{{self.scalar_op.name}}}"

    def make_node(self, a, b, *others):
        from ..elemwise import Elemwise
        prod = _dot.make_node(a, b).outputs[0]
        if prod.ndim != 2:
            raise TypeError(f"FusedDot takes two matrices, got {prod.owner.inputs[0].type} and "
                            f"{prod.owner.inputs[1].type}")
        out = Elemwise(self.scalar_op).make_node(prod, *others).outputs[0]
        if out.broadcastable != prod.broadcastable:
            raise TypeError("FusedDot: the elementwise inputs must not broadcast the product")
        return Apply(self, [prod.owner.inputs[0], prod.owner.inputs[1]] + list(others),
                     [out.type()])

    def infer_shape(self, node, shapes):
        return _dot.infer_shape(node, shapes[:2])

    def perform(self, node, inputs):
        a, b, *others = inputs
        dt = np.result_type(a.dtype, b.dtype)
        prod = np.dot(a.astype(dt, copy=False), b.astype(dt, copy=False))
        res = self.scalar_op.impl(prod, *others)
        return [np.asarray(res, dtype=node.outputs[0].type.dtype)]


_dot = Dot()
_matmul = MatMul()


def _axis(a, nd, what):
    if not -nd <= a < nd:
        raise ValueError(f"{what}: axis {a} is out of range for a {nd}-d operand")
    return a % nd


def tensordot(a, b, axes=2):
    """numpy.tensordot: ``axes`` an int (last n of a with first n of b) or a pair of axis lists."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(f"tensordot: axes={n} needs operands with at least {n} dimensions, "
                             f"got {a.ndim}-d and {b.ndim}-d")
        aa, ab = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            aa, ab = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, "
                             f"got {axes!r}") from None
        aa = [aa] if isinstance(aa, (int, np.integer)) else list(aa)
        ab = [ab] if isinstance(ab, (int, np.integer)) else list(ab)
        if len(aa) != len(ab):
            raise ValueError(f"tensordot: axes lists have different lengths: {aa} and {ab}")
        aa = [_axis(x, a.ndim, "tensordot") for x in aa]
        ab = [_axis(x, b.ndim, "tensordot") for x in ab]
        if len(set(aa)) != len(aa) or len(set(ab)) != len(ab):
            raise ValueError(f"tensordot: repeated axis in {axes!r}")
    return TensorDot(aa, ab)(a, b)


def dot(a, b):
    """Theano's dot: scalar * tensor, vector.vector (inner), matrix.vector, matrix.matrix;
    n-d operands follow numpy.dot (sum over the last axis of a and the second-to-last of b)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    return tensordot(a, b, [[a.ndim - 1], [max(0, b.ndim - 2)]])


def matmul(a, b):
    """numpy.matmul (the ``@`` operator): 1-d operands are promoted and the added dim removed."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operand {0 if a.ndim == 0 else 1} is a scalar; use * or dot "
                         "for scalar products")
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    drop = []
    if a.ndim == 1:
        a = dimshuffle(a, "x", 0)
        drop.append(-2)
    if b.ndim == 1:
        b = dimshuffle(b, 0, "x")
        drop.append(-1)
    out = _matmul(a, b)
    if drop:
        nd = out.ndim
        gone = {d % nd for d in drop}
        out = dimshuffle(out, [d for d in range(nd) if d not in gone])
    return out


def outer(x, y):
    """Outer product of two vectors (flattened first if they are not vectors)."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1 or y.ndim != 1:
        from .reshape import flatten
        x = flatten(x, 1) if x.ndim != 1 else x
        y = flatten(y, 1) if y.ndim != 1 else y
    return _dot(dimshuffle(x, 0, "x"), dimshuffle(y, "x", 0))


def batched_dot(a, b):
    """Dot products along the first (batch) dimension: (B,n,m).(B,m,p) -> (B,n,p), (B,n).(B,n) -> (B,)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim < 2 or b.ndim < 2:
        raise TypeError(f"batched_dot needs operands with a batch dimension (>= 2-d), got {a.type} "
                        f"and {b.type}")
    if a.ndim == 2 and b.ndim == 2:
        r = _matmul(dimshuffle(a, 0, "x", 1), dimshuffle(b, 0, 1, "x"))
        return dimshuffle(r, 0)
    if a.ndim == 2:
        return dimshuffle(_matmul(dimshuffle(a, 0, "x", 1), b), [0] + list(range(2, b.ndim)))
    if b.ndim == 2:
        return dimshuffle(_matmul(a, dimshuffle(b, 0, 1, "x")), list(range(a.ndim - 1)))
    if a.ndim == 3 and b.ndim == 3:
        return _matmul(a, b)
    # Theano: batched_tensordot over the last axis of a and the second-to-last of b
    raise NotImplementedError("batched_dot of operands with more than 3 dimensions")
