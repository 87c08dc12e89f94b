"""One build per signature: shape-generic kernels shared by every input shape.

``build_for(plan, key, target, cache, specialize)`` is what ``Function._build`` calls for a
new input shape: it computes the signature (``lowering.symbolic_shapes.signature``), and

* a signature seen before: a ``Build`` for these shapes that runs the kernels the
  signature's first build compiled (shape inference and buffer plan only: no lowering,
  no compile);
* a new signature: a ``Build`` that lowers the generic kernels on symbolic shapes
  (``lower_generic``: ``schedules/cpu_generic.py``) and the others for these shapes.

A generic kernel whose lowering or schedule fails is specialized from then on
(``symbolic_shapes.mark_failed``) and the build is made again.
"""
from __future__ import annotations

from ..lowering import symbolic_shapes as _sym


class GenericFailed(Exception):
    def __init__(self, step_name, cause):
        super().__init__(f"{step_name}: {cause}")
        self.step_name = step_name


def lower_generic(st, shapes, values, machine):
    """The scheduled PrimFunc of step ``st`` on symbolic ``shapes``."""
    from .. import _tvm
    from ..lowering.lower import lower_step
    from ..schedules import ScheduleContext
    from ..schedules.cpu_generic import schedule_generic
    from .backends import _align_of
    try:
        # (importing them registers their generic rules)
        from ..lowering import generic_index, generic_shape_ops  # noqa: F401
        from ..lowering.generic_rules import generic_rule
        if all(isinstance(d, int) for s in shapes.values() if s is not None for d in s):
            # every dim a constant (a weight's flip, a product of weights): the specialized
            # lowering and schedule, still one kernel for every signature sharing it
            return _lower_static(st, shapes, values, machine)
        if _sym.is_product(st.node.op) and st.node.inputs[1].ndim == 2:
            return _lower_product(st, shapes, values, machine)
        placeholders, results = lower_step(st, shapes, values, machine, rules=generic_rule)
        func = _tvm.prim_func(placeholders + results)
        func = _tvm.relax_alignment(func, _align_of)
        ctx = ScheduleContext(outputs=[r.op.name for r in results], step=st,
                              out_dtype=st.outputs[0].type.dtype,
                              shapes=[shapes.get(v) for v in st.node.inputs], values=values,
                              machine=machine)
        if _sym.own_schedule(st.node.op) or _sym.is_product(st.node.op):     # (matrix x vector)
            from ..schedules import schedule
            return schedule(func, "llvm", ctx)
        return schedule_generic(func, ctx)
    except Exception as e:      # noqa: BLE001  (this kernel is specialized instead)
        raise GenericFailed(st.name, e) from e


def _lower_static(st, shapes, values, machine):
    """A kernel of a generic signature whose dims are all constants, lowered and scheduled
    as a specialized one (the executor's ordinary path)."""
    from .. import _tvm
    from ..lowering.lower import lower_step
    from ..schedules import ScheduleContext, schedule
    from .backends import _align_of
    placeholders, results = lower_step(st, shapes, values, machine)
    func = _tvm.relax_alignment(_tvm.prim_func(placeholders + results), _align_of)
    ctx = ScheduleContext(outputs=[r.op.name for r in results], step=st,
                          out_dtype=st.outputs[0].type.dtype,
                          shapes=[shapes.get(v) for v in st.node.inputs], values=values,
                          machine=machine)
    return schedule(func, "llvm", ctx)


def _lower_product(st, shapes, values, machine):
    """A Dot / FusedDot on symbolic rows or contraction (lowering/generic_matmul.py,
    schedules/cpu_matmul_generic.py)."""
    from .. import _tvm
    from ..lowering.generic_matmul import lower_product_generic
    from ..lowering.generic_rules import generic_rule
    from ..lowering.lower import lower_step
    from ..schedules import ScheduleContext
    from ..schedules.cpu_matmul_generic import schedule_product_generic
    from .backends import _align_of

    def rules(op):
        return lower_product_generic if op is st.node.op else generic_rule(op)
    placeholders, results = lower_step(st, shapes, values, machine, rules=rules)
    func = _tvm.prim_func(placeholders + results)
    func = _tvm.relax_alignment(func, _align_of)
    out = st.node.outputs[0]
    ctx = ScheduleContext(outputs=[r.op.name for r in results], step=st, out_dtype=out.type.dtype,
                          shapes=[shapes.get(v) for v in st.node.inputs], values=values,
                          machine=machine)
    base = results[0].op.name[:-3]      # <name>_gm or <name>_gt
    return schedule_product_generic(func, ctx, base, shapes[out], _align_of(out.type.dtype))


