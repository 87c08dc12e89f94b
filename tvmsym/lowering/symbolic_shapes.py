"""Shape-generic kernels: which dimensions a build must know, and the symbolic shapes it lowers.

A function's kernels are built once per *signature* (``signature``), not per input shape:

* the dtypes of the inputs and, for every input dimension, its *class*: ``0``, ``1`` or
  the index of a group of dimensions of equal size (two inputs whose dims are both 128 share
  one class: a kernel may rely on that equality, e.g. ``x + y`` reads both at one index);
* the sizes of the classes some kernel declares it must know (``pinned``): a kernel whose
  op is not declared generic (``declare_generic``), or one with a dimension that is not a
  class nor a constant (``x[1:]``: ``n - 1``), keeps today's specialized lowering, so the
  sizes of its dimensions enter the signature (partial specialization).

Every other kernel is lowered with one ``tirx.Var`` per class (``generic_shapes``): one
build serves every input shape of the signature.  Which intermediate dimension is which
class is found once per class pattern by running the plan's shape inference (pure Python)
on two probe shapes (``structure``): a dimension equal to class ``c``'s probe size in both
runs is class ``c``, one equal in both runs is a constant, anything else is *derived*
(``("d", j)``: a flatten's ``n0 * n1``, a join's ``n0 + n1``, a slice's ``n - 1``; one
variable ``d<j>`` per kernel, bound from the buffer that has that size; dims with the same
pair of probe sizes share it, and every call checks they are equal: ``consistent``).
When the probes do not go through the graph (a weight's dim tied to a constant:
``emb.reshape((n, b, 128))``), the classes of the shared variables' dims, then one more
class, are probed at their sizes and pinned (``tied_fixed``, through the held classes of
``structural_fixed``; the pattern, hence the warm cache's key, is unchanged).

Dims a kernel does arithmetic on (a convolution's image and filter sizes, a pooling's
window axes: ``declare_structural``) are probed at the call's size (``structural_fixed``),
so the sizes derived from them are constants and their classes are pinned; the batch stays
a class.  A call whose shapes fit a class pattern made earlier (finer than its own: batch
1 = a channel count of 1) runs that pattern's kernels (``fit_known``).

``signature`` imports no TVM (the disk cache looks a build up by it before lowering).
"""
from __future__ import annotations

from ..symbolic.graph import Constant

#: op class -> accepts(node) (None: every node of that class); ops not listed: specialized
GENERIC = {}
#: op class -> concrete(node) -> [(input position, axis), ...]: dims the kernel keeps static
CONCRETE = {}
#: op classes whose kernels the target's ordinary rule pipeline schedules (on the symbolic
#: extents that remain), instead of schedules/cpu_generic.py
OWN_SCHEDULE = set()

#: probe sizes of class c (two runs): P + c * S, far from constants, sums and products of
#: other probes; the two runs' steps differ, so a class shifted by a constant (a split's
#: ``n - 2``) never takes another class's pair of sizes (it is a derived size)
_P1, _P2 = 10007, 20011
_S1, _S2 = 1009, 2003


def declare_generic(*op_classes, accepts=None, concrete=None, own_schedule=False):
    """Declare that the lowering rule and schedule of ``op_classes`` work on symbolic extents
    (every dimension of the kernel may be a ``tirx.Var``).  ``accepts(node)``: a further
    per-node condition (e.g. not complex).  ``concrete(node)``: the (input position, axis)
    dims the kernel needs static (partial specialization: a matmul's K and N), pinned in the
    signature.  ``own_schedule``: the op's ordinary schedule rule handles the symbolic
    extents left.  Ops not declared keep every dimension concrete."""
    for c in op_classes:
        GENERIC[c] = accepts
        if concrete is not None:
            CONCRETE[c] = concrete
        if own_schedule:
            OWN_SCHEDULE.add(c)


def _lookup(table, op):
    for cls in type(op).__mro__:
        if cls in table:
            return table[cls]
    return None


def own_schedule(op):
    """True if ``op``'s kernels keep the target's rule pipeline on symbolic extents."""
    return any(cls in OWN_SCHEDULE for cls in type(op).__mro__)


