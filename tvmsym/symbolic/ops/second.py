"""Theano's ``second`` (printed ``fill`` by pp): ``second(a, b)`` is ``b`` broadcast to the
shape of ``a + b``.  ``theano.grad`` starts from ``second(cost, 1.0)``, so the unoptimized
gradient graph prints as Theano's; the ``useless_fill`` rewrite (rewrites/useless_fill.py)
replaces it by ``b`` when ``b`` already has the result's type, so compiled graphs and
numbers are unchanged.  Its TVM lowering is in ``lowering/rules/second.py``.
"""
from __future__ import annotations

import numpy as np

from ..scalar import ScalarOp


def _second(a, b):
    shape = np.broadcast(np.asarray(a), np.asarray(b)).shape
    return np.array(np.broadcast_to(b, shape))


class Second(ScalarOp):
    """``second(a, b)``: the value of ``b``, broadcast with ``a``; dtype of ``b``."""

    name = "second"
    nin = 2
    fmt = "second({0}, {1})"
    impl = staticmethod(_second)

    def output_dtypes(self, *dtypes):
        return (dtypes[1],)

    def __eq__(self, other):
        return type(other) is Second

    def __hash__(self):
        return hash(Second)


scalar_second = Second()


def second(a, b):
    """``b`` broadcast against ``a`` (Theano's ``T.second``; ``pp`` prints ``fill(a, b)``)."""
    from ..basic import as_tensor_variable
    from ..elemwise import Elemwise
    return Elemwise(scalar_second)(as_tensor_variable(a), as_tensor_variable(b))
