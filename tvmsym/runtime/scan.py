"""Running a loop: ``Scan`` and ``ScanGrad`` (``symbolic/ops/scan.py``) on the host.

``host_loop`` / ``host_grad_loop`` call the compiled body (``runtime/inner.py``) once per
step from Python, writing each step's results into the stacked outputs: the general path,
kept for what the compiled loop (``scan_loop.py``) cannot run.
"""
from __future__ import annotations

import sys
import weakref

import numpy as np

from ..config import config
from .scan_loop import _BIG, body_build, program


def seq_windows(op, n, seqs, backwards):
    """Sequences as read (reversed when going backwards), checked against n steps."""
    out = []
    for k, (s, taps) in enumerate(zip(seqs, op.seq_taps)):
        s = np.asarray(s)
        if backwards:
            s = s[::-1]
        lo, hi = min(0, min(taps)), max(0, max(taps))
        need = n + hi - lo
        if s.shape[0] < need:
            raise ValueError(
                f"{op}: sequence {k} has {s.shape[0]} entries, but {n} steps with taps "
                f"{list(taps)} need {need}")
        out.append((s, lo))
    return out


def state_buffers(op, n, inits, node=None):
    """Per recurrent output (its buffer: the initial taps then n steps, its tap count);
    ``node``: the buffers come from that node's pool (``_buffer``)."""
    bufs = []
    for j, init in zip(op.recurrent, inits):
        taps = op.out_taps[j]
        L0 = -min(taps)
        init = np.asarray(init)
        if op._one_step_init(j):
            init = init[None]
        if init.shape[0] < L0:
            raise ValueError(f"{op}: the initial value of output {j} has {init.shape[0]} "
                             f"entries along its first axis, but its taps {list(taps)} "
                             f"need {L0}")
        shape = (L0 + n,) + init.shape[1:]
        dt = np.dtype(op.state_types[j].dtype)
        buf = np.empty(shape, dt) if node is None else _buffer(node, ("state", j), shape, dt)
        buf[:L0] = init[:L0]
        bufs.append((buf, L0))
    return bufs


def step_args(op, t, wins, bufs, shared_cur, nonseqs):
    args = []
    for (s, lo), taps in zip(wins, op.seq_taps):
        args += [s[t + k - lo, ...] for k in taps]      # arrays, 0-d ones too
    for (buf, L0), j in zip(bufs, op.recurrent):
        args += [buf[L0 + t + k, ...] for k in op.out_taps[j]]
    return args + list(shared_cur) + list(nonseqs)


def host_loop(node, inputs, inner):
    op = node.op
    n_steps, seqs, inits, shared, nonseqs = op.split_inputs(inputs)
    n, backwards = op._steps(n_steps)
    wins = seq_windows(op, n, seqs, backwards)
    bufs = state_buffers(op, n, inits)
    rec = {j: b for j, b in zip(op.recurrent, bufs)}
    shared_cur = [np.asarray(s) for s in shared]
    plain = {}          # non-recurrent outputs, allocated at the first step
    fn = inner.function("body") if n else None
    for t in range(n):
        res = fn(*step_args(op, t, wins, bufs, shared_cur, nonseqs))
        res = res if isinstance(res, list) else [res]
        for j in range(op.n_outs):
            r = res[j]
            if j in rec:
                buf, L0 = rec[j]
                if r.shape != buf.shape[1:]:
                    raise ValueError(
                        f"{op}: output {j} has shape {r.shape} at step {t}, but its "
                        f"initial value (outputs_info) gives steps of shape "
                        f"{buf.shape[1:]}")
                buf[L0 + t] = r
            else:
                if t == 0:
                    plain[j] = np.empty((n,) + r.shape, dtype=op.state_types[j].dtype)
                elif r.shape != plain[j].shape[1:]:
                    raise ValueError(f"{op}: output {j} has shape {r.shape} at step {t} "
                                     f"but {plain[j].shape[1:]} at step 0")
                plain[j][t] = r
        shared_cur = [np.array(r) for r in res[op.n_outs:]]
    outs = []
    step_shapes = None
    for j in range(op.n_outs):
        if j in rec:
            buf, L0 = rec[j]
            outs.append(buf[L0:])
        elif j in plain:
            outs.append(plain[j])
        else:                   # no step ran: the shape of a step from the body's shapes
            if step_shapes is None:
                step_shapes = op._body_shapes([np.shape(v) for v in inputs],
                                                [np.asarray(v) for v in inputs], inner)
            sh = step_shapes[j]
            if sh is None:
                raise ValueError(f"{op}: cannot tell the shape of output {j} when no "
                                 "step runs")
            outs.append(np.empty((0,) + tuple(sh), dtype=op.state_types[j].dtype))
    return outs + shared_cur



