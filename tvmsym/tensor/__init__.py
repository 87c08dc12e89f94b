"""``import tvmsym.tensor as T``: Theano's tensor module."""
from ..symbolic.basic import *  # noqa: F401,F403
from ..symbolic.basic import _prefixed
from ..symbolic.type import TensorType  # noqa: F401
from ..symbolic.graph import TensorVariable, TensorConstant  # noqa: F401
from ..symbolic.elemwise import Elemwise, DimShuffle  # noqa: F401

globals().update(_prefixed)
from ..symbolic.ops.linalg import dot, matmul, outer, tensordot, batched_dot  # noqa: F401,E402
