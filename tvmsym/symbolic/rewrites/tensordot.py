"""``tensordot_as_dot``: a ``TensorDot`` that is a matrix product of reshaped operands
becomes one (``reshape(dot(reshape(a), reshape(b)))``).

``T.dot(emb, W)`` of a 3-d ``emb`` (the LSTM tutorial's input projection, and its two
gradients ``tensordot(emb, g, [[0, 1], [0, 1]])`` and ``tensordot(g, W, [[2], [1]])``) is
a ``TensorDot``; as a 2-d ``Dot`` of the flattened operands it runs on the tuned matrix
product kernels (Theano's ``tensordot`` reshapes the same way).  Applies when each
operand's summed axes are its leading or its trailing axes, in the order they pair; other
``TensorDot`` nodes are left as they are.
"""
from __future__ import annotations

from ..ops.linalg import TensorDot, _dot
from ..ops.reshape import reshape

_FLOATS = ("float16", "float32", "float64")


def _prod(dims):
    out = dims[0]
    for d in dims[1:]:
        out = out * d
    return out


def _matrix(x, summed, rows_first):
    """``x`` as a matrix: (free axes, summed axes) when ``rows_first`` (the summed axes
    trailing), else (summed axes, free axes); None when its summed axes are not its leading
    or trailing ones in order."""
    nd, k = x.ndim, len(summed)
    free = [d for d in range(nd) if d not in summed]
    fshape = [x.shape[d] for d in free]
    sshape = [x.shape[d] for d in summed]
    fd = _prod(fshape) if fshape else 1
    sd = _prod(sshape)
    if list(summed) == list(range(nd - k, nd)):          # summed axes trailing
        m = reshape(x, [fd, sd])
        return (m if rows_first else m.T), fshape
    if list(summed) == list(range(k)):                     # summed axes leading
        m = reshape(x, [sd, fd])
        return (m.T if rows_first else m), fshape
    return None, None


def tensordot_as_dot(fgraph, excluding=()):
    """Replace each eligible ``TensorDot``; returns how many were replaced."""
    count = 0
    for node in list(fgraph.toposort()):
        if not isinstance(node.op, TensorDot) or node not in fgraph.apply_nodes:
            continue
        a, b = node.inputs
        out = node.outputs[0]
        if a.dtype != b.dtype or a.dtype not in _FLOATS or out.dtype != a.dtype:
            continue
        if a.ndim + b.ndim - 2 * len(node.op.axes_a) < 1 or not node.op.axes_a:
            continue
        A, fa = _matrix(a, node.op.axes_a, True)
        B, fb = _matrix(b, node.op.axes_b, False)
        if A is None or B is None:
            continue
        prod = _dot(A, B)
        new = reshape(prod, fa + fb) if (len(fa) != 1 or len(fb) != 1) else prod
        if new.type != out.type:
            continue
        fgraph.replace(out, new, reason="tensordot_as_dot")
        count += 1
    return count
