"""Collective ops of data-parallel programs: ``AllReduce{op}``, ``Broadcast{root}``,
``AllGather``, and ``ReduceScatter`` (the gradient of an allgather).

They are graph ops like any other (debugprint shows them, ``grad`` goes through them,
the rest of the graph stays fused around them) and run as host steps between kernels.
Their ``perform`` talks to the *communication backend* installed here by
``tvmsym.distributed`` (MPI through mpi4py when the process was started by ``mpiexec``);
this layer knows only the small backend protocol below, never MPI itself.

Without a launcher the default backend is a single process: size 1, every collective is
the identity (a copy), point-to-point messages to oneself go through a local mailbox.

Ops with ``has_side_effects = True`` (these and the point-to-point ops of ``p2p.py``)
are never merged, constant-folded or evaluated at build time, and ``side_effect_order``
gives the executor one deterministic order for them (the same on every rank for the same
graph): non-blocking starts as early as possible, waits as late as possible.
"""
from __future__ import annotations

import heapq
import os

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op
from ..type import TensorType

__all__ = ["AllReduce", "Broadcast", "AllGather", "ReduceScatter", "REDUCE_OPS",
           "get_backend", "set_backend", "SingleProcess", "side_effect_order", "has_side_effects"]

REDUCE_OPS = ("sum", "mean", "max", "min")

# environment variables that MPI launchers set (MPICH/hydra, Open MPI, PMIx)
LAUNCHER_ENV = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


# ------------------------------------------------------------------------------ backend
class SingleProcess:
    """The backend of a process not started by an MPI launcher: one rank."""

    name = "single process"
    rank, size = 0, 1

    def __init__(self):
        self._mailbox = {}        # (dest, tag) -> [arrays]: messages a rank sends itself
        self._handles = {}
        self._next = 0

    def allreduce(self, x, op):
        return np.array(x, copy=True)

    def broadcast(self, x, root):
        _check_root(root, 1)
        return np.array(x, copy=True)

    def allgather(self, x, even=True):
        return np.array(x, copy=True)

    def reduce_scatter(self, g, n_local):
        return np.array(g, copy=True)

    # point to point: a process can message itself (rank 0 to rank 0)
    def _handle(self, entry):
        self._next += 1
        self._handles[self._next] = entry
        return self._next

    def isend(self, x, dest, tag):
        _check_peer(dest, 1, "send to")
        self._mailbox.setdefault(tag, []).append(np.array(x, copy=True))
        return self._handle(("send", None))

    def irecv(self, shape, dtype, source, tag):
        _check_peer(source, 1, "receive from")
        return self._handle(("recv", (tuple(shape), np.dtype(dtype), tag)))

    def takes_device_buffers(self, op):
        """device=cuda: may ``op`` run on device buffers?  (``tvmsym.distributed`` answers.)"""
        return False

    def run_on_device(self, node, inputs, outputs):
        """One rank: the collective's value through host memory, into the device tensors."""
        (x,) = inputs
        host = node.op.perform(node, [x.numpy() if hasattr(x, "numpy") else np.asarray(x)])[0]
        outputs[0].copyfrom(np.asarray(host, order="C"))

    def wait(self, handle):
        kind, info = _pop_handle(self._handles, handle)
        if kind == "send":
            return None
        shape, dtype, tag = info
        box = self._mailbox.get(tag)
        if not box:
            raise RuntimeError(f"recv (tag {tag}) waits for a message no one sent: a single "
                               "process only receives what it sent itself, and it has sent none "
                               "with this tag (would block forever)")
        data = box.pop(0)
        return _check_received(data, shape, dtype, 0, tag)


def _pop_handle(table, handle):
    entry = table.pop(int(handle), None)
    if entry is None:
        raise RuntimeError(f"wait on MPI request {int(handle)}, which is unknown or already "
                           "completed (each isend/irecv result is waited on once)")
    return entry


def _check_root(root, size):
    if not 0 <= root < size:
        raise ValueError(f"broadcast: root {root} is not a rank of this job (size {size})")


def _check_peer(peer, size, what):
    if not 0 <= peer < size:
        raise ValueError(f"cannot {what} rank {peer}: the job has {size} rank(s)")


def _check_received(data, shape, dtype, source, tag):
    data = np.asarray(data)
    if data.shape != tuple(shape) or data.dtype != dtype:
        raise ValueError(f"recv from rank {source} (tag {tag}) expected {dtype} of shape "
                         f"{tuple(shape)}, the message holds {data.dtype} of shape {data.shape}")
    return data


_backend = None


def set_backend(backend):
    """Install the communication backend (``tvmsym.distributed`` does, on import)."""
    global _backend
    _backend = backend


def get_backend():
    """The installed backend; a single process when none is and no launcher started us."""
    global _backend
    if _backend is None:
        if any(k in os.environ for k in LAUNCHER_ENV):
            raise RuntimeError("this process was started by an MPI launcher but no communication "
                               "backend is installed: import tvmsym.distributed before calling a "
                               "function with collective ops")
        _backend = SingleProcess()
    return _backend


