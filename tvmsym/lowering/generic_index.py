"""Shape-generic lowering of basic indexing and alloc (Subtensor, IncSubtensor, Alloc).

Supported on symbolic extents (``lowering/symbolic_shapes.py`` accepts only these):
integer indices and slices whose parts are graph constants (``h[-1]``, ``x[:, 0]``,
``x[::-1]``, ``x[2:]``...), normalized as numpy does with the symbolic size (``min`` /
``max`` expressions, never a Python comparison with a symbolic value).  A slice length
comes from the output's shape: a dim like ``n - 2`` is a derived size (its own variable,
bound by the output buffer); a constant-looking length (``x[:5]``) is checked against the
actual shapes at every new shape (``symbolic_shapes.consistent``).  The increment's body
is rules/subtensor.py's ``inc_region_body`` (one for both lowerings).  Index
bounds are checked by shape inference before any call (``Subtensor.region``).  An index
known only at run time or derived from a shape keeps the static lowering (specialized).
"""
from __future__ import annotations

from .. import _tvm
from ..symbolic.ops.alloc import Alloc
from ..symbolic.ops.subtensor import IncSubtensor, Subtensor
from .rules.shape import loader
from .rules.subtensor import inc_region_body

te = _tvm.te
tirx = _tvm.tirx


class NotGenericIndex(Exception):
    """This node has no shape-generic lowering here."""


def _static(d):
    return isinstance(d, int) or isinstance(d, tirx.IntImm)


def _item(v):
    return int(v.data.reshape(()).item())


def _norm_start(s, step, n):
    """slice.indices' start for a constant ``s`` (or None) and a symbolic ``n``."""
    if _static(n):
        return slice(s, None, step).indices(int(n))[0]
    if step > 0:
        if s is None:
            return 0
        return tirx.max(n + s, 0) if s < 0 else tirx.min(n, s)
    if s is None:
        return n - 1
    return tirx.max(n + s, -1) if s < 0 else tirx.min(n - 1, s)


def _region(node, shapes_x, out_sub_shape):
    """Per x dim: ("int", index expr) or ("slice", start expr, step, length)."""
    op = node.op
    vals = iter([_item(v) for v in node.inputs[op.n_before:]])
    lengths = iter(out_sub_shape)
    out = []
    for d, n in enumerate(shapes_x):
        e = op.idx_list[d] if d < len(op.idx_list) else ("slice", None, None, None)
        if e[0] == "int":
            i = next(vals)
            if _static(n):
                out.append(("int", i % int(n) if int(n) else 0))
            else:
                out.append(("int", n + i if i < 0 else i))
            continue
        if e[0] != "slice":
            raise NotGenericIndex(f"index kind {e[0]}")
        start, stop, step = [next(vals) if p is not None else None for p in e[1:]]
        step = 1 if step is None else step
        if step == 0:
            raise NotGenericIndex("slice step 0")
        out.append(("slice", _norm_start(start, step, n), step, next(lengths)))
    return out


def lower_subtensor_generic(node, inputs, ctx):
    x = loader(ctx, node.inputs[0], inputs[0])
    out_shape = ctx.shape(node.outputs[0])
    reg = _region(node, ctx.shape(node.inputs[0]), out_shape)

    def body(*j):
        it = iter(j)
        idx = []
        for r in reg:
            idx.append(r[1] if r[0] == "int" else r[1] + next(it) * r[2])
        return x(*idx)
    return [te.compute(out_shape, body, name=ctx.name(node), tag="injective")]


def lower_inc_subtensor_generic(node, inputs, ctx):
    op = node.op
    x = loader(ctx, node.inputs[0], inputs[0])
    yv = node.inputs[1]
    y = loader(ctx, yv, inputs[1])
    xs = ctx.shape(node.inputs[0])
    # the indexed region's lengths: x's sliced dims as the Subtensor of these indices gives
    # them, i.e. y's shape broadcast to them (y's dims are right-aligned to the slices)
    nsl = sum(1 for d in range(len(xs))
              if (op.idx_list[d] if d < len(op.idx_list) else ("slice",))[0] == "slice")
    ys = ctx.shape(yv) if inputs[1] is not None else ()
    ybc = list(yv.type.broadcastable) if inputs[1] is not None else []
    lead = nsl - len(ys)
    lengths = []
    sl = [d for d in range(len(xs)) if (op.idx_list[d] if d < len(op.idx_list) else ("slice",))[0] == "slice"]
    for k, d in enumerate(sl):
        e = op.idx_list[d] if d < len(op.idx_list) else ("slice", None, None, None)
        full = all(p is None for p in e[1:])
        if full:
            lengths.append(xs[d])
        elif k >= lead and not ybc[k - lead]:
            lengths.append(ys[k - lead])
        else:
            raise NotGenericIndex("a partial slice set from a broadcast value")
    reg = _region(node, xs, lengths)
    body = inc_region_body(x, y, reg, [bool(b) for b in ybc[:len(ys)]], lead, op.set_instead_of_inc)
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag="injective")]


def lower_alloc_generic(node, inputs, ctx):
    """The value broadcast by its type's broadcastable dims (a size-1 class is not a
    broadcast); each other value dim must be the output's (the same class)."""
    vv = node.inputs[0]
    v = loader(ctx, vv, inputs[0])
    out = ctx.shape(node.outputs[0])
    vs = ctx.shape(vv) if inputs[0] is not None else ()
    bc = vv.type.broadcastable if inputs[0] is not None else ()
    off = len(out) - len(vs)
    for d, n in enumerate(vs):
        o = out[off + d]
        if bc[d]:
            continue
        same = (_static(n) and _static(o) and int(n) == int(o)) or (not _static(n) and n.same_as(o))
        if not same:
            raise NotGenericIndex("alloc: a value dim that is not the output's")
    return [te.compute(out, lambda *i: v(*[0 if bc[d] else i[off + d] for d in range(len(vs))]),
                       name=ctx.name(node), tag="injective")]


def register():
    from .generic_rules import GENERIC_RULES
    GENERIC_RULES.setdefault(Subtensor, lower_subtensor_generic)
    GENERIC_RULES.setdefault(IncSubtensor, lower_inc_subtensor_generic)
    GENERIC_RULES.setdefault(Alloc, lower_alloc_generic)


register()
