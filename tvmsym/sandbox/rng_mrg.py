"""``MRG_RandomStreams``: Theano's MRG31k3p random streams, the same numbers as Theano 1.0.

    srng = MRG_RandomStreams(seed=234)
    u = srng.uniform((2, 3))              # float in (0, 1), floatX
    mask = srng.binomial((2, 3), p=0.8)   # int64 0/1
    f = tvmsym.function([], [u, mask])    # each call draws new numbers, as Theano's

With the same seed and the same sequence of calls, the draws equal Theano's: each
``uniform`` takes ``nstreams`` sub-streams (Theano's guess: prod(size) // 6 capped at
60 * 256, or 60 * 256 for a symbolic size) spaced 2**72 draws apart from the streams'
current state, which then jumps 2**134 draws ahead for the next call; element ``i`` is
the ``i // nstreams``-th draw of stream ``i % nstreams``.  ``normal`` is Theano's
Box-Muller over an even number of uniforms, ``binomial`` (n=1) compares a uniform with
``p``, ``multinomial`` and ``choice`` (without replacement) walk the cumulative
probabilities as Theano's kernels.  The draws run as a TVM kernel on the function's
device (``symbolic/ops/mrg.py``, ``lowering/rules/mrg.py``); each stream state is a
shared int32 matrix whose ``default_update`` is the state after the draw.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..config import config
from ..symbolic.basic import as_tensor_variable, cast, constant
from ..symbolic.graph import Variable
from ..symbolic.ops import mrg as _mrg
from ..symbolic.ops.random import default_float_dtype

__all__ = ["MRG_RandomStreams", "guess_n_streams"]

guess_n_streams = _mrg.guess_n_streams


def _shared(value):
    from ..runtime.shared import shared
    return shared(value)


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


class MRG_RandomStreams:
    """Symbolic random streams with Theano's MRG31k3p generator (see the module doc).

    ``seed``: one int in [1, 2147462579) (copied to the six state words) or six ints.
    """

    def __init__(self, seed=12345):
        self.state_updates = []     # (state, new state, size, nstreams), as Theano's
        self.default_instance_seed = seed
        self.set_rstate(seed)

    def updates(self):
        return list(self.state_updates)

    # ---------------------------------------------------------------- the generator state
    def set_rstate(self, seed):
        self.rstate = _mrg.check_seed(seed)

    def seed(self, seed=None):
        """Re-seed: the generator from ``seed`` and every stream made so far, in order."""
        if seed is None:
            seed = self.default_instance_seed
        self.set_rstate(seed)
        for old_r, new_r, size, nstreams in self.state_updates:
            if nstreams is None:
                nstreams = self.n_streams(size)
            old_r.set_value(self.get_substream_rstates(nstreams, new_r.owner.outputs[1].dtype),
                            borrow=True)

    def inc_rstate(self):
        """Jump the generator 2**134 draws ahead (the start of the next call's streams)."""
        self.rstate = _mrg.jump_2p134(self.rstate)

    def get_substream_rstates(self, n_streams, dtype=None, inc_rstate=True):
        """(n_streams, 6) int32 stream states spaced 2**72 draws apart, from ``rstate``."""
        n_streams = int(n_streams)
        if not 0 < n_streams < 2 ** 72:
            raise ValueError(f"MRG_RandomStreams: nstreams must be positive, got {n_streams}")
        rval = _mrg.substream_states(self.rstate, n_streams)
        if inc_rstate:
            self.inc_rstate()
        return rval

    def n_streams(self, size):
        return guess_n_streams(size)

    def pretty_return(self, node_rstate, new_rstate, sample, size, nstreams):
        sample.rstate = node_rstate
        sample.update = (node_rstate, new_rstate)
        self.state_updates.append((node_rstate, new_rstate, size, nstreams))
        node_rstate.default_update = new_rstate
        return sample

    # ---------------------------------------------------------------- distributions
    def uniform(self, size, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None, **kwargs):
        """Uniform in (low, high): ``u * (high - low) + low`` with ``u`` MRG31k3p's draw in (0, 1)."""
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        if dtype is None:
            dtype = default_float_dtype([low, high])
        low, high = cast(low, dtype), cast(high, dtype)
        if isinstance(size, list):
            size = tuple(size)
        elif _is_int(size):
            size = (int(size),)
        if isinstance(size, tuple):
            if not all(_is_int(s) or isinstance(s, Variable) for s in size):
                raise TypeError(f"MRG uniform: size must be a tuple of ints or a Theano variable, "
                                f"got {size!r}")
            if any(_is_int(s) and s <= 0 for s in size):
                raise ValueError(f"MRG uniform: the specified size contains a dimension with "
                                 f"value <= 0: {size}")
        elif not (isinstance(size, Variable) and size.ndim == 1):
            raise TypeError(f"MRG uniform: size must be a tuple of int or a Theano Variable with "
                            f"1 dimension, got {size!r}")
        kwargs.pop("target", None)
        if kwargs:
            raise TypeError(f"uniform() got unexpected keyword arguments {sorted(kwargs)}")
        orig_nstreams = nstreams
        if nstreams is None:
            nstreams = self.n_streams(size)
        node_rstate = _shared(self.get_substream_rstates(nstreams, dtype))
        node_rstate.tag.is_rng = True
        new_rstate, u = _mrg.mrg_uniform(node_rstate, size, dtype, ndim)
        u = self.pretty_return(node_rstate, new_rstate, u, size=size, nstreams=orig_nstreams)
        r = u * (high - low) + low
        if r.broadcastable != u.broadcastable:
            raise NotImplementedError("Increase the size to match the broadcasting pattern of "
                                      "`low` and `high` arguments")
        r.rstate, r.update = u.rstate, u.update
        return r

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None, **kwargs):
        """0/1 draws with probability ``p`` (``uniform < p``); only ``n=1``, as Theano."""
        if isinstance(n, Variable) or n != 1:
            raise NotImplementedError("MRG_RandomStreams.binomial with n > 1")
        p = as_tensor_variable(p)
        x = self.uniform(size=size, nstreams=nstreams, **kwargs)
        return cast(x < p, dtype)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64", nstreams=None,
                    **kwargs):
        """Counts of ``n`` draws per row of ``pvals`` (a matrix), as Theano's."""
        if pvals is None:
            raise TypeError("You have to specify pvals")
        pvals = as_tensor_variable(pvals)
        if size is not None:
            raise ValueError("Provided a size argument to MRG_RandomStreams.multinomial, which "
                             "does not use the size argument.")
        if ndim is not None:
            raise ValueError("Provided an ndim argument to MRG_RandomStreams.multinomial, which "
                             "does not use the ndim argument.")
        if pvals.ndim != 2:
            raise NotImplementedError("MRG_RandomStreams.multinomial only implemented for "
                                      "pvals.ndim = 2")
        size = pvals[:, 0].shape * n
        unis = self.uniform(size=size, ndim=1, nstreams=nstreams, **kwargs)
        return _mrg.MultinomialFromUniform(dtype)(pvals, unis, as_tensor_variable(n))

    def choice(self, size=1, a=None, replace=True, p=None, ndim=None, dtype="int64",
               nstreams=None, **kwargs):
        """``size`` indices per row of ``p`` without replacement (Theano: replace=False only)."""
        if replace:
            raise NotImplementedError("MRG_RandomStreams.choice only works without replacement "
                                      "for now.")
        if a is not None:
            raise TypeError("For now, a has to be None in MRG_RandomStreams.choice. Sampled "
                            "values are between 0 and p.shape[1]-1")
        if p is None:
            raise TypeError("For now, p has to be specified in MRG_RandomStreams.choice.")
        p = as_tensor_variable(p)
        if ndim is not None:
            raise ValueError("ndim argument to MRG_RandomStreams.choice is not used.")
        if p.ndim != 2:
            raise NotImplementedError("MRG_RandomStreams.choice is only implemented for "
                                      "p.ndim = 2")
        shape = p[:, 0].shape * size
        unis = self.uniform(size=shape, ndim=1, nstreams=nstreams, **kwargs)
        return _mrg.ChoiceFromUniform(dtype)(p, unis, as_tensor_variable(size))

    def multinomial_wo_replacement(self, size=None, n=1, pvals=None, ndim=None, dtype="int64",
                                   nstreams=None, **kwargs):
        warnings.warn("MRG_RandomStreams.multinomial_wo_replacement() is deprecated; use "
                      "MRG_RandomStreams.choice()", DeprecationWarning, stacklevel=2)
        if size is not None:
            raise ValueError("multinomial_wo_replacement: size must be None")
        return self.choice(size=n, a=None, replace=False, p=pvals, dtype=dtype,
                           nstreams=nstreams, ndim=ndim, **kwargs)

    def normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False, **kwargs):
        """Box-Muller over an even number of MRG uniforms, as Theano's (``truncate``: within
        2 std, the rejected ones redrawn from uniforms in (e**-2, 1))."""
        from ..symbolic.basic import cos, log, sin, sqrt
        from ..symbolic.ops.reduce import prod
        from ..symbolic.ops.shape import join, reshape
        size = _check_size(size)
        avg, std = as_tensor_variable(avg), as_tensor_variable(std)
        if dtype is None:
            dtype = default_float_dtype([avg, std])
        avg, std = cast(avg, dtype), cast(std, dtype)
        n_odd = prod(size, dtype="int64")
        n_even = n_odd + n_odd % 2
        uniform = self.uniform((n_even,), low=0.0, high=1.0, ndim=1, dtype=dtype,
                               nstreams=nstreams, **kwargs)
        u1 = uniform[:n_even // 2]
        u2 = uniform[n_even // 2:]
        r = sqrt(-2.0 * log(u1))
        theta = constant(np.array(2.0 * np.pi, dtype=dtype)) * u2
        cos_theta, sin_theta = cos(theta), sin(theta)
        z0, z1 = r * cos_theta, r * sin_theta
        if truncate:
            from ..symbolic.ops.nonzero import nonzero
            to_fix0 = (z0 < -2.0) | (z0 > 2.0)
            to_fix1 = (z1 < -2.0) | (z1 > 2.0)
            z0_valid = z0[nonzero(~to_fix0)]
            z1_valid = z1[nonzero(~to_fix1)]
            fix0 = nonzero(to_fix0)[0]
            fix1 = nonzero(to_fix1)[0]
            n_fix = fix0.shape[0] + fix1.shape[0]
            lower = constant(np.array(1.0 / np.e ** 2, dtype=dtype))
            u_fix = self.uniform((n_fix,), low=lower, high=1.0, ndim=1, dtype=dtype,
                                 nstreams=nstreams, **kwargs)
            r_fix = sqrt(-2.0 * log(u_fix))
            z0_fixed = r_fix[:fix0.shape[0]] * cos_theta[fix0]
            z1_fixed = r_fix[fix0.shape[0]:] * sin_theta[fix1]
            norm = join(0, z0_valid, z0_fixed, z1_valid, z1_fixed)
        else:
            norm = join(0, z0, z1)
        samples = reshape(norm[:n_odd], size, ndim=ndim)
        samples = samples * std
        samples = samples + avg
        return samples

    def truncated_normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
                         **kwargs):
        """Normal truncated at 2 standard deviations, rescaled so its std is ``std``."""
        std = as_tensor_variable(std) / constant(0.87962566103423978)
        return self.normal(size=size, avg=avg, std=std, truncate=True, ndim=ndim, dtype=dtype,
                           nstreams=nstreams, **kwargs)


def _check_size(size):
    """Theano's size canonicalisation for ``normal``: an int vector variable."""
    from ..symbolic.ops.shape import as_shape_vector, stack
    if isinstance(size, Variable):
        if size.ndim == 1:
            return size
        if size.ndim == 0:
            return stack([size])
        raise ValueError(f"a size variable must have 1 dimension, got {size.type}")
    if _is_int(size):
        size = (size,)
    if not isinstance(size, (tuple, list)):
        raise ValueError(f"Size must be a int, tuple, list or Theano variable, got {size!r}")
    for s in size:
        if isinstance(s, Variable):
            if s.ndim != 0:
                raise ValueError(f"Non-scalar Theano variable in size {size!r}")
        elif _is_int(s):
            if s <= 0:
                raise ValueError(f"Non-positive dimensions not allowed in size {size!r}")
        else:
            raise ValueError(f"Only Theano variables and integers are allowed in a size-tuple, "
                             f"got {s!r}")
    return as_shape_vector(tuple(size), "MRG normal: size")


_ = config  # floatX is read through default_float_dtype
