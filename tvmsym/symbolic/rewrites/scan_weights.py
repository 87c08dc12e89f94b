"""``scan_weight_grads``: a weight's gradient through a scan as one product after the loop.

A scan body ``dot(a_t, W) + x_t`` (an LSTM's ``dot(h_, U) + state_below[t]``, an RNN's
``dot(h, U) + xw[t]``) gives ``W`` the gradient ``sum_t a_t^T g_t``, where ``g_t`` is the
gradient of that step's ``x_t``.  The reverse loop (``ScanGrad``) summed it step by step:
a product with only the batch as inner size, reading and writing the whole of ``W``'s
accumulator at every step (31 us of the LSTM's 128 us gradient step).  The gradient of the
sequence ``x`` is stacked by the loop anyway, so ``W``'s gradient is one product after it:
``dot(A.T, gX)`` of two 2-d views the reverse loop returns besides the gradients
(``ScanGrad.stacks``: rows = steps x batch): ``A`` the stacked ``a_t`` (a sequence, or a
recurrent output's buffer shifted by one: its initial value, then the steps), ``gX`` the
sequence's gradient rows (no slice, join or reshape of the outer graph: those are copies).
The loop's own gradient of ``W`` then has no reader, so the runtime does not compute it (``runtime/scan.py``:
``_needed_inputs``).

Run only when a mode includes it (``Mode().including("scan_weight_grads")``): it moves
the LSTM's 31 us per step of weight accumulation out of the reverse loop (the gradient
step 1.5x -> 1x the forward's), but the one product after the loop (K = steps x batch, a
transposed operand) runs no faster today than the loop's small products, and the LSTM's
training step was 3-8% slower in total with it.

When: ``W`` is a non-sequence read by one node of the body, ``dot(a_t, W)`` (``W`` a
matrix); ``a_t`` a sequence's only tap ``[0]`` or a recurrent output's plain tap ``[-1]``;
the product read only by one ``add`` whose output has the product's broadcast pattern,
together with ``x_t``, a sequence's only tap ``[0]`` read by nothing else; the loop runs
forward with a number of steps known not to be negative (a shape, a constant, their
minimum).
"""
from __future__ import annotations

import numpy as np

from .. import scalar as ps
from ..elemwise import Elemwise
from ..graph import Constant, toposort
from ..ops.linalg import Dot
from ..ops.scan import ScanGrad


def _nonneg(v, depth=0):
    """``v`` (an integer scalar) is known to be >= 0."""
    if isinstance(v, Constant):
        return bool(np.all(np.asarray(v.data) >= 0))
    node = v.owner
    if node is None or depth > 8:
        return False
    name = type(node.op).__name__
    if name in ("Shape_i", "Shape"):
        return True
    if name == "Subtensor":
        return _nonneg(node.inputs[0], depth + 1)
    if isinstance(node.op, Elemwise):
        s = node.op.scalar_op
        if isinstance(s, (ps.Minimum, ps.Maximum, ps.Cast)) or type(s).__name__ in (
                "Minimum", "Maximum", "Cast", "Identity"):
            return all(_nonneg(i, depth + 1) for i in node.inputs)
    return False


def _inner_clients(op):
    """{inner variable: [(node, position)]} of the scan body (outputs count as a client)."""
    clients = {}
    for node in toposort(list(op.inner_outputs), blockers=list(op.inner_inputs)):
        for k, i in enumerate(node.inputs):
            clients.setdefault(i, []).append((node, k))
    for o in op.inner_outputs:
        clients.setdefault(o, []).append(("output", 0))
    return clients


def _where(op):
    """inner input position -> ("seq", q) / ("state", r, j) / ("ns", q) / other."""
    out = []
    for q, taps in enumerate(op.seq_taps):
        out += [("seq", q, k) for k in taps]
    for r, j in enumerate(op.recurrent):
        out += [("state", r, j, k) for k in op.out_taps[j]]
    out += [("shared", q) for q in range(op.n_shared)]
    out += [("ns", q) for q in range(op.n_nonseq)]
    return out


