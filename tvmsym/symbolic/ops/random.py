"""Random draws: ``RandomFunction{dist}`` (Theano's raw_random), one op for every distribution.

A node is ``RandomFunction{dist}(rng, size, *params) -> (new_rng, draw)``: ``rng`` is the
state of a numpy ``RandomState`` (MT19937, as Theano's RandomStateType) stored as a uint64
vector of ``STATE_LEN`` words (624 key words, position, has_gauss, the cached gaussian's
bits), so a random state is an ordinary tensor: a shared variable holds it, its
``default_update`` is ``new_rng``, and a call either installs the new state with its other
updates or (when the call fails) leaves it as it was.  The draw itself runs on the host with
the RandomState method Theano's raw_random calls, in Theano's order (``perform``; no lowering
rule, so the executor makes it a host step, as Theano drew these on the host too): the same
numbers as Theano 1.0 for the same seeds; what follows it (dropout masks multiplied in, ...)
is compiled to kernels as usual.

``size`` is an int64 vector (constant, ``x.shape``, or shape arithmetic: its value is known
when the kernels are built); ``sized=False`` means "the broadcast shape of the parameters".
"""
from __future__ import annotations

import numpy as np

from ...config import config
from ..basic import as_tensor_variable, constant
from ..graph import Apply, Constant, Op
from ..type import TensorType, normalize_dtype

STATE_LEN = 627    # MT19937: key[624], pos, has_gauss, cached gaussian (float64 bits)

# dist -> parameter names (in input order); every distribution takes them elementwise
# (broadcast against each other and against ``size``) except those in _VECTOR_PARAMS
DISTS = {
    "uniform": ("low", "high"),
    "normal": ("avg", "std"),
    "truncated_normal": ("avg", "std"),      # MRG's normal(truncate=True): |z| <= 2
    "binomial": ("n", "p"),
    "random_integers": ("low", "high"),      # inclusive high (Theano)
    "integers": ("low", "high"),             # exclusive high (numpy Generator.integers)
    "poisson": ("lam",),
    "choice": ("a", "p"),
    "permutation": ("n",),
    "multinomial": ("n", "pvals"),
}
_VECTOR_PARAMS = {"choice", "permutation", "multinomial"}


# --------------------------------------------------------------------------- state <-> RandomState
def state_from_randomstate(rs):
    """uint64[STATE_LEN] of a numpy ``RandomState`` (or its ``get_state()`` tuple)."""
    st = rs.get_state(legacy=True) if isinstance(rs, np.random.RandomState) else rs
    name, key, pos, has_gauss, gauss = st[:5]
    if name != "MT19937":
        raise TypeError(f"a random state is a numpy RandomState (MT19937) state, got {name!r}")
    out = np.empty(STATE_LEN, dtype="uint64")
    out[:624] = np.asarray(key, dtype="uint32")
    out[624], out[625] = int(pos), int(has_gauss)
    out[626] = np.array([float(gauss)], dtype="float64").view("uint64")[0]
    return out


def randomstate_tuple(arr):
    """The ``RandomState.get_state()`` tuple of a uint64[STATE_LEN] state."""
    a = np.asarray(arr).reshape(-1)
    if a.shape[0] != STATE_LEN:
        raise ValueError(f"a random state is a uint64 vector of {STATE_LEN} words, got "
                         f"{a.shape[0]}")
    a = a.astype("uint64", copy=False)
    return ("MT19937", a[:624].astype("uint32"), int(a[624]), int(a[625]),
            float(a[626:627].view("float64")[0]))


def state_from_seed(seed):
    """The state of ``numpy.random.RandomState(seed)`` (``seed`` None: fresh OS entropy)."""
    return state_from_randomstate(np.random.RandomState(seed))


_RS = None


def _generator(state):
    """A RandomState positioned at ``state`` (one object reused: set_state is cheap)."""
    global _RS
    if _RS is None:
        _RS = np.random.RandomState(0)
    _RS.set_state(randomstate_tuple(state))
    return _RS


