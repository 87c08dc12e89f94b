"""Random draws: ``RandomFunction{dist}`` (Theano's raw_random), one op for every distribution.

A node is ``RandomFunction{dist}(rng, size, *params) -> (new_rng, draw)``: ``rng`` is the
state of a numpy PCG64 bit generator stored as a uint64 vector (``STATE_LEN`` words), so a
random state is an ordinary tensor: a shared variable holds it, its ``default_update`` is
``new_rng``, and a call either installs the new state with its other updates or (when the
call fails) leaves it as it was.  The draw itself runs on the host with numpy's Generator
(``perform``; no lowering rule, so the executor makes it a host step): bit-exact
reproducible on every target and the same distributions as numpy; what follows it (dropout
masks multiplied in, ...) is compiled to kernels as usual.

``size`` is an int64 vector (constant, ``x.shape``, or shape arithmetic: its value is known
when the kernels are built); ``sized=False`` means "the broadcast shape of the parameters".
"""
from __future__ import annotations

import numpy as np

from ...config import config
from ..basic import as_tensor_variable, constant
from ..graph import Apply, Constant, Op
from ..type import TensorType, normalize_dtype

STATE_LEN = 6      # PCG64: state (hi, lo), increment (hi, lo), has_uint32, uinteger
_MASK = (1 << 64) - 1

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


# --------------------------------------------------------------------------- state <-> generator
def state_from_bitgen(state):
    """uint64[STATE_LEN] from a PCG64 ``bit_generator.state`` dict."""
    if state.get("bit_generator") != "PCG64":
        raise TypeError("a random state holds a PCG64 bit generator, got "
                        f"{state.get('bit_generator')!r}")
    s, inc = int(state["state"]["state"]), int(state["state"]["inc"])
    return np.array([s >> 64, s & _MASK, inc >> 64, inc & _MASK,
                     int(state["has_uint32"]), int(state["uinteger"])], dtype="uint64")


def bitgen_state(arr):
    """The PCG64 ``bit_generator.state`` dict of a uint64[STATE_LEN] state."""
    a = np.asarray(arr, dtype="uint64").reshape(-1).tolist()     # Python ints
    if len(a) != STATE_LEN:
        raise ValueError(f"a random state is a uint64 vector of {STATE_LEN} words, got {len(a)}")
    return {"bit_generator": "PCG64",
            "state": {"state": (a[0] << 64) | a[1], "inc": (a[2] << 64) | a[3]},
            "has_uint32": a[4], "uinteger": a[5]}


def state_from_seed(seed):
    """The state of ``numpy.random.PCG64(seed)`` (``seed`` None: fresh OS entropy)."""
    return state_from_bitgen(np.random.PCG64(seed).state)


_BITGEN = None


def _generator(state):
    """A Generator positioned at ``state`` (one bit generator object reused: setting the state
    costs ~1 us, creating one ~20 us)."""
    global _BITGEN
    if _BITGEN is None:
        _BITGEN = np.random.Generator(np.random.PCG64(0))
    _BITGEN.bit_generator.state = bitgen_state(state)
    return _BITGEN


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
        new_state = state_from_bitgen(gen.bit_generator.state)
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


def _draw(gen, dist, size, params, options, dtype):
    if dist == "uniform":
        low, high = params
        dt = np.dtype(dtype)
        if dt == np.float32 and np.ndim(low) == 0 and np.ndim(high) == 0:
            # numpy's float32 uniform on [0, 1), scaled in float32 (no float64 pass)
            lo, hi = np.float32(low), np.float32(high)
            r = np.asarray(gen.random(size, dtype=np.float32))
            if (lo, hi) != (0, 1):
                r = r * (hi - lo) + lo
                if hi > lo:             # rounding may reach ``high``: keep [low, high)
                    r = np.minimum(r, np.nextafter(hi, lo))
            return r
        r = gen.uniform(low, high, size)
        if dt.kind == "f" and dt.itemsize < 8:
            # a float64 just below ``high`` may round up to it: keep the interval half-open
            r = np.asarray(r).astype(dtype)
            hi = np.broadcast_to(np.asarray(high, dtype=dtype), r.shape)
            lo = np.broadcast_to(np.asarray(low, dtype=dtype), r.shape)
            bad = (r >= hi) & (lo < hi)
            if bad.any():
                r[bad] = np.nextafter(hi[bad], lo[bad])
        return r
    if dist == "normal":
        avg, std = params
        return gen.normal(avg, std, size)
    if dist == "truncated_normal":
        avg, std = params
        shape = size if size is not None else np.broadcast_shapes(np.shape(avg), np.shape(std))
        z = gen.standard_normal(shape)
        bad = np.abs(z) > 2
        while bad.any():        # resample outside [-2, 2] (MRG_RandomStreams.normal(truncate=True))
            z[bad] = gen.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2
        return avg + std * z
    if dist == "binomial":
        n, p = params
        return gen.binomial(np.asarray(n).astype("int64"), p, size)
    if dist == "random_integers":
        low, high = params
        return gen.integers(low, high, size, endpoint=True)
    if dist == "integers":
        low, high = params
        return gen.integers(low, high, size)
    if dist == "poisson":
        return gen.poisson(params[0], size)
    if dist == "choice":
        a, p = params
        a = int(a) if np.ndim(a) == 0 else a
        p = None if np.size(p) == 0 else p
        return gen.choice(a, size, replace=options.get("replace", True), p=p)
    if dist == "permutation":
        n = int(params[0])
        shape = size or ()
        out = np.empty(tuple(shape) + (n,), dtype="int64")
        for idx in np.ndindex(*shape):
            out[idx] = gen.permutation(n)
        return out
    if dist == "multinomial":
        n, pvals = params
        return gen.multinomial(np.asarray(n).astype("int64"), pvals, size)
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
