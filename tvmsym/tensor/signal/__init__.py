"""``theano.tensor.signal``: pooling (``signal.pool``)."""
from . import pool  # noqa: F401
