"""The graph core: Variables produced by Apply nodes of Ops (Theano's ``theano.gof.graph``).

A graph is built by the user one operation at a time; nothing here is
interned, so user code may name results freely.  Compilation clones the graph
into a FunctionGraph (``fg.py``) where rewrites happen.  This is the lowest layer:
it knows no tensor type (``tvmsym.symbolic`` adds TensorVariable on top of it).
"""
from __future__ import annotations

import itertools
import os
import sys

import numpy as np

from ..config import config as _config

_ids = itertools.count()


class Variable:
    """A symbolic value: an input (``owner is None``) or the output of an Apply."""

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = _Tag()
        self.auto_name = f"auto_{next(_ids)}"

    def __str__(self):
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self):
        s = self.__str__()
        if _config.print_test_value and "test_value" in self.tag:   # Theano's flag
            s += "\n" + repr(_test_value(self))
        return s

    def clone(self):
        cp = type(self)(self.type, name=self.name)
        cp.tag = self.tag.copy()
        return cp

    def get_parents(self):
        return [self.owner] if self.owner is not None else []

    fgraph = None       # the FunctionGraph this variable belongs to (set by FunctionGraph)

    @property
    def clients(self):
        """Theano's ``var.clients`` inside a FunctionGraph (e.g. ``f.maker.fgraph``): a list of
        ``(apply_node, input_index)`` and ``('output', k)`` for the graph's k-th output."""
        fg = self.fgraph
        if fg is None:
            raise AttributeError(f"{self} belongs to no FunctionGraph, so it has no clients; "
                                 "use the variables of f.maker.fgraph (or FunctionGraph(ins, outs))")
        return fg.clients.get(self, [])

    # ``eval({variable: value})`` compiles: the runtime installs it (runtime/function.py
    # ``evaluate``, set as ``Variable.eval`` by tvmsym/__init__.py)


class _Tag(dict):
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k) from None

    def __setattr__(self, k, v):
        self[k] = v


class Constant(Variable):
    """A variable with a fixed value. ``weak`` marks a Python scalar (NEP 50)."""

    def __init__(self, type, data, name=None, weak=False):
        super().__init__(type, None, None, name)
        self.data = np.asarray(data, dtype=type.dtype)
        self.data.setflags(write=False)
        self.weak = weak

    def __repr__(self):
        if self.name is not None:
            return self.name
        return format_constant(self.data)

    __str__ = __repr__

    def signature(self):
        return (self.type, self.data.shape, self.data.tobytes(), self.weak)

    def clone(self):
        cp = type(self)(self.type, self.data, name=self.name, weak=self.weak)
        cp.tag = self.tag.copy()
        return cp


def format_constant(data):
    data = np.asarray(data)
    if data.ndim == 0:
        v = data.item()
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
            return str(v).rstrip("0").rstrip(".") if "e" not in str(v) else str(v)
        return str(v)
    if data.size <= 8:
        return str(data.tolist())
    return f"TensorConstant{{{data.shape}}}"


_PKG = os.sep + "tvmsym" + os.sep


def _user_line(frame):
    """``file:line`` of the first frame outside tvmsym, walking out from ``frame``."""
    while frame is not None:
        fn = frame.f_code.co_filename
        if _PKG not in fn:
            return f"{fn}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class Apply:
    """One application of an Op to input variables, producing output variables."""

    def __init__(self, op, inputs, outputs):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, o in enumerate(self.outputs):
            o.owner, o.index = self, i
        self.tag = _Tag()
        # where the user's code built it: run-time errors name it (runtime/steps.py annotate)
        self.tag.trace = _user_line(sys._getframe(1))

    @property
    def out(self):
        assert len(self.outputs) == 1
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs):
        return self.op.make_node(*inputs)

    def __repr__(self):
        return f"{self.op}({', '.join(map(str, self.inputs))})"


