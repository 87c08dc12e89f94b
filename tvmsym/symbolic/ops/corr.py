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

    ``keep`` (training graphs): the intermediate results other nodes also read, as extra
    outputs after the final one: ``"conv"`` the correlation itself, ``"pool"`` the pooled
    max (``MaxPoolGrad`` reads both, so the arg-max routing and its ties stay Theano's).
    """

    __props__ = CorrMM.__props__ + ("pool_ws", "scalar_op", "keep")
    no_grad = "made by the conv_epilogue stage, after gradients"

    def __init__(self, pool_ws=None, scalar_op=None, keep=(), **conv):
        super().__init__(**conv)
        self.pool_ws = tuple(pool_ws) if pool_ws is not None else None
        self.scalar_op = scalar_op
        self.keep = tuple(keep)
        if any(k not in ("conv", "pool") for k in self.keep) or list(self.keep) != sorted(set(self.keep)):
            raise ValueError(f"FusedConv: keep must be a sorted subset of ('conv', 'pool'), got {keep!r}")
        if "pool" in self.keep and (self.pool_ws is None or self.scalar_op is None):
            raise ValueError("FusedConv: keep='pool' needs a pooling followed by an elementwise expression")

    def __str__(self):
        parts = [CorrMM.__str__(self)]
        if self.pool_ws is not None:
            parts.append(f"Pool{{ws={self.pool_ws}, mode='max'}}")
        if self.scalar_op is not None:
            parts.append(self.scalar_op.name)
        if self.keep:
            parts.append("keep=" + "+".join(self.keep))
        return f"FusedConv{{{', '.join(parts)}}}"

    __repr__ = __str__

    def make_node(self, img, kern, *others):
        from ..elemwise import Elemwise
        from .pool import Pool
        conv = out = CorrMM.make_node(self, img, kern).outputs[0]
        if self.pool_ws is not None:
            out = Pool(self.pool_ws, True, ndim=self.convdim).make_node(out).outputs[0]
        pooled = out
        if self.scalar_op is not None:
            res = Elemwise(self.scalar_op).make_node(out, *others).outputs[0]
            if res.broadcastable != out.broadcastable:
                raise TypeError("FusedConv: the elementwise inputs must not broadcast the convolution")
            out = res
        extra = {"conv": conv, "pool": pooled}
        return Apply(self, [img, kern] + list(others), [out.type()] + [extra[k].type() for k in self.keep])

    def infer_shape(self, node, shapes):
        (conv,) = CorrMM.infer_shape(self, node, shapes[:2])
        shp = conv
        if self.pool_ws is not None:
            from .pool import Pool
            shp = Pool(self.pool_ws, True, ndim=self.convdim).out_shape(shp)
        extra = {"conv": conv, "pool": shp}
        return [shp] + [extra[k] for k in self.keep]


def _single_client(fgraph, v):
    clients = fgraph.clients[v]
    if len(clients) != 1 or clients[0][0] == "output":
        return None
    return clients[0][0]


def _pick_client(fgraph, v, accept):
    """(the first client node of ``v`` that ``accept`` takes, whether ``v`` has other readers:
    other nodes or the graph's outputs)."""
    users = []
    for c, _ in fgraph.clients[v]:
        if c not in users:
            users.append(c)
    for c in users:
        if c != "output" and accept(c):
            return c, len(users) > 1
    return None, True


def _depends_on(vars_, targets):
    """Whether any of ``vars_`` is computed from one of ``targets`` (variables)."""
    seen, todo = set(), list(vars_)
    while todo:
        v = todo.pop()
        if v in targets:
            return True
        if id(v) in seen or v.owner is None:
            continue
        seen.add(id(v))
        todo.extend(v.owner.inputs)
    return False


def conv_epilogue(fgraph, excluding=()):
    """CorrMM [-> non-overlapping max Pool] [-> Elemwise of it and per-channel operands]
    -> FusedConv (cpu); returns the number fused.  When other nodes also read the
    correlation or the pooled max (a training graph: ``MaxPoolGrad`` reads both), the
    FusedConv keeps them as extra outputs (``keep``): the pooling and the activation still
    run inside the convolution's kernel, per image while its product is in cache."""
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

        def is_pool(u):
            return (type(u.op) is Pool and u.op.mode == "max" and u.op.ndim == node.op.convdim
                    and u.op.ignore_border and u.op.stride == u.op.ws and not any(u.op.pad)
                    and u.inputs[0] is out and u.inputs[0].ndim == out.ndim)

        last, pool_ws, comp, others, keep = out, None, None, [], []
        pool_node, conv_shared = _pick_client(fgraph, out, is_pool)
        if pool_node is not None:
            pool_ws, last = pool_node.op.ws, pool_node.outputs[0]

        def is_epilogue(u, last=last):
            return (isinstance(u.op, Elemwise) and len(u.outputs) == 1
                    and u.outputs[0].broadcastable == last.broadcastable
                    and u.outputs[0].type.dtype == out.type.dtype
                    and all(v is last or (v.ndim == last.ndim and any(v.broadcastable)) or v.ndim == 0
                            for v in u.inputs)
                    and sum(1 for v in u.inputs if v is last) >= 1
                    and not _depends_on([v for v in u.inputs if v is not last], {out, last}))

        user, last_shared = _pick_client(fgraph, last, is_epilogue)
        pooled = last
        if user is not None:
            got = _epilogue(user, last)
            if got is not None:
                comp, others = got
                last = user.outputs[0]
        if pool_ws is None and comp is None:
            continue
        if pool_ws is not None and conv_shared:
            keep.append("conv")
        if pool_ws is not None and comp is not None and last_shared:
            keep.append("pool")
        if pool_ws is None and comp is not None and last_shared:
            keep.append("conv")         # the correlation is the elementwise's operand
        op = node.op
        new_op = FusedConv(pool_ws, comp, keep, convdim=op.convdim, border_mode=op.border_mode,
                           subsample=op.subsample, filter_flip=False,
                           filter_dilation=op.filter_dilation, num_groups=1)
        new = new_op.make_node(node.inputs[0], node.inputs[1], *others).outputs
        olds = [last] + [{"conv": out, "pool": pooled}[k] for k in keep]
        if any(a.type != b.type for a, b in zip(new, olds)):
            continue
        fgraph.replace_all(list(zip(olds, new)), reason="conv_epilogue")
        count += 1
    return count
