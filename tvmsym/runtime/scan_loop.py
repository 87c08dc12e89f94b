"""A compiled loop: one host call runs every step of a scan.

The body of a scan (or the reverse loop's vector-Jacobian product) is built like any
function: a list of TVM kernels over numbered storage slots (``executor.Build``'s fast
program).  ``LoopProgram`` binds each slot to a place:

* a row of an array that moves with the step (a sequence tap, a recurrent output's tap
  and the row it writes, a non-recurrent output's row, an accumulator of the gradient),
* a whole array (a non-sequence, a constant, an intermediate buffer: allocated once per
  call and reused by every step),

and generates one TVM function (``scan_loop``) holding the loop over the steps.  Each
iteration calls the body's kernels by name (``T.call_packed``) with DLTensors made on its
stack whose data pointers point at the step's rows, so no Python runs per step and nothing
is allocated per step.  A row's index is ``(P[3v] + P[3v+1] * i) mod P[3v+2]`` for loop
iteration ``i``: the caller gives the table ``P`` per call (direction, tap offsets; ``mod
2`` alternates the two rows of a state fed back, e.g. a shared variable's update).

``LoopProgram.make`` returns None (with the reason in ``why``) when the build is not a
plain list of host kernels (host or data-dependent steps, device kernels, checked indexing,
complex or sparse values) or when an output cannot be written where it belongs (an output
that is an input or a constant): the caller then runs the host loop (``runtime/scan.py``).
"""
from __future__ import annotations

import itertools
import weakref

import numpy as np

from .. import _tvm
from .complex_support import touches_complex

_BIG = 1 << 62          # the modulus of a row that only moves forward or backward
_names = itertools.count()
_PROGRAMS = weakref.WeakKeyDictionary()     # build -> {places: LoopProgram or why}
_LOOPS = {}     # (source, kernel library ids) -> (compiled loop, its libraries)
#: compiled loop functions (a ``tvm.compile`` each), process-wide
loop_stats = {"compiled": 0}


class Unsupported(Exception):
    """This loop cannot be compiled; the message says why (the host loop runs it)."""


def _runtime_module(lib):
    m = getattr(lib, "mod", lib)
    return getattr(m, "_loaded", m)


def _zero(dtype):
    if dtype == "bool":
        return "T.bool(False)"
    return f"T.{dtype}(0)"


