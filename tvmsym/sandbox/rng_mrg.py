"""``MRG_RandomStreams``: Theano's GPU-friendly random streams, here the same as ``RandomStreams``.

Theano's MRG31k3p generator existed so that draws could run on the GPU; tvmsym draws on
the host with numpy's PCG64 on every target (``symbolic/ops/random.py``), so this is
``RandomStreams`` under Theano's other name, with MRG's default seed (12345) and its
extra keywords (``nstreams``) accepted and ignored.  ``rstate`` is the seed generator's
state, so Theano's "copy random state between graphs" recipe works.
"""
from ..tensor.shared_randomstreams import RandomStreams

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStreams):
    """``RandomStreams`` with MRG_RandomStreams' default seed."""

    def __init__(self, seed=12345):
        super().__init__(seed)
