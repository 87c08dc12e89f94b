"""``Scan``: Theano's loop op (``theano.scan``), and ``ScanGrad``, its reverse pass.

A ``Scan`` node holds the loop body as its own graph (the user's ``fn`` applied to
placeholder variables of the per-step types).  It has no lowering rule: it is a host
step: it holds the body as an inner graph (``symbolic/inner.py``); the runtime compiles
it once (``runtime/inner.py``, so the body runs as TVM kernels) and the op loops in
Python over the compiled body, writing each step's results into the stacked outputs.

Outer inputs:  ``n_steps``, the sequences, the initial values of the recurrent
outputs (one per output with taps), the shared variables fn updates, then the
non-sequences (the explicit ones, then the free variables the body reads).
Outer outputs: one stacked array per output of fn (the steps along a new first
axis), then the final value of each shared variable fn updates.
Body inputs:   per sequence one value per tap, per recurrent output one value per
tap, per updated shared variable its current value, then the non-sequences.

Semantics (Theano's): a sequence with taps ``ks`` gives ``seq[t + k - min(0, min(ks))]``
at step ``t``; a recurrent output with taps ``ks`` (all negative) gives its value at
step ``t + k``, the first ``-min(ks)`` values coming from the initial value (which has
one more leading axis than a step, except for the plain tap ``[-1]``).
With ``go_backwards`` the sequences are read from their end; a negative ``n_steps``
runs ``-n_steps`` steps in the other direction (Theano's rule).
"""
from __future__ import annotations

import numpy as np

from ..graph import Apply
from ..inner import InnerGraph, InnerGraphOp
from ..type import TensorType


def _step_type(t):
    """The type of one entry of a stacked value of type ``t``."""
    return TensorType(t.dtype, t.broadcastable[1:])


def _stacked_type(t):
    return TensorType(t.dtype, (False,) + tuple(t.broadcastable))


