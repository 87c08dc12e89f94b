"""Helpers Theano users call (``T.shape_padleft``, ``T.tril``, ``T.arctan2`` ...).

Most are compositions of existing ops, so their gradients and lowerings are those ops';
``arctan2``, ``arccosh``, ``arcsinh``, ``arctanh`` are new scalar ops (C library calls in
``lowering/rules/helpers.py``, gradients in ``grad_rules/helpers.py``).
"""
from __future__ import annotations

import numbers

import numpy as np

from ...config import config
from .. import scalar as ps
from ..basic import (
    _binary,
    _unary,
    abs as _abs,
    and_,
    as_tensor_variable,
    cast,
    constant,
    eq,
    floor,
    ge,
    isinf,
    isnan,
    le,
    maximum,
    minimum,
    or_,
    sgn,
    switch,
)
from ..graph import Apply, Constant, Op, Variable

# ---------------------------------------------------------------- new scalar ops
ps_arctan2 = ps._op("arctan2", 2, ps._f(np.arctan2), float_out=True, cls_name="ArcTan2")
ps_arccosh = ps._op("arccosh", 1, ps._f(np.arccosh), float_out=True, cls_name="ArcCosh")
ps_arcsinh = ps._op("arcsinh", 1, ps._f(np.arcsinh), float_out=True, cls_name="ArcSinh")
ps_arctanh = ps._op("arctanh", 1, ps._f(np.arctanh), float_out=True, cls_name="ArcTanh")


from .second import Second, scalar_second as ps_second  # noqa: E402  (one second op: gof's)

ps.Second = Second

arctan2 = _binary(ps_arctan2, "Elementwise arctan(a / b) in the right quadrant (numpy.arctan2).")
arccosh = _unary(ps_arccosh, "Elementwise inverse hyperbolic cosine.")
arcsinh = _unary(ps_arcsinh, "Elementwise inverse hyperbolic sine.")
arctanh = _unary(ps_arctanh, "Elementwise inverse hyperbolic tangent.")


def deg2rad(x):
    """Degrees to radians (``x * (pi / 180)``)."""
    x = as_tensor_variable(x)
    x = x if x.dtype[0] == "f" else cast(x, ps._float_dtype(x.dtype))
    return x * constant(np.asarray(np.pi / 180.0, dtype=x.dtype))


def rad2deg(x):
    """Radians to degrees (``x * (180 / pi)``)."""
    x = as_tensor_variable(x)
    x = x if x.dtype[0] == "f" else cast(x, ps._float_dtype(x.dtype))
    return x * constant(np.asarray(180.0 / np.pi, dtype=x.dtype))


def divmod(a, b):       # noqa: A001  (Theano's name)
    """``(a // b, a % b)`` elementwise (floor division, numpy's signs)."""
    return a // b, a % b


def iround(a, mode=None):
    """Round to the nearest integer, as int64 (``mode``: 'half_away_from_zero' (default) or
    'half_to_even')."""
    if mode in (None, "half_away_from_zero"):
        return cast(round_half_away_from_zero(a), "int64")
    if mode == "half_to_even":
        from ..basic import round_half_to_even
        return cast(round_half_to_even(a), "int64")
    raise ValueError(f"iround: unknown mode {mode!r}")


def round_half_away_from_zero(a):
    """Round to nearest, halves away from zero (C's ``round``)."""
    a = as_tensor_variable(a)
    if a.dtype[0] not in "fc":
        return a
    return sgn(a) * floor(_abs(a) + constant(np.asarray(0.5, a.dtype)))


def second(a, b):
    """``b`` broadcast to the shape of ``broadcast(a, b)`` (Theano's ``second``/``fill``)."""
    from ..basic import elemwise
    return elemwise(ps_second, a, b)


