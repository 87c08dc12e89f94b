"""``import tvmsym.tensor as T``: Theano's tensor module."""
from ..symbolic.basic import *  # noqa: F401,F403
from ..symbolic.basic import _prefixed
from ..symbolic.type import TensorType  # noqa: F401
from ..symbolic.graph import TensorVariable, TensorConstant  # noqa: F401
from ..symbolic.elemwise import Elemwise, DimShuffle  # noqa: F401

globals().update(_prefixed)
from ..symbolic.ops.reduce import (sum, prod, mean, var, std, max, min, all, any, argmax, argmin,  # noqa: F401,E402
                                   max_and_argmax, logsumexp)
from ..symbolic.ops.linalg import dot, matmul, outer, tensordot, batched_dot  # noqa: F401,E402
from ..symbolic.ops.shape import (shape, shape_i, shape_tuple, reshape, flatten, concatenate, join,  # noqa: F401,E402
                                  stack, split, repeat, tile, alloc, zeros, ones, zeros_like,
                                  ones_like, fill, full, arange, eye, identity_like, diag, diagonal,
                                  squeeze, expand_dims, flip, roll, horizontal_stack, vertical_stack,
                                  specify_shape)
from ..symbolic.ops.subtensor import set_subtensor, inc_subtensor, take  # noqa: F401,E402
from . import nnet  # noqa: F401,E402
from ..symbolic.ops.sort import sort, argsort  # noqa: F401,E402
from ..symbolic.ops.cum import cumsum, cumprod  # noqa: F401,E402
from . import shared_randomstreams  # noqa: F401,E402  (theano.tensor.shared_randomstreams)
# rng: helpers Theano users call (symbolic/ops/helpers.py, nonzero.py)
from ..symbolic.ops.helpers import (shape_padleft, shape_padright, shape_padaxis,  # noqa: F401,E402
                                    addbroadcast, unbroadcast, patternbroadcast, stacklists,
                                    mgrid, ogrid, tril, triu, tri, swapaxes, choose, isclose,
                                    allclose, ptp, cov, topk, argtopk, topk_and_argtopk,
                                    inverse_permutation, permute_row_elements, largest, smallest,
                                    as_tensor, tensor_copy, get_scalar_constant_value,
                                    get_vector_length, NotScalarConstantError, second, arctan2,
                                    arccosh, arcsinh, arctanh, deg2rad, rad2deg, divmod, iround,
                                    round_half_away_from_zero)
from ..symbolic.ops.nonzero import nonzero, flatnonzero, nonzero_values  # noqa: F401,E402
from . import nlinalg, slinalg, extra_ops  # noqa: F401,E402  (theano.tensor.nlinalg / slinalg / extra_ops; linalg helper)
from ..symbolic.special import (psi, tri_gamma, erfinv, erfcinv, erfcx, i0, i1, iv, j0, j1,  # noqa: F401,E402
                                jv, gammainc, gammaincc, gammau, gammal, chi2sf)  # (linalg helper)
from . import signal  # noqa: F401,E402  (theano.tensor.signal.pool)
from ..symbolic.ops.complex import (real, imag, conj, angle, complex, complex_from_polar)  # noqa: F401,E402
# --- gof helper (issue 14): theano.tensor.var's classes are the ones user code meets
from . import var as _var_module  # noqa: E402
from .var import TensorVariable, TensorConstant  # noqa: F401,E402,F811
# T.var stays the variance, as in Theano (whose tensor.var module is reached by import)
from ..symbolic.ops.reduce import var  # noqa: F401,E402,F811