def host_grad_loop(node, inputs, inner):
    op = node.op.scan_op
    wrt = node.op.wrt
    no = op.n_outs
    n_in = len(inputs) - 2 * no
    scan_in, ys, gys = inputs[:n_in], inputs[n_in:n_in + no], inputs[n_in + no:]
    n_steps, seqs, inits, shared, nonseqs = op.split_inputs(list(scan_in))
    n, backwards = op._steps(n_steps)
    wins = seq_windows(op, n, seqs, backwards)
    bufs = state_buffers(op, 0, inits)
    rec = dict(zip(op.recurrent, range(len(bufs))))
    # state buffers: the initial entries then the forward outputs
    full = []
    for (b, L0), j in zip(bufs, op.recurrent):
        full.append((np.concatenate([b[:L0], np.asarray(ys[j])], axis=0), L0))
    gbufs = []
    for (b, L0), j in zip(full, op.recurrent):
        g = np.zeros(b.shape, dtype=b.dtype)
        _grad_stack_into(node.op, j, g, L0, gys[j])
        gbufs.append(g)
    gseq = [np.zeros(s.shape, dtype=s.dtype) for s, _ in wins]
    gns = [np.zeros(np.shape(v), dtype=np.asarray(v).dtype) for v in nonseqs]
    fn, index = inner.function("vjp"), op.vjp_index()
    where = {k: p for p, k in enumerate(index)}     # inner input -> vjp output position
    lo_t = 0 if op.truncate_gradient < 0 else max(0, n - op.truncate_gradient)
    for t in range(n - 1, lo_t - 1, -1):
        args = step_args(op, t, wins, full, [np.asarray(s) for s in shared], nonseqs)
        g_out, y_out = [], []
        for j in range(no):
            if j in rec:
                g_out.append(gbufs[rec[j]][full[rec[j]][1] + t, ...])
                y_out.append(full[rec[j]][0][full[rec[j]][1] + t, ...])
            else:       # a saved value has no gradient (one zero row)
                g_out.append(np.asarray(gys[j])[0 if j >= no - op.n_saved else t, ...])
                y_out.append(np.asarray(ys[j])[t, ...])
        res = fn(*args, *g_out, *y_out)
        res = res if isinstance(res, list) else [res]
        k = 0
        for q, ((s, lo), taps) in enumerate(zip(wins, op.seq_taps)):
            for tap in taps:
                if k in where:
                    gseq[q][t + tap - lo] += res[where[k]]
                k += 1
        for r, j in enumerate(op.recurrent):
            L0 = full[r][1]
            for tap in op.out_taps[j]:
                if k in where:
                    gbufs[r][L0 + t + tap] += res[where[k]]
                k += 1
        k += len(shared)
        for q in range(len(nonseqs)):
            if k in where:
                gns[q] += res[where[k]]
            k += 1
    return _grad_results(node, op, wrt, gseq, gbufs, full, inits, shared, gns, backwards,
                         n, seqs)


def _state_with_init(y, b0, L0):
    """The forward loop's own state buffer when the stacked output ``y`` is its rows ``L0:``
    and its first ``L0`` rows hold these initial values (bit for bit): the reverse loop
    only reads it, so it needs no copy of the whole stack (W10: 1.6 MB per call); else None."""
    f = y.base
    if not isinstance(f, np.ndarray) or f.dtype != y.dtype or not f.flags.c_contiguous or \
            not y.flags.c_contiguous or \
            f.shape != (L0 + len(y),) + y.shape[1:] or len(y) == 0 or \
            y.__array_interface__["data"][0] != f[L0:].__array_interface__["data"][0]:
        return None
    init = np.ascontiguousarray(b0[:L0], dtype=f.dtype)
    if init.shape != f[:L0].shape or \
            init.reshape(-1).view(np.uint8).tobytes() != f[:L0].reshape(-1).view(np.uint8).tobytes():
        return None
    return f


