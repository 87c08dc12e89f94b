"""Sparse values (scipy.sparse matrices) in compiled functions.

- a kernel with a sparse argument (lowering/rules/sparse.py) receives it as three arrays,
  ``data``, ``indices`` (int32), ``indptr`` (int32) of its csr form (a csc value is converted);
- host steps producing sparse values keep scipy's result as it is (no dense buffer);
- ``shared(scipy_matrix)`` makes a ``SparseSharedVariable``.
"""
from __future__ import annotations

import numpy as np

from ..symbolic.sparse.type import (
    SparseType,
    SparseVariable,
    is_sparse_value,
    is_sparse_var,
)
from .shared import Container, SharedVariable


def touches_sparse(step):
    return any(is_sparse_var(v) for v in list(step.node.inputs) + list(step.outputs))


def plan_has_sparse(plan):
    return any(is_sparse_var(v) for v in plan.fgraph.inputs) or any(touches_sparse(st) for st in plan.steps)


def refuse_on_cuda(fgraph, name):
    """Sparse values are host (scipy) values: a cuda function refuses them clearly."""
    from ..symbolic.graph import ancestors
    for v in ancestors(fgraph.outputs):
        if is_sparse_var(v):
            raise NotImplementedError(f"function {name!r}: {v} ({v.type}) is a sparse matrix; "
                                      "sparse matrices compile for the cpu only (device=cpu)")


def sparse_outputs(step):
    return any(is_sparse_var(v) for v in step.outputs)


def _array(a, dtype=None):
    from .. import _tvm
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.size == 0:      # TVM refuses numpy's strides of an empty array
        return _tvm.tvm.runtime.empty(a.shape, a.dtype.name)
    return a


def csr_parts(x):
    """(data, indices, indptr) of x's csr form, as the kernels take them."""
    if x.format != "csr":
        x = x.tocsr()
    if x.indptr[-1] >= 2 ** 31:
        raise ValueError(f"sparse matrix with {x.indptr[-1]} stored values: the TVM kernels index "
                         "with int32 (at most 2**31 - 1 values)")
    return (_array(x.data[:x.indptr[-1]]), _array(x.indices[:x.indptr[-1]], np.int32),
            _array(x.indptr, np.int32))


def sparse_args(fn):
    """``fn`` (a kernel) called with every sparse argument expanded to its csr arrays."""
    def call(*args):
        flat = []
        for a in args:
            if is_sparse_value(a):
                flat.extend(csr_parts(a))
            else:
                flat.append(a)
        return fn(*flat)
    return call


# ------------------------------------------------------------------------- shared variables
class SparseSharedVariable(SparseVariable, SharedVariable):
    """A shared variable holding a scipy.sparse matrix (Theano's SparseTensorSharedVariable)."""

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None, container=None):
        SparseVariable.__init__(self, type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.default_update = None
        self.container = container if container is not None else Container(self._filter(value))

    def get_value(self, borrow=False, return_internal_type=False):
        v = self.container.value
        return v if borrow else v.copy()

    def set_value(self, value, borrow=False):
        v = self._filter(value)
        self.container.value = v if (borrow or v is not value) else v.copy()
        self.container.spare = None

    def zero(self, borrow=False):
        self.set_value(self.type.value_zeros(self.container.value.shape), borrow=True)

    def clone(self):
        cp = SparseVariable(self.type, name=self.name)
        cp.tag = self.tag.copy()
        cp.tag["shared"] = self
        return cp

    def __repr__(self):
        return self.name if self.name is not None else f"<{self.type}>"

    __str__ = __repr__


def sparse_shared(value, name=None, strict=False, allow_downcast=None, borrow=False, format=None):
    """``shared(scipy_matrix)``: a SparseSharedVariable of the value's format and dtype."""
    fmt = format or (value.format if value.format in ("csr", "csc") else "csr")
    t = SparseType(fmt, value.dtype.name)
    v = value if borrow else value.copy()
    return SparseSharedVariable(t, v, name=name, strict=strict, allow_downcast=allow_downcast)
