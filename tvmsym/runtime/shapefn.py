"""Shape functions: every shape of a generic build at new input sizes, without shape inference.

A function's generic build (``runtime/generic.py``) serves every input shape of its
signature, but each new shape still needs the shapes of the build's buffers (to allocate
them) and the values of its shape arithmetic (``x.shape[0]``, a mean's element count).
Running the graph's shape inference (``symbolic/shapes.infer_shapes``: every node's rule,
dicts, numpy conversions) for each new shape costs about as much as the step it sizes.

``derive`` runs that inference **once per signature**, on ``Sym`` dimensions instead of
ints: each arithmetic operation on a ``Sym`` writes one line of Python (``t3 = (n0 *
n1)``), each comparison the rule makes writes a *guard* (``if not (n0 > 64): return
None``: the rule took that branch at these sizes and the code below is valid only where
it would again).  A node whose rule needs a plain int (``int(d)``, an index, numpy with an
int dtype) is *opaque*: the generated code calls that node's own rule with ints (one node,
not the graph).  The lines become one straight-line Python function (``ShapeFn``):

    input shapes -> (every record's output shapes, the shape-arithmetic constants, the
                     graph outputs' shapes) or None

``None`` (a guard failed: another branch of some rule, or a size where a generic kernel's
probed structure does not hold, or 64-bit indices) sends the call to the general path
(``generic.build_for``), which infers shapes as before.  What makes a ``ShapeFn`` exact:
the guards replay every decision the rules took, the derived shapes are checked against
the build's own at the sizes it was made for, and against the signature's structure
(``lowering.symbolic_shapes``) at its probe sizes, before the function is used.

``ShapeFn.build_at(shapes)`` is the build at those shapes: the same kernels, records with
the new shapes (``executor.Build.at_shapes``).  ``stats`` counts derivations and uses.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ..symbolic.graph import Constant
from ..symbolic.inner import InnerGraphOp
from ..symbolic.shapes import VALUE_MAX

stats = {"derived": 0, "failed": 0, "hits": 0, "misses": 0, "opaque_nodes": 0}

_INDEX_LIMIT = 2 ** 31      # a buffer this large needs 64-bit index arithmetic


class Concretize(Exception):
    """A rule needed a plain int of a ``Sym``: that node is opaque (its rule runs per call)."""


class _Trace:
    """The lines of the shape function being written."""

    def __init__(self):
        self.lines = []
        self.n = 0
        self.env = {}

    def temp(self, prefix="t"):
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, obj):
        name = self.temp("k")
        self.env[name] = obj
        return name


def _e(x):
    """The expression text of a dimension (``Sym`` or int)."""
    if isinstance(x, Sym):
        return x.name
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, (int, np.integer)):
        return repr(int(x))
    raise Concretize(type(x).__name__)


class Sym:
    """A traced integer: the name of a local of the generated code and its value here."""

    __slots__ = ("name", "v", "tr")

    def __init__(self, name, v, tr):
        self.name, self.v, self.tr = name, v, tr

    def _op(self, other, sym, fn, swap=False):
        if isinstance(other, Sym):
            ov = other.v
        elif isinstance(other, (int, np.integer)) and not isinstance(other, (bool, np.bool_)):
            ov = int(other)
        else:
            return NotImplemented
        a, b = (_e(other), self.name) if swap else (self.name, _e(other))
        v = fn(ov, self.v) if swap else fn(self.v, ov)
        if isinstance(v, bool) or not isinstance(v, int):
            raise Concretize(sym)
        name = self.tr.temp()
        self.tr.lines.append(f"{name} = ({a} {sym} {b})")
        return Sym(name, v, self.tr)

    def __add__(self, o):
        return self._op(o, "+", lambda a, b: a + b)

    def __radd__(self, o):
        return self._op(o, "+", lambda a, b: a + b, True)

    def __sub__(self, o):
        return self._op(o, "-", lambda a, b: a - b)

    def __rsub__(self, o):
        return self._op(o, "-", lambda a, b: a - b, True)

    def __mul__(self, o):
        return self._op(o, "*", lambda a, b: a * b)

    def __rmul__(self, o):
        return self._op(o, "*", lambda a, b: a * b, True)

    def __floordiv__(self, o):
        return self._op(o, "//", lambda a, b: a // b)

    def __rfloordiv__(self, o):
        return self._op(o, "//", lambda a, b: a // b, True)

    def __mod__(self, o):
        return self._op(o, "%", lambda a, b: a % b)

    def __rmod__(self, o):
        return self._op(o, "%", lambda a, b: a % b, True)

    def __truediv__(self, o):
        raise Concretize("/")

    def __rtruediv__(self, o):
        raise Concretize("/")

    def __neg__(self):
        return self._op(0, "-", lambda a, b: a - b, True)

    def __pos__(self):
        return self

    def __abs__(self):
        return self if self >= 0 else -self

    # comparisons: the outcome here, replayed by a guard in the generated code
    def _guard_pair(self, other, sym, result):
        if isinstance(other, Sym):
            if other is self or other.name == self.name:
                return result
        elif not isinstance(other, (int, np.integer)):
            raise Concretize(sym)
        text = f"({self.name} {sym} {_e(other)})"
        self.tr.lines.append(f"if {'not ' if result else ''}{text}: return None")
        return result

    def _cmp(self, other, sym, fn):
        if isinstance(other, Sym):
            r = fn(self.v, other.v)
        elif isinstance(other, (int, np.integer)):
            r = fn(self.v, int(other))
        else:
            return NotImplemented
        return self._guard_pair(other, sym, bool(r))

    def __eq__(self, o):
        return self._cmp(o, "==", lambda a, b: a == b)

    def __ne__(self, o):
        return self._cmp(o, "!=", lambda a, b: a != b)

    def __lt__(self, o):
        return self._cmp(o, "<", lambda a, b: a < b)

    def __le__(self, o):
        return self._cmp(o, "<=", lambda a, b: a <= b)

    def __gt__(self, o):
        return self._cmp(o, ">", lambda a, b: a > b)

    def __ge__(self, o):
        return self._cmp(o, ">=", lambda a, b: a >= b)

    def __bool__(self):
        return self._guard_pair(0, "!=", self.v != 0)

    def __hash__(self):
        return hash(self.v)

    # a plain int is needed: the node is opaque
    def __int__(self):
        raise Concretize("int")

    def __index__(self):
        raise Concretize("index")

    def __float__(self):
        raise Concretize("float")

    def __repr__(self):
        return f"Sym({self.name}={self.v})"


def _has_sym(x):
    if isinstance(x, Sym):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype == object and any(isinstance(e, Sym) for e in x.flat)
    if isinstance(x, (tuple, list)):
        return any(_has_sym(e) for e in x)
    return False


def _concrete(x):
    """``x`` with every ``Sym`` replaced by its value here."""
    if isinstance(x, Sym):
        return x.v
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.array([_concrete(e) for e in x.flat], dtype=np.int64).reshape(x.shape)
    if isinstance(x, tuple):
        return tuple(_concrete(e) for e in x)
    if isinstance(x, list):
        return [_concrete(e) for e in x]
    return x


def _value_expr(tr, a, dtype):
    """Code making the value array ``a`` (its elements ``Sym`` or ints) at run time."""
    if not _has_sym(a):
        return tr.const(np.asarray(a))
    flat = ", ".join(_e(e) for e in a.flat)
    return f"_np.array([{flat}], dtype={np.dtype(dtype).name!r}).reshape({tuple(a.shape)!r})"


def _shape_expr(s):
    if s is None:
        return "None"
    return "(" + "".join(_e(d) + ", " for d in s) + ")"


# ------------------------------------------------------------------ one node's inference
def node_infer(node, ins, vals, inner):
    """Output shapes and small-int values of ``node`` from its inputs' (``ins``: shapes,
    ``vals``: values or None): ``symbolic/shapes.infer_shapes``'s step for one node (the
    same rules, in the same order), on ints or on ``Sym``."""
    op = node.op
    if any(s is None for s in ins):
        outs = [None] * len(node.outputs)
    elif isinstance(op, InnerGraphOp):
        outs = (op.infer_shape_inner(node, ins, vals, inner(op))
                if inner is not None else op.infer_shape(node, ins))
    elif hasattr(op, "infer_shape_values"):
        outs = op.infer_shape_values(node, ins, vals)
    else:
        outs = op.infer_shape(node, ins)
    shapes = []
    for s in outs:
        shapes.append(None if s is None else tuple(d if isinstance(d, Sym) else int(d) for d in s))
    return shapes, _infer_values(node, ins, shapes, vals)


def _small_int(v, shape):
    """``symbolic.shapes.value_like`` on dims that may be ``Sym`` (the size test a guard)."""
    if shape is None or v.type.dtype[0] not in "iub":
        return False
    n = 1
    for d in shape:
        n = n * d
    return bool(n <= VALUE_MAX)


def _infer_values(node, ins, shapes, vals):
    """``symbolic.shapes.infer_values`` for one node: [value or None] per output."""
    op = node.op
    none = [None] * len(node.outputs)
    if not all(_small_int(o, s) for o, s in zip(node.outputs, shapes)) or \
            getattr(op, "has_side_effects", False) or isinstance(op, InnerGraphOp):
        return none
    res = _sym_value(node, ins) if any(_has_sym(x) for x in ins) else None
    if res is not None:
        pass
    elif hasattr(op, "infer_value"):
        res = op.infer_value(node, ins, vals)
    elif all(v is not None for v in vals):
        try:
            with np.errstate(all="ignore"):
                res = op.perform(node, vals)
        except NotImplementedError:
            res = None
    if res is None:
        return none
    out = []
    for o, v in zip(node.outputs, res):
        if _has_sym(v):
            a = np.empty(np.shape(v) if isinstance(v, np.ndarray) else (), dtype=object)
            if isinstance(v, np.ndarray):
                a[...] = v
            else:
                a[()] = v
            for e in a.flat:
                if not isinstance(e, (Sym, int, np.integer)):
                    raise Concretize("value")
            out.append(a)
        else:
            out.append(np.asarray(v, dtype=o.type.dtype))
    return out


def _obj(x):
    a = np.empty((), dtype=object)
    a[()] = x
    return a


def _sym_value(node, ins):
    """The value of the ops whose value is shape arithmetic (``x.shape``, ``x.shape[i]``, a
    reduction's element count) on traced dims, so the code computes it inline (their own
    ``infer_value`` makes an int64 array: an int); None for any other op."""
    from ..symbolic.grad_rules.reduce import ReducedCount
    from ..symbolic.ops.shape import Shape, Shape_i
    op = node.op
    t = type(op)
    if t is Shape_i:
        return [_obj(ins[0][op.i])]
    if t is Shape:
        a = np.empty(len(ins[0]), dtype=object)
        for k, d in enumerate(ins[0]):
            a[k] = d
        return [a]
    if t is ReducedCount:
        shape = ins[0]
        n = 1
        for ax in (range(len(shape)) if op.axis is None else op.axis):
            n = n * shape[ax]
        n = n - op.ddof
        return [_obj(n if n > 0 else 0)]
    return None


def _node_call(node, inner):
    """The per-call form of an opaque node: (out shapes, out values) from ints."""
    def call(ins, vals):
        return node_infer(node, ins, vals, inner)
    return call


# ------------------------------------------------------------------ derive
class ShapeFn:
    """The generated shape function of one base build (``derive``)."""

    def __init__(self, fn, base, pattern, n_opaque, source):
        self.fn, self.base, self.pattern = fn, base, pattern
        self.n_opaque, self.source = n_opaque, source

    def build_at(self, input_shapes):
        """The base build at ``input_shapes`` (same class pattern), or None (a guard failed)."""
        try:
            got = self.fn(*input_shapes)
        except Exception:   # noqa: BLE001  (a rule of an opaque node refused: general path)
            got = None
        if got is None:
            stats["misses"] += 1
            return None
        stats["hits"] += 1
        return self.base.at_shapes(input_shapes, *got)


def derive(base, fgraph, order, pattern, sizes, inner=None, predict=None, pins=()):
    """The ``ShapeFn`` of ``base`` (a generic build at input shapes ``base.input_shapes``, of
    class ``pattern`` with class sizes ``sizes``), or None (it cannot be derived: the
    general path serves every shape then).

    ``predict``: [(var, dims)] the signature's structure says (dims: ``('c', k)`` or int
    per axis) for the variables its generic kernels read or write: a call where the traced
    shape differs fails a guard.  ``pins``: (class, size) the build's specialized kernels
    (and the generic ones' static dims) need.
    """
    try:
        got = _derive(base, fgraph, order, pattern, sizes, inner, predict or [], pins)
    except Exception:   # noqa: BLE001  (a rule that cannot be traced at all: general path)
        if os.environ.get("TVMSYM_SHAPEFN_DEBUG"):
            import traceback
            traceback.print_exc()
        got = None
    stats["derived" if got is not None else "failed"] += 1
    return got


def _records_of(base):
    """[(record, [output var per out])] of ``base``'s steps, or None (not a plain build)."""
    out = []
    for rec in base.steps:
        vs = list(rec.step.outputs)
        if len(vs) != len(rec.outs):
            return None
        out.append((rec, vs))
    return out


def _fail(why):
    """None (no shape function); ``TVMSYM_SHAPEFN_DEBUG=1`` prints why."""
    if os.environ.get("TVMSYM_SHAPEFN_DEBUG"):
        print("tvmsym shapefn: not derived:", why, file=sys.stderr)
    return None


def _derive(base, fgraph, order, pattern, sizes, inner, predict, pins):
    if getattr(base, "checks", None) or getattr(base, "uses_device", False) or \
            getattr(base, "dev_const_values", None):
        return _fail('device steps, checked kernels or device constants')
    const_vars = getattr(base, "const_vars", None)
    recs = _records_of(base)
    if const_vars is None or recs is None:
        return _fail('no constant variables or records')
    tr = _Trace()
    env = tr.env
    env["_np"] = np
    n_in = len(fgraph.inputs)
    cls = {}
    head = ["def shapefn(" + "".join(f"s{k}, " for k in range(n_in)) + "):"]
    shapes, values = {}, {}
    for k, (v, row) in enumerate(zip(fgraph.inputs, pattern)):
        dims = []
        for a, d in enumerate(row):
            if isinstance(d, tuple):
                c = d[1]
                if c not in cls:
                    cls[c] = Sym(f"n{c}", int(sizes[c]), tr)
                    head.append(f"    n{c} = s{k}[{a}]")
                dims.append(cls[c])
            else:
                dims.append(int(d))
        shapes[v] = tuple(dims)
    # pinned classes: the specialized kernels were built for these sizes
    for c, n in pins:
        if c in cls:
            tr.lines.append(f"if n{c} != {int(n)}: return None")
    n_opaque = 0
    for j, node in enumerate(order):
        for i in node.inputs:
            if i not in shapes:
                if not isinstance(i, Constant):
                    return _fail('a non-constant input missing')
                shapes[i] = tuple(i.data.shape)
                if _small_int(i, i.data.shape):
                    values[i] = np.array(i.data)
        ins = [shapes[i] for i in node.inputs]
        vals = [values.get(i) for i in node.inputs]
        mark, n0 = len(tr.lines), tr.n
        try:
            if isinstance(node.op, InnerGraphOp) or getattr(node.op, "has_side_effects", False):
                raise Concretize("opaque op")
            outs, ovals = node_infer(node, ins, vals, inner)
        except Exception:   # noqa: BLE001  (Concretize, or a rule Sym does not fit: opaque)
            del tr.lines[mark:]
            tr.n = n0
            # opaque: its rule runs per call on ints
            outs, ovals = node_infer(node, [_concrete(s) for s in ins],
                                     [None if x is None else _concrete(x) for x in vals], inner)
            name = tr.temp("q")
            env[f"_node{j}"] = _node_call(node, inner)
            ie = "[" + ", ".join(_shape_expr(s) for s in ins) + "]"
            ve = "[" + ", ".join("None" if x is None else _value_expr(tr, x, i.type.dtype)
                                 for x, i in zip(vals, node.inputs)) + "]"
            tr.lines.append(f"{name} = _node{j}({ie}, {ve})")
            # the rule's answer has the traced form: known shapes, the same value sizes
            for oi, (s, v) in enumerate(zip(outs, ovals)):
                if s is None:
                    tr.lines.append(f"if {name}[0][{oi}] is not None: return None")
                else:
                    tr.lines.append(f"if {name}[0][{oi}] is None: return None")
                if v is None:
                    tr.lines.append(f"if {name}[1][{oi}] is not None: return None")
                else:
                    tr.lines.append(f"if {name}[1][{oi}] is None or {name}[1][{oi}].shape != "
                                    f"{tuple(v.shape)!r}: return None")
            souts = []
            for oi, s in enumerate(outs):
                if s is None:
                    souts.append(None)
                    continue
                row = []
                for a, d in enumerate(s):
                    t = tr.temp()
                    tr.lines.append(f"{t} = {name}[0][{oi}][{a}]")
                    row.append(Sym(t, int(d), tr))
                souts.append(tuple(row))
            sv = []
            for oi, v in enumerate(ovals):
                if v is None:
                    sv.append(None)
                    continue
                a = np.empty(v.shape, dtype=object)
                for idx, e in zip(np.ndindex(v.shape), v.flat):
                    t = tr.temp()
                    tr.lines.append(f"{t} = int({name}[1][{oi}][{idx!r}])")
                    a[idx] = Sym(t, int(e), tr)
                sv.append(a)
            outs, ovals = souts, sv
            n_opaque += 1
        for o, s, v in zip(node.outputs, outs, ovals):
            shapes[o] = s
            if v is not None:
                values[o] = v
    # the generic kernels' structure must hold (a dim that only looked like a class)
    derived = {}        # a derived size ('d', j): every dim of key j equal (one kernel variable)
    for v, dims in predict:
        s = shapes.get(v)
        if dims is None or s is None or len(s) != len(dims):
            return _fail('a predicted variable has no shape')
        for x, d in zip(s, dims):
            if isinstance(d, tuple) and len(d) == 2 and d[0] == "d":
                first = derived.setdefault(d[1], _e(x))
                if _e(x) != first:
                    tr.lines.append(f"if {_e(x)} != {first}: return None")
                continue
            if isinstance(d, tuple):
                if len(d) != 2 or d[0] != "c" or d[1] not in cls:
                    return _fail('a predicted dim is not an input class nor a constant')
                want = f"n{d[1]}"
            elif isinstance(d, (int, np.integer)) and not isinstance(d, bool):
                want = repr(int(d))
            else:
                return _fail('a predicted dim is not an input class nor a constant')
            if _e(x) != want:
                tr.lines.append(f"if {_e(x)} != {want}: return None")
    # what a build needs: every record's output shapes, the shape-arithmetic constants
    rec_exprs = []
    for rec, vs in recs:
        row = []
        for (slot, shp, _), v in zip(rec.outs, vs):
            s = shapes.get(v, None) if v in shapes else None
            if (s is None) != (shp is None):
                return _fail("a record's shape known on one side only")
            if s is not None and tuple(_concrete(s)) != tuple(int(d) for d in shp):
                return _fail('the trace disagrees with the build at its own sizes')
            row.append(_shape_expr(s))
        rec_exprs.append("(" + "".join(r + ", " for r in row) + ")")
    const_exprs = []
    for (slot, arr), var in zip(base.const_values, const_vars):
        if var is None:
            const_exprs.append(tr.const(arr))
            continue
        v = values.get(var)
        if v is None or np.size(v) != np.size(arr) or \
                not np.array_equal(np.asarray(_concrete(v)).reshape(np.shape(arr)), arr):
            return _fail("a constant's value differs")
        # (in the build's own layout: a warm entry may store a 0-d value as 1 element)
        const_exprs.append(_value_expr(tr, np.asarray(v).reshape(np.shape(arr)), arr.dtype))
    # a buffer of 2**31 elements or more needs 64-bit indices: the general path
    big = []
    for rec, vs in recs:
        for (_, shp, _), v in zip(rec.outs, vs):
            s = shapes.get(v)
            if s is not None and any(isinstance(d, Sym) for d in s):
                big.append(" * ".join(_e(d) for d in s))
    for s in list(shapes[v] for v in fgraph.inputs):
        if any(isinstance(d, Sym) for d in s):
            big.append(" * ".join(_e(d) for d in s))
    for p in dict.fromkeys(big):
        tr.lines.append(f"if {p} >= {_INDEX_LIMIT}: return None")
    consts = "[" + ", ".join(f"({int(slot)}, {e})" for (slot, _), e in
                             zip(base.const_values, const_exprs)) + "]"
    # the graph's outputs too (a scan body's build is asked for them)
    gouts = "(" + "".join(_shape_expr(shapes.get(o)) + ", " for o in fgraph.outputs) + ")"
    lines = [ln for ln in dict.fromkeys(tr.lines)]      # (a guard repeated: once)
    body = lines + [f"return ({'[' + ', '.join(rec_exprs) + ']'}, {consts}, {gouts})"]
    src = "\n".join(head + ["    " + ln for ln in body]) + "\n"
    code = compile(src, "<tvmsym shape function>", "exec")
    exec(code, env)     # noqa: S102  (our own generated source: names and integer arithmetic)
    fn = env["shapefn"]
    # the function reproduces the build it was derived from
    got = fn(*base.input_shapes)
    if got is None or not _same(got, base):
        return _fail('the function does not reproduce its build')
    # ... and agrees with the graph's shape inference at other sizes (a rule that behaved
    # differently on a Sym without touching it, e.g. a type test, shows up here)
    pinned = {c for c, _ in pins}
    for grow in (1000, 37):
        sz = [n if c in pinned else n + grow + 2 * c for c, n in enumerate(sizes)]
        probe = [tuple(sz[d[1]] if isinstance(d, tuple) else d for d in row) for row in pattern]
        got = fn(*probe)
        if got is None:
            continue            # (a guard: those sizes take the general path anyway)
        if not _agrees(got, base, recs, fgraph, order, probe, inner, const_vars):
            return _fail('the function disagrees with shape inference at other sizes')
        break
    stats["opaque_nodes"] += n_opaque
    return ShapeFn(fn, base, pattern, n_opaque, src)


def _agrees(got, base, recs, fgraph, order, probe, inner, const_vars):
    from ..symbolic.shapes import infer_shapes
    values = {}
    try:
        real = infer_shapes(fgraph.inputs, order, probe, values, None, None, inner)
    except Exception:   # noqa: BLE001  (the graph rejects sizes the function accepted)
        return False
    outs, consts, gouts = got
    for row, (rec, vs) in zip(outs, recs):
        for s, v in zip(row, vs):
            r = real.get(v)
            if (s is None) != (r is None) or (s is not None and tuple(s) != tuple(r)):
                return False
    for o, s in zip(fgraph.outputs, gouts):
        r = real.get(o)
        if r is not None and (s is None or tuple(s) != tuple(r)):
            return False
    for (_, a), var in zip(consts, const_vars):
        if var is not None:
            r = values.get(var)
            if r is None or np.size(r) != np.size(a) or \
                    not np.array_equal(np.asarray(r).reshape(np.shape(a)), a):
                return False
    return True


def _same(got, base):
    outs, consts, gouts = got
    if base.shapes:
        for o, s in zip(base.plan.fgraph.outputs, gouts):
            want = base.shapes.get(o)
            if want is not None and (s is None or tuple(s) != tuple(want)):
                return False
    for row, rec in zip(outs, base.steps):
        for s, (_, shp, _) in zip(row, rec.outs):
            if (s is None) != (shp is None) or (s is not None and tuple(s) != tuple(shp)):
                return False
    for (s, a), (s2, b) in zip(consts, base.const_values):
        if s != s2 or not (a is b or (np.shape(a) == np.shape(b) and np.array_equal(a, b))):
            return False
    return True
