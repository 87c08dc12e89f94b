"""The records a build is made of, the LRU of builds, and run-time errors that name a node.

A build (``executor.Build``) is a list of ``StepRecord``: one per graph step, each of a
``Kind``, reading and writing numbered storage slots.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """What a step does when the executor reaches it."""
    KERNEL = "kernel"           # a compiled TVM kernel (host or device: ``on_device``)
    HOST = "host"               # the op's numpy ``perform`` (runtime/inner.py for inner graphs)
    DYN = "dyn"                 # numpy, shapes known only at run time (data-dependent)
    EMPTY = "empty"             # zero-size results: nothing to compute
    TO_DEVICE = "to_device"     # copy a host array to the device (GpuFromHost)
    TO_HOST = "to_host"         # copy a device array back (HostFromGpu)


@dataclass
class StepRecord:
    """One step of a build.

    ``ins``: input slots (a kernel's buffers; a negative slot ``-1 - k`` is an empty input
    ``k`` that any empty buffer stands for); ``outs``: (slot, shape, dtype) per output;
    ``inplace``: {output position: slot whose buffer it overwrites}; ``on_device``: its
    inputs and outputs live on the device; ``name``: the kernel's symbol; ``fn``: the bound
    callable (a kernel, or for ``DYN`` the numpy program ``(node, [(var, slot)], inlined)``);
    ``step``: the lowering's ``Step`` (``step.node`` is the graph node).
    """
    kind: Kind
    step: object
    ins: list = field(default_factory=list)
    outs: list = field(default_factory=list)
    inplace: dict = field(default_factory=dict)
    on_device: bool = False
    name: str = ""
    fn: object = None

    @property
    def node(self):
        return self.step.node

    @property
    def out_slots(self):
        return [s for s, _, _ in self.outs]

    @property
    def label(self):
        """A short name for listings: ``gpu``/``cpu`` (kernels), ``to_gpu``, ``to_host``,
        ``host``, ``gpu_comm`` (a host step on device buffers: a collective), ``dyn``,
        ``empty``."""
        if self.kind is Kind.KERNEL:
            return "gpu" if self.on_device else "cpu"
        if self.kind is Kind.HOST and self.on_device:
            return "gpu_comm"
        return "to_gpu" if self.kind is Kind.TO_DEVICE else self.kind.value


class LRU(OrderedDict):
    """A dict that keeps its ``maxsize`` most recently stored entries (builds per shape)."""

    def __init__(self, maxsize=64):
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)

    def __reduce__(self):       # pickles (and copies) as an empty cache of the same size
        return (type(self), (self.maxsize,))


# --------------------------------------------------------------------------- errors
def node_trace(node):
    """``file:line`` of the user's code that built ``node`` (``Apply.tag.trace``), or None."""
    return getattr(getattr(node, "tag", None), "trace", None)


def annotate(err, record):
    """Add to ``err`` which node failed and where it was built (Theano's ``raise_with_op``);
    the exception keeps its type and message (the note is printed under it)."""
    if getattr(err, "_tvmsym_noted", False) or not hasattr(err, "add_note"):
        return err
    node = record.node
    ins = ", ".join(str(i) for i in node.inputs)
    where = node_trace(node)
    err.add_note(f"tvmsym: raised by step {record.name or record.kind.value} computing "
                 f"{node.op}({ins})" + (f", built at {where}" if where else ""))
    err._tvmsym_noted = True
    return err