class Scan(InnerGraphOp):
    """A loop; see the module docstring for the layout of inputs and outputs."""

    host_only = "loops in Python over the compiled body"


    def __init__(self, inner_inputs, inner_outputs, seq_taps, out_taps, n_shared, n_nonseq,
                 state_types, go_backwards=False, truncate_gradient=-1, name=None, mode=None):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.seq_taps = tuple(tuple(t) for t in seq_taps)
        self.out_taps = tuple(tuple(t) for t in out_taps)      # () for no recurrence
        self.n_shared = int(n_shared)
        self.n_nonseq = int(n_nonseq)
        self.state_types = list(state_types)     # per output: the type of one step
        self.go_backwards = bool(go_backwards)
        self.truncate_gradient = int(truncate_gradient)
        self.name = name or "scan_fn"
        self.mode = mode            # the body's compilation mode (None: the default)
        self._vjp = None            # (InnerGraph, index) of the body's vector-Jacobian product

    # identity: two scans are never merged or compared by value
    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __str__(self):
        return f"for{{cpu,{self.name}}}"

    __repr__ = __str__

    def __getstate__(self):
        return dict(self.__dict__, _vjp=None)

    # ------------------------------------------------------------------ layout
    @property
    def n_seqs(self):
        return len(self.seq_taps)

    @property
    def n_outs(self):
        return len(self.out_taps)

    @property
    def recurrent(self):
        return [j for j, t in enumerate(self.out_taps) if t]

    def split_inputs(self, inputs):
        """(n_steps, seqs, inits, shared, nonseqs) of the outer inputs."""
        ns, nr, nsh = self.n_seqs, len(self.recurrent), self.n_shared
        return (inputs[0], list(inputs[1:1 + ns]), list(inputs[1 + ns:1 + ns + nr]),
                list(inputs[1 + ns + nr:1 + ns + nr + nsh]), list(inputs[1 + ns + nr + nsh:]))

    def _one_step_init(self, j):
        """The initial value of output j is one step (the plain tap [-1])."""
        return self.out_taps[j] == (-1,)

    def make_node(self, n_steps, *inputs):
        from ..basic import as_tensor_variable
        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or n_steps.dtype[0] not in "iu":
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps} of type "
                            f"{n_steps.type}")
        outs = [_stacked_type(t)() for t in self.state_types]
        _, _, _, shared, _ = self.split_inputs([n_steps] + list(inputs))
        outs += [s.type() for s in shared]
        return Apply(self, [n_steps] + list(inputs), outs)

    # ------------------------------------------------------------------ inner graphs
    def inner_graph(self, name):
        """``"body"``: inner inputs -> inner outputs; ``"vjp"``: the body's vector-Jacobian
        product (inner inputs, one output gradient per output of fn) -> a gradient per
        continuous inner input (``vjp_index()`` gives their positions)."""
        if name == "body":
            return InnerGraph(self.inner_inputs, self.inner_outputs, f"{self.name} (scan body)",
                              mode=self.mode, n_outputs=self.n_outs)
        if name == "vjp":
            return self._vjp_graph()[0]
        return super().inner_graph(name)

    def vjp_index(self):
        """Positions of the inner inputs the ``"vjp"`` graph gives gradients of."""
        return self._vjp_graph()[1]

    def _vjp_graph(self):
        if self._vjp is None:
            from ...config import change_flags
            with change_flags(compute_test_value="off"):
                self._vjp = self._make_vjp()
        return self._vjp

    def _make_vjp(self):
        from ..grad import grad, is_continuous
        outs = self.inner_outputs[:self.n_outs]
        gys = [o.type() for o in outs]
        for g, o in zip(gys, outs):
            g.name = f"d({o.name or 'out'})"
        known = {}
        for o, g in zip(outs, gys):
            if is_continuous(o):
                known[o] = known[o] + g if o in known else g
        wrt = [v for v in self.inner_inputs if is_continuous(v)]
        if known and wrt:
            gs = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                      return_disconnected="zero")
        else:
            from ..grad import zeros_like
            gs = [zeros_like(w) for w in wrt]
        index = [k for k, v in enumerate(self.inner_inputs) if is_continuous(v)]
        return InnerGraph(list(self.inner_inputs) + gys, list(gs), f"grad_of_{self.name}",
                          mode=self.mode), index

    # ------------------------------------------------------------------ running
    def _steps(self, n_steps):
        """(number of steps, backwards?) of an n_steps value."""
        n = int(n_steps)
        return abs(n), self.go_backwards != (n < 0)

    def _seq_windows(self, n, seqs, backwards):
        """Sequences as read (reversed when going backwards), checked against n steps."""
        out = []
        for k, (s, taps) in enumerate(zip(seqs, self.seq_taps)):
            s = np.asarray(s)
            if backwards:
                s = s[::-1]
            lo, hi = min(0, min(taps)), max(0, max(taps))
            need = n + hi - lo
            if s.shape[0] < need:
                raise ValueError(
                    f"{self}: sequence {k} has {s.shape[0]} entries, but {n} steps with taps "
                    f"{list(taps)} need {need}")
            out.append((s, lo))
        return out

    def _state_buffers(self, n, inits):
        bufs = []
        for j, init in zip(self.recurrent, inits):
            taps = self.out_taps[j]
            L0 = -min(taps)
            init = np.asarray(init)
            if self._one_step_init(j):
                init = init[None]
            if init.shape[0] < L0:
                raise ValueError(f"{self}: the initial value of output {j} has {init.shape[0]} "
                                 f"entries along its first axis, but its taps {list(taps)} "
                                 f"need {L0}")
            buf = np.empty((L0 + n,) + init.shape[1:], dtype=self.state_types[j].dtype)
            buf[:L0] = init[:L0]
            bufs.append((buf, L0))
        return bufs

    def _step_args(self, t, wins, bufs, shared_cur, nonseqs):
        args = []
        for (s, lo), taps in zip(wins, self.seq_taps):
            args += [s[t + k - lo, ...] for k in taps]      # arrays, 0-d ones too
        for (buf, L0), j in zip(bufs, self.recurrent):
            args += [buf[L0 + t + k, ...] for k in self.out_taps[j]]
        return args + list(shared_cur) + list(nonseqs)

    def perform_inner(self, node, inputs, inner):
        n_steps, seqs, inits, shared, nonseqs = self.split_inputs(inputs)
        n, backwards = self._steps(n_steps)
        wins = self._seq_windows(n, seqs, backwards)
        bufs = self._state_buffers(n, inits)
        rec = {j: b for j, b in zip(self.recurrent, bufs)}
        shared_cur = [np.asarray(s) for s in shared]
        plain = {}          # non-recurrent outputs, allocated at the first step
        fn = inner.function("body") if n else None
        for t in range(n):
            res = fn(*self._step_args(t, wins, bufs, shared_cur, nonseqs))
            res = res if isinstance(res, list) else [res]
            for j in range(self.n_outs):
                r = res[j]
                if j in rec:
                    buf, L0 = rec[j]
                    if r.shape != buf.shape[1:]:
                        raise ValueError(
                            f"{self}: output {j} has shape {r.shape} at step {t}, but its "
                            f"initial value (outputs_info) gives steps of shape "
                            f"{buf.shape[1:]}")
                    buf[L0 + t] = r
                else:
                    if t == 0:
                        plain[j] = np.empty((n,) + r.shape, dtype=self.state_types[j].dtype)
                    elif r.shape != plain[j].shape[1:]:
                        raise ValueError(f"{self}: output {j} has shape {r.shape} at step {t} "
                                         f"but {plain[j].shape[1:]} at step 0")
                    plain[j][t] = r
            shared_cur = [np.array(r) for r in res[self.n_outs:]]
        outs = []
        step_shapes = None
        for j in range(self.n_outs):
            if j in rec:
                buf, L0 = rec[j]
                outs.append(buf[L0:])
            elif j in plain:
                outs.append(plain[j])
            else:                   # no step ran: the shape of a step from the body's shapes
                if step_shapes is None:
                    step_shapes = self._body_shapes([np.shape(v) for v in inputs],
                                                    [np.asarray(v) for v in inputs], inner)
                sh = step_shapes[j]
                if sh is None:
                    raise ValueError(f"{self}: cannot tell the shape of output {j} when no "
                                     "step runs")
                outs.append(np.empty((0,) + tuple(sh), dtype=self.state_types[j].dtype))
        return outs + shared_cur

    # ------------------------------------------------------------------ shapes
    def _inner_input_shapes(self, shapes):
        _, seqs, inits, shared, nonseqs = self.split_inputs(list(shapes))
        out = []
        for s, taps in zip(seqs, self.seq_taps):
            out += [tuple(s[1:])] * len(taps)
        for j, s in zip(self.recurrent, inits):
            step = tuple(s) if self._one_step_init(j) else tuple(s[1:])
            out += [step] * len(self.out_taps[j])
        return out + [tuple(s) for s in shared] + [tuple(s) for s in nonseqs]

    def _body_shapes(self, shapes, values, inner):
        """Shapes of one step of each output of fn (None where unknown)."""
        try:
            in_shapes = self._inner_input_shapes(shapes)
        except (ValueError, TypeError, IndexError):
            return [None] * self.n_outs
        nn = len(in_shapes) - self.n_nonseq     # only the non-sequences' values are known
        in_values = [None] * nn + list(values[len(values) - self.n_nonseq:])
        return inner.output_shapes("body", in_shapes, in_values)

    def infer_shape_inner(self, node, shapes, values, inner):
        n = values[0]
        _, _, inits, shared, _ = self.split_inputs(list(shapes))
        if n is None:
            return [None] * self.n_outs + [tuple(s) for s in shared]
        n = abs(int(n))
        step = None
        outs = []
        rec = dict(zip(self.recurrent, inits))
        for j in range(self.n_outs):
            if j in rec:
                s = rec[j]
                outs.append((n,) + (tuple(s) if self._one_step_init(j) else tuple(s[1:])))
            else:
                if step is None:
                    step = self._body_shapes(shapes, values, inner)
                outs.append(None if step[j] is None else (n,) + tuple(step[j]))
        return outs + [tuple(s) for s in shared]

    def infer_shape(self, node, shapes):
        _, _, _, shared, _ = self.split_inputs(list(shapes))
        return [None] * self.n_outs + [tuple(s) for s in shared]

    def shape_value_inputs(self, node):
        return [0]      # n_steps sizes the outputs

    def runtime_values_ok(self, node, positions):
        return True     # a host step: it reads n_steps when it runs


