"""TE for MRG31k3p (``symbolic/ops/mrg.py``): one extern kernel, one stream per thread.

Stream ``s`` loads its six state words, makes draws ``s, s + n_streams, s + 2 n_streams, ...``
of the sample (C order) and stores its state back: the streams are independent, so the loop
over streams is ``T.parallel`` on the CPU and ``blockIdx.x`` x ``threadIdx.x`` when the
lowering context's machine is a GPU (``schedules/mrg.py`` then keeps the kernel as built).
The recurrences run in int64 (no int32 overflow to rely on); each reduction
``y >= M ? y - M : y`` gives what Theano's wrapping int32 code gives.
"""
from __future__ import annotations

import numpy as np

from ... import _tvm
from ...symbolic.ops.mrg import (
    M1,
    M2,
    NORM32,
    ChoiceFromUniform,
    MRGUniform,
    MultinomialFromUniform,
)
from . import lower_rule

te, tirx = _tvm.te, _tvm.tirx

KERNEL_NAME = "mrg31k3p"      # the extern's name: schedules/mrg.py finds the kernel by it


def _i64(v):
    return tirx.const(v, "int64")


def _unit(v, dtype):
    """x1 - x2 in [1, M1] -> (0, 1] as Theano's compiled code converts it."""
    if dtype == "float32":
        return tirx.Cast("float32", v) * tirx.const(float(NORM32), "float32")
    if dtype == "float16":      # Theano's float16 path: (v & 0x7fff) + 1 times the float16
        w = tirx.Cast("float64", (v & _i64(0x7fff)) + _i64(1))      # NORM, in float64, rounded
        return tirx.Cast("float16", w * tirx.const(float(np.float16(3.0458e-05)), "float64"))
    return tirx.Cast("float64", v) * tirx.const(2.0 ** -31, "float64")


def _on_gpu(ctx):
    """The kernel is lowered for a GPU (the lowering context's machine, never global state):
    its loop over streams is bound to blocks x threads instead of ``T.parallel``."""
    return not ctx.target.cpu


def _mod(y, m):
    return tirx.Select(y >= _i64(m), y - _i64(m), y)


