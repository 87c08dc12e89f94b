"""``RandomStreams``: random variables in graphs, as Theano's ``tensor.shared_randomstreams``.

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = tvmsym.function([], rv_u)        # new numbers on every call
    g = tvmsym.function([], rv_u, no_default_updates=True)    # the same numbers every call

The same numbers as Theano 1.0's ``RandomStreams(seed)``: a seed generator
``numpy.random.RandomState(seed)`` draws ``randint(2**30)`` for each new random variable,
in the order they are made, and that variable draws from ``RandomState(that seed)`` with
the RandomState method Theano's raw_random uses (``symbolic/ops/random.py``); ``srng.seed(n)``
reseeds every variable made so far from a fresh ``RandomState(n)`` in the same order.
Every random variable owns its state, a shared variable (``rv.rng``) whose
``default_update`` is the state after the draw, so a function using ``rv`` advances it.
A state is an MT19937 state stored in a uint64 vector: ``rv.rng.get_value()`` views it as
an ``RNGState``, which has numpy RandomState's methods (``seed(n)``, ``get_state()``,
``set_state(state)``, and the draws: ``randint``, ``uniform``, ... advance it in place);
``set_value`` also takes a ``numpy.random.RandomState``.  Draws run on the host, as in
Theano; the computations that use them are compiled as usual.

Theano's import path: the code is ``runtime/random_streams.py`` (the streams and their
shared states) and ``symbolic/random_state.py`` (``RNGState``, the state conversions).
"""
from ..runtime.random_streams import (  # noqa: F401
    RandomStateSharedVariable,
    RandomStreams,
    RNGState,
)
from ..symbolic.random_state import (
    RANDOM_STATE_TYPE,  # noqa: F401
    RandomStateInput as _RandomStateInput,  # noqa: F401
)

__all__ = ["RandomStreams", "RandomStateSharedVariable", "RNGState"]
