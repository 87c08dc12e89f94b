"""``RandomStreams``: random variables in graphs, as Theano's ``tensor.shared_randomstreams``.

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = tvmsym.function([], rv_u)        # new numbers on every call
    g = tvmsym.function([], rv_u, no_default_updates=True)    # the same numbers every call

Every random variable gets its own random state, a shared variable (``rv.rng``) whose
``default_update`` is the state after the draw, so a function using ``rv`` advances it;
``srng.seed(n)`` reseeds them all from a seed generator seeded with ``n``.  A state is a
numpy PCG64 bit generator's state stored in a uint64 vector: ``rv.rng.get_value()`` is
that vector viewed as an ``RNGState``, with Theano's RandomState methods ``seed(n)``,
``get_state()`` and ``set_state(state)`` (``get_value(borrow=True)`` views the stored
value itself, so they act on it in place).  Draws run on the host through numpy's
Generator (``symbolic/ops/random.py``: the same numbers on every target, numpy's
distributions); the computations that use them are compiled as usual.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..runtime.shared import SharedVariable
from ..symbolic.basic import as_tensor_variable, constant
from ..symbolic.graph import TensorVariable
from ..symbolic.ops.random import (
    STATE_LEN,
    bitgen_state,
    default_float_dtype,
    random_function,
    state_from_bitgen,
    state_from_seed,
)
from ..symbolic.type import TensorType, normalize_dtype

__all__ = ["RandomStreams", "RandomStateSharedVariable", "RNGState"]

RANDOM_STATE_TYPE = TensorType("uint64", (False,))


class RNGState(np.ndarray):
    """A random state value (uint64 vector of a PCG64 state) with numpy RandomState's methods."""

    def seed(self, seed=None):
        """Reset this state to that of ``numpy.random.PCG64(seed)`` (in place)."""
        self[...] = state_from_seed(seed)

    def get_state(self):
        """The numpy ``bit_generator.state`` dict (a copy: later draws do not change it)."""
        return bitgen_state(self)

    def set_state(self, state):
        """Set from ``get_state()``'s dict or another state (in place)."""
        self[...] = _state_array(state)

    def generator(self):
        """A numpy Generator positioned at this state (its draws are the graph's next draws)."""
        bg = np.random.PCG64()
        bg.state = bitgen_state(self)
        return np.random.Generator(bg)

    def __repr__(self):
        return f"RNGState(PCG64, {np.asarray(self).tolist()})"


def _state_array(value):
    """uint64[STATE_LEN] from a state array, a ``get_state()`` dict or a PCG64 Generator."""
    if isinstance(value, dict):
        return state_from_bitgen(value)
    if isinstance(value, np.random.Generator):
        return state_from_bitgen(value.bit_generator.state)
    if isinstance(value, np.random.BitGenerator):
        return state_from_bitgen(value.state)
    if isinstance(value, np.random.RandomState):
        raise TypeError("a tvmsym random state is a PCG64 state, not a numpy RandomState "
                        "(MT19937); use rng.get_value().seed(n) or "
                        "set_value(numpy.random.default_rng(n))")
    arr = np.asarray(value)
    if arr.shape != (STATE_LEN,) or arr.dtype.kind not in "ui":
        raise TypeError(f"a random state is a uint64 vector of {STATE_LEN} words (PCG64), got "
                        f"{arr.dtype} {arr.shape}")
    return np.array(arr, dtype="uint64")


class RandomStateSharedVariable(SharedVariable):
    """The shared random state of one random variable (Theano's RandomStateSharedVariable)."""

    def __init__(self, value, name=None):
        super().__init__(RANDOM_STATE_TYPE, _state_array(value), name=name, strict=False)
        self.tag.is_rng = True

    def get_value(self, borrow=False, return_internal_type=False):
        v = super().get_value(borrow=borrow, return_internal_type=return_internal_type)
        return v.view(RNGState) if isinstance(v, np.ndarray) else v

    def set_value(self, value, borrow=False):
        arr = _state_array(value)
        if borrow and isinstance(value, np.ndarray) and value.dtype == np.uint64 \
                and value.shape == (STATE_LEN,):
            arr = value.view(np.ndarray)        # keep the caller's storage (Theano's borrow)
        super().set_value(arr, borrow=True)

    def __repr__(self):
        return self.name if self.name is not None else "<RandomStateType>"

    __str__ = __repr__

    def clone(self):
        cp = super().clone()
        cp.__class__ = _RandomStateInput       # prints as <RandomStateType> in compiled graphs
        return cp


class _RandomStateInput(TensorVariable):
    """A random state inside a FunctionGraph (the clone of a RandomStateSharedVariable)."""

    def __repr__(self):
        return self.name if self.name is not None else "<RandomStateType>"

    __str__ = __repr__


def _check_ndim(size, ndim, what):
    """Theano's ``ndim`` argument: only checked against a tuple ``size``."""
    if ndim is None or size is None:
        return
    n = 1 if isinstance(size, numbers.Integral) else len(size) if isinstance(size, (tuple, list)) \
        else None
    if n is not None and n != ndim:
        raise ValueError(f"{what}: ndim={ndim} does not match size={size!r} ({n} dimensions)")


