"""What a lowering is for: the machine that runs a kernel, and the CPU tiling constants.

Lowering rules shape their TE for the machine that will run the kernel (a packed matmul's
panel width, the parallel slices of a full reduction) and the llvm schedules cut the same
loops by the same numbers: both read them here, so they cannot drift apart.

``LowerContext.target`` is a ``Machine``: on llvm the host's vector width and thread count;
a cuda kernel is lowered for the GPU (no CPU packing or chunking: the GPU schedules
parallelize it), so its code never depends on the host that built it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ------------------------------------------------------------------ CPU tiling constants
ROW_TILE = 4                    # matmul register tile: ROW_TILE rows x (2 vector registers) of C
PACKED_MIN_FLOPS = 1 << 18      # below this a plain reduction is as fast as packing (no pack pass)
ACCUMULATORS = 4                # independent vector accumulators per row (hides the add latency)
ARG_ACCUMULATORS = 4            # vectors of partial (value, chunk) pairs per argmax row
CHUNK_MIN_ELEMENTS = 1 << 16    # below this one thread reduces everything
PARALLEL_MIN_ELEMENTS = 1 << 15     # below this a parallel launch costs more than it saves
PARALLEL_MIN_FLOPS = 1 << 22    # matmul: below ~128^3 a parallel launch costs more than it saves


@dataclass(frozen=True)
class Machine:
    """The machine a kernel is lowered and scheduled for."""
    kind: str               # "llvm" (the host CPU) or "cuda"
    vector_bytes: int = 16  # llvm: width of a vector register
    threads: int = 1        # llvm: TVM's thread pool

    @property
    def cpu(self):
        return self.kind == "llvm"

    def lanes(self, dtype):
        """Elements of ``dtype`` per vector register (1 on a GPU)."""
        if not self.cpu:
            return 1
        return max(1, self.vector_bytes // max(1, np.dtype(dtype).itemsize))

    def panel_width(self, dtype):
        """Columns of B per packed matmul panel: two vector registers."""
        return 2 * max(1, self.vector_bytes // (4 if dtype == "float32" else 8))


def host():
    """The host CPU as TVM sees it now (vector width, thread pool size)."""
    from .. import _tvm
    return Machine("llvm", _tvm.vector_bytes(), max(1, int(_tvm.tvm.runtime.num_threads())))


GPU = Machine("cuda", 0, 1)


def for_kind(kind):
    """The machine of a target kind ("llvm": the host, "cuda": the GPU)."""
    return host() if kind == "llvm" else GPU