class LoopProgram:
    """The compiled loop of one build (``executor.Build``) for one binding of its inputs and
    outputs to places.

    ``in_places[i]`` / ``out_places[j]``: for the build's input i / output j, ``(key,
    vid)``: array ``key``, row ``vid`` of the row table (``vid`` None: the whole array).
    ``run(arrays, table, count)`` runs ``count`` iterations; ``arrays``: {key: C-contiguous
    array}; ``table``: int64 array of 3 entries per row (see the module docstring).
    """

    def __init__(self, b, in_places, out_places):
        if b._fast is None:
            raise Unsupported("the body is not a plain list of host kernels")
        fg = b.plan.fgraph
        n_in = len(fg.inputs)
        if len(in_places) != n_in or len(out_places) != len(b._out_plan):
            raise Unsupported("the body's inputs or outputs do not match the loop")
        info = {}       # slot -> (shape, dtype)
        for s, v in enumerate(fg.inputs):
            info[s] = (tuple(b.shapes[v]), v.type.dtype)
        for s, c in enumerate(b._template):
            if c is not None:
                info[s] = (tuple(np.shape(c)), str(np.asarray(c).dtype) if
                           isinstance(c, np.ndarray) else str(c.dtype))
        for _, _, allocs in b._fast:
            for s, shape, dtype in allocs:
                info[s] = (tuple(shape), str(dtype))
        place = {s: p for s, p in enumerate(in_places)}
        for j, ((s, copy), p) in enumerate(zip(b._out_plan, out_places)):
            if s < n_in:
                if in_places[s] != p:
                    raise Unsupported(f"output {j} of the body is one of its inputs")
                continue
            if copy or b._template[s] is not None:
                raise Unsupported(f"output {j} of the body is a constant or another output")
            if s in place:
                raise Unsupported(f"output {j} of the body shares its buffer with another")
            place[s] = p
        for rec in b._fast_records:
            if touches_complex(rec.step):
                raise Unsupported("complex values")
        self.whole = {}     # key of an array the loop allocates -> (shape, dtype)
        for s, (shape, dtype) in info.items():
            if s not in place:
                key = ("const", s) if b._template[s] is not None else ("tmp", s)
                place[s] = (key, None)
                if key[0] == "tmp":
                    self.whole[key] = (shape, dtype)
        self.consts = {("const", s): np.ascontiguousarray(c).reshape(-1)
                       for s, c in enumerate(b._template) if c is not None
                       and isinstance(c, np.ndarray) and place[s][0] == ("const", s)}
        if any(("const", s) == place[s][0] for s, c in enumerate(b._template)
               if c is not None and not isinstance(c, np.ndarray)):
            raise Unsupported("a constant that is not a host array")
        self.info, self.place = info, place
        keys = []
        for s in sorted(place):
            k = place[s][0]
            if k not in keys:
                keys.append(k)
        self.keys = keys
        self.dtypes = {}
        for s, (k, _) in place.items():
            dt = info[s][1]
            if self.dtypes.setdefault(k, dt) != dt:
                raise Unsupported(f"array {k} is read with two dtypes")
        # An output written by a chain of kernels (one computes it, later ones overwrite it
        # in place: ``Elemwise{add}[(0, 1)]``) gets its place only from the last write on:
        # before that it lives in a buffer of its own, so no kernel overwrites a row that a
        # later kernel still reads (an accumulator summed into itself)
        out_roots = {s for s in place if s >= n_in and place[s][0][0] not in ("const", "tmp")}
        last = {}
        for c, (rec, slots) in enumerate(zip(b._fast_records, b._fast_slots)):
            for s in slots[len(slots) - len(rec.outs):]:
                if s in out_roots:
                    last[s] = c
        calls = []
        for c, (rec, slots) in enumerate(zip(b._fast_records, b._fast_slots)):
            n_ins = len(slots) - len(rec.outs)
            views = []
            for a, s in enumerate(slots):
                if s in out_roots and (c < last[s] or (c == last[s] and a < n_ins)):
                    key = ("tmp", s)
                    self.whole[key] = self.info[s]
                    if key not in self.keys:
                        self.keys.append(key)
                        self.dtypes[key] = self.info[s][1]
                    views.append((key, None) + self._view(s)[2:])
                else:
                    views.append(self._view(s))
            calls.append((rec.name, views))
        self.rows = {}      # vid -> (key, elements per row)
        for _, args in calls:
            for key, vid, _, _, size in args:
                if vid is not None and self.rows.setdefault(vid, (key, size)) != (key, size):
                    raise Unsupported(f"row {vid} is read with two shapes")
        self.fn = self._compile(b, calls)

    def _view(self, s):
        key, vid = self.place[s]
        shape, dtype = self.info[s]
        return key, vid, shape, dtype, int(np.prod(shape, dtype=np.int64))

    def _compile(self, b, calls):
        """The loop function, generated with every extent and row size read from the int64
        table ``D`` (``self.dims``), so builds of one shape-generic signature (a new batch)
        share one compiled loop: compiled once per source text and kernel libraries."""
        tvm = _tvm.tvm
        idx = {k: i for i, k in enumerate(self.keys)}
        params = ", ".join([f"a{i}: T.handle" for i in range(len(self.keys))] +
                           ["p: T.handle", "d: T.handle", "count: T.int64"])
        lines = ["# from tvm.script import tirx as T", "@T.prim_func",
                 "def NAME(" + params + "):",
                 '    T.func_attr({"global_symbol": "NAME"})']
        for k, i in idx.items():
            dt = self.dtypes[k]
            lines.append(f"    m{i} = T.int64()")
            lines.append(f'    A{i} = T.match_buffer(a{i}, (m{i},), "{dt}", '
                         f"align={np.dtype(dt).itemsize}, offset_factor=1)")
        lines.append("    np_ = T.int64()")
        lines.append('    P = T.match_buffer(p, (np_,), "int64", align=8, offset_factor=1)')
        lines.append("    nd_ = T.int64()")
        lines.append('    D = T.match_buffer(d, (nd_,), "int64", align=8, offset_factor=1)')
        lines.append("    for i in range(count):")
        dims = []
        for kname, args in calls:
            arr = []
            for key, vid, shape, dtype, size in args:
                a = f"A{idx[key]}"
                if vid is None:
                    ptr = f"T.address_of({a}[T.int64(0)])"
                else:
                    row = (f"T.floormod(P[{3 * vid}] + P[{3 * vid + 1}] * i, P[{3 * vid + 2}])")
                    ptr = f"T.address_of({a}[{row} * D[{len(dims)}]])"
                    dims.append(size)
                ds = []
                for d in shape:
                    ds.append(f"D[{len(dims)}]")
                    dims.append(d)
                arr.append(f"T.tvm_stack_make_array({ptr}, T.tvm_stack_make_shape("
                           f"{', '.join(ds) or 'T.int64(1)'}), 0, "
                           f"{len(shape)}, {_zero(dtype)}, 0)")
            lines.append(f'        T.evaluate(T.call_packed("{kname}", {", ".join(arr)}))')
        self.dims = np.array(dims or [0], dtype=np.int64)
        src = "\n".join(lines) + "\n"
        # the body's own library and those of the builds whose shape-generic kernels it
        # reuses (runtime/generic.py: Build.kernel_src), so every kernel name resolves
        libs = []
        for source in [b.backend, *getattr(b, "kernel_src", {}).values()]:
            lib = getattr(source, "lib", None)
            if lib is not None and all(lib is not seen for seen in libs):
                libs.append(lib)
        if not libs:
            raise Unsupported("the body's kernel library cannot be imported (no kernel library)")
        ckey = (src, tuple(id(lib) for lib in libs))
        hit = _LOOPS.get(ckey)
        if hit is not None:
            return hit[0]
        name = f"tvmsym_scan_loop_{next(_names)}"
        func = tvm.script.from_source(src.replace("NAME", name))
        ex = tvm.compile(tvm.IRModule({name: func}), target="llvm")
        mod = ex.mod
        try:
            for lib in libs:
                mod.import_module(_runtime_module(lib))
        except Exception as e:      # a backend without one kernel library (e.g. loaded apart)
            raise Unsupported(f"the body's kernel library cannot be imported ({e})") from None
        fn = mod[name]
        loop_stats["compiled"] += 1
        _LOOPS[ckey] = (fn, libs)       # (the libraries kept alive with their ids)
        return fn

    def run(self, arrays, table, count):
        """Run ``count`` iterations; every row the loop touches is checked to lie inside
        its array first (the kernels get raw pointers)."""
        if count <= 0:
            return
        for vid, (key, size) in self.rows.items():
            base, step, mod = (int(x) for x in table[3 * vid:3 * vid + 3])
            ends = [base, base + step * (count - 1)]
            lo, hi = (0, mod - 1) if mod < _BIG else (min(ends), max(ends))
            n_rows = arrays[key].size // size if size else 0
            if lo < 0 or hi >= n_rows or (mod < _BIG and min(ends) < 0):
                raise IndexError(f"scan loop: row {vid} of {key} runs over rows {lo}..{hi} "
                                 f"of an array with {n_rows}")
        args = []
        for k in self.keys:
            a = arrays.get(k)
            if a is None:
                a = self.consts.get(k)
            if a is None:
                shape, dtype = self.whole[k]
                a = np.empty(int(np.prod(shape, dtype=np.int64)) or 1, dtype)
            args.append(a)
        self.fn(*args, table, self.dims, int(count))


def program(b, in_places, out_places):
    """The ``LoopProgram`` of build ``b`` for these places (made once per build), or the
    reason it cannot be made (a string)."""
    per = _PROGRAMS.get(b)
    if per is None:
        per = _PROGRAMS[b] = {}
    key = (tuple(in_places), tuple(out_places))
    hit = per.get(key)
    if hit is None:
        try:
            hit = LoopProgram(b, in_places, out_places)
        except Unsupported as e:
            hit = str(e)
        per[key] = hit
    return hit


def body_build(fn, shapes):
    """The build of inner function ``fn`` for input ``shapes`` (made now if needed), or a
    string saying why its compiled loop cannot run."""
    if fn.target.kind != "llvm" or fn.profile is not None or fn._guard is not None:
        return "the body is profiled, guarded or not built for llvm"
    if fn._shared or fn._plan.value_inputs:
        return "the body reads shared variables or input values"
    key = tuple(tuple(s) for s in shapes)
    b = fn._builds.get(key)
    if b is None:
        b = fn._build(key)
    return b
