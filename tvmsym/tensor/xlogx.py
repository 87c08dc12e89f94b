"""``theano.tensor.xlogx``: ``xlogx(x) = x * log(x)`` and ``xlogy0(x, y) = x * log(y)``,
both 0 where ``x == 0`` (the limit), as Theano defines them."""
from __future__ import annotations

from ..symbolic import basic as tb


def xlogx(x):
    """``x * log(x)``, 0 where ``x == 0``."""
    x = tb.as_tensor_variable(x)
    return tb.switch(tb.eq(x, 0), 0, tb.mul(x, tb.log(x)))


def xlogy0(x, y):
    """``x * log(y)``, 0 where ``x == 0`` (whatever y)."""
    x, y = tb.as_tensor_variable(x), tb.as_tensor_variable(y)
    return tb.switch(tb.eq(x, 0), 0, tb.mul(x, tb.log(y)))
