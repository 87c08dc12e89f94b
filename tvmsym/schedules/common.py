"""What every schedule rule shares: its typed context and the small TIR helpers.

A rule is ``rule(func, ctx) -> PrimFunc | None`` (None: it declines); ``ctx`` is one
``ScheduleContext``.  The ordered rule list of each target is in ``registry.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lowering.machine import Machine, host


@dataclass
class ScheduleContext:
    """What a schedule rule may ask about the kernel it is given.

    ``outputs``: names of the kernel's result blocks (the lowering's output tensors);
    ``step``: the kernel's ``lowering.lower.Step`` (``node`` is the graph node it computes,
    None for a bare PrimFunc); ``out_dtype``: its first output's dtype; ``shapes``: the
    node's input shapes; ``values``: build-time values of shape arithmetic; ``target``: the
    tvm target (cuda rules); ``machine``: the ``lowering.machine.Machine`` (vector width,
    threads) the kernel is for.
    """
    outputs: list = field(default_factory=list)
    step: object = None
    out_dtype: str = "float32"
    shapes: list = None
    values: dict = field(default_factory=dict)
    target: object = None
    machine: Machine = None

    def __post_init__(self):
        if self.machine is None:
            self.machine = host()

    @property
    def node(self):
        return None if self.step is None else self.step.node

    @property
    def op(self):
        """The op of the node the kernel computes (None for a bare PrimFunc)."""
        return None if self.step is None else self.step.node.op

    def lanes(self, dtype):
        return self.machine.lanes(dtype)

    @property
    def threads(self):
        return self.machine.threads


def as_context(info):
    """A ``ScheduleContext`` from a context, a dict of its fields, or None."""
    if isinstance(info, ScheduleContext):
        return info
    return ScheduleContext(**(info or {}))


# ------------------------------------------------------------------ TIR helpers
def blocks(sch):
    """(block rv, block) of the root's child blocks."""
    return [(b, sch.get(b)) for b in sch.get_child_blocks(sch.get_sblock("root"))]


def is_spatial(block):
    """Every iteration variable is data parallel (iter_type 0): no reduction."""
    return all(iv.iter_type == 0 for iv in block.iter_vars)


def extent(sch, loop):
    return int(sch.get(loop).extent)


def lanes_of(dtype, machine=None):
    """Elements of ``dtype`` (a dtype or an item size in bytes) per vector register of
    ``machine`` (default: the host)."""
    m = machine or host()
    size = dtype if isinstance(dtype, (int, np.integer)) else np.dtype(dtype).itemsize
    return max(1, m.vector_bytes // max(1, int(size)))


def parts_under_rows(sch, name, parts):
    """Views inlined, the output block ``name``'s row loops fused into one, and every block of
    ``parts`` (producers first) computed under that row loop: ``(output block, row loop)``."""
    inline_views(sch, set(parts) | {name})
    out = sch.get_sblock(name)
    rows = sch.get_loops(out)[:-1]
    row = sch.fuse(*rows) if len(rows) > 1 else rows[0]
    for p in reversed(parts):
        sch.compute_at(sch.get_sblock(p), row, preserve_unit_loops=True)
    return out, row


def inline_views(sch, keep, skip_prefix=None):
    """compute_inline every spatial block not named in ``keep`` (inlined DimShuffle views),
    nor starting with ``skip_prefix``; a block that cannot be inlined (an output) stays."""
    for b, blk in blocks(sch):
        name = blk.name_hint
        if name in keep or not is_spatial(blk) or (skip_prefix and name.startswith(skip_prefix)):
            continue
        try:
            sch.compute_inline(b)
        except Exception:       # an output block (bool finish, crop) stays
            pass


def itemsize(dtype):
    return max(1, np.dtype(dtype).itemsize)


# ------------------------------------------------------------------ parallel or not (issue 13)
def parallel_pays(machine=None, elements=0, flops=0):
    """True when a kernel is big enough to repay waking the thread pool: ``elements``
    output elements of memory-bound work, or ``flops`` floating-point operations.

    ``machine``: a ``lowering.machine.Machine`` or a ``ScheduleContext`` (default: the
    host).  The thresholds are machine facts (``Machine.core``, measured by
    ``bench/parallel_threshold.py``); every CPU schedule rule asks here, so a kernel too
    small for the pool runs on one thread (no wake-up, no waiting for a busy core).
    """
    if isinstance(machine, ScheduleContext):
        machine = machine.machine
    return (machine or host()).parallel_pays(elements=elements, flops=flops)
