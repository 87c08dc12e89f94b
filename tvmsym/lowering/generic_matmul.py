"""Shape-generic lowering of matrix products (Dot, FusedDot) for the CPU register tile.

A product ``C[M, N] = A[M, K] @ B[K, N]`` whose ``M`` (rows, e.g. a batch) or ``K`` (the
contraction, e.g. a batch in a weight gradient ``x.T @ d``) is a symbolic extent is built
BY CONSTRUCTION, never by splitting a symbolic extent (TVM_NOTES 12):

* the main part: ``T = M // MR`` whole row tiles, a 3-d compute ``[T, MR, Np]`` (block
  annotated ``mm_rows``/``mm_cols`` like the specialized product, so
  ``schedules/cpu_matmul.py``'s register tile schedules it with its row split given);
* the tail: the ``M % MR`` last rows, a ``[R, 1, Np]`` compute (a one-row register tile);
* a FusedDot's epilogue (bias, activation, SGD update) as one ``[T, MR, N]`` and one
  ``[R, 1, N]`` compute over those (inlined into the tiles' write-back when ``Np == N``).

The two results are kernel outputs of their own; ``schedules/cpu_matmul_generic.py``
merges them into the one ``[M, N]`` output buffer after scheduling (row ``t * MR + r`` and
``T * MR + r``).  ``K`` may be symbolic (the reduction loop is not split).  ``N`` is
static (a weight's dim: ``declare_generic(concrete=...)`` pins it).  B is packed into
column panels as in ``rules/linalg.py`` unless it is already panel-shaped or fits L2;
the tail rows then read a row-major B in place over its N columns (annotated ``INPLACE``,
scheduled by ``schedules/cpu_gemv.rows_in_place``) and the packing runs only when a
whole row tile exists (``M >= MR``): a batch of 1 never packs B (issue 13: packing
800x500 every call made 1x800 . 800x500 take 3x numpy's time).
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from .rules.elemwise import bcast_load
from .rules.scalar import cast, const, lower_scalar

te = _tvm.te
tirx = _tvm.tirx

#: block-name suffixes of the two parts (schedules/cpu_matmul_generic.py finds them by name)
MAIN, TAIL = "_gm", "_gt"
#: annotation of a part that reads B in place over its N columns (no packed panels)
INPLACE = "mm_inplace"


class NotPacked(Exception):
    """This product has no generic register-tile lowering (plain reduction instead)."""


def _static(d):
    return isinstance(d, (int, np.integer)) or isinstance(d, tirx.IntImm)


def _int(d):
    return int(d) if _static(d) else None


def packable(node, shapes):
    """True if the generic product of ``node`` gets the register tile: 2-d float operands,
    a static N of at least 8 columns (any K, symbolic or static)."""
    a, b = node.inputs[:2]
    out = np.result_type(a.type.dtype, b.type.dtype).name
    if a.ndim != 2 or b.ndim != 2 or out not in ("float32", "float64"):
        return False
    N = _int(shapes[b][1])
    return N is not None and N >= 1


def lower_product_generic(node, inputs, ctx):
    """[main, tail] (or [main] when the tail is statically empty) of a Dot or FusedDot."""
    from ..symbolic.ops.linalg import FusedDot
    from .rules.shape import loader
    a, b = node.inputs[:2]
    if not packable(node, ctx.shapes):
        raise NotPacked(str(node))
    sa, sb = ctx.shape(a), ctx.shape(b)
    M, K, N = sa[0], sa[1], int(sb[1])
    dtype = np.result_type(a.type.dtype, b.type.dtype).name
    A = loader(ctx, a, inputs[0])
    Bt = inputs[1]
    Bl = loader(ctx, b, Bt)
    mr, nv = ctx.target.matmul_tile(dtype, N)
    nj = nv * ctx.target.lanes(dtype)
    Np = -(-N // nj) * nj
    zero = const(0, dtype)
    itemsize = np.dtype(dtype).itemsize
    l2 = ctx.target.core.l2_bytes if ctx.target.cpu else 0
    Ks = _int(K)
    in_place = (Np == N and isinstance(Bt, te.Tensor) and isinstance(Bt.op, te.PlaceholderOp)
                and len(Bt.shape) == 2
                and (N == nj or (Ks is not None and Ks * N * itemsize <= l2 and (N * itemsize) % 4096)))
    if in_place:
        def Bp(x, y, z):
            return cast(Bl(y, x * nj + z), dtype)
    else:
        def pack_b(x, y, z):
            v = cast(Bl(y, x * nj + z), dtype)
            return v if Np == N else tirx.if_then_else(x * nj + z < N, v, zero)
        Bp = te.compute((Np // nj, K, nj), pack_b, name="mm_pack_b", tag="mm_pack")
    # issue 13: the tail rows (M % MR, all of a product with fewer rows than a tile: a batch
    # of 1) read a row-major B in place over its N columns: no padding, and the packing of
    # B is skipped when there is no whole tile (cpu_matmul_generic.py guards it)
    tail_in_place = (not in_place and isinstance(Bt, te.Tensor) and isinstance(Bt.op, te.PlaceholderOp)
                     and len(Bt.shape) == 2)
    base = ctx.name(node)
    Ms = _int(M)
    T = (Ms // mr) if Ms is not None else tirx.floordiv(M, mr)
    R = (Ms % mr) if Ms is not None else tirx.floormod(M, mr)
    fused = isinstance(node.op, FusedDot)
    out = node.outputs[0].type.dtype

    def part(suffix, shape, row, rows, direct=False):
        k = te.reduce_axis((0, K), name="k")
        if direct:          # B read in place, N columns (INPLACE: scheduled as rows x vectors)
            def prod(t, r, j):
                return te.sum(cast(A(row(t, r), k), dtype) * cast(Bl(k, j), dtype), axis=k)
            C = te.compute(shape[:2] + (N,), prod, name=base + suffix + ("_c" if fused else ""),
                           tag="mm_rows_inplace", attrs={INPLACE: 1})
        else:
            def prod(t, r, j):
                return te.sum(cast(A(row(t, r), k), dtype) * Bp(j // nj, k, j % nj), axis=k)
            C = te.compute(shape[:2] + (Np,), prod, name=base + suffix + ("_c" if (fused or Np != N) else ""),
                           tag="mm_tile", attrs={"mm_rows": rows, "mm_cols": nj})
        if not fused and (Np == N or direct):
            return C
        rest = list(zip(node.inputs[2:], inputs[2:]))

        def body(t, r, j):
            p = C(t, r, j)
            if not fused:
                return p
            idx = (row(t, r), j)
            args = [p] + [ctx.scalar_value(v) if ctx.is_inline_scalar(v) else bcast_load(tt, v, idx)
                          for v, tt in rest]
            return cast(lower_scalar(node.op.scalar_op, args, out), out)
        return te.compute(shape[:2] + (N,), body, name=base + suffix, tag="mm_epilogue")

    parts = []
    if not (_static(T) and int(T) == 0):
        parts.append(part(MAIN, (T, mr), lambda t, r: t * mr + r, mr))
    if not (_static(R) and int(R) == 0):
        parts.append(part(TAIL, (R, 1), lambda t, r: T * mr + t, 1, direct=tail_in_place))
    if not parts:
        raise NotPacked("an empty product")
    return parts