# ------------------------------------------------------------------------------ ops
class _SideEffectOp(Op):
    """An op that communicates: never folded, merged or run at build time (lower.py's
    build-time values skip ops with ``has_side_effects``)."""

    has_side_effects = True
    schedule_priority = 0      # side_effect_order: -1 start early, 1 wait late
    host_only = "communication: perform() calls the backend (MPI) between kernels"

    def do_constant_folding(self, node):
        return False

    def on_device(self):
        """device=cuda: run on the GPU's buffers (CUDA-aware MPI) instead of host copies?"""
        return bool(get_backend().takes_device_buffers(self))

    def perform_on_device(self, node, inputs, outputs):
        """The device variant's step: device tensors in, device tensors (given) out."""
        get_backend().run_on_device(node, inputs, outputs)


def has_side_effects(node):
    return getattr(node.op, "has_side_effects", False)


class AllReduce(_SideEffectOp):
    """Every rank gets the elementwise ``op`` (sum, mean, max, min) of all ranks' ``x``.

    All ranks must pass the same shape and dtype (checked before the data moves unless
    ``config.distributed_check_meta`` is off).  ``max``/``min`` follow numpy (NaN wins);
    ``mean`` of an integer tensor is refused (its dtype could not hold it).
    """

    __props__ = ("op",)

    def __init__(self, op="sum"):
        if op not in REDUCE_OPS:
            raise ValueError(f"allreduce: op must be one of {REDUCE_OPS}, got {op!r}")
        self.op = op

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        if self.op == "mean" and x.dtype[0] not in "fc":
            raise TypeError(f"allreduce(op='mean') of a {x.dtype} tensor: the mean would not fit "
                            "its dtype; use op='sum' (and divide) or cast to a float first")
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        return [get_backend().allreduce(inputs[0], self.op)]


class Broadcast(_SideEffectOp):
    """Every rank gets ``root``'s ``x`` (all ranks pass the same shape and dtype)."""

    __props__ = ("root",)

    def __init__(self, root=0):
        self.root = int(root)
        if self.root < 0:
            raise ValueError(f"broadcast: root must be a rank >= 0, got {root}")

    def __str__(self):
        return f"Broadcast{{root={self.root}}}"

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        return [get_backend().broadcast(inputs[0], self.root)]


class AllGather(_SideEffectOp):
    """The ranks' ``x`` concatenated along axis 0, in rank order, on every rank.

    ``even=True``: every rank passes the same shape, so the result has ``size * n`` rows
    and a static shape (the graph after it stays compiled).  ``even=False``: the row
    counts may differ (uneven shards); the result's shape is known only when it arrives,
    so what reads it runs sized at call time.
    """

    __props__ = ("even",)

    def __init__(self, even=True):
        self.even = bool(even)

    def __str__(self):
        return "AllGather" if self.even else "AllGather{uneven}"

    def make_node(self, x):
        x = tb.as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError("allgather: a 0-d tensor has no axis 0 to concatenate along; "
                             "reshape it to (1,) first")
        bc = (False,) + x.broadcastable[1:]
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        if not self.even:
            return [None]
        s = tuple(shapes[0])
        return [(s[0] * get_backend().size,) + s[1:]]

    def perform(self, node, inputs):
        return [get_backend().allgather(inputs[0], self.even)]


class ReduceScatter(_SideEffectOp):
    """``ReduceScatter(g, x)``: the sum over ranks of ``g`` (shaped as an allgather of ``x``),
    each rank keeping its own rows (as many as ``x`` has): the gradient of ``AllGather``."""

    __props__ = ()

    def make_node(self, g, x):
        g, x = tb.as_tensor_variable(g), tb.as_tensor_variable(x)
        return Apply(self, [g, x], [TensorType(g.dtype, x.broadcastable)()])

    def infer_shape(self, node, shapes):
        return [(shapes[1][0],) + tuple(shapes[0][1:])]

    def perform(self, node, inputs):
        g, x = inputs
        return [get_backend().reduce_scatter(g, x.shape[0])]


# ------------------------------------------------------------------------------ schedule
def side_effect_order(order):
    """``order`` (a valid topological order) rearranged for communicating ops.

    Kahn's algorithm over the same nodes, always taking the ready node with the smallest
    (``schedule_priority``, tag, position in ``order``): non-blocking sends/receives
    (priority -1) start as soon as their inputs exist, waits (priority 1) run as late as
    possible, lower tags first (Theano's ``mpi_send_wait_key``/``mpi_tag_key``), and
    everything else, collectives included, keeps its relative order.  The result depends
    only on the graph, so every rank running the same graph issues its collectives in the
    same order.
    """
    if not any(has_side_effects(n) for n in order):
        return order
    pos = {n: k for k, n in enumerate(order)}
    deps = {n: 0 for n in order}
    users = {n: [] for n in order}
    for n in order:
        seen = set()
        for i in n.inputs:
            o = i.owner
            if o is not None and o in pos and o not in seen:
                seen.add(o)
                deps[n] += 1
                users[o].append(n)

    def key(n):
        return (getattr(n.op, "schedule_priority", 0) if has_side_effects(n) else 0,
                getattr(n.op, "tag", 0) if has_side_effects(n) else 0, pos[n])

    ready = [(key(n), pos[n], n) for n in order if deps[n] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, _, n = heapq.heappop(ready)
        out.append(n)
        for u in users[n]:
            deps[u] -= 1
            if deps[u] == 0:
                heapq.heappush(ready, (key(u), pos[u], u))
    assert len(out) == len(order), "side_effect_order lost nodes (a cycle?)"
    return out
