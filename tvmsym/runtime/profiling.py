"""Per-function profiles: ``function(..., profile=True)`` and the ``profile`` flag.

A profiled function (``f.profile`` is a ``ProfileStats``) takes the general call
path: every call is timed, and so is every kernel of the build's per-call loop
(``Build.run(..., prof=records)``), with the bytes of the buffers the call
allocates.  Unprofiled functions (``f.profile is None``) keep the fast path
untouched.  ``f.profile.summary()`` prints Theano's sections: the function's
totals and compile times, then time per op class, per op, and per Apply node,
each sorted by time, and the memory the calls allocate.

Time columns follow Theano's profiler:

- *Time in N calls to Function.__call__*: from entering the call to returning,
  minus the time spent building kernels for a new shape signature (reported
  as build time);
- *Time in Function body*: the per-call loop of kernels and buffer allocations,
  plus installing shared-variable updates;
- *Time in kernels*: the sum of the per-step times (a step is one TVM kernel,
  or one numpy step for host and data-dependent nodes).

With ``config.profile = True`` (``TVMSYM_FLAGS=profile=True``) every new
function gets a profile, and all of them are printed to stderr when the process
exits, as Theano does.
"""
from __future__ import annotations

import atexit
import sys

_atexit_print_list = []
_atexit_registered = False


def _class_name(op):
    t = type(op)
    return f"{t.__module__}.{t.__qualname__}"


def _bytes(n):
    """A byte count as Theano's memory profile prints it (KB)."""
    return f"{n / 1024:.1f}KB"


