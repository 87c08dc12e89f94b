"""``theano.scalar`` as Theano programs import it.

``upcast(*dtypes)`` is Theano's dtype promotion; the scalar ops (``add``, ``mul``, ``exp``,
``sigmoid``, ...) are the ones ``Elemwise`` applies elementwise (``Elemwise(scalar.exp)``);
the output-type rules ``upgrade_to_float``, ``same_out``, ``upcast_out`` are Theano's.
(User scalar ops, ``class MyOp(UnaryScalarOp)``, are not provided: an Elemwise of a scalar
op needs a TVM lowering.)
A scalar variable is a 0-d tensor here: ``scalar.float64('x')`` makes one, and the
types ``float32``, ``int64``, ... are the 0-d tensor types of those dtypes.
"""
from __future__ import annotations

import numpy as np

from ..config import config
from ..symbolic import scalar as _ps
from ..symbolic.scalar import *  # noqa: F403
from ..symbolic.scalar import Cast, Composite, ScalarOp  # noqa: F401
from ..symbolic.type import ALL_DTYPES, TensorType

basic = None   # set below: theano.scalar.basic is this module too


def upcast(dtype, *dtypes):
    """The dtype that holds every value of the given dtypes (``'floatX'`` is config.floatX):
    ``upcast('int32', 'float32') == 'float64'``, as numpy promotes."""
    ds = [config.floatX if d == "floatX" else str(d) for d in (dtype, *dtypes)]
    return np.result_type(*[np.dtype(d) for d in ds]).name


def Scalar(dtype):
    """The 0-d tensor type of ``dtype`` (Theano's ``Scalar(dtype)``)."""
    return TensorType(config.floatX if dtype == "floatX" else dtype, ())


for _d in ALL_DTYPES:
    globals()[_d] = Scalar(_d)
float_types = [globals()[d] for d in ("float16", "float32", "float64")]
int_types = [globals()[d] for d in ("int8", "int16", "int32", "int64")]
uint_types = [globals()[d] for d in ("uint8", "uint16", "uint32", "uint64")]
complex_types = [globals()[d] for d in ("complex64", "complex128")]
discrete_types = int_types + uint_types
continuous_types = float_types + complex_types
all_types = discrete_types + continuous_types


def as_scalar(x, name=None):
    """``x`` as a 0-d tensor variable."""
    from ..symbolic.basic import as_tensor_variable
    v = as_tensor_variable(x, name=name)
    if v.ndim != 0:
        raise TypeError(f"as_scalar: {v} has {v.ndim} dimensions, expected 0")
    return v


def constant(x, name=None):
    """A 0-d constant."""
    return as_scalar(np.asarray(x), name=name)


# output-type rules of Theano's scalar ops: dtypes -> output dtypes
def upcast_out(*dtypes):
    return (upcast(*dtypes),)


def same_out(dtype, *rest):
    return (dtype,)


def upgrade_to_float(*dtypes):
    """Theano's rule: float inputs keep their upcast dtype; int8/uint8/int16/uint16/bool
    go to float32, wider integers to float64."""
    d = upcast(*dtypes)
    if np.dtype(d).kind in "fc":
        return (d,)
    return ("float32" if np.dtype(d).itemsize <= 2 else "float64",)


def _self_module():
    import sys
    return sys.modules[__name__]


basic = _self_module()
del _d, _ps
