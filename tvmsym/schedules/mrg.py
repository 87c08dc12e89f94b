"""Schedules of the MRG31k3p kernel (``lowering/rules/mrg.py``): an extern whose loop over
streams is already ``T.parallel`` (kept as built on the CPU); on cuda that loop is
``blockIdx.x`` x ``threadIdx.x`` (one stream per thread, each drawing its elements in turn),
bound by the lowering itself when its machine (``ctx.machine``) is the GPU."""
from __future__ import annotations

from .. import _tvm


def _ours(ctx):
    from ..lowering.rules.mrg import KERNEL_OPS
    return isinstance(ctx.op, KERNEL_OPS)


def _as_built(ctx):
    """Extern kernels whose loops are scheduled when built: the MRG kernels and the
    inverse_permutation scatter (rows in parallel)."""
    from ..symbolic.ops.helpers import InversePermutation
    return _ours(ctx) or isinstance(ctx.op, InversePermutation)


def mrg_cpu_rule(func, ctx):
    return func if _as_built(ctx) else None


def _host_only_on_cuda():
    from ..symbolic.ops.helpers import InversePermutation
    from .gpu import host_only
    host_only(InversePermutation)      # a CPU scatter: placed on the host under device=cuda


_host_only_on_cuda()


def _relower_for_gpu(func, ctx):
    """The step lowered again for the GPU machine (a kernel lowered for a CPU handed to the
    cuda rules): the same parameters, the shapes read back from the PrimFunc's buffers."""
    from ..lowering.lower import lower_step
    from ..lowering.machine import GPU
    st = ctx.step
    bufs = list(func.params)          # the parameters are the buffers (TVM 0.27)
    n_out = len(st.node.outputs)
    shapes = {}
    for v, b in zip(list(st.inputs) + list(st.node.outputs), bufs[:len(st.inputs)] + bufs[-n_out:]):
        shapes[v] = tuple(int(d) for d in b.shape)
    for nd in reversed(st.inlined):   # views fused into the kernel, innermost first
        ins = [shapes[i] if i in shapes else i.data.shape for i in nd.inputs]
        shapes[nd.outputs[0]] = tuple(int(d) for d in nd.op.infer_shape(nd, ins)[0])
    placeholders, results = lower_step(st, shapes, ctx.values, GPU)
    new = _tvm.te.create_prim_func(placeholders + results)
    for k, v in (func.attrs or {}).items():
        new = new.with_attr(k, v)
    return new


def mrg_cuda_rule(func, ctx):
    """The kernel as lowered for the GPU (its loop over streams / rows bound to blocks x
    threads); a kernel lowered for a CPU machine is lowered again for the GPU."""
    if not _ours(ctx):
        return None
    if ctx.machine.cpu:
        func = _relower_for_gpu(func, ctx)
    return func.with_attr("tvmsym.prebound", True)


mrg_cuda_rule.rule_name = "mrg_streams"
