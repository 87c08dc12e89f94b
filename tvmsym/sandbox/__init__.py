"""Theano's ``sandbox`` namespace: ``tvmsym.sandbox.rng_mrg.MRG_RandomStreams``."""