def _grad_stack_into(gop, j, g, L0, gy):
    """Rows ``L0:`` of ``g`` = the gradient of output j's stack: ``gy`` itself, or (``ScanGrad.
    gy_rows``) zeros with ``gy`` added to row k, as ``inc_subtensor(zeros[k], gy)`` gives, or
    zeros (``"zeros"``)."""
    k = gop.gy_row(j)
    if k is None:
        g[L0:] = gy
        return
    if k == "zeros":            # a stack of zeros (scan_grad_rows): not built, not copied
        g[L0:] = 0
        return
    n = g.shape[0] - L0
    if not -n <= k < n:
        raise IndexError(f"index {k} is out of bounds for axis 0 with size {n}")
    g[L0:] = 0
    g[L0 + k % n] += gy


# --------------------------------------------------------------------------- compiled loops
stats = {"compiled": 0, "host": 0, "why": None}     # which loop ran (tests, profiles)
_POOLS = weakref.WeakKeyDictionary()     # node -> {role: array}: a call's buffers, reused


def _buffer(node, role, shape, dtype, zero=False):
    """An array for ``role`` of ``node``'s call: last call's when nothing else holds it any
    more (no view of it, no reader downstream: its reference count), else a fresh one.  A
    fresh multi-megabyte array costs a page fault per 4 KB written (the LSTM's stacked
    gradients and saved gates: ~1 ms per call); a reused one is in memory already."""
    try:
        pool = _POOLS.setdefault(node, {})
    except TypeError:       # (a node that cannot be weakly referenced: no pool)
        pool = {}
    shape = tuple(int(d) for d in shape)
    arr = pool.get(role)
    if arr is None or arr.shape != shape or arr.dtype != dtype or sys.getrefcount(arr) > 3:
        arr = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        pool[role] = arr
    elif zero:
        arr.fill(0)
    return arr


def _contig(a):
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _rows(table, base, step, mod=_BIG):
    table += [base, step, mod]
    return len(table) // 3 - 1


def _hoist(op, inner, name, nonseqs, shapes, dtypes, places, arrays):
    """The inner function to run per step for graph ``name``: its ``#main`` part when the
    graph has values that do not change from step to step (``Scan.hoisted``), computed
    here once (one call) and appended as whole-array inputs; else ``name`` itself."""
    if op.hoisted(name) is None:
        return inner.function(name)
    vals = inner.function(name + "#pre")(*nonseqs)
    for q, a in enumerate(vals if isinstance(vals, list) else [vals]):
        a = _contig(a)
        shapes.append(a.shape)
        dtypes.append(a.dtype)
        places.append((("inv", q), None))
        arrays[("inv", q)] = a.reshape(-1) if a.size else None
    return inner.function(name + "#main")


