"""TE computes for the reduction family (ops/reduce.py).

A reduction is one TE reduce compute in the accumulator dtype, followed by an
epilogue compute when the result dtype differs or a Mean divides.  Float
max/min use NaN-propagating reducers registered with TVM's schedule reducer
registry, so ``rfactor`` (vectorized partial results) still applies to them.
"""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops.reduce import Argmax, CAReduce, Mean
from ..machine import ACCUMULATORS, ARG_ACCUMULATORS, CHUNK_MIN_ELEMENTS
from . import lower_rule
from .scalar import cast, const

te, tirx, tvm = _tvm.te, _tvm.tirx, _tvm.tvm

IDX_DTYPE = "int64"
_INT64_MAX = np.iinfo(np.int64).max


def _is_float(dtype):
    return np.dtype(dtype).kind == "f"


def lowest(dtype):
    """The identity of max: -inf for floats, the smallest value otherwise."""
    if _is_float(dtype):
        return const(-np.inf, dtype)
    return tvm.tirx.min_value(dtype)


def highest(dtype):
    if _is_float(dtype):
        return const(np.inf, dtype)
    return tvm.tirx.max_value(dtype)


def _isnan_any(a):
    """NaN test of a float accumulator: ``_isnan_v`` (vectorizes) where it has a bit
    pattern test, else ``tirx.isnan`` (a vectorized loop calling it is scalarized: a
    column max over 4096x4096 took 39 ms per core instead of ~5)."""
    dt = str(a.ty)
    return _isnan_v(a, dt) if dt in _NAN_BITS else tirx.isnan(a)


def _nan_max(a, b):
    return tirx.Select(tirx.Or(_isnan_any(a), a >= b), a, b)


def _nan_min(a, b):
    return tirx.Select(tirx.Or(_isnan_any(a), a <= b), a, b)


nanmax = te.comm_reducer(_nan_max, lambda t: lowest(t), name="nanmax")
nanmin = te.comm_reducer(_nan_min, lambda t: highest(t), name="nanmin")
# plain max with a -inf identity (te.max's float identity is -FLT_MAX/-DBL_MAX, whose float64
# literal does not survive a TVMScript round trip); for softmax, where NaN propagates anyway
fmax = te.comm_reducer(lambda a, b: tirx.max(a, b), lambda t: lowest(t), name="fmax")
fmin = te.comm_reducer(lambda a, b: tirx.min(a, b), lambda t: highest(t), name="fmin")
prod_reducer = te.comm_reducer(lambda a, b: a * b, lambda t: const(1, t), name="prod")


def _register_schedule_reducers():
    """Let s_tir's rfactor recognise the NaN-propagating max/min (see module doc).

    The callbacks are held by TVM's global function table so that they outlive the
    interpreter's shutdown (a bare Python callable in the reducer registry is freed
    after Python is gone: a double free at exit).
    """
    reg = tvm.get_global_func("s_tir.schedule.RegisterReducer", allow_missing=True)
    if reg is None:
        return
    for name, fn, ident in (("nanmax", _nan_max, lowest), ("nanmin", _nan_min, highest),
                            ("fmax", tirx.max, lowest)):
        _tvm.tvm_ffi.register_global_func(f"tvmsym.reducer.{name}.combine",
                                          lambda x, y, _f=fn: [_f(x[0], y[0])], override=True)
        _tvm.tvm_ffi.register_global_func(f"tvmsym.reducer.{name}.identity",
                                          lambda v, _i=ident: [_i(str(v[0].ty))], override=True)
        reg(1, _tvm.tvm_ffi.get_global_func(f"tvmsym.reducer.{name}.combine"),
            _tvm.tvm_ffi.get_global_func(f"tvmsym.reducer.{name}.identity"))


_register_schedule_reducers()


def _loader(node, x, ctx):
    """(load(out_idx, red_idx) -> PrimExpr, reduced extents) for the op's input."""
    xv = node.inputs[0]
    shape = ctx.shape(xv)
    axes = node.op.reduced_axes(len(shape))

    def load(oidx, ridx):
        if x is None:
            return ctx.scalar_value(xv)
        oi, ri = iter(oidx), iter(ridx)
        return x(*[next(ri) if d in axes else next(oi) for d in range(len(shape))])

    return load, [shape[a] for a in axes]


