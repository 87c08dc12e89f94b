"""Schedules of the MRG31k3p kernel (``lowering/rules/mrg.py``): an extern whose loop over
streams is already ``T.parallel`` (kept as built on the CPU); on cuda that loop becomes
``blockIdx.x`` x ``threadIdx.x`` (one stream per thread, each drawing its elements in turn)."""
from __future__ import annotations

from .. import _tvm
from .registry import register_rule

def _is_mrg(info):
    from ..symbolic.ops.mrg import MRGUniform
    st = info.get("step")
    return st is not None and isinstance(st.node.op, MRGUniform)


def mrg_cpu_rule(func, info):
    return func if _is_mrg(info) else None


def mrg_cuda_rule(func, info):
    """Rebuild the kernel with its stream loop bound to blocks x threads (same parameters)."""
    if not _is_mrg(info):
        return None
    from ..lowering.rules.mrg import mrg_extern
    te = _tvm.te
    bufs = list(func.params)          # the parameters are the buffers (TVM 0.27)
    ins = [te.placeholder(tuple(int(d) for d in b.shape), b.dtype, name=f"in{k}")
           for k, b in enumerate(bufs[:-2])]
    rst = next(p for p, b in zip(ins, bufs) if b.dtype == "int32" and len(b.shape) == 2)
    sample = bufs[-1]
    outs = mrg_extern(rst, tuple(int(d) for d in sample.shape), sample.dtype, gpu=True)
    new = te.create_prim_func(ins + list(outs))
    for k, v in (func.attrs or {}).items():
        new = new.with_attr(k, v)
    return new.with_attr("tvmsym.prebound", True)


mrg_cuda_rule.rule_name = "mrg_streams"
register_rule("llvm", mrg_cpu_rule, first=True)
register_rule("cuda", mrg_cuda_rule, first=True)
