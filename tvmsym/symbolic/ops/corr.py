"""The ``conv`` rewrite stage: ``AbstractConv2d`` (and 3d, and both gradients) become
Theano's CPU forms ``CorrMM`` / ``CorrMM_gradWeights`` / ``CorrMM_gradInputs`` (``Corr3dMM...``).

A Corr op is a correlation (``filter_flip=False``); a flipping convolution reads its
filters through ``kern[:, :, ::-1, ::-1]`` (gradWeights: flips its result), as Theano's
``local_abstractconv_gemm`` does.  Both forms lower to the same TVM kernels
(``lowering/rules/conv.py``: the Corr classes subclass the abstract ones).
"""
from __future__ import annotations

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
        from ..rewrites.merge import merge      # one flip per filter tensor, not per reader
        merge(fgraph, excluding=excluding)
    return count
