"""One build of a function for one input-shape signature, and its per-call loop."""
from __future__ import annotations

import copy as _copy
import operator
import sys
from time import perf_counter as _now

import numpy as np

from .. import _tvm
from ..lowering.lower import infer_shapes, lower_step, value_positions, zero_size
from ..schedules import ScheduleContext, schedule
from ..symbolic.graph import Constant
from ..targets import build as target_build
from .inner import inner_for, perform


def _align_of(dtype):
    # numpy guarantees element alignment only (arrays are usually 16 mod 64)
    return max(1, np.dtype(dtype if dtype != "bool" else "bool").itemsize)


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
    """Kernels of a plan built for concrete input shapes; ``run(arrays)`` executes them."""

    def __init__(self, plan, input_shapes, target, input_values=None):
        self.plan = plan
        self.target = target
        fg = plan.fgraph
        values, runtime = {}, set()   # build-time values of shape arithmetic (lower.infer_shapes)
        self.shapes = shapes = infer_shapes(plan, input_shapes, values, input_values, runtime,
                                            inner_for)
        # values derived from input values (x[i:i + n]) size this build but are read at run time
        self.values = values = {v: a for v, a in values.items() if v not in runtime}
        # storage slots: one per buffer variable
        slot, consts = assign_slots(fg, plan.steps, lambda st: st.inputs + st.outputs)
        self.slot = slot
        self.n_slots = len(slot)
        # writable copies: DLPack refuses read-only arrays
        self.const_values = [(slot[c], np.array(c.data, order="C")) for c in consts]
        funcs = {}
        machine = target.machine        # the host's vector width and threads, read once
        self.steps = []
        self.sources = {}
        self.times = times = {"lower": 0.0, "schedule": 0.0, "compile": 0.0}   # profiles read them
        self.checks = {}
        for st in plan.steps:
            outs = [(slot[o], shapes[o], o.type.dtype) for o in st.outputs]
            if all(o in values for o in st.outputs):      # shape arithmetic, known at build time
                self.const_values += [(slot[o], values[o]) for o in st.outputs]
                continue
            if any(shapes[v] is None for v in list(st.node.inputs) + st.outputs) or \
                    _needs_runtime_values(st.node, runtime) or (
                    len(st.outputs) > 1 and zero_size(shapes, st)
                    and not all(0 in shapes[o] for o in st.outputs)):   # some outputs empty: numpy
                self.steps.append(("dyn", _dyn_spec(st, slot), None, outs, {}, st))
                continue
            ins = [slot[v] for v in st.inputs]
            inplace = dict(getattr(st.node.op, "destroy_map", {}) or {})
            inplace = {o: slot[st.node.inputs[i[0]]] for o, i in inplace.items()
                       if st.node.inputs[i[0]] not in values}   # build-time values are shared
            if zero_size(shapes, st):
                self.steps.append(("empty", None, ins, outs, inplace, st))
                continue
            if st.kind == "host":
                self.steps.append(("host", st.node, [slot[v] for v in st.node.inputs], outs, inplace, st))
                continue
            for k, v in enumerate(st.inputs):
                if 0 in shapes[v]:   # TVM rejects numpy's strides of empty arrays; nothing is read
                    self.const_values.append((self.n_slots, _tvm.tvm.runtime.empty(shapes[v], v.type.dtype)))
                    ins[k] = self.n_slots
                    self.n_slots += 1
            t0 = _now()
            placeholders, results = lower_step(st, shapes, values, machine)
            func = _tvm.te.create_prim_func(placeholders + results)
            func = _tvm.relax_alignment(func, _align_of)
            t1 = _now()
            func = schedule(func, target.kind, ScheduleContext(
                outputs=[r.op.name for r in results], step=st, out_dtype=st.outputs[0].type.dtype,
                shapes=[shapes[v] for v in st.node.inputs], values=values, machine=machine))
            times["lower"] += t1 - t0
            times["schedule"] += _now() - t1
            funcs[st.name] = func.with_attr("global_symbol", st.name)
            self.steps.append(("tvm", st.name, ins, outs, inplace, st))
            if st.check is not None:
                self.checks[st.name] = ([slot.get(v, getattr(v, "data", None)) for v in st.node.inputs],
                                        [shapes[v] for v in st.node.inputs])
        self.mod = _tvm.tvm.IRModule(funcs) if funcs else None
        t0 = _now()
        self.lib = target_build(self.mod, target) if funcs else None
        times["compile"] = _now() - t0
        self.out_slots = [slot[o] for o in fg.outputs]
        self.out_is_input = [o in set(fg.inputs) or isinstance(o, Constant) or o in values
                             for o in fg.outputs]
        self._bind()

    def clone(self, n_outputs=None, pool=None):
        """This build for another function (``Function.copy``): the same compiled kernels
        (no new build), its own per-call state (buffer pool, update plan).

        ``n_outputs``: keep only the first outputs (the user's, when the copy deletes the
        updates) and drop the steps nothing kept needs.  ``pool``: share that buffer pool
        (``share_memory=True``) instead of starting an empty one.
        """
        b = _copy.copy(self)
        for attr in ("_update_plan", "_donatable"):
            b.__dict__.pop(attr, None)
        b.out_slots, b.out_is_input = list(self.out_slots), list(self.out_is_input)
        if n_outputs is not None and n_outputs < len(self.out_slots):
            del b.out_slots[n_outputs:], b.out_is_input[n_outputs:]
            need, keep = set(b.out_slots), []
            for step in reversed(self.steps):
                kind, fn, ins, outs, inplace, st = step
                if any(s in need for s, _, _ in outs):
                    keep.append(step)
                    need.update([s for _, s in fn[1]] if kind == "dyn" else ins)
            b.steps = keep[::-1]
        b._bind()
        b._pool = {} if pool is None else pool
        return b

    def _bind(self):
        prog = []
        for kind, fn, ins, outs, inplace, st in self.steps:
            if kind == "tvm":
                fn = self.lib[fn]
            prog.append((kind, fn, ins, outs, inplace, st))
        self.prog = prog
        # an output listed twice (or merged with another) is returned as separate arrays
        seen = set()
        for k, s in enumerate(self.out_slots):
            if s in seen:
                self.out_is_input[k] = True
            seen.add(s)
        self._fast = self._fast_program()

    # ------------------------------------------------------------------ per-call fast path
    def _fast_program(self):
        """The call as (kernel, argument slots, slots to allocate), when every step is a plain
        kernel; None otherwise (host, data-dependent or empty steps take ``run``'s general loop).

        An inplace output gets its destroyed input's array (``Elemwise{...}[(0, 0)]``), so a
        dead intermediate buffer is written again; a user's input is never destroyed (the
        inplace stage only picks intermediates).
        """
        fast, template, alias = [], [None] * self.n_slots, {}
        self._fast_slots = []       # per kernel: the slots of its arguments (inputs, outputs)
        for s, c in self.const_values:
            template[s] = c
        for kind, fn, ins, outs, inplace, st in self.prog:
            if kind != "tvm" or getattr(st, "check", None) is not None:
                return None
            allocs, out_slots = [], []
            for o, (s, shape, dtype) in enumerate(outs):
                if o in inplace:                    # resolved now: no aliasing work per call
                    alias[s] = alias.get(inplace[o], inplace[o])
                else:
                    allocs.append((s, tuple(shape), np.dtype(dtype)))
                out_slots.append(alias.get(s, s))
            args = tuple(alias.get(i, i) for i in ins) + tuple(out_slots)
            fast.append((fn, _getter(args), tuple(allocs)))
            self._fast_slots.append(args)
        self._template = template
        self._pool = {}
        self._out_plan = [(alias.get(s, s), copy) for s, copy in zip(self.out_slots, self.out_is_input)]
        return fast

    def _run_fast(self, arrays, given=None, _refcount=sys.getrefcount, _empty=np.empty):
        slots = self._template.copy()
        k = 0
        for a in arrays:
            if not a.flags.carray:          # C-contiguous, aligned and writeable (DLPack needs it)
                a = np.array(a, order="C")
            slots[k] = a
            k += 1
        pool = self._pool
        for fn, args, allocs in self._fast:
            for s, shape, dtype in allocs:
                if given and s in given:        # a shared variable's spare buffer (updates)
                    slots[s] = given[s]
                    continue
                # Reuse last call's buffer when nothing outside holds it any more (Theano's
                # output storage reuse, without its aliasing): a large fresh np.empty costs
                # page faults on every call.
                arr = pool.pop(s, None)
                if arr is None or _refcount(arr) > 2:
                    arr = _empty(shape, dtype)
                slots[s] = pool[s] = arr
            fn(*args(slots))
        return [slots[s].copy() if copy else slots[s] for s, copy in self._out_plan]

    def fast_runner(self, n_user, unpack_single):
        """``runner(args) -> outputs`` for Function's fast path, or None.

        ``args`` are the function's inputs only (no shared variables), already checked
        by the caller: exact ndarrays of the right dtypes, C-contiguous, aligned and
        writeable, with a shape signature of this build.  Same semantics as
        ``_run_fast`` (pooled output buffers reused only when nobody else holds them).
        """
        fast = self._fast
        if fast is None:
            return None
        n_in = len(self.plan.fgraph.inputs)
        template, pool = self._template, self._pool
        out_plan = self._out_plan[:n_user]
        _refcount, _empty = sys.getrefcount, np.empty
        if (len(fast) == 1 and not any(t is not None for t in template) and len(out_plan) == 1
                and not out_plan[0][1] and len(fast[0][2]) == 1
                and self._fast_slots[0] == tuple(range(n_in)) + (fast[0][2][0][0],)
                and out_plan[0][0] == fast[0][2][0][0]):
            # one kernel f(inputs..., out) with one fresh output: no slot list at all
            fn = fast[0][0]
            s, shape, dtype = fast[0][2][0]

            def run1(args):
                arr = pool.get(s)
                if arr is None or _refcount(arr) > 3:    # pool, arr, getrefcount's argument
                    arr = pool[s] = _empty(shape, dtype)
                fn(*args, arr)
                return arr if unpack_single else [arr]
            return run1

        def run(args):
            slots = template.copy()
            slots[:n_in] = args
            for fn, getargs, allocs in fast:
                for s, shape, dtype in allocs:
                    arr = pool.pop(s, None)
                    if arr is None or _refcount(arr) > 2:
                        arr = _empty(shape, dtype)
                    slots[s] = pool[s] = arr
                fn(*getargs(slots))
            outs = [slots[s].copy() if copy else slots[s] for s, copy in out_plan]
            return outs[0] if unpack_single else outs
        return run

    def fast_update_runner(self, spare_slots):
        """``runner(args, spares) -> every output`` for a function with updates, or None.

        Like ``fast_runner`` (same checked ``args``: the function's inputs then its
        shared variables' values), but returns every output (the updates too) and the
        fresh buffer of slot ``spare_slots[i]`` is ``spares[i]`` (a shared variable's
        spare, ``UpdatePlan.spares``): the same as ``run(arrays, {slot: spare})``.
        """
        fast = self._fast
        if fast is None:
            return None
        n_in = len(self.plan.fgraph.inputs)
        template, pool, out_plan = self._template, self._pool, self._out_plan
        where = {s: i for i, s in enumerate(spare_slots)}
        prog = []
        for fn, getargs, allocs in fast:
            given = tuple((s, where[s]) for s, _, _ in allocs if s in where)
            allocs = tuple(a for a in allocs if a[0] not in where)
            prog.append((fn, getargs, given, allocs))
        _refcount, _empty = sys.getrefcount, np.empty

        def run(args, spares):
            slots = template.copy()
            slots[:n_in] = args
            for fn, getargs, given, allocs in prog:
                for s, d in given:
                    slots[s] = spares[d]
                for s, shape, dtype in allocs:
                    arr = pool.pop(s, None)
                    if arr is None or _refcount(arr) > 2:
                        arr = _empty(shape, dtype)
                    slots[s] = pool[s] = arr
                fn(*getargs(slots))
            return [slots[s].copy() if copy else slots[s] for s, copy in out_plan]
        return run

    def run(self, arrays, out_storage=None, prof=None, guard=None):
        """Every output for ``arrays``.

        ``out_storage``: {slot: preallocated array} for outputs (shared-variable updates).
        ``prof``: a list (profiled functions, runtime/profiling.py) that gets one record
        (step, kind, seconds, bytes allocated, buffers allocated, output shapes) per
        executed step; profiled calls always take this general loop.
        ``guard(step, outputs)``: called after every step (NanGuardMode); may raise.
        """
        if self._fast is not None and prof is None and guard is None:
            return self._run_fast(arrays, out_storage)
        given = out_storage or {}
        slots = [None] * self.n_slots
        for k, a in enumerate(arrays):
            if not (a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
                a = np.ascontiguousarray(a) if a.flags.writeable else np.array(a, order="C")
                if not a.flags.aligned:
                    a = a.copy()
            slots[k] = a
        for s, c in self.const_values:
            slots[s] = c
        fresh = set()       # ids of the arrays this call allocated: the only ones inplace may reuse
        for kind, fn, ins, outs, inplace, st in self.prog:
            if prof is not None:
                t0, before = _now(), set(fresh)
            if kind == "dyn":
                for (s, _, dtype), v in zip(outs, _dyn_run(fn, slots)):
                    v = np.asarray(v, dtype=dtype)
                    if s in given:
                        given[s][...] = v
                        v = given[s]
                    slots[s] = v
                if prof is not None:     # numpy's own results (not views, not given buffers)
                    new = {id(slots[s]) for s, _, _ in outs
                           if s not in given and slots[s].base is None}
                    _record(prof, st, kind, _now() - t0, slots, outs, new)
                if guard is not None:
                    guard(st, [slots[s] for s, _, _ in outs])
                continue
            res = []
            for o, (s, shape, dtype) in enumerate(outs):
                arr = slots[inplace[o]] if o in inplace else given.get(s)
                if o in inplace and id(arr) not in fresh:
                    arr = None      # e.g. a data-dependent step's view of an input: never destroy
                if arr is None:
                    arr = np.empty(shape, dtype)
                    fresh.add(id(arr))
                slots[s] = arr
                res.append(arr)
            if kind == "tvm":
                if st.check is not None:
                    spec, in_shapes = self.checks[st.name]
                    st.check(st.node, [slots[a] if isinstance(a, int) else a for a in spec], in_shapes)
                fn(*[slots[i] for i in ins], *res)
            elif kind == "host":
                vals = perform(fn, [slots[i] for i in ins])
                for arr, v in zip(res, vals):
                    arr[...] = v
            if prof is not None:
                _record(prof, st, kind, _now() - t0, slots, outs, fresh - before)
            if guard is not None:
                guard(st, res)
        outs = []
        for s, copy in zip(self.out_slots, self.out_is_input):
            a = slots[s]
            outs.append(a.copy() if copy else a)
        return outs

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


def _record(prof, st, kind, dt, slots, outs, new):
    """A profiled step's record; ``new``: ids of the arrays the step allocated."""
    nbytes, seen = 0, set()
    for s, _, _ in outs:
        a = slots[s]
        if id(a) in new and id(a) not in seen:
            seen.add(id(a))
            nbytes += a.nbytes
    prof.append((st, kind, dt, nbytes, len(seen), [shape for _, shape, _ in outs]))


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
    pos = [k for k in value_positions(node, inner_for) if node.inputs[k] in runtime]
    return bool(pos) and not getattr(node.op, "runtime_values_ok", lambda n, p: False)(node, pos)