def _declared(node):
    for cls in type(node.op).__mro__:
        if cls in GENERIC:
            acc = GENERIC[cls]
            return acc is None or bool(acc(node))
    return False


def class_pattern(input_shapes, broadcastable=None):
    """Per input dimension: 0, 1 or ('c', k), the k-th distinct size (first seen first),
    and the sizes of the classes in order.  A size 1 is a class of its own like any other
    size when ``broadcastable`` (per input, the type's flags) says the dim does not
    broadcast (a batch of 1 runs the batch-generic kernels), else the constant 1."""
    sizes, pat = {}, []
    for k, s in enumerate(input_shapes):
        row = []
        bc = broadcastable[k] if broadcastable is not None else None
        for a, d in enumerate(s):
            d = int(d)
            if d == 0 or (d == 1 and (bc is None or a >= len(bc) or bc[a])):
                row.append(d)
            else:
                row.append(("c", sizes.setdefault(d, len(sizes))))
        pat.append(tuple(row))
    return tuple(pat), list(sizes)


class Structure:
    """What a class pattern says about every variable of a plan (``structure``)."""

    def __init__(self, dims, n_classes, n_derived=0):
        # var -> tuple of ('c', k) (class k) / int (constant) / ('d', j) (derived: some other
        # function of the classes, e.g. a flatten's n0 * n1 or a join's n0 + n1; equal
        # derived keys mean equal at both probes, so equal functions), or None (unknown)
        self.dims = dims
        self.n_classes = n_classes
        self.n_derived = n_derived


def is_class(x):
    return isinstance(x, tuple) and x[0] == "c"


def is_derived(x):
    return isinstance(x, tuple) and x[0] == "d"


def _probe(pattern, base, step, fixed=None):
    fixed = fixed or {}
    return [tuple(d if not isinstance(d, tuple) else fixed.get(d[1], base + step * d[1])
                  for d in row)
            for row in pattern]


def structure(plan, pattern, inner=None, fixed=()):
    """The ``Structure`` of ``plan`` for a class ``pattern`` (memoized on the plan), or None
    when the probes do not go through shape inference (the function is then specialized).
    ``fixed``: ((class, size), ...) probed at that size in both runs (``structural_fixed``:
    their dims, and what shape inference derives from them, come out as constants)."""
    memo = plan.__dict__.setdefault("_generic_structures", {})
    mk = (pattern, tuple(fixed)) if fixed else pattern
    if mk in memo:
        return memo[mk]
    from .lower import infer_shapes
    n = 1 + max([d[1] for row in pattern for d in row if isinstance(d, tuple)], default=-1)
    fx = dict(fixed)
    try:
        s1 = infer_shapes(plan, _probe(pattern, _P1, _S1, fx), {}, None, set(), inner)
        s2 = infer_shapes(plan, _probe(pattern, _P2, _S2, fx), {}, None, set(), inner)
    except Exception:       # a probe size a reshape cannot take, ...: specialize
        memo[mk] = None
        return None
    probes = {(_P1 + _S1 * k, _P2 + _S2 * k): ("c", k) for k in range(n) if k not in fx}
    derived = {}
    dims = {}

    def dim(x, y):
        if x == y:
            return int(x)
        c = probes.get((x, y))
        if c is not None:
            return c
        if x < 0 or y < 0:
            return None
        return ("d", derived.setdefault((int(x), int(y)), len(derived)))
    for v, a in s1.items():
        b = s2.get(v)
        if a is None or b is None or len(a) != len(b):
            dims[v] = None
            continue
        dims[v] = tuple(dim(x, y) for x, y in zip(a, b))
    memo[mk] = st = Structure(dims, n, len(derived))
    return st


def _step_vars(step):
    vs = list(step.inputs) + list(step.outputs)
    for node in step.inlined:
        vs += [o for o in node.outputs]
    return vs


