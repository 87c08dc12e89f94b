"""Which float products skip the packed register tile (``lowering/rules/linalg.py``) and are
scheduled in place by ``schedules/cpu_gemv.py`` (issue 13: small and batched products).

The packed tile pads C to whole tiles (MR rows x NV vectors) and copies B into panels on
every call: for narrow products the padding and the copy cost more than the tile saves.
``unpacked(M, N, K, batch, machine)`` is the one place that decides: small products whose
tile would be padded (N or M not whole tiles), and small batched products; ``FORCE``
(None, True or False) overrides it for A/B timing.
"""
from __future__ import annotations

FORCE = None
# per product (per batch): up to 2^20 multiply-adds the in-place rows x vectors tile is
# as fast as the packed one or faster (measured per core, Zen 4, in one process: batched
# 64x50x64x50 0.52x the packed tile's time, 16x20x64x20 0.44x, 8x100x64x100 0.43x,
# 128x256x10 0.91x, 100x100x30 0.77x; unpadded 32x256x256 and 16x128x512 equal)
SMALL = 1 << 20


def unpacked(M, N, K, batch, machine, dtype="float32"):
    """True when an MxK . KxN product (``batch``: the batch dims) runs faster unpacked."""
    dims = (M, N, K) + tuple(batch)
    if not all(isinstance(d, int) or type(d).__name__ == "IntImm" for d in dims):
        return False                # symbolic extents: the tile's code path (one kernel)
    if FORCE is not None:
        return FORCE
    M, N, K = int(M), int(N), int(K)
    nbatch = 1
    for d in batch:
        nbatch *= int(d)
    if not machine.cpu or M * N * K > SMALL:
        return False
    mr, nv = machine.matmul_tile(dtype, N)
    pads = N % (nv * machine.lanes(dtype)) != 0 or M % mr != 0
    return pads or nbatch > 1
