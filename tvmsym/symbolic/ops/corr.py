"""The ``conv`` rewrite stage: ``AbstractConv2d`` (and 3d, and both gradients) become
Theano's CPU forms ``CorrMM`` / ``CorrMM_gradWeights`` / ``CorrMM_gradInputs`` (``Corr3dMM...``).

A Corr op is a correlation (``filter_flip=False``); a flipping convolution reads its
filters through ``kern[:, :, ::-1, ::-1]`` (gradWeights: flips its result), as Theano's
``local_abstractconv_gemm`` does.  Both forms lower to the same TVM kernels
(``lowering/rules/conv.py``: the Corr classes subclass the abstract ones).
"""
from __future__ import annotations

from ..graph import Apply
from .conv import AbstractConv, AbstractConv_gradInputs, AbstractConv_gradWeights


class _CorrName:
    def __str__(self):
        bm = self.border_mode
        return f"{self.opname}{{{bm}, {self.subsample}, {self.filter_dilation}, {self.num_groups} False}}"

    __repr__ = __str__

    @property
    def opname(self):
        return ("CorrMM" if self.convdim == 2 else "Corr3dMM") + self.suffix


class CorrMM(_CorrName, AbstractConv):
    """A correlation (filters not flipped): Theano's ``CorrMM``."""


class CorrMM_gradWeights(_CorrName, AbstractConv_gradWeights):
    """The filters' gradient of ``CorrMM``."""


class CorrMM_gradInputs(_CorrName, AbstractConv_gradInputs):
    """The input's gradient of ``CorrMM``."""


CORR = {AbstractConv: CorrMM, AbstractConv_gradWeights: CorrMM_gradWeights,
        AbstractConv_gradInputs: CorrMM_gradInputs}


def _flip(k, n):
    return k[(slice(None), slice(None)) + (slice(None, None, -1),) * n]


def conv_to_corr(fgraph, excluding=()):
    """AbstractConv* -> CorrMM* (explicit filter flip); returns the number rewritten."""
    count = 0
    for node in list(fgraph.toposort()):
        cls = CORR.get(type(node.op))
        if cls is None or node not in fgraph.apply_nodes:
            continue
        op = node.op
        n = op.convdim
        new_op = op.clone_with(cls, filter_flip=False)
        if cls is CorrMM_gradWeights:
            out = new_op(*node.inputs)
            if op.filter_flip:
                out = _flip(out, n)
        else:
            kern, other = node.inputs[0], node.inputs[1:]
            if cls is CorrMM:
                kern, other = node.inputs[1], [node.inputs[0]]
                out = new_op(node.inputs[0], _flip(kern, n) if op.filter_flip else kern)
            else:
                out = new_op(_flip(kern, n) if op.filter_flip else kern, *other)
        if out.type != node.outputs[0].type:
            continue
        fgraph.replace_all([(node.outputs[0], out)], reason="conv")
        count += 1
    if count:
        from ..rewrites.merge import merge  # one flip per filter tensor, not per reader
        merge(fgraph, excluding=excluding)
    return count


# --------------------------------------------------------------------------- conv_epilogue
class FusedConv(CorrMM):
    """A correlation and what reads its result, one kernel: an optional non-overlapping max
    pooling (``pool_ws``) and an optional elementwise expression (``scalar_op``, whose ``i0``
    is the (pooled) correlation and ``i1``... the extra inputs, broadcast over it: a bias
    per channel).  ``tanh(pool(conv(x, W)) + b)`` is computed per image while its columns
    and product are in cache; the product never reaches memory whole.  Built by the
    ``conv_epilogue`` stage; no gradient (it exists only in compiled graphs).
    """

    __props__ = CorrMM.__props__ + ("pool_ws", "scalar_op")
    no_grad = "made by the conv_epilogue stage, after gradients"

    def __init__(self, pool_ws=None, scalar_op=None, **conv):
        super().__init__(**conv)
        self.pool_ws = tuple(pool_ws) if pool_ws is not None else None
        self.scalar_op = scalar_op

    def __str__(self):
        parts = [CorrMM.__str__(self)]
        if self.pool_ws is not None:
            parts.append(f"Pool{{ws={self.pool_ws}, mode='max'}}")
        if self.scalar_op is not None:
            parts.append(self.scalar_op.name)
        return f"FusedConv{{{', '.join(parts)}}}"

    __repr__ = __str__

    def make_node(self, img, kern, *others):
        from ..elemwise import Elemwise
        from .pool import Pool
        out = CorrMM.make_node(self, img, kern).outputs[0]
        if self.pool_ws is not None:
            out = Pool(self.pool_ws, True, ndim=self.convdim).make_node(out).outputs[0]
        if self.scalar_op is not None:
            res = Elemwise(self.scalar_op).make_node(out, *others).outputs[0]
            if res.broadcastable != out.broadcastable:
                raise TypeError("FusedConv: the elementwise inputs must not broadcast the convolution")
            out = res
        return Apply(self, [img, kern] + list(others), [out.type()])

    def infer_shape(self, node, shapes):
        (shp,) = CorrMM.infer_shape(self, node, shapes[:2])
        if self.pool_ws is not None:
            from .pool import Pool
            shp = Pool(self.pool_ws, True, ndim=self.convdim).out_shape(shp)
        return [shp]


def _single_client(fgraph, v):
    clients = fgraph.clients[v]
    if len(clients) != 1 or clients[0][0] == "output":
        return None
    return clients[0][0]


def conv_epilogue(fgraph, excluding=()):
    """CorrMM [-> non-overlapping max Pool] [-> Elemwise of it and per-channel operands]
    -> FusedConv (cpu); returns the number fused."""
    from ..elemwise import Elemwise
    from ..rewrites.blas import _epilogue
    from .pool import Pool
    target = getattr(fgraph, "target", None)
    if target is not None and getattr(target, "kind", "llvm") != "llvm":
        return 0
    count = 0
    for node in list(fgraph.toposort()):
        if type(node.op) is not CorrMM or node not in fgraph.apply_nodes or node.op.num_groups != 1:
            continue
        out = node.outputs[0]
        if out.type.dtype not in ("float32", "float64"):
            continue
        last, pool_ws, comp, others = out, None, None, []
        user = _single_client(fgraph, out)
        if user is not None and type(user.op) is Pool and user.op.mode == "max" \
                and user.op.ndim == node.op.convdim and user.op.ignore_border \
                and user.op.stride == user.op.ws and not any(user.op.pad) \
                and user.inputs[0].ndim == out.ndim:
            pool_ws, last = user.op.ws, user.outputs[0]
            user = _single_client(fgraph, last)
        if user is not None and isinstance(user.op, Elemwise) and len(user.outputs) == 1 \
                and user.outputs[0].broadcastable == last.broadcastable \
                and user.outputs[0].type.dtype == out.type.dtype \
                and all(v is last or (v.ndim == last.ndim and any(v.broadcastable)) or v.ndim == 0
                        for v in user.inputs) \
                and sum(1 for v in user.inputs if v is last) >= 1:
            got = _epilogue(user, last)
            if got is not None:
                comp, others = got
                last = user.outputs[0]
        if pool_ws is None and comp is None:
            continue
        op = node.op
        new_op = FusedConv(pool_ws, comp, convdim=op.convdim, border_mode=op.border_mode,
                           subsample=op.subsample, filter_flip=False,
                           filter_dilation=op.filter_dilation, num_groups=1)
        new = new_op(node.inputs[0], node.inputs[1], *others)
        if new.type != last.type:
            continue
        fgraph.replace_all([(last, new)], reason="conv_epilogue")
        count += 1
    return count