def _step_generic(plan, step, struct, kind):
    """True if ``step`` is lowered on symbolic shapes for this structure."""
    from .lower import is_whole_kernel
    if kind != "llvm" or step.kind != "tvm" or step.name in plan.__dict__.get("_generic_failed", ()):
        return False
    if is_whole_kernel(step.node) or not _declared(step.node):
        return False
    if not all(_declared(n) for n in step.inlined):
        return False
    for v in _step_vars(step):
        d = struct.dims.get(v)
        if d is None or any(x is None for x in d):
            return False
    conc = _lookup(CONCRETE, step.node.op)
    for entry in (conc(step.node) if conc is not None else ()):
        d = struct.dims.get(step.node.inputs[entry[0]])
        if d is not None and len(entry) == 2 and is_derived(d[entry[1]]):
            return False        # a dim the kernel needs static is no class: specialize it
    return True


def _declared_pins(st, struct, plan=None):
    """Classes a generic kernel declares static (``declare_generic(concrete=...)``): its
    ``(input, axis)`` entries always; ``(input, axis, "fixed")`` entries only when that
    dim's class is a dim of a shared variable (``fixed_classes``: a weight's dim cannot
    change between calls, a batch can)."""
    conc = _lookup(CONCRETE, st.node.op)
    out = set()
    fixed = None
    for entry in (conc(st.node) if conc is not None else ()):
        pos, axis = entry[:2]
        d = struct.dims.get(st.node.inputs[pos])
        if d is None or not is_class(d[axis]):
            continue
        if len(entry) > 2:
            if fixed is None:
                fixed = fixed_classes(plan, struct)
            if d[axis][1] not in fixed:
                continue
        out.add(d[axis][1])
    return out


def fixed_classes(plan, struct):
    """Classes of the dims of the function's shared variables (the fgraph inputs after the
    user's ``n_user_inputs``, set by runtime/function.py; none when it is not set)."""
    if plan is None:
        return set()
    fg = plan.fgraph
    n = getattr(fg, "n_user_inputs", None)
    if n is None:
        return set()
    out = set()
    for v in fg.inputs[n:]:
        for x in struct.dims.get(v) or ():
            if is_class(x):
                out.add(x[1])
    return out


def kernel_key(plan, sig, inner=None):
    """What the generic kernels of signature ``sig`` depend on: its class pattern and the
    classes the generic kernels themselves pin (not those pinned for specialized kernels).
    Signatures with one kernel key share their generic kernels (runtime/generic.py)."""
    _, dtypes, pattern, pinned = sig
    struct = sig_structure(plan, sig, inner)
    gen, _ = generic_steps(plan, struct, "llvm")
    own = {k for k, _ in sig_fixed(plan, sig)}
    for st in plan.steps:
        if st.name in gen:
            own.update(_declared_pins(st, struct, plan))
    return (dtypes, pattern, tuple((k, v) for k, v in pinned if k in own))


def generic_steps(plan, struct, kind):
    """{step name: True} of the kernels lowered on symbolic shapes, and the pinned classes
    (None: every class, the function is specialized)."""
    gen, pinned = set(), set()
    for st in plan.steps:
        if st.kind != "tvm":
            continue
        if _step_generic(plan, st, struct, kind):
            gen.add(st.name)
            pinned.update(_declared_pins(st, struct, plan))
            continue
        for v in _step_vars(st) + [i for n in st.inlined for i in n.inputs] + list(st.node.inputs):
            d = struct.dims.get(v)
            if d is None:
                if isinstance(v, Constant):
                    continue
                return gen, None
            for x in d:
                if x is None or is_derived(x):      # (a specialized kernel on a derived
                    return gen, None                # size: every class it depends on)
                if isinstance(x, tuple):
                    pinned.add(x[1])
    return gen, pinned


def _bcast(plan):
    return [tuple(getattr(v.type, "broadcastable", ())) for v in plan.fgraph.inputs]