class RandomStreams:
    """Symbolic stand-in for ``numpy.random``: each method returns a new random variable.

    ``seed`` seeds a generator that gives every new random variable its own seed
    (Theano's meta seed); ``state_updates`` lists (state, new state) pairs, one per
    variable; ``updates()`` returns them for ``function(updates=...)``.
    """

    def __init__(self, seed=None):
        self.state_updates = []
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.default_rng(seed)

    # ---------------------------------------------------------------- seeding
    def seed(self, seed=None):
        """Reseed every random variable made so far, each from a seed drawn with ``seed``."""
        if seed is None:
            seed = self.default_instance_seed
        self.gen_seedgen = np.random.default_rng(seed)
        for old_r, _new_r in self.state_updates:
            old_r.set_value(state_from_seed(self._next_seed()), borrow=True)

    def _next_seed(self):
        return int(self.gen_seedgen.integers(2 ** 30))

    @property
    def rstate(self):
        """The seed generator's state (``MRG_RandomStreams.rstate``): copying it to another
        stream makes that stream's next random variables draw the same numbers."""
        return self.gen_seedgen.bit_generator.state

    @rstate.setter
    def rstate(self, state):
        bg = np.random.PCG64()
        bg.state = state
        self.gen_seedgen = np.random.Generator(bg)

    def updates(self):
        """All (state, new state) pairs of the random variables made by this object."""
        return list(self.state_updates)

    def __getitem__(self, item):
        """The state value of random variable ``item`` (Theano: its RandomState)."""
        return item.rng.get_value(borrow=True)

    def __setitem__(self, item, val):
        item.rng.set_value(val, borrow=True)

    # ---------------------------------------------------------------- making variables
    def gen(self, dist, size, params, dtype, options=()):
        """A new random variable drawing ``dist``: gives it a fresh seeded state (``.rng``)
        whose default update is the state after the draw (``.update``)."""
        rng = RandomStateSharedVariable(state_from_seed(self._next_seed()))
        new_rng, out = random_function(dist, rng, size, params, dtype, options)
        out.rng = rng
        out.update = (rng, new_rng)
        rng.default_update = new_rng
        self.state_updates.append(out.update)
        return out

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None, **kwargs):
        """Uniform on [low, high) (dtype default: floatX, upcast by symbolic float bounds)."""
        _check_ndim(size, ndim, "uniform")
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        dtype = default_float_dtype([low, high]) if dtype is None else dtype
        return self.gen("uniform", size, [low, high], dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, truncate=False, **kwargs):
        """Normal with mean ``avg`` and standard deviation ``std`` (``truncate``: within 2 std)."""
        _check_ndim(size, ndim, "normal")
        avg, std = as_tensor_variable(avg), as_tensor_variable(std)
        dtype = default_float_dtype([avg, std]) if dtype is None else dtype
        return self.gen("truncated_normal" if truncate else "normal", size, [avg, std], dtype)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None, **kwargs):
        """Number of successes of ``n`` trials of probability ``p`` (``n=1``: Bernoulli)."""
        _check_ndim(size, ndim, "binomial")
        if prob is not None:
            p = prob
        return self.gen("binomial", size, [as_tensor_variable(n), as_tensor_variable(p)], dtype)

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in [low, high] (high included, as Theano's)."""
        _check_ndim(size, ndim, "random_integers")
        bounds = [as_tensor_variable(low), as_tensor_variable(high)]
        return self.gen("random_integers", size, bounds, dtype)

    def integers(self, low, high=None, size=None, dtype="int64"):
        """Integers in [low, high) (numpy ``Generator.integers``; ``high=None``: [0, low))."""
        if high is None:
            low, high = 0, low
        bounds = [as_tensor_variable(low), as_tensor_variable(high)]
        return self.gen("integers", size, bounds, dtype)

    def poisson(self, size=None, lam=1.0, ndim=None, dtype="int64"):
        _check_ndim(size, ndim, "poisson")
        return self.gen("poisson", size, [as_tensor_variable(lam)], dtype)

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype=None):
        """Samples of ``a`` (an int n: range(n); or a vector), with probabilities ``p``."""
        _check_ndim(size, ndim, "choice")
        a = as_tensor_variable(a)
        if a.ndim > 1:
            raise ValueError(f"choice: a must be an int or a vector, got {a.type}")
        if dtype is None:
            dtype = a.dtype if a.ndim == 1 else "int64"
        p = constant(np.zeros(0, dtype="float64")) if p is None else as_tensor_variable(p)
        if p.ndim != 1:
            raise ValueError(f"choice: p must be a vector, got {p.type}")
        return self.gen("choice", size, [a, p], dtype, (("replace", bool(replace)),))

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """A permutation of range(n) for each element of ``size`` (shape size + (n,))."""
        return self.gen("permutation", size, [as_tensor_variable(n)], dtype)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64", **kwargs):
        """Counts of ``n`` draws among ``len(pvals[-1])`` outcomes (shape size + (k,))."""
        if pvals is None:
            pvals = [0.5, 0.5]
        pvals = as_tensor_variable(pvals)
        if pvals.ndim < 1:
            raise ValueError(f"multinomial: pvals must have at least one dimension, got "
                             f"{pvals.type}")
        return self.gen("multinomial", size, [as_tensor_variable(n), pvals], normalize_dtype(dtype))
