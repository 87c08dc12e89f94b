"""TE computes of pooling and its gradients (window geometry in ``symbolic/ops/pool.py``).

Every window bound is index arithmetic on the output position; positions outside the
window or the image are masked with a select (a ``te`` reduction's ``where=`` can be
dropped by a schedule) and loads are clamped into the buffer.
"""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops.pool import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad, Pool
from . import lower_rule
from .scalar import cast, const

te, tirx = _tvm.te, _tvm.tirx


def _all(conds):
    c = None
    for x in conds:
        c = x if c is None else tirx.all(c, x)
    return c


def _clamp(i, n):
    return tirx.max(tirx.min(i, n - 1), 0)


class _Geo:
    """Window bounds of one pooled axis."""

    def __init__(self, op, a, h, oh):
        self.ws, self.st, self.p = op.ws[a], op.stride[a], op.pad[a]
        self.h, self.oh = h, oh
        self.inc = op.mode == "average_inc_pad"

    def lo_hi(self, r):
        """[lo, hi) in image coordinates of window r, clipped to the image."""
        start = r * self.st - self.p
        end = tirx.min(r * self.st + self.ws, self.h + 2 * self.p) - self.p
        return tirx.max(start, 0), tirx.min(end, self.h)

    def count(self, r):
        if self.inc:
            return tirx.min(r * self.st + self.ws, self.h + 2 * self.p) - r * self.st
        lo, hi = self.lo_hi(r)
        return hi - lo

    def windows_of(self, x, a):
        """Window index r (a-th candidate) containing image position x, and its validity."""
        r = tirx.floordiv(x + self.p, self.st) - a
        lo, hi = self.lo_hi(_clamp(r, self.oh))
        return r, [r >= 0, r < self.oh, x >= lo, x < hi]


def _geos(op, xs, os):
    n = op.ndim
    return [_Geo(op, a, xs[-n + a], os[-n + a]) for a in range(n)]


def _window_reduce(op, X, xs, os, dtype, name, value, mode):
    """out[lead, r] = reduce over the window of value(lead, pos, valid) (mode: max / sum)."""
    n = op.ndim
    geos = _geos(op, xs, os)
    ks = [te.reduce_axis((0, w), name=f"w{a}") for a, w in enumerate(op.ws)]

    def body(*idx):
        lead, r = idx[:-n], idx[-n:]
        pos, conds = [], []
        for a, g in enumerate(geos):
            p = r[a] * g.st - g.p + ks[a]
            if g.p == 0 and (g.oh - 1) * g.st + g.ws <= g.h:
                pos.append(p)           # every window lies inside the image: no mask
                continue
            lo, hi = g.lo_hi(r[a])
            conds += [p >= lo, p < hi]
            pos.append(_clamp(p, g.h))
        v = value(lead, pos, r)
        if not conds:
            return te.max(v, axis=ks) if mode == "max" else te.sum(v, axis=ks)
        if mode == "max":
            return te.max(tirx.if_then_else(_all(conds), v, tirx.min_value(dtype)), axis=ks)
        return te.sum(tirx.if_then_else(_all(conds), v, const(0, dtype)), axis=ks)
    return te.compute(os, body, name=name, tag="pool")


@lower_rule(Pool)
def lower_pool(node, inputs, ctx):
    op, (X,) = node.op, inputs
    xs, os = ctx.shape(node.inputs[0]), ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype
    name = ctx.name(node)
    red = "max" if op.mode == "max" else "sum"
    acc = _window_reduce(op, X, xs, os, dtype, name if op.mode in ("max", "sum") else name + "_sum",
                         lambda lead, pos, r: cast(X(*lead, *pos), dtype), red)
    if op.mode in ("max", "sum"):
        return [acc]
    geos = _geos(op, xs, os)
    n = op.ndim

    def avg(*idx):
        cnt = None
        for a, g in enumerate(geos):
            c = g.count(idx[-n + a])
            cnt = c if cnt is None else cnt * c
        return acc(*idx) / cast(cnt, dtype)
    return [te.compute(os, avg, name=name, tag="pool")]


