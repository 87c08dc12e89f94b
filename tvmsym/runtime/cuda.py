"""Builds for ``device=cuda``: GPU kernels, host kernels, transfers, and their per-call loop.

After placement a graph has three kinds of nodes: GPU nodes (device variants,
``GpuElemwise`` ...), host nodes (ops without a GPU schedule) and transfers
(``GpuFromHost`` / ``HostFromGpu``).  One build per input-shape signature:

* GPU kernels are lowered to TE, scheduled with the cuda rules
  (``schedules/gpu.py``) and compiled together into one module
  (``tvm.compile`` for cuda only emits CUDA C: no GPU and no nvcc are needed
  to build; the CUDA runtime compiles it when a GPU loads it);
* host kernels are scheduled and compiled for llvm, as on ``device=cpu``;
* every GPU kernel must appear as ``<name>_kernel`` in the CUDA module that the
  host module imports, else the build fails (an unbound PrimFunc would run as
  host code on device pointers).

``run`` needs a GPU; without one it raises ``NoCudaDeviceError`` before touching
any kernel.  ``as_text('cuda')`` gives the CUDA C and ``as_text('ptx')`` the PTX
that nvcc makes from it (offline, ``tvm.support.nvcc``; no GPU needed).
"""
from __future__ import annotations

import re
import shutil

import numpy as np

from .. import _tvm
from ..lowering.lower import Step, infer_shapes, is_view, lower_step, zero_size
from ..lowering.rules import find_rule
from ..schedules import schedule
from ..schedules.gpu import UnscheduledKernelError, schedule_for_cuda
from ..symbolic.graph import Constant
from ..symbolic.rewrites.placement import GpuFromHost, HostFromGpu, is_on_gpu
from ..targets import get_target
from .executor import _align_of

