"""``acc_epilogue``: ``acc + dot(a, b)`` -> ``FusedDot{i1 + i0}(a, b, acc)``, a full-matrix
operand included (``dot_epilogue`` leaves those out).

Run only when a mode includes it: the reverse loop of a scan gradient sums each step's
weight gradient into an accumulator (``Scan`` inner graph ``"vjp_acc"``), a matrix small
enough to stay in cache, where a separate pass over it cost as much as a fifth of the
product (W10: 10.8 us for a 256x256 ``Add`` after a 49 us product, per step).
"""
from __future__ import annotations

from ..elemwise import Elemwise
from ..ops.linalg import Dot, FusedDot
from .blas import FLOATS, _epilogue


def acc_epilogue(fgraph, excluding=()):
    """Fold each ``Elemwise`` that reads one ``Dot`` (only) into it; returns the count."""
    count = 0
    for node in list(fgraph.toposort()):
        if type(node.op) is not Dot or node not in fgraph.apply_nodes:
            continue
        prod = node.outputs[0]
        a, b = node.inputs
        if a.ndim != 2 or b.ndim != 2 or prod.type.dtype not in FLOATS:
            continue
        clients = fgraph.clients[prod]
        if len(clients) != 1 or clients[0][0] == "output":
            continue
        user = clients[0][0]
        if not isinstance(user.op, Elemwise) or len(user.outputs) != 1 \
                or user.outputs[0].broadcastable != prod.broadcastable \
                or user.outputs[0].type.dtype not in FLOATS:
            continue
        got = _epilogue(user, prod)
        if got is None:
            continue
        comp, others = got
        new = FusedDot(comp).make_node(a, b, *others)
        if new.outputs[0].type != user.outputs[0].type:
            continue
        fgraph.replace_all([(user.outputs[0], new.outputs[0])], reason="acc_epilogue")
        count += 1
    return count