@lower_rule(DownsampleFactorMaxGradGrad)
def lower_max_pool_grad_grad(node, inputs, ctx):
    op, (X, M, GG) = node.op, inputs
    xs, os = ctx.shape(node.inputs[0]), ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype

    def value(lead, pos, r):
        hit = X(*lead, *pos) == M(*lead, *r)
        return tirx.if_then_else(hit, cast(GG(*lead, *pos), dtype), const(0, dtype))
    return [_window_reduce(op, X, xs, os, dtype, ctx.name(node), value, "sum")]


@lower_rule(MaxPoolGrad, AveragePoolGrad)
def lower_pool_grad(node, inputs, ctx):
    """gx[lead, x] = sum over the windows containing x of their contribution."""
    op = node.op
    is_max = type(op) is MaxPoolGrad
    X = inputs[0]
    M, GZ = (inputs[1], inputs[2]) if is_max else (None, inputs[1])
    xs = ctx.shape(node.inputs[0])
    os = ctx.shape(node.inputs[-1])
    dtype = node.outputs[0].type.dtype
    n = op.ndim
    geos = _geos(op, xs, os)
    if op.stride == op.ws and not any(op.pad):
        return [_tiled_pool_grad(node, ctx, op, is_max, X, M, GZ, xs, os, geos, dtype)]
    ks = [te.reduce_axis((0, -(-g.ws // g.st)), name=f"a{a}") for a, g in enumerate(geos)]

    def body(*idx):
        lead, x = idx[:-n], idx[-n:]
        rs, conds = [], []
        for a, g in enumerate(geos):
            r, c = g.windows_of(x[a], ks[a])
            rs.append(_clamp(r, g.oh))
            conds += c
        g = cast(GZ(*lead, *rs), dtype)
        if is_max:
            conds.append(X(*lead, *x) == M(*lead, *rs))
        elif op.mode != "sum":
            cnt = None
            for a, ge in enumerate(geos):
                c = ge.count(rs[a])
                cnt = c if cnt is None else cnt * c
            g = g / cast(cnt, dtype)
        return te.sum(tirx.if_then_else(_all(conds), g, const(0, dtype)), axis=ks)
    return [te.compute(xs, body, name=ctx.name(node), tag="pool_grad")]


def _tiled_pool_grad(node, ctx, op, is_max, X, M, GZ, xs, os, geos, dtype):
    """Non-overlapping windows: each position belongs to at most one window, so the
    gradient is elementwise (no reduction): ``gz[x // ws]`` where x is that window's max."""
    n = op.ndim

    def body(*idx):
        lead, x = idx[:-n], idx[-n:]
        r = [tirx.min(tirx.floordiv(x[a], g.st), g.oh - 1) for a, g in enumerate(geos)]
        inside = _all([x[a] < g.oh * g.st for a, g in enumerate(geos)]
                      + [x[a] < g.h for a, g in enumerate(geos) if g.oh * g.st > g.h])
        g = cast(GZ(*lead, *r), dtype)
        if is_max:
            cond = X(*lead, *x) == M(*lead, *r)
            cond = cond if inside is None else tirx.all(inside, cond)
        else:
            cond = inside
            if op.mode != "sum":
                cnt = None
                for a, ge in enumerate(geos):
                    c = ge.count(r[a])
                    cnt = c if cnt is None else cnt * c
                g = g / cast(cnt, dtype)
        return g if cond is None else _masked_bits(cond, g, dtype)
    return te.compute(xs, body, name=ctx.name(node), tag="pool_grad")


_BITS = {"float32": "int32", "float64": "int64", "float16": "int16"}


def _masked_bits(cond, g, dtype):
    """``cond ? g : 0`` without a branch: which element is its window's max is data (LLVM
    turns a select of a load into a branch, which mispredicts on it), so the bits of ``g``
    are and-ed with an all-ones / all-zeros mask (exact: an infinite or nan ``g`` of a
    non-max element still gives +0)."""
    it = _BITS.get(dtype)
    if it is None:
        return tirx.if_then_else(cond, g, const(0, dtype))
    mask = -cast(cond, it)
    return tirx.reinterpret(dtype, tirx.reinterpret(it, g) & mask)
