"""Schedules of the MRG31k3p kernel (``lowering/rules/mrg.py``): an extern whose loop over
streams is already ``T.parallel`` (kept as built on the CPU); on cuda that loop becomes
``blockIdx.x`` x ``threadIdx.x`` (one stream per thread, each drawing its elements in turn)."""
from __future__ import annotations

from .. import _tvm


def _ours(info):
    from ..lowering.rules.mrg import KERNEL_OPS
    st = info.get("step")
    return st is not None and isinstance(st.node.op, KERNEL_OPS)


def _as_built(info):
    """Extern kernels whose loops are scheduled when built: the MRG kernels and the
    inverse_permutation scatter (rows in parallel)."""
    from ..symbolic.ops.helpers import InversePermutation
    st = info.get("step")
    return _ours(info) or (st is not None and isinstance(st.node.op, InversePermutation))


def mrg_cpu_rule(func, info):
    return func if _as_built(info) else None


def _host_only_on_cuda():
    from ..symbolic.ops.helpers import InversePermutation
    from .gpu import host_only
    host_only(InversePermutation)      # a CPU scatter: placed on the host under device=cuda


_host_only_on_cuda()


def mrg_cuda_rule(func, info):
    """Lower the step again with the loop over streams / rows bound to blocks x threads
    (the same parameters: the shapes are read back from the PrimFunc's buffers)."""
    if not _ours(info):
        return None
    from ..lowering.lower import lower_step
    from ..lowering.rules import mrg as rules
    st = info["step"]
    bufs = list(func.params)          # the parameters are the buffers (TVM 0.27)
    n_out = len(st.node.outputs)
    shapes = {}
    for v, b in zip(list(st.inputs) + list(st.node.outputs), bufs[:len(st.inputs)] + bufs[-n_out:]):
        shapes[v] = tuple(int(d) for d in b.shape)
    for nd in reversed(st.inlined):   # views fused into the kernel, innermost first
        ins = [shapes[i] if i in shapes else i.data.shape for i in nd.inputs]
        shapes[nd.outputs[0]] = tuple(int(d) for d in nd.op.infer_shape(nd, ins)[0])
    rules.GPU[0] = True
    try:
        placeholders, results = lower_step(st, shapes, info.get("values"))
    finally:
        rules.GPU[0] = False
    new = _tvm.te.create_prim_func(placeholders + results)
    for k, v in (func.attrs or {}).items():
        new = new.with_attr(k, v)
    return new.with_attr("tvmsym.prebound", True)


mrg_cuda_rule.rule_name = "mrg_streams"