def accumulator_dtype(op, in_dtype):
    """The dtype a reduction accumulates in: the op's, except that a float32 sum (and mean)
    runs in float64 and is rounded once at the end.  A float32 accumulator loses digits as
    the count grows (1e6 copies of 0.1: 9.6e-3 relative error, numpy's pairwise sum 1.1e-7);
    in float64 the result is the correctly rounded sum for any realistic count, and the
    loop stays memory-bound (the input is still read as float32)."""
    acc = op.accumulate_dtype(in_dtype)
    if op.reducer == "add" and acc == "float32":
        return "float64"
    return acc


def _value_dtype(dtype):
    """max/min/argmax of bool run on uint8."""
    return "uint8" if dtype == "bool" else dtype


@lower_rule(CAReduce)
def lower_careduce(node, inputs, ctx):
    op, (x,) = node.op, inputs
    xv, ov = node.inputs[0], node.outputs[0]
    in_dtype, out_dtype = xv.type.dtype, ov.type.dtype
    acc = accumulator_dtype(op, in_dtype)
    out_shape = ctx.shape(ov)
    load, extents = _loader(node, x, ctx)
    name = ctx.name(node)
    n = int(np.prod(extents))
    kind = op.reducer
    if kind in ("max", "min", "and", "or"):
        acc = _value_dtype(in_dtype) if kind in ("max", "min") else "uint8"

    def convert(v):
        if kind in ("and", "or"):
            return cast(cast(v, "bool"), "uint8")
        return cast(v, acc)

    if not extents or n == 0:
        ident = {"add": 0, "mul": 1, "and": 1, "or": 0}.get(kind)
        if ident is None and op.identity is not None and kind in ("max", "min"):
            ident = (lowest if kind == "max" else highest)(acc)     # MaxOrLowest (logsumexp)
        if extents and ident is None:          # caught by infer_shape first; kept as a guard
            raise ValueError(op.empty_message(ctx.shape(xv)))

        def body(*i):
            v = convert(load(i, [])) if not extents else (
                const(ident, acc) if isinstance(ident, (int, float, bool)) else ident)
            return _finish(op, v, out_dtype, ctx.shape(xv))
        return [te.compute(out_shape, body, name=name, tag="reduce_trivial")]

    reducer = {"add": te.sum, "mul": prod_reducer, "max": nanmax if _is_float(acc) else te.max,
               "min": nanmin if _is_float(acc) else te.min, "and": te.min, "or": te.max}[kind]
    epilogue = _needs_epilogue(op, acc, out_dtype)
    red_name = name + "_red" if epilogue else name
    red_shape = list(out_shape)
    nd = len(ctx.shape(xv))
    axes = op.reduced_axes(nd)
    # reducing the outermost axis into kept inner ones (sum(axis=0)): slices of rows give each
    # thread one contiguous block instead of interleaved half-rows
    column = x is not None and axes[0] == 0 and nd - 1 not in axes
    p = chunks(extents, int(np.prod(out_shape)), acc, column, ctx.target)
    if p > 1:
        # two stages: p parallel partial results over slices of the outermost reduced axis
        c0 = extents[0] // p
        rs = [te.reduce_axis((0, c0), name="r0")] + [
            te.reduce_axis((0, e), name=f"r{k + 1}") for k, e in enumerate(extents[1:])]
        part = te.compute([p] + red_shape, lambda c, *i: reducer(
            convert(load(i, [c * c0 + rs[0]] + rs[1:])), axis=rs), name=name + "_part", tag="reduce")
        rp = te.reduce_axis((0, p), name="rp")
        red = te.compute(red_shape, lambda *i: reducer(part(rp, *i), axis=rp), name=red_name,
                         tag="reduce")
    else:
        rs = [te.reduce_axis((0, e), name=f"r{k}") for k, e in enumerate(extents)]
        red = te.compute(red_shape, lambda *i: reducer(convert(load(i, rs)), axis=rs),
                         name=red_name, tag="reduce")
    if not _needs_epilogue(op, acc, out_dtype):
        return [red]
    return [te.compute(out_shape, lambda *i: _finish(op, red(*i), out_dtype, ctx.shape(xv)),
                       name=name, tag="reduce_epilogue")]


