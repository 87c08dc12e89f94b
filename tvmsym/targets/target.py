"""Target descriptors: llvm for ``device=cpu``, cuda for ``device=cuda``."""
from __future__ import annotations

from dataclasses import dataclass

from .. import _tvm
from ..config import config


@dataclass(frozen=True)
class TargetInfo:
    kind: str           # "llvm" or "cuda"
    tvm_target: object

    def __str__(self):
        return self.kind


def get_target(name=None):
    """TargetInfo for ``name`` ('cpu'/'llvm', 'cuda'), default ``config.device``."""
    name = name or config.device
    if name in ("cpu", "llvm"):
        return TargetInfo("llvm", _tvm.cpu_target())
    if name in ("cuda", "gpu"):
        host = _tvm.cpu_target()
        return TargetInfo("cuda", _tvm.Target({"kind": "cuda", "arch": config.cuda_arch}, host))
    raise ValueError(f"unknown target {name!r}; valid targets: 'cpu' (llvm), 'cuda'")


def build(mod, target: TargetInfo):
    """Compile an IRModule of scheduled PrimFuncs; returns the runtime module."""
    return _tvm.compile_module(mod, target.tvm_target)