def compiled_loop(node, inputs, inner):
    """The ``Scan`` node's outputs computed by one compiled loop (``scan_loop.py``), or a
    string saying why it cannot run (the host loop then runs it)."""
    op = node.op
    n_steps, seqs, inits, shared, nonseqs = op.split_inputs(inputs)
    n, backwards = op._steps(n_steps)
    if n == 0:
        return "no step runs"
    seqs = [_contig(x) for x in seqs]
    seq_windows(op, n, seqs, backwards)          # the lengths checked (raises)
    bufs = state_buffers(op, n, inits, node)
    shared = [_contig(x) for x in shared]
    nonseqs = [_contig(x) for x in nonseqs]
    every = seqs + [b for b, _ in bufs] + shared + nonseqs
    if any(a.size == 0 for a in every):
        return "an empty input"
    shapes, dtypes, places, table = [], [], [], []
    for q, (s, taps) in enumerate(zip(seqs, op.seq_taps)):
        lo = min(0, min(taps))
        for k in taps:
            shapes.append(s.shape[1:])
            dtypes.append(s.dtype)
            if backwards:
                places.append((("seq", q), _rows(table, s.shape[0] - 1 - (k - lo), -1)))
            else:
                places.append((("seq", q), _rows(table, k - lo, 1)))
    for r, ((buf, L0), j) in enumerate(zip(bufs, op.recurrent)):
        for k in op.out_taps[j]:
            shapes.append(buf.shape[1:])
            dtypes.append(buf.dtype)
            places.append((("state", r), _rows(table, L0 + k, 1)))
    for q, a in enumerate(shared):
        shapes.append(a.shape)
        dtypes.append(a.dtype)
        places.append((("shared", q), _rows(table, 0, 1, 2)))
    for q, a in enumerate(nonseqs):
        shapes.append(a.shape)
        dtypes.append(a.dtype)
        places.append((("ns", q), None))
    body_in = [v.type.dtype for v in op.inner_inputs]
    if [str(d) for d in dtypes] != body_in:
        return "an input's dtype differs from the body's"
    arrays = {}
    fn = _hoist(op, inner, "body", nonseqs, shapes, dtypes, places, arrays)
    if any(a is None for a in arrays.values()):
        return "an empty input"
    b = body_build(fn, shapes)
    if isinstance(b, str):
        return b
    fg = b.plan.fgraph
    out_shapes = [b.shapes.get(o) for o in fg.outputs]
    out_places = []
    rec = dict(zip(op.recurrent, range(len(bufs))))
    plain = {}
    for j in range(op.n_outs):
        sh, dt = out_shapes[j], fg.outputs[j].type.dtype
        if sh is None or dt != op.state_types[j].dtype:
            return f"output {j}'s shape or dtype is not known"
        if j in rec:
            buf, L0 = bufs[rec[j]]
            if tuple(sh) != buf.shape[1:]:
                return f"output {j}'s shape differs from its state"     # host loop raises
            out_places.append((("state", rec[j]), _rows(table, L0, 1)))
        else:
            plain[j] = _buffer(node, ("plain", j), (n,) + tuple(sh), np.dtype(dt))
            if plain[j].size == 0:
                return "an empty output"
            arrays[("plain", j)] = plain[j].reshape(-1)
            out_places.append((("plain", j), _rows(table, 0, 1)))
    pairs = []
    for q, a in enumerate(shared):
        sh = out_shapes[op.n_outs + q]
        if sh is None or tuple(sh) != a.shape:
            return "a shared variable's update changes its shape"
        pair = np.empty((2,) + a.shape, dtype=a.dtype)
        pair[0] = a
        pairs.append(pair)
        arrays[("shared", q)] = pair.reshape(-1)
        out_places.append((("shared", q), _rows(table, 1, 1, 2)))
    prog = program(b, [(k, v) for k, v in places], out_places)
    if isinstance(prog, str):
        return prog
    for q, s in enumerate(seqs):
        arrays[("seq", q)] = s.reshape(-1)
    for r, (buf, _) in enumerate(bufs):
        arrays[("state", r)] = buf.reshape(-1)
    for q, a in enumerate(nonseqs):
        arrays[("ns", q)] = a.reshape(-1)
    prog.run(arrays, np.array(table, dtype=np.int64), n)
    outs = []
    for j in range(op.n_outs):
        if j in rec:
            buf, L0 = bufs[rec[j]]
            outs.append(buf[L0:])
        else:
            outs.append(plain[j])
    return outs + [p[n % 2].copy() for p in pairs]