class Op:
    """Base class of operations.

    Subclasses set ``__props__`` (a tuple of attribute names); equality,
    hashing and the default ``str`` are derived from them.

    The op contract (``tests/symbolic/test_op_contract.py``) checks every op: equal and
    hashable by its props, picklable, and either lowered (a rule in ``lowering/rules``) or
    declared ``host_only``, and either differentiable (a rule in ``symbolic/grad_rules`` or
    a ``grad`` method) or declared ``no_grad``.  Both declarations are class attributes
    holding True or a short reason.
    """

    __props__: tuple = ()
    host_only: bool | str = False   # no lowering rule on purpose: the executor runs perform()
    no_grad: bool | str = False     # no gradient on purpose (integer results, made after grad)
    destroy_map: dict = {}
    view_map: dict = {}

    def _props(self):
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other):
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self):
        return hash((type(self), self._props()))

    def __str__(self):
        if self.__props__:
            return f"{type(self).__name__}{{{', '.join(str(p) for p in self._props())}}}"
        return type(self).__name__

    __repr__ = __str__

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        perform = cls.__dict__.get("perform")
        if perform is not None and _takes_output_storage(perform):
            cls.perform = _storage_perform(perform)
            if cls.infer_shape is Op.infer_shape:
                # Theano: without infer_shape, shapes come from running the op; here its
                # outputs (and what follows) are sized when the call computes them
                cls.infer_shape = _unknown_shape

    def make_node(self, *inputs) -> Apply:
        """Theano's default: an op that declares ``itypes`` and ``otypes`` (lists of types)
        checks its inputs against ``itypes`` and makes one output per ``otypes`` entry."""
        itypes, otypes = getattr(self, "itypes", None), getattr(self, "otypes", None)
        if itypes is None or otypes is None:
            raise NotImplementedError(f"{type(self).__name__}: define make_node, or the "
                                      "itypes and otypes lists")
        if len(inputs) != len(itypes):
            raise ValueError(f"{self} expects {len(itypes)} input(s), got {len(inputs)}")
        # a non-variable input becomes a constant of the declared type (the graph core
        # knows no tensor module: the type makes its own constants)
        inputs = [i if isinstance(i, Variable) else t.Constant(t, i) for i, t in zip(inputs, itypes)]
        for k, (i, t) in enumerate(zip(inputs, itypes)):
            if i.type != t:
                raise TypeError(f"{self}: input {k} must be of type {t}, got {i} of type {i.type}")
        return Apply(self, inputs, [t() for t in otypes])

    def __call__(self, *inputs, **kwargs):
        node = self.make_node(*inputs, **kwargs)
        if _config.compute_test_value != "off":
            compute_test_values(node, _config.compute_test_value)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def perform(self, node, inputs):
        """numpy reference implementation: list of input arrays -> list of outputs."""
        raise NotImplementedError(f"{self} has no reference implementation")

    def infer_shape(self, node, input_shapes):
        """Output shapes (tuples of ints) from input shapes (tuples of ints)."""
        raise NotImplementedError(f"{self} has no shape rule")

    def grad(self, inputs, output_grads):
        raise NotImplementedError(f"{self} has no gradient")

    def do_constant_folding(self, node):
        return True


