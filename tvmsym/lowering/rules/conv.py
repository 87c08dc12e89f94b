"""TE computes of the convolutions: each is a (batched) matrix product over an implicit im2col.

forward      Y[n, g, co, o]  = sum_{ci, t} W'[g, co, ci, t] * X[n, g, ci, o * s + t * d - p]
gradWeights  dW'[g, co, ci, t] = sum_{n, o} dY[n, g, co, o] * X[n, g, ci, o * s + t * d - p]
gradInputs   dX[n, g, ci, x] = sum_{co, t} W'[g, co, ci, t] * dY[n, g, co, (x + p - t * d) / s]
(``W'`` the filters, flipped when ``filter_flip``; ``t`` the filter taps; out-of-range and
non-divisible positions read zero.)  Large products use the packed register-tile layout of
``linalg._packed_matmul`` (the im2col happens inside the packing of B, so no column
matrix is ever stored whole); small ones a plain reduction.  ``schedules/cpu_conv.py``
schedules both.
"""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops.conv import AbstractConv, AbstractConv_gradInputs, AbstractConv_gradWeights, pads_of
from . import lower_rule
from .linalg import PACKED_MIN_FLOPS, _packed_matmul
from .scalar import cast, const
from .shape import ravel, unravel

te, tirx = _tvm.te, _tvm.tirx


def _all(conds):
    c = None
    for x in conds:
        c = x if c is None else tirx.all(c, x)
    return c


def _masked(cond, load, dtype):
    v = cast(load(), dtype)
    return v if cond is None else tirx.if_then_else(cond, v, const(0, dtype))


def _read_padded(X, lead, pos, xsp, padded, dtype):
    """X[lead..., pos...], zero outside the image (the load clamped into the buffer: a
    vectorized select evaluates both sides)."""
    if not padded:
        return cast(X(*lead, *pos), dtype)
    cond = _all([tirx.all(p >= 0, p < n) for p, n in zip(pos, xsp)])
    pc = [tirx.max(tirx.min(p, n - 1), 0) for p, n in zip(pos, xsp)]
    return _masked(cond, lambda: X(*lead, *pc), dtype)


def _taps(op, t, kspatial):
    """Filter tap indices as stored (flipped when the op flips)."""
    if not op.filter_flip:
        return list(t)
    return [k - 1 - i for i, k in zip(t, kspatial)]


def _product(node, ctx, batch, M, N, K, A, B, out_shape, f, dtype):
    """out[idx] = C[f(idx)], C[b..., i, j] = sum_k A(b..., i, k) B(b..., k, j)."""
    name = ctx.name(node)
    if 2 * int(np.prod(batch or (1,))) * M * N * K >= PACKED_MIN_FLOPS and min(M, N, K) >= 4 \
            and dtype in ("float32", "float64"):
        return _packed_matmul(node, [A, B], ctx, M, N, K, dtype, tuple(batch),
                              lambda bi: tuple(bi), lambda bi: tuple(bi), out_map=(out_shape, f))
    k = te.reduce_axis((0, K), name="k")

    def prod(*idx):
        bi, (i, j) = idx[:-2], idx[-2:]
        return te.sum(A(*bi, i, k) * B(*bi, k, j), axis=k)
    C = te.compute(tuple(batch) + (M, N), prod, name="cv_c", tag="conv_plain")
    return te.compute(out_shape, lambda *idx: C(*f(idx)), name=name + "_crop", tag="conv_crop")