def _streams(T, ns, gpu):
    """The loop over streams: ``T.parallel`` (CPU) or blocks x threads (cuda)."""
    import contextlib
    if not gpu:
        return T.parallel(0, ns)

    @contextlib.contextmanager
    def bound():
        threads = max(1, min(ns, GPU_THREADS))
        with T.thread_binding(0, (ns + threads - 1) // threads, "blockIdx.x") as bx:
            with T.thread_binding(0, threads, "threadIdx.x") as tx:
                s = bx * threads + tx
                with T.If(s < ns):
                    with T.Then():
                        yield s
    return bound()


GPU_THREADS = 128


def _step(T, x, stride, i):
    """One MRG31k3p step of the state words x[k * stride + i]; returns x1 - x2 in [1, M1]."""
    def X(k):
        return x[k * stride + i]
    tb = T.decl_buffer([3], "int64", scope="local")
    t = T.buffer_proxy(tb)
    t[0] = (((X(1) & _i64(511)) << _i64(22)) + (X(1) >> _i64(9))
            + ((X(2) & _i64(16777215)) << _i64(7)) + (X(2) >> _i64(24)))
    t[0] = _mod(t[0], M1)
    t[0] = _mod(t[0] + X(2), M1)                                   # y1
    t[1] = _mod(((X(3) & _i64(65535)) << _i64(15)) + _i64(21069) * (X(3) >> _i64(16)), M2)
    t[2] = _mod(((X(5) & _i64(65535)) << _i64(15)) + _i64(21069) * (X(5) >> _i64(16)), M2)
    t[2] = _mod(t[2] + X(5), M2)
    t[2] = _mod(t[2] + t[1], M2)                                   # y2
    t[1] = tirx.Select(t[0] <= t[2], t[0] - t[2] + _i64(M1), t[0] - t[2])
    x[2 * stride + i] = X(1)
    x[1 * stride + i] = X(0)
    x[0 * stride + i] = t[0]
    x[5 * stride + i] = X(4)
    x[4 * stride + i] = X(3)
    x[3 * stride + i] = t[2]
    return t[1]


def _ir_cpu(ins, outs, ns, n, dtype):
    """CPU: tiles of streams whose draws of one round fill one cache line of the sample; the
    tiles run in parallel, each keeping its streams' states in a local array."""
    from tvm.script.ir_builder import IRBuilder, tirx as T
    tile = max(1, 64 // np.dtype(dtype).itemsize)
    ntiles = (ns + tile - 1) // tile
    rounds = (n + ns - 1) // ns
    with IRBuilder() as ib:
        st = T.buffer_proxy(ins[0])
        new = T.buffer_proxy(outs[0])
        with T.parallel(0, ntiles) as tt:
            smp = T.buffer_proxy(T.decl_buffer([max(n, 1)], dtype, data=outs[1].data))
            x = T.buffer_proxy(T.decl_buffer([6 * tile], "int64", scope="local"))
            with T.serial(0, tile) as i:
                with T.If(tt * tile + i < ns):
                    with T.Then():
                        for k in range(6):
                            x[k * tile + i] = tirx.Cast("int64", st[tt * tile + i, k])
            with T.serial(0, rounds) as j:
                with T.serial(0, tile) as i:
                    s = tt * tile + i
                    with T.If(tirx.all(s < ns, j * ns + s < n)):
                        with T.Then():
                            v = _step(T, x, tile, i)
                            smp[j * ns + s] = _unit(v, dtype)
            with T.serial(0, tile) as i:
                with T.If(tt * tile + i < ns):
                    with T.Then():
                        for k in range(6):
                            new[tt * tile + i, k] = tirx.Cast("int32", x[k * tile + i])
        return ib.get()


def _ir(ins, outs, ns, n, dtype, gpu=False):
    from tvm.script.ir_builder import IRBuilder, tirx as T
    if not gpu:
        return _ir_cpu(ins, outs, ns, n, dtype)
    with IRBuilder() as ib:
        st = T.buffer_proxy(ins[0])
        new = T.buffer_proxy(outs[0])
        with _streams(T, ns, gpu) as s:
            smp = T.buffer_proxy(T.decl_buffer([max(n, 1)], dtype, data=outs[1].data))
            xb = T.decl_buffer([6], "int64", scope="local")
            x = T.buffer_proxy(xb)
            for k in range(6):
                x[k] = tirx.Cast("int64", st[s, k])
            count = tirx.Select(s < n, (n - s + ns - 1) // ns, 0)
            with T.serial(0, count) as j:
                # t: intermediate values, each stored once (no expression duplication)
                tb = T.decl_buffer([4], "int64", scope="local")
                t = T.buffer_proxy(tb)
                t[0] = (((x[1] & _i64(511)) << _i64(22)) + (x[1] >> _i64(9))
                        + ((x[2] & _i64(16777215)) << _i64(7)) + (x[2] >> _i64(24)))
                t[0] = _mod(t[0], M1)
                t[0] = _mod(t[0] + x[2], M1)                           # y1
                t[1] = _mod(((x[3] & _i64(65535)) << _i64(15)) + _i64(21069) * (x[3] >> _i64(16)), M2)
                t[2] = _mod(((x[5] & _i64(65535)) << _i64(15)) + _i64(21069) * (x[5] >> _i64(16)), M2)
                t[2] = _mod(t[2] + x[5], M2)
                t[2] = _mod(t[2] + t[1], M2)                           # y2
                smp[j * ns + s] = _unit(tirx.Select(t[0] <= t[2], t[0] - t[2] + _i64(M1),
                                                    t[0] - t[2]), dtype)
                x[2] = x[1]
                x[1] = x[0]
                x[0] = t[0]
                x[5] = x[4]
                x[4] = x[3]
                x[3] = t[2]
            for k in range(6):
                new[s, k] = tirx.Cast("int32", x[k])
        return ib.get()


@lower_rule(MRGUniform)
def lower_mrg_uniform(node, inputs, ctx):
    rst = inputs[0]
    if rst is None:
        raise TypeError("MRG uniform: the state must be a buffer")
    return mrg_extern(rst, tuple(int(d) for d in ctx.shape(node.outputs[1])), node.op.dtype,
                      gpu=_on_gpu(ctx))


def mrg_extern(rst, oshape, dtype, gpu=False):
    """(new state, sample) TE tensors of the MRG kernel reading state placeholder ``rst``."""
    rshape = tuple(int(d) for d in rst.shape)
    n = 1
    for d in oshape:
        n *= d
    ns = rshape[0]
    out_st = tirx.decl_buffer(rshape, "int32", "mrg_state_out")
    out_s = tirx.decl_buffer(oshape, dtype, "mrg_sample")
    res = te.extern([rshape, oshape], [rst], lambda i, o: _ir(i, o, ns, n, dtype, gpu),
                    dtype=["int32", dtype], out_buffers=[out_st, out_s], name=KERNEL_NAME,
                    tag=KERNEL_NAME)
    return list(res)


# --------------------------------------------------------------------------- multinomial
def _multinomial_ir(ins, outs, rows, k, n, gpu=False):
    """Row r, draw c: the first outcome whose running (float64) sum exceeds unis[c*rows + r]."""
    from tvm.script.ir_builder import IRBuilder, tirx as T
    odt = outs[0].dtype
    with IRBuilder() as ib:
        pv = T.buffer_proxy(ins[0])
        un = T.buffer_proxy(ins[1])
        out = T.buffer_proxy(outs[0])
        with _streams(T, rows, gpu) as r:
            with T.serial(0, k) as m:
                out[r, m] = tirx.const(0, odt)
            accb = T.decl_buffer([1], "float64", scope="local")
            acc = T.buffer_proxy(accb)
            doneb = T.decl_buffer([1], "int32", scope="local")
            done = T.buffer_proxy(doneb)
            with T.serial(0, n) as c:
                acc[0] = tirx.const(0.0, "float64")
                done[0] = tirx.const(0, "int32")
                u = tirx.Cast("float64", un[c * rows + r])
                with T.serial(0, k) as m:
                    acc[0] = acc[0] + tirx.Cast("float64", pv[r, m])
                    with T.If(tirx.all(done[0] == 0, acc[0] > u)):
                        with T.Then():
                            out[r, m] = out[r, m] + tirx.const(1, odt)
                            done[0] = tirx.const(1, "int32")
        return ib.get()


def multinomial_extern(pv, un, odtype, gpu=False):
    rows, k = (int(d) for d in pv.shape)
    u = int(un.shape[0])
    n = u // rows if rows else 0
    out = tirx.decl_buffer((rows, k), odtype, "multinomial_out")
    res = te.extern([(rows, k)], [pv, un], lambda i, o: _multinomial_ir(i, o, rows, k, n, gpu),
                    dtype=[odtype], out_buffers=[out], name="mrg_multinomial",
                    tag="mrg_multinomial")
    return [res] if not isinstance(res, (list, tuple)) else list(res)


@lower_rule(MultinomialFromUniform)
def lower_multinomial(node, inputs, ctx):
    pv, un = inputs[0], inputs[1]
    if pv is None or un is None:
        raise TypeError("MultinomialFromUniform: pvals and unis must be buffers")
    return multinomial_extern(pv, un, node.outputs[0].dtype, gpu=_on_gpu(ctx))


# --------------------------------------------------------------------------- choice
def _choice_ir(ins, outs, rows, k, n, gpu=False):
    """Row r, sample c: as the multinomial walk, then (before the next sample) the chosen
    probability is zeroed and the row renormalized, in the probabilities' dtype (Theano's C)."""
    from tvm.script.ir_builder import IRBuilder, tirx as T
    pdt, odt = ins[0].dtype, outs[0].dtype
    with IRBuilder() as ib:
        pv = T.buffer_proxy(ins[0])
        un = T.buffer_proxy(ins[1])
        out = T.buffer_proxy(outs[0])
        with _streams(T, rows, gpu) as r:
            p = T.buffer_proxy(T.decl_buffer([max(k, 1)], pdt, scope="local"))
            acc = T.buffer_proxy(T.decl_buffer([1], "float64", scope="local"))
            tot = T.buffer_proxy(T.decl_buffer([1], pdt, scope="local"))
            done = T.buffer_proxy(T.decl_buffer([1], "int32", scope="local"))
            with T.serial(0, k) as m:
                p[m] = pv[r, m]
            with T.serial(0, n) as c:
                acc[0] = tirx.const(0.0, "float64")
                done[0] = tirx.const(0, "int32")
                out[r, c] = tirx.const(-1, odt)
                u = tirx.Cast("float64", un[c * rows + r])
                with T.serial(0, k) as m:
                    with T.If(done[0] == 0):
                        with T.Then():
                            acc[0] = acc[0] + tirx.Cast("float64", p[m])
                            with T.If(acc[0] > u):
                                with T.Then():
                                    out[r, c] = tirx.Cast(odt, m)
                                    done[0] = tirx.const(1, "int32")
                                    with T.If(c < n - 1):
                                        with T.Then():
                                            tot[0] = tirx.Cast(pdt, acc[0]
                                                               - tirx.Cast("float64", p[m]))
                                            p[m] = tirx.const(0, pdt)
                                            with T.serial(m, k) as j:
                                                tot[0] = tot[0] + p[j]
                                            with T.serial(0, k) as j:
                                                p[j] = p[j] / tot[0]
        return ib.get()


def choice_extern(pv, un, n, odtype, gpu=False):
    rows, k = (int(d) for d in pv.shape)
    out = tirx.decl_buffer((rows, n), odtype, "choice_out")
    res = te.extern([(rows, n)], [pv, un], lambda i, o: _choice_ir(i, o, rows, k, n, gpu),
                    dtype=[odtype], out_buffers=[out], name="mrg_choice", tag="mrg_choice")
    return [res] if not isinstance(res, (list, tuple)) else list(res)


@lower_rule(ChoiceFromUniform)
def lower_choice(node, inputs, ctx):
    pv, un = inputs[0], inputs[1]
    if pv is None or un is None:
        raise TypeError("ChoiceFromUniform: pvals and unis must be buffers")
    n = int(ctx.shape(node.outputs[0])[1])
    return choice_extern(pv, un, n, node.outputs[0].dtype, gpu=_on_gpu(ctx))


KERNEL_OPS = (MRGUniform, MultinomialFromUniform, ChoiceFromUniform)
