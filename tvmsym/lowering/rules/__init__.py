"""Lowering rules, one table per op family.

``LOWER[OpClass](node, inputs, ctx) -> [te.Tensor, ...]`` builds the TE compute(s) of a
graph node from the TE tensors of its inputs; ``ctx.shape(var)`` gives concrete shapes.
``SCALAR[ScalarOpClass](op, args, out_dtype) -> PrimExpr`` builds one element.
"""
LOWER = {}
SCALAR = {}


def lower_rule(*op_classes):
    def deco(fn):
        for c in op_classes:
            LOWER[c] = fn
        return fn
    return deco


def scalar_rule(op_class, fn=None):
    if fn is None:
        return lambda f: scalar_rule(op_class, f)
    SCALAR[op_class] = fn
    return fn


def find_rule(op):
    for cls in type(op).__mro__:
        if cls in LOWER:
            return LOWER[cls]
    return None


from . import scalar as _scalar, elemwise as _elemwise  # noqa: E402,F401  (register)
from . import reduce as _reduce  # noqa: E402,F401
from . import linalg as _linalg  # noqa: E402,F401
from . import shape as _shape  # noqa: E402,F401
from . import reshape as _reshape, repeat as _repeat  # noqa: E402,F401
from . import alloc as _alloc, rearrange as _rearrange  # noqa: E402,F401
from . import subtensor as _subtensor  # noqa: E402,F401
from . import nnet as _nnet  # noqa: E402,F401
from . import cum as _cum  # noqa: E402,F401  (Sort/Argsort: none, numpy on the host)
from . import mrg as _mrg  # noqa: E402,F401  (rng: MRG31k3p kernel)
from . import helpers as _helpers  # noqa: E402,F401  (rng: arctan2, arc*h, second)
from . import special_math as _special_math  # noqa: E402,F401  (linalg helper: special functions)
from . import conv as _conv, pool as _pool  # noqa: E402,F401  (convolutions, pooling)
from . import complex as _complex  # noqa: E402,F401  (complex buffers: interleaved floats)
from . import sparse as _sparse  # noqa: E402,F401  (csr x dense kernels)
from . import reduce_siblings as _reduce_siblings  # noqa: E402,F401  (arch: sibling reductions)
