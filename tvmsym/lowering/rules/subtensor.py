"""TE computes for basic indexing (Subtensor, IncSubtensor) and integer-array indexing.

Slice bounds are known when the kernel is built (``ctx.values``); an integer index
that is only known at call time is read from its 0-d buffer and wrapped if negative
(its bounds were checked in Python before the call).  Boolean masks and advanced
set/inc (a scatter) run in numpy.
"""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops.subtensor import AdvancedSubtensor, IncSubtensor, Subtensor
from . import lower_rule
from .scalar import cast
from .shape import loader

te = _tvm.te
tirx = _tvm.tirx


def _index_values(node, inputs, ctx, first):
    """Values of the index inputs: Python ints when known at build time, else TE loads."""
    out = []
    for v, t in zip(node.inputs[first:], inputs[first:]):
        if v in ctx.values:
            out.append(int(ctx.values[v]))
        elif t is None:
            out.append(int(v.data))
        else:
            out.append(cast(t(), "int64"))
    return out


def _is_one(n):
    """A static extent 1 (a symbolic extent is never taken for one)."""
    return (isinstance(n, int) or isinstance(n, tirx.IntImm)) and int(n) == 1


def _wrap(i, n):
    if isinstance(i, int):
        return i % n if n else 0
    return cast(tirx.Select(i < 0, i + n, i), "int32")


def _region(node, inputs, ctx, first):
    """Per x dim: ("int", index expr) or ("slice", start (int or expr), step, length).

    A slice start/stop read at run time (an input's value, see ``lower.infer_shapes``)
    is normalized as numpy does; its length is the output's (Subtensor only).
    """
    op = node.op
    xshape = ctx.shape(node.inputs[0])
    vals = _index_values(node, inputs, ctx, first)
    known = [v if isinstance(v, int) else None for v in vals]
    static = op._known(known)
    reg = op.region(xshape, known) if static else None
    out_shape = ctx.shape(node.outputs[0])
    it = iter(vals)
    out = []
    n_slices = 0
    for d in range(len(xshape)):
        e = op.idx_list[d] if d < len(op.idx_list) else ("slice", None, None, None)
        if e[0] != "slice":
            out.append(("int", _wrap(next(it), xshape[d])))
            continue
        parts = [next(it) if p is not None else None for p in e[1:]] if d < len(op.idx_list) else [None] * 3
        if static:
            out.append(reg[d])
        else:
            n = xshape[d]
            step = 1 if parts[2] is None else parts[2]
            start = parts[0]
            if start is None:
                start = 0 if step > 0 else n - 1
            elif isinstance(start, int):
                start = slice(start, None, step).indices(n)[0]
            elif step > 0:
                start = tirx.Select(start < 0, tirx.max(start + n, 0), tirx.min(start, n))
            else:
                start = tirx.Select(start < 0, tirx.max(start + n, -1), tirx.min(start, n - 1))
            out.append(("slice", cast(start, "int32") if not isinstance(start, int) else start,
                        step, out_shape[n_slices]))
        n_slices += 1
    return out


@lower_rule(Subtensor)
def lower_subtensor(node, inputs, ctx):
    x = loader(ctx, node.inputs[0], inputs[0])
    reg = _region(node, inputs, ctx, 1)

    def body(*j):
        it = iter(j)
        idx = []
        for r in reg:
            if r[0] == "int":
                idx.append(r[1])
            else:
                idx.append(r[1] + next(it) * r[2])
        return x(*idx)
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag="injective")]


@lower_rule(IncSubtensor)
def lower_inc_subtensor(node, inputs, ctx):
    op = node.op
    x = loader(ctx, node.inputs[0], inputs[0])
    yv = node.inputs[1]
    y = loader(ctx, yv, inputs[1])
    ys = ctx.shape(yv) if inputs[1] is not None else ()
    reg = _region(node, inputs, ctx, 2)
    nsub = sum(1 for r in reg if r[0] == "slice")
    if any(r[0] == "slice" and r[3] == 0 for r in reg):          # nothing is indexed: a copy
        return [te.compute(ctx.shape(node.outputs[0]), lambda *i: x(*i), name=ctx.name(node),
                           tag="injective")]

    lead = nsub - len(ys)
    body = inc_region_body(x, y, reg, [n == 1 for n in ys], lead, op.set_instead_of_inc)
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag="injective")]


