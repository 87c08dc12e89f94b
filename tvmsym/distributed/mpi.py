"""The MPI communication backend (mpi4py): what the collective and point-to-point ops of
``symbolic/ops/{distributed,p2p}.py`` call when the process was started by ``mpiexec``.

Every wait polls a non-blocking MPI request, so a collective can
- end with a :class:`DistributedTimeout` after ``config.distributed_timeout`` seconds,
- end with a :class:`RankFailedError` naming the rank when another rank raised
  (that rank's excepthook sends a note to every rank on a private communicator, waits a
  moment so they can say so, then calls ``MPI_Abort``: nothing hangs).
Before the data of a collective moves, the ranks exchange a 16-number description (kind,
op, dtype, shape, root), so mismatched shapes/dtypes give a clear error on every rank
instead of a hang or garbage (``config.distributed_check_meta``; one small extra message).

Sums of the numeric dtypes MPI knows use ``MPI_SUM``; max/min of floats, bool and float16
are reduced by numpy over the gathered values (numpy's semantics: NaN propagates).
"""
from __future__ import annotations

import functools
import sys
import time
import zlib

import numpy as np

from ..config import config
from ..symbolic.ops.distributed import _check_peer, _check_received, _check_root, _pop_handle

ERR_TAG = 7301
GRACE_SECONDS = 1.5            # a failing rank waits this long for the others to report
# a wait polls without pausing this long (as MPI's own blocking calls spin), then sleeps
# 0.1 ms between polls: a longer wait means another rank is still computing (imbalance, a
# build), and on a machine with more processes than cores the spinning would slow it down
SPIN_SECONDS = 1e-3
_KIND = {"allreduce": 1, "broadcast": 2, "allgather": 3, "reduce_scatter": 4}
_OPS = {"sum": 1, "mean": 2, "max": 3, "min": 4, None: 0}
_MAXDIM = 8


class DistributedError(RuntimeError):
    """A collective could not complete (mismatch across ranks, another rank failed)."""


class RankFailedError(DistributedError):
    """Another rank raised; ``rank`` is its number."""

    def __init__(self, rank, message):
        super().__init__(f"rank {rank} failed: {message}")
        self.rank = rank


class DistributedTimeout(DistributedError, TimeoutError):
    """A collective or a wait did not complete within ``config.distributed_timeout``."""


