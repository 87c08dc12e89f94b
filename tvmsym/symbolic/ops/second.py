"""Theano's ``second`` (printed ``fill`` by pp): ``second(a, b)`` is ``b`` broadcast to the
shape of ``a + b``.  The scalar op, its lowering and gradient are the helpers' (ops/helpers.py).

``theano.grad`` starts from ``second(cost, 1.0)``, so the unoptimized gradient graph prints
as Theano's; the ``useless_fill`` rewrite (rewrites/useless_fill.py) replaces it by ``b``
when ``b`` already has the result's type, so compiled graphs and numbers are unchanged.
"""
from __future__ import annotations

from .helpers import Second, ps_second as scalar_second  # noqa: F401


def second(a, b):
    """``b`` broadcast against ``a``, keeping the dtype of ``b`` as given (the grad seed)."""
    from ..basic import as_tensor_variable
    from ..elemwise import Elemwise
    return Elemwise(scalar_second)(as_tensor_variable(a), as_tensor_variable(b))
