"""CPU schedules of the convolutions (``lowering/rules/conv.py``), registered before the
elementwise rule.

A large convolution is a packed matrix product whose B packing is the im2col: it takes the
matmul register tile (``cpu_matmul._schedule_packed``: ROW_TILE rows x two vector registers
at the host's width, batches or column panels over the cores), then the crop into NCHW.
A small one is a plain reduction, output's last axis vectorized, outer axis parallel.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from ..symbolic.ops.conv import BaseConv
from .cpu import _blocks, schedule_injective
from .cpu_matmul import _schedule_packed, _schedule_plain
from .registry import register_rule

s_tir = _tvm.s_tir


def conv_rule(func, info):
    st = info.get("step")
    if st is None or not isinstance(st.node.op, BaseConv):
        return None
    sch = s_tir.Schedule(func)
    names = [blk.name_hint for _, blk in _blocks(sch)]
    dtype = st.node.outputs[0].type.dtype
    itemsize = np.dtype(dtype).itemsize
    if "mm_pack_b" in names:
        _schedule_packed(sch, names, "mm_c", dtype)
    else:
        _schedule_plain(sch, "cv_c", dtype, True)
        schedule_injective(sch, [n for n in names if n.endswith("_crop")][0], itemsize)
    return sch.mod["main"]


register_rule("llvm", conv_rule, first=True)
