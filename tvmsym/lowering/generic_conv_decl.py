"""Which convolution and pooling kernels are shape-generic, and in which dims (no TVM here:
``symbolic_shapes.signature`` runs before anything is lowered).

A model's filter and feature-map sizes are fixed, its batch is not: the image dims of a
convolution's input and output gradient, the whole filter, and the pooled axes of a
pooling are *structural* (``symbolic_shapes.declare_structural``: probed and pinned at the
call's size, so the output image sizes are constants); the batch (and a pooling's other
leading dims) is a class like any other.  One build serves every batch size: the kernels
of ``lowering/rules/conv.py`` and ``rules/pool.py`` are lowered on a symbolic batch and
scheduled by ``schedules/cpu_conv.py`` / ``cpu_pool.py`` with a run-time choice between
their parallel and serial forms (``schedules/cpu_conv_generic.py``).
"""
from __future__ import annotations

from ..symbolic.ops.conv import AbstractConv, AbstractConv_gradInputs, AbstractConv_gradWeights
from ..symbolic.ops.pool import AveragePoolGrad, MaxPoolGrad, Pool, PoolBase
from .symbolic_shapes import declare_generic, declare_structural

FLOATS = ("float32", "float64")


def _tail(pos, node, first=1):
    return [(pos, a) for a in range(first, node.inputs[pos].type.ndim)]


def conv_structural(node):
    """Forward (img, kern, extras...): the image's channels and sizes, the whole filter;
    gradWeights (img, topgrad, shape): both without the batch; gradInputs (kern, topgrad,
    shape): the whole filter, the output gradient without the batch."""
    op = node.op
    if isinstance(op, AbstractConv_gradWeights):
        return _tail(0, node) + _tail(1, node)
    if isinstance(op, AbstractConv_gradInputs):
        return _tail(0, node, 0) + _tail(1, node)
    return _tail(0, node) + _tail(1, node, 0)


def pool_structural(node):
    """The pooled (last ``ndim``) axes of every tensor input."""
    n = node.op.ndim
    out = []
    for pos, v in enumerate(node.inputs):
        nd = v.type.ndim
        out += [(pos, a) for a in range(max(0, nd - n), nd)]
    return out


def accepts_conv(node):
    """Float, ungrouped convolutions (the batched / reduced register-tile products and the
    plain reduction of lowering/rules/conv.py)."""
    dts = [v.type.dtype for v in node.inputs[:2]] + [node.outputs[0].type.dtype]
    return node.op.num_groups == 1 and all(d in FLOATS for d in dts)


def accepts_pool(node):
    return not any(v.type.dtype.startswith("complex") for v in list(node.inputs) + node.outputs)


declare_structural(AbstractConv, AbstractConv_gradWeights, AbstractConv_gradInputs, dims=conv_structural)
declare_structural(PoolBase, dims=pool_structural)
declare_generic(AbstractConv, AbstractConv_gradWeights, AbstractConv_gradInputs, accepts=accepts_conv,
                own_schedule=True)
declare_generic(Pool, MaxPoolGrad, AveragePoolGrad, accepts=accepts_pool, own_schedule=True)