def inc_region_body(x, y, reg, y_bcast, lead, set_instead):
    """The body ``i -> element`` of ``x`` with ``y`` set into / added to the region ``reg``
    (per x dim ``("int", index)`` or ``("slice", start, step, length)``, start and length
    ints or expressions): inside the region the new value, elsewhere ``x``.  ``y``'s dims
    are right-aligned to the region's slices (``lead`` slices before its first dim);
    ``y_bcast[k]``: y's dim k is broadcast (read at 0).  Shared by the static rule and the
    shape-generic one (lowering/generic_index.py); divisors are kept positive (a negative
    step counts from the other side)."""
    def body(*i):
        cond = None
        sub = []
        for d, r in enumerate(reg):
            if r[0] == "int":
                c = i[d] == r[1]
            else:
                start, step, n = r[1], r[2], r[3]
                off, st = (i[d] - start, step) if step > 0 else (start - i[d], -step)
                q = tirx.floordiv(off, st) if st != 1 else off
                c = tirx.all(q >= 0, q < n) if st == 1 else \
                    tirx.all(tirx.floormod(off, st) == 0, q >= 0, q < n)
                sub.append(q)
            cond = c if cond is None else tirx.all(cond, c)
        yidx = [0 if b else sub[lead + k] for k, b in enumerate(y_bcast)]
        new = y(*yidx) if set_instead else x(*i) + y(*yidx)
        if cond is None:
            return new
        return tirx.if_then_else(cond, new, x(*i))     # never Select: y is read only inside
    return body


@lower_rule(AdvancedSubtensor)
def lower_advanced_subtensor(node, inputs, ctx):
    """Integer arrays (broadcast together) and constant slices; masks never get here."""
    op = node.op
    x = loader(ctx, node.inputs[0], inputs[0])
    xshape = ctx.shape(node.inputs[0])
    out_shape = ctx.shape(node.outputs[0])
    vals = iter(zip(node.inputs[1:], inputs[1:]))
    dims = []           # per x dim: ("slice", start, step) or ("array", loader, shape)
    for d, e in enumerate(op.idx_list):
        if e[0] == "slice":
            parts = []
            for p in e[1:]:
                if p is None:
                    parts.append(None)
                else:
                    v, t = next(vals)
                    parts.append(int(ctx.values[v]) if v in ctx.values else int(v.data))
            if all(p is None for p in parts):      # a whole axis (any extent, symbolic too)
                dims.append(("slice", 0, 1))
                continue
            st, sp, sd = slice(*parts).indices(xshape[d])
            dims.append(("slice", st, sd))
        else:
            v, t = next(vals)
            dims.append(("array", loader(ctx, v, t), ctx.shape(v) if t is not None else ()))
    for d in range(len(op.idx_list), len(xshape)):
        dims.append(("slice", 0, 1))
    adv = [k for k, e in enumerate(dims) if e[0] == "array"]
    nb = max(len(dims[k][2]) for k in adv)
    contiguous = adv == list(range(adv[0], adv[-1] + 1))
    # output dim positions: the broadcast block of nb dims at adv[0] (contiguous) or in front
    bstart = adv[0] if contiguous else 0

    def body(*j):
        bidx = j[bstart:bstart + nb]
        rest = list(j[:bstart]) + list(j[bstart + nb:])
        it = iter(rest)
        idx = []
        for d, e in enumerate(dims):
            if e[0] == "slice":
                idx.append(e[1] + next(it) * e[2])
            else:
                shp = e[2]
                lead = nb - len(shp)
                a = e[1](*[0 if _is_one(n) else bidx[lead + k] for k, n in enumerate(shp)])
                idx.append(_wrap(cast(a, "int64"), xshape[d]))
        return x(*idx)
    return [te.compute(out_shape, body, name=ctx.name(node), tag="injective")]
