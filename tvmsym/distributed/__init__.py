"""Data-parallel training over MPI: ``from tvmsym import distributed as dist``.

Run the same script on every rank with ``mpiexec -n 4 python train.py``::

    grads = [dist.allreduce(g, op="mean") for g in T.grad(loss, params)]   # graph ops
    train = theano.function([x, y], loss, updates=sgd(params, grads))
    dist.broadcast_shared(params, root=0)          # the same initial weights everywhere
    for xb, yb in dist.shard(batches):             # each rank its rows of every batch
        train(xb, yb)

``allreduce`` (sum/mean/max/min), ``broadcast`` and ``allgather`` build graph ops (with
gradients; several small allreduces of one function travel as one message, the
``collectives`` rewrite).  Without an MPI launcher the process is one rank: ``size()`` is
1 and every collective is the identity, so the same script runs on a laptop.

Failure: an uncaught exception on one rank ends the job (the others raise
:class:`RankFailedError` naming it, then ``MPI_Abort``); shapes/dtypes that differ across
ranks raise :class:`DistributedError`; ``config.distributed_timeout`` bounds every wait.
"""
from __future__ import annotations

import os

import numpy as np

from ..symbolic import basic as _tb
from ..symbolic.ops import distributed as _ops
from ..symbolic.ops.distributed import LAUNCHER_ENV, SingleProcess

__all__ = ["rank", "size", "is_distributed", "backend", "allreduce", "broadcast", "allgather",
           "shard", "shard_slice", "broadcast_shared", "barrier", "stats", "reset_stats",
           "verify_grad", "DistributedError", "RankFailedError", "DistributedTimeout"]


def _launched():
    return os.environ.get("TVMSYM_MPI", "") == "1" or any(k in os.environ for k in LAUNCHER_ENV)


def _make_backend():
    if not _launched() or os.environ.get("TVMSYM_MPI", "") == "0":
        return SingleProcess()
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("this process was started by an MPI launcher, but mpi4py is not "
                          "installed: pip install 'tvmsym[mpi]' (mpi4py and the mpich wheel)") from e
    if MPI.COMM_WORLD.Get_size() == 1:
        return SingleProcess()
    from .mpi import MPIBackend, install_excepthook
    b = MPIBackend(MPI)
    install_excepthook(b)
    return b


_backend = _make_backend()
_ops.set_backend(_backend)
if isinstance(_backend, SingleProcess):     # device=cuda questions go to device.py
    from .device import places_on_device as _places
    _backend.takes_device_buffers = _places

from .mpi import DistributedError, DistributedTimeout, RankFailedError, Stats  # noqa: E402

if not hasattr(_backend, "stats"):
    _backend.stats = Stats()


def backend():
    """The communication backend in use (``SingleProcess`` or ``MPIBackend``)."""
    return _backend


def rank():
    """This process's rank (0 without a launcher)."""
    return _backend.rank


def size():
    """The number of ranks of the job (1 without a launcher)."""
    return _backend.size


def is_distributed():
    return _backend.size > 1


# ------------------------------------------------------------------------------ graph ops
def allreduce(x, op="sum"):
    """``AllReduce{op}(x)``: the elementwise sum/mean/max/min of ``x`` over the ranks."""
    return _ops.AllReduce(op)(x)


def broadcast(x, root=0):
    """``Broadcast{root}(x)``: ``root``'s value of ``x`` on every rank."""
    if not 0 <= int(root) < size():
        raise ValueError(f"broadcast: root {root} is not a rank of this job (size {size()})")
    return _ops.Broadcast(root)(x)


def allgather(x, even=True):
    """``AllGather(x)``: the ranks' ``x`` concatenated along axis 0 in rank order.
    ``even=False`` when the ranks' row counts may differ (uneven shards)."""
    return _ops.AllGather(even)(x)


# ------------------------------------------------------------------------------ data
def shard_slice(n, rank_=None, size_=None):
    """The rows ``[start, stop)`` of ``n`` that a rank owns (numpy.array_split's split:
    the first ``n % size`` ranks get one row more)."""
    r = rank() if rank_ is None else rank_
    s = size() if size_ is None else size_
    q, m = divmod(int(n), s)
    start = r * q + min(r, m)
    return start, start + q + (1 if r < m else 0)