def signature(plan, input_shapes, kind="llvm", specialize=False, inner=None):
    """The build key of a call with ``input_shapes`` (the ONE function that says which calls
    share kernels; the disk cache keys on it too).

    ``("generic", dtypes, class pattern, ((class, size), ...) pinned)`` when some kernel is
    shape-generic, else ``("specialized", dtypes, shapes)`` (``specialize=True``, a cuda
    target, a plan whose shapes depend on input values, or probes that fail).
    """
    dtypes = tuple(v.type.dtype for v in plan.fgraph.inputs)
    shapes = tuple(tuple(int(d) for d in s) for s in input_shapes)
    if specialize or kind != "llvm" or plan.value_inputs:
        return ("specialized", dtypes, shapes)
    pattern, sizes = class_pattern(shapes, _bcast(plan))
    failed = len(plan.__dict__.get("_generic_failed", ()))
    known = fit_known(plan, dtypes, shapes, failed)
    if known is not None:
        return known
    fixed = structural_fixed(plan, pattern, sizes, inner)
    if fixed is None:
        return ("specialized", dtypes, shapes)
    memo = plan.__dict__.setdefault("_generic_pins", {})
    got = memo.get((pattern, fixed, failed))
    if got is None:
        struct = structure(plan, pattern, inner, fixed)
        got = (None, None) if struct is None else generic_steps(plan, struct, kind)
        memo[(pattern, fixed, failed)] = got
    gen, pinned = got
    if pinned is None or not gen:
        return ("specialized", dtypes, shapes)
    pinned = set(pinned) | {k for k, _ in fixed}
    sig = ("generic", dtypes, pattern, tuple((k, sizes[k]) for k in sorted(pinned)))
    held = frozenset(k for k, _ in fixed)
    _note_fixed(plan, sig, held)
    # what fit_known needs: the pattern, the classes it pins, the sizes its generic kernels
    # pin, the classes its probes held
    entry = (failed, dtypes, pattern, tuple(k for k, _ in sig[3]), kernel_key(plan, sig, inner)[2], held)
    known = plan.__dict__.setdefault("_generic_known", [])
    if entry not in known:
        known.append(entry)
    return sig


def generic_shapes(plan, sig, inner=None, index_dtype="int32"):
    """{step name: {var: symbolic shape}} for the shape-generic kernels of signature ``sig``
    (a "generic" key of ``signature``): one fresh ``tirx.Var`` per class and kernel (each
    PrimFunc binds its own), constants and the classes generic kernels pin as ints (classes
    pinned only for specialized kernels stay symbolic: ``kernel_key``)."""
    from .. import _tvm
    struct = sig_structure(plan, sig, inner)
    gen, _ = generic_steps(plan, struct, "llvm")
    pinned = dict(kernel_key(plan, sig, inner)[2])   # only what generic kernels pin
    out = {}
    for st in plan.steps:
        if st.name not in gen:
            continue
        vars_ = {}

        def dim(x):
            if not isinstance(x, tuple):
                return int(x)
            if is_derived(x):       # its own variable (bound by a buffer of that size)
                if x not in vars_:
                    vars_[x] = _tvm.tirx.Var(f"d{x[1]}", index_dtype)
                return vars_[x]
            k = x[1]
            if k in pinned:
                return int(pinned[k])
            if k not in vars_:
                vars_[k] = _tvm.tirx.Var(f"n{k}", index_dtype)
            return vars_[k]
        vs = _step_vars(st) + [i for n in st.inlined for i in n.inputs] + list(st.node.inputs)
        out[st.name] = {v: tuple(dim(x) for x in struct.dims[v]) for v in vs if v in struct.dims}
    return out


def consistent(plan, sig, input_shapes, shapes, inner=None):
    """Whether the actual ``shapes`` (shape inference at ``input_shapes``) agree with what the
    structure of ``sig`` predicts for every variable a generic kernel reads or writes.

    The structure comes from probe sizes: a dimension like ``min(n, 10000)`` looks constant
    at the (large) probes but is ``n`` at a small size; such a call must not run the generic
    kernels (the caller builds it specialized)."""
    _, _, pattern, _ = sig
    memo = plan.__dict__.setdefault("_generic_checks", {})
    mk = (pattern, sig_fixed(plan, sig), len(plan.__dict__.get("_generic_failed", ())))
    checks = memo.get(mk)
    if checks is None:
        struct = sig_structure(plan, sig, inner)
        if struct is None:
            return False
        gen, _ = generic_steps(plan, struct, "llvm")
        checks, seen = [], set()
        for st in plan.steps:
            if st.name not in gen:
                continue
            for v in _step_vars(st) + [i for n in st.inlined for i in n.inputs] + list(st.node.inputs):
                if v not in seen:
                    seen.add(v)
                    checks.append((v, struct.dims.get(v)))
        memo[mk] = checks
    sizes = pattern_sizes(pattern, input_shapes)
    if sizes is None:
        return False
    derived = {}
    for v, d in checks:
        a = shapes.get(v)
        if d is None or a is None or len(d) != len(a):
            return False
        for x, y in zip(d, a):
            if is_derived(x):       # equal keys: equal sizes (one variable in a kernel)
                if derived.setdefault(x[1], y) != y:
                    return False
            elif (sizes[x[1]] if isinstance(x, tuple) else x) != y:
                return False
    return True


