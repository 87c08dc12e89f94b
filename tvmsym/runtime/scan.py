"""Running a loop: ``Scan`` and ``ScanGrad`` (``symbolic/ops/scan.py``) on the host.

``host_loop`` / ``host_grad_loop`` call the compiled body (``runtime/inner.py``) once per
step from Python, writing each step's results into the stacked outputs: the general path,
kept for what the compiled loop (``scan_loop.py``) cannot run.
"""
from __future__ import annotations

import numpy as np


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


def state_buffers(op, n, inits):
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
        buf = np.empty((L0 + n,) + init.shape[1:], dtype=op.state_types[j].dtype)
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
        g[L0:] = gys[j]
        gbufs.append(g)
    gseq = [np.zeros(s.shape, dtype=s.dtype) for s, _ in wins]
    gns = [np.zeros(np.shape(v), dtype=np.asarray(v).dtype) for v in nonseqs]
    fn, index = inner.function("vjp"), op.vjp_index()
    where = {k: p for p, k in enumerate(index)}     # inner input -> vjp output position
    lo_t = 0 if op.truncate_gradient < 0 else max(0, n - op.truncate_gradient)
    for t in range(n - 1, lo_t - 1, -1):
        args = step_args(op, t, wins, full, [np.asarray(s) for s in shared], nonseqs)
        g_out = []
        for j in range(no):
            if j in rec:
                g_out.append(gbufs[rec[j]][full[rec[j]][1] + t, ...])
            else:
                g_out.append(np.asarray(gys[j])[t, ...])
        res = fn(*args, *g_out)
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
            for i, k in enumerate(wrt)]


def run_scan(node, inputs, inner):
    """A ``Scan`` node's outputs for ``inputs`` (the executor's host step)."""
    return host_loop(node, inputs, inner)


def run_scan_grad(node, inputs, inner):
    """A ``ScanGrad`` node's outputs for ``inputs``."""
    return host_grad_loop(node, inputs, inner)