def _shard_one(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    start, stop = shard_slice(a.shape[0])
    return a[start:stop]


def shard(data):
    """This rank's rows of ``data``.

    An array -> its rows; a tuple of arrays (one batch: inputs, targets) -> a tuple of
    their rows; any other iterable (a list or generator of batches) -> a generator of each
    item's rows.  The rows
    of all ranks, concatenated in rank order, are the whole batch (sizes differ by at
    most one row when the batch does not divide evenly).
    """
    if isinstance(data, np.ndarray):
        return _shard_one(data)
    if isinstance(data, tuple) and all(isinstance(a, np.ndarray) for a in data):
        return tuple(_shard_one(a) for a in data)
    return (shard(item) for item in data)


def broadcast_shared(shared_variables, root=0):
    """Give every rank ``root``'s values of these shared variables (initial weights)."""
    if isinstance(shared_variables, (list, tuple)):
        svs = list(shared_variables)
    else:
        svs = [shared_variables]
    if size() == 1:
        return
    for sv in svs:
        value = np.asarray(sv.get_value(borrow=False))
        sv.set_value(_backend.broadcast(value, root), borrow=True)


def barrier():
    """Wait until every rank gets here (bounded by ``config.distributed_timeout``)."""
    if size() > 1:
        _backend.barrier()


def stats():
    """This rank's communication counters since the last reset: payload ``messages``,
    ``bytes`` it contributed, ``meta_messages`` (shape checks), ``seconds`` inside MPI."""
    return _backend.stats.as_dict()


def reset_stats():
    _backend.stats.reset()


# ------------------------------------------------------------------------------ checking
def verify_grad(fun, pt, n_tests=3, seed=42, eps=None, abs_tol=None, rel_tol=None):
    """``theano.gradient.verify_grad`` across ranks.

    ``fun`` maps this rank's inputs ``pt`` (arrays; their values may differ per rank) to
    one output that may involve collectives.  The cost checked is the sum over ranks of
    ``sum(fun(pt) * proj)`` (``proj`` random, the same on every rank); its gradient with
    respect to every rank's inputs, computed through the collectives' grad rules, must
    match central differences along random directions (each rank draws its own part of
    each direction; every rank moves at once).  Every rank must call it together.
    """
    from .. import function
    from ..gradient import grad
    from ..symbolic.type import TensorType
    pt = [np.array(p) for p in pt]
    dtype = max((p.dtype for p in pt), key=lambda d: d.itemsize)
    if dtype.kind != "f":
        raise TypeError("verify_grad: only float inputs can be checked")
    eps = eps if eps is not None else (1e-7 if dtype == np.float64 else 3e-3)
    abs_tol = abs_tol if abs_tol is not None else (1e-4 if dtype == np.float64 else 1e-2)
    rel_tol = rel_tol if rel_tol is not None else (1e-4 if dtype == np.float64 else 1e-2)
    xs = [TensorType(p.dtype.name, (False,) * p.ndim)(f"input {k}") for k, p in enumerate(pt)]
    out = _tb.as_tensor_variable(fun(*xs))
    shape = np.shape(function(xs, out, name="dist.verify_grad probe")(*pt))
    proj = np.random.default_rng(seed).standard_normal(shape).astype(out.dtype)
    cost = (out * _tb.constant(proj)).sum()
    f = function(xs, [cost] + grad(cost, xs), name="dist.verify_grad")
    rng = np.random.default_rng([seed, rank()])      # this rank's part of each direction
    total = lambda v: float(_backend.allreduce(np.asarray(v, np.float64), "sum"))  # noqa: E731
    res = f(*pt)
    gs = res[1:]
    for t in range(n_tests):
        dirs = [rng.standard_normal(p.shape).astype(p.dtype) for p in pt]
        plus = f(*[p + eps * d for p, d in zip(pt, dirs)])[0]
        minus = f(*[p - eps * d for p, d in zip(pt, dirs)])[0]
        numeric = total((np.float64(plus) - np.float64(minus)) / (2 * eps))
        analytic = total(sum(float((np.asarray(g, np.float64) * d).sum()) for g, d in zip(gs, dirs)))
        err = abs(numeric - analytic)
        if err > abs_tol and err > rel_tol * max(abs(numeric), abs(analytic)):
            raise AssertionError(f"dist.verify_grad (rank {rank()} of {size()}), test {t}: the "
                                 f"gradient along a random direction is {analytic!r}, finite "
                                 f"differences give {numeric!r} (abs err {err:.3g})")
    return True