def _plans(op):
    """[(W inner position, a inner position, x inner position)] of the rule's pattern."""
    where = _where(op)
    pos = {v: p for p, v in enumerate(op.inner_inputs)}
    clients = _inner_clients(op)
    plans = []
    for p, w in enumerate(op.inner_inputs):
        if where[p][0] != "ns" or w.ndim != 2:
            continue
        cl = clients.get(w, [])
        if len(cl) != 1 or cl[0][0] == "output" or cl[0][1] != 1:
            continue
        dnode = cl[0][0]
        if not isinstance(dnode.op, Dot):
            continue
        a = dnode.inputs[0]
        pa = pos.get(a)
        if pa is None or a is w:
            continue
        wa = where[pa]
        if wa[0] == "seq":
            if op.seq_taps[wa[1]] != (0,):
                continue
        elif wa[0] == "state":
            if op.out_taps[wa[2]] != (-1,):
                continue
        else:
            continue
        d = dnode.outputs[0]
        dc = clients.get(d, [])
        if len(dc) != 1 or dc[0][0] == "output":
            continue
        anode = dc[0][0]
        if not (isinstance(anode.op, Elemwise) and isinstance(anode.op.scalar_op, ps.Add)):
            continue
        if anode.outputs[0].broadcastable != d.broadcastable or \
                anode.outputs[0].dtype != d.dtype or anode.inputs.count(d) != 1:
            continue
        for x in anode.inputs:
            px = pos.get(x)
            if px is None or where[px][0] != "seq" or op.seq_taps[where[px][1]] != (0,):
                continue
            if x.broadcastable != d.broadcastable or x.dtype != d.dtype:
                continue
            xc = clients.get(x, [])
            if len(xc) != 1 or xc[0][0] is not anode or anode.inputs.count(x) != 1:
                continue
            plans.append((p, pa, px))
            break
    return plans


def scan_weight_grads(fgraph, excluding=()):
    """Move each matching weight gradient of a ``ScanGrad`` after its loop; returns the
    number of gradients moved."""
    from ..basic import as_tensor_variable, cast
    from ..ops.linalg import dot
    count = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not isinstance(node.op, ScanGrad):
            continue
        op = node.op.scan_op
        if op.go_backwards or op.n_shared or node.op.stacks:
            continue
        if not _nonneg(node.inputs[0]):
            continue
        wrt = node.op.wrt
        out_of = {k: o for k, o in zip(wrt, node.outputs)}
        where = _where(op)
        ns, nr, nsh = op.n_seqs, len(op.recurrent), op.n_shared
        moves = []          # (W's gradient, stack of a, stack of gx)
        for pw, pa, px in _plans(op):
            ow = 1 + ns + nr + nsh + where[pw][1]        # outer input positions
            ox = 1 + where[px][1]
            gw, gx = out_of.get(ow), out_of.get(ox)
            if gw is None or gx is None or not fgraph.clients.get(gw):
                continue
            if op.inner_inputs[pa].ndim not in (1, 2):
                continue
            wa = where[pa]
            a = ("seq", wa[1]) if wa[0] == "seq" else ("prev", wa[1])
            moves.append((gw, a, ("gseq", where[px][1])))
        if not moves:
            continue
        stacks = []
        for _, a, g in moves:
            for st in (a, g):
                if st not in stacks:
                    stacks.append(st)
        gnew = ScanGrad(op, wrt, stacks, node.op.gy_rows).make_node(*node.inputs)
        nw = len(wrt)
        pairs = [(o, n) for o, n in zip(node.outputs, gnew.outputs[:nw]) if fgraph.clients.get(o)]
        moved = {}
        for gw, a, g in moves:
            sa, sg = gnew.outputs[nw + stacks.index(a)], gnew.outputs[nw + stacks.index(g)]
            new = as_tensor_variable(dot(sa.T, sg))
            if new.dtype != gw.dtype:
                new = cast(new, gw.dtype)
            if new.broadcastable != gw.broadcastable:
                moved = None
                break
            moved[gw] = new
        if moved is None:
            continue
        for o, n in pairs:
            fgraph.replace(o, moved.get(o, n), reason="scan_weight_grads")
        count += len(moved)
    return count
