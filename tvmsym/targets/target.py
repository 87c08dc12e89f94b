"""Target descriptors: llvm for ``device=cpu``, cuda for ``device=cuda``.

A ``TargetInfo`` is what the rest of tvmsym asks about the device: its kind
(the schedule-rule table to use), the TVM target to build for, whether an op
can run there (the placement stage asks, so ``tvmsym.symbolic`` needs no TVM),
and whether a device is present to run on.  Building for cuda needs no GPU
(TVM emits CUDA C; nvcc makes PTX offline); running does.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from .. import _tvm
from ..config import config


class NoCudaDeviceError(RuntimeError):
    """A function compiled for ``device=cuda`` was called on a machine without a usable GPU."""


@dataclass(frozen=True)
class TargetInfo:
    kind: str           # "llvm" or "cuda": the schedule rule table
    tvm_target: object  # tvm.target.Target (cuda: with the llvm host)
    arch: str = ""      # cuda: "sm_90"

    def __str__(self):
        return f"{self.kind} {self.arch}" if self.arch else self.kind

    @property
    def machine(self):
        """What lowering and schedules ask about this target (``lowering/machine.py``)."""
        from ..lowering.machine import for_kind
        return for_kind(self.kind)

    @property
    def host(self):
        """The llvm TargetInfo that host-side code of this target builds for."""
        return get_target("cpu")

    def places(self, op):
        """True when ``op`` runs on this target's device (cuda: it has a GPU schedule).

        Asked by the placement stage (``symbolic/rewrites/placement.py``).
        """
        if self.kind != "cuda":
            return False
        if getattr(op, "has_side_effects", False):   # collectives: with CUDA-aware MPI only
            return op.on_device()
        from ..schedules.gpu import has_gpu_schedule
        return has_gpu_schedule(op)

    def device_available(self):
        if self.kind != "cuda":
            return True
        return cuda_device_available()

    def check_device(self, what="this function"):
        """Raise ``NoCudaDeviceError`` (never crash) when the device is absent."""
        if self.kind == "cuda" and not cuda_device_available():
            raise NoCudaDeviceError(no_cuda_message(what, self.arch))


def no_cuda_message(what, arch):
    return (f"no CUDA device found: {what} was compiled for device=cuda ({arch}) but this "
            "machine has no usable GPU (or TVM was built without the CUDA runtime). "
            "Set device=cpu to run on the CPU: TVMSYM_FLAGS=device=cpu, "
            "tvmsym.config.device = 'cpu', or tvmsym.function(..., target='cpu'). "
            "The CUDA code can still be inspected with f.as_text('cuda') / f.as_text('ptx').")


def cuda_device_available():
    """True when TVM's CUDA runtime is enabled and device 0 exists (never raises)."""
    tvm = _tvm.tvm
    try:
        _tvm.ensure_backends()      # the cuda runtime library comes with TVM's cuda backend
        return bool(tvm.runtime.enabled("cuda")) and bool(tvm.cuda(0).exist)
    except Exception:   # a runtime without the cuda device API
        return False


@functools.lru_cache(maxsize=None)
def _cuda_target(arch):
    _tvm.ensure_backends()          # TVM's cuda hooks (codegen callbacks, runtime library)
    host = _tvm.cpu_target()
    # 48 KiB: the static shared memory of every arch (dlight warns when it is not given)
    spec = {"kind": "cuda", "arch": arch, "max_shared_memory_per_block": 49152}
    return TargetInfo("cuda", _tvm.Target(spec, host), arch)


@functools.lru_cache(maxsize=None)
def _llvm_target():
    return TargetInfo("llvm", _tvm.cpu_target())


def get_target(name=None):
    """TargetInfo for ``name`` ('cpu'/'llvm', 'cuda'/'gpu'), default ``config.device``.

    A ``TargetInfo`` passes through; cuda builds for ``config.cuda_arch`` (sm_90 default).
    """
    if isinstance(name, TargetInfo):
        return name
    if getattr(name, "kind", None) == "llvm":       # runtime/warm.py's LightTarget
        return _llvm_target()
    name = name or config.device
    if name in ("cpu", "llvm"):
        return _llvm_target()
    if name in ("cuda", "gpu"):
        arch = config.cuda_arch
        if not (arch.startswith("sm_") and arch[3:].rstrip("a").isdigit()):
            raise ValueError(f"config.cuda_arch must name a CUDA architecture such as 'sm_90', "
                             f"got {arch!r}")
        return _cuda_target(arch)
    raise ValueError(f"unknown target {name!r}; valid targets: 'cpu' (llvm), 'cuda'")


def build(mod, target: TargetInfo):
    """Compile an IRModule of scheduled PrimFuncs; returns the runtime module."""
    return _tvm.compile_module(mod, target.tvm_target)
