"""``scan_hoist_dot``: a scan body's ``dot(x_t, W)`` of a sequence as one product before the loop.

``h_t = tanh(dot(x_t, W) + dot(h_{t-1}, U) + b)`` (W10) multiplies each step's input by
the same ``W``: 50 products with the batch as rows, where one product of the whole
sequence (``dot(X, W)``, rows = steps x batch) runs at the machine's speed.  The scan
then reads the product's rows as its sequence (Theano's scan push-out of sequence
computations).  Its gradient follows: the loop gives the gradient of the product's rows
``gP``, and ``X``'s and ``W``'s are two products after the loop (``dot(gP, W.T)``,
``dot(X.T, gP)``) instead of a ``K = batch`` product summed into ``W``'s accumulator at
every step.  With the product a sequence, ``dot(h, U) + p_t`` is the pattern of
``scan_weight_grads``: ``U``'s gradient leaves the loop too.

Run only when a mode includes it (``Mode().including("scan_hoist_dot")``): the outer
reshapes and slices around the products are materialized as copies today, and W10 ran
5-10% slower with it than without (the loop's small products are already near peak).

When: ``x_t`` is a sequence's only tap ``[0]``, read by one node of the body, ``dot(x_t,
W)`` (``x_t`` a vector or a matrix); ``W`` a matrix non-sequence read by nothing else; the
scan updates no shared variable.
"""
from __future__ import annotations

from ..fgraph import clone_graph
from ..ops.linalg import Dot
from ..ops.scan import Scan, ScanGrad
from .scan_weights import _inner_clients, _where


def _plan(op):
    """(x inner position, W inner position, the dot's output) or None."""
    where = _where(op)
    clients = _inner_clients(op)
    pos = {v: p for p, v in enumerate(op.inner_inputs)}
    for px, x in enumerate(op.inner_inputs):
        if where[px][0] != "seq" or op.seq_taps[where[px][1]] != (0,) or x.ndim not in (1, 2):
            continue
        if x.dtype[0] != "f":
            continue
        cl = clients.get(x, [])
        if len(cl) != 1 or cl[0][0] == "output" or cl[0][1] != 0:
            continue
        node = cl[0][0]
        if not isinstance(node.op, Dot):
            continue
        w = node.inputs[1]
        pw = pos.get(w)
        if pw is None or where[pw][0] != "ns" or w.ndim != 2 or w is x:
            continue
        wc = clients.get(w, [])
        if len(wc) != 1 or wc[0][0] is not node:
            continue
        return px, pw, node.outputs[0]
    return None


def _hoisted_op(op, px, d):
    """``op`` with the body's input ``px`` replaced by a placeholder for ``d``'s value."""
    p = d.type()
    p.name = f"{op.inner_inputs[px].name or 'x'}.W"
    ins = [p if k == px else v for k, v in enumerate(op.inner_inputs)]
    memo = {v: v for v in ins}
    memo[d] = p
    _, outs, _ = clone_graph(ins + [d], list(op.inner_outputs), memo=memo)
    return Scan(ins, outs, op.seq_taps, op.out_taps, op.n_shared, op.n_nonseq, op.state_types,
                go_backwards=op.go_backwards, truncate_gradient=op.truncate_gradient,
                name=op.name, mode=op.mode, n_saved=op.n_saved)


def _rows_dot(a, b):
    """``dot`` of ``a``'s last axis with matrix ``b``, ``a`` 2-d or 3-d (rows flattened)."""
    from ..ops.linalg import dot
    if a.ndim == 2:
        return dot(a, b)
    a2 = a.reshape((-1, a.shape[2]), ndim=2)
    return dot(a2, b).reshape((a.shape[0], a.shape[1], b.shape[1]), ndim=3)


def _steps_dot(a, g):
    """``sum over steps (and batch) of a_t^T g_t``: ``a``, ``g`` 2-d or 3-d stacks."""
    from ..ops.linalg import dot
    if a.ndim == 2:
        return dot(a.T, g)
    a2 = a.reshape((-1, a.shape[2]), ndim=2)
    g2 = g.reshape((-1, g.shape[2]), ndim=2)
    return dot(a2.T, g2)


def scan_hoist_dot(fgraph, excluding=()):
    """Hoist each matching ``dot(x_t, W)`` out of its scan; returns the count."""
    from ..basic import cast
    count = 0
    for _ in range(4):          # a body may have several (each pass hoists one per scan)
        changed = 0
        for fnode in list(fgraph.toposort()):
            if fnode not in fgraph.apply_nodes or not isinstance(fnode.op, Scan):
                continue
            op = fnode.op
            if op.n_shared:
                continue
            plan = _plan(op)
            if plan is None:
                continue
            px, pw, d = plan
            where = _where(op)
            ns, nr = op.n_seqs, len(op.recurrent)
            ox, ow = 1 + where[px][1], 1 + ns + nr + where[pw][1]
            X, W = fnode.inputs[ox], fnode.inputs[ow]
            XW = _rows_dot(X, W)
            if XW.dtype != d.dtype:
                XW = cast(XW, d.dtype)
            if XW.ndim != d.ndim + 1:
                continue
            new = _hoisted_op(op, px, d)
            ins = list(fnode.inputs)
            ins[ox] = XW
            fnew = new.make_node(*ins)
            no = op.n_outs
            grads = [g for g in list(fgraph.apply_nodes) if isinstance(g.op, ScanGrad)
                     and g.op.scan_op is op and list(g.inputs[:len(ins)]) == list(fnode.inputs)]
            if any(g.op.stacks for g in grads):
                continue
            pairs = list(zip(fnode.outputs, fnew.outputs))
            for g in grads:
                gnew = ScanGrad(new, g.op.wrt, gy_rows=g.op.gy_rows).make_node(*ins, *fnew.outputs[:no],
                                                         *g.inputs[len(ins) + no:])
                out_of = dict(zip(g.op.wrt, g.outputs))
                new_of = dict(zip(g.op.wrt, gnew.outputs))
                for k, o in out_of.items():
                    if not fgraph.clients.get(o):
                        continue
                    if k == ox:
                        v = _rows_dot(new_of[ox], W.T)
                    elif k == ow:
                        v = _steps_dot(X, new_of[ox])
                    else:
                        v = new_of[k]
                    if v.dtype != o.dtype:
                        v = cast(v, o.dtype)
                    pairs.append((o, v))
                if ow in out_of and ox not in out_of:
                    pairs = None        # (a continuous sequence is always in wrt)
                    break
            if pairs is None or any(o.broadcastable != v.broadcastable for o, v in pairs):
                continue
            for o, v in pairs:
                fgraph.replace(o, v, reason="scan_hoist_dot")
            changed += 1
        count += changed
        if not changed:
            break
    return count
