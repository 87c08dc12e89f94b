"""What a lowering is for: the machine that runs a kernel, and the CPU tiling constants.

Lowering rules shape their TE for the machine that will run the kernel (a packed matmul's
panel width, the parallel slices of a full reduction) and the llvm schedules cut the same
loops by the same numbers: both read them here, so they cannot drift apart.

``LowerContext.target`` is a ``Machine``: on llvm the host's vector width and thread count;
a cuda kernel is lowered for the GPU (no CPU packing or chunking: the GPU schedules
parallelize it), so its code never depends on the host that built it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

# ------------------------------------------------------------------ CPU tiling constants
ROW_TILE = 4                    # matmul register tile: ROW_TILE rows x (2 vector registers) of C
PACKED_MIN_FLOPS = 1 << 18      # below this a plain reduction is as fast as packing (no pack pass)
ACCUMULATORS = 4                # independent vector accumulators per row (hides the add latency)
ARG_ACCUMULATORS = 4            # vectors of partial (value, chunk) pairs per argmax row
CHUNK_MIN_ELEMENTS = 1 << 16    # below this one thread reduces everything
PARALLEL_MIN_ELEMENTS = 1 << 15     # below this a parallel launch costs more than it saves
PARALLEL_MIN_FLOPS = 1 << 22    # matmul: below ~128^3 a parallel launch costs more than it saves


# ------------------------------------------------------------------ CPU cores (matmul tiles)
@dataclass(frozen=True)
class Core:
    """What a register-tiled kernel needs to know about one CPU core.

    ``vregs``: architectural vector registers (32 with AVX-512, else 16);
    ``fma_latency``: cycles from a vector FMA to its result; ``fma_per_cycle``: vector FMAs
    the core starts per cycle at its full vector width (Zen 4 runs a 512-bit FMA on its two
    256-bit pipes: 1; Intel server cores and Zen 5: 2).  A chain of FMAs into one
    accumulator waits ``fma_latency`` cycles per step, so ``fma_latency * fma_per_cycle``
    independent accumulators is the minimum that keeps the FMA units busy (any late load
    then stalls them: twice that hides it).  ``parallel_min_elements`` /
    ``parallel_min_flops``: the size below which waking the thread pool costs more than the
    second core saves (measured by ``bench/parallel_threshold.py``); ``l2_bytes``: the
    core's L2 cache (a matmul reads an unpacked B in place when all of it fits).
    """
    name: str
    vregs: int = 16
    fma_latency: int = 4
    fma_per_cycle: int = 2
    parallel_min_elements: int = PARALLEL_MIN_ELEMENTS
    parallel_min_flops: int = PARALLEL_MIN_FLOPS
    l2_bytes: int = 512 << 10

    @property
    def min_accumulators(self):
        return self.fma_latency * self.fma_per_cycle


# LLVM cpu name -> (fma_latency, vector FMAs per cycle at the widest width the target uses);
# the vector register count comes from the target's features (avx512f: 32)
_CORES = {
    "znver1": (5, 1), "znver2": (5, 2), "znver3": (4, 2), "znver4": (4, 1), "znver5": (4, 2),
    "haswell": (5, 2), "broadwell": (5, 2), "skylake": (4, 2), "alderlake": (4, 2),
    "raptorlake": (4, 2), "meteorlake": (4, 2), "arrowlake": (4, 2),
    "skylake-avx512": (4, 2), "cascadelake": (4, 2), "cooperlake": (4, 2),
    "icelake-server": (4, 2), "sapphirerapids": (4, 2), "emeraldrapids": (4, 2),
    "graniterapids": (4, 2), "icelake-client": (4, 1), "tigerlake": (4, 1),
    # LLVM names some AVX-512 Xeon VMs "rocketlake": 8 accumulators were the minimum there
    "rocketlake": (4, 2),
}
_L2_KB = {"znver4": 1024, "znver5": 1024, "skylake-avx512": 1024, "cascadelake": 1024,
          "cooperlake": 1024, "icelake-server": 1280, "sapphirerapids": 2048, "emeraldrapids": 2048,
          "graniterapids": 2048, "rocketlake": 512}
# measured thresholds (bench/parallel_threshold.py) per LLVM cpu name
_PARALLEL = {
    "znver4": (PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_FLOPS),
}


def core_for(name, vector_bytes):
    """The ``Core`` of LLVM cpu ``name`` with ``vector_bytes``-wide registers; unknown
    names get a safe default (latency 4 x 2 pipes: more accumulators than most need)."""
    lat, per = _CORES.get(name, (4, 2))
    pe, pf = _PARALLEL.get(name, (PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_FLOPS))
    return Core(name, 32 if vector_bytes >= 64 else 16, lat, per, pe, pf, _L2_KB.get(name, 512) << 10)


def matmul_tile(core, lanes, n=None, max_rows=8):
    """(rows MR, vector registers NV) of C held in registers by a matmul micro-kernel.

    Per step of k the tile loads NV vectors of packed B, broadcasts MR elements of A and
    issues MR x NV FMAs.  It needs at least ``core.min_accumulators`` accumulators and must
    fit the register file (MR x NV accumulators + NV B vectors + 1 broadcast); among those
    it maximizes FMAs per load (MR x NV / (MR + NV)), at most 16 accumulators (on AVX-512,
    16x32 / 8x64 tiles with 32 accumulators spilled: 0.76-0.79x OpenBLAS; 4x64 reached
    1.00-1.05x).  ``n``, the product's column count, caps NV (no padding beyond one vector).
    """
    nv_max = 4 if n is None else max(1, min(4, -(-int(n) // lanes)))
    best = None
    for nv in range(1, nv_max + 1):
        for mr in range(1, max_rows + 1):
            acc = mr * nv
            if acc + nv + 1 > core.vregs or acc > 16:
                continue
            enough = acc >= min(2 * core.min_accumulators, 16)
            key = (enough, acc >= core.min_accumulators, acc / (mr + nv), nv, -mr)
            if best is None or key > best[0]:
                best = (key, mr, nv)
    return best[1], best[2]


@dataclass(frozen=True)
class Machine:
    """The machine a kernel is lowered and scheduled for."""
    kind: str               # "llvm" (the host CPU) or "cuda"
    vector_bytes: int = 16  # llvm: width of a vector register
    threads: int = 1        # llvm: TVM's thread pool
    core: Core = field(default=None, compare=False)     # llvm: registers, FMA latency x pipes

    def __post_init__(self):
        if self.core is None:
            object.__setattr__(self, "core", core_for("", self.vector_bytes))

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

    def matmul_tile(self, dtype, n=None):
        """(MR rows, NV vector registers) of the matmul register tile (``matmul_tile``)."""
        return matmul_tile(self.core, self.lanes(dtype), n)

    def parallel_pays(self, elements=0, flops=0):
        """True when a kernel of ``elements`` output elements (memory-bound work) or
        ``flops`` floating-point operations is big enough to repay waking the thread pool."""
        if not self.cpu or self.threads < 2:
            return False
        return elements >= self.core.parallel_min_elements or flops >= self.core.parallel_min_flops


@functools.lru_cache(maxsize=None)
def _host_core(name, vector_bytes):
    return core_for(name, vector_bytes)


_POOL = []


def _pool_threads(tvm):
    """The pool's size as the process started it: kernels are built for it even while
    ``runtime/threads.py`` runs fewer threads on a loaded machine."""
    if not _POOL:
        _POOL.append(max(1, int(tvm.runtime.num_threads())))
    return _POOL[0]


def host():
    """The host CPU as TVM sees it now (vector width, thread pool size, core facts)."""
    from .. import _tvm
    vb = _tvm.vector_bytes()
    return Machine("llvm", vb, _pool_threads(_tvm.tvm),
                   _host_core(_tvm.cpu_target().attrs.get("mcpu", ""), vb))


GPU = Machine("cuda", 0, 1)


def for_kind(kind):
    """The machine of a target kind ("llvm": the host, "cuda": the GPU)."""
    return host() if kind == "llvm" else GPU
