"""One backend per target: what the build planner and the executor ask a target.

``Build`` (``executor.py``) plans and runs every target the same way; a backend says

* ``on_device(op)``: whether a node's kernel and buffers live on the device;
* ``steps(plan)``: the steps to build (cuda: plus a kernel for views host steps read);
* ``schedule(func, ctx, on_device)``: the scheduled PrimFunc (and the rule's name);
* ``compile(funcs)``: the runtime modules of {on_device: {name: PrimFunc}};
* ``kernel(on_device, name)``: a built kernel;
* ``device()``, ``empty(shape, dtype)``, ``to_device(array)``, ``to_host(value)``;
* ``as_text(stage)``: what was built.

``LLVMBackend`` has no device (every step runs on the host).  ``CudaBackend`` compiles GPU
kernels into one CUDA module (no GPU needed to build) and host kernels for llvm; with
``loopback`` (tests) ``tvm.cpu(0)`` stands in for the GPU and device kernels get CPU
schedules, so the per-call loop runs on a machine without a GPU.
"""
from __future__ import annotations

import re
import shutil

import numpy as np

from .. import _tvm
from ..lowering.machine import GPU
from ..schedules import schedule
from ..schedules.gpu import UnscheduledKernelError, schedule_for_cuda
from ..targets import build as target_build, get_target


def _align_of(dtype):
    # numpy guarantees element alignment only (arrays are usually 16 mod 64)
    return max(1, np.dtype(dtype if dtype != "bool" else "bool").itemsize)