# ---------------------------------------------------------------- broadcast patterns
def shape_padleft(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the left."""
    t = as_tensor_variable(t)
    return t.dimshuffle(["x"] * n_ones + list(range(t.ndim)))


def shape_padright(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable dimensions added on the right."""
    t = as_tensor_variable(t)
    return t.dimshuffle(list(range(t.ndim)) + ["x"] * n_ones)


def shape_padaxis(t, axis):
    """``t`` with a broadcastable dimension inserted at ``axis`` (negative counts from the end
    of the result)."""
    t = as_tensor_variable(t)
    nd = t.ndim + 1
    if not -nd <= axis < nd:
        raise IndexError(f"shape_padaxis: axis {axis} is out of bounds for {nd} dimensions")
    axis %= nd
    pattern = list(range(t.ndim))
    pattern.insert(axis, "x")
    return t.dimshuffle(pattern)


def patternbroadcast(x, broadcastable):
    """``x`` with the given broadcastable pattern (a True needs length 1, checked at run time)."""
    x = as_tensor_variable(x)
    broadcastable = tuple(bool(b) for b in broadcastable)
    if len(broadcastable) != x.ndim:
        raise ValueError(f"patternbroadcast: pattern {broadcastable} has {len(broadcastable)} "
                         f"entries, {x} has {x.ndim} dimensions")
    if broadcastable == x.broadcastable:
        return x
    # a reshape to the same shape with the broadcastable dimensions spelled 1: a dimension
    # that is not 1 fails when the function runs
    from .shape import reshape
    shape = [1 if b else x.shape[i] for i, b in enumerate(broadcastable)]
    out = reshape(x, shape, ndim=x.ndim)
    if out.broadcastable != broadcastable:
        raise TypeError(f"patternbroadcast: cannot give {x.type} the pattern {broadcastable} "
                        f"(got {out.broadcastable})")
    return out


def addbroadcast(x, *axes):
    """``x`` with ``axes`` made broadcastable (each must have length 1)."""
    x = as_tensor_variable(x)
    bc = list(x.broadcastable)
    for a in axes:
        bc[a] = True
    return patternbroadcast(x, bc)


def unbroadcast(x, *axes):
    """``x`` with ``axes`` made not broadcastable."""
    x = as_tensor_variable(x)
    bc = list(x.broadcastable)
    for a in axes:
        bc[a] = False
    return patternbroadcast(x, bc)


# ---------------------------------------------------------------- construction
def stacklists(arg):
    """A tensor from nested lists of scalars/tensors (``stacklists([[a, b], [c, d]])``)."""
    from .shape import stack
    if isinstance(arg, (tuple, list)):
        return stack([stacklists(a) for a in arg])
    return as_tensor_variable(arg)


def tri(N, M=None, k=0, dtype=None):
    """(N, M) matrix with ones at and below the ``k``-th diagonal (numpy.tri)."""
    from .shape import arange
    dtype = dtype or config.floatX
    if M is None:
        M = N
    rows = arange(N).dimshuffle(0, "x")
    cols = arange(M).dimshuffle("x", 0)
    return cast(ge(rows + k, cols), dtype)


def tril(m, k=0):
    """``m`` with the elements above the ``k``-th diagonal zeroed (last two axes)."""
    m = as_tensor_variable(m)
    if m.ndim < 2:
        raise ValueError(f"tril: needs at least 2 dimensions, got {m.type}")
    mask = tri(m.shape[-2], m.shape[-1], k=k, dtype="bool")
    return switch(mask, m, constant(np.zeros((), dtype=m.dtype)))


def triu(m, k=0):
    """``m`` with the elements below the ``k``-th diagonal zeroed (last two axes)."""
    m = as_tensor_variable(m)
    if m.ndim < 2:
        raise ValueError(f"triu: needs at least 2 dimensions, got {m.type}")
    mask = tri(m.shape[-2], m.shape[-1], k=k - 1, dtype="bool")
    return switch(mask, constant(np.zeros((), dtype=m.dtype)), m)


def swapaxes(y, axis1, axis2):
    """``y`` with two axes exchanged."""
    y = as_tensor_variable(y)
    nd = y.ndim
    a1, a2 = axis1 % nd, axis2 % nd
    li = list(range(nd))
    li[a1], li[a2] = li[a2], li[a1]
    return y.dimshuffle(li)


class _Grid:
    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, slices):
        from .shape import arange
        if not isinstance(slices, tuple):
            slices = (slices,)
        for sl in slices:
            if not isinstance(sl, slice) or sl.step is not None and isinstance(sl.step, complex):
                raise NotImplementedError("mgrid/ogrid: only start:stop[:step] slices")
        ranges = [arange(sl.start if sl.start is not None else 0, sl.stop,
                         sl.step if sl.step is not None else 1) for sl in slices]
        nd = len(ranges)
        outs = []
        for i, r in enumerate(ranges):
            pat = ["x"] * nd
            pat[i] = 0
            v = r.dimshuffle(pat)
            if not self.sparse:
                from .shape import alloc
                shape = [rr.shape[0] for rr in ranges]
                v = alloc(v, *shape)
            outs.append(v)
        return outs


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


