"""One build of a function for one input-shape signature, and its per-call loops.

``Build`` is the one build planner and executor of every target: it infers the shapes,
assigns storage slots, classifies the plan's steps into typed records (``steps.py``),
lowers, schedules and compiles the kernels through the target's backend
(``backends.py``: llvm or cuda), then runs them: ``run`` is the general loop (host steps,
data-dependent shapes, transfers, profiling, NanGuardMode), ``fast_runner`` /
``fast_update_runner`` compile a call of plain host kernels into one tight closure.
"""
from __future__ import annotations

import copy as _copy
import operator
import sys
from time import perf_counter as _now

import numpy as np

from ..symbolic.graph import Constant
from ..symbolic.rewrites.placement import GpuFromHost, HostFromGpu
from ..symbolic.sparse.type import is_sparse_value, is_sparse_var
from . import threads as _threads
from .complex_support import complex_args, touches_complex
from .fastcode import straight_line
from .inner import inner_for, perform
from .sparse_support import plan_has_sparse, sparse_args, sparse_outputs, touches_sparse
from .steps import Kind, StepRecord, annotate

#: real builds (a ``tvm.compile`` of a function's kernels) and kernels built, process-wide
build_stats = {"builds": 0, "kernels": 0}


class NeedsBuild(Exception):
    """A Build that reuses another's kernels needs one that build did not make (a step that
    was empty there): the caller builds this shape on its own."""


class _LazyTVM:
    """``tvmsym._tvm``, imported on first use: only device and empty-input steps need TVM
    itself (a build loaded from the warm cache, runtime/warm.py, runs without it)."""

    def __getattr__(self, name):
        from .. import _tvm
        return getattr(_tvm, name)


_tvm = _LazyTVM()