def signature_built(plan, key, target, bases, specialize=False, inner=None):
    """True if input shapes ``key`` belong to a generic signature already built here."""
    sig = _sym.signature(plan, key, getattr(target, "kind", "llvm"), specialize, inner)
    return sig[0] == "generic" and sig in bases


def build_for(plan, key, target, bases, specialize=False, loopback=False, inner=None):
    """The Build of input shapes ``key`` (``bases``: {signature: first Build}, an LRU)."""
    from .executor import Build, NeedsBuild
    kind = getattr(target, "kind", "llvm")
    sig = _sym.signature(plan, key, kind, specialize, inner)
    if sig[0] == "specialized":
        return Build(plan, key, target, loopback=loopback), sig
    base = bases.get(sig)
    if base is not None:
        try:
            b = Build(plan, key, target, loopback=loopback, kernels=base)
        except NeedsBuild:
            # a step that was a build-time value or empty at the first shape (arange(n) of a
            # small n) is a kernel now: build the missing generic kernels only, lent to
            # every later shape of the signature
            actual = _all_shapes(plan, key, inner)
            if (not _sym.consistent(plan, sig, key, actual, inner)
                    or _sym.index_bits_needed(actual.values()) > base.index_bits):
                return Build(plan, key, target, loopback=loopback), sig
            b = Build(plan, key, target, loopback=loopback, generic=base.generic, reuse=base)
            b.index_bits = base.index_bits
            new = {n for n in b.kernel_names if n in base.generic and n not in base.kernel_names}
            for n in new:
                base.kernel_src[n] = b.kernel_src.get(n, b.backend)
            base.kernel_names = set(base.kernel_names) | new
            return b, sig
        if base.index_bits == 32 and _sym.index_bits_needed(b.shapes.values()) == 64:
            return Build(plan, key, target, loopback=loopback), sig     # int32 indices wrap
        if not _sym.consistent(plan, sig, key, b.shapes, inner):
            return Build(plan, key, target, loopback=loopback), sig     # probes misled
        return b, sig
    actual = _all_shapes(plan, key, inner)
    if not _sym.consistent(plan, sig, key, actual, inner):
        return Build(plan, key, target, loopback=loopback), sig         # probes misled
    for _ in range(len(plan.steps) + 1):
        bits = _sym.index_bits_needed(actual.values())
        gen = _sym.generic_shapes(plan, sig, inner, "int64" if bits == 64 else "int32")
        # another signature with these generic kernels (only the sizes of specialized
        # kernels differ, e.g. a matmul's batch): build only the specialized ones
        kk = (_sym.kernel_key(plan, sig, inner), bits)
        reuse = bases.get(("kernels", kk))
        try:
            try:
                b = Build(plan, key, target, loopback=loopback, generic=gen, reuse=reuse)
            except GenericFailed:
                raise
            except Exception as e:      # noqa: BLE001  (e.g. the compile of a generic kernel:
                if not gen:             # which one is unknown; a user error recurs below)
                    raise
                raise GenericFailed(None, e) from e
        except GenericFailed as e:
            for name in (gen if e.step_name is None else [e.step_name]):   # None: the compile
                _sym.mark_failed(plan, name)
            plan.__dict__.setdefault("_generic_errors", {})[e.step_name] = repr(e.__cause__)[:400]
            sig = _sym.signature(plan, key, kind, specialize, inner)
            if sig[0] == "specialized":
                return Build(plan, key, target, loopback=loopback), sig
            continue
        b.index_bits = bits
        bases[sig] = b
        if reuse is None:
            bases[("kernels", kk)] = b
        return b, sig
    return Build(plan, key, target, loopback=loopback), sig


def _all_shapes(plan, key, inner):
    from ..lowering.lower import infer_shapes
    return infer_shapes(plan, key, {}, None, set(), inner)


def nominal_shapes(plan, inner=None):
    """Input shapes for ``as_text`` before any call: broadcastable dims 1, the others distinct
    sizes (so no two classes merge) when the graph accepts that, else all equal.  Generic
    kernels come out symbolic; specialized ones at these sizes."""
    from ..lowering.lower import infer_shapes
    types = [v.type for v in plan.fgraph.inputs]

    def make(size_of):
        out, k = [], 0
        for t in types:
            bc = getattr(t, "broadcastable", ())
            row = []
            for b in bc:
                row.append(1 if b else size_of(k))
                k += 1
            out.append(tuple(row))
        return out
    for cand in (make(lambda k: 17 + 2 * k), make(lambda k: 16)):
        try:
            infer_shapes(plan, cand, {}, None, set(), inner)
            return [tuple(s) for s in cand]
        except Exception:       # noqa: BLE001  (sizes this graph does not accept)
            continue
    return None
