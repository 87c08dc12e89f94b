"""``Scan``: Theano's loop op (``theano.scan``), and ``ScanGrad``, its reverse pass.

A ``Scan`` node holds the loop body as its own graph (the user's ``fn`` applied to
placeholder variables of the per-step types).  It has no lowering rule: it is a host
step that holds the body as an inner graph (``symbolic/inner.py``); the runtime compiles
and runs it (``runtime/scan.py``: the steps' kernels called by one compiled loop, or a
host loop over the compiled body where that cannot run).

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

    host_only = "runs its compiled body in a loop (runtime/scan.py)"
    # perform's results are new arrays or views of buffers the loop keeps, never an input's:
    # the executor takes them without a copy (runtime/executor.py _own_outputs)
    owns_outputs = True
    n_saved = 0         # (Scan objects pickled before the attribute existed)


    def __init__(self, inner_inputs, inner_outputs, seq_taps, out_taps, n_shared, n_nonseq,
                 state_types, go_backwards=False, truncate_gradient=-1, name=None, mode=None,
                 n_saved=0):
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
        self._vjp_acc = None        # the same, summing into accumulators ("vjp_acc")
        # the last n_saved outputs are values of the step the gradient reads instead of
        # computing them again (rewrites/scan_saved.py): no gradient flows in from them
        self.n_saved = int(n_saved)

    # identity: two scans are never merged or compared by value
    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __str__(self):
        return f"for{{cpu,{self.name}}}"

    __repr__ = __str__

    def __getstate__(self):
        return dict(self.__dict__, _vjp=None, _vjp_acc=None, _hoist={})

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
        product (inner inputs, one output gradient per output of fn, the step's outputs as
        the forward loop computed them) -> a gradient per
        continuous inner input (``vjp_index()`` gives their positions); ``"vjp_acc"``: the
        same with one accumulator input per gradient after the output gradients, each output
        being its accumulator plus the gradient (a reverse loop sums a step's gradients in
        the kernels that compute them: ``runtime/scan_loop.py``); ``"vjp_acc/p,q"``: only
        the gradients at positions p, q of ``vjp_index()`` (the others are not needed)."""
        if name == "body":
            return InnerGraph(self.inner_inputs, self.inner_outputs, f"{self.name} (scan body)",
                              mode=self.mode, n_outputs=self.n_outs)
        if name == "vjp":
            return self._vjp_graph()[0]
        if name == "vjp_acc":
            return self._vjp_acc_graph()
        if name.endswith("#pre") or name.endswith("#main"):
            base, part = name.rsplit("#", 1)
            got = self.hoisted(base)
            if got is None:
                raise ValueError(f"{self}: inner graph {base!r} has nothing to hoist")
            return got[0] if part == "pre" else got[1]
        if name.startswith("vjp_acc/"):        # only some gradients: "vjp_acc/0,3,4"
            keep = tuple(int(k) for k in name[8:].split(",") if k)
            return self._vjp_acc_graph(keep)
        return super().inner_graph(name)

    def hoisted(self, name):
        """``(pre, main)`` for the inner graph ``name`` (``"body"``, ``"vjp_acc..."``), or None.

        What the graph computes from the non-sequences alone is the same at every step
        (``U.T`` in a gradient's ``dot(g, U.T)``): ``pre`` (the non-sequences -> those
        values, ``"<name>#pre"``) computes it once per loop, and ``main`` (``"<name>#main"``:
        the graph's inputs, then those values) reads it, e.g. as a contiguous matrix instead
        of a transposed one (Theano's scan push-out of non-sequence computations).
        """
        cache = self.__dict__.setdefault("_hoist", {})
        if name in cache:
            return cache[name]
        from ..fgraph import clone_graph
        from ..graph import Constant, toposort
        g = self.inner_graph(name)
        fixed = list(self.inner_inputs[len(self.inner_inputs) - self.n_nonseq:])
        outs = set(g.outputs)
        nodes = toposort(list(g.outputs), blockers=list(g.inputs))
        inv = set(fixed)
        for node in nodes:
            if (all(i in inv or isinstance(i, Constant) for i in node.inputs)
                    and not any(o in outs for o in node.outputs)
                    and not isinstance(node.op, InnerGraphOp)
                    and not getattr(node.op, "has_side_effects", False)
                    and not getattr(node.op, "host_only", None)):
                inv.update(node.outputs)
        front = []
        for node in nodes:
            if all(o in inv for o in node.outputs):
                continue
            for i in node.inputs:
                if i in inv and i.owner is not None and i not in front:
                    front.append(i)
        if not front:
            cache[name] = None
            return None
        ph = [v.type() for v in front]
        for p, v in zip(ph, front):
            p.name = f"hoisted({v.name or v.owner.op})"
        memo = {v: v for v in g.inputs}
        memo.update(zip(front, ph))
        _, main_outs, _ = clone_graph(list(g.inputs) + front, list(g.outputs), memo=memo)
        pre = InnerGraph(fixed, list(front), f"{g.name} (hoisted)", mode=g.mode, target=g.target)
        main = InnerGraph(list(g.inputs) + ph, main_outs, g.name, mode=g.mode, target=g.target,
                          n_outputs=g.n_outputs, including=g.including)
        cache[name] = (pre, main)
        return cache[name]

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
        for o, g in zip(outs[:len(outs) - self.n_saved], gys):
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
        # the step's outputs are known (the forward loop stored them): the gradient reads
        # them (``tanh``'s ``1 - y**2``) instead of computing the step again
        ys = [o.type() for o in outs]
        memo = {v: v for v in list(self.inner_inputs) + gys}
        for y, o in zip(ys, outs):
            y.name = o.name or "out"
            if o.owner is not None and o not in memo:
                memo[o] = y
        from ..fgraph import clone_graph
        _, gs, _ = clone_graph(list(memo), list(gs), memo=memo)
        return InnerGraph(list(self.inner_inputs) + gys + ys, list(gs), f"grad_of_{self.name}",
                          mode=self.mode), index

    def _vjp_acc_graph(self, keep=None):
        """The ``"vjp_acc"`` graph; ``keep``: the positions (among ``vjp_index()``) of the
        gradients it computes (None: all)."""
        if self._vjp_acc is None:
            self._vjp_acc = {}
        got = self._vjp_acc.get(keep)
        if got is None:
            from ...config import change_flags
            g, index = self._vjp_graph()
            ps = range(len(index)) if keep is None else keep
            with change_flags(compute_test_value="off"):
                accs = [self.inner_inputs[index[p]].type() for p in ps]
                for a, p in zip(accs, ps):
                    a.name = f"acc({self.inner_inputs[index[p]].name or index[p]})"
                outs = [a + g.outputs[p] for a, p in zip(accs, ps)]
            # the weight gradients' sums fold into their products (rewrites/acc_epilogue.py)
            got = self._vjp_acc[keep] = InnerGraph(list(g.inputs) + accs, outs,
                                                   f"grad_of_{self.name}", mode=self.mode,
                                                   including=("acc_epilogue",))
        return got

    # ------------------------------------------------------------------ running
    def _steps(self, n_steps):
        """(number of steps, backwards?) of an n_steps value."""
        n = int(n_steps)
        return abs(n), self.go_backwards != (n < 0)

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

    host_only = "runs its compiled vector-Jacobian product in a loop (runtime/scan.py)"
    owns_outputs = True     # (as Scan's)


    stacks = ()     # (ScanGrad objects pickled before the attribute existed)
    gy_rows = ()

    def __init__(self, scan_op, wrt, stacks=(), gy_rows=()):
        self.scan_op = scan_op
        self.wrt = tuple(wrt)       # positions among the scan's inputs
        # extra outputs after the gradients, each a 2-d view (rows = steps x batch) of an
        # array the loop holds: ("prev", r) recurrent state r before each step (tap -1),
        # ("seq", q) sequence q's rows, ("gseq", q) the gradient of sequence q's rows
        # (rewrites/scan_weights.py: a weight's gradient as one product of two of them)
        self.stacks = tuple(tuple(s) for s in stacks)
        # per output of fn: None (its gradient input is the stack of every step's
        # gradient), an int k (rewrites/scan_grad_rows.py: the input is one step's
        # gradient, the stack being zeros but for row k, numpy's index: -1 the last step)
        # or "zeros" (the stack is zeros; the input a 0-d zero)
        self.gy_rows = tuple(gy_rows)

    def __eq__(self, other):
        return type(self) is type(other) and self.scan_op is other.scan_op and \
            self.wrt == other.wrt and self.stacks == other.stacks and \
            self.gy_rows == other.gy_rows

    def __hash__(self):
        return hash((id(self.scan_op), self.wrt, self.stacks, self.gy_rows))

    def gy_row(self, j):
        """The row k when output j's gradient input is one step's (``gy_rows``), else None."""
        return self.gy_rows[j] if j < len(self.gy_rows) else None

    def __str__(self):
        return f"for{{cpu,grad_of_{self.scan_op.name}}}"

    __repr__ = __str__

    def make_node(self, *inputs):
        n_in = len(inputs) - 2 * self.scan_op.n_outs
        outs = [inputs[k].type() for k in self.wrt]
        assert all(k < n_in for k in self.wrt)
        op = self.scan_op
        for kind, k in self.stacks:
            v = inputs[1 + op.n_seqs + k] if kind == "prev" else inputs[1 + k]
            outs.append(TensorType(v.type.dtype, (False, False))())
        return Apply(self, list(inputs), outs)

    def infer_shape(self, node, shapes):
        return [tuple(shapes[k]) for k in self.wrt] + [None] * len(self.stacks)

    def inner_graph(self, name):
        return self.scan_op.inner_graph(name)      # "vjp": compiled for this op