def index_bits_needed(shapes_iter):
    """64 if some buffer has 2**31 elements or more (int32 index arithmetic would wrap)."""
    for s in shapes_iter:
        if s is None:
            continue
        n = 1
        for d in s:
            n *= int(d)
        if n >= 2 ** 31:
            return 64
    return 32


def mark_failed(plan, step_name):
    """A kernel's generic lowering or schedule failed: it is specialized from now on (the
    signatures made later pin its classes)."""
    plan.__dict__.setdefault("_generic_failed", set()).add(step_name)


# ------------------------------------------------- structural dims (convolutions, pooling)
#: op class -> structural(node) -> [(input position, axis), ...]: dims whose size shape
#: inference does arithmetic on (a convolution's image and filter sizes, a pooling's
#: window axes).  Their classes are probed at the call's size (``structural_fixed``), so
#: what derives from them (the output image) is a constant, and they are pinned: one
#: build serves every size of the other dims (the batch).
STRUCTURAL = {}


def declare_structural(*op_classes, dims):
    """``dims(node)`` -> [(input position, axis), ...] kept at their size (see STRUCTURAL)."""
    for c in op_classes:
        STRUCTURAL[c] = dims


def _structural_dims(plan):
    """[(node, input position, axis)] of the structural dims of the plan's kernels."""
    out = []
    for step in plan.steps:
        if step.kind != "tvm":
            continue
        for node in [step.node] + list(step.inlined):
            fn = _lookup(STRUCTURAL, node.op)
            out += [(node, pos, axis) for pos, axis in (fn(node) if fn is not None else ())]
    return out


def structural_fixed(plan, pattern, sizes, inner=None):
    """((class, size), ...): the classes of ``pattern`` held at the call's size, or None
    (no structure: the function is specialized).  Only for plans with structural dims
    (convolutions, pooling; else ``()``): each class is probed alone, every other one at
    its size; it is held when shape inference fails (a filter's channels against the
    image's) or some structural dim then depends on it (a convolution's image size, or a
    dense layer's rows that must equal the flattened feature maps).  The classes left are
    then probed together (``tied_fixed`` when that fails, and for plans without structural
    dims whose probes fail).  Memoized per pattern and sizes."""
    sdims = plan.__dict__.get("_generic_sdims")
    if sdims is None:
        sdims = plan.__dict__["_generic_sdims"] = _structural_dims(plan) if STRUCTURAL else []
    memo = plan.__dict__.setdefault("_generic_fixed_at", {})
    mk = (pattern, tuple(sizes))
    if mk in memo:
        cls = memo[mk]
        return None if cls is None else tuple((k, sizes[k]) for k in sorted(cls))
    if not sdims:
        cls = frozenset() if structure(plan, pattern, inner) is not None else \
            tied_fixed(plan, pattern, sizes, inner)
    else:
        ks = sorted({d[1] for row in pattern for d in row if is_class(d)})
        held = set()
        for k in ks:
            fx = tuple((j, sizes[j]) for j in ks if j != k)
            st = structure(plan, pattern, inner, fx)
            if st is None:
                held.add(k)
                continue
            for node, pos, axis in sdims:
                d = st.dims.get(node.inputs[pos])
                if d is None or axis >= len(d) or not isinstance(d[axis], int):
                    held.add(k)
                    break
        cls = frozenset(held)
        if structure(plan, pattern, inner, tuple((k, sizes[k]) for k in sorted(cls))) is None:
            cls = tied_fixed(plan, pattern, sizes, inner, cls)
    memo[mk] = cls
    if cls is not None:         # (sig_fixed: the classes a signature of this pattern holds)
        plan.__dict__.setdefault("_generic_fixed", {})[pattern] = cls
    if cls is None:
        return None
    return tuple((k, sizes[k]) for k in sorted(cls))


