"""``scan_saved``: the forward loop stores the values its gradient reads.

A scan's reverse loop runs the body's vector-Jacobian product, which reads values of the
forward step: an LSTM's gates ``sigmoid(preact[:, 0:d])``, ``tanh(c)``, the product
``dot(h_, U) + x_`` they come from.  Only the step's outputs are stored by the forward
loop, so the reverse step computed everything else again (the LSTM: its 16x128x512
product and every gate: 20 us + most of a 30 us kernel per step).  Theano's scan gradient
stores them.  Here: when a function holds both the ``Scan`` node and its ``ScanGrad``,
the scan becomes one whose body also outputs those values (``Scan.n_saved`` extra,
non-recurrent outputs, written row by row like any output), and the gradient reads them
as the forward loop computed them.

The values stored (``saved_values``): the forward values the gradient's own nodes read,
walked back through views (a slice or a dimshuffle of a value is taken again from the
stored value: no copy per gate), leaving out what does not change from step to step
(computed once per loop: ``Scan.hoisted``) and what the loop stores already (its outputs).
"""
from __future__ import annotations

from ..elemwise import DimShuffle
from ..graph import Constant, toposort
from ..ops.scan import Scan, ScanGrad
from ..ops.subtensor import Subtensor

_CACHE = {}         # id(op) -> (op, saved values, new op)


def _is_view(node):
    if isinstance(node.op, DimShuffle):
        return True
    if isinstance(node.op, Subtensor):
        return all(isinstance(i, Constant) for i in node.inputs[1:])
    return False


def saved_values(op, needed=None):
    """The body's values its gradient reads (see the module docstring), in body order;
    ``needed``: the positions of the inner inputs whose gradient is read (None: all)."""
    from ...config import change_flags
    from ..grad import grad, is_continuous
    outs = op.inner_outputs[:op.n_outs]
    ins = list(op.inner_inputs)
    with change_flags(compute_test_value="off"):
        gys = [o.type() for o in outs]
        known = {}
        for o, g in zip(outs, gys):
            if is_continuous(o):
                known[o] = known[o] + g if o in known else g
        wrt = [v for p, v in enumerate(ins) if is_continuous(v)
               and (needed is None or p in needed)]
        if not known or not wrt:
            return []
        gs = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                  return_disconnected="zero")
    fwd_nodes = toposort(list(op.inner_outputs), blockers=ins)
    fwd = {o for n in fwd_nodes for o in n.outputs}
    invariant = set(ins[len(ins) - op.n_nonseq:])
    for n in fwd_nodes:
        if all(i in invariant or isinstance(i, Constant) for i in n.inputs):
            invariant.update(n.outputs)
    stored = set(outs)
    want = []

    def take(v):
        while v.owner is not None and v in fwd and _is_view(v.owner):
            v = v.owner.inputs[0]
        if v in fwd and v not in invariant and v not in stored and v not in want:
            want.append(v)

    for n in toposort([g for g in gs if g is not None], blockers=ins + gys):
        if n.outputs[0] in fwd or type(n.op).__name__ in ("Shape", "Shape_i"):
            continue        # (a value read for its shape alone is not computed)
        for i in n.inputs:
            take(i)
    for g in gs:
        if g is not None:
            take(g)
    order = {o: k for k, n in enumerate(fwd_nodes) for o in n.outputs}
    return sorted(want, key=lambda v: order[v])


def with_saved(op, needed):
    """The scan ``op`` with its saved values as extra outputs, or None (nothing to save)."""
    key = (id(op), needed)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is op:
        return hit[1]
    new = None
    if not op.n_shared and not op.n_saved:
        vals = saved_values(op, needed)
        if vals:
            outs = list(op.inner_outputs[:op.n_outs]) + vals
            new = Scan(op.inner_inputs, outs, op.seq_taps, list(op.out_taps) + [()] * len(vals),
                       0, op.n_nonseq, list(op.state_types) + [v.type for v in vals],
                       go_backwards=op.go_backwards, truncate_gradient=op.truncate_gradient,
                       name=op.name, mode=op.mode, n_saved=len(vals))
    _CACHE[key] = (op, new)
    return new


def scan_saved(fgraph, excluding=()):
    """Give each scan whose gradient is in the graph its saved values; returns the count."""
    from ..ops.alloc import alloc
    count = 0
    for gnode in list(fgraph.toposort()):
        if gnode not in fgraph.apply_nodes or not isinstance(gnode.op, ScanGrad):
            continue
        op = gnode.op.scan_op
        no = op.n_outs
        n_in = len(gnode.inputs) - 2 * no
        ys = gnode.inputs[n_in:n_in + no]
        fnode = ys[0].owner if ys else None
        if (fnode is None or fnode.op is not op or fnode not in fgraph.apply_nodes
                or list(fnode.inputs) != list(gnode.inputs[:n_in])
                or any(y.owner is not fnode or y is not fnode.outputs[j]
                       for j, y in enumerate(ys))):
            continue
        new = with_saved(op, _needed(op, gnode, fgraph))
        if new is None:
            continue
        fnew = new.make_node(*fnode.inputs)
        extra = fnew.outputs[no:no + new.n_saved]
        # the saved values get no gradient: one zero row stands for their (unread) gradients
        zeros = [alloc(_zero(v.dtype), 1, *[v.shape[k] for k in range(1, v.ndim)])
                 for v in extra]
        gnew = ScanGrad(new, gnode.op.wrt, gnode.op.stacks, gnode.op.gy_rows).make_node(
            *fnode.inputs, *fnew.outputs[:no], *extra, *gnode.inputs[n_in + no:], *zeros)
        pairs = [(o, n) for o, n in zip(fnode.outputs, fnew.outputs[:no])]
        pairs += [(o, n) for o, n in zip(gnode.outputs, gnew.outputs) if fgraph.clients.get(o)]
        for o, n in pairs:
            fgraph.replace(o, n, reason="scan_saved")
        count += 1
    return count


def _needed(op, gnode, fgraph):
    """Inner input positions whose gradient the loop must compute: the states' always,
    a sequence's or non-sequence's when its outer gradient has a reader."""
    read = {k for k, o in zip(gnode.op.wrt, gnode.outputs) if fgraph.clients.get(o)}
    read |= {1 + q for kind, q in gnode.op.stacks if kind == "gseq"}
    ns, nr = op.n_seqs, len(op.recurrent)
    out, p = set(), 0
    for q, taps in enumerate(op.seq_taps):
        for _ in taps:
            if 1 + q in read:
                out.add(p)
            p += 1
    for j in op.recurrent:
        for _ in op.out_taps[j]:
            out.add(p)
            p += 1
    for q in range(op.n_nonseq):
        if 1 + ns + nr + q in read:
            out.add(p)
        p += 1
    return frozenset(out)


def _zero(dtype):
    import numpy as np

    from ..basic import as_tensor_variable
    return as_tensor_variable(np.zeros((), dtype=dtype))
