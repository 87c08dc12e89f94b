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
any kernel.  Shared variables live on the device (``CudaFunction``, at the end):
the placement stage gives a shared input no ``GpuFromHost`` and its update no
``HostFromGpu``; a call passes the container's device tensor, the update kernel
writes into the container's spare device buffer, and the new tensors are
installed once the call has succeeded; ``get_value`` copies back lazily.
``as_text('cuda')`` gives the CUDA C and ``as_text('ptx')`` the PTX
that nvcc makes from it (offline, ``tvm.support.nvcc``; no GPU needed).
"""
from __future__ import annotations

import re
import shutil

import numpy as np

from .. import _tvm
from ..lowering.lower import Step, infer_shapes, is_view, lower_step, zero_size
from ..lowering.machine import GPU
from ..lowering.rules import find_rule
from ..schedules import ScheduleContext, schedule
from ..schedules.gpu import UnscheduledKernelError, schedule_for_cuda
from ..symbolic.graph import Constant
from ..symbolic.rewrites.placement import GpuFromHost, HostFromGpu, is_on_gpu
from ..targets import get_target
from .executor import _align_of, _dyn_run, _dyn_spec, assign_slots
from .inner import inner_for, perform

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


def _c(a):
    """A C-contiguous array (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


class _HostView:
    """``slots`` read through ``host`` (device arrays copied back on access)."""

    def __init__(self, slots, host):
        self.slots, self.host = slots, host

    def __getitem__(self, s):
        return self.host(self.slots[s])


class CudaBuild:
    """Kernels of a placed plan built for concrete input shapes; ``run(arrays)`` executes them.

    Steps (``self.steps``: kind, kernel, input slots, outputs, inplace map, Step):
    ``gpu`` / ``cpu`` kernels, ``host`` numpy steps, ``dyn`` numpy steps sized at run
    time, ``to_gpu`` / ``to_host`` transfers, ``empty`` zero-size results.  Values
    known at build time (shape arithmetic, constants) are host arrays; a GPU kernel
    that reads one gets a device copy made once per build.
    """

    def __init__(self, plan, input_shapes, target, loopback=False):
        self.plan = plan
        self.target = target
        # loopback (tests only): "GPU" kernels get CPU schedules and the device is tvm.cpu(0),
        # so the per-call loop (transfers, inplace, device copies) runs on a machine without GPU
        self.loopback = loopback
        self.host_target = get_target("cpu")
        fg = plan.fgraph
        self.values = values = {}
        self.shapes = shapes = infer_shapes(plan, input_shapes, values, inner=inner_for)
        steps = _materialize_views(plan)
        slot, consts = assign_slots(fg, steps,
                                    lambda st: list(st.inputs) + list(st.node.inputs) + st.outputs)
        self.slot = slot
        self.n_slots = len(slot)
        self.const_values = [(slot[c], np.array(c.data, order="C")) for c in consts]
        fixed = {slot[c] for c in consts}      # slots whose host value is set once per build
        dev_copy = {}                           # host slot -> slot of its device copy
        gpu_funcs, cpu_funcs = {}, {}
        host_machine = self.host_target.machine
        self.steps, self.rules, self.checks = [], {}, {}

        def device_slot(s):
            if s not in dev_copy:
                dev_copy[s] = self.n_slots
                self.n_slots += 1
            return dev_copy[s]

        for st in steps:
            node, op = st.node, st.node.op
            gpu = is_on_gpu(op)
            outs = [(slot[o], shapes[o], o.type.dtype) for o in st.outputs]
            if all(o in values for o in st.outputs):     # shape arithmetic: known now
                self.const_values += [(slot[o], values[o]) for o in st.outputs]
                fixed.update(slot[o] for o in st.outputs)
                continue
            if any(shapes[v] is None for v in list(node.inputs) + st.outputs):
                self.steps.append(("dyn", _dyn_spec(st, slot), gpu, outs, {}, st))
                continue
            ins = [slot[v] for v in st.inputs]
            if gpu:
                ins = [device_slot(i) if i in fixed else i for i in ins]
            inplace = {o: slot[node.inputs[i[0]]]
                       for o, i in dict(getattr(op, "destroy_map", {}) or {}).items()}
            # never overwrite a value set once per build (a constant, shape arithmetic)
            inplace = {o: s for o, s in inplace.items() if s not in fixed}
            if isinstance(op, GpuFromHost):
                self.steps.append(("to_gpu", None, [slot[node.inputs[0]]], outs, {}, st))
            elif isinstance(op, HostFromGpu):
                self.steps.append(("to_host", None, [slot[node.inputs[0]]], outs, {}, st))
            elif zero_size(shapes, st):
                self.steps.append(("empty", gpu, ins, outs, inplace, st))
            elif st.kind == "host":
                if gpu:
                    raise UnscheduledKernelError(f"{op} was placed on the GPU but has no kernel")
                self.steps.append(("host", node, [slot[v] for v in node.inputs], outs, inplace, st))
            else:
                for k, v in enumerate(st.inputs):
                    if 0 in shapes[v]:      # an empty input is never read; TVM refuses its strides
                        ins[k] = -1 - k
                placeholders, results = lower_step(st, shapes, values,
                                                   GPU if gpu else host_machine)
                func = _tvm.te.create_prim_func(placeholders + results)
                on_gpu = gpu and not loopback
                info = ScheduleContext(
                    outputs=[r.op.name for r in results], step=st,
                    out_dtype=st.outputs[0].type.dtype, target=target.tvm_target,
                    shapes=[shapes[v] for v in node.inputs], values=values,
                    machine=GPU if on_gpu else host_machine)
                if on_gpu:
                    func, rule = schedule_for_cuda(func, st.name, info)
                    self.rules[st.name] = rule
                    gpu_funcs[st.name] = func.with_attr("global_symbol", st.name)
                else:
                    func = _tvm.relax_alignment(func, _align_of)
                    func = schedule(func, "llvm", info)
                    (gpu_funcs if gpu else cpu_funcs)[st.name] = func.with_attr("global_symbol",
                                                                               st.name)
                self.steps.append(("gpu" if gpu else "cpu", st.name, ins, outs, inplace, st))
                if getattr(st, "check", None) is not None:
                    self.checks[st.name] = ([slot.get(v, getattr(v, "data", None))
                                             for v in node.inputs],
                                            [shapes[v] for v in node.inputs])
        host_values = dict(self.const_values)
        self.dev_const_values = [(d, host_values[s]) for s, d in dev_copy.items()]
        self._dev_consts = None
        tvm = _tvm.tvm
        self.mod = tvm.IRModule(gpu_funcs) if gpu_funcs else None
        self.host_mod = tvm.IRModule(cpu_funcs) if cpu_funcs else None
        dev_target = self.host_target if loopback else target
        self.lib = _tvm.compile_module(self.mod, dev_target.tvm_target) if gpu_funcs else None
        self.host_lib = (_tvm.compile_module(self.host_mod, self.host_target.tvm_target)
                         if cpu_funcs else None)
        self.kernels = {} if loopback else self._check_kernels(gpu_funcs)
        self.out_slots = [slot[o] for o in fg.outputs]
        self.out_is_input = [o in set(fg.inputs) or isinstance(o, Constant) or o in values
                             for o in fg.outputs]
        self.uses_device = any(k in ("gpu", "to_gpu", "to_host") or (k == "empty" and fn is True)
                               or (k == "dyn" and ins is True) for k, fn, ins, *_ in self.steps)
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

    def device(self, what="this function"):
        """The device the GPU steps run on (``tvm.cpu(0)`` in loopback), None if none."""
        tvm = _tvm.tvm
        if self.loopback:
            return tvm.cpu(0)
        if self.uses_device:
            self.target.check_device(what)
            return tvm.cuda(0)
        return None

    def run(self, arrays, out_storage=None, what="this function", keep=()):
        """Outputs for ``arrays`` (numpy, or device tensors for device-resident inputs).

        ``out_storage``: {slot: array or device tensor} to write outputs into;
        ``keep``: output positions returned as they are (a device tensor stays on the
        device: shared-variable updates), the others come back as numpy arrays.
        """
        tvm = _tvm.tvm
        dev = self.device(what)
        given = out_storage or {}
        if self.prog is None:
            self._bind()
        if self._dev_consts is None and self.uses_device:
            self._dev_consts = [(s, tvm.runtime.tensor(_c(a), dev))
                                for s, a in self.dev_const_values]
        slots = [None] * self.n_slots
        for k, a in enumerate(arrays):
            if isinstance(a, np.ndarray):
                slots[k] = a if a.flags.carray else np.array(a, order="C")
            else:
                slots[k] = a                    # a device tensor (a shared variable's storage)
        for s, c in self.const_values:
            slots[s] = c
        for s, c in self._dev_consts or ():
            slots[s] = c

        def host(a):
            return a if isinstance(a, np.ndarray) else a.numpy()

        def arg(i, k, shape_of, on_dev):
            if i >= 0:
                a = slots[i]
                if on_dev == isinstance(a, np.ndarray):    # on the other side: copy across
                    a = tvm.runtime.tensor(_c(a), dev) if on_dev else a.numpy()
                return a
            shape, dtype = shape_of(k)          # an empty input: any empty buffer will do
            return tvm.runtime.empty(shape, dtype, dev) if on_dev else np.empty(shape, dtype)

        for kind, fn, ins, outs, inplace, st in self.prog:
            if kind == "to_gpu":
                slots[outs[0][0]] = tvm.runtime.tensor(_c(slots[ins[0]]), dev)
                continue
            if kind == "to_host":
                s = outs[0][0]
                slots[s] = host(slots[ins[0]])
                if s in given:
                    given[s][...] = slots[s]
                    slots[s] = given[s]
                continue
            if kind == "dyn":                   # data-dependent shapes: numpy on the host
                on_dev = ins
                vals = _dyn_run(fn, _HostView(slots, host))
                for (s, _, dtype), v in zip(outs, vals):
                    v = _c(np.asarray(v, dtype=dtype))
                    slots[s] = tvm.runtime.tensor(v, dev) if on_dev else v
                continue
            on_dev = kind == "gpu" or (kind == "empty" and fn is True)
            res = []
            for o, (s, shape, dtype) in enumerate(outs):
                if o in inplace:
                    arr = slots[inplace[o]]
                elif on_dev and s in given and not isinstance(given[s], np.ndarray):
                    arr = given[s]              # a shared variable's spare device buffer
                elif on_dev:
                    arr = tvm.runtime.empty(shape, dtype, dev)
                elif s in given:
                    arr = given[s]
                else:
                    arr = np.empty(shape, dtype)
                slots[s] = arr
                res.append(arr)
            if kind in ("gpu", "cpu"):
                if st.check is not None:    # reads index data: a device array comes back
                    spec, in_shapes = self.checks[st.name]
                    st.check(st.node, [host(slots[a]) if isinstance(a, int) else a
                                       for a in spec], in_shapes)
                shape_of = lambda k, st=st: (self.shapes[st.inputs[k]], st.inputs[k].type.dtype)
                fn(*[arg(i, k, shape_of, on_dev) for k, i in enumerate(ins)], *res)
            elif kind == "host":
                vals = perform(fn, [host(slots[i]) for i in ins])
                for arr, v in zip(res, vals):
                    arr[...] = v
        outs = []
        for k, (s, copy) in enumerate(zip(self.out_slots, self.out_is_input)):
            if k in keep:
                outs.append(slots[s])           # the caller installs it (no copy here)
                continue
            a = host(slots[s])                  # an output left on the device comes back
            outs.append(a.copy() if copy else a)
        return outs

    def donatable(self, outputs):
        """{output position: slot}: update outputs a GPU kernel may write into given storage.

        The output's buffer must be fresh (made by a GPU kernel, perhaps then
        overwritten in place by later ones), returned once, and not an input.
        """
        fresh, destroys = {}, {}
        for kind, _fn, _ins, outs, inplace, _st in self.steps:
            for o, (s, shape, dtype) in enumerate(outs):
                if kind == "gpu" and o not in inplace:
                    fresh[s] = (tuple(shape), dtype)
                elif kind in ("gpu", "cpu", "host"):
                    destroys[s] = inplace.get(o, -1) if o in inplace else -1
        count = {}
        for s in self.out_slots:
            count[s] = count.get(s, 0) + 1
        ok = {}
        for k in outputs:
            s = self.out_slots[k]
            if count[s] != 1 or self.out_is_input[k]:
                continue
            root = s
            while root in destroys and root not in fresh:
                root = destroys[root]
            if root in fresh and (root == s or count.get(root, 0) == 0):
                ok[k] = (root,) + fresh[root]
        return ok

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


# --------------------------------------------------------------------------- shared variables on the device
def _loopback_default():
    import os
    return os.environ.get("TVMSYM_CUDA_LOOPBACK", "") not in ("", "0")


def _same(a, b):
    return a is not None and a is b


def make_cuda_function(fn, fgraph):
    """Turn ``fn`` (a Function being built for a cuda target) into a ``CudaFunction``.

    Called by ``Function.__init__`` before the rewrites: the placement stage reads
    ``fgraph.n_user_outputs`` to keep the shared-variable updates on the device.
    """
    from .function import Function
    global CudaFunction
    if CudaFunction is None:
        CudaFunction = type("CudaFunction", (_CudaCall, Function),
                            {"__module__": __name__, "__doc__": _CudaCall.__doc__})
    fgraph.n_user_outputs = fn._n_user_outputs
    fn.__class__ = CudaFunction


CudaFunction = None


class _CudaCall:
    """A ``device=cuda`` function: its shared variables live on the device.

    The placement stage makes a shared input a device value (no ``GpuFromHost``)
    and keeps its update on the device (no ``HostFromGpu``).  A call passes each
    such variable's device tensor (``Container.device_value``: uploaded once,
    after a ``set_value`` or a CPU function's update), lets the update kernel
    write into the variable's spare device buffer when it can (double buffering
    on the device), and installs the new tensors only once every output is
    computed: a failed call changes nothing.  ``get_value`` (and a CPU function
    reading the variable) copies the value back lazily.

    ``loopback = True`` (tests; or ``TVMSYM_CUDA_LOOPBACK=1``) runs the same
    per-call loop with ``tvm.cpu(0)`` standing in for the GPU.
    """

    loopback = _loopback_default()

    def _build(self, key, arrays=None):
        import time
        t0 = time.perf_counter()
        b = CudaBuild(self._plan, key, self.target, loopback=self.loopback)
        self.build_time += time.perf_counter() - t0
        if len(self._builds) > 64:
            self._builds.pop(next(iter(self._builds)))
        self._builds[key] = b
        return b

    def __call__(self, *args, **kwargs):
        vals = self._gather(args, kwargs)
        arrays = [self._filter(k, v) for k, v in enumerate(vals)]
        fg = self._plan.fgraph
        resident = getattr(fg, "resident_inputs", ())
        keep = getattr(fg, "resident_outputs", ())
        key = tuple(a.shape for a in arrays) + tuple(sv.container.shape for sv in self._shared)
        b = self._builds.get(key)
        if b is None:
            b = self._build(key)
        dev = b.device() if (resident or keep) else None
        n = len(arrays)
        for j, sv in enumerate(self._shared):
            c = sv.container
            arrays.append(c.device_value(dev) if dev is not None and n + j in resident else c.value)
        storage, donated = {}, {}
        if self._update_spec and dev is not None:
            ok = b.__dict__.get("_dev_donatable")
            if ok is None:
                ok = b._dev_donatable = b.donatable(keep)
            for sv, k in self._update_spec:
                if k not in ok:
                    continue
                s, shape, dtype = ok[k]
                c = sv.container
                sp = c.dev_spare
                if sp is None or tuple(sp.shape) != shape or sp.dtype != dtype \
                        or _same(sp, c.dev) or sp.device != dev:
                    sp = c.dev_spare = _tvm.tvm.runtime.empty(shape, dtype, dev)
                storage[s] = sp
                donated[k] = sp
        outs = b.run(arrays, storage, keep=keep if dev is not None else ())
        self._last = b
        if self._update_spec:
            self._install(outs, arrays[n:], dev)
        return self._finish([o if isinstance(o, np.ndarray) else o.numpy() for o in outs])

    def _install(self, outs, shared_values, dev):
        """Install every update (after all outputs are computed): all or nothing."""
        from .shared_support import check_update_value
        spec = self._update_spec
        for sv, k in spec:
            new = outs[k]
            if not isinstance(new, np.ndarray):
                new = np.empty(tuple(new.shape), new.dtype)     # metadata only, for the check
            check_update_value(sv, new)
        owned = [v for v in shared_values if not isinstance(v, np.ndarray)]
        user = outs[:self._n_user_outputs]
        for sv, k in spec:
            c = sv.container
            new = outs[k]
            if isinstance(new, np.ndarray):
                if dev is not None:
                    # a constant or host-computed update: the device keeps the storage
                    new = _tvm.tvm.runtime.tensor(_c(new), dev)
                else:
                    if any(new is u for u in user) or new is c._value:
                        new = new.copy()
                    c.value = new
                    continue
            elif _same(new, c.dev):
                continue                        # the update is the value itself
            elif any(_same(new, o) for o in owned):
                # another variable's storage: each variable owns its own tensor
                t = _tvm.tvm.runtime.empty(tuple(new.shape), new.dtype, dev)
                t.copyfrom(new)
                new = t
            c.set_device_value(new)
            owned.append(new)