def compiled_grad_loop(node, inputs, inner):
    """The ``ScanGrad`` node's outputs by one compiled reverse loop over the body's
    vector-Jacobian product summing into accumulators (``"vjp_acc"``), or why not."""
    op = node.op.scan_op
    wrt = node.op.wrt
    no = op.n_outs
    n_in = len(inputs) - 2 * no
    scan_in, ys, gys = inputs[:n_in], inputs[n_in:n_in + no], inputs[n_in + no:]
    n_steps, seqs, inits, shared, nonseqs = op.split_inputs(list(scan_in))
    n, backwards = op._steps(n_steps)
    if n == 0 or shared:
        return "no step runs" if n == 0 else "shared-variable updates"
    seqs = [_contig(x) for x in seqs]
    seq_windows(op, n, seqs, backwards)
    bufs = state_buffers(op, 0, inits)
    rec = dict(zip(op.recurrent, range(len(bufs))))
    full = []
    for (b0, L0), j in zip(bufs, op.recurrent):
        y = np.asarray(ys[j])
        f = _state_with_init(y, b0, L0)
        if f is None:
            f = _buffer(node, ("full", j), (L0 + len(y),) + y.shape[1:], y.dtype)
            f[:L0] = b0[:L0]
            f[L0:] = y
        full.append((f, L0))
    gbufs = []
    for (f, L0), j in zip(full, op.recurrent):
        g = _buffer(node, ("gbuf", j), f.shape, f.dtype)
        g[:L0] = 0
        _grad_stack_into(node.op, j, g, L0, gys[j])
        gbufs.append(g)
    needed_seq = _needed_inputs(node)
    gseq = [_buffer(node, ("gseq", q), s.shape, s.dtype, zero=True) if 1 + q in needed_seq
            else np.zeros(s.shape, dtype=s.dtype) for q, s in enumerate(seqs)]
    nonseqs = [_contig(x) for x in nonseqs]
    gns = [np.zeros(a.shape, dtype=a.dtype) for a in nonseqs]
    gys = [_contig(g) for g in gys]
    every = seqs + [f for f, _ in full] + nonseqs + gys
    if any(a.size == 0 for a in every):
        return "an empty input"
    lo_t = 0 if op.truncate_gradient < 0 else max(0, n - op.truncate_gradient)
    count = n - lo_t
    if count <= 0:
        return "no step runs"
    index = op.vjp_index()
    # the gradients nobody reads (a sequence's when only the weights are trained) are not
    # computed: the states' always are (the recurrence carries them)
    needed = _needed_inputs(node)
    ns, nr = op.n_seqs, len(op.recurrent)
    outer_of = []           # inner input position -> outer input position (None: a state)
    for q, taps in enumerate(op.seq_taps):
        outer_of += [1 + q] * len(taps)
    for j in op.recurrent:
        outer_of += [None] * len(op.out_taps[j])
    outer_of += [1 + ns + nr + q for q in range(len(nonseqs))]
    keep = tuple(p for p, k in enumerate(index) if outer_of[k] is None or outer_of[k] in needed)
    where = {index[p]: i for i, p in enumerate(keep)}
    # iteration i runs step t = n - 1 - i
    shapes, dtypes, places, table = [], [], [], []
    acc = {}            # vjp output position -> place
    k = 0
    for q, (s, taps) in enumerate(zip(seqs, op.seq_taps)):
        lo = min(0, min(taps))
        for tap in taps:
            shapes.append(s.shape[1:])
            dtypes.append(s.dtype)
            if backwards:   # window row t + tap - lo is the array's row len - 1 - that
                places.append((("seq", q), _rows(table, s.shape[0] - n - tap + lo, 1)))
            else:
                places.append((("seq", q), _rows(table, n - 1 + tap - lo, -1)))
            if k in where:
                acc[where[k]] = (("gseq", q), _rows(table, n - 1 + tap - lo, -1))
            k += 1
    for r, ((f, L0), j) in enumerate(zip(full, op.recurrent)):
        for tap in op.out_taps[j]:
            shapes.append(f.shape[1:])
            dtypes.append(f.dtype)
            places.append((("full", r), _rows(table, L0 + n - 1 + tap, -1)))
            if k in where:
                acc[where[k]] = (("gbuf", r), _rows(table, L0 + n - 1 + tap, -1))
            k += 1
    for q, a in enumerate(nonseqs):
        shapes.append(a.shape)
        dtypes.append(a.dtype)
        places.append((("ns", q), None))
        if k in where:
            acc[where[k]] = (("gns", q), None)
        k += 1
    for j in range(no):
        if j in rec:
            f, L0 = full[rec[j]]
            shapes.append(f.shape[1:])
            dtypes.append(f.dtype)
            places.append((("gbuf", rec[j]), _rows(table, L0 + n - 1, -1)))
        else:
            g = gys[j]
            shapes.append(g.shape[1:])
            dtypes.append(g.dtype)
            saved = j >= no - op.n_saved        # a saved value: no gradient (one zero row)
            places.append((("gy", j), _rows(table, 0, 0) if saved else _rows(table, n - 1, -1)))
    ys = [_contig(y) for y in ys]
    for j in range(no):         # the step's outputs, as the forward loop computed them
        if j in rec:
            f, L0 = full[rec[j]]
            shapes.append(f.shape[1:])
            dtypes.append(f.dtype)
            places.append((("full", rec[j]), _rows(table, L0 + n - 1, -1)))
        else:
            shapes.append(ys[j].shape[1:])
            dtypes.append(ys[j].dtype)
            places.append((("ys", j), _rows(table, n - 1, -1)))
    acc_arrays = {("gseq", q): g for q, g in enumerate(gseq)}
    acc_arrays.update({("gbuf", r): g for r, g in enumerate(gbufs)})
    acc_arrays.update({("gns", q): g for q, g in enumerate(gns)})
    for p in range(len(keep)):
        key, vid = acc[p]
        a = acc_arrays[key]
        shapes.append(a.shape[1:] if vid is not None else a.shape)
        dtypes.append(a.dtype)
        places.append(acc[p])
    name = "vjp_acc" if len(keep) == len(index) else "vjp_acc/" + ",".join(map(str, keep))
    want = [v.type.dtype for v in op.inner_graph(name).inputs]
    if [str(d) for d in dtypes] != want:
        return "an input's dtype differs from the gradient body's"
    arrays = {}
    fn = _hoist(op, inner, name, nonseqs, shapes, dtypes, places, arrays)
    if any(a is None for a in arrays.values()):
        return "an empty input"
    b = body_build(fn, shapes)
    if isinstance(b, str):
        return b
    prog = program(b, places, [acc[p] for p in range(len(keep))])
    if isinstance(prog, str):
        return prog
    arrays.update({("seq", q): s.reshape(-1) for q, s in enumerate(seqs)})
    arrays.update({("full", r): f.reshape(-1) for r, (f, _) in enumerate(full)})
    arrays.update({("ns", q): a.reshape(-1) for q, a in enumerate(nonseqs)})
    arrays.update({("gy", j): g.reshape(-1) for j, g in enumerate(gys)})
    arrays.update({("ys", j): y.reshape(-1) for j, y in enumerate(ys) if j not in rec})
    arrays.update({key: a.reshape(-1) for key, a in acc_arrays.items()})
    prog.run(arrays, np.array(table, dtype=np.int64), count)
    return _grad_results(node, op, wrt, gseq, gbufs, full, inits, shared, gns, backwards,
                         n, seqs)