# --------------------------------------------------------------------------- the op
class RandomFunction(Op):
    """``(rng, size, *params) -> (new_rng, draw)`` for one distribution (see module doc)."""

    host_only = "numpy's generators draw the values"

    __props__ = ("dist", "dtype", "sized", "options")

    def __init__(self, dist, dtype, sized=True, options=()):
        if dist not in DISTS:
            raise ValueError(f"unknown distribution {dist!r}; known: {', '.join(DISTS)}")
        self.dist = dist
        self.dtype = normalize_dtype(dtype)
        self.sized = bool(sized)
        self.options = tuple(options)

    def __str__(self):
        return f"RandomFunction{{{self.dist}}}"

    __repr__ = __str__

    def make_node(self, rng, size, *params):
        rng = as_tensor_variable(rng)
        if rng.type != TensorType("uint64", (False,)):
            raise TypeError(f"{self}: rng must be a random state (uint64 vector), got {rng.type}")
        size = as_tensor_variable(size)
        if size.ndim != 1 or size.dtype != "int64":
            raise TypeError(f"{self}: size must be an int64 vector, got {size.type}")
        params = [as_tensor_variable(p) for p in params]
        if len(params) != len(DISTS[self.dist]):
            raise TypeError(f"{self} takes {len(DISTS[self.dist])} parameters "
                            f"({', '.join(DISTS[self.dist])}), got {len(params)}")
        bcast = self._broadcastable(size, params)
        return Apply(self, [rng, size] + params,
                     [TensorType("uint64", (False,))(), TensorType(self.dtype, bcast)()])

    def _broadcastable(self, size, params):
        from .shape import _known_ints
        extra = ()
        if self.dist == "permutation":
            n = _const_int(params[0])
            extra = (n == 1,)
        elif self.dist == "multinomial":
            extra = (params[1].broadcastable[-1],)
        if self.sized:
            known = _known_ints(size)
            n = _static_len(size)
            if known is None:
                known = [None] * n
            return tuple(k == 1 for k in known) + extra
        if self.dist == "multinomial":
            return tuple(params[1].broadcastable[:-1]) + extra
        if self.dist in ("choice", "permutation"):
            return extra
        nd = max((p.ndim for p in params), default=0)
        pads = [(True,) * (nd - p.ndim) + tuple(p.broadcastable) for p in params]
        return tuple(all(b) for b in zip(*pads)) if pads else ()

    # ---------------------------------------------------------------- shapes
    def _out_shape(self, size, param_shapes, param_values):
        """Shape of the draw, or None when it is not known yet."""
        dist = self.dist
        if dist == "permutation":
            n = param_values[0]
            if n is None or (self.sized and size is None):
                return None
            return (tuple(int(s) for s in size) if self.sized else ()) + (int(n),)
        if dist == "multinomial":
            k = param_shapes[1][-1]
            if self.sized:
                return None if size is None else tuple(int(s) for s in size) + (k,)
            return tuple(param_shapes[1])
        if self.sized:
            return None if size is None else tuple(int(s) for s in size)
        if dist == "choice":
            return ()
        return tuple(np.broadcast_shapes(*[tuple(s) for s in param_shapes]))

    def infer_shape_values(self, node, shapes, values):
        size = values[1] if self.sized else ()
        return [tuple(shapes[0]), self._out_shape(size, shapes[2:], values[2:])]

    def shape_value_inputs(self, node):
        # the size's value (and permutation's n) decides the draw's shape
        return [1, 2] if self.dist == "permutation" else [1]

    def runtime_values_ok(self, node, positions):
        return True     # a host step: it reads the size at run time, nothing is baked in

    def do_constant_folding(self, node):
        return False    # a draw is never a constant (and its state must advance)

    # ---------------------------------------------------------------- the draw
    def perform(self, node, inputs):
        state, size, *params = inputs
        gen = _generator(state)
        size = tuple(int(s) for s in size) if self.sized else None
        draw = _draw(gen, self.dist, size, params, dict(self.options), self.dtype)
        new_state = state_from_randomstate(gen)
        return [new_state, np.asarray(draw).astype(self.dtype, copy=False)]

    def pp(self, node, args, v):
        names = DISTS[self.dist]
        parts = [f"size={args[1]}"] if self.sized else []
        parts += [f"{n}={a}" for n, a in zip(names, args[2:])]
        s = f"{self.dist}({', '.join(parts)})"
        return s if v.index == 1 else f"{s}.rng"


def _const_int(v):
    return int(v.data) if isinstance(v, Constant) and v.data.ndim == 0 else None


def _static_len(size):
    from .shape import MakeVector, Shape
    if isinstance(size, Constant):
        return int(size.data.shape[0])
    if size.owner is not None and isinstance(size.owner.op, MakeVector):
        return len(size.owner.inputs)
    if size.owner is not None and isinstance(size.owner.op, Shape):
        return size.owner.inputs[0].ndim
    raise TypeError(f"the size of a random draw must have a length known when the graph is "
                    f"built (a tuple, or x.shape); got {size}")


