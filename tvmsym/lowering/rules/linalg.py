"""TE computes for Dot, MatMul and TensorDot.

Every product is one reduction block ``<name>`` (tag "contraction").  A large float
matrix-matrix Dot is laid out for the CPU register-tile schedule
(``schedules/cpu_matmul.py``): B is packed into column panels of ``panel`` floats
(``mm_pack_b``, zero-padded) of the machine's register tile (``Machine.matmul_tile``), A
is read in place, and a padded product is cropped by a final copy (``mm_crop``).
"""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops.linalg import Dot, FusedDot, MatMul, TensorDot
from ..machine import PACKED_MIN_FLOPS
from . import lower_rule
from .elemwise import bcast_load
from .scalar import cast, const, lower_scalar

te = _tvm.te
tirx = _tvm.tirx


def _packs(ctx, flops, *dims, batch=(), dtype="float32", b=None):
    """A packed, register-tiled product: on a CPU, for products big enough to repay packing."""
    if not (ctx.target.cpu and flops >= PACKED_MIN_FLOPS and min(dims) >= 8):
        return False
    # (prod) narrow and batched products whose B rows are read as they are (B a kernel
    # parameter [.., K, N]): in place (schedules/cpu_gemv.py) where that is faster
    from ..gemv_shapes import unpacked
    M, N, K = dims
    return not (b is not None and _in_place(b, K, N) and unpacked(M, N, K, batch, ctx.target, dtype))


def _acc_dtype(out):
    return "int32" if out == "bool" else out


def _finish(acc, node, ctx, shape, out=None):
    out = out or node.outputs[0].type.dtype
    if out != "bool":
        return acc
    return te.compute(shape, lambda *i: acc(*i) != const(0, "int32"), name=ctx.name(node) + "_b")


def _contract(node, ctx, a_idx, b_idx, shape, red_extents, out=None, name=None):
    """out[idx] = sum_r A[a_idx(idx, r)] * B[b_idx(idx, r)] in the accumulation dtype."""
    (A, B) = ctx.tensors
    out = out or node.outputs[0].type.dtype
    acc = _acc_dtype(out)
    name = name or ctx.name(node)
    if not red_extents:
        return te.compute(shape, lambda *i: cast(A(*a_idx(i, ())), acc) * cast(B(*b_idx(i, ())), acc),
                          name=name, tag="contraction")
    rs = [te.reduce_axis((0, n), name=f"r{k}") for k, n in enumerate(red_extents)]
    return te.compute(shape, lambda *i: te.sum(cast(A(*a_idx(i, rs)), acc) * cast(B(*b_idx(i, rs)), acc),
                                               axis=rs),
                      name=name, tag="contraction")


class _Ctx:
    def __init__(self, ctx, node, tensors):
        from .shape import loader  # an inlined 1-element constant has no tensor
        self.tensors = [loader(ctx, v, t) for v, t in zip(node.inputs[:2], tensors[:2])]
        self.name = ctx.name
        self.shape = ctx.shape


@lower_rule(Dot)
def lower_dot(node, inputs, ctx):
    return [_dot(node, inputs, ctx)]


def _dot(node, inputs, ctx, name=None, padded=False):
    """The product of ``node.inputs[:2]`` (named ``name``; ``padded``: a packed product may
    stay padded to whole register tiles, the caller reads only its [M, N] part)."""
    a, b = node.inputs[:2]
    sa, sb = ctx.shape(a), ctx.shape(b)
    shape = tuple(sa[:-1]) + tuple(sb[1:])
    out = np.result_type(a.type.dtype, b.type.dtype).name
    K = sa[-1]
    if (a.ndim == 2 and b.ndim == 2 and out in ("float32", "float64")
            and _packs(ctx, 2 * sa[0] * K * sb[1], sa[0], sb[1], K, dtype=out, b=inputs[1])):
        return _packed_matmul(node, inputs[:2], ctx, sa[0], sb[1], K, out, name=name, crop=not padded)
    c = _Ctx(ctx, node, inputs)
    nda = a.ndim
    a_idx = (lambda i, r: (i[0], r[0])) if nda == 2 else (lambda i, r: (r[0],))
    if b.ndim == 2:
        b_idx = lambda i, r: (r[0], i[-1])
    else:
        b_idx = lambda i, r: (r[0],)
    return _finish(_contract(node, c, a_idx, b_idx, shape, [K], out, name), node, ctx, shape, out)