def tied_fixed(plan, pattern, sizes, inner=None, held=frozenset()):
    """Classes to hold at their size when the probes do not go through the graph because it
    ties a dim to a constant (``emb.reshape((n, b, 128))`` of a 128-wide embedding, or
    ``x.reshape((n, 3, 4))`` of an ``(n, 12)`` input), or None: first the classes of the
    shared variables' dims (the inputs after ``fgraph.n_user_inputs``: a weight's dim cannot
    change between calls), then those and one more class, the last first.  At least one
    class stays symbolic."""
    ks = sorted({d[1] for row in pattern for d in row if is_class(d)}, reverse=True)
    n = getattr(plan.fgraph, "n_user_inputs", None)
    base = set(held)
    if n is not None:
        base |= {d[1] for row in pattern[n:] for d in row if is_class(d)}
    cands = ([base] if base != set(held) else []) + [base | {k} for k in ks if k not in base]
    for c in cands:
        if len(c) >= len(ks):
            continue
        if structure(plan, pattern, inner, tuple((k, sizes[k]) for k in sorted(c))) is not None:
            return frozenset(c)
    return None


def sig_fixed(plan, sig):
    """The (class, size) pairs of generic signature ``sig`` held at their size in its probes."""
    cls = plan.__dict__.get("_generic_sig_fixed", {}).get(sig)
    if cls is None:
        cls = plan.__dict__.get("_generic_fixed", {}).get(sig[2]) or ()
    return tuple((k, n) for k, n in sig[3] if k in cls)


def _note_fixed(plan, sig, classes):
    plan.__dict__.setdefault("_generic_sig_fixed", {})[sig] = frozenset(classes)


def sig_structure(plan, sig, inner=None):
    """The ``Structure`` a generic signature was made with (its structural classes held)."""
    return structure(plan, sig[2], inner, sig_fixed(plan, sig))


def pattern_sizes(pattern, input_shapes):
    """{class: size} of ``input_shapes`` under ``pattern``, or None when they do not fit it
    (a dim of a class differs from another of that class, a constant dim differs)."""
    if len(pattern) != len(input_shapes):
        return None
    sizes = {}
    for row, s in zip(pattern, input_shapes):
        if len(row) != len(s):
            return None
        for d, n in zip(row, s):
            n = int(n)
            if isinstance(d, tuple):
                if n == 0 or sizes.setdefault(d[1], n) != n:
                    return None
            elif d != n:
                return None
    return sizes


def fit_known(plan, dtypes, shapes, failed):
    """The signature of ``shapes`` under a class pattern made earlier that they fit (its
    classes may be finer than the call's own pattern: at batch 1 the batch and a channel
    count of 1 are one class of the call, two of the pattern made at batch 128) with the
    sizes its generic kernels pin, or None.  Those kernels hold for any sizes of its other
    classes, so the call runs them (its specialized kernels are built for its sizes;
    ``consistent`` still checks the shapes the plan infers against the structure)."""
    for f, dts, pattern, pinset, own, held in plan.__dict__.get("_generic_known", ()):
        if f != failed or dts != dtypes:
            continue
        sizes = pattern_sizes(pattern, shapes)
        if sizes is not None and all(sizes.get(k) == n for k, n in own):
            sig = ("generic", dtypes, pattern, tuple((k, sizes[k]) for k in pinset))
            _note_fixed(plan, sig, held)
            return sig
    return None


# ------------------------------------------------------------------ the generic families
# (which nodes lowering/generic_rules.py lowers on symbolic extents; no TVM here)
def reduce_kind(op, ndim):
    """'rows', 'full1d', 'columns', 'full' (every axis of a 2-d+ input), 'middle' (a run of
    axes with kept ones on both sides: ``sum(axis=1)`` of 3-d) or None for a CAReduce over
    ``ndim`` axes."""
    from ..symbolic.ops.reduce import Argmax, CAReduce
    if isinstance(op, Argmax) or not isinstance(op, CAReduce):
        return None
    axes = sorted(op.reduced_axes(ndim))
    if not axes or ndim == 0:
        return None
    if ndim == 1:
        return "full1d"
    if len(axes) == ndim:
        return "full"
    if axes == list(range(ndim - len(axes), ndim)):
        return "rows"
    if axes == list(range(len(axes))):
        return "columns"
    if axes == list(range(axes[0], axes[-1] + 1)):
        return "middle"
    return None