class ProfileStats:
    """Times and counts of one function's calls, kernels and builds.

    Attributes use Theano's names: ``fct_callcount``, ``fct_call_time``,
    ``vm_call_time`` (the function body), ``apply_time`` / ``apply_callcount``
    (per Apply node), ``optimizer_time`` (rewrites), ``linker_time`` (builds:
    lower + schedule + tvm.compile), ``compile_time``.
    """

    def __init__(self, atexit_print=True, message=None):
        self.message = message
        self.fct_callcount = 0
        self.fct_call_time = 0.0
        self.vm_call_time = 0.0
        self.apply_time = {}            # node -> seconds over every call
        self.apply_callcount = {}       # node -> number of calls
        self.apply_impl = {}            # node -> "K " (TVM kernel) or "Py" (numpy)
        self.apply_inlined = {}         # view node -> name of the kernel it is fused into
        self.apply_bytes = {}           # node -> bytes its last call allocated
        self.apply_shapes = {}          # node -> shapes of its outputs in the last call
        self.apply_order = {}           # node -> position in the function's toposort
        self.optimizer_time = 0.0
        self.linker_time = 0.0
        self.lower_time = 0.0
        self.schedule_time = 0.0
        self.tvm_compile_time = 0.0
        self.nb_builds = 0
        self.nb_nodes = 0
        self.nb_kernels = 0
        self.call_bytes_last = 0        # bytes allocated by the last call
        self.call_bytes_max = 0
        self.call_buffers_last = 0
        if atexit_print:
            _register_atexit(self)

    @property
    def compile_time(self):
        return self.optimizer_time + self.linker_time

    # ------------------------------------------------------------------ recording
    def set_graph(self, plan, rewrite_time):
        """The function's rewritten graph (ids are toposort positions) and rewrite time."""
        self.optimizer_time += rewrite_time
        self.apply_order = {n: k for k, n in enumerate(plan.order)}
        self.nb_nodes = len(plan.order)
        self.nb_kernels = sum(1 for st in plan.steps if st.kind == "tvm")

    def record_build(self, seconds, build):
        self.nb_builds += 1
        self.linker_time += seconds
        t = getattr(build, "times", None) or {}
        self.lower_time += t.get("lower", 0.0)
        self.schedule_time += t.get("schedule", 0.0)
        self.tvm_compile_time += t.get("compile", 0.0)

    def record_call(self, call_time, body_time, records):
        """One call: its total and body times and the steps ``Build.run`` timed.

        ``records``: (step, kind, seconds, bytes allocated, buffers allocated, output
        shapes) per executed step.
        """
        self.fct_callcount += 1
        self.fct_call_time += call_time
        self.vm_call_time += body_time
        at, ac = self.apply_time, self.apply_callcount
        total = nbuf = 0
        for st, kind, dt, nbytes, nalloc, shapes in records:
            node = st.node
            at[node] = at.get(node, 0.0) + dt
            ac[node] = ac.get(node, 0) + 1
            self.apply_impl[node] = "K " if kind == "tvm" else "Py"
            self.apply_bytes[node] = nbytes
            self.apply_shapes[node] = shapes
            total += nbytes
            nbuf += nalloc
            for v in st.inlined:        # views fused into this kernel: their work is its time
                if v not in at:
                    at[v] = 0.0
                    self.apply_impl[v] = "K " if kind == "tvm" else "Py"
                    self.apply_inlined[v] = st.name
                ac[v] = ac.get(v, 0) + 1
        self.call_bytes_last = total
        self.call_buffers_last = nbuf
        self.call_bytes_max = max(self.call_bytes_max, total)

    # ------------------------------------------------------------------ aggregation
    def class_time(self):
        return self._group(lambda n: _class_name(n.op), self.apply_time)

    def class_callcount(self):
        return self._group(lambda n: _class_name(n.op), self.apply_callcount)

    def op_time(self):
        return self._group(lambda n: n.op, self.apply_time)

    def op_callcount(self):
        return self._group(lambda n: n.op, self.apply_callcount)

    @staticmethod
    def _group(key, per_node):
        out = {}
        for node, v in per_node.items():
            k = key(node)
            out[k] = out.get(k, 0) + v
        return out

    def _rows(self, key):
        """(time, key, impl, #call, #apply) per group, sorted by time, then calls."""
        rows = {}
        for node, t in self.apply_time.items():
            k = key(node)
            r = rows.setdefault(k, [0.0, k, set(), 0, 0])
            r[0] += t
            r[2].add(self.apply_impl.get(node, "  "))
            r[3] += self.apply_callcount.get(node, 0)
            r[4] += 1
        out = [(t, k, "/".join(sorted(i)) if len(i) > 1 else next(iter(i)), c, a)
               for t, k, i, c, a in rows.values()]
        out.sort(key=lambda r: (r[0], r[3], r[4]), reverse=True)
        return out

    # ------------------------------------------------------------------ printing
    def summary(self, file=sys.stderr, n_ops_to_print=20, n_apply_to_print=20):
        """Print the function's totals, then Class, Ops and Apply sections and memory."""
        self.summary_function(file)
        local = sum(self.apply_time.values())
        if local > 0:
            self.summary_class(file, n_ops_to_print)
            self.summary_ops(file, n_ops_to_print)
            self.summary_nodes(file, n_apply_to_print)
            self.summary_memory(file, n_apply_to_print)
        else:
            why = ("the function was never called" if not self.fct_callcount
                   else "the function runs no kernel: its outputs are inputs or constants")
            print(f"  No kernel time accumulated ({why}).", file=file)
            print("", file=file)

    def summary_function(self, file=sys.stderr):
        p = lambda *a: print(*a, file=file)  # noqa: E731
        p("Function profiling")
        p("==================")
        p(f"  Message: {self.message}")
        p(f"  Time in {self.fct_callcount} calls to Function.__call__: {self.fct_call_time:e}s")
        if self.fct_call_time > 0:
            p(f"  Time in Function body (kernels, allocations, updates): {self.vm_call_time:e}s "
              f"({100 * self.vm_call_time / self.fct_call_time:.3f}%)")
            local = sum(self.apply_time.values())
            if local > 0:
                p(f"  Time in kernels: {local:e}s ({100 * local / self.fct_call_time:.3f}%)")
        p(f"  Total compile time: {self.compile_time:e}s")
        p(f"    Number of Apply nodes: {self.nb_nodes} ({self.nb_kernels} kernels)")
        p(f"    Rewrite time: {self.optimizer_time:e}s")
        p(f"    Build time (lower + schedule + tvm.compile): {self.linker_time:e}s")
        p(f"       lower {self.lower_time:e}s, schedule {self.schedule_time:e}s, "
          f"tvm.compile {self.tvm_compile_time:e}s")
        p(f"    Number of builds (input-shape signatures): {self.nb_builds}")
        p("")

    def _table(self, file, title, underline, rows, local, n, what, name_col, call_fmt):
        print(title, file=file)
        print(underline, file=file)
        print(f"<% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <{name_col}>",
              file=file)
        tot = 0.0
        shown = 0
        for t, k, impl, calls, napply in rows[:n]:
            if calls == 0:
                continue
            tot += t
            shown += 1
            name = k if isinstance(k, str) else str(k)
            print(f"  {100 * t / local:4.1f}%  {100 * tot / local:5.1f}%    {t:7.3f}s      "
                  f"{t / calls:8.2e}s    {impl:2s} {call_fmt % calls}  {napply:4d}  {name}", file=file)
        rest = rows[n:]
        print(f"   ... (remaining {len(rest)} {what} account for "
              f"{100 * sum(r[0] for r in rest) / local:6.2f}%({sum(r[0] for r in rest):.2f}s) "
              "of the runtime)", file=file)
        print("", file=file)

    def summary_class(self, file=sys.stderr, N=None):
        local = sum(self.apply_time.values())
        rows = self._rows(lambda node: _class_name(node.op))
        self._table(file, "Class", "---", rows, local, N or len(rows), "Classes", "Class name", "%6d")

    def summary_ops(self, file=sys.stderr, N=None):
        local = sum(self.apply_time.values())
        rows = self._rows(lambda node: node.op)
        self._table(file, "Ops", "---", rows, local, N or len(rows), "Ops", "Op name", "%6d")

    def summary_nodes(self, file=sys.stderr, N=None):
        local = sum(self.apply_time.values())
        p = lambda *a: print(*a, file=file)  # noqa: E731
        p("Apply")
        p("------")
        p("<% time> <sum %> <apply time> <time per call> <#call> <id> <Apply name>")
        order = self.apply_order
        rows = [(t, order.get(node, -1), node, self.apply_callcount.get(node, 0))
                for node, t in self.apply_time.items()]
        rows.sort(key=lambda r: (-r[0], r[1]))
        N = len(rows) if N is None else N
        tot = 0.0
        for t, nid, node, calls in rows[:N]:
            if calls == 0:
                continue
            tot += t
            inl = self.apply_inlined.get(node)
            extra = f"   (inlined into kernel {inl})" if inl else ""
            p(f"  {100 * t / local:4.1f}%  {100 * tot / local:5.1f}%    {t:7.3f}s      "
              f"{t / calls:8.2e}s  {calls:5d}  {nid:3d}   {node}{extra}")
        rest = rows[N:]
        p(f"   ... (remaining {len(rest)} Apply instances account for "
          f"{100 * sum(r[0] for r in rest) / local:.2f}%({sum(r[0] for r in rest):.2f}s) of the runtime)")
        p("")

    def summary_memory(self, file=sys.stderr, N=None):
        p = lambda *a: print(*a, file=file)  # noqa: E731
        p("Memory Profile")
        p("(buffers a call allocates: outputs and intermediates; an unprofiled call reuses last "
          "call's buffers when nobody holds them)")
        p("---")
        p(f"    Bytes allocated by the last call: {_bytes(self.call_bytes_last)} "
          f"({self.call_buffers_last} buffers)")
        p(f"    Max bytes allocated by one call: {_bytes(self.call_bytes_max)}")
        p("")
        rows = [(b, self.apply_order.get(node, -1), node) for node, b in self.apply_bytes.items() if b]
        rows.sort(key=lambda r: (-r[0], r[1]))
        N = len(rows) if N is None else N
        if rows:
            p("    <Sum apply outputs (bytes)> <Apply outputs shape> <id> <Apply name>")
            for b, nid, node in rows[:N]:
                shapes = ", ".join(str(tuple(s)) for s in self.apply_shapes.get(node, ()))
                p(f"     {b:>12d}B  {shapes:24s} {nid:3d}   {node}")
            p(f"   ... (remaining {len(rows[N:])} Apply account for "
              f"{sum(r[0] for r in rows[N:])}B of allocations)")
            p("")

    def __repr__(self):
        return f"<ProfileStats {self.message!r}: {self.fct_callcount} calls>"


def _register_atexit(stats):
    global _atexit_registered
    _atexit_print_list.append(stats)
    if not _atexit_registered:
        atexit.register(_atexit_print)
        _atexit_registered = True


def _atexit_print():
    """Print every profile made with ``atexit_print`` (the global ``profile`` flag) to stderr."""
    printed = 0
    for ps in _atexit_print_list:
        if ps.fct_callcount >= 1 or ps.compile_time > 1:
            ps.summary(file=sys.stderr)
            printed += 1
    if printed > 1:
        calls = sum(ps.fct_callcount for ps in _atexit_print_list)
        t = sum(ps.fct_call_time for ps in _atexit_print_list)
        print(f"Sum of all ({printed}) printed profiles at exit: {calls} calls, {t:e}s in calls",
              file=sys.stderr)