# ---------------------------------------------------------------- comparisons, statistics
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """numpy.isclose: ``|a - b| <= atol + rtol * |b|`` (inf equal to itself)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.dtype[0] not in "fc" and b.dtype[0] not in "fc":
        a, b = cast(a, "float64"), cast(b, "float64")
    diff = _abs(a - b)
    close = le(diff, atol + rtol * _abs(b))
    finite = ~(isinf(a) | isinf(b))
    both_inf = and_(and_(isinf(a), isinf(b)), eq(a, b))
    out = or_(and_(close, finite), both_inf)
    if equal_nan:
        out = or_(out, and_(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """All elements ``isclose`` (a bool scalar)."""
    from .reduce import all as _all
    return _all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def ptp(a, axis=None):
    """max - min along ``axis`` (numpy.ptp)."""
    from .reduce import max as _max, min as _min
    a = as_tensor_variable(a)
    return _max(a, axis=axis) - _min(a, axis=axis)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """numpy.cov without weights: the covariance matrix of the variables (rows when ``rowvar``)."""
    from .linalg import dot
    from .shape import concatenate
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights / aweights are not supported")
    m = as_tensor_variable(m)
    if m.ndim == 1:
        m = m.dimshuffle("x", 0)
    if not rowvar and m.ndim == 2:
        m = m.T
    if y is not None:
        y = as_tensor_variable(y)
        if y.ndim == 1:
            y = y.dimshuffle("x", 0)
        if not rowvar:
            y = y.T
        m = concatenate([m, y], axis=0)
    if m.dtype[0] != "f":
        m = cast(m, "float64")
    if ddof is None:
        ddof = 0 if bias else 1
    n = cast(m.shape[1], m.dtype)
    fact = n - ddof
    mc = m - m.mean(axis=1, keepdims=True)
    return dot(mc, mc.T) / fact


def largest(*args):
    """Elementwise maximum of all the arguments."""
    if len(args) == 0:
        raise TypeError("largest needs at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = maximum(out, a)
    return out


def smallest(*args):
    """Elementwise minimum of all the arguments."""
    if len(args) == 0:
        raise TypeError("smallest needs at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = minimum(out, a)
    return out


def choose(a, choices, mode="raise"):
    """numpy.choose: ``out[i] = choices[a[i]][i]`` (choices broadcast together)."""
    from .shape import stack
    a = as_tensor_variable(a)
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"choose: unknown mode {mode!r}")
    choices = [as_tensor_variable(c) for c in choices] if isinstance(choices, (list, tuple)) \
        else None
    if choices is None:
        raise TypeError("choose: choices must be a list of tensors")
    n = len(choices)
    if mode == "wrap":
        a = a % n
    elif mode == "clip":
        a = minimum(maximum(a, 0), n - 1)
    full = a
    for c in choices:
        full = second(c, full)              # the broadcast shape of a and every choice
    stacked = stack([second(full, c) for c in choices])
    nd = full.ndim
    from .shape import arange
    grids = []
    for d in range(nd):
        pat = ["x"] * nd
        pat[d] = 0
        grids.append(arange(full.shape[d]).dimshuffle(pat))
    # one gather: an index outside [0, n) raises IndexError (mode='raise')
    return stacked[(second(full, a),) + tuple(grids)]


# ---------------------------------------------------------------- constants, copies
def as_tensor(x, name=None, ndim=None):
    """Theano's alias of ``as_tensor_variable``."""
    v = as_tensor_variable(x)
    if ndim is not None and v.ndim != ndim:
        from .shape import squeeze
        if v.ndim > ndim:
            v = squeeze(v)
        if v.ndim != ndim:
            raise ValueError(f"as_tensor: {x!r} has {v.ndim} dimensions, not {ndim}")
    return v