class Stats:
    """Counters of the payload messages this rank took part in (bench_distributed reads them)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.messages = 0           # collectives and point-to-point operations (payload)
        self.bytes = 0              # payload bytes this rank contributed
        self.meta_messages = 0      # shape/dtype checks
        self.seconds = 0.0          # wall time inside the backend (waiting for others included)

    def as_dict(self):
        return dict(messages=self.messages, bytes=self.bytes, meta_messages=self.meta_messages,
                    seconds=self.seconds)


class MPIBackend:
    """Collectives over a private duplicate of ``MPI.COMM_WORLD``."""

    name = "mpi"

    def __init__(self, MPI):
        self.MPI = MPI
        world = MPI.COMM_WORLD
        self.comm = world.Dup()         # tvmsym's messages never match the user's own
        self.err_comm = world.Dup()     # failure notes
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.stats = Stats()
        self._handles = {}
        self._next = 0
        self._failed = False

    # ------------------------------------------------------------------ waiting
    def _wait(self, req, what):
        """Complete ``req``, watching for a failed rank and the timeout."""
        if req.Test():
            return
        timeout = config.distributed_timeout
        t0 = time.perf_counter()
        spins = 0
        while not req.Test():
            spins += 1
            if spins % 64 == 0:
                self._check_failed()
                elapsed = time.perf_counter() - t0
                if timeout and elapsed > timeout:
                    raise DistributedTimeout(
                        f"rank {self.rank}: {what} did not complete within {timeout:g} s "
                        "(config.distributed_timeout): another rank is not taking part "
                        "(stuck, or running a different collective)")
                if elapsed > SPIN_SECONDS:      # a long wait (a rank compiling): let the CPU go
                    time.sleep(1e-4)

    def _check_failed(self):
        comm, MPI = self.err_comm, self.MPI
        status = MPI.Status()
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=ERR_TAG, status=status):
            src = status.Get_source()
            msg = comm.recv(source=src, tag=ERR_TAG)
            self._failed = True
            raise RankFailedError(src, msg)

    # ------------------------------------------------------------------ meta check
    def _meta(self, kind, x, op=None, root=0, skip_rows=False):
        if not config.distributed_check_meta:
            return None
        x = _Desc(x)
        shape = x.shape
        row = np.full(16, -1, np.int64)
        row[0], row[1], row[2] = _KIND[kind], _OPS[op], zlib.crc32(x.dtype.str.encode())
        row[3], row[4] = len(shape), root
        dims = list(shape[:_MAXDIM])
        if skip_rows and dims:
            dims[0] = -2
        row[5:5 + len(dims)] = dims
        row[13] = zlib.crc32(repr(shape[_MAXDIM:] if not skip_rows else shape[1:]).encode())
        allrows = np.empty((self.size, 16), np.int64)
        t0 = time.perf_counter()
        self._wait(self.comm.Iallgather(row, allrows), f"{kind} (shape check)")
        self.stats.seconds += time.perf_counter() - t0
        self.stats.meta_messages += 1
        if (allrows != row).any():
            gathered = self._gather_desc(kind, x, op, root)
            raise DistributedError(
                f"{_what(kind, op, root)}: the ranks disagree (every rank must pass the same "
                f"{'shape (rows may differ)' if skip_rows else 'shape'} and dtype"
                f"{', and the same root' if kind == 'broadcast' else ''}): "
                + "; ".join(f"rank {r}: {d}" for r, d in enumerate(gathered)))
        return allrows

    # ------------------------------------------------------------------ device buffers
    # (device.py: CUDA-aware MPI takes the device tensors through DLPack)
    def device_allreduce_sum(self, x, out):
        self._meta("allreduce", x, "sum")
        t0 = time.perf_counter()
        if _Desc(x).size:
            self._wait(self.comm.Iallreduce(x, out, self.MPI.SUM), "allreduce{sum} (device)")
        self._count(_Desc(x), t0)

    def device_broadcast(self, x, out, root):
        _check_root(root, self.size)
        self._meta("broadcast", x, root=root)
        t0 = time.perf_counter()
        if _Desc(x).size:
            if self.rank == root:
                out.copyfrom(x)
            self._wait(self.comm.Ibcast(out, root=root), f"broadcast{{root={root}}} (device)")
        self._count(_Desc(x), t0)

    def device_allgather(self, x, out):
        self._meta("allgather", x)
        t0 = time.perf_counter()
        if _Desc(out).size:
            self._wait(self.comm.Iallgather(x, out), "allgather (device)")
        self._count(_Desc(x), t0)

    def _gather_desc(self, kind, x, op, root):
        desc = f"{_what(kind, op, root)} of {x.dtype} {tuple(x.shape)}"
        return self.comm.allgather(desc)

    # ------------------------------------------------------------------ collectives
    def allreduce(self, x, op):
        x = np.asarray(x, order="C")
        if self.size == 1:
            return x.copy()
        self._meta("allreduce", x, op)
        t0 = time.perf_counter()
        MPI = self.MPI
        if x.size == 0:
            out = x.copy()
        elif op in ("sum", "mean") and x.dtype.kind in "iufc" and x.dtype != np.float16:
            out = np.empty_like(x)
            self._wait(self.comm.Iallreduce(x, out, MPI.SUM), f"allreduce{{{op}}}")
            if op == "mean":
                np.divide(out, self.size, out=out)
        elif op in ("max", "min") and x.dtype.kind in "iu":
            out = np.empty_like(x)
            self._wait(self.comm.Iallreduce(x, out, MPI.MAX if op == "max" else MPI.MIN),
                       f"allreduce{{{op}}}")
        else:      # numpy's semantics over the gathered values (NaN, bool, float16)
            parts = self._gather_bytes(x, f"allreduce{{{op}}}")
            red = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum}[op]
            if x.dtype == bool and op in ("sum", "mean"):
                red = np.logical_or
            out = functools.reduce(red, parts).astype(x.dtype, copy=False)   # rank order
            if op == "mean":
                out = (out / np.asarray(self.size, x.dtype)).astype(x.dtype)
            out = np.asarray(out, order="C")
        self._count(x, t0)
        return out

    def broadcast(self, x, root):
        _check_root(root, self.size)
        x = np.array(x, order="C", copy=True)
        if self.size == 1:
            return x
        self._meta("broadcast", x, root=root)
        t0 = time.perf_counter()
        if x.size:
            self._wait(self.comm.Ibcast(_bytes(x), root=root), f"broadcast{{root={root}}}")
        self._count(x, t0)
        return x

    def allgather(self, x, even=True):
        x = np.asarray(x, order="C")
        if self.size == 1:
            return x.copy()
        self._meta("allgather", x, skip_rows=not even)
        t0 = time.perf_counter()
        if even:
            out = np.empty((self.size * x.shape[0],) + x.shape[1:], x.dtype)
            if out.size:
                self._wait(self.comm.Iallgather(_bytes(x), _bytes(out)), "allgather")
        else:
            rows = self._exchange_rows(x.shape[0])
            out = np.empty((int(rows.sum()),) + x.shape[1:], x.dtype)
            row_bytes = x.dtype.itemsize * int(np.prod(x.shape[1:], dtype=np.int64))
            counts = rows * row_bytes
            if out.size:
                recv = [_bytes(out), counts, self.MPI.BYTE]
                self._wait(self.comm.Iallgatherv(_bytes(x), recv), "allgather")
        self._count(x, t0)
        return out

    def reduce_scatter(self, g, n_local):
        """Sum ``g`` over ranks and keep this rank's ``n_local`` rows (the allgather order)."""
        total = self.allreduce(g, "sum")
        if self.size == 1:
            return total
        rows = np.empty(self.size, np.int64)
        self._wait(self.comm.Iallgather(np.array([n_local], np.int64), rows), "reduce_scatter")
        start = int(rows[:self.rank].sum())
        if int(rows.sum()) != g.shape[0]:
            raise DistributedError(f"reduce_scatter: the gradient has {g.shape[0]} rows, the "
                                   f"ranks' inputs {int(rows.sum())}")
        return np.asarray(total[start:start + n_local], order="C")

    def _exchange_rows(self, n):
        rows = np.empty(self.size, np.int64)
        self._wait(self.comm.Iallgather(np.array([n], np.int64), rows), "allgather (row counts)")
        return rows

    def _gather_bytes(self, x, what):
        parts = np.empty((self.size,) + x.shape, x.dtype)
        self._wait(self.comm.Iallgather(_bytes(x), _bytes(parts)), what)
        return parts

    def _count(self, x, t0):
        self.stats.seconds += time.perf_counter() - t0
        self.stats.messages += 1
        self.stats.bytes += x.nbytes

    def takes_device_buffers(self, op):
        from .device import places_on_device
        return places_on_device(op)

    def run_on_device(self, node, inputs, outputs):
        from .device import run_on_device
        run_on_device(node, inputs, outputs)

    def barrier(self):
        self._wait(self.comm.Ibarrier(), "barrier")

    # ------------------------------------------------------------------ point to point
    def _handle(self, entry):
        self._next += 1
        self._handles[self._next] = entry
        return self._next

    def isend(self, x, dest, tag):
        _check_peer(dest, self.size, "send to")
        x = np.array(x, order="C", copy=True)        # kept alive until the wait
        hdr = np.array([len(x.shape)] + list(x.shape)[:_MAXDIM] + [-1] * (_MAXDIM - len(x.shape[:_MAXDIM]))
                       + [zlib.crc32(x.dtype.str.encode())], np.int64)
        reqs = [self.comm.Isend(hdr, dest=dest, tag=2 * tag),
                self.comm.Isend(_bytes(x), dest=dest, tag=2 * tag + 1)]
        self.stats.messages += 1
        self.stats.bytes += x.nbytes
        return self._handle(("send", (reqs, x, hdr, dest, tag)))

    def irecv(self, shape, dtype, source, tag):
        _check_peer(source, self.size, "receive from")
        dtype = np.dtype(dtype)
        hdr = np.empty(_MAXDIM + 2, np.int64)
        # the header is received first and checked before the payload is accepted
        req = self.comm.Irecv(hdr, source=source, tag=2 * tag)
        return self._handle(("recv", (req, hdr, tuple(shape), dtype, source, tag)))

    def wait(self, handle):
        kind, info = _pop_handle(self._handles, handle)
        t0 = time.perf_counter()
        try:
            if kind == "send":
                reqs, _x, _hdr, dest, tag = info
                for r in reqs:
                    self._wait(r, f"send to rank {dest} (tag {tag})")
                return None
            req, hdr, shape, dtype, source, tag = info
            self._wait(req, f"recv from rank {source} (tag {tag})")
            nd = int(hdr[0])
            got_shape = tuple(int(d) for d in hdr[1:1 + min(nd, _MAXDIM)])
            if got_shape != shape[:_MAXDIM] or nd != len(shape) \
                    or int(hdr[-1]) != zlib.crc32(dtype.str.encode()):
                # take the payload off the wire so the job can go on, then refuse it
                st = self.MPI.Status()
                self.comm.Probe(source=source, tag=2 * tag + 1, status=st)
                junk = np.empty(st.Get_count(self.MPI.BYTE), np.uint8)
                self.comm.Recv(junk, source=source, tag=2 * tag + 1)
                raise DistributedError(
                    f"recv from rank {source} (tag {tag}) expected {dtype} of shape {shape}; "
                    f"rank {source} sent shape {got_shape} "
                    f"({'same' if int(hdr[-1]) == zlib.crc32(dtype.str.encode()) else 'another'} dtype)")
            data = np.empty(shape, dtype)
            self._wait(self.comm.Irecv(_bytes(data), source=source, tag=2 * tag + 1),
                       f"recv from rank {source} (tag {tag})")
            self.stats.messages += 1
            self.stats.bytes += data.nbytes
            return _check_received(data, shape, dtype, source, tag)
        finally:
            self.stats.seconds += time.perf_counter() - t0

    # ------------------------------------------------------------------ failure
    def fail(self, exc_text):
        """This rank raised: tell every other rank, give them a moment, abort the job."""
        if self._failed:        # the failure came from another rank: it is aborting the job
            grace = 0.2
        else:
            grace = GRACE_SECONDS
            msg = f"{exc_text}"
            reqs = [self.err_comm.issend(msg, dest=r, tag=ERR_TAG)
                    for r in range(self.size) if r != self.rank]
            del reqs        # small messages leave at once; abort ends them either way
        sys.stderr.write(f"tvmsym.distributed: rank {self.rank} of {self.size} raised "
                         f"{exc_text}; aborting the MPI job\n")
        sys.stderr.flush()
        time.sleep(grace)
        self.MPI.COMM_WORLD.Abort(1)


class _Desc:
    """Shape, dtype, size and bytes of a numpy array or a device tensor."""

    def __init__(self, x):
        if isinstance(x, _Desc):
            x = x.x
        self.x = x
        self.shape = tuple(int(d) for d in x.shape)
        self.dtype = np.dtype(str(x.dtype))
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = self.size * self.dtype.itemsize


def _what(kind, op, root):
    if kind == "allreduce":
        return f"allreduce{{{op}}}"
    if kind == "broadcast":
        return f"broadcast{{root={root}}}"
    return kind


def _bytes(a):
    """``a``'s memory (C-contiguous) as a byte buffer (any dtype, float16 and bool included)."""
    return a.reshape(-1).view(np.uint8)


def install_excepthook(backend):
    """An uncaught exception on a rank of a job of several ends the whole job (no hang)."""
    previous = sys.excepthook

    def hook(etype, value, tb):
        previous(etype, value, tb)
        try:
            text = f"{etype.__name__}: {value}"
            backend.fail(text)
        except Exception:           # pragma: no cover - aborting must not fail
            backend.MPI.COMM_WORLD.Abort(1)
    sys.excepthook = hook
