"""``theano.tensor.elemwise``: ``Elemwise`` (a scalar op applied elementwise) and
``DimShuffle``."""
from ..symbolic.elemwise import DimShuffle, Elemwise  # noqa: F401
