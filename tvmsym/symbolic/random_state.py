"""Random states as values: ``RNGState`` (an MT19937 state with numpy RandomState's
methods), the conversions to the uint64 vector a random state is stored as, and the
variable a random state becomes inside a compiled graph.  The draws are
``ops/random.py``'s ``RandomFunction``; ``runtime/random_streams.py`` holds the shared
states and ``RandomStreams`` (Theano's ``tensor.shared_randomstreams``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .graph import TensorVariable
from .ops.random import STATE_LEN, randomstate_tuple, state_from_randomstate, state_from_seed
from .type import TensorType

__all__ = ["RNGState", "RANDOM_STATE_TYPE", "RandomStateInput", "state_array", "check_ndim"]

RANDOM_STATE_TYPE = TensorType("uint64", (False,))


class RNGState(np.ndarray):
    """A random state value (uint64 vector of an MT19937 state) with numpy RandomState's
    methods; draws made through it advance it in place."""

    def seed(self, seed=None):
        """Reset this state to that of ``numpy.random.RandomState(seed)`` (in place)."""
        self[...] = state_from_seed(seed)

    def get_state(self, legacy=True):
        """numpy's ``RandomState.get_state()`` tuple (a copy)."""
        return randomstate_tuple(self)

    def set_state(self, state):
        """Set from ``get_state()``'s tuple, a RandomState or another state (in place)."""
        self[...] = state_array(state)

    def randomstate(self):
        """A numpy RandomState positioned at this state (its draws are the graph's next)."""
        rs = np.random.RandomState()
        rs.set_state(randomstate_tuple(self))
        return rs

    def __getattr__(self, name):
        # RandomState's draws (randint, uniform, normal, ...): drawn here, state written back
        if name.startswith("_") or not hasattr(np.random.RandomState, name):
            raise AttributeError(f"'RNGState' object has no attribute {name!r}")

        def method(*args, **kwargs):
            rs = self.randomstate()
            out = getattr(rs, name)(*args, **kwargs)
            self[...] = state_from_randomstate(rs)
            return out
        return method

    def __repr__(self):
        return f"RNGState(MT19937, pos={int(np.asarray(self)[624])})"


def state_array(value):
    """uint64[STATE_LEN] from a state array, a RandomState or its ``get_state()`` tuple."""
    if isinstance(value, np.random.RandomState):
        return state_from_randomstate(value)
    if isinstance(value, tuple):
        return state_from_randomstate(value)
    if isinstance(value, (np.random.Generator, np.random.BitGenerator, dict)):
        raise TypeError("a tvmsym random state is a numpy RandomState (MT19937) state, as "
                        "Theano's; pass numpy.random.RandomState(n), not a Generator")
    arr = np.asarray(value)
    if arr.shape != (STATE_LEN,) or arr.dtype.kind not in "ui":
        raise TypeError(f"a random state is a numpy RandomState or a uint64 vector of "
                        f"{STATE_LEN} words (MT19937), got {arr.dtype} {arr.shape}")
    return np.array(arr, dtype="uint64")


class RandomStateInput(TensorVariable):
    """A random state inside a FunctionGraph (the clone of a RandomStateSharedVariable)."""

    def __repr__(self):
        return self.name if self.name is not None else "<RandomStateType>"

    __str__ = __repr__


def check_ndim(size, ndim, what):
    """Theano's ``ndim`` argument: only checked against a tuple ``size``."""
    if ndim is None or size is None:
        return
    n = 1 if isinstance(size, numbers.Integral) else len(size) if isinstance(size, (tuple, list)) \
        else None
    if n is not None and n != ndim:
        raise ValueError(f"{what}: ndim={ndim} does not match size={size!r} ({n} dimensions)")
