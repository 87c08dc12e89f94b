"""``scan_grad_rows``: a scan gradient fed the gradient of one step only reads that step.

A cost of ``hs[-1]`` (an RNN's last state) gives the reverse loop of ``hs``'s scan the
gradient ``inc_subtensor(zeros_like(hs)[-1], g)``: a zero stack of every step written and
read again (W10: an ``Alloc`` and a copying ``IncSubtensor`` of 50x32x256 per call, ~0.2-
0.6 ms) only for the loop to copy it into its own buffer.  The ``ScanGrad`` takes ``g``
instead (``ScanGrad.gy_rows``: the row k of that output), and the loop's gradient buffer
gets zeros with ``g`` added to row k: the same bits (``0 + g``, so ``-0.0`` becomes ``0.0``
as the increment makes it), the same ``IndexError`` for a row out of range.

Only for a recurrent output (its gradient stack is copied into the loop's buffer, never
read per step), an integer index that is a constant, a value of one step's type, and zeros
whose shape is the stack's own (``Alloc(0, Shape_i{k}(hs) ...)``).  A gradient stack that
is all zeros (an output the cost does not read: the LSTM's cell states) is not built either
(``gy_rows`` entry ``"zeros"``, the input a 0-d zero): the loop zeroes its own buffer.
"""
from __future__ import annotations

from ..graph import Constant
from ..ops.scan import ScanGrad
from ..ops.shape import Shape_i
from ..ops.subtensor import IncSubtensor
from .inc_join import _zeros


def _one_row(gy, ys):
    """(k, g) when ``gy`` is ``inc_subtensor(zeros_like(ys)[k], g)`` as above, else None."""
    node = gy.owner
    if node is None or type(node.op) is not IncSubtensor or node.op.set_instead_of_inc:
        return None
    z, g, *idx = node.inputs
    if len(node.op.idx_list) != 1 or node.op.idx_list[0][0] != "int":
        return None
    if len(idx) != 1 or not isinstance(idx[0], Constant) or not _zeros(z):
        return None
    if z.type != ys.type or g.type.dtype != ys.type.dtype or \
            tuple(g.type.broadcastable) != tuple(ys.type.broadcastable[1:]):
        return None
    dims = z.owner.inputs[1:]
    if len(dims) != ys.ndim:
        return None
    for d, v in enumerate(dims):
        o = v.owner
        if o is None or not isinstance(o.op, Shape_i) or o.op.i != d or o.inputs[0] is not ys:
            return None
    return int(idx[0].data), g


def _zero_stack(gy, ys):
    """``gy`` is ``zeros_like(ys)`` (an output the cost does not read: the LSTM's cell
    states), as ``Alloc(0, Shape_i{k}(ys) ...)``."""
    if not _zeros(gy) or gy.type != ys.type:
        return False
    dims = gy.owner.inputs[1:]
    if len(dims) != ys.ndim:
        return False
    for d, v in enumerate(dims):
        o = v.owner
        if o is None or not isinstance(o.op, Shape_i) or o.op.i != d or o.inputs[0] is not ys:
            return False
    return True


def _zero(dtype):
    import numpy as np

    from ..basic import as_tensor_variable
    return as_tensor_variable(np.zeros((), dtype=dtype))


def scan_grad_rows(fgraph, excluding=()):
    """Feed each ScanGrad the one step's gradient where its input is zeros but one row;
    returns the count of outputs changed."""
    count = 0
    for node in list(fgraph.toposort()):
        if node not in fgraph.apply_nodes or not isinstance(node.op, ScanGrad):
            continue
        op = node.op.scan_op
        no = op.n_outs
        n_in = len(node.inputs) - 2 * no
        ys, gys = node.inputs[n_in:n_in + no], list(node.inputs[n_in + no:])
        rows = [node.op.gy_row(j) for j in range(no)]
        changed = 0
        for j in op.recurrent:
            if rows[j] is not None:
                continue
            if _zero_stack(gys[j], ys[j]):
                rows[j], gys[j] = "zeros", _zero(ys[j].type.dtype)
                changed += 1
                continue
            hit = _one_row(gys[j], ys[j])
            if hit is None:
                continue
            rows[j], gys[j] = hit
            changed += 1
        if not changed:
            continue
        gop = ScanGrad(op, node.op.wrt, node.op.stacks, tuple(rows))
        new = gop.make_node(*node.inputs[:n_in + no], *gys)
        for o, n in zip(node.outputs, new.outputs):
            if fgraph.clients.get(o):
                fgraph.replace(o, n, reason="scan_grad_rows")
        count += changed
    return count
