"""Indexing: ``x[1:, ::2]``, ``x[i]``, ``x[ivec]``, ``x[mask]``, set/inc_subtensor, take.

Index entries are kept as in Theano: ``idx_list`` holds a dtype name for each integer
index and ``("slice", start, stop, step)`` (each a dtype name or None) for each
slice; the index values themselves are scalar inputs of the node after ``x``
(constants for Python ints).  So ``x[1:]`` prints as ``Subtensor{int64::}`` and one
compiled kernel serves every value of a symbolic ``x[i]``; i is checked against the
bounds in Python before the kernel runs (TVM kernels do not check bounds).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..basic import as_tensor_variable, cast, constant, dimshuffle
from ..graph import Apply, Constant, Op, Variable
from ..type import TensorType

__all__ = ["Subtensor", "IncSubtensor", "AdvancedSubtensor", "AdvancedIncSubtensor",
           "set_subtensor", "inc_subtensor", "take", "subtensor_index"]


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _scalar_index(v):
    """An int index as a scalar variable (Python ints become int64 constants)."""
    if _is_int(v):
        return constant(int(v), dtype="int64")
    v = as_tensor_variable(v)
    if v.ndim != 0 or v.dtype[0] not in "iu":
        raise TypeError(f"index must be an integer scalar, got {v.type}")
    return v


def _fmt_entry(e, parts):
    """Format one idx_list entry with ``parts`` (an iterator over the strings of its inputs)."""
    if e[0] == "slice":
        s = [next(parts) if p is not None else "" for p in e[1:]]
        return ":".join(s)
    return next(parts)


def _fmt_list(idx_list, names):
    it = iter(names)
    return ", ".join(_fmt_entry(e, it) for e in idx_list)


def _pp_entry(e, parts):
    if e[0] == "slice":
        s = [next(parts) if p is not None else "" for p in e[1:]]
        return f"{s[0]}:{s[1]}" + (f":{s[2]}" if s[2] else "")
    return next(parts)


def _entry_types(idx_list):
    out = []
    for e in idx_list:
        if e[0] == "slice":
            out += [p for p in e[1:] if p is not None]
        else:
            out.append(e[1])
    return out


def _item(v):
    return None if v is None else np.asarray(v).item()


class _Indexed(Op):
    """Shared index bookkeeping for Subtensor and IncSubtensor."""

    def _split_values(self, values):
        """Per idx_list entry: an int (or None if unknown) or (start, stop, step) values."""
        it = iter(values)
        out = []
        for e in self.idx_list:
            if e[0] == "slice":
                out.append(tuple(_item(next(it)) if p is not None else None for p in e[1:]))
            else:
                out.append(_item(next(it)))
        return out

    def _known(self, values):
        it = iter(values)
        ok = True
        for e in self.idx_list:
            if e[0] == "slice":
                for p in e[1:]:
                    if p is not None and next(it) is None:
                        ok = False
            else:
                next(it)
        return ok

    def region(self, xshape, values):
        """For each x dim: ("int", i or None) or ("slice", start, step, length) (normalized)."""
        out = []
        for d, (e, v) in enumerate(zip(self.idx_list, self._split_values(values))):
            n = xshape[d]
            if e[0] == "slice":
                start, stop, step = v
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                st, sp, sd = slice(start, stop, step).indices(n)
                out.append(("slice", st, sd, len(range(st, sp, sd))))
            else:
                if v is not None:
                    if not -n <= v < n:
                        raise IndexError(f"index {v} is out of bounds for axis {d} with size {n}")
                    v = v % n
                out.append(("int", v))
        for d in range(len(self.idx_list), len(xshape)):
            out.append(("slice", 0, 1, xshape[d]))
        return out

    def sub_shape(self, xshape, values):
        return tuple(r[3] for r in self.region(xshape, values) if r[0] == "slice")

    def index_tuple(self, values):
        out = []
        for e, v in zip(self.idx_list, self._split_values(values)):
            out.append(slice(*v) if e[0] == "slice" else int(v))
        return tuple(out)

    def slice_parts(self):
        """Input positions of slice (start, stop, step) parts, as (position, part index)."""
        out, k = [], self.n_before
        for e in self.idx_list:
            if e[0] == "slice":
                for j, p in enumerate(e[1:]):
                    if p is not None:
                        out.append((k, j))
                        k += 1
            elif e[0] in ("int", "array"):
                k += 1
        return out

    def shape_value_inputs(self, node):
        return [k for k, _ in self.slice_parts()]

    def runtime_check_for(self, node):
        nidx = len(node.inputs) - self.n_before
        if all(isinstance(i, Constant) for i in node.inputs[self.n_before:]) or nidx == 0:
            return None
        return _check_basic

    def pp(self, node, args, v):
        it = iter(args[self.n_before:])
        inner = ", ".join(_pp_entry(e, it) for e in self.idx_list)
        return self.pp_format(args, inner)


def _check_basic(node, arrays, shapes):
    op = node.op
    xshape = shapes[0]
    vals = [None if a is None else a for a in arrays[op.n_before:]]
    for (e, v), d in zip(zip(op.idx_list, op._split_values(vals)), range(len(xshape))):
        if e[0] != "slice" and v is not None:
            n = xshape[d]
            if not -n <= v < n:
                raise IndexError(f"index {v} is out of bounds for axis {d} with size {n}")


class Subtensor(_Indexed):
    """Basic indexing: ints and slices (``Subtensor{int64::}``)."""

    __props__ = ("idx_list",)
    n_before = 1
    # a view of x (as Theano's): the planner reads it through x in the kernels that allow it
    # (lowering/lower.py is_slice_view), so no inplace op may overwrite it
    view_map = {0: [0]}

    def __init__(self, idx_list):
        self.idx_list = tuple(tuple(e) for e in idx_list)

    def __str__(self):
        return f"Subtensor{{{_fmt_list(self.idx_list, _entry_types(self.idx_list))}}}"

    def make_node(self, x, *index):
        x = as_tensor_variable(x)
        index = [_scalar_index(i) for i in index]
        if len(self.idx_list) > x.ndim:
            raise IndexError(f"too many indices for a {x.ndim}-d tensor: {len(self.idx_list)} given")
        bc = []
        it = iter(index)
        for d, e in enumerate(self.idx_list):
            if e[0] == "slice":
                parts = [next(it) if p is not None else None for p in e[1:]]
                full = all(p is None for p in parts)
                bc.append(x.broadcastable[d] if full else False)
            else:
                next(it)
        bc += list(x.broadcastable[len(self.idx_list):])
        return Apply(self, [x] + index, [TensorType(x.dtype, tuple(bc))()])

    def infer_shape_values(self, node, shapes, values):
        if not self._known(values[1:]):
            return [None]
        return [self.sub_shape(shapes[0], values[1:])]

    def runtime_values_ok(self, node, positions):
        steps = {k for k, j in self.slice_parts() if j == 2}
        return not (set(positions) & steps)     # a runtime start/stop: the kernel reads it

    def perform(self, node, inputs):
        x = inputs[0]
        return [np.array(x[self.index_tuple(inputs[1:])])]

    def pp_format(self, args, inner):
        return f"{args[0]}[{inner}]"


class IncSubtensor(_Indexed):
    """``x`` with ``x[idx]`` set to (or incremented by) ``y``: a new variable (functional)."""

    __props__ = ("idx_list", "set_instead_of_inc")
    n_before = 2

    def __init__(self, idx_list, set_instead_of_inc=False):
        self.idx_list = tuple(tuple(e) for e in idx_list)
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def __str__(self):
        msg = "Set" if self.set_instead_of_inc else "Inc"
        return f"IncSubtensor{{{msg};{_fmt_list(self.idx_list, _entry_types(self.idx_list))}}}"

    def make_node(self, x, y, *index):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        index = [_scalar_index(i) for i in index]
        sub = Subtensor(self.idx_list).make_node(x, *index).outputs[0]
        if isinstance(y, Constant) and y.weak:
            y = constant(y.data.item(), dtype=x.dtype)
        if y.ndim > sub.ndim:
            raise ValueError(f"{'set' if self.set_instead_of_inc else 'inc'}_subtensor: the value has "
                             f"{y.ndim} dimensions, more than the {sub.ndim} of x{_pp_idx(self, index)}")
        y = cast(y, x.dtype) if y.dtype != x.dtype else y
        return Apply(self, [x, y] + index, [x.type()])

    def infer_shape_values(self, node, shapes, values):
        if not self._known(values[2:]):
            return [None]
        sub = self.sub_shape(shapes[0], values[2:])
        ys = shapes[1]
        for k in range(1, len(ys) + 1):
            if ys[-k] != 1 and ys[-k] != sub[-k]:
                raise ValueError(f"{'set' if self.set_instead_of_inc else 'inc'}_subtensor: a value of "
                                 f"shape {tuple(ys)} does not broadcast to the indexed shape {sub}")
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        x, y = inputs[:2]
        out = np.array(x)
        idx = self.index_tuple(inputs[2:])
        if self.set_instead_of_inc:
            out[idx] = y
        else:
            out[idx] += y
        return [out]

    def pp_format(self, args, inner):
        fn = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        return f"{fn}({args[0]}[{inner}], {args[1]})"


def _pp_idx(op, index):
    return "[" + _fmt_list(op.idx_list, [str(i) for i in index]) + "]"


# --------------------------------------------------------------------------- advanced
def _advanced_index_shape(xs, idx):
    """The shape of ``x[idx]`` for ``x`` of shape ``xs`` (numpy's rules; ``idx``: slices and
    integer arrays, one axis each), computed without indexing anything: the symbolic-shape
    probes use sizes ~10**4 per axis, and an indexed dummy would gather its whole result
    (gigabytes for a 3-d take).  An index array with elements into an empty axis raises as
    numpy does (IndexError), unless the broadcast indices are empty."""
    if len(idx) > len(xs):
        raise IndexError(f"too many indices for an array of shape {xs}: {len(idx)}")
    pieces, arrays, where = [], [], []
    for d, (i, n) in enumerate(zip(idx, xs)):
        if isinstance(i, slice):
            pieces.append(len(range(n)[i]))
        else:
            arrays.append(i.shape)
            where.append(d)
            pieces.append(None)
    rest = tuple(xs[len(idx):])
    if not arrays:
        return tuple(pieces) + rest
    try:
        bshape = tuple(np.broadcast_shapes(*arrays))
    except ValueError as e:
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together: "
                         f"{e}") from None
    # numpy checks a 0-d index at once (an integer), the others' bounds once broadcast
    empty = [d for d, a in zip(where, arrays) if xs[d] == 0 and (not a or 0 not in bshape)]
    if empty:
        raise IndexError(f"advanced index into an empty axis of shape {xs}: index 0 is out "
                         f"of bounds for axis {empty[0]} with size 0")
    if where[-1] - where[0] == len(where) - 1:      # adjacent: the block takes their place
        out = tuple(p for p in pieces[:where[0]]) + bshape + tuple(pieces[where[-1] + 1:])
    else:                                            # separated: the block goes first
        out = bshape + tuple(p for p in pieces if p is not None)
    return out + rest


class AdvancedSubtensor(_Indexed):
    """Indexing with integer arrays and/or boolean masks (numpy's advanced indexing).

    ``idx_list`` entries: slices as in Subtensor, ``("array", dtype, ndim)`` for an index
    array input.  Prints as ``AdvancedSubtensor1`` for ``x[ivector]``.
    """

    __props__ = ("idx_list",)
    n_before = 1

    def __init__(self, idx_list):
        self.idx_list = tuple(tuple(e) for e in idx_list)

    def is_1(self):
        return len(self.idx_list) == 1 and self.idx_list[0][0] == "array" \
            and self.idx_list[0][1] != "bool" and self.idx_list[0][2] == 1

    def __str__(self):
        return "AdvancedSubtensor1" if self.is_1() else "AdvancedSubtensor"

    def make_node(self, x, *index):
        x = as_tensor_variable(x)
        index = [as_tensor_variable(i) for i in index]
        return Apply(self, [x] + index, [TensorType(x.dtype, self._bcast(x, index))()])

    def _dims_used(self):
        return sum(e[2] if e[0] == "array" and e[1] == "bool" else 1 for e in self.idx_list)

    def _bcast(self, x, index):
        if self._dims_used() > x.ndim:
            raise IndexError(f"too many indices for a {x.ndim}-d tensor")
        it = iter(index)
        pieces, adv_pos, d = [], [], 0
        arrays = []
        for k, e in enumerate(self.idx_list):
            if e[0] == "slice":
                for p in e[1:]:
                    if p is not None:
                        next(it)
                pieces.append([False])
                d += 1
            else:
                a = next(it)
                adv_pos.append(k)
                if e[1] == "bool":
                    arrays.append((False,))
                    d += e[2]
                else:
                    arrays.append(a.broadcastable)
                    d += 1
                pieces.append(None)
        nb = max(len(b) for b in arrays)
        padded = [(True,) * (nb - len(b)) + tuple(b) for b in arrays]
        bshape = [all(p[i] for p in padded) for i in range(nb)]
        contiguous = adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1))
        out = []
        placed = False
        for p in pieces:
            if p is None:
                if contiguous and not placed:
                    out += bshape
                    placed = True
            else:
                out += p
        if not contiguous:
            out = bshape + out
        return tuple(out) + tuple(x.broadcastable[d:])

    def index_tuple(self, values):
        it = iter(values)
        out = []
        for e in self.idx_list:
            if e[0] == "slice":
                out.append(slice(*[_item(next(it)) if p is not None else None for p in e[1:]]))
            else:
                out.append(np.asarray(next(it)))
        return tuple(out)

    def infer_shape_values(self, node, shapes, values):
        # slices must be known; masks make the shape data-dependent (None -> numpy at run time)
        it = iter(zip(values[1:], shapes[1:]))
        idx = []
        for e in self.idx_list:
            if e[0] == "slice":
                parts = []
                for p in e[1:]:
                    if p is not None:
                        v, _ = next(it)
                        if v is None:
                            return [None]
                        parts.append(_item(v))
                    else:
                        parts.append(None)
                idx.append(slice(*parts))
            else:
                v, s = next(it)
                if e[1] == "bool":
                    return [None]       # the length is data-dependent: numpy at run time
                else:
                    # only its shape is read: a zero-strided view, nothing allocated
                    idx.append(np.broadcast_to(np.zeros((), "int64"), tuple(s)))
        for e, i in zip(self.idx_list, idx):
            if isinstance(i, slice) and i.step == 0:
                raise ValueError("slice step cannot be zero")
        return [_advanced_index_shape(tuple(shapes[0]), idx)]

    def perform(self, node, inputs):
        x = inputs[0]
        return [np.array(x[self.index_tuple(inputs[1:])])]

    def runtime_check_for(self, node):
        return _check_advanced

    def pp_format(self, args, inner):
        return f"{args[0]}[{inner}]"


def _check_advanced(node, arrays, shapes):
    op = node.op
    xshape = shapes[0]
    it = iter(arrays[1:])
    d = 0
    for e in op.idx_list:
        if e[0] == "slice":
            for p in e[1:]:
                if p is not None:
                    next(it)
            d += 1
            continue
        a = next(it)
        n = xshape[d]
        d += 1
        if a is None or a.size == 0:
            continue
        lo, hi = a.min(), a.max()
        if lo < -n or hi >= n:
            bad = int(hi) if hi >= n else int(lo)
            raise IndexError(f"index {bad} is out of bounds for axis {d - 1} with size {n}")


class AdvancedIncSubtensor(Op):
    """x with x[idx] (advanced) set or incremented (duplicates accumulate, as numpy.add.at).

    Runs in numpy (a scatter); prints as ``AdvancedIncSubtensor1{no_inplace,set}`` for
    ``x[ivector]``.
    """

    host_only = "numpy's np.add.at / assignment"

    __props__ = ("idx_list", "set_instead_of_inc")

    def __init__(self, idx_list, set_instead_of_inc=False):
        self.idx_list = tuple(tuple(e) for e in idx_list)
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def __str__(self):
        what = "set" if self.set_instead_of_inc else "inc"
        if AdvancedSubtensor(self.idx_list).is_1():
            return f"AdvancedIncSubtensor1{{no_inplace,{what}}}"
        return f"AdvancedIncSubtensor{{no_inplace,{what}}}"

    def make_node(self, x, y, *index):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        index = [as_tensor_variable(i) for i in index]
        if isinstance(y, Constant) and y.weak:
            y = constant(y.data.item(), dtype=x.dtype)
        y = cast(y, x.dtype) if y.dtype != x.dtype else y
        return Apply(self, [x, y] + index, [x.type()])

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]

    def perform(self, node, inputs):
        x, y = inputs[:2]
        out = np.array(x)
        idx = AdvancedSubtensor(self.idx_list).index_tuple(inputs[2:])
        if self.set_instead_of_inc:
            out[idx] = y
        else:
            np.add.at(out, idx, y)
        return [out]

    def pp(self, node, args, v):
        it = iter(args[2:])
        inner = ", ".join(_pp_entry(e, it) if e[0] == "slice" else next(it) for e in self.idx_list)
        fn = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        return f"{fn}({args[0]}[{inner}], {args[1]})"


# --------------------------------------------------------------------------- __getitem__
def _expand(args, ndim):
    """Normalize an index tuple: expand Ellipsis; returns (entries, newaxis positions in output)."""
    if not isinstance(args, tuple):
        args = (args,)
    n_ell = sum(1 for a in args if a is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")

    def used(a):
        if a is None:
            return 0
        if isinstance(a, Variable) and a.dtype == "bool":
            return max(1, a.ndim)
        if isinstance(a, np.ndarray) and a.dtype == bool:
            return max(1, a.ndim)
        return 1
    if n_ell:
        k = args.index(Ellipsis)
        fill = ndim - sum(used(a) for a in args if a is not Ellipsis)
        args = args[:k] + (slice(None),) * max(0, fill) + args[k + 1:]
    return list(args)


def _to_var(a):
    if isinstance(a, Variable):
        return a
    arr = np.asarray(a)
    if arr.dtype == object:
        raise TypeError(f"cannot index with {a!r}")
    if arr.dtype.kind in "iu":
        arr = arr.astype("int64")
    elif arr.dtype != bool:
        raise IndexError(f"arrays used as indices must be of integer (or boolean) type, got {arr.dtype}")
    return constant(arr)


def getitem(x, args):
    x = as_tensor_variable(x)
    entries = _expand(args, x.ndim)
    adv = any((isinstance(a, Variable) and a.ndim > 0) or isinstance(a, (list, np.ndarray))
              or (isinstance(a, Variable) and a.dtype == "bool") for a in entries)
    newaxes = [k for k, a in enumerate(entries) if a is None]
    plain = [a for a in entries if a is not None]
    if adv:
        if newaxes:
            raise NotImplementedError("newaxis (None) mixed with advanced indexing")
        return _advanced(x, plain)
    if sum(1 for a in plain) > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-d tensor: {len(plain)} given")
    idx_list, inputs = [], []
    for a in plain:
        if isinstance(a, slice):
            idx_list.append(_slice_entry(a, inputs))
        else:
            if isinstance(a, (bool, np.bool_)):
                raise TypeError("boolean scalar indices are not supported")
            v = _scalar_index(a)
            inputs.append(v)
            idx_list.append(("int", v.dtype))
    # trailing full slices are implicit (Theano drops them)
    while idx_list and idx_list[-1] == ("slice", None, None, None):
        idx_list.pop()
    out = Subtensor(idx_list)(x, *inputs) if idx_list else x
    if newaxes:
        # positions in the output: each None adds a broadcastable dim where it stands
        kept = []
        pos = 0
        for a in entries:
            if a is None:
                kept.append("x")
            elif isinstance(a, slice):
                kept.append(pos)
                pos += 1
        kept += list(range(pos, out.ndim))
        out = dimshuffle(out, kept)
    return out


def _slice_entry(a, inputs):
    """The idx_list entry ``("slice", start, stop, step)`` of slice ``a``: each given bound
    becomes a scalar index input (appended to ``inputs``) and stands as its dtype."""
    parts = []
    for p in (a.start, a.stop, a.step):
        if p is None:
            parts.append(None)
        else:
            v = _scalar_index(p)
            inputs.append(v)
            parts.append(v.dtype)
    return ("slice", *parts)


def _advanced(x, entries):
    idx_list, inputs = [], []
    d = 0
    for a in entries:
        if isinstance(a, slice):
            idx_list.append(_slice_entry(a, inputs))
            d += 1
        else:
            v = _to_var(a)
            if v.dtype == "bool":
                if v.ndim == 0:
                    raise TypeError("boolean scalar indices are not supported")
                idx_list.append(("array", "bool", v.ndim))
                d += v.ndim
            elif v.dtype[0] in "iu":
                idx_list.append(("array", v.dtype, v.ndim))
                d += 1
            else:
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, got {v.type}")
            inputs.append(v)
    if d > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-d tensor")
    return AdvancedSubtensor(idx_list)(x, *inputs)


def subtensor_index(x, i):
    """``x[i]`` for an int i (used for shape vectors)."""
    return getitem(x, i)


# --------------------------------------------------------------------------- set / inc
def _inc(x_sub, y, set_instead_of_inc, what):
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{what}: the first argument must be an indexed tensor such as x[1:] or "
                        f"x[ivec], got {x_sub}")
    op = node.op
    x, index = node.inputs[0], node.inputs[1:]
    if isinstance(op, Subtensor):
        return IncSubtensor(op.idx_list, set_instead_of_inc)(x, y, *index)
    return AdvancedIncSubtensor(op.idx_list, set_instead_of_inc)(x, y, *index)


def set_subtensor(x, y):
    """A copy of the tensor indexed by ``x`` (e.g. ``a[1:]``) with that part set to ``y``."""
    return _inc(x, y, True, "set_subtensor")


def inc_subtensor(x, y):
    """A copy of the tensor indexed by ``x`` with ``y`` added to that part (repeated advanced
    indices accumulate)."""
    return _inc(x, y, False, "inc_subtensor")


def take(a, indices, axis=None):
    """numpy.take (mode='raise')."""
    a = as_tensor_variable(a)
    if axis is None:
        from .reshape import flatten
        a = flatten(a, 1)
        axis = 0
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} is out of range for a {a.ndim}-d tensor")
    axis %= a.ndim
    idx = (slice(None),) * axis
    if _is_int(indices) or (isinstance(indices, Variable) and indices.ndim == 0):
        return getitem(a, idx + (indices,))
    return _advanced(a, list(idx) + [indices])
