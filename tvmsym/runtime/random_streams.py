"""Random streams in graphs (Theano's ``tensor.shared_randomstreams``): ``RandomStreams``
gives every random variable its own state, a ``RandomStateSharedVariable`` whose
``default_update`` is the state after the draw.  The values and the draws are symbolic
(``symbolic/random_state.py``, ``symbolic/ops/random.py``); this module holds the shared
states, so it lives in the runtime.  ``tvmsym.tensor.shared_randomstreams`` re-exports it.
"""
from __future__ import annotations

import numpy as np

from ..symbolic.basic import as_tensor_variable, constant
from ..symbolic.ops.random import STATE_LEN, default_float_dtype, random_function, state_from_seed
from ..symbolic.random_state import (
    RANDOM_STATE_TYPE,
    RandomStateInput,
    RNGState,
    check_ndim,
    state_array,
)
from ..symbolic.type import normalize_dtype
from .shared import SharedVariable

__all__ = ["RandomStreams", "RandomStateSharedVariable", "RNGState"]


class RandomStateSharedVariable(SharedVariable):
    """The shared random state of one random variable (Theano's RandomStateSharedVariable)."""

    def __init__(self, value, name=None):
        super().__init__(RANDOM_STATE_TYPE, state_array(value), name=name, strict=False)
        self.tag.is_rng = True

    def get_value(self, borrow=False, return_internal_type=False):
        v = super().get_value(borrow=borrow, return_internal_type=return_internal_type)
        return v.view(RNGState) if isinstance(v, np.ndarray) else v

    def set_value(self, value, borrow=False):
        arr = state_array(value)
        if borrow and isinstance(value, np.ndarray) and value.dtype == np.uint64 \
                and value.shape == (STATE_LEN,):
            arr = value.view(np.ndarray)        # keep the caller's storage (Theano's borrow)
        super().set_value(arr, borrow=True)

    def __repr__(self):
        return self.name if self.name is not None else "<RandomStateType>"

    __str__ = __repr__

    def clone(self):
        cp = super().clone()
        cp.__class__ = RandomStateInput       # prints as <RandomStateType> in compiled graphs
        return cp


class RandomStreams:
    """Symbolic stand-in for ``numpy.random``: each method returns a new random variable.

    ``seed`` seeds a generator that gives every new random variable its own seed
    (Theano's meta seed); ``state_updates`` lists (state, new state) pairs, one per
    variable; ``updates()`` returns them for ``function(updates=...)``.
    """

    def __init__(self, seed=None):
        self.state_updates = []
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)

    # ---------------------------------------------------------------- seeding
    def seed(self, seed=None):
        """Reseed every random variable made so far, in order, each from ``randint(2**30)`` of
        a fresh ``RandomState(seed)`` (Theano's order; later variables still take their seeds
        from the seed generator made by the constructor, as in Theano)."""
        if seed is None:
            seed = self.default_instance_seed
        seedgen = np.random.RandomState(seed)
        for old_r, _new_r in self.state_updates:
            old_r.set_value(state_from_seed(int(seedgen.randint(2 ** 30))), borrow=True)

    def _next_seed(self):
        return int(self.gen_seedgen.randint(2 ** 30))

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
        check_ndim(size, ndim, "uniform")
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        dtype = default_float_dtype([low, high]) if dtype is None else dtype
        return self.gen("uniform", size, [low, high], dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, truncate=False, **kwargs):
        """Normal with mean ``avg`` and standard deviation ``std`` (``truncate``: within 2 std)."""
        check_ndim(size, ndim, "normal")
        avg, std = as_tensor_variable(avg), as_tensor_variable(std)
        dtype = default_float_dtype([avg, std]) if dtype is None else dtype
        return self.gen("truncated_normal" if truncate else "normal", size, [avg, std], dtype)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None, **kwargs):
        """Number of successes of ``n`` trials of probability ``p`` (``n=1``: Bernoulli)."""
        check_ndim(size, ndim, "binomial")
        if prob is not None:
            p = prob
        return self.gen("binomial", size, [as_tensor_variable(n), as_tensor_variable(p)], dtype)

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in [low, high] (high included, as Theano's)."""
        check_ndim(size, ndim, "random_integers")
        bounds = [as_tensor_variable(low), as_tensor_variable(high)]
        return self.gen("random_integers", size, bounds, dtype)

    def integers(self, low, high=None, size=None, dtype="int64"):
        """Integers in [low, high) (numpy ``Generator.integers``; ``high=None``: [0, low))."""
        if high is None:
            low, high = 0, low
        bounds = [as_tensor_variable(low), as_tensor_variable(high)]
        return self.gen("integers", size, bounds, dtype)

    def poisson(self, size=None, lam=1.0, ndim=None, dtype="int64"):
        check_ndim(size, ndim, "poisson")
        return self.gen("poisson", size, [as_tensor_variable(lam)], dtype)

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Samples of ``a`` (an int n: range(n); or a vector), with probabilities ``p``."""
        check_ndim(size, ndim, "choice")
        a = as_tensor_variable(a)
        if a.ndim > 1:
            raise ValueError(f"choice: a must be an int or a vector, got {a.type}")
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
