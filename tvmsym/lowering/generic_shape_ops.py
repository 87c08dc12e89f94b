"""Shape-generic lowering of the shape ops: reshape / flatten / squeeze, join, split.

Every extent may be a ``tirx.Var`` (a class ``n<k>``, or a derived size ``d<j>`` such as a
flatten's ``n0 * n1`` or a join's sum, bound from the buffer that has it:
``lowering/symbolic_shapes.py``).  Nothing here compares a symbolic extent in Python.

* reshape: the trailing dims the input and output share (the same constant or the same
  variable) are copied index for index; only the leading ones are raveled and unraveled
  (a reshape of ``(n0*n1, 128)`` to ``(n0, n1, 128)`` reads ``x[i0 * n1 + i1, j]``), so
  the schedule's vectorized inner loop stays a plain copy;
* join: pieces at offsets that are sums of the pieces' extents (static when they are);
* split: each piece read at the sum of the previous pieces' extents (its outputs' shapes).

Advanced indexing with integer arrays and whole slices, and ``arange`` with constant start
and step, keep their static rules (rules/subtensor.py, rules/alloc.py): those never compare
an extent.
"""
from __future__ import annotations

from .. import _tvm
from ..symbolic.ops import reshape as S
from ..symbolic.ops.rearrange import Squeeze
from .rules.scalar import cast
from .rules.shape import loader

te = _tvm.te
tirx = _tvm.tirx


def _static(d):
    return isinstance(d, int) or isinstance(d, tirx.IntImm)


def same_extent(a, b):
    """True if extents ``a`` and ``b`` are known equal (equal constants or one variable)."""
    if _static(a) and _static(b):
        return int(a) == int(b)
    if _static(a) or _static(b):
        return False
    return a.same_as(b)


def _ravel(idx, shape):
    flat = None
    for i, n in zip(idx, shape):
        flat = i if flat is None else flat * n + i
    return 0 if flat is None else flat


def _unravel(flat, shape):
    out = []
    for n in reversed(shape):
        if _static(n) and int(n) == 1:
            out.append(0)
            continue
        out.append(flat % n)
        flat = flat // n
    return out[::-1]


def lower_reshape_generic(node, inputs, ctx):
    x = loader(ctx, node.inputs[0], inputs[0])
    ins = list(ctx.shape(node.inputs[0]))
    outs = list(ctx.shape(node.outputs[0]))
    k = 0           # trailing dims shared by both shapes: indexed directly
    while k < min(len(ins), len(outs)) and same_extent(ins[-1 - k], outs[-1 - k]):
        k += 1
    lead_in, lead_out = ins[:len(ins) - k], outs[:len(outs) - k]

    def body(*i):
        head, tail = list(i[:len(lead_out)]), list(i[len(lead_out):])
        if not lead_in:
            return x(*tail)
        return x(*(_unravel(_ravel(head, lead_out), lead_in) + tail))
    return [te.compute(outs, body, name=ctx.name(node), tag="injective")]


def lower_join_generic(node, inputs, ctx):
    ax = node.op.axis
    dt = node.outputs[0].type.dtype
    loads = [loader(ctx, v, t) for v, t in zip(node.inputs, inputs)]
    lens = [ctx.shape(v)[ax] for v in node.inputs]
    starts = [0]
    for n in lens:
        s = starts[-1]
        starts.append(int(n) + s if _static(n) and isinstance(s, int) else s + n)

    def body(*i):
        # if_then_else, never Select (as rules/reshape.py's join): a piece is read only
        # inside its range
        r = None
        for k in range(len(loads) - 1, -1, -1):
            if _static(lens[k]) and int(lens[k]) == 0:
                continue
            idx = list(i)
            idx[ax] = i[ax] - starts[k]
            val = cast(loads[k](*idx), dt)
            r = val if r is None else tirx.if_then_else(i[ax] < starts[k + 1], val, r)
        return r if r is not None else cast(0, dt)
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag="injective")]


def register():
    from .generic_rules import GENERIC_RULES
    for c in (S.Reshape, S.Flatten, Squeeze):
        GENERIC_RULES.setdefault(c, lower_reshape_generic)
    GENERIC_RULES.setdefault(S.Join, lower_join_generic)
    from .rules.reshape import lower_split  # (one rule: its offsets may be symbolic)
    GENERIC_RULES.setdefault(S.Split, lower_split)


register()