def _bcast_loop(size, *arrays):
    """Theano's per-element loops: the output shape and each input broadcast to it."""
    shape = tuple(size) if size is not None else np.broadcast_shapes(*[np.shape(a) for a in arrays])
    return shape, [np.broadcast_to(np.asarray(a), shape) for a in arrays]


def _draw(rs, dist, size, params, options, dtype):
    """The draw of Theano 1.0's raw_random for ``dist`` with RandomState ``rs``."""
    if dist == "uniform":
        low, high = params
        return rs.uniform(low, high, size)
    if dist == "normal":
        avg, std = params
        return rs.normal(avg, std, size)
    if dist == "truncated_normal":        # tvmsym extension: redraw beyond 2 std
        avg, std = params
        shape = size if size is not None else np.broadcast_shapes(np.shape(avg), np.shape(std))
        z = rs.standard_normal(shape)
        bad = np.abs(z) > 2
        while bad.any():
            z[bad] = rs.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2
        return avg + std * z
    if dist == "binomial":
        n, p = params
        return rs.binomial(n, p, size)
    if dist in ("random_integers", "integers"):
        low, high = params
        inc = 1 if dist == "random_integers" else 0     # Theano: randint(low, high + 1)
        shape, (lo, hi) = _bcast_loop(size, low, high)
        # Theano draws randint(lo, hi + 1) element by element in C order; numpy's vectorized
        # randint makes the same generator calls in the same order (the tests check it)
        if 0 in shape:
            return np.empty(shape, dtype="int64")
        return rs.randint(np.asarray(lo, dtype="int64"), np.asarray(hi, dtype="int64") + inc,
                          size=shape, dtype="int64")
    if dist == "poisson":
        return rs.poisson(params[0], size)
    if dist == "choice":
        a, p = params
        p = None if np.size(p) == 0 else p
        return rs.choice(a, size, bool(options.get("replace", True)), p)
    if dist == "permutation":
        n = int(np.asarray(params[0]).item())
        shape = tuple(size) if size is not None else ()
        out = np.empty(shape + (n,), dtype="int64")
        for idx in np.ndindex(*shape):
            out[idx] = rs.permutation(n)
        return out
    if dist == "multinomial":
        n, pvals = params
        n, pvals = np.asarray(n), np.asarray(pvals)
        if pvals.size and pvals.min() < 0:
            raise ValueError("multinomial: pvals must be non-negative")
        shape = tuple(size) if size is not None else np.broadcast_shapes(n.shape, pvals.shape[:-1])
        nb = np.broadcast_to(n, shape)
        pb = np.broadcast_to(pvals, shape + pvals.shape[-1:])
        out = np.empty(shape + pvals.shape[-1:], dtype="float64")
        for idx in np.ndindex(*shape):
            pvi = pb[idx]
            s = np.sum(pvi)
            if 1.0 < s < 1.0 + 1e-5 or pvi[-1] < 5e-5:      # Theano's correction
                pvi = pvi * (1.0 - 5e-5)
                s = np.sum(pvi)
            if not s <= 1.0:
                raise ValueError(f"multinomial: pvals sum to {s} > 1")
            out[idx] = rs.multinomial(n=nb[idx], pvals=pvi.astype("float64"))
        return out
    raise ValueError(f"unknown distribution {dist!r}")


# --------------------------------------------------------------------------- building draws
def default_float_dtype(params):
    """Theano's default: floatX, upcast by symbolic float parameters (Python floats are weak)."""
    dts = [p.dtype for p in params
           if p.dtype[0] == "f" and not (isinstance(p, Constant) and getattr(p, "weak", False))]
    return np.result_type(config.floatX, *dts).name if dts else config.floatX


def random_function(dist, rng, size, params, dtype, options=()):
    """``(new_rng, draw)`` of ``dist`` with the given ``size`` (None: the params' shape)."""
    from .shape import as_shape_vector
    params = [as_tensor_variable(p) for p in params]
    if size is None:
        sized, size_v = False, constant(np.zeros(0, dtype="int64"))
    else:
        sized, size_v = True, as_shape_vector(size, f"{dist}: size")
    op = RandomFunction(dist, dtype, sized, options)
    new_rng, draw = op(rng, size_v, *params)
    return new_rng, draw
