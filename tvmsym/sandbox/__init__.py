"""Theano's ``sandbox`` namespace: ``tvmsym.sandbox.rng_mrg.MRG_RandomStreams``."""
from . import rng_mrg  # noqa: E402,F401
