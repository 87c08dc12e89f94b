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

import itertools

import numpy as np

from ... import _tvm
from ...symbolic.ops.conv import AbstractConv, AbstractConv_gradInputs, AbstractConv_gradWeights, pads_of
from ...symbolic.ops.corr import FusedConv
from . import lower_rule
from .elemwise import bcast_load
from .linalg import PACKED_MIN_FLOPS
from .scalar import cast, const, lower_scalar
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


def _image_col(X, op, pads, xsp, dtype):
    """The implicit im2col of the forward and filter-gradient products: element
    ``col(n, ci, t..., o...) = X[n, ci, o * s + t * d - p]`` (zero in the padding)."""
    n, s, d = op.convdim, op.subsample, op.filter_dilation

    def colval(nn, ci, *rest):
        t, o = rest[:n], rest[n:]
        pos = [o[a] * s[a] + t[a] * d[a] - pads[a] for a in range(n)]
        return _read_padded(X, (nn, ci), pos, xsp, any(pads), dtype)
    return colval


def _taps(op, t, kspatial):
    """Filter tap indices as stored (flipped when the op flips)."""
    if not op.filter_flip:
        return list(t)
    return [k - 1 - i for i, k in zip(t, kspatial)]


def _lanes(dtype):
    return max(1, _tvm.vector_bytes() // np.dtype(dtype).itemsize)


def _vregs(machine):
    core = getattr(machine, "core", None)       # lowering/machine.py's Core: the register file
    if core is not None and getattr(core, "vregs", None):
        return core.vregs
    return 32 if machine.vector_bytes >= 64 else 16


def _enough(machine, mr, nv):
    """An MR x NV tile keeps the FMA units busy: at least twice the core's minimum of
    independent accumulators (FMA latency x pipes: then a late load does not stall them
    either), or as many as the register file allows (at most 16, as the matmul's tiles)."""
    core = getattr(machine, "core", None)
    most = max(tile_rows(machine, v) * v for v in (1, 2, 3, 4))
    need = min(2 * getattr(core, "min_accumulators", 4), 16, most) if core is not None else min(8, most)
    return mr * nv >= need


def tile_rows(machine, nv):
    """Rows MR of an MR x ``nv``-vector register tile: as many accumulators as the register
    file holds next to the ``nv`` B vectors and one broadcast, at most 16 (more spill) and
    at most 8 rows."""
    R = _vregs(machine)
    mr = 1
    while mr < 8 and (mr + 1) * nv + nv + 1 <= R and (mr + 1) * nv <= 16:
        mr += 1
    return mr


def tile_shape(machine, dtype, jdims):
    """(MR rows, NR columns, padded leading j dim) of the register tile for a natural
    j layout ``jdims``: NR (1-4 vectors at the host's width) must divide the padded j
    extent; the least padding wins, then the widest tile (fewer broadcasts per FMA)."""
    L = machine.lanes(dtype) if machine.cpu else _lanes(dtype)
    inner = int(np.prod(jdims[1:])) if len(jdims) > 1 else 1
    best = None
    for nv in (4, 3, 2, 1):
        nr = nv * L
        lead = jdims[0]
        while (lead * inner) % nr:
            lead += 1
        if nv > 1 and not _enough(machine, tile_rows(machine, nv), nv):    # too few accumulators
            continue
        cand = (lead * inner, -nv, nr, lead, nv)
        if best is None or cand < best:
            best = cand
    _, _, nr, lead, nv = best
    return tile_rows(machine, nv), nr, lead


def _fast(dtype, flops, M, J):
    return dtype in ("float32", "float64") and flops >= PACKED_MIN_FLOPS and M >= 1 and J >= 8


def _nb(Nb):
    """The batch size a kernel's form is chosen by: the size, or 1 when it is symbolic (a
    shape-generic kernel, lowering/generic_conv_decl.py: the form must suit every batch,
    so it is chosen per image)."""
    return Nb if isinstance(Nb, int) else 1


def _unravel(flat, shape):
    """``unravel`` whose leading extent may be symbolic (no modulo by it: ``flat`` < the
    product already)."""
    if len(shape) == 1:
        return [flat]
    return [flat // int(np.prod(shape[1:]))] + unravel(flat, shape[1:])


def _ceil(a, b):
    return -(-a // b)


def _crop(node, ctx, out_shape, load, epi):
    """The results: ``[load(conv index)]`` per element, or ``epi(load)``'s tensors (FusedConv)."""
    if epi is not None:
        res = epi(load)
        return list(res) if isinstance(res, (list, tuple)) else [res]
    return [te.compute(out_shape, lambda *idx: load(idx), name=ctx.name(node) + "_crop", tag="conv_crop")]


def _batched_product(node, ctx, Nb, M, kdims, jdims, A, colval, out_shape, f, dtype, epi=None, margin=(0, 0)):
    """out[idx] = C[f(idx)], C[n, i, j] = sum_k A(i, k...) col(n, k..., j...).

    The column operand is materialized per batch element in its natural layout
    (``cv_col[n, k..., j...]``, the leading j dim padded so whole register tiles fit) and
    A is packed once in row panels (``cv_pack_a``); ``schedules/cpu_conv.py`` computes the
    columns of one element inside its parallel batch loop (they stay in cache).
    ``margin``: elements of C (flat within one element's rows) a masked read may reach
    before row 0 / after the last row: whole register-tile row bands of zero rows are
    added there (``f`` keeps addressing the real rows).
    """
    K = int(np.prod(kdims))
    MR, NR, lead = tile_shape(ctx.target, dtype, jdims)
    jpad = (lead,) + tuple(jdims[1:])
    Jp = int(np.prod(jpad))
    Mp = _ceil(M, MR) * MR
    lo = _ceil(_ceil(margin[0], Jp), MR) * MR           # spare rows before / after (whole bands)
    hi = _ceil(max(0, _ceil(margin[1], Jp) - (Mp - M)), MR) * MR
    Mp += lo + hi
    zero = const(0, dtype)

    def pack_a(io, k, ii):
        i = io * MR + ii - lo
        v = A(tirx.max(tirx.min(i, M - 1), 0), *unravel(k, kdims))
        return v if Mp == M else tirx.if_then_else(tirx.all(i >= 0, i < M), v, zero)
    Ap = te.compute((Mp // MR, K, MR), pack_a, name="cv_pack_a", tag="conv_pack")

    def col(n, *idx):
        kk, jj = idx[:len(kdims)], idx[len(kdims):]
        if lead == jdims[0]:
            return colval(n, *kk, *jj)
        j0 = tirx.min(jj[0], jdims[0] - 1)
        return tirx.if_then_else(jj[0] < jdims[0], colval(n, *kk, j0, *jj[1:]), zero)
    Col = te.compute((Nb,) + tuple(kdims) + jpad, col, name="cv_col", tag="conv_col")
    k = te.reduce_axis((0, K), name="k")

    def prod(n, i, j):
        return te.sum(Ap[i // MR, k, i % MR] * Col(n, *unravel(k, kdims), *unravel(j, jpad)), axis=k)
    C = te.compute((Nb, Mp, Jp), prod, name=f"cv_c_{MR}x{NR}", tag="conv_tile")
    if lo:
        def load(idx):
            nn, i, *j = f(idx)
            return C(nn, i + lo, *j)
        return _crop(node, ctx, out_shape, load, epi)
    if epi is not None and getattr(node.op, "pool_ws", None) is not None and Mp > M:
        # the pooled epilogue reads the product per image inside its batch loop
        # (schedules/cpu_conv.py); a (never taken) read of the last padded row makes the
        # rows it needs whole register tiles
        epi = _whole_rows(epi, lambda n: C(n, Mp - 1, 0), M)
    return _crop(node, ctx, out_shape, lambda idx: C(*f(idx)), epi)


def _whole_rows(epi, last_row, M):
    def make(load):
        def touching(idx):
            return tirx.if_then_else(idx[1] >= M, last_row(idx[0]), load(idx))
        return epi(touching)
    return make


def _reduced_product(node, ctx, Nb, M, kdims, pdims, A, colval, out_shape, f, dtype):
    """out[idx] = C[f(idx)], C[i, j] = sum_{n, p} A(n, i, p...) col(n, j..., p...) (the
    filter gradient: the reduction runs over the batch and the output positions).

    The columns are packed per batch element in panels of NR (``cv_pack_b[n, jo, p, ji]``);
    the schedule computes one element's panel inside the reduction over the batch, so the
    im2col never exists whole.  Rows past M read row M - 1 (their results are cropped).
    """
    J = int(np.prod(kdims))
    P = int(np.prod(pdims))
    m = ctx.target
    L = m.lanes(dtype) if m.cpu else _lanes(dtype)
    # the least padding, then panels for every core, then the widest tile (1-4 vectors)
    cores = max(2, getattr(m, "threads", 2))
    nvs = [nv for nv in (4, 3, 2, 1) if nv == 1 or _enough(m, tile_rows(m, nv), nv)]
    nv = min(nvs, key=lambda v: (_ceil(J, v * L) * v * L, _ceil(J, v * L) < cores, -v))
    NR, MR = nv * L, tile_rows(m, nv)
    Jp, Mp = -(-J // NR) * NR, -(-M // MR) * MR
    zero = const(0, dtype)

    # panels [n, jo, positions..., NR]: the packing loop runs over one tap's positions
    # (contiguous reads of the image); only the tap index is divided, once per row
    def pack_b(n, jo, *rest):
        p, ji = rest[:-1], rest[-1]
        j = jo * NR + ji
        v = colval(n, *unravel(tirx.min(j, J - 1) if Jp != J else j, kdims), *p)
        return v if Jp == J else tirx.if_then_else(j < J, v, zero)
    Bp = te.compute((Nb, Jp // NR) + tuple(pdims) + (NR,), pack_b, name="cv_pack_b", tag="conv_pack")
    rn = te.reduce_axis((0, Nb), name="rn")
    rp = te.reduce_axis((0, P), name="rp")
    C = te.compute((Mp, Jp), lambda i, j: te.sum(
        A(rn, tirx.min(i, M - 1) if Mp != M else i, *unravel(rp, pdims))
        * Bp(rn, j // NR, *unravel(rp, pdims), j % NR),
        axis=[rn, rp]), name=f"cv_r_{MR}x{NR}", tag="conv_tile")
    return te.compute(out_shape, lambda *idx: C(*f(idx)), name=ctx.name(node) + "_crop", tag="conv_crop")


def _plain_product(node, ctx, batch, M, N, K, A, B, out_shape, f, dtype, epi=None, term=None):
    """out[idx] = C[f(idx)], C[b..., i, j] = sum_k A(b..., i, k) B(b..., k, j): small or grouped
    (``term(b..., i, k, j)``, when given, is the summand instead)."""
    k = te.reduce_axis((0, K), name="k")

    def prod(*idx):
        bi, (i, j) = idx[:-2], idx[-2:]
        return te.sum(term(*bi, i, k, j) if term else A(*bi, i, k) * B(*bi, k, j), axis=k)
    C = te.compute(tuple(batch) + (M, N), prod, name="cv_plain", tag="conv_plain")
    return _crop(node, ctx, out_shape, lambda idx: C(*f(idx)), epi)


def _epilogue(node, inputs, ctx, dtype):
    """FusedConv's results from the correlation's elements: [2x2.. max pool] then the scalar
    expression with the extra inputs (broadcast loads); then the kept intermediates
    (``keep``): the pooled max from the same block (two outputs of one compute), the
    correlation itself from a block of its own (``<name>_raw``)."""
    op = node.op
    n = op.convdim
    shape = ctx.shape(node.outputs[0])
    out = node.outputs[0].type.dtype
    nrest = len(node.inputs) - 2
    rest = list(zip(node.inputs[2:], inputs[2:]))
    keep = dict(zip(op.keep, node.outputs[1:]))
    assert nrest == len(rest)

    def make(load):
        def body(*idx):
            if op.pool_ws is None:
                v = load(idx)
            else:
                v = None
                for off in itertools.product(*[range(w) for w in op.pool_ws]):
                    e = load(tuple(idx[:2]) + tuple(idx[2 + a] * op.pool_ws[a] + off[a] for a in range(n)))
                    v = e if v is None else tirx.max(v, e)
            pooled = v
            if op.scalar_op is not None:
                args = [v] + [ctx.scalar_value(var) if ctx.is_inline_scalar(var) else bcast_load(t, var, idx)
                              for var, t in rest]
                v = lower_scalar(op.scalar_op, args, out)
            if "pool" in keep:
                return [cast(v, out), cast(pooled, keep["pool"].type.dtype)]
            return cast(v, out)
        name = ctx.name(node)
        res = te.compute(shape, body, name=name + "_crop", tag="conv_crop")
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        if "conv" in keep:
            conv = keep["conv"]
            raw = te.compute(ctx.shape(conv), lambda *idx: cast(load(idx), conv.type.dtype),
                             name=name + "_raw", tag="conv_raw")
            res.insert(1, raw)          # outputs: final, conv, pool (``keep`` order)
        return res
    return make


def _tap_source(x, t, pads, s, d, osp):
    """(conditions, o): the output position ``o = (x + p - t * d) / s`` that input position
    ``x`` reaches through filter tap ``t`` (per axis, unclamped), and the conditions that it
    exists (in range; divisible by the stride).  The input gradient's gather and col2im."""
    conds, o = [], []
    for a in range(len(osp)):
        q = x[a] + pads[a] - t[a] * d[a]          # = o * s
        if s[a] == 1:
            oa = q
        else:
            conds.append(tirx.floormod(q, s[a]) == 0)
            oa = tirx.floordiv(q, s[a])
        conds += [q >= 0, oa < osp[a]]
        o.append(oa)
    return conds, o


@lower_rule(AbstractConv)
def lower_conv(node, inputs, ctx):
    op = node.op
    X, W = inputs[:2]
    xs, ws = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    out_shape = (xs[0], ws[0]) + op.geometry(xs, ws)[1]
    dtype = np.result_type(node.inputs[0].type.dtype, node.inputs[1].type.dtype).name
    epi = _epilogue(node, inputs, ctx, dtype) if isinstance(op, FusedConv) else None
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
    if not grouped and _fast(dtype, 2 * _nb(Nb) * Co * K * int(np.prod(osp)), Co, int(np.prod(osp))):
        return _batched_product(node, ctx, Nb, Co, Kd, osp,
                                 lambda i, ci, *t: cast(W(i, ci, *_taps(op, t, ksp)), dtype),
                                 _image_col(X, op, pads, xsp, dtype), out_shape, f, dtype, epi)
    return _plain_product(node, ctx, batch, CoG, int(np.prod(osp)), K, Ab, B, out_shape, f, dtype, epi)


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
    if _nb(Nb) == 0 or int(np.prod(osp)) == 0 or int(np.prod(ts[1:])) == 0:   # an empty batch: no terms
        return [te.compute(out_shape, lambda *i: const(0, dtype), name=ctx.name(node) + "_crop",
                           tag="conv_crop")]

    def A(g, i, r):
        nn, *o = _unravel(r, Rd)
        return cast(T(nn, g * CoG + i, *o), dtype)

    def B(g, r, j):
        nn, *o = _unravel(r, Rd)
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
    R = Nb * int(np.prod(osp))         # the reduction: batch x output positions
    if not grouped and _fast(dtype, 2 * Co * int(np.prod(Kd)) * _nb(Nb) * int(np.prod(osp)), Co,
                             int(np.prod(Kd))):
        return [_reduced_product(node, ctx, Nb, Co, Kd, osp, lambda nn, i, *o: cast(T(nn, i, *o), dtype),
                                 _image_col(X, op, pads, xsp, dtype), out_shape, f, dtype)]
    return _plain_product(node, ctx, batch, CoG, int(np.prod(Kd)), R, Ab, Bb, out_shape, f, dtype)


@lower_rule(AbstractConv_gradInputs)
def lower_conv_grad_inputs(node, inputs, ctx):
    op = node.op
    W, T = inputs[0], inputs[1]
    ws, ts = ctx.shape(node.inputs[0]), ctx.shape(node.inputs[1])
    out_shape = ctx.shape(node.outputs[0])
    dtype = node.outputs[0].type.dtype
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

    def gather(nn, g, co, t, x):
        conds, o = _tap_source(x, t, pads, s, d, osp)
        # clamp so an out-of-range (masked) load stays inside the buffer
        oc = [tirx.max(tirx.min(oa, osp[a] - 1), 0) for a, oa in enumerate(o)]
        return _all(conds), lambda: cast(T(nn, g * CoG + co, *oc), dtype)

    def B(nn, g, k, j):
        co, *t = unravel(k, Kd)
        return gather(nn, g, co, t, unravel(j, xsp))

    def term(*idx):
        """One product term, zero (not ``w * 0``) where the tap reaches no output position:
        an infinite filter tap must not turn the unreached inputs into nan (numpy's col2im)."""
        bi, (i, k, j) = idx[:-3], idx[-3:]
        nn, g = (bi[0], bi[1]) if grouped else (bi[0], 0)
        cond, load = B(nn, g, k, j)
        v = A(g, i, k) * load()
        return v if cond is None else tirx.if_then_else(cond, v, const(0, dtype))

    if grouped:
        batch = (Nb, G)

        def f(idx):
            return (idx[0], idx[1] // Cg, idx[1] % Cg, ravel(idx[2:], xsp))
    else:
        batch = (Nb,)

        def f(idx):
            return (idx[0], idx[1], ravel(idx[2:], xsp))
    if not grouped and Co >= 2 and _fast(dtype, 2 * _nb(Nb) * Cg * int(np.prod(Kd)) * int(np.prod(osp)),
                                         Cg * int(np.prod(ksp)), int(np.prod(osp))):
        if ctx.target.cpu:
            return _col2im_product(node, ctx, op, W, T, Nb, Co, Cg, ksp, xsp, osp, pads, out_shape, dtype)
        return _padded_product(node, ctx, op, W, T, Nb, Co, Cg, ksp, xsp, osp, pads, out_shape, f, dtype,
                                gather)
    return _plain_product(node, ctx, batch, Cg, int(np.prod(xsp)), int(np.prod(Kd)), None, None, out_shape,
                           f, dtype, term=term)


def _padded_product(node, ctx, op, W, T, Nb, Co, Cg, ksp, xsp, osp, pads, out_shape, f, dtype, gather):
    """The input gradient as one product over the zero-padded output gradient (the GPU
    form: one matmul dlight tiles; 2.25x the useful flops at LeNet's sizes).  At stride 1
    the padded gradient is stored once per element, so every column row is a contiguous,
    unmasked window of it."""
    n = op.convdim
    s, d = op.subsample, op.filter_dilation
    Kd = [Co] + list(ksp)
    if all(v == 1 for v in s):
        mL = [max(0, d[a] * (ksp[a] - 1) - pads[a]) for a in range(n)]
        mR = [max(0, xsp[a] - 1 + pads[a] - (osp[a] - 1)) for a in range(n)]
        psp = [osp[a] + mL[a] + mR[a] for a in range(n)]

        def plane(nn, co, *y):
            pos = [y[a] - mL[a] for a in range(n)]
            return _read_padded(T, (nn, co), pos, osp, True, dtype)
        Tp = te.compute((Nb, Co) + tuple(psp), plane, name="cv_pad", tag="conv_pad")

        def colval(nn, co, *rest):
            t, x = rest[:n], rest[n:]
            return Tp(nn, co, *[x[a] + pads[a] - t[a] * d[a] + mL[a] for a in range(n)])
    else:
        def colval(nn, co, *rest):
            cond, load = gather(nn, 0, co, rest[:n], rest[n:])
            return _masked(cond, load, dtype)
    return _batched_product(node, ctx, Nb, Cg, Kd, xsp,
                            lambda i, co, *t: cast(W(co, i, *_taps(op, t, ksp)), dtype),
                            colval, out_shape, f, dtype)


def _col2im_product(node, ctx, op, W, T, Nb, Co, Cg, ksp, xsp, osp, pads, out_shape, dtype):
    """The input gradient as a product then a col2im: per batch element
    ``D[(ci, t), o] = sum_co W'[co, ci, t] * dY[co, o]`` (the useful flops only: no zero
    padding of dY), then ``dX[ci, x] = sum_t D[(ci, t), o]`` over the taps whose output
    position ``o = (x + p - t * d) / s`` exists (a select per tap; at stride 1 the reads
    of D are contiguous along the last axis, so the sum vectorizes).

    The reads of D are not clamped (a vectorized select loads both sides): D gets spare
    register-tile row bands before and after (rows of zero filters) covering the farthest
    masked-off read, so every load stays inside D."""
    n = op.convdim
    s, d = op.subsample, op.filter_dilation
    Md = [Cg] + list(ksp)
    M = int(np.prod(Md))
    f = lambda idx: idx      # noqa: E731  (the col2im reads D by its own indices)

    def A(i, co):
        ci, *t = unravel(i, Md)
        return cast(W(co, ci, *_taps(op, t, ksp)), dtype)

    def colval(nn, co, *o):
        return cast(T(nn, co, *o), dtype)

    def col2im(load):
        jpad_inner = [int(v) for v in osp[1:]]

        def body(nn, ci, *x):
            acc = None
            for t in itertools.product(*[range(k) for k in ksp]):
                conds, o = _tap_source(x, t, pads, s, d, osp)
                j = ravel(o, [osp[0]] + jpad_inner)     # unclamped: affine along the last axis
                v = tirx.Select(_all(conds), load((nn, ravel([ci] + list(t), Md), j)), const(0, dtype))
                acc = v if acc is None else acc + v
            return cast(acc, out_dtype)
        return te.compute(out_shape, body, name=ctx.name(node) + "_col2im_crop", tag="conv_crop")
    out_dtype = node.outputs[0].type.dtype
    # how far a masked read of D reaches outside one row (the unclamped trailing positions)
    inner = [int(np.prod(osp[a + 1:])) for a in range(n)]
    lo_o = [min(_div_floor(p - (k - 1) * dd, ss), 0) for p, k, dd, ss in zip(pads, ksp, d, s)]
    hi_o = [max(_div_floor(xx - 1 + p, ss) - (oo - 1), 0) for xx, p, ss, oo in zip(xsp, pads, s, osp)]
    margin = (sum(-lo_o[a] * inner[a] for a in range(n)), sum(hi_o[a] * inner[a] for a in range(n)))
    return _batched_product(node, ctx, Nb, M, [Co], osp, A, colval, out_shape, f, dtype, col2im, margin)


def _div_floor(a, b):
    return a // b