@lower_rule(FusedDot)
def lower_fused_dot(node, inputs, ctx):
    """The product (block ``mm_c`` or ``<name>_dot``), then the epilogue: the scalar
    expression over the product and the other inputs, one output element each."""
    shape = ctx.shape(node.outputs[0])
    prod = _dot(node, inputs, ctx, name=ctx.name(node) + "_dot", padded=True)
    out = node.outputs[0].type.dtype
    sop = node.op.scalar_op
    rest = list(zip(node.inputs[2:], inputs[2:]))

    def body(*idx):
        args = [prod(*idx)] + [ctx.scalar_value(v) if ctx.is_inline_scalar(v) else bcast_load(t, v, idx)
                               for v, t in rest]
        return cast(lower_scalar(sop, args, out), out)
    return [te.compute(shape, body, name=ctx.name(node), tag="mm_epilogue")]


def _in_place(t, *shape):
    """``t`` is a kernel parameter of ``shape`` itself (not a view computed from one)."""
    return isinstance(t, te.Tensor) and isinstance(t.op, te.PlaceholderOp) \
        and tuple(int(d) for d in t.shape[-len(shape):]) == tuple(shape)


def _packed_matmul(node, inputs, ctx, M, N, K, dtype, batch=(), a_b=None, b_b=None, out_map=None,
                   name=None, crop=True):
    """C[b..., i, j] = sum_k A[a_b(b), i, k] B[b_b(b), k, j] for the register-tile schedule.

    The tile (MR rows x NV vector registers of C) comes from the machine
    (``Machine.matmul_tile``).  B is packed into column panels [N/nj, K, nj] of nj = NV
    lanes (zero-padded to whole panels), unless it already is one: a kernel parameter whose
    N is one panel wide, or read once anyway (M <= MR).  A is read in place (rows past M,
    in a padded last tile, re-read row M-1: finite values, cropped).  B is read in place too
    when all of it fits the core's L2 (784x256 float32: 115 vs 110 GFLOP/s packed).  C is padded to whole
    tiles; a padded product is cropped by a final copy (``<name>_crop``), or left padded
    for the caller (``crop=False``: FusedDot's epilogue reads its [M, N] part).
    ``inputs`` may be callables (A(*batch, i, k), B(*batch, k, j)); ``out_map`` (shape, f)
    makes the result ``f``'s view of C (a tensordot's output dims).
    """
    A, B = inputs
    nb = len(batch)
    a_b = a_b or (lambda bi: ())
    b_b = b_b or (lambda bi: ())
    mr, nv = ctx.target.matmul_tile(dtype, N)
    nj = nv * ctx.target.lanes(dtype)
    Np = -(-N // nj) * nj
    Mp = -(-M // mr) * mr
    zero = const(0, dtype)

    itemsize = np.dtype(dtype).itemsize
    l2 = ctx.target.core.l2_bytes if ctx.target.cpu else 0
    if Np == N and _in_place(B, K, N) and len(B.shape) == 2 + len(b_b(tuple(batch))) and (
            N == nj or M <= mr or (K * N * itemsize <= l2 and (N * itemsize) % 4096)):
        # already panel-shaped, streamed once, or all of B stays in L2 (rows not 4 KiB apart:
        # they would share cache sets): read in place, no copy
        def Bp(*idx):
            bi, (x, y, z) = idx[:nb], idx[nb:]
            return cast(B(*b_b(bi), y, x * nj + z), dtype)
    else:
        def pack_b(*idx):
            bi, (x, y, z) = idx[:nb], idx[nb:]
            v = cast(B(*b_b(bi), y, x * nj + z), dtype)
            return v if Np == N else tirx.if_then_else(x * nj + z < N, v, zero)
        Bp = te.compute(tuple(batch) + (Np // nj, K, nj), pack_b, name="mm_pack_b", tag="mm_pack")
    k = te.reduce_axis((0, K), name="k")
    name = "mm_c" if (Mp, Np) != (M, N) else (name or ctx.name(node))

    def prod(*idx):
        bi, (i, j) = idx[:nb], idx[nb:]
        row = i if Mp == M else tirx.min(i, M - 1)
        return te.sum(cast(A(*a_b(bi), row, k), dtype) * Bp(*bi, j // nj, k, j % nj), axis=k)
    if out_map is not None:
        name = "mm_c"
    C = te.compute(tuple(batch) + (Mp, Np), prod, name=name, tag="mm_tile",
                   attrs={"mm_rows": mr, "mm_cols": nj})
    if out_map is not None:
        shape, f = out_map
        return te.compute(shape, lambda *idx: C(*f(idx)), name=ctx.name(node) + "_crop", tag="mm_crop")
    if (Mp, Np) == (M, N) or not crop:
        return C
    return te.compute(tuple(batch) + (M, N), lambda *idx: C(*idx), name=ctx.name(node) + "_crop",
                      tag="mm_crop")


@lower_rule(MatMul)
def lower_matmul(node, inputs, ctx):
    a, b = node.inputs
    shape = ctx.shape(node.outputs[0])
    nb = len(shape) - 2
    K = ctx.shape(a)[-1]

    def batch(var, i):
        pad = nb - (var.ndim - 2)
        return tuple(0 if var.broadcastable[d] else i[pad + d] for d in range(var.ndim - 2))

    out = node.outputs[0].type.dtype
    M, N = shape[-2], shape[-1]
    if out in ("float32", "float64") and _packs(ctx, 2 * int(np.prod(shape)) * K, M, N, K,
                                                 batch=tuple(shape[:-2]), dtype=out, b=inputs[1]):
        return [_packed_matmul(node, inputs, ctx, M, N, K, out, shape[:-2],
                               lambda bi: batch(a, bi), lambda bi: batch(b, bi))]
    a_idx = lambda i, r: batch(a, i) + (i[nb], r[0])
    b_idx = lambda i, r: batch(b, i) + (r[0], i[nb + 1])
    return [_finish(_contract(node, _Ctx(ctx, node, inputs), a_idx, b_idx, shape, [K]), node, ctx, shape)]


@lower_rule(TensorDot)
def lower_tensordot(node, inputs, ctx):
    a, b = node.inputs
    op = node.op
    sa = ctx.shape(a)
    shape = ctx.shape(node.outputs[0])
    fa, fb = op.free(a.ndim, b.ndim)

    def a_idx(i, r):
        idx = [None] * a.ndim
        for k, d in enumerate(fa):
            idx[d] = i[k]
        for k, d in enumerate(op.axes_a):
            idx[d] = r[k]
        return tuple(idx)

    def b_idx(i, r):
        idx = [None] * b.ndim
        for k, d in enumerate(fb):
            idx[d] = i[len(fa) + k]
        for k, d in enumerate(op.axes_b):
            idx[d] = r[k]
        return tuple(idx)

    red = [sa[d] for d in op.axes_a]
    sb = ctx.shape(b)
    out = node.outputs[0].type.dtype
    M = int(np.prod([sa[d] for d in fa]))
    N = int(np.prod([sb[d] for d in fb]))
    if len(red) == 1 and out in ("float32", "float64") \
            and _packs(ctx, 2 * M * N * red[0], M, N, red[0], dtype=out):
        # one contracted axis: a matrix product over the flattened free dims
        from .shape import ravel, unravel
        la, lb = _Ctx(ctx, node, inputs).tensors
        fsa, fsb = [sa[d] for d in fa], [sb[d] for d in fb]
        A2 = lambda i, k: la(*a_idx(tuple(unravel(i, fsa)), (k,)))
        B2 = lambda k, j: lb(*b_idx((0,) * len(fa) + tuple(unravel(j, fsb)), (k,)))
        f = lambda idx: (ravel(idx[:len(fa)], fsa), ravel(idx[len(fa):], fsb))
        return [_packed_matmul(node, [A2, B2], ctx, M, N, red[0], out, out_map=(shape, f))]
    return [_finish(_contract(node, _Ctx(ctx, node, inputs), a_idx, b_idx, shape, red), node, ctx, shape)]
