"""``split_complex``: complex computations -> real computations on (real, imag) parts.

TVM has no complex scalar type.  This stage gives every complex variable a pair of real
variables (its real and imaginary parts) and rewrites the ops it knows on them: elementwise
``+ - * /``, ``neg``, ``exp``, ``log``, ``abs``, ``sqr``, ``conj``, ``real``, ``imag``,
``angle``, ``complex``, ``complex_from_polar``, ``switch``, casts; ``DimShuffle``, ``Sum`` and
``Dot``.  After it, complex values remain only at the graph's inputs (read through
``real``/``imag``), its outputs (built by ``complex``) and around ops it does not know, which
run on the host through numpy.  What follows (canonicalize, fusion) then sees real graphs,
so complex expressions fuse like real ones.  The stage is required (it runs with
``optimizer=None`` too); without it complex nodes run on the host.
"""
from __future__ import annotations

from .. import scalar as ps
from ..basic import cast, cos, exp, log, sin, switch
from ..elemwise import DimShuffle, Elemwise
from ..graph import Constant
from ..ops import complex as C
from ..ops.linalg import Dot, dot
from ..ops.reduce import Sum
from ..type import COMPLEX_DTYPES


def _is_c(v):
    return v.type.dtype in COMPLEX_DTYPES


def _fdt(dtype):
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


def _to(v, dtype):
    return v if v is None or v.dtype == dtype else cast(v, dtype)


def _add(a, b):
    return b if a is None else a if b is None else a + b


def _sub(a, b):
    return a if b is None else -b if a is None else a - b


def _mul(a, b):
    return None if a is None or b is None else a * b


def _cmul(ar, ai, br, bi):
    return _sub(_mul(ar, br), _mul(ai, bi)), _add(_mul(ar, bi), _mul(ai, br))


def _cdiv(ar, ai, br, bi):
    if bi is None:
        return ar / br, (None if ai is None else ai / br)
    from ..basic import abs as _abs, and_, eq
    ai = ai if ai is not None else _zeros(ar)
    # numpy's algorithm (Smith's: no overflow of br**2 + bi**2; x / 0 is x / |0|)
    big = ge_abs(br, bi)
    r1 = bi / br
    s1 = 1.0 / (br + bi * r1)
    r2 = br / bi
    s2 = 1.0 / (bi + br * r2)
    zero = and_(eq(br, 0), eq(bi, 0))
    re = switch(big, switch(zero, ar / _abs(br), (ar + ai * r1) * s1), (ar * r2 + ai) * s2)
    im = switch(big, switch(zero, ai / _abs(br), (ai - ar * r1) * s1), (ai * r2 - ar) * s2)
    return re, im


def ge_abs(a, b):
    from ..basic import abs as _abs, ge
    return ge(_abs(a), _abs(b))


def _zeros(like):
    from ..grad import zeros_like
    return zeros_like(like)


def _elemwise(sop, node, parts, fdt):
    """(re, im) of a complex output, or the real output; None if ``sop`` is not known."""
    P = [parts(v) for v in node.inputs]
    out = node.outputs[0]
    t = type(sop)
    if t is C.Real:
        return P[0][0]
    if t is C.Imag:
        return P[0][1] if P[0][1] is not None else _zeros(P[0][0])
    if t is C.Angle:
        re, im = P[0]
        return C.arctan2(im if im is not None else _zeros(re), re)
    if sop == ps.abs_:
        re, im = P[0]
        return C.hypot(re, im) if im is not None else abs(re)
    if isinstance(sop, ps.Cast) and not _is_c(out):
        return _to(P[0][0], out.type.dtype)
    if not _is_c(out):
        return None
    cond = P[0][0]
    P = [(_to(re, fdt), _to(im, fdt)) for re, im in P]
    if t is C.Complex:
        return P[0][0], P[1][0]
    if t is C.ComplexFromPolar:
        (r, _), (th, _) = P
        return r * cos(th), r * sin(th)
    if t is C.Conj:
        return P[0][0], (None if P[0][1] is None else -P[0][1])
    if isinstance(sop, ps.Cast) or sop == ps.identity:
        return P[0]
    if sop == ps.add:
        return _add(P[0][0], P[1][0]), _add(P[0][1], P[1][1])
    if sop == ps.sub:
        return _sub(P[0][0], P[1][0]), _sub(P[0][1], P[1][1])
    if sop == ps.neg:
        return -P[0][0], (None if P[0][1] is None else -P[0][1])
    if sop == ps.mul:
        return _cmul(*P[0], *P[1])
    if sop == ps.sqr:
        return _cmul(*P[0], *P[0])
    if sop == ps.true_div:
        return _cdiv(*P[0], *P[1])
    if sop == ps.exp:
        re, im = P[0]
        e = exp(re)
        return (e, None) if im is None else (e * cos(im), e * sin(im))
    if sop == ps.log:
        re, im = P[0]
        if im is None:
            return log(re), None
        return log(C.hypot(re, im)), C.arctan2(im, re)
    if sop == ps.switch:
        c = cond
        (ar, ai), (br, bi) = P[1], P[2]
        if ai is None and bi is None:
            return switch(c, ar, br), None
        ai = ai if ai is not None else _zeros(ar)
        bi = bi if bi is not None else _zeros(br)
        return switch(c, ar, br), switch(c, ai, bi)
    return None