def tensor_copy(x):
    """A copy of ``x`` (a new variable computing the same value)."""
    from ..basic import identity
    return identity(as_tensor_variable(x))


class NotScalarConstantError(ValueError):
    """Theano's error: the variable is not a constant scalar."""


def get_scalar_constant_value(v, elemwise=True, only_process_constants=False,
                              max_recur=10):
    """The constant scalar value of ``v`` (a number, a constant, a cast/dimshuffle of one,
    shape_i of a known length), or NotScalarConstantError."""
    from .shape import const_value as _cv
    if isinstance(v, (numbers.Number, np.number, np.ndarray, np.bool_)):
        arr = np.asarray(v)
        if arr.size == 1:
            return arr.reshape(())
        raise NotScalarConstantError(f"{v!r} is not a scalar")
    if isinstance(v, Variable):
        c = _fold(v, _cv, elemwise and not only_process_constants, max_recur)
        if c is not None:
            arr = np.asarray(c)
            if arr.size == 1:
                return arr.reshape(())
    raise NotScalarConstantError(f"{v} is not a constant scalar")


def _fold(v, cv, elemwise, depth):
    """The value of ``v`` when it is a constant, or (``elemwise``) an Elemwise / DimShuffle of
    constants (a cast, an addition ...), evaluated with the ops' numpy code."""
    from ..elemwise import DimShuffle, Elemwise
    c = cv(v)
    if c is not None or not elemwise or depth <= 0 or v.owner is None:
        return c
    node = v.owner
    if not isinstance(node.op, (Elemwise, DimShuffle)):
        return None
    ins = [_fold(i, cv, elemwise, depth - 1) for i in node.inputs]
    if any(i is None for i in ins) or any(np.size(i) != 1 for i in ins):
        return None
    outs = node.op.perform(node, [np.asarray(i, dtype=n.dtype) for i, n in zip(ins, node.inputs)])
    return np.asarray(outs[node.outputs.index(v)])


def get_vector_length(v):
    """The length of vector ``v`` when it is known from the graph (constant, stack, shape)."""
    from .shape import MakeVector, Shape
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length: {v} is not a vector ({v.type})")
    if v.broadcastable[0]:
        return 1
    if isinstance(v, Constant):
        return len(v.data)
    own = v.owner
    if own is not None and isinstance(own.op, MakeVector):
        return len(own.inputs)
    if own is not None and isinstance(own.op, Shape):
        return own.inputs[0].ndim
    if own is not None and type(own.op).__name__ == "Join":
        parts = [i for i in own.inputs if i.ndim == 1]      # (an axis input is a scalar)
        return sum(get_vector_length(i) for i in parts)
    raise ValueError(f"length not known: {v}")