def accepts_reduce(node):
    x = node.inputs[0]
    if x.type.dtype.startswith("complex") or node.outputs[0].type.dtype.startswith("complex"):
        return False
    return reduce_kind(node.op, x.type.ndim) is not None


def argmax_kind(op, ndim):
    """'rows' (the last axis of a 2-d+ input), 'full1d' (a vector), 'columns' (the leading
    axes reduced, some trailing kept) or None (specialized) for an Argmax / Argmin."""
    from ..symbolic.ops.reduce import Argmax
    if not isinstance(op, Argmax) or ndim == 0:
        return None
    axes = sorted(op.reduced_axes(ndim))
    if ndim == 1:
        return "full1d"
    if axes == [ndim - 1]:
        return "rows"
    if len(axes) < ndim and axes == list(range(len(axes))):
        return "columns"
    return None


#: argmax / argmin over the last axis or of a vector lowered shape-generic.  Off by default:
#: 1.16-1.35x the specialized kernel per core on W5 (argmax(axis=1) 4096x1024, the generic
#: kernel's per-row lane steps and rest guards), goal <= 1.10x; over leading axes (columns)
#: the generic kernel is on (1.00x).
ARGMAX_ROWS_GENERIC = False


def accepts_argmax(node):
    x = node.inputs[0]
    if x.type.dtype.startswith("complex"):
        return False
    kind = argmax_kind(node.op, x.type.ndim)
    if kind in ("rows", "full1d"):
        return ARGMAX_ROWS_GENERIC
    return kind is not None


#: SiblingReduce kernels lowered shape-generic (generic_rules.lower_sibling_generic).  Off by
#: default: a generic part costs ~0.25 s of build CPU against ~0.03 s specialized (measured:
#: 4 parts 1.24 / 0.12 s, 8 parts 2.06 / 0.24 s; bench_compile's reduce family at 999 nodes
#: 87 / 6.5 s), as schedules/cpu_generic.py rewrites the whole function once per part (main +
#: tail, parallel and serial copies); cheaper per-part passes first (issue 12 follow-up).
SIBLING_GENERIC = False


def accepts_sibling(node):
    """A SiblingReduce whose parts are generic reductions (they share the input and axes),
    when ``SIBLING_GENERIC`` is on."""
    x = node.inputs[0]
    if not SIBLING_GENERIC or not _not_complex(node):
        return False
    return all(reduce_kind(red, x.type.ndim) is not None for red, _, _ in node.op.parts)


def accepts_softmax(node):
    x = node.inputs[0]
    nd = x.type.ndim
    return nd >= 2 and node.op.axis % nd == nd - 1 and not x.type.dtype.startswith("complex")


def _not_complex(node):
    return not any(v.type.dtype.startswith("complex") for v in list(node.inputs) + node.outputs)


def is_product(op):
    from ..symbolic.ops.linalg import Dot, FusedDot
    return isinstance(op, (Dot, FusedDot))


def accepts_product(node):
    """Float matrix x matrix (the register tile, lowering/generic_matmul.py) and matrix x
    vector products (cpu_matmul's matvec / vecmat schedules on symbolic extents); others
    stay specialized."""
    from ..symbolic.ops.linalg import FusedDot
    a, b = node.inputs[:2]
    out = node.outputs[0].type.dtype
    floats = ("float32", "float64")
    if out not in floats or a.type.dtype not in floats or b.type.dtype not in floats:
        return False
    return a.type.ndim == 2 and (b.type.ndim == 2 or (b.type.ndim == 1 and not isinstance(node.op, FusedDot)))


def product_concrete(node):
    """N always static for matrix x matrix; M and K static when they are dims of shared
    variables (weights).  Matrix x vector and ``x.T @ v``: cpu_gemv.py schedules any
    symbolic rows, contraction or columns, so only weight dims are pinned."""
    if node.inputs[1].type.ndim == 1:
        return [(0, 0, "fixed"), (0, 1, "fixed"), (1, 0, "fixed")]
    return [(1, 1), (0, 1, "fixed"), (0, 0, "fixed")]


