"""Theano's MPI point-to-point ops (``theano.tensor.io``), for pipeline-style programs.

``isend(x, dest, tag)`` -> (request, x); ``send(x, dest, tag)`` = wait on it;
``irecv(shape, dtype, source, tag)`` -> (request, buffer); ``recv(...)`` = wait on it.
As in Theano, a send's result must be among the function's outputs (nothing else reads
it), and shapes/dtypes of received arrays are given when the graph is built.

A request is an int64 scalar naming the pending MPI request in the communication
backend (``distributed.get_backend()``); its wait op completes it.  The executor runs
starts early and waits late (``side_effect_order``), which is Theano's
``sort_schedule_fn(*mpi_cmps)`` made the default, so two ranks that send to each other
before receiving do not deadlock.
"""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from ..graph import Apply
from ..type import TensorType
from .distributed import _SideEffectOp, get_backend

__all__ = ["MPIRecv", "MPIRecvWait", "MPISend", "MPISendWait", "isend", "send", "irecv", "recv",
           "mpi_send_wait_key", "mpi_tag_key", "mpi_keys", "mpi_cmps", "mpi_send_wait_cmp",
           "mpi_tag_cmp"]


def _request():
    return TensorType("int64", ())()


class MPIRecv(_SideEffectOp):
    """Start receiving a ``dtype`` array of ``shape`` from rank ``source`` with ``tag``:
    outputs (request, buffer); the buffer holds the data once ``MPIRecvWait`` ran."""

    no_grad = "Theano's MPI ops are not differentiable"
    __props__ = ("source", "tag", "shape", "dtype")
    schedule_priority = -1

    def __init__(self, source, tag, shape, dtype):
        self.source, self.tag = int(source), int(tag)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype).name
        if any(s < 0 for s in self.shape):
            raise ValueError(f"irecv: the shape {self.shape} has a negative dimension")

    def __str__(self):
        return f"MPIRecv{{source: {self.source}, tag: {self.tag}, shape: {self.shape}, dtype: {self.dtype}}}"

    def make_node(self):
        return Apply(self, [], [_request(), TensorType(self.dtype, (False,) * len(self.shape))()])

    def infer_shape(self, node, shapes):
        return [(), self.shape]

    def perform(self, node, inputs):
        h = get_backend().irecv(self.shape, self.dtype, self.source, self.tag)
        return [np.int64(h), np.zeros(self.shape, self.dtype)]


class MPIRecvWait(_SideEffectOp):
    """Wait for the receive ``request``; the received array."""

    no_grad = "Theano's MPI ops are not differentiable"
    __props__ = ("tag",)
    schedule_priority = 1

    def __init__(self, tag):
        self.tag = int(tag)

    def make_node(self, request, data):
        request, data = tb.as_tensor_variable(request), tb.as_tensor_variable(data)
        return Apply(self, [request, data], [data.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[1])]

    def perform(self, node, inputs):
        return [get_backend().wait(inputs[0])]


class MPISend(_SideEffectOp):
    """Start sending ``data`` to rank ``dest`` with ``tag``: outputs (request, data)."""

    no_grad = "Theano's MPI ops are not differentiable"
    __props__ = ("dest", "tag")
    schedule_priority = -1

    def __init__(self, dest, tag):
        self.dest, self.tag = int(dest), int(tag)

    def __str__(self):
        return f"MPISend{{dest: {self.dest}, tag: {self.tag}}}"

    def make_node(self, data):
        data = tb.as_tensor_variable(data)
        return Apply(self, [data], [_request(), data.type()])

    def infer_shape(self, node, shapes):
        return [(), tuple(shapes[0])]

    def perform(self, node, inputs):
        h = get_backend().isend(inputs[0], self.dest, self.tag)
        return [np.int64(h), inputs[0]]


class MPISendWait(_SideEffectOp):
    """Wait for the send ``request``; outputs True (Theano's value) once the data left."""

    no_grad = "Theano's MPI ops are not differentiable"
    __props__ = ("tag",)
    schedule_priority = 1

    def __init__(self, tag):
        self.tag = int(tag)

    def make_node(self, request, data):
        request, data = tb.as_tensor_variable(request), tb.as_tensor_variable(data)
        return Apply(self, [request, data], [TensorType("bool", ())()])

    def infer_shape(self, node, shapes):
        return [()]

    def perform(self, node, inputs):
        get_backend().wait(inputs[0])
        return [np.bool_(True)]


def isend(var, dest, tag):
    """Non-blocking send: (request, var)."""
    return MPISend(dest, tag)(var)


def send(var, dest, tag):
    """Blocking send: True once ``var`` has left (put it among the function's outputs)."""
    return MPISendWait(tag)(*isend(var, dest, tag))


def irecv(shape, dtype, source, tag):
    """Non-blocking receive: (request, buffer)."""
    return MPIRecv(source, tag, shape, dtype)()


def recv(shape, dtype, source, tag):
    """Blocking receive: the ``dtype`` array of ``shape`` sent by ``source`` with ``tag``."""
    return MPIRecvWait(tag)(*irecv(shape, dtype, source, tag))


# Theano's ordering keys (tvmsym applies them by default: see side_effect_order)
def mpi_send_wait_key(a):
    """Wait as long as possible on waits, start sends/receives early."""
    if isinstance(a.op, (MPIRecvWait, MPISendWait)):
        return 1
    if isinstance(a.op, (MPIRecv, MPISend)):
        return -1
    return 0


def mpi_tag_key(a):
    """Break ties by the message tag: lower tags first."""
    if isinstance(a.op, (MPISend, MPIRecv, MPIRecvWait, MPISendWait)):
        return a.op.tag
    return 0


def _key_to_cmp(key):
    def cmp(a, b):
        ka, kb = key(a), key(b)
        return (ka > kb) - (ka < kb)
    return cmp


mpi_send_wait_cmp = _key_to_cmp(mpi_send_wait_key)
mpi_tag_cmp = _key_to_cmp(mpi_tag_key)
mpi_keys = (mpi_send_wait_key, mpi_tag_key)
mpi_cmps = (mpi_send_wait_cmp, mpi_tag_cmp)