def _needed_inputs(node):
    """Outer input positions of the scan whose gradient some node (or the function's
    outputs) reads; all of them when the node is not in a function's graph."""
    wrt = node.op.wrt
    # a sequence's gradient rows read as a stack (ScanGrad.stacks) are needed too
    stacked = {1 + q for kind, q in getattr(node.op, "stacks", ()) if kind == "gseq"}
    try:
        return {k for o, k in zip(node.outputs, wrt) if o.clients} | stacked
    except AttributeError:
        return set(wrt)


def _stacks(node, gseq, full, n, seqs):
    """The ``ScanGrad``'s stacked operands (``ScanGrad.stacks``) as 2-d views: rows = steps
    (x batch), columns = one step's last axis."""
    out = []
    for kind, k in node.op.stacks:
        if kind == "prev":          # state r before each step (its tap -1)
            f, L0 = full[k]
            a = f[L0 - 1:L0 - 1 + n]
        elif kind == "seq":
            a = np.ascontiguousarray(np.asarray(seqs[k])[:n])
        else:                       # "gseq": the gradient of sequence k's rows
            a = gseq[k][:n]
        out.append(a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a)
    return out


def _grad_results(node, op, wrt, gseq, gbufs, full, inits, shared, gns, backwards, n, seqs):
    stacks = _stacks(node, gseq, full, n, seqs) if getattr(node.op, "stacks", ()) else []
    if backwards:
        gseq = [g[::-1] for g in gseq]
    ginit = []
    for r, j in enumerate(op.recurrent):
        L0 = full[r][1]
        init = np.asarray(inits[r])
        if op._one_step_init(j):
            ginit.append(gbufs[r][0].reshape(init.shape))
        else:
            g = np.zeros(init.shape, dtype=gbufs[r].dtype)
            g[:L0] = gbufs[r][:L0]
            ginit.append(g)
    allg = ([None] + gseq + ginit + [np.zeros(np.shape(s), np.asarray(s).dtype)
                                     for s in shared] + gns)
    return [np.asarray(allg[k], dtype=node.outputs[i].type.dtype)
            for i, k in enumerate(wrt)] + stacks


def _run(compiled, host, node, inputs, inner):
    if not config.scan_compiled_loop:
        res = "turned off (config.scan_compiled_loop)"
    else:
        res = compiled(node, inputs, inner)
    if isinstance(res, str):
        stats["host"] += 1
        stats["why"] = res
        return host(node, inputs, inner)
    stats["compiled"] += 1
    return res


def run_scan(node, inputs, inner):
    """A ``Scan`` node's outputs for ``inputs`` (the executor's host step): the compiled
    loop when it can run, else the host loop."""
    return _run(compiled_loop, host_loop, node, inputs, inner)


def run_scan_grad(node, inputs, inner):
    """A ``ScanGrad`` node's outputs for ``inputs``."""
    return _run(compiled_grad_loop, host_grad_loop, node, inputs, inner)