def _c(a):
    """A C-contiguous array (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def schedule_host(func, ctx):
    """A kernel for the host CPU: element-aligned buffers, the llvm rules."""
    func = _tvm.relax_alignment(func, _align_of)
    return schedule(func, "llvm", ctx), None


class LLVMBackend:
    """``device=cpu``: every step runs on the host."""

    has_device = False

    def __init__(self, target):
        self.target = target
        self.machine = target.machine
        self.lib = None
        self._stream = None

    def on_device(self, op):
        return False

    def steps(self, plan):
        return plan.steps

    def slot_variables(self, st):
        return st.inputs + st.outputs

    def machine_for(self, on_device):
        return self.machine

    def schedule(self, func, ctx, on_device):
        return schedule_host(func, ctx)

    def add_kernel(self, on_device, name, func):
        """A kernel ready to compile (``Build`` hands each over as soon as it is lowered): a
        stream (``_parallel_build.Stream``) compiles full groups of them on another core
        while the next ones are lowered."""
        if self._stream is None:
            self._stream = _tvm.stream_for(self.target.tvm_target) or False
        if self._stream:
            self._stream.add(name, func)

    def compile(self, funcs):
        host = funcs.get(False)
        self.mod = _tvm.tvm.IRModule(host) if host else None
        stream, self._stream = self._stream or None, None
        if stream is not None and (not host or sorted(stream.names) != sorted(host)):
            stream.cancel()                 # not the kernels compiled: build them all here
            stream = None
        if stream is not None:
            self.lib = _tvm.compile_module(self.mod, self.target.tvm_target, stream)
        else:
            self.lib = target_build(self.mod, self.target) if host else None

    def kernel(self, on_device, name):
        return self.lib[name]

    def device(self, what="this function"):
        return None

    def as_text(self, stage):
        if self.mod is None:
            return ""
        if stage == "tir":
            return self.mod.script()
        if stage in ("llvm", "ll"):
            return self.lib.mod.inspect_source("ll")
        if stage in ("asm", "s"):
            return self.lib.mod.inspect_source("asm")
        raise ValueError(f"unknown stage {stage!r}; valid stages: 'tir', 'llvm', 'asm' "
                         "(cpu), 'cuda', 'ptx' (cuda)")


# TVM omits __launch_bounds__ for one-thread kernels (a 0-d result)
_KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(")


class CudaBackend:
    """``device=cuda``: GPU kernels in one CUDA module, host kernels for llvm, transfers."""

    has_device = True

    def __init__(self, target, loopback=False):
        from ..symbolic.rewrites.placement import is_on_gpu
        self.target = target
        self.loopback = loopback
        self.host_target = get_target("cpu")
        self.host_machine = self.host_target.machine
        self._is_on_gpu = is_on_gpu
        self.rules = {}
        self.mod = self.host_mod = self.lib = self.host_lib = None
        self.kernels = {}
        self._ptx = None

    def on_device(self, op):
        return self._is_on_gpu(op)

    def steps(self, plan):
        return _materialize_views(plan)

    def slot_variables(self, st):
        return list(st.inputs) + list(st.node.inputs) + st.outputs

    def machine_for(self, on_device):
        # loopback: the device kernels run on the CPU (CPU schedules), so they are lowered for it
        return GPU if on_device and not self.loopback else self.host_machine

    def schedule(self, func, ctx, on_device):
        ctx.target = self.target.tvm_target
        if on_device and not self.loopback:
            func, rule = schedule_for_cuda(func, ctx.step.name, ctx)
            self.rules[ctx.step.name] = rule
            return func, rule
        ctx.machine = self.host_machine         # loopback: CPU schedules for device kernels
        return schedule_host(func, ctx)

    def compile(self, funcs):
        tvm = _tvm.tvm
        gpu, cpu = funcs.get(True), funcs.get(False)
        self.mod = tvm.IRModule(gpu) if gpu else None
        self.host_mod = tvm.IRModule(cpu) if cpu else None
        dev_target = self.host_target if self.loopback else self.target
        self.lib = _tvm.compile_module(self.mod, dev_target.tvm_target) if gpu else None
        self.host_lib = (_tvm.compile_module(self.host_mod, self.host_target.tvm_target)
                         if cpu else None)
        self.kernels = {} if self.loopback else self._check_kernels(gpu)

    def kernel(self, on_device, name):
        return (self.lib if on_device else self.host_lib).mod[name]

    # ------------------------------------------------------------------ device
    def device(self, what="this function"):
        """The device the GPU steps run on (``tvm.cpu(0)`` in loopback)."""
        tvm = _tvm.tvm
        if self.loopback:
            return tvm.cpu(0)
        self.target.check_device(what)
        return tvm.cuda(0)

    # ------------------------------------------------------------------ checks
    def _check_kernels(self, gpu_funcs):
        """{kernel name: launch bounds} of the CUDA module; every GPU step must have kernels."""
        if not gpu_funcs:
            return {}
        imports = list(self.lib.mod.imports)
        if not imports or imports[0].kind != "cuda":
            raise UnscheduledKernelError(
                f"the cuda build of {sorted(gpu_funcs)} has no CUDA device module "
                f"(imports: {[m.kind for m in imports]}): the kernels became host code")
        kernels = {name: int(b or 1) for b, name in _KERNEL.findall(self.cuda_source())}
        for name in gpu_funcs:
            if not any(k == f"{name}_kernel" or k.startswith(f"{name}_kernel_") for k in kernels):
                raise UnscheduledKernelError(f"kernel {name} has no __global__ function in the "
                                             "CUDA module: it was built as host code")
        return kernels

    def cuda_source(self):
        if self.lib is None:
            return ""
        return self.lib.mod.imports[0].inspect_source()

    # ------------------------------------------------------------------ introspection
    def ptx(self):
        """PTX of the CUDA module, compiled offline by nvcc for the target's arch."""
        if self._ptx is None:
            src = self.cuda_source()
            if not src:
                return ""
            if shutil.which("nvcc") is None:
                raise RuntimeError("as_text('ptx') needs nvcc (the CUDA toolkit) on PATH; "
                                   "as_text('cuda') gives the CUDA C without it")
            from tvm.support import nvcc
            with self.target.tvm_target:
                self._ptx = bytes(nvcc.compile_cuda(src, target_format="ptx",
                                                    arch=self.target.arch, compiler="nvcc")).decode()
        return self._ptx

    def as_text(self, stage):
        if stage == "cuda":
            return self.cuda_source()
        if stage == "ptx":
            return self.ptx()
        if stage == "tir":
            return "\n".join(m.script() for m in (self.mod, self.host_mod) if m is not None)
        if stage in ("llvm", "ll", "asm", "s"):
            fmt = "ll" if stage in ("llvm", "ll") else "asm"
            lib = self.host_lib or self.lib
            return lib.mod.inspect_source(fmt) if lib is not None else ""
        raise ValueError(f"unknown stage {stage!r}; valid stages: 'tir', 'cuda', 'ptx' (GPU "
                         "kernels), 'llvm', 'asm' (host code)")


def _materialize_views(plan):
    """Steps of ``plan`` plus a kernel for every view whose result a host step reads.

    ``plan`` inlines views into the kernels that read them; a host step (numpy
    ``perform``, a transfer) reads buffers, so a view feeding one gets its own kernel.
    """
    from ..lowering.lower import Step, is_view
    from ..lowering.rules import find_rule
    from ..symbolic.graph import Constant
    fg = plan.fgraph
    produced = set(fg.inputs)
    steps = []

    def need(v):
        if v in produced or isinstance(v, Constant):
            return
        node = v.owner
        if node is None or not is_view(node) or find_rule(node.op) is None:
            return
        for i in node.inputs:
            need(i)
        steps.append(Step(node, list(node.inputs), list(node.outputs), "tvm", f"v{len(steps)}"))
        produced.update(node.outputs)

    for st in plan.steps:
        for v in st.inputs:
            need(v)
        steps.append(st)
        produced.update(st.outputs)
    return steps


def make_backend(target, loopback=False):
    return CudaBackend(target, loopback) if target.kind == "cuda" else LLVMBackend(target)
