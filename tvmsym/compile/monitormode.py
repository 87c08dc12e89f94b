"""``theano.compile.MonitorMode``: call ``pre_func(i, node, fn)`` before and
``post_func(i, node, fn)`` after every step of a compiled function.

``i`` is the step's position in the call, ``node`` the (rewritten) Apply node the step
computes (``debugprint(node)`` prints it), ``fn.inputs`` / ``fn.outputs`` are lists of
one-element lists holding the step's input and output values (Theano's storage cells;
before the step runs its outputs hold ``None``).  The Theano debugging FAQ's NaN detector
(``detect_nan``, also here) runs as written.  The steps are the kernels tvmsym runs, so a
fused chain of elementwise ops is one node (``Elemwise{Composite{...}}``), as in Theano.

It uses the executor's per-step hook, as ``NanGuardMode`` does; ``MonitorMode`` is a
``NanGuardMode`` with every check off, and ``MonitorMode(..., nan_guard=NanGuardMode())``
also runs that mode's NaN/Inf checks after ``post_func``.
"""
from __future__ import annotations

import numpy as np

from ..runtime.mode import Mode
from .nanguardmode import NanGuardMode

__all__ = ["MonitorMode", "detect_nan"]


class _Thunk:
    """What ``pre_func``/``post_func`` receive as ``fn``: storage cells of one step."""

    __slots__ = ("inputs", "node", "outputs")

    def __init__(self, node, inputs, outputs):
        self.node, self.inputs, self.outputs = node, inputs, outputs

    def __call__(self):
        raise RuntimeError("MonitorMode: the step runs between pre_func and post_func; "
                           "fn() is not callable here")


class _Hook:
    """The executor's per-call hook: ``pre_step(step, slots, build)`` then
    ``__call__(step, outputs)``."""

    def __init__(self, mode):
        self.mode = mode
        self.i = -1
        self.cur = None

    def _inputs(self, node, slots, build):
        vals = []
        for v in node.inputs:
            s = build.slot.get(v)
            if s is not None and slots[s] is not None:
                vals.append([slots[s]])
            elif v in build.values:
                vals.append([build.values[v]])
            else:
                vals.append([getattr(v, "data", None)])
        return vals

    def pre_step(self, step, slots, build):
        self.i = 0 if step is build.prog[0].step else self.i + 1      # a call starts over
        node = step.node
        self.cur = (slots, build, _Thunk(node, self._inputs(node, slots, build),
                                         [[None] for _ in node.outputs]))
        if self.mode.pre_func is not None:
            self.mode.pre_func(self.i, node, self.cur[2])

    def __call__(self, step, outputs):
        slots, build, fn = self.cur
        fn.inputs = self._inputs(step.node, slots, build)
        fn.outputs = [[o] for o in outputs]
        if self.mode.post_func is not None:
            self.mode.post_func(self.i, step.node, fn)
        guard = self.mode.nan_guard
        if guard is not None:
            guard.guard(step, outputs)


class MonitorMode(Mode):
    """``MonitorMode(pre_func=None, post_func=None, optimizer='default', linker=None)``:
    a FAST_RUN mode (or ``optimizer``'s) whose functions call the two functions around
    every step.  Calls take the general (slower) execution loop: use it to debug."""

    def __init__(self, pre_func=None, post_func=None, optimizer="default", linker=None,
                 target=None, excluded=(), included=(), nan_guard=None):
        super().__init__(linker=linker, optimizer=optimizer, target=target, excluded=excluded,
                         included=included)
        self.pre_func, self.post_func = pre_func, post_func
        if nan_guard is not None and not isinstance(nan_guard, NanGuardMode):
            raise TypeError(f"nan_guard must be a NanGuardMode, got {type(nan_guard).__name__}")
        self.nan_guard = nan_guard

    @property
    def guard(self):
        """The per-step hook a function installs (read once when it compiles)."""
        return _Hook(self)

    def _with(self, **kw):
        d = {"optimizer": self.optimizer, "linker": self.linker, "target": self.target,
             "excluded": self.excluded, "included": self.included}
        d.update(kw)
        return MonitorMode(self.pre_func, self.post_func, nan_guard=self.nan_guard, **d)

    def clone(self, link_kwargs=None, optimizer="", **kwargs):
        return self._with(optimizer=self.optimizer if optimizer == "" else optimizer)

    def __eq__(self, other):
        return (isinstance(other, MonitorMode) and super().__eq__(other)
                and (self.pre_func, self.post_func, self.nan_guard)
                == (other.pre_func, other.post_func, other.nan_guard))

    def __hash__(self):
        return hash((super().__hash__(), id(self.pre_func), id(self.post_func)))

    def __repr__(self):
        return f"MonitorMode(pre_func={self.pre_func!r}, post_func={self.post_func!r})"


def detect_nan(i, node, fn):
    """Theano's example post_func: report the first step whose output holds a NaN."""
    from ..printing import debugprint
    for output in fn.outputs:
        if (not isinstance(output[0], np.random.RandomState)
                and np.isnan(np.asarray(output[0])).any()):
            print("*** NaN detected ***")
            debugprint(node)
            print("Inputs : %s" % [input[0] for input in fn.inputs])
            print("Outputs: %s" % [output[0] for output in fn.outputs])
            break