def accepts_indexing(node):
    """Subtensor / IncSubtensor whose indices are graph constants (lowering/generic_index.py),
    not complex."""
    first = node.op.n_before
    if not _not_complex(node):
        return False
    return all(isinstance(v, Constant) for v in node.inputs[first:])


def _declare_defaults():
    from ..symbolic.elemwise import DimShuffle, Elemwise
    declare_generic(Elemwise, accepts=_not_complex)     # Composite fusion included
    declare_generic(DimShuffle, accepts=_not_complex)
    from ..symbolic.ops.reduce import CAReduce
    declare_generic(CAReduce, accepts=accepts_reduce)   # rows, 1-d, columns (generic_rules.py)
    from ..symbolic.ops.nnet import LogSoftmax, Softmax
    declare_generic(Softmax, LogSoftmax, accepts=accepts_softmax)   # last axis
    # matrix products: rows (a batch) and contraction symbolic, built by construction
    # (lowering/generic_matmul.py); N always static, K and M static when they are weight dims
    from ..symbolic.ops.linalg import Dot, FusedDot
    declare_generic(Dot, FusedDot, accepts=accepts_product, concrete=product_concrete)
    # basic indexing with constant indices, alloc (lowering/generic_index.py)
    from ..symbolic.ops.alloc import Alloc
    from ..symbolic.ops.subtensor import IncSubtensor, Subtensor
    declare_generic(Subtensor, IncSubtensor, accepts=accepts_indexing)
    declare_generic(Alloc, accepts=_not_complex)
    # sibling reductions (one multi-output kernel), argmax/argmin (generic_rules.py)
    from ..symbolic.ops.reduce_siblings import SiblingReduce
    declare_generic(SiblingReduce, accepts=accepts_sibling)
    from ..symbolic.ops.reduce import Argmax
    declare_generic(Argmax, accepts=accepts_argmax)


_declare_defaults()


# convolutions and pooling: generic in the batch (and pooling's leading dims), their image
# and filter sizes structural (lowering/generic_conv.py's declarations import no TVM)
from . import generic_conv_decl  # noqa: E402,F401


# ------------------------------------------------ shape ops, advanced indexing, arange (issue 12)
# (lowering/generic_shape_ops.py; AdvancedSubtensor and ARange keep their static rules,
# which compare no extent)
def accepts_advanced(node):
    """Integer index arrays and whole slices (``W[idx]``, ``p[arange(n), y]``); boolean
    masks and partial slices stay specialized."""
    if not _not_complex(node):
        return False
    for e in node.op.idx_list:
        if e[0] == "slice" and any(p is not None for p in e[1:]):
            return False
        if e[0] == "array" and e[1] == "bool":
            return False
    return True


def accepts_arange(node):
    """``arange(start, stop, step)`` with constant start and step (stop: a shape)."""
    return isinstance(node.inputs[0], Constant) and isinstance(node.inputs[2], Constant)


#: dims of a generic reshape's input + output at most: each output index is a chain of
#: symbolic div/mod over the input's dims, and LLVM's vectorizer took 78 s on a 6-d -> 3-d one
#: (``kron`` of a tensor3); deeper reshapes stay specialized (a build of ~50 ms per shape)
RESHAPE_GENERIC_DIMS = 6


def accepts_reshape(node):
    return _not_complex(node) and node.inputs[0].ndim + node.outputs[0].ndim <= RESHAPE_GENERIC_DIMS


def _declare_shape_ops():
    from ..symbolic.ops.alloc import ARange
    from ..symbolic.ops.rearrange import Squeeze
    from ..symbolic.ops.reshape import Flatten, Join, Reshape, Split
    from ..symbolic.ops.subtensor import AdvancedSubtensor
    declare_generic(Reshape, Flatten, accepts=accepts_reshape)
    declare_generic(Squeeze, Join, Split, accepts=_not_complex)
    declare_generic(AdvancedSubtensor, accepts=accepts_advanced)
    declare_generic(ARange, accepts=accepts_arange)


_declare_shape_ops()
