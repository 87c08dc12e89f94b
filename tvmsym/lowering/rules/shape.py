"""TE helpers of the shape families (index (un)raveling, loaders, build-time values) and
the MakeVector rule; the families' rules are ``reshape.py``, ``repeat.py``, ``alloc.py``,
``rearrange.py``."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops import shape as S
from . import lower_rule
from .scalar import cast

te = _tvm.te
tirx = _tvm.tirx


def ravel(idx, shape):
    flat = 0
    for i, n in zip(idx, shape):
        flat = flat * n + i
    return flat


def unravel(flat, shape):
    out = []
    for n in reversed(shape):
        out.append(flat % n if n != 1 else 0)
        flat = flat // n
    return out[::-1]


def loader(ctx, v, t):
    """A function idx -> element of input ``v`` (TE tensor ``t`` or an inlined scalar constant)."""
    if t is None:
        val = ctx.scalar_value(v)
        return lambda *idx: val
    return lambda *idx: t(*idx)


def value(ctx, v):
    """The build-time value of a shape-like input."""
    vals = getattr(ctx, "values", None) or {}
    if v in vals:
        return vals[v]
    data = getattr(v, "data", None)
    if data is not None:
        return data
    raise ValueError(f"{v} has no value known when the kernel is built")


def _out(node, ctx, body, tag="injective"):
    return [te.compute(ctx.shape(node.outputs[0]), body, name=ctx.name(node), tag=tag)]


@lower_rule(S.MakeVector)
def lower_make_vector(node, inputs, ctx):
    dt = node.outputs[0].type.dtype
    loads = [loader(ctx, v, t) for v, t in zip(node.inputs, inputs)]

    def body(i):
        r = cast(loads[-1](), dt)
        for k in range(len(loads) - 2, -1, -1):
            r = tirx.Select(i == k, cast(loads[k](), dt), r)
        return r
    return _out(node, ctx, body)
