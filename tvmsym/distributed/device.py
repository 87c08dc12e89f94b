"""Collectives on device buffers (``device=cuda``).

Two paths, chosen when a function is compiled (``config.distributed_cuda_aware``):
- CUDA-aware MPI ('yes', or 'auto' and the MPI library says so through
  ``MPIX_Query_cuda_support``): the placement stage puts the collective on the GPU
  (``GpuAllReduce{sum}``), and the cuda executor hands the device tensors themselves to
  MPI (mpi4py takes them through DLPack): no copy through the host.
- otherwise: the collective stays a host step between ``HostFromGpu`` and
  ``GpuFromHost`` (debugprint shows both): a staged copy through host memory.

On the device path, what MPI cannot reduce natively (max/min of floats with numpy's NaN
rule, mean, bool, float16) is staged through the host inside the step.
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..config import config
from ..symbolic.ops.distributed import AllGather, AllReduce, Broadcast, get_backend

_query = None


def mpi_cuda_support():
    """True when the loaded MPI library was built CUDA-aware (asked once; False without MPI)."""
    global _query
    if _query is None:
        _query = False
        b = get_backend()
        if getattr(b, "MPI", None) is not None:
            try:
                libs = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "libmpi" in ln})
            except OSError:
                libs = []
            for path in libs:
                try:
                    fn = getattr(ctypes.CDLL(path), "MPIX_Query_cuda_support", None)
                except OSError:
                    continue
                if fn is not None:
                    _query = bool(fn())
                    break
    return _query


def cuda_aware():
    """Whether collectives take device buffers (``config.distributed_cuda_aware``)."""
    flag = config.distributed_cuda_aware
    if flag == "yes":
        return True
    if flag == "no":
        return False
    return mpi_cuda_support()


def places_on_device(op):
    """The placement question for a collective: run it on the GPU's buffers?"""
    if isinstance(op, AllReduce | Broadcast) or (isinstance(op, AllGather) and op.even):
        return cuda_aware()
    return False


def run_on_device(node, inputs, outputs):
    """Run the collective ``node`` from device tensors ``inputs`` into device tensors
    ``outputs`` (``tvm.runtime.Tensor``, or anything with DLPack)."""
    op, b = node.op, get_backend()
    (x,), (out,) = inputs, outputs
    MPI = getattr(b, "MPI", None)
    direct = MPI is not None and b.size > 1
    if direct and isinstance(op, AllReduce) and op.op == "sum" and _native(node.inputs[0].dtype):
        b.device_allreduce_sum(x, out)
    elif direct and isinstance(op, Broadcast):
        b.device_broadcast(x, out, op.root)
    elif direct and isinstance(op, AllGather) and op.even:
        b.device_allgather(x, out)
    else:      # one rank, or what MPI cannot do natively: through the host
        host = op.perform(node, [_to_numpy(x)])[0]
        out.copyfrom(np.asarray(host, order="C"))


def _native(dtype):
    d = np.dtype(dtype)
    return d.kind in "iufc" and d != np.float16


def _to_numpy(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)