def _c(a):
    """A C-contiguous array (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def assign_slots(fg, steps, variables_of):
    """One storage slot per buffer variable: the graph's inputs first, then every variable
    ``variables_of(step)`` names, then the outputs.  Returns (slot dict, constants with a slot)."""
    slot, consts = {}, []
    for v in fg.inputs:
        slot.setdefault(v, len(slot))

    def add(v):
        if v not in slot:
            slot[v] = len(slot)
            if isinstance(v, Constant):
                consts.append(v)

    for st in steps:
        for v in variables_of(st):
            add(v)
    for v in fg.outputs:
        add(v)
    return slot, consts


class Build:
    """Kernels of a plan built for concrete input shapes; ``run(arrays)`` executes them.

    ``steps``: the ``StepRecord`` of every step, in order; ``prog``: the same records with
    their kernels bound.  Values known at build time (constants, shape arithmetic) are host
    arrays set once per build; a device kernel that reads one gets a device copy made once.
    """

    def __init__(self, plan, input_shapes, target, input_values=None, loopback=False,
                 generic=None, kernels=None, reuse=None):
        # generic: {step name: symbolic shapes} of the shape-generic kernels to build
        # (lowering/symbolic_shapes.py); kernels: a Build of the same signature whose
        # compiled kernels this one runs (no lowering, no compile: runtime/generic.py)
        # The compiler's modules are imported here: running a build loaded from the warm
        # cache (runtime/warm.py) imports this module without TVM.
        from ..lowering.lower import infer_shapes, lower_step, lower_whole, zero_size
        from ..lowering.rules.complex import buffer_of
        from ..schedules import ScheduleContext
        from .backends import _align_of, make_backend
        from .generic import lower_generic
        self.plan = plan
        self.input_shapes = [tuple(sh) for sh in input_shapes]
        self.target = target
        self.backend = backend = kernels.backend if kernels is not None else make_backend(target, loopback)
        self.generic = generic = kernels.generic if kernels is not None else (generic or {})
        # reuse: a Build whose generic kernels this one runs too (same kernel key): only the
        # specialized kernels are built; kernel_src names the backend of each borrowed one
        self.kernel_src = dict(kernels.kernel_src) if kernels is not None else {}
        self.loopback = loopback
        fg = plan.fgraph
        values, runtime = {}, set()   # build-time values of shape arithmetic (lower.infer_shapes)
        self.shapes = shapes = infer_shapes(plan, input_shapes, values, input_values, runtime,
                                            inner_for)
        # values derived from input values (x[i:i + n]) size this build but are read at run time
        self.values = values = {v: a for v, a in values.items() if v not in runtime}
        steps = backend.steps(plan)
        slot, consts = assign_slots(fg, steps, backend.slot_variables)
        self.slot = slot
        self.n_slots = len(slot)
        # writable copies: DLPack refuses read-only arrays
        self.const_values = [(slot[c], c.data.copy() if is_sparse_var(c) else np.array(c.data, order="C"))
                             for c in consts]
        fixed = {slot[c] for c in consts}      # slots whose host value is set once per build
        dev_copy = {}                           # host slot -> slot of its device copy
        funcs = {}                              # on_device -> {name: PrimFunc}
        self.steps = []
        self.times = times = {"lower": 0.0, "schedule": 0.0, "compile": 0.0}   # profiles read them
        self.checks = {}

        def device_slot(s):
            if s not in dev_copy:
                dev_copy[s] = self.n_slots
                self.n_slots += 1
            return dev_copy[s]

        for st in steps:
            node, op = st.node, st.node.op
            on_dev = backend.on_device(op)
            outs = [(slot[o], shapes[o], o.type.dtype) for o in st.outputs]
            if all(o in values for o in st.outputs):      # shape arithmetic, known at build time
                self.const_values += [(slot[o], values[o]) for o in st.outputs]
                fixed.update(slot[o] for o in st.outputs)
                continue
            if any(shapes[v] is None for v in list(node.inputs) + st.outputs) or \
                    _needs_runtime_values(node, runtime) or (
                    len(st.outputs) > 1 and zero_size(shapes, st)
                    and not all(0 in shapes[o] for o in st.outputs)):   # some outputs empty: numpy
                self.steps.append(StepRecord(Kind.DYN, st, [], outs, {}, on_dev,
                                             fn=_dyn_spec(st, slot)))
                continue
            ins = [slot[v] for v in st.inputs]
            if on_dev:
                ins = [device_slot(i) if i in fixed else i for i in ins]
            # never overwrite a value set once per build (a constant, shape arithmetic)
            inplace = {o: slot[node.inputs[i[0]]]
                       for o, i in dict(getattr(op, "destroy_map", {}) or {}).items()
                       if node.inputs[i[0]] not in values and slot[node.inputs[i[0]]] not in fixed}
            if isinstance(op, (GpuFromHost, HostFromGpu)):
                kind = Kind.TO_DEVICE if isinstance(op, GpuFromHost) else Kind.TO_HOST
                self.steps.append(StepRecord(kind, st, [slot[node.inputs[0]]], outs, {}, on_dev))
                continue
            if zero_size(shapes, st) and not sparse_outputs(st):
                self.steps.append(StepRecord(Kind.EMPTY, st, ins, outs, inplace, on_dev))
                continue
            if st.kind == "host" and on_dev and getattr(op, "has_side_effects", False):
                # a collective on device buffers (tvmsym/distributed/device.py)
                self.steps.append(StepRecord(Kind.HOST, st, ins, outs, {}, True))
                continue
            if st.kind == "host":
                if on_dev:
                    from ..schedules.gpu import UnscheduledKernelError
                    raise UnscheduledKernelError(f"{op} was placed on the GPU but has no kernel")
                self.steps.append(StepRecord(Kind.HOST, st, [slot[v] for v in node.inputs], outs,
                                             inplace, False))
                continue
            for k, v in enumerate(st.inputs):
                if 0 in shapes[v] and not is_sparse_var(v):   # TVM rejects numpy's strides of
                    if on_dev:                                # empty arrays; nothing is read
                        ins[k] = -1 - k         # any empty device buffer will do (made per call)
                    else:
                        self.const_values.append(
                            (self.n_slots, _tvm.tvm.runtime.empty(*buffer_of(shapes[v], v.type.dtype))))
                        ins[k] = self.n_slots
                        self.n_slots += 1
            t0 = _now()
            if kernels is not None:             # compiled by the signature's first build
                if st.name not in kernels.kernel_names:
                    raise NeedsBuild(st.name)
                self.steps.append(StepRecord(Kind.KERNEL, st, ins, outs, inplace, on_dev, st.name))
                if st.check is not None:
                    self.checks[st.name] = ([slot.get(v, getattr(v, "data", None))
                                             for v in node.inputs], [shapes[v] for v in node.inputs])
                continue
            if reuse is not None and st.name in generic and st.name in reuse.kernel_names:
                self.kernel_src[st.name] = reuse.kernel_src.get(st.name, reuse.backend)
                self.steps.append(StepRecord(Kind.KERNEL, st, ins, outs, inplace, on_dev, st.name))
                if st.check is not None:
                    self.checks[st.name] = ([slot.get(v, getattr(v, "data", None))
                                             for v in node.inputs], [shapes[v] for v in node.inputs])
                continue
            whole = None if st.name in generic else lower_whole(st, shapes, backend.machine_for(on_dev))
            if st.name in generic:
                func = lower_generic(st, generic[st.name], values, backend.machine_for(on_dev))
                t1 = _now()
            elif whole is not None:                                          # (sparse products)
                func = _tvm.relax_alignment(whole, _align_of)
                t1 = _now()
            else:
                placeholders, results = lower_step(st, shapes, values, backend.machine_for(on_dev))
                func = _tvm.prim_func(placeholders + results)
                t1 = _now()
                ctx = ScheduleContext(outputs=[r.op.name for r in results], step=st,
                                      out_dtype=st.outputs[0].type.dtype,
                                      shapes=[shapes[v] for v in node.inputs], values=values,
                                      machine=backend.machine_for(on_dev))
                func, _rule = backend.schedule(func, ctx, on_dev)
            times["lower"] += t1 - t0
            times["schedule"] += _now() - t1
            funcs.setdefault(on_dev, {})[st.name] = func = func.with_attr("global_symbol", st.name)
            if hasattr(backend, "add_kernel"):      # compiled while the next are lowered
                backend.add_kernel(on_dev, st.name, func)
            self.steps.append(StepRecord(Kind.KERNEL, st, ins, outs, inplace, on_dev, st.name))
            if st.check is not None:
                self.checks[st.name] = ([slot.get(v, getattr(v, "data", None))
                                         for v in node.inputs], [shapes[v] for v in node.inputs])
        # the graph variable of each build-time constant computed from shapes (None: fixed),
        # recomputed per shape by runtime/shapefn.py
        inv = {s: v for v, s in slot.items() if v in values and not isinstance(v, Constant)}
        self.const_vars = [inv.get(s) for s, _ in self.const_values]
        host_values = dict(self.const_values)
        self.dev_const_values = [(d, host_values[s]) for s, d in dev_copy.items()]
        self._dev_consts = None
        t0 = _now()
        if kernels is None:
            backend.compile(funcs)
            n_new = sum(len(f) for f in funcs.values())
            build_stats["builds"] += 1 if n_new else 0
            build_stats["kernels"] += n_new
            self.kernel_names = {n for f in funcs.values() for n in f} | set(self.kernel_src)
        else:
            self.kernel_names = kernels.kernel_names
        times["compile"] = _now() - t0
        self.out_slots = [slot[o] for o in fg.outputs]
        self.out_is_input = [o in set(fg.inputs) or isinstance(o, Constant) or o in values
                             for o in fg.outputs]
        self.uses_device = backend.has_device and any(
            r.on_device or r.kind in (Kind.TO_DEVICE, Kind.TO_HOST) for r in self.steps)
        self._bind()

    # ------------------------------------------------------------------ what was built
    @property
    def mod(self):
        return self.backend.mod

    @property
    def lib(self):
        return self.backend.lib

    @property
    def host_lib(self):
        return getattr(self.backend, "host_lib", None)

    @property
    def rules(self):
        return getattr(self.backend, "rules", {})

    @property
    def kernels(self):
        return getattr(self.backend, "kernels", {})

    def as_text(self, stage):
        return self.backend.as_text(stage)

    def clone(self, n_outputs=None, pool=None):
        """This build for another function (``Function.copy``): the same compiled kernels
        (no new build), its own per-call state (buffer pool, update plan).

        ``n_outputs``: keep only the first outputs (the user's, when the copy deletes the
        updates) and drop the steps nothing kept needs.  ``pool``: share that buffer pool
        (``share_memory=True``) instead of starting an empty one.
        """
        b = _copy.copy(self)
        for attr in ("_update_plan", "_donatable", "_given_runners", "_dev_donatable",
                     "_src_memo"):
            b.__dict__.pop(attr, None)
        b.out_slots, b.out_is_input = list(self.out_slots), list(self.out_is_input)
        if n_outputs is not None and n_outputs < len(self.out_slots):
            del b.out_slots[n_outputs:], b.out_is_input[n_outputs:]
            need, keep = set(b.out_slots), []
            for rec in reversed(self.steps):
                if any(s in need for s in rec.out_slots):
                    keep.append(rec)
                    need.update([s for _, s in rec.fn[1]] if rec.kind is Kind.DYN else rec.ins)
            b.steps = keep[::-1]
        b._bind()
        b._pool = {} if pool is None else pool
        return b

    def at_shapes(self, input_shapes, out_shapes, const_values, graph_out_shapes=()):
        """This build at other input shapes of its generic signature (runtime/shapefn.py):
        the same compiled kernels and slots, each record's outputs at ``out_shapes[i]``, the
        build-time constants ``const_values``, the graph outputs' shapes
        ``graph_out_shapes``; its own buffer pool and per-call plans.  Nothing is bound or
        planned again: the records and the fast program are this build's with the new
        shapes put in."""
        b = _copy.copy(self)
        d = b.__dict__
        for attr in ("_update_plan", "_donatable", "_given_runners", "_is_governed", "_full",
                     "_dev_consts", "_general_pool"):
            d.pop(attr, None)
        b.input_shapes = [tuple(s) for s in input_shapes]
        b.times = {"lower": 0.0, "schedule": 0.0, "compile": 0.0}    # (nothing was built)
        shape_of, prog = {}, []
        for brec, row in zip(self.prog, out_shapes):
            outs = []
            for (s, _, dt), shp in zip(brec.outs, row):
                outs.append((s, shp, dt))
                shape_of[s] = shp
            # (one record list: a kernel's record keeps its bound kernel in both)
            prog.append(StepRecord(brec.kind, brec.step, brec.ins, outs, brec.inplace,
                                   brec.on_device, brec.name, brec.fn))
        b.steps = b.prog = prog
        b.const_values = const_values
        if self.shapes:         # (a build loaded from the warm cache keeps none)
            fg = self.plan.fgraph
            shapes = dict(zip(fg.inputs, b.input_shapes))
            for r in prog:
                for v, (_, shp, _) in zip(r.step.outputs, r.outs):
                    shapes[v] = shp
            shapes.update(zip(fg.outputs, graph_out_shapes))
            b.shapes = shapes
        b.values = {}
        don = self.__dict__.get("_donatable")
        if don is not None:     # (which outputs take spares does not depend on the sizes)
            b._donatable = {k: (s, tuple(shape_of[s]), dt) for k, (s, _, dt) in don.items()}
        if self._fast is not None:
            b._fast = [(fn, getargs, tuple([(s, shape_of[s], dt) for s, _, dt in allocs]))
                       for fn, getargs, allocs in self._fast]
            template = list(self._template)
            for s, c in const_values:
                template[s] = c
            b._template = template
            b._pool = {}        # (_fast_records: the base's, they name the same steps)
        return b

    def _bind(self):
        prog = []
        # the bound kernels, shared by every Build running these compiled kernels
        srcs = getattr(self, "kernel_src", {})
        for rec in self.steps:
            if rec.kind is Kind.KERNEL:
                rec = _copy.copy(rec)
                src = srcs.get(rec.name, self.backend)
                fns = src.__dict__.setdefault("_bound_kernels", {})
                fn = fns.get((rec.on_device, rec.name))
                if fn is None:
                    fn = src.kernel(rec.on_device, rec.name)
                    if not rec.on_device and touches_complex(rec.step):
                        fn = complex_args(fn)       # complex arrays as float views
                    if not rec.on_device and touches_sparse(rec.step):
                        fn = sparse_args(fn)        # sparse values as csr arrays
                    fns[(rec.on_device, rec.name)] = fn
                rec.fn = fn
            prog.append(rec)
        self.prog = prog
        # an output listed twice (or merged with another) is returned as separate arrays
        seen = set()
        for k, s in enumerate(self.out_slots):
            if s in seen:
                self.out_is_input[k] = True
            seen.add(s)
        self._fast = None if self.uses_device else self._fast_program()

    # ------------------------------------------------------------------ per-call fast path
    def _fast_program(self):
        """The call as (kernel, argument getter, slots to allocate), when every step is a
        plain host kernel; None otherwise (host, data-dependent or empty steps, transfers and
        checked kernels take ``run``'s general loop).

        An inplace output gets its destroyed input's array (``Elemwise{...}[(0, 0)]``), so a
        dead intermediate buffer is written again; a user's input is never destroyed (the
        inplace stage only picks intermediates).
        """
        fast, template, alias = [], [None] * self.n_slots, {}
        self._fast_slots = []       # per kernel: the slots of its arguments (inputs, outputs)
        self._fast_records = []
        if plan_has_sparse(self.plan):  # scipy.sparse values: run's general loop
            return None
        for s, c in self.const_values:
            template[s] = c
        for rec in self.prog:
            if rec.kind is not Kind.KERNEL or rec.on_device or rec.step.check is not None:
                return None
            allocs, out_slots = [], []
            for o, (s, shape, dtype) in enumerate(rec.outs):
                if o in rec.inplace:                # resolved now: no aliasing work per call
                    alias[s] = alias.get(rec.inplace[o], rec.inplace[o])
                else:
                    allocs.append((s, tuple(shape), np.dtype(dtype)))
                out_slots.append(alias.get(s, s))
            args = tuple(alias.get(i, i) for i in rec.ins) + tuple(out_slots)
            fast.append((rec.fn, _getter(args), tuple(allocs)))
            self._fast_slots.append(args)
            self._fast_records.append(rec)
        self._template = template
        self._pool = {}
        self._out_plan = [(alias.get(s, s), copy) for s, copy in zip(self.out_slots, self.out_is_input)]
        return fast

    def _compile_fast(self, n_out, unpack_single=False, spare_slots=None):
        """The one fast-path compiler: ``runner(args[, spares]) -> outputs`` running the fast
        program with no per-step dispatch (``fast_runner``, ``fast_update_runner``); a
        build big enough to have parallel kernels first lets ``threads.check`` size the
        pool to the machine's free cores."""
        run = self._compile_fast_body(n_out, unpack_single, spare_slots)
        if not self._governed():
            return run
        check = _threads.check

        def governed(*args):
            check()
            return run(*args)
        return governed

    def _governed(self):
        """True when the pool is resized to the machine's load (``runtime/threads.py``) and
        some buffer of this build is large enough for a parallel kernel."""
        if not _threads.enabled() or self.uses_device:
            return False
        g = self.__dict__.get("_is_governed")
        if g is None:
            # (a build loaded from the cache without the compiler knows its steps' shapes only)
            shapes = list(getattr(self, "input_shapes", ()))
            shapes += [sh for rec in self.steps for _, sh, _ in rec.outs]
            g = self._is_governed = any(_threads.large(sh) for sh in shapes)
        return g

    def _compile_fast_body(self, n_out, unpack_single=False, spare_slots=None):
        fast = self._fast
        n_in = len(self.plan.fgraph.inputs)
        template, pool = self._template, self._pool
        out_plan = self._out_plan[:n_out]
        records = self._fast_records
        _refcount, _empty = sys.getrefcount, np.empty
        where = {s: i for i, s in enumerate(spare_slots or ())}
        prog = []
        for fn, getargs, allocs in fast:
            if where and any(a[0] in where for a in allocs):
                given = tuple((s, where[s]) for s, _, _ in allocs if s in where)
                prog.append((fn, getargs, given, tuple(a for a in allocs if a[0] not in where)))
            else:
                prog.append((fn, getargs, (), allocs))
        if (spare_slots is None and len(fast) == 1 and not any(t is not None for t in template)
                and len(out_plan) == 1 and not out_plan[0][1] and len(fast[0][2]) == 1
                and self._fast_slots[0] == tuple(range(n_in)) + (fast[0][2][0][0],)
                and out_plan[0][0] == fast[0][2][0][0]):
            # one kernel f(inputs..., out) with one fresh output: no slot list at all
            fn = fast[0][0]
            s, shape, dtype = fast[0][2][0]

            def run1(args):
                arr = pool.get(s)
                if arr is None or _refcount(arr) > 3:    # pool, arr, getrefcount's argument
                    arr = pool[s] = _empty(shape, dtype)
                try:
                    fn(*args, arr)
                except Exception as e:
                    raise annotate(e, records[0])
                return arr if unpack_single else [arr]
            return run1

        wrap, held = _tensor_wrap()
        if wrap is None:
            return self._run_numpy(prog, n_in, template, pool, out_plan, records, unpack_single)
        # kernel arguments: each pooled intermediate buffer as the TVM tensor made once with it
        # (a numpy argument costs the FFI ~0.25-0.45 us of DLPack conversion per kernel call:
        # ~66 of them per W6 MLP step), the program written out as straight-line Python
        memo = self.__dict__.setdefault("_src_memo", {}).setdefault(
            (n_out, unpack_single, spare_slots), {})    # (shared with at_shapes' builds)
        plain = memo.get("plain")
        if plain is None:
            plain = memo["plain"] = [not touches_complex(rec.step) for rec in records]
        run = straight_line(prog, plain, self._fast_slots, n_in, template, pool, out_plan,
                            records, unpack_single, wrap, held, memo)
        return run or self._run_numpy(prog, n_in, template, pool, out_plan, records, unpack_single)

    @staticmethod
    def _run_numpy(prog, n_in, template, pool, out_plan, records, unpack_single):
        """The fast program with numpy arrays as kernel arguments (no tvm_ffi tensors)."""
        _refcount, _empty = sys.getrefcount, np.empty

        def run(args, spares=()):
            slots = template.copy()
            slots[:n_in] = args
            k = 0
            try:
                for fn, getargs, given, allocs in prog:
                    for s, d in given:
                        slots[s] = spares[d]
                    for s, shape, dtype in allocs:
                        arr = pool.pop(s, None)
                        if arr is None or _refcount(arr) > 2:
                            arr = _empty(shape, dtype)
                        slots[s] = pool[s] = arr
                    fn(*getargs(slots))
                    k += 1
            except Exception as e:
                raise annotate(e, records[k])
            outs = [slots[s].copy() if copy else slots[s] for s, copy in out_plan]
            return outs[0] if unpack_single else outs
        return run

    def pooled(self, slot):
        """The buffer of ``slot`` the fast path keeps for the next call (None: none)."""
        e = self._pool.get(~slot)
        return e[0] if e is not None else self._pool.get(slot)

    def fast_runner(self, n_user, unpack_single):
        """``runner(args) -> outputs`` for Function's fast path, or None.

        ``args`` are the function's inputs only (no shared variables), already checked
        by the caller: exact ndarrays of the right dtypes, C-contiguous, aligned and
        writeable, with a shape signature of this build.  Pooled output buffers are reused
        only when nobody else holds them.
        """
        return None if self._fast is None else self._compile_fast(n_user, unpack_single)

    def fast_update_runner(self, spare_slots):
        """``runner(args, spares) -> every output`` for a function with updates, or None.

        Like ``fast_runner`` (same checked ``args``: the function's inputs then its
        shared variables' values), but returns every output (the updates too) and the
        fresh buffer of slot ``spare_slots[i]`` is ``spares[i]`` (a shared variable's
        spare, ``UpdatePlan.spares``): the same as ``run(arrays, {slot: spare})``.
        """
        if self._fast is None:
            return None
        return self._compile_fast(len(self._out_plan), False, tuple(spare_slots))

    # ------------------------------------------------------------------ the general loop
    def device(self, what="this function"):
        """The device the build's device steps run on, None if it has none."""
        return self.backend.device(what) if self.uses_device else None

    def run(self, arrays, out_storage=None, prof=None, guard=None, keep=(), what="this function"):
        """Every output for ``arrays`` (numpy arrays; device tensors for device-resident
        inputs of a cuda function).

        ``out_storage``: {slot: preallocated array or device tensor} for outputs
        (shared-variable updates).  ``prof``: a list (profiled functions,
        runtime/profiling.py) that gets one record (step, kind, seconds, bytes allocated,
        buffers allocated, output shapes) per executed step.  ``guard(step, outputs)``:
        called after every step (NanGuardMode); may raise.  ``keep``: output positions
        returned as they are (a device tensor stays on the device: shared-variable updates).
        A step that raises names its node and the user's line that built it.
        """
        if self._governed():
            _threads.check()
        if self._fast is not None and prof is None and guard is None:
            # C-contiguous, aligned and writeable (DLPack needs it)
            arrays = [a if a.flags.carray else np.array(a, order="C") for a in arrays]
            return self._fast_for(tuple(sorted(out_storage or ())))(arrays, out_storage)
        tvm = _tvm.tvm
        dev = self.device(what)
        given = out_storage or {}
        slots = [None] * self.n_slots
        for k, a in enumerate(arrays):
            if isinstance(a, np.ndarray):   # (a scipy.sparse value or a device tensor: as it is)
                if not (a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
                    a = np.ascontiguousarray(a) if a.flags.writeable else np.array(a, order="C")
                    if not a.flags.aligned:
                        a = a.copy()
            slots[k] = a            # (else a device tensor: a shared variable's storage)
        for s, c in self.const_values:
            slots[s] = c
        if dev is not None:
            if self._dev_consts is None:
                self._dev_consts = [(s, tvm.runtime.tensor(_c(a), dev))
                                    for s, a in self.dev_const_values]
            for s, c in self._dev_consts:
                slots[s] = c
        pre = getattr(guard, "pre_step", None)      # MonitorMode: called before every step
        fresh = set()       # ids of the arrays this call allocated: the only ones inplace may reuse
        made = set()        # ids of numpy's own results of data-dependent steps (profiles)
        # host buffers kept for the next call (profiles count what a call allocates: none)
        pool = self.__dict__.setdefault("_general_pool", {}) if prof is None else None
        for rec in self.prog:
            if prof is not None:
                t0, before = _now(), set(fresh)
            if pre is not None:
                pre(rec.step, slots, self)
            try:
                res = self._step(rec, slots, given, fresh, made, dev, pool)
            except Exception as e:
                raise annotate(e, rec)
            if prof is not None:
                _record(prof, rec, _now() - t0, slots, (fresh - before) | made)
                made.clear()
            if guard is not None:
                guard(rec.step, res)
        outs = []
        for k, (s, copy) in enumerate(zip(self.out_slots, self.out_is_input)):
            a = slots[s]
            if k in keep:
                outs.append(a)                  # the caller installs it (no copy here)
                continue
            a = _host(a)                        # an output left on the device comes back
            outs.append(a.copy() if copy else a)
        return outs

    def _fast_for(self, given_slots):
        """``run(arrays, given) -> every output`` by the fast program, writing the outputs of
        ``given_slots`` into the given buffers (compiled once per set of slots)."""
        runners = self.__dict__.setdefault("_given_runners", {})
        r = runners.get(given_slots)
        if r is None:
            run = self._compile_fast(len(self._out_plan), False, given_slots)

            def r(arrays, given, _slots=given_slots):
                return run(arrays, [given[s] for s in _slots] if _slots else ())
            runners[given_slots] = r
        return r

    def _step(self, rec, slots, given, fresh, made, dev, pool=None):
        """Run one step; returns its output arrays (for NanGuardMode).  ``pool``: {slot: host
        array} kept across calls; a slot's array is reused when nobody else holds it any more
        (reference count: not returned, no view of it alive), as the fast path's pool: a fresh
        multi-megabyte array costs a page fault per 4 KB written."""
        kind = rec.kind
        if kind is Kind.HOST and pool is not None and getattr(rec.node.op, "owns_outputs", False) \
                and not rec.on_device:
            res = _own_outputs(rec, slots, given)
            if res is not None:
                return res
        if kind is Kind.TO_DEVICE:
            t = slots[rec.outs[0][0]] = _tvm.tvm.runtime.tensor(_c(slots[rec.ins[0]]), dev)
            fresh.add(id(t))
            return [t]
        if kind is Kind.TO_HOST:
            s = rec.outs[0][0]
            a = slots[rec.ins[0]]
            slots[s] = a if isinstance(a, np.ndarray) else a.numpy()
            if s in given:
                given[s][...] = slots[s]
                slots[s] = given[s]
            return [slots[s]]
        if kind is Kind.DYN:                    # data-dependent shapes: numpy on the host
            res = []
            for (s, _, dtype), v in zip(rec.outs, _dyn_run(rec.fn, _HostView(slots))):
                if is_sparse_value(v):          # a scipy result (sparse/structured.py)
                    slots[s] = v
                    res.append(v)
                    continue
                v = np.asarray(v, dtype=dtype)
                if rec.on_device:
                    v = _tvm.tvm.runtime.tensor(_c(v), dev)
                    fresh.add(id(v))
                elif s in given:
                    given[s][...] = v
                    v = given[s]
                elif v.base is None:
                    made.add(id(v))     # numpy's result; may be an input: inplace never reuses it
                slots[s] = v
                res.append(v)
            return res
        if kind is Kind.HOST and sparse_outputs(rec.step):  # scipy results kept as they are
            vals = perform(rec.node, [slots[i] for i in rec.ins])
            for (s, _, _), v in zip(rec.outs, vals):
                slots[s] = v
            return list(vals)
        on_dev = rec.on_device
        if kind is Kind.KERNEL and pool is not None and rec.name in self._reshape_views():
            a = slots[rec.ins[0]]
            s, shape, _ = rec.outs[0]
            if s not in given and isinstance(a, np.ndarray) and a.flags.c_contiguous:
                slots[s] = a.reshape(shape)     # a view: no kernel, no copy (never in fresh:
                return [slots[s]]               # no inplace kernel writes through it)
        res = []
        for o, (s, shape, dtype) in enumerate(rec.outs):
            arr = slots[rec.inplace[o]] if o in rec.inplace else given.get(s)
            if o in rec.inplace and id(arr) not in fresh:
                arr = None      # e.g. a data-dependent step's view of an input: never destroy
            if arr is not None and on_dev == isinstance(arr, np.ndarray):
                arr = None      # a buffer on the other side cannot take this step's output
            if arr is None:
                if on_dev:
                    arr = _tvm.tvm.runtime.empty(shape, dtype, dev)
                elif pool is not None:
                    arr = pool.get(s)
                    if arr is None or sys.getrefcount(arr) > 3 or arr.shape != tuple(shape) \
                            or arr.dtype != dtype:      # (pool, arr, getrefcount's argument)
                        arr = pool[s] = np.empty(shape, dtype)
                else:
                    arr = np.empty(shape, dtype)
                fresh.add(id(arr))
            slots[s] = arr
            res.append(arr)
        if kind is Kind.KERNEL:
            st = rec.step
            if st.check is not None:        # reads index data: a device array comes back
                spec, in_shapes = self.checks[rec.name]
                st.check(st.node, [_host(slots[a]) if isinstance(a, int) else a for a in spec],
                         in_shapes)
            if self.backend.has_device:
                rec.fn(*[self._arg(slots, rec, k, i, dev) for k, i in enumerate(rec.ins)], *res)
            else:
                rec.fn(*[slots[i] for i in rec.ins], *res)
        elif kind is Kind.HOST and on_dev:     # the communication backend reads/writes tensors
            rec.node.op.perform_on_device(
                rec.node, [self._arg(slots, rec, k, i, dev) for k, i in enumerate(rec.ins)], res)
        elif kind is Kind.HOST:
            vals = perform(rec.node, [_host(slots[i]) for i in rec.ins])
            for arr, v in zip(res, vals):
                arr[...] = v
        return res

    def _reshape_views(self):
        """Names of the reshape kernels (``Reshape``/``Flatten``/``Squeeze`` of a buffer read
        as it is) the general loop runs as numpy views of their input: an intermediate result
        only (never a function input, shared storage or constant, so no returned array
        aliases those)."""
        names = self.__dict__.get("_reshape_view_names")
        if names is None:
            from ..symbolic.ops.rearrange import Squeeze
            from ..symbolic.ops.reshape import Flatten, Reshape
            fixed = set(range(len(self.plan.fgraph.inputs))) | {s for s, _ in self.const_values}
            names = self._reshape_view_names = frozenset(
                rec.name for rec in self.prog
                if rec.kind is Kind.KERNEL and not rec.on_device
                and type(rec.node.op) in (Reshape, Flatten, Squeeze)
                and rec.step.check is None and not rec.step.inlined and not rec.inplace
                and len(rec.outs) == 1 and rec.ins and rec.ins[0] >= 0
                and rec.ins[0] not in fixed and rec.step.inputs
                and rec.step.inputs[0] is rec.node.inputs[0]
                and rec.node.inputs[0].type.dtype == rec.node.outputs[0].type.dtype)
        return names

    def _arg(self, slots, rec, k, i, dev):
        """Kernel argument ``k`` (slot ``i``) on the side the kernel runs on."""
        on_dev = rec.on_device
        if i >= 0:
            a = slots[i]
            if on_dev == isinstance(a, np.ndarray):    # on the other side: copy across
                a = _tvm.tvm.runtime.tensor(_c(a), dev) if on_dev else a.numpy()
            return a
        v = rec.step.inputs[k]                  # an empty input: any empty buffer will do
        shape, dtype = self.shapes[v], v.type.dtype
        return _tvm.tvm.runtime.empty(shape, dtype, dev) if on_dev else np.empty(shape, dtype)

    def donatable(self, outputs):
        """{output position: (slot, shape, dtype)}: the outputs among ``outputs`` that the
        step computing them may write into given storage (a shared variable's spare buffer).

        The output's buffer must be fresh (made by a kernel or a host step, perhaps then
        overwritten in place by later ones; on a cuda build, by a device kernel), returned
        once, and not an input.
        """
        fresh, destroys = {}, {}
        for rec in self.steps:
            if rec.kind not in (Kind.KERNEL, Kind.HOST):
                continue
            for o, (s, shape, dtype) in enumerate(rec.outs):
                if o in rec.inplace:
                    destroys[s] = rec.inplace[o]     # written over the buffer of slot inplace[o]
                elif rec.on_device or not self.uses_device:
                    fresh[s] = (tuple(shape), dtype)
                else:
                    destroys[s] = -1
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


def CudaBuild(plan, input_shapes, target, loopback=False):
    """A build of ``plan`` for a cuda target (``loopback``: tvm.cpu(0) as the device)."""
    return Build(plan, input_shapes, target, loopback=loopback)


def _host(a):
    return a if isinstance(a, np.ndarray) or not hasattr(a, "numpy") else a.numpy()


def _own_outputs(rec, slots, given):
    """The results of a host op whose ``perform`` returns arrays of its own (``owns_outputs``:
    ``Scan``/``ScanGrad``, new arrays or views of buffers the op keeps) taken as they are, with
    no copy into a buffer of ours (the LSTM's stacked states and saved gates: ~7 MB per call);
    None (the caller copies) when one is not a C-contiguous, aligned, writeable array of its
    output's shape and dtype, may overlap an input, or has a given buffer."""
    ins = [slots[i] for i in rec.ins]
    vals = perform(rec.node, [_host(a) for a in ins])
    if len(vals) != len(rec.outs):
        return None
    for (s, shape, dtype), v in zip(rec.outs, vals):
        if s in given or not isinstance(v, np.ndarray) or not v.flags.carray \
                or v.shape != tuple(shape) or v.dtype != dtype:
            break
        if any(isinstance(a, np.ndarray) and np.may_share_memory(v, a) for a in ins):
            break
    else:
        for (s, _, _), v in zip(rec.outs, vals):
            slots[s] = v
        return list(vals)
    res = []        # (perform ran once: copy its results as the general path does)
    for (s, shape, dtype), v in zip(rec.outs, vals):
        arr = given.get(s)
        if arr is None:
            arr = np.empty(shape, dtype)
        arr[...] = v
        slots[s] = arr
        res.append(arr)
    return res


class _HostView:
    """``slots`` read on the host (device arrays copied back on access)."""

    def __init__(self, slots):
        self.slots = slots

    def __getitem__(self, s):
        return _host(self.slots[s])


def _record(prof, rec, dt, slots, new):
    """A profiled step's record; ``new``: ids of the arrays the step allocated."""
    nbytes, seen = 0, set()
    for s, _, _ in rec.outs:
        a = slots[s]
        if id(a) in new and id(a) not in seen:
            seen.add(id(a))
            nbytes += a.nbytes
    kind = "tvm" if rec.kind is Kind.KERNEL else rec.kind.value
    prof.append((rec.step, kind, dt, nbytes, len(seen), [shape for _, shape, _ in rec.outs]))


_WRAP = []


def _tensor_wrap():
    """(wrap, held): ``wrap(array)`` -> a tvm_ffi tensor viewing the array (any alignment:
    the kernels declare their buffers' real alignment), or the array itself when it has no
    DLPack form; ``held``: the references to a pooled array that its (array, tensor) pair,
    the tensor's DLPack context and ``sys.getrefcount``'s argument make (more: someone
    else holds it).  (None, 0) without tvm_ffi."""
    if not _WRAP:
        try:
            import tvm_ffi
            from_dlpack = tvm_ffi.from_dlpack

            def wrap(a):
                try:
                    return from_dlpack(a, require_alignment=0)
                except Exception:   # noqa: BLE001  (a dtype DLPack lacks: the array as it is)
                    return a
            probe = np.empty(1)
            e = (probe, wrap(probe))
            del probe
            _WRAP.append((wrap, sys.getrefcount(e[0])))
        except Exception:   # noqa: BLE001
            _WRAP.append((None, 0))
    return _WRAP[0]


def _getter(slots):
    """slots list -> the tuple of a kernel's arguments (itemgetter: ~0.2 us less than a loop)."""
    if len(slots) == 1:
        return lambda sl, _i=slots[0]: (sl[_i],)
    return operator.itemgetter(*slots)


def _dyn_spec(st, slot):
    """A step whose shapes are known only at run time (data-dependent): run with numpy."""
    return (st.node, [(v, slot[v]) for v in st.inputs if v in slot], list(reversed(st.inlined)))


def _dyn_run(spec, slots):
    node, pairs, inlined = spec
    env = {v: slots[s] for v, s in pairs}
    for n in inlined + [node]:
        vals = perform(n, [env[i] if i in env else i.data for i in n.inputs])
        env.update(zip(n.outputs, vals))
    return [env[o] for o in node.outputs]


def _needs_runtime_values(node, runtime):
    """A node sized by input values (runtime) whose kernel would need them at build time."""
    if not runtime:
        return False
    from ..lowering.lower import value_positions
    pos = [k for k in value_positions(node, inner_for) if node.inputs[k] in runtime]
    return bool(pos) and not getattr(node.op, "runtime_values_ok", lambda n, p: False)(node, pos)
