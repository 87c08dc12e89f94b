"""Gradients of the collectives (``ops/distributed.py``).

The cost of a data-parallel program is the sum of every rank's cost, so the gradient
with respect to a rank's input collects the contributions of all ranks:
- ``AllReduce{sum}``: an allreduce-sum of the output gradient (``mean``: an allreduce-mean);
- ``AllReduce{max|min}``: that sum, on the ranks whose value is the result (ties share it);
- ``Broadcast{root}``: that sum on ``root``, zero elsewhere;
- ``AllGather``: ``ReduceScatter`` (the sum, each rank keeping its own rows), and back.
"""
from __future__ import annotations

from .. import basic as tb
from ..grad import register_grad
from ..ops.distributed import AllGather, AllReduce, Broadcast, ReduceScatter, get_backend
from ..ops.shape import zeros_like


@register_grad(AllReduce)
def allreduce_grad(node, inputs, gouts):
    (x,), (gz,), op = inputs, gouts, node.op.op
    if op in ("sum", "mean"):
        return [AllReduce(op)(gz)]
    total = AllReduce("sum")(gz)
    return [tb.switch(tb.eq(x, node.outputs[0]), total, zeros_like(total))]


@register_grad(Broadcast)
def broadcast_grad(node, inputs, gouts):
    (gz,), root = gouts, node.op.root
    total = AllReduce("sum")(gz)
    # the rank is fixed for the life of the process: the graph of each rank knows its own
    return [total if get_backend().rank == root else zeros_like(total)]


@register_grad(AllGather)
def allgather_grad(node, inputs, gouts):
    (x,), (gz,) = inputs, gouts
    return [ReduceScatter()(gz, x)]


@register_grad(ReduceScatter)
def reduce_scatter_grad(node, inputs, gouts):
    (gz,) = gouts          # the row counts (input 1) carry no gradient
    return [AllGather(even=False)(gz), None]
