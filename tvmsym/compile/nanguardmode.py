"""``NanGuardMode``: Theano's debugging mode that stops at the first kernel producing a NaN,
an Inf or a huge value, naming it.

Every step's outputs are checked right after the step runs (the function takes the
general per-call loop, so this costs time: use it to find a bug, not to train).  The
error names the node as ``debugprint`` shows it and its inputs; a call that fails changes
no shared variable (updates are installed only after every step succeeded).
"""
from __future__ import annotations

import numpy as np

from ..runtime.mode import Mode

__all__ = ["NanGuardMode"]

BIG = 1e10          # Theano's threshold for big_is_error


class NanGuardMode(Mode):
    """``NanGuardMode(nan_is_error=True, inf_is_error=True, big_is_error=True)``: a FAST_RUN
    mode whose functions raise ``AssertionError`` at the first step whose output holds a
    NaN (nan_is_error), an Inf (inf_is_error) or a value of magnitude above 1e10
    (big_is_error)."""

    def __init__(self, nan_is_error=None, inf_is_error=None, big_is_error=None, optimizer="default",
                 linker=None, target=None, excluded=(), included=()):
        super().__init__(linker=linker, optimizer=optimizer, target=target, excluded=excluded,
                         included=included)
        # Theano's defaults come from config flags that default to True
        self.nan_is_error = True if nan_is_error is None else bool(nan_is_error)
        self.inf_is_error = True if inf_is_error is None else bool(inf_is_error)
        self.big_is_error = True if big_is_error is None else bool(big_is_error)

    def _with(self, **kw):
        d = dict(optimizer=self.optimizer, linker=self.linker, target=self.target,
                 excluded=self.excluded, included=self.included)
        d.update(kw)
        return NanGuardMode(self.nan_is_error, self.inf_is_error, self.big_is_error, **d)

    def __eq__(self, other):
        return isinstance(other, NanGuardMode) and super().__eq__(other) and self._flags() == other._flags()

    def __hash__(self):
        return hash((super().__hash__(), self._flags()))

    def _flags(self):
        return (self.nan_is_error, self.inf_is_error, self.big_is_error)

    def __repr__(self):
        return (f"NanGuardMode(nan_is_error={self.nan_is_error}, inf_is_error={self.inf_is_error}, "
                f"big_is_error={self.big_is_error})")

    def guard(self, step, outputs):
        """Called by the executor after each step with that step's output arrays."""
        for k, a in enumerate(outputs):
            a = np.asarray(a)
            if a.size == 0 or a.dtype.kind not in "fc":
                continue
            what = None
            if self.nan_is_error and np.isnan(a).any():
                what = "NaN"
            elif self.inf_is_error and np.isinf(a).any():
                what = "Inf"
            elif self.big_is_error and (np.abs(a[np.isfinite(a)]) > BIG).any():
                what = f"a value of magnitude above {BIG:g}"
            if what is not None:
                node = step.node
                ins = ", ".join(str(i) for i in node.inputs)
                raise AssertionError(
                    f"NanGuardMode: {what} detected in output {k} of {node.op}({ins}) (shape "
                    f"{a.shape}, dtype {a.dtype}): the first step of this call whose output holds one")