class ScanGrad(InnerGraphOp):
    """The gradient of a ``Scan`` node's inputs, computed by a reverse loop over the body's
    vector-Jacobian product (compiled once).

    Inputs: the scan's inputs, its stacked outputs (one per output of fn), the gradients
    of those outputs.  Outputs: the gradient of each scan input listed in ``wrt``.
    """

    host_only = "loops in Python over the compiled vector-Jacobian product"


    def __init__(self, scan_op, wrt):
        self.scan_op = scan_op
        self.wrt = tuple(wrt)       # positions among the scan's inputs

    def __eq__(self, other):
        return type(self) is type(other) and self.scan_op is other.scan_op and \
            self.wrt == other.wrt

    def __hash__(self):
        return hash((id(self.scan_op), self.wrt))

    def __str__(self):
        return f"for{{cpu,grad_of_{self.scan_op.name}}}"

    __repr__ = __str__

    def make_node(self, *inputs):
        n_in = len(inputs) - 2 * self.scan_op.n_outs
        outs = [inputs[k].type() for k in self.wrt]
        assert all(k < n_in for k in self.wrt)
        return Apply(self, list(inputs), outs)

    def infer_shape(self, node, shapes):
        return [tuple(shapes[k]) for k in self.wrt]

    def inner_graph(self, name):
        return self.scan_op.inner_graph(name)      # "vjp": compiled for this op

    def perform_inner(self, node, inputs, inner):
        op = self.scan_op
        no = op.n_outs
        n_in = len(inputs) - 2 * no
        scan_in, ys, gys = inputs[:n_in], inputs[n_in:n_in + no], inputs[n_in + no:]
        n_steps, seqs, inits, shared, nonseqs = op.split_inputs(list(scan_in))
        n, backwards = op._steps(n_steps)
        wins = op._seq_windows(n, seqs, backwards)
        bufs = op._state_buffers(0, inits)
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
            args = op._step_args(t, wins, full, [np.asarray(s) for s in shared], nonseqs)
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
                for i, k in enumerate(self.wrt)]