@lower_rule(AbstractConv)
def lower_conv(node, inputs, ctx):
    op = node.op
    X, W = inputs
    xs, ws = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    out_shape = ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype
    n = op.convdim
    G = op.num_groups
    Nb, C = xs[:2]
    Co, Cg = ws[:2]
    CoG = Co // G
    ksp, xsp, osp = list(ws[2:]), list(xs[2:]), list(out_shape[2:])
    pads = pads_of(op.border_mode, ksp, op.filter_dilation)
    s, d = op.subsample, op.filter_dilation
    Kd = [Cg] + ksp
    grouped = G > 1

    def A(*args):
        g, i, k = (args if grouped else (0,) + args)
        ci, *t = unravel(k, Kd)
        return cast(W(g * CoG + i, ci, *_taps(op, t, ksp)), dtype)

    def B(*args):
        if grouped:
            nn, g, k, j = args
        else:
            (nn, k, j), g = args, 0
        ci, *t = unravel(k, Kd)
        o = unravel(j, osp)
        pos = [o[a] * s[a] + t[a] * d[a] - pads[a] for a in range(n)]
        return _read_padded(X, (nn, g * Cg + ci), pos, xsp, any(pads), dtype)

    if grouped:
        batch = (Nb, G)

        def f(idx):
            return (idx[0], idx[1] // CoG, idx[1] % CoG, ravel(idx[2:], osp))
        Ab = lambda nn, g, i, k: A(g, i, k)      # noqa: E731
    else:
        batch = (Nb,)

        def f(idx):
            return (idx[0], idx[1], ravel(idx[2:], osp))
        Ab = lambda nn, i, k: A(i, k)            # noqa: E731
    K = int(np.prod(Kd))
    return [_product(node, ctx, batch, CoG, int(np.prod(osp)), K, Ab, B, out_shape, f, dtype)]


@lower_rule(AbstractConv_gradWeights)
def lower_conv_grad_weights(node, inputs, ctx):
    op = node.op
    X, T = inputs[0], inputs[1]
    xs, ts = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    out_shape = ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype
    n = op.convdim
    G = op.num_groups
    Nb = xs[0]
    Co, Cg = out_shape[:2]
    CoG = Co // G
    ksp, xsp, osp = list(out_shape[2:]), list(xs[2:]), list(ts[2:])
    pads = pads_of(op.border_mode, ksp, op.filter_dilation)
    s, d = op.subsample, op.filter_dilation
    Kd = [Cg] + ksp
    Rd = [Nb] + osp
    grouped = G > 1

    def A(g, i, r):
        nn, *o = unravel(r, Rd)
        return cast(T(nn, g * CoG + i, *o), dtype)

    def B(g, r, j):
        nn, *o = unravel(r, Rd)
        ci, *t = unravel(j, Kd)
        pos = [o[a] * s[a] + t[a] * d[a] - pads[a] for a in range(n)]
        return _read_padded(X, (nn, g * Cg + ci), pos, xsp, any(pads), dtype)

    def f(idx):
        co, ci, *t = idx
        tap = ravel([ci] + _taps(op, t, ksp), Kd)
        return (co // CoG, co % CoG, tap) if grouped else (co, tap)

    if grouped:
        batch, Ab, Bb = (G,), A, B
    else:
        batch = ()
        Ab = lambda i, r: A(0, i, r)     # noqa: E731
        Bb = lambda r, j: B(0, r, j)     # noqa: E731
    return [_product(node, ctx, batch, CoG, int(np.prod(Kd)), int(np.prod(Rd)), Ab, Bb, out_shape,
                     f, dtype)]


@lower_rule(AbstractConv_gradInputs)
def lower_conv_grad_inputs(node, inputs, ctx):
    op = node.op
    W, T = inputs[0], inputs[1]
    ws, ts = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    out_shape = ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype
    n = op.convdim
    G = op.num_groups
    Nb = ts[0]
    Co, Cg = ws[:2]
    CoG = Co // G
    ksp, xsp, osp = list(ws[2:]), list(out_shape[2:]), list(ts[2:])
    pads = pads_of(op.border_mode, ksp, op.filter_dilation)
    s, d = op.subsample, op.filter_dilation
    Kd = [CoG] + ksp
    grouped = G > 1

    def A(g, i, k):
        co, *t = unravel(k, Kd)
        return cast(W(g * CoG + co, i, *_taps(op, t, ksp)), dtype)

    def B(nn, g, k, j):
        co, *t = unravel(k, Kd)
        x = unravel(j, xsp)
        conds, o = [], []
        for a in range(n):
            q = x[a] + pads[a] - t[a] * d[a]          # = o * s
            if s[a] == 1:
                oa = q
            else:
                conds.append(tirx.floormod(q, s[a]) == 0)
                oa = tirx.floordiv(q, s[a])
            conds += [q >= 0, oa < osp[a]]
            o.append(oa)
        # clamp so an out-of-range (masked) load stays inside the buffer
        oc = [tirx.max(tirx.min(oa, osp[a] - 1), 0) for a, oa in enumerate(o)]
        return _masked(_all(conds), lambda: T(nn, g * CoG + co, *oc), dtype)

    if grouped:
        batch = (Nb, G)
        Ab = lambda nn, g, i, k: A(g, i, k)         # noqa: E731
        Bb = B

        def f(idx):
            return (idx[0], idx[1] // Cg, idx[1] % Cg, ravel(idx[2:], xsp))
    else:
        batch = (Nb,)
        Ab = lambda nn, i, k: A(0, i, k)            # noqa: E731
        Bb = lambda nn, k, j: B(nn, 0, k, j)        # noqa: E731

        def f(idx):
            return (idx[0], idx[1], ravel(idx[2:], xsp))
    return [_product(node, ctx, batch, Cg, int(np.prod(xsp)), int(np.prod(Kd)), Ab, Bb, out_shape,
                     f, dtype)]