# TVM omits __launch_bounds__ for one-thread kernels (a 0-d result)
_KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(")


def _materialize_views(plan):
    """Steps of ``plan`` plus a kernel for every view whose result a host step reads.

    ``plan`` inlines views into the kernels that read them; a host step (numpy
    ``perform``, a transfer) reads buffers, so a view feeding one gets its own kernel.
    """
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


class CudaBuild:
    """Kernels of a placed plan built for concrete input shapes; ``run(arrays)`` executes them."""

    def __init__(self, plan, input_shapes, target):
        self.plan = plan
        self.target = target
        self.host_target = get_target("cpu")
        fg = plan.fgraph
        self.shapes = shapes = infer_shapes(plan, input_shapes)
        steps = _materialize_views(plan)
        slot = {}
        for v in fg.inputs:
            slot.setdefault(v, len(slot))
        consts = []
        for st in steps:
            for v in st.inputs + st.outputs:
                if v not in slot:
                    slot[v] = len(slot)
                    if isinstance(v, Constant):
                        consts.append(v)
        for v in fg.outputs:
            if v not in slot:
                slot[v] = len(slot)
                if isinstance(v, Constant):
                    consts.append(v)
        dev_slot = {}       # constants GPU kernels read: a device copy in its own slot
        gpu_funcs, cpu_funcs = {}, {}
        self.steps, self.rules = [], {}
        info_target = self.target.tvm_target
        for st in steps:
            node, op = st.node, st.node.op
            gpu = is_on_gpu(op)
            outs = [(slot[o], shapes[o], o.type.dtype) for o in st.outputs]
            if gpu:
                for v in st.inputs:
                    if isinstance(v, Constant) and v not in dev_slot:
                        dev_slot[v] = len(slot) + len(dev_slot)
                ins = [dev_slot.get(v, slot[v]) for v in st.inputs]
            else:
                ins = [slot[v] for v in st.inputs]
            inplace = {o: slot[node.inputs[i[0]]]
                       for o, i in dict(getattr(op, "destroy_map", {}) or {}).items()}
            if isinstance(op, GpuFromHost):
                self.steps.append(("to_gpu", None, [slot[node.inputs[0]]], outs, {}, st))
            elif isinstance(op, HostFromGpu):
                self.steps.append(("to_host", None, [slot[node.inputs[0]]], outs, {}, st))
            elif zero_size(shapes, st):
                self.steps.append(("empty_gpu" if gpu else "empty", None, ins, outs, inplace, st))
            elif st.kind == "host":
                if gpu:
                    raise UnscheduledKernelError(f"{op} was placed on the GPU but has no kernel")
                self.steps.append(("host", node, [slot[v] for v in node.inputs], outs, inplace, st))
            else:
                placeholders, results = lower_step(st, shapes)
                func = _tvm.te.create_prim_func(placeholders + results)
                info = {"outputs": [r.op.name for r in results], "step": st,
                        "out_dtype": st.outputs[0].type.dtype, "target": info_target}
                if gpu:
                    func, rule = schedule_for_cuda(func, st.name, info)
                    self.rules[st.name] = rule
                    gpu_funcs[st.name] = func.with_attr("global_symbol", st.name)
                    self.steps.append(("gpu", st.name, ins, outs, inplace, st))
                else:
                    func = _tvm.relax_alignment(func, _align_of)
                    func = schedule(func, "llvm", info)
                    cpu_funcs[st.name] = func.with_attr("global_symbol", st.name)
                    self.steps.append(("cpu", st.name, ins, outs, inplace, st))
        self.slot, self.n_slots = slot, len(slot) + len(dev_slot)
        self.const_values = [(slot[c], np.ascontiguousarray(c.data)) for c in consts]
        self.dev_const_values = [(s, np.ascontiguousarray(c.data)) for c, s in dev_slot.items()]
        self._dev_consts = None
        tvm = _tvm.tvm
        self.mod = tvm.IRModule(gpu_funcs) if gpu_funcs else None
        self.host_mod = tvm.IRModule(cpu_funcs) if cpu_funcs else None
        self.lib = _tvm.compile_module(self.mod, target.tvm_target) if gpu_funcs else None
        self.host_lib = (_tvm.compile_module(self.host_mod, self.host_target.tvm_target)
                         if cpu_funcs else None)
        self.kernels = self._check_kernels(gpu_funcs)
        self.out_slots = [slot[o] for o in fg.outputs]
        self.out_is_input = [o in set(fg.inputs) or isinstance(o, Constant) for o in fg.outputs]
        self.uses_device = any(k in ("gpu", "empty_gpu", "to_gpu", "to_host")
                               for k, *_ in self.steps)
        self.prog = None
        self._ptx = None

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

    # ------------------------------------------------------------------ running
    def _bind(self):
        prog = []
        for kind, fn, ins, outs, inplace, st in self.steps:
            if kind == "gpu":
                fn = self.lib.mod[fn]
            elif kind == "cpu":
                fn = self.host_lib.mod[fn]
            prog.append((kind, fn, ins, outs, inplace, st))
        self.prog = prog

    def run(self, arrays, what="this function"):
        if self.uses_device:
            self.target.check_device(what)
        tvm = _tvm.tvm
        dev = tvm.cuda(0)
        if self.prog is None:
            self._bind()
        if self._dev_consts is None:
            self._dev_consts = [(s, tvm.runtime.tensor(a, dev)) for s, a in self.dev_const_values]
        slots = [None] * self.n_slots
        for k, a in enumerate(arrays):
            slots[k] = np.ascontiguousarray(a)
        for s, c in self.const_values:
            slots[s] = c
        for s, c in self._dev_consts:
            slots[s] = c
        for kind, fn, ins, outs, inplace, st in self.prog:
            if kind == "to_gpu":
                slots[outs[0][0]] = tvm.runtime.tensor(np.ascontiguousarray(slots[ins[0]]), dev)
                continue
            if kind == "to_host":
                slots[outs[0][0]] = slots[ins[0]].numpy()
                continue
            on_dev = kind in ("gpu", "empty_gpu")
            res = []
            for o, (s, shape, dtype) in enumerate(outs):
                if o in inplace:
                    arr = slots[inplace[o]]
                elif on_dev:
                    arr = tvm.runtime.empty(shape, dtype, dev)
                else:
                    arr = np.empty(shape, dtype)
                slots[s] = arr
                res.append(arr)
            if kind in ("gpu", "cpu"):
                fn(*[slots[i] for i in ins], *res)
            elif kind == "host":
                vals = fn.op.perform(fn, [slots[i] for i in ins])
                for arr, v in zip(res, vals):
                    arr[...] = v
        outs = []
        for s, copy in zip(self.out_slots, self.out_is_input):
            a = slots[s]
            if not isinstance(a, np.ndarray):
                a = a.numpy()       # an output placement left on the device
            outs.append(a.copy() if copy else a)
        return outs

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