# ---------------------------------------------------------------- permutations, top-k
class InversePermutation(Op):
    """``out[..., perm[..., i]] = i`` along the last axis (a scatter; one row per task).

    Entries of ``perm`` outside [0, n) write nothing: where no entry points, the result is -1
    (a permutation is not checked, as in Theano)."""

    __props__ = ()
    no_grad = "integer indices"

    def __str__(self):
        return "InversePermutation"

    def make_node(self, perm):
        perm = as_tensor_variable(perm)
        if perm.ndim < 1 or perm.dtype[0] not in "iu":
            raise TypeError(f"inverse_permutation: expected an integer tensor of at least one "
                            f"dimension, got {perm.type}")
        return Apply(self, [perm], [perm.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        (perm,) = inputs
        perm = np.asarray(perm)
        n = perm.shape[-1] if perm.ndim else 0
        out = np.full(perm.shape, -1, dtype=perm.dtype)
        rows_p = perm.reshape(-1, n) if n else perm.reshape(0, 0)
        rows_o = out.reshape(-1, n) if n else out.reshape(0, 0)
        for p, o in zip(rows_p, rows_o):
            ok = (p >= 0) & (p < n)
            o[p[ok]] = np.arange(n, dtype=out.dtype)[ok]
        return [out]


def inverse_permutation(perm):
    """The inverse of the permutation(s) ``perm`` (last axis): ``out[perm[i]] = i``."""
    return InversePermutation()(perm)


def take_along_last_axis(x, idx):
    """``out[..., j] = x[..., idx[..., j]]`` (numpy.take_along_axis on the last axis; leading
    axes broadcast), by advanced indexing with broadcast index grids."""
    from .shape import arange
    x, idx = as_tensor_variable(x), as_tensor_variable(idx)
    nd = max(x.ndim, idx.ndim)
    x = shape_padleft(x, nd - x.ndim) if x.ndim < nd else x
    idx = shape_padleft(idx, nd - idx.ndim) if idx.ndim < nd else idx
    if nd == 1:
        return x[idx]
    grids = []
    for d in range(nd - 1):
        n = maximum(x.shape[d], idx.shape[d])
        pat = ["x"] * nd
        pat[d] = 0
        g = arange(n).dimshuffle(pat)
        grids.append(switch(eq(x.shape[d], 1), g * 0, g))
    return x[tuple(grids) + (idx,)]


def permute_row_elements(x, y, inverse=0):
    """Each row of ``x`` permuted by the matching row of ``y`` (``inverse``: by its inverse):
    ``out[..., j] = x[..., y[..., j]]``, leading axes broadcast."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if inverse:
        y = inverse_permutation(y)
    return take_along_last_axis(x, y)


def topk_and_argtopk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):   # noqa: A002
    """(values, indices) of the ``kth`` largest (``kth`` < 0: smallest) along ``axis``."""
    from .sort import argsort
    x = as_tensor_variable(x)
    if not isinstance(kth, (int, np.integer)) or kth == 0:
        raise ValueError(f"topk: kth must be a non-zero int, got {kth!r}")
    if axis is None:
        x, axis = x.flatten(), 0
    axis %= x.ndim
    xt = swapaxes(x, axis, -1) if axis != x.ndim - 1 else x
    order = argsort(xt, axis=-1)
    if kth > 0:
        ind = order[..., ::-1][..., :kth]       # largest first
    else:
        ind = order[..., :-kth]
    vals = take_along_last_axis(xt, ind)
    if axis != x.ndim - 1:
        vals, ind = swapaxes(vals, axis, -1), swapaxes(ind, axis, -1)
    return vals, cast(ind, idx_dtype)


def topk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):   # noqa: A002
    return topk_and_argtopk(x, kth, axis, sorted, idx_dtype)[0]


def argtopk(x, kth, axis=-1, sorted=True, idx_dtype="int64"):   # noqa: A002
    return topk_and_argtopk(x, kth, axis, sorted, idx_dtype)[1]