def chunks(extents, out_size, acc, column, machine):
    """Number of parallel slices of the outermost reduced axis (1: none).

    Used when the result is too small to share out by rows (a full sum), or when the
    outermost axis is reduced into inner kept ones (``column``); each slice's innermost
    run must stay a multiple of the vector width so it vectorizes.  Only for a CPU
    (``machine``): a GPU schedule splits the reduction itself.
    """
    threads = machine.threads if machine.cpu else 1
    n = int(np.prod(extents))
    if threads < 2 or n * (out_size if column else 1) < CHUNK_MIN_ELEMENTS or (
            out_size >= 4 * threads and not column):
        return 1
    if column:
        return threads if extents[0] % threads == 0 and extents[0] >= 2 * threads else 1
    lanes = machine.lanes(acc)
    n0 = extents[0]
    step = lanes * ACCUMULATORS if len(extents) == 1 else 1
    for p in range(min(4 * threads, n0), 1, -1):
        if n0 % p == 0 and (n0 // p) % step == 0:
            return p
    return 1


def _needs_epilogue(op, acc, out_dtype):
    return isinstance(op, Mean) or acc != out_dtype


def _finish(op, v, out_dtype, in_shape):
    if isinstance(op, Mean):
        d = op.divisor(in_shape)
        acc = str(v.ty)
        if d == 0:          # numpy: 0/0 -> nan, x/0 -> +-inf
            v = v * const(np.inf, acc) if _is_float(acc) else v
        else:
            v = v / const(d, acc)
    return cast(v, out_dtype)


@lower_rule(Argmax)
def lower_argmax(node, inputs, ctx):
    op, (x,) = node.op, inputs
    xv, ov = node.inputs[0], node.outputs[0]
    vdt = _value_dtype(xv.type.dtype)
    out_shape = ctx.shape(ov)
    load, extents = _loader(node, x, ctx)
    name = ctx.name(node)
    if not extents:
        return [te.compute(out_shape, lambda *i: const(0, IDX_DTYPE), name=name, tag="reduce_trivial")]
    strides = [int(np.prod(extents[k + 1:])) for k in range(len(extents))]
    # the index runs in the value's width when it fits (vectors of equal width)
    idt = IDX_DTYPE
    if np.dtype(vdt).itemsize <= 4 and int(np.prod(extents)) < 2 ** 31:
        idt = "int32"
    is_max = op.reducer == "argmax"
    fast = _argmax_one_pass(node, x, ctx, vdt, idt, is_max, name)
    if fast is not None:
        return fast
    if _is_float(vdt):
        best = nanmax if is_max else nanmin
    else:
        best = te.max if is_max else te.min

    # two passes, each a plain vectorizable reduction: the extreme value (NaN propagates),
    # then the first flat index holding it (or holding a NaN when the extreme is NaN)
    rv = [te.reduce_axis((0, e), name=f"r{k}") for k, e in enumerate(extents)]
    val = te.compute(out_shape, lambda *i: best(cast(load(i, rv), vdt), axis=rv),
                     name=name + "_val", tag="reduce")
    ri = [te.reduce_axis((0, e), name=f"q{k}") for k, e in enumerate(extents)]

    def first(*i):
        flat = cast(ri[0].var, idt) * const(strides[0], idt)
        for r, s in zip(ri[1:], strides[1:]):
            flat = flat + cast(r.var, idt) * const(s, idt)
        v, m = cast(load(i, ri), vdt), val(*i)
        miss = tvm.tirx.max_value(idt)
        if _is_float(vdt):     # m is NaN only if some v is: then look for the first NaN
            key = tirx.Select(tirx.isnan(m), tirx.Select(tirx.isnan(v), flat, miss),
                              tirx.Select(tirx.EQ(v, m), flat, miss))
        else:
            key = tirx.Select(tirx.EQ(v, m), flat, miss)
        return te.min(key, axis=ri)

    idx = te.compute(out_shape, first, name=name + "_red", tag="reduce")
    return [te.compute(out_shape, lambda *i: cast(idx(*i), IDX_DTYPE), name=name,
                       tag="reduce_epilogue")]


# ----------------------------------------------------------- argmax/argmin in one pass

_NAN_BITS = {"float16": ("int16", 0x7FFF, 0x7C00), "float32": ("int32", 0x7FFFFFFF, 0x7F800000),
             "float64": ("int64", 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000)}


def _isnan_v(x, dtype):
    """isnan that vectorizes: TVM 0.27 scalarizes a vectorized loop calling ``tirx.isnan``
    (no TVectorizable attribute; declaring one breaks other kernels' codegen), and folds
    ``x != x`` to False.  |bits| above those of inf: LLVM turns it into ``fcmp uno``."""
    it, mask, inf = _NAN_BITS[dtype]
    return tirx.reinterpret(it, x) & const(mask, it) > const(inf, it)


def _seq_arg_reducer(is_max, vdt, qdt):
    """(chunk, value) reducer for a lane that is walked in increasing chunk order.

    A later element replaces the lane's best only when strictly better, or when it is a
    NaN and the best is not (so each lane keeps its FIRST extreme, its first NaN): one
    compare-and-blend per element, no index comparison.  Not commutative: the loop over
    chunks must stay sequential (no rfactor, no reorder of the reduce loops)."""
    def combine(lhs, rhs):
        li, lv = lhs
        ri, rv = rhs
        if _is_float(vdt):
            # not ``Not(rv <= lv)``: TVM's simplifier turns it into ``lv < rv`` (false for NaN)
            better = rv > lv if is_max else rv < lv
            take = tirx.And(tirx.Not(_isnan_v(lv, vdt)), tirx.Or(better, _isnan_v(rv, vdt)))
        else:
            take = rv > lv if is_max else rv < lv
        return tirx.Select(take, ri, li), tirx.Select(take, rv, lv)

    def identity(ti, tv):
        return const(0, ti), (lowest(tv) if is_max else highest(tv))

    return te.comm_reducer(combine, identity, name="argmax_seq" if is_max else "argmin_seq")


_TIE_REDUCERS = {}


def _tie_reducer(is_max, vdt):
    """The (index, value) reducer of argmax/argmin (first index on ties, NaN first)
    with a NaN test that vectorizes (``_isnan_v``): a vectorized loop holding ``tirx.isnan``
    is scalarized, and TVM 0.27 scalarizes a tuple reduction's Let bindings wrongly."""
    key = (is_max, vdt)
    if key not in _TIE_REDUCERS:
        def combine(lhs, rhs):
            li, lv = lhs
            ri, rv = rhs
            better = rv > lv if is_max else rv < lv
            take = tirx.Or(better, tirx.And(tirx.EQ(rv, lv), ri < li))
            if _is_float(vdt):
                lnan, rnan = _isnan_v(lv, vdt), _isnan_v(rv, vdt)
                take = tirx.Select(lnan, tirx.And(rnan, ri < li), tirx.Or(rnan, take))
            return tirx.Select(take, ri, li), tirx.Select(take, rv, lv)

        def identity(ti, tv):
            return tvm.tirx.max_value(ti), (lowest(tv) if is_max else highest(tv))

        _TIE_REDUCERS[key] = te.comm_reducer(combine, identity,
                                             name="argmax_tie" if is_max else "argmin_tie")
    return _TIE_REDUCERS[key]


def _argmax_one_pass(node, x, ctx, vdt, idt, is_max, name):
    """Argmax/Argmin of a buffer in one vectorized pass (SIMD argmax), or None.

    * rows (the reduced axes are the trailing ones, argmax(axis=-1), argmax()): when the
      last axis is a multiple of ``ARG_BLOCK`` vectors, ``_argmax_blocks``.  Otherwise each
      row's reduced block is walked as chunks of ``W = ACC * lanes`` elements; lane ``j`` keeps
      the best value seen at offset ``j`` and the chunk holding it (``<name>_lanes``, one
      blend per element); the ``W`` lane results are combined by the tie-aware reducer
      (first index on ties, NaN first) into ``<name>_red``.  A full reduction (few rows)
      is cut into ``p`` slices of its outermost chunk axis, reduced in parallel.
    * columns (the reduced axes are the leading ones, argmax(axis=0)): the kept
      innermost axis is the vector; each output lane walks the reduced rows in order and
      keeps its first best row directly (``<name>_lanes``).
    """
    if x is None or type(x.op).__name__ != "PlaceholderOp" or np.dtype(vdt).kind not in "fiub" \
            or not ctx.target.cpu:      # cpu only: the gpu schedules know the two-pass form
        return None
    shape = [int(d) for d in ctx.shape(node.inputs[0])]
    nd = len(shape)
    axes = tuple(node.op.reduced_axes(nd))
    out_shape = ctx.shape(node.outputs[0])
    L = ctx.target.lanes(vdt)
    qdt = "int64" if np.dtype(vdt).itemsize == 8 else "int32"
    seq = _seq_arg_reducer(is_max, vdt, qdt)
    load = (lambda *i: cast(x(*i), vdt)) if x.dtype != vdt else x
    if nd == 0 or any(d == 0 for d in shape):
        return None
    if axes == tuple(range(nd - len(axes), nd)):            # rows
        kept = shape[:nd - len(axes)]
        ext = [shape[a] for a in axes]
        last = ext[-1]
        if last % (L * ARG_BLOCK) == 0 and int(np.prod(ext)) >= 2 * L * ARG_BLOCK:
            return _argmax_blocks(node, load, ctx, vdt, idt, is_max, name, kept, ext, L)
        W = L * ARG_ACCUMULATORS if last % (L * ARG_ACCUMULATORS) == 0 else L
        if L == 1 or last % W or int(np.prod(ext)) < 2 * W:
            return None
        dims = ext[:-1] + [last // W]                        # chunk space, row-major
        rows = int(np.prod(kept)) if kept else 1
        p = _arg_slices(dims, rows, int(np.prod(ext)), ctx.target)
        if p > 1:
            dims = [p, dims[0] // p] + dims[1:]
        rdims = dims[1:] if p > 1 else dims
        rax = [te.reduce_axis((0, d), name=f"c{k}") for k, d in enumerate(rdims)]
        nk = len(kept)
        qstride = [int(np.prod(rdims[k + 1:])) for k in range(len(rdims))]

        def lanes_body(*ij):
            o, rest = ij[:nk], ij[nk:]
            s = rest[0] if p > 1 else None
            j = rest[-1]
            cs = list(rax)
            # the chunk coordinates -> input indices (the first one offset by the slice)
            first = cs[0] + s * rdims[0] if p > 1 else cs[0]
            coords = [first] + cs[1:]
            idx = list(coords[:-1]) + [coords[-1] * W + j]
            q = cast(rax[0].var, qdt) * const(qstride[0], qdt)
            for r, st in zip(rax[1:], qstride[1:]):
                q = q + cast(r.var, qdt) * const(st, qdt)
            return seq((q, load(*o, *idx)), axis=rax)

        lshape = list(kept) + ([p] if p > 1 else []) + [W]
        lq, lv = te.compute(lshape, lanes_body, name=name + "_lanes", tag="reduce")
        per_slice = int(np.prod(rdims))
        best = _tie_reducer(is_max, vdt)
        A = W // L

        def flat(q, s, j):
            f = cast(q, idt) * const(W, idt) + cast(j, idt)
            return f if s is None else f + cast(s, idt) * const(per_slice * W, idt)

        # the ACC vectors of a row combined lane-wise first (vector code), then its L lanes
        ra = te.reduce_axis((0, A), name="ra")

        def mid_body(*ol):
            o, rest = ol[:nk], ol[nk:]
            sl, l = (rest[0] if p > 1 else None), rest[-1]
            li = list(o) + ([sl] if p > 1 else []) + [ra * L + l]
            return best((flat(lq(*li), sl, ra * L + l), lv(*li)), axis=[ra])

        mq, mv = te.compute(list(kept) + ([p] if p > 1 else []) + [L], mid_body,
                            name=name + "_mid", tag="reduce")
        rs = [te.reduce_axis((0, p), name="rs")] if p > 1 else []
        rl = te.reduce_axis((0, L), name="rl")

        def red_body(*o):
            li = list(o) + rs + [rl]
            return best((mq(*li), mv(*li)), axis=rs + [rl])

        ri, _ = te.compute(kept, red_body, name=name + "_red", tag="reduce")
    elif axes == tuple(range(len(axes))) and len(axes) < nd:   # columns
        kept = shape[len(axes):]
        ext = [shape[a] for a in axes]
        if L == 1 or kept[-1] < L:
            return None
        rax = [te.reduce_axis((0, d), name=f"c{k}") for k, d in enumerate(ext)]
        qstride = [int(np.prod(ext[k + 1:])) for k in range(len(ext))]

        def col_body(*o):
            q = cast(rax[0].var, idt) * const(qstride[0], idt)
            for r, st in zip(rax[1:], qstride[1:]):
                q = q + cast(r.var, idt) * const(st, idt)
            return seq((q, load(*rax, *o)), axis=rax)

        ri, _ = te.compute(kept, col_body, name=name + "_lanes", tag="reduce")
    else:
        return None
    return [te.compute(out_shape, lambda *i: cast(ri(*i), IDX_DTYPE), name=name,
                       tag="reduce_epilogue")]


ARG_BLOCK = 4       # vectors per block: their lane-wise extreme is compared once


def _seq_block_reducer(is_max, vdt, qdt, with_nan):
    """(chunk, block extreme[, first NaN chunk]) kept per lane, chunks in increasing order:
    a strictly better block replaces the lane's best; the NaN chunk is the smallest seen."""
    def combine(lhs, rhs):
        take = rhs[1] > lhs[1] if is_max else rhs[1] < lhs[1]
        out = [tirx.Select(take, rhs[0], lhs[0]), tirx.Select(take, rhs[1], lhs[1])]
        if with_nan:
            out.append(tirx.min(lhs[2], rhs[2]))
        return tuple(out)

    def identity(*types):
        ids = [const(0, types[0]), lowest(types[1]) if is_max else highest(types[1])]
        if with_nan:
            ids.append(tvm.tirx.max_value(types[2]))
        return tuple(ids)

    return te.comm_reducer(combine, identity, name="argmax_blk" if is_max else "argmin_blk")


def _argmax_blocks(node, load, ctx, vdt, idt, is_max, name, kept, ext, L):
    """Rows (trailing reduced axes) in blocks of ``ARG_BLOCK`` vectors.

    ``<name>_lanes``: per lane ``j``, walking the blocks in order, the block whose lane-wise
    extreme (``vmaxps`` of its ``ARG_BLOCK`` vectors) is strictly better than the lane's best
    so far, that value, and (floats) the first block holding a NaN at lane ``j``: per block
    one compare and two blends instead of one per vector.
    Then per row: ``<name>_rext`` the extreme of the lanes, ``<name>_nmin`` (floats) the
    first block holding a NaN, ``<name>_tgt`` the first block holding the extreme (a lane's
    remembered block is the first holding its best) or that NaN block, and
    ``<name>_mid``/``<name>_red`` the first position in that block equal to the extreme (or
    NaN): a few min/max steps over the lanes and one contiguous block scan per row.
    """
    B = ARG_BLOCK
    W = B * L
    last = ext[-1]
    dims = ext[:-1] + [last // W]
    rows = int(np.prod(kept)) if kept else 1
    p = _arg_slices(dims, rows, int(np.prod(ext)), ctx.target)
    if p > 1:
        dims = [p, dims[0] // p] + dims[1:]
    rdims = dims[1:] if p > 1 else dims
    nk = len(kept)
    qdt = "int32"
    fnan = _is_float(vdt)
    qstride = [int(np.prod(rdims[k + 1:])) for k in range(len(rdims))]
    per_slice = int(np.prod(rdims))
    big = tvm.tirx.max_value(qdt)
    ext_fn = tirx.max if is_max else tirx.min

    def element(o, s, coords, off):
        """The input element at chunk ``coords`` (of slice ``s``), offset ``off`` in the chunk."""
        first = coords[0] + s * rdims[0] if p > 1 else coords[0]
        cs = [first] + list(coords[1:])
        return load(*o, *cs[:-1], cs[-1] * W + off)

    rax = [te.reduce_axis((0, d), name=f"c{k}") for k, d in enumerate(rdims)]

    def lanes_body(*ij):
        o, rest = ij[:nk], ij[nk:]
        s, j = (rest[0] if p > 1 else None), rest[-1]
        xs = [element(o, s, rax, a * L + j) for a in range(B)]
        bm = xs[0]
        for v in xs[1:]:
            bm = ext_fn(bm, v)
        q = cast(rax[0].var, qdt) * const(qstride[0], qdt)
        for r, st in zip(rax[1:], qstride[1:]):
            q = q + cast(r.var, qdt) * const(st, qdt)
        vals = [q, bm]
        if fnan:
            anynan = _isnan_v(xs[0], vdt)
            for v in xs[1:]:
                anynan = tirx.Or(anynan, _isnan_v(v, vdt))
            vals.append(tirx.Select(anynan, q, big))
        return _seq_block_reducer(is_max, vdt, qdt, fnan)(tuple(vals), axis=rax)

    lshape = list(kept) + ([p] if p > 1 else []) + [L]
    lanes = te.compute(lshape, lanes_body, name=name + "_lanes", tag="reduce")
    lq, lv = lanes[0], lanes[1]
    ln = lanes[2] if fnan else None

    # a global chunk index g = s * per_slice + q is row-major over the unsplit chunk space
    gdims = ext[:-1] + [last // W]
    gstride = [int(np.prod(gdims[k + 1:])) for k in range(len(gdims))]
    n_chunks = int(np.prod(gdims))

    def gelement(o, g, off):
        g = tirx.min(g, const(n_chunks - 1, qdt))         # in bounds whatever the data
        cs = []
        for k, (st, d) in enumerate(zip(gstride, gdims)):
            c = tirx.floordiv(g, const(st, qdt)) if st > 1 else g
            if d == 1:
                c = const(0, qdt)
            elif k > 0:
                c = tirx.floormod(c, const(d, qdt))
            cs.append(c)
        return load(*o, *cs[:-1], cs[-1] * W + off)

    def lane_value(li):
        v = lv(*li)
        return tirx.Select(ln(*li) != big, const(np.nan, vdt), v) if fnan else v

    # the row's extreme over its lanes (a lane's best is never NaN: NaN compares false) and,
    # for floats, the row's first block holding a NaN: plain min/max over a few lanes
    def with_slice(q, sv, valid=None):
        if p == 1:
            return q
        q2 = q + cast(sv, qdt) * const(per_slice, qdt)
        return q2 if valid is None else tirx.Select(valid, q2, big)

    rs = [te.reduce_axis((0, p), name="rs")] if p > 1 else []
    rl = te.reduce_axis((0, L), name="rl")
    red_ext = (fmax if is_max else fmin) if fnan else (te.max if is_max else te.min)
    rext = te.compute(kept, lambda *o: red_ext(lv(*(list(o) + rs + [rl])), axis=rs + [rl]),
                      name=name + "_rext", tag="reduce")
    if fnan:
        ns = [te.reduce_axis((0, p), name="ns")] if p > 1 else []
        nl = te.reduce_axis((0, L), name="nl")

        def nmin_body(*o):
            v = ln(*(list(o) + ns + [nl]))
            return te.min(with_slice(v, ns[0].var if p > 1 else None, v != big), axis=ns + [nl])

        nmin = te.compute(kept, nmin_body, name=name + "_nmin", tag="reduce")
    # the first block holding the extreme: each lane remembers the first block where its own
    # best appeared, so the row's first one is in the smallest such block of the lanes holding
    # it (with a NaN in the row: the first NaN block)
    ts = [te.reduce_axis((0, p), name="ts")] if p > 1 else []
    tl = te.reduce_axis((0, L), name="tl")

    def tgt_body(*o):
        li = list(o) + ts + [tl]
        q = with_slice(lq(*li), ts[0].var if p > 1 else None)
        key = tirx.Select(tirx.EQ(lv(*li), rext(*o)), q, big)
        if fnan:
            key = tirx.Select(nmin(*o) != big, nmin(*o), key)
        return te.min(key, axis=ts + [tl])

    tgt = te.compute(kept, tgt_body, name=name + "_tgt", tag="reduce")
    # that block scanned in memory order (contiguous vectors): lane-wise first hit, then lanes
    ra = te.reduce_axis((0, B), name="ra")
    miss = tvm.tirx.max_value(idt)

    def mid_body(*ol):
        o, l = ol[:nk], ol[nk]
        g, e = tgt(*o), rext(*o)
        xa = gelement(o, g, ra * L + l)
        hit = tirx.EQ(xa, e)
        if fnan:
            hit = tirx.Select(nmin(*o) != big, _isnan_v(xa, vdt), hit)
        flat = cast(g, idt) * const(W, idt) + cast(ra * L + l, idt)
        return te.min(tirx.Select(hit, flat, miss), axis=[ra])

    mid = te.compute(list(kept) + [L], mid_body, name=name + "_mid", tag="reduce")
    ul = te.reduce_axis((0, L), name="ul")
    ri = te.compute(kept, lambda *o: te.min(mid(*o, ul), axis=[ul]), name=name + "_red",
                    tag="reduce")
    return [te.compute(ctx.shape(node.outputs[0]), lambda *i: cast(ri(*i), IDX_DTYPE), name=name,
                       tag="reduce_epilogue")]


def _arg_slices(dims, rows, n, machine):
    """Parallel slices of the outermost chunk axis when there are too few rows to share."""
    threads = machine.threads
    if threads < 2 or rows >= 4 * threads or rows * n < CHUNK_MIN_ELEMENTS:
        return 1
    for p in range(min(4 * threads, dims[0]), 1, -1):
        if dims[0] % p == 0:
            return p
    return 1