def _takes_output_storage(perform):
    """True for Theano's ``perform(self, node, inputs, output_storage)``."""
    import inspect
    try:
        params = list(inspect.signature(perform).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(params) >= 4 and params[3].default is inspect.Parameter.empty


def _unknown_shape(self, node, input_shapes):
    return [None] * len(node.outputs)


def _storage_perform(theano_perform):
    """``perform(node, inputs) -> outputs`` calling a Theano-style perform that stores
    output k in ``output_storage[k][0]``."""
    def perform(self, node, inputs):
        storage = [[None] for _ in node.outputs]
        theano_perform(self, node, inputs, storage)
        return [np.asarray(s[0], dtype=o.type.dtype) if hasattr(o.type, "dtype") else s[0]
                for s, o in zip(storage, node.outputs)]
    perform.__name__, perform.__doc__ = "perform", theano_perform.__doc__
    perform.output_storage_perform = theano_perform
    return perform


# --------------------------------------------------------------------------- test values
_MISSING = object()


def _test_value(v):
    """The test value of ``v``: a constant's data, ``v.tag.test_value`` (as v's type
    stores it), a shared variable's value; ``_MISSING`` if it has none."""
    if isinstance(v, Constant):
        return v.data
    if "test_value" in v.tag:
        return v.type.filter(v.tag["test_value"], allow_downcast=True)
    get_value = getattr(v, "get_value", None)
    if get_value is not None:
        return get_value(borrow=True)
    return _MISSING


def compute_test_values(node, mode, perform=None):
    """Theano's ``compute_test_value``: run the new node's ``perform`` on its inputs' test
    values as the graph is built, so a shape error points at the line that made the node.
    An input without a test value raises ('raise'), warns ('warn') or is skipped ('ignore').
    ``perform(node, values)``: how to run it (the runtime's, for ops with inner graphs)."""
    vals = []
    for k, v in enumerate(node.inputs):
        tv = _test_value(v)
        if tv is _MISSING:
            msg = (f"Cannot compute test value: input {k} ({v}) of Op {node.op} missing default "
                   "value (set it with var.tag.test_value = ...)")
            if mode == "raise":
                raise ValueError(msg)
            if mode == "warn":
                import warnings
                warnings.warn(msg, stacklevel=3)
            return
        vals.append(tv)
    outs = node.op.perform(node, vals) if perform is None else perform(node, vals)
    for o, val in zip(node.outputs, outs):
        o.tag.test_value = np.asarray(val)


# --------------------------------------------------------------------------- traversal
def ancestors(outputs, blockers=()):
    seen, order, stack = set(), [], list(outputs)
    blockers = set(map(id, blockers))
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        order.append(v)
        if v.owner is not None and id(v) not in blockers:
            stack.extend(reversed(v.owner.inputs))
    return order


def graph_inputs(outputs, blockers=()):
    blocked = set(map(id, blockers))
    return [v for v in ancestors(outputs, blockers) if v.owner is None or id(v) in blocked]


def toposort(outputs, blockers=()):
    """Apply nodes between blockers (inputs) and outputs, in a valid execution order."""
    blocked = set(map(id, blockers))
    order, done = [], set()
    # iterative DFS post-order
    for out in outputs:
        stack = [(out, False)]
        while stack:
            v, expanded = stack.pop()
            node = v.owner
            if node is None or id(v) in blocked or id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((v, True))
            for i in reversed(node.inputs):
                if i.owner is not None and id(i.owner) not in done:
                    stack.append((i, False))
    return order


def is_constant(v):
    return isinstance(v, Constant)


# --------------------------------------------------------------------------- Theano's names
def inputs(variable_list, blockers=None):
    """The inputs (variables without owner, or in ``blockers``) the variables depend on, in
    the order a depth-first walk meets them (Theano's ``theano.gof.graph.inputs``)."""
    return graph_inputs(list(variable_list), blockers or ())


def variables(i, o):
    """Every variable on a path from the inputs ``i`` to the outputs ``o``."""
    return ancestors(list(o), blockers=list(i))


def ops(i, o):
    """The Apply nodes between ``i`` and ``o`` (a set, as Theano returns)."""
    return set(toposort(list(o), blockers=list(i)))


def io_toposort(inputs, outputs, orderings=None):
    """The Apply nodes between ``inputs`` and ``outputs`` in an order that computes every
    node after the nodes it reads (Theano's ``io_toposort``)."""
    if orderings:
        raise NotImplementedError("io_toposort: extra orderings are not supported")
    return toposort(list(outputs), blockers=list(inputs))


def orphans(i, o):
    """The variables without owner that ``o`` depends on and that are not in ``i``
    (constants, typically)."""
    ins = set(map(id, i))
    return [v for v in graph_inputs(list(o), list(i)) if id(v) not in ins]


def clone(i, o, copy_inputs=True):
    """A copy of the graph from ``i`` to ``o``: returns ``(new_inputs, new_outputs)``.
    With ``copy_inputs=False`` the copy reads the original input variables."""
    memo = {}
    if not copy_inputs:
        memo.update((v, v) for v in i)
    return clone_get_equiv(i, o, memo)[:2]


def clone_get_equiv(i, o, memo=None):
    """``(new_inputs, new_outputs, memo)``, where ``memo`` maps each original variable to
    its copy."""
    from .fg import clone_graph
    return clone_graph(list(i), list(o), memo)


def view_roots(r):
    """The variables ``r`` is a view of (itself when it is no view)."""
    owner = r.owner
    if owner is not None:
        vm = getattr(owner.op, "view_map", {}) or {}
        if r.index in vm:
            out = []
            for k in vm[r.index]:
                out.extend(view_roots(owner.inputs[k]))
            return out
    return [r]


def list_of_nodes(inputs, outputs):
    """The Apply nodes between ``inputs`` and ``outputs`` (Theano's name)."""
    return io_toposort(inputs, outputs)


def is_same_graph(var1, var2, givens=None):
    """True when ``var1`` and ``var2`` compute the same thing from the same inputs (same ops
    with equal properties on the same inputs and equal constants)."""
    givens = dict(givens or {})
    memo = {}

    def key(v):
        stack = [v]
        while stack:
            cur = stack[-1]
            if cur in memo:
                stack.pop()
                continue
            if cur in givens:
                memo[cur] = key(givens[cur])
                stack.pop()
                continue
            if cur.owner is None:
                memo[cur] = (("const",) + tuple(cur.signature())) if isinstance(cur, Constant) \
                    else ("input", id(cur))
                stack.pop()
                continue
            pend = [x for x in cur.owner.inputs if x not in memo]
            if pend:
                stack.extend(pend)
                continue
            memo[cur] = (cur.owner.op, cur.index, tuple(memo[x] for x in cur.owner.inputs))
            stack.pop()
        return memo[v]
    return key(var1) == key(var2)
