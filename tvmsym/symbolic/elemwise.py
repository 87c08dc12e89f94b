"""``Elemwise`` (a scalar op applied with broadcasting) and ``DimShuffle``."""
from __future__ import annotations

import numpy as np

from . import scalar as ps
from .graph import Apply, Constant, Op
from .type import TensorType


class DimShuffle(Op):
    """Reorder dimensions, insert broadcastable ones ('x'), drop broadcastable ones.

    ``DimShuffle{x,0}`` turns a vector into a row.
    """

    __props__ = ("input_broadcastable", "new_order")

    def __init__(self, input_broadcastable, new_order):
        self.input_broadcastable = tuple(bool(b) for b in input_broadcastable)
        new_order = tuple("x" if o == "x" else int(o) for o in new_order)
        nd = len(self.input_broadcastable)
        used = [o for o in new_order if o != "x"]
        if len(set(used)) != len(used):
            raise ValueError(f"DimShuffle: repeated dimension in {new_order}")
        for o in used:
            if not 0 <= o < nd:
                raise ValueError(f"DimShuffle: dimension {o} out of range for a {nd}-d input "
                                 f"(new_order={new_order})")
        for d in range(nd):
            if d not in used and not self.input_broadcastable[d]:
                raise ValueError(f"DimShuffle: cannot drop dimension {d} of a {nd}-d input: it is "
                                 f"not broadcastable (new_order={new_order})")
        self.new_order = new_order
        self.drop = tuple(d for d in range(nd) if d not in used)
        self.shuffle = tuple(used)
        self.augment = tuple(i for i, o in enumerate(new_order) if o == "x")

    def __str__(self):
        # Theano 1.0.5 builds every DimShuffle inplace (a view), and prints it so
        return "InplaceDimShuffle{" + ",".join(str(o) for o in self.new_order) + "}"

    def make_node(self, x):
        from .basic import as_tensor_variable
        x = as_tensor_variable(x)
        if x.type.broadcastable != self.input_broadcastable:
            if len(x.type.broadcastable) != len(self.input_broadcastable):
                raise TypeError(f"{self} expects a {len(self.input_broadcastable)}-d input, got "
                                f"{x.type}")
            for d in self.drop:
                if not x.type.broadcastable[d]:
                    raise TypeError(f"{self}: dimension {d} of {x.type} is not broadcastable")
        bcast = tuple(True if o == "x" else x.type.broadcastable[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.type.dtype, bcast)()])

    def perform(self, node, inputs):
        x = inputs[0]
        if self.drop:
            x = x.reshape([s for d, s in enumerate(x.shape) if d not in self.drop])
        res = np.transpose(x, self._kept_perm())
        shape = list(res.shape)
        for a in self.augment:
            shape.insert(a, 1)
        return [res.reshape(shape)]

    def _kept_perm(self):
        kept = [d for d in range(len(self.input_broadcastable)) if d not in self.drop]
        return [kept.index(d) for d in self.shuffle]

    def infer_shape(self, node, shapes):
        (s,) = shapes
        return [tuple(1 if o == "x" else s[o] for o in self.new_order)]

    def is_trivial(self):
        return self.new_order == tuple(range(len(self.input_broadcastable)))


# the ids of the inputs of the node whose scalar gradient rule is running (grad_rules/
# elemwise.py sets it), None otherwise: the ops built then print as Theano's grad builds them
SCALAR_GRAD_CONTEXT = [None]


class Elemwise(Op):
    """Apply ``scalar_op`` elementwise with broadcasting.

    Prints as ``Elemwise{add,no_inplace}``; with an inplace pattern
    ``{output: input}`` as ``Elemwise{Add}[(0, 0)]`` (output 0 overwrites input 0).
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op, inplace_pattern=None):
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(sorted((inplace_pattern or {}).items()))
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}
        if SCALAR_GRAD_CONTEXT[0] is not None:
            self.grad_built = True      # printing only (equality ignores it)

    def __str__(self):
        if self.inplace_pattern:
            # Theano's inplace ops hold an unnamed scalar op: it prints its class name
            # (Elemwise{Mul}[(0, 0)]); Composite and Cast print themselves
            sop = self.scalar_op
            name = sop if isinstance(sop, (ps.Composite, ps.Cast)) else type(sop).__name__
            return f"Elemwise{{{name}}}{list(self.inplace_pattern)}"
        if isinstance(self.scalar_op, ps.Composite) or self.__dict__.get("grad_built"):
            # Theano: fused nodes and the elementwise ops its grad builds from scalar
            # gradients (Elemwise(op, {})) print no ",no_inplace"
            return f"Elemwise{{{self.scalar_op}}}"
        return f"Elemwise{{{self.scalar_op},no_inplace}}"

    @property
    def name(self):
        """Theano's ``op.name``: ``'Elemwise{mul,no_inplace}'``."""
        return str(self)

    def make_node(self, *inputs):
        from .basic import as_tensor_variable
        sop = self.scalar_op
        if len(inputs) != sop.nin:
            raise TypeError(f"{sop.name} takes {sop.nin} input(s), got {len(inputs)}")
        inputs = [as_tensor_variable(i) for i in inputs]
        nd = max(i.ndim for i in inputs)
        known = SCALAR_GRAD_CONTEXT[0]
        if known is not None and nd == 0:
            # Theano's grad turns a constant of a scalar gradient into a tensor through
            # DimShuffle((), []): printed as InplaceDimShuffle{} (rewrites remove it)
            inputs = [DimShuffle((), ())(i) if isinstance(i, Constant) and id(i) not in known
                      else i for i in inputs]
        padded = []
        for i in inputs:
            if i.ndim < nd:
                # numpy broadcasting: missing leading dims become broadcastable ones
                i = DimShuffle(i.broadcastable, ["x"] * (nd - i.ndim) + list(range(i.ndim)))(i)
            padded.append(i)
        bcast = tuple(all(i.broadcastable[d] for i in padded) for d in range(nd))
        dtypes = sop.output_dtypes(*[i.dtype for i in padded])
        for o, i in self.inplace_pattern:
            if padded[i].broadcastable != bcast or padded[i].dtype != dtypes[o]:
                raise TypeError(f"{self}: input {i} cannot be overwritten by output {o} "
                                "(different type)")
        outs = [TensorType(d, bcast)() for d in dtypes]
        return Apply(self, padded, outs)

    def perform(self, node, inputs):
        res = self.scalar_op.impl(*inputs)
        if not isinstance(res, tuple):
            res = (res,)
        return [np.asarray(r, dtype=o.type.dtype) for r, o in zip(res, node.outputs)]

    def infer_shape(self, node, shapes):
        out = []
        for d in range(len(node.outputs[0].broadcastable)):
            size = None
            for k, (s, i) in enumerate(zip(shapes, node.inputs)):
                if i.broadcastable[d]:
                    continue
                if size is None:
                    size, first = s[d], k
                elif s[d] != size:
                    raise ValueError(
                        f"Input dimension mismatch in {self}: input[{first}].shape[{d}] = {size}, "
                        f"input[{k}].shape[{d}] = {s[d]} (shapes {[tuple(x) for x in shapes]}). "
                        "Dimensions that are not broadcastable must have equal lengths; mark a "
                        "length-1 dimension broadcastable (row/col types) to broadcast it.")
            out.append(1 if size is None else size)
        return [tuple(out)] * len(node.outputs)