def _split_node(node, parts):
    op = node.op
    out = node.outputs[0]
    fdt = _fdt(out.type.dtype)
    if isinstance(op, Elemwise) and len(node.outputs) == 1:
        if isinstance(op.scalar_op, ps.Composite):
            return None
        return _elemwise(op.scalar_op, node, parts, fdt)
    if isinstance(op, DimShuffle):
        re, im = parts(node.inputs[0])
        return op(re), (None if im is None else op(im))
    if isinstance(op, Sum) and _is_c(out):
        from ..ops.reduce import sum as _sum
        re, im = parts(node.inputs[0])
        axis = None if op.axis is None else list(op.axis)
        return (_to(_sum(re, axis=axis), fdt),
                None if im is None else _to(_sum(im, axis=axis), fdt))
    if isinstance(op, Dot) and _is_c(out):
        (ar, ai), (br, bi) = [(_to(r, fdt), _to(i, fdt)) for r, i in map(parts, node.inputs)]
        return _cmul_dot(ar, ai, br, bi)
    return None


def _cmul_dot(ar, ai, br, bi):
    def d(a, b):
        return None if a is None or b is None else dot(a, b)
    return _sub(d(ar, br), d(ai, bi)), _add(d(ar, bi), d(ai, br))


def _fits(new, old):
    return (new.type.broadcastable == old.type.broadcastable
            and new.type.dtype == old.type.dtype)


def split_complex(fgraph, excluding=()):
    """Rewrite complex computations as real ones on (real, imag) pairs (module docstring)."""
    if not any(_is_c(v) for v in fgraph.variables):
        return
    pairs = {}
    reals = {}      # a real output of a rewritten node -> its replacement

    def parts(v):
        if not _is_c(v):
            return reals.get(v, v), None
        p = pairs.get(v)
        if p is None:       # an input, a constant or an op this stage does not know
            if isinstance(v, Constant):
                p = (Constant_of(v.data.real, v), Constant_of(v.data.imag, v))
            else:
                p = (C.real(v), C.imag(v))
            pairs[v] = p
        return p

    todo = []
    for node in fgraph.toposort():
        if not any(_is_c(v) for v in list(node.inputs) + list(node.outputs)):
            continue
        res = _split_node(node, parts)
        if res is None:
            continue
        out = node.outputs[0]
        if _is_c(out):
            re, im = res
            if re is None:
                continue
            fdt = _fdt(out.type.dtype)
            re = _to(re, fdt)
            im = _to(im, fdt) if im is not None else None
            re, im = _same_shape(re, im, out)
            if re is None:
                continue
            new = _to(C.complex(re, im if im is not None else 0), out.type.dtype)
            if not _fits(new, out):
                continue
            pairs[out] = (re, im)
        else:
            new = _to(res, out.type.dtype)
            if not _fits(new, out):
                continue
            reals[out] = new
        todo.append((out, new))
    for old, new in todo:
        fgraph.replace(old, new, reason="split_complex")


def _same_shape(re, im, out):
    """Parts with exactly ``out``'s broadcastable pattern (a part that broadcasts is filled:
    a Sum or DimShuffle of it must see the full shape); (None, None) if neither has it."""
    from ..grad import fill
    b = out.type.broadcastable
    ok_re = re.type.broadcastable == b
    ok_im = im is None or im.type.broadcastable == b
    if ok_re and ok_im:
        return re, im
    if ok_re:
        return re, fill(re, im)
    if ok_im and im is not None:
        return fill(im, re), im
    return None, None


def Constant_of(data, like):
    from ..type import TensorType
    return type(like)(TensorType(_fdt(like.type.dtype), like.type.broadcastable),
                      data.astype(_fdt(like.type.dtype)))
