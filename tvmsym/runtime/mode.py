"""Compilation modes, as Theano users know them.

=================  =====================================================================
``FAST_RUN``       every rewrite stage (``symbolic/rewrites/pipeline.py``): merge, constant
                   folding, dimshuffle merging, canonicalize, stabilize, fusion, inplace.
``FAST_COMPILE``   merge, constant folding, dimshuffle merging and fusion only: no algebra
                   (canonicalize, stabilize), no inplace.  Fusion stays because the build
                   costs ~50 ms per kernel: the W2 chain builds in 0.12 s fused and 0.8 s
                   as 14 kernels, while every rewrite together takes ~2 ms.
``Mode(optimizer=None)``  no rewrite at all: ``debugprint(f)`` shows the user's own nodes.
=================  =====================================================================

The flags ``optimizer`` (the default mode's level) and ``optimizer_excluding`` /
``optimizer_including`` (colon-separated stage names, rule names or tags, e.g.
``fusion:inplace``) apply to every mode.
"""
from __future__ import annotations

import numpy as np

from ..config import config

_OPTIMIZERS = (None, "fast_run", "fast_compile")


def _optimizer(opt):
    if opt in ("None", "none", "", "o0"):
        return None
    if opt == "default":
        return config.optimizer
    if opt not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {opt!r}; valid: None, 'fast_run', 'fast_compile'")
    return opt


def _names(s):
    if isinstance(s, str):
        return tuple(x for x in s.split(":") if x)
    return tuple(s)


class Mode:
    """Which rewrites run and which target builds.

    ``Mode(optimizer=None)`` keeps the user's graph; ``Mode(optimizer='fast_compile')``;
    ``mode.excluding('fusion')`` returns a mode without that stage; ``target='cuda'``
    overrides ``config.device``.  ``linker`` is accepted for Theano compatibility (tvmsym
    always builds with TVM).
    """

    def __init__(self, linker=None, optimizer="default", target=None, excluded=(), included=()):
        if linker in _OPTIMIZERS[1:] and optimizer == "default":
            linker, optimizer = None, linker        # Mode('fast_compile') reads as an optimizer
        self.optimizer = _optimizer(optimizer)
        self.linker = linker
        self.target = target
        self.excluded = _names(excluded)
        self.included = _names(included)

    def _with(self, **kw):
        d = dict(optimizer=self.optimizer, linker=self.linker, target=self.target,
                 excluded=self.excluded, included=self.included)
        d.update(kw)
        return Mode(**d)

    def excluding(self, *names):
        return self._with(excluded=self.excluded + names)

    def including(self, *names):
        return self._with(included=self.included + names)

    def __eq__(self, other):
        return isinstance(other, Mode) and (self.optimizer, self.target, self.excluded,
                                             self.included) == (other.optimizer, other.target,
                                                                other.excluded, other.included)

    def __hash__(self):
        return hash((self.optimizer, self.target, self.excluded, self.included))

    def __repr__(self):
        return (f"Mode(optimizer={self.optimizer!r}, excluded={self.excluded!r}, "
                f"target={self.target!r})")


FAST_RUN = "FAST_RUN"
FAST_COMPILE = "FAST_COMPILE"
# DebugMode compiles as FAST_RUN: Theano's per-call re-checking of C code against Python
# perform() is what tvmsym's test suite does for every op, not each call
_NAMED = {"FAST_RUN": "fast_run", "DEBUG_MODE": "fast_run", "DEBUGMODE": "fast_run",
          "FAST_COMPILE": "fast_compile"}


def get_mode(mode=None):
    """Resolve ``mode`` (None, a name, or a Mode) against the config flags."""
    excl = _names(config.optimizer_excluding)
    incl = _names(config.optimizer_including)
    if mode is None:
        mode = config.mode
        if mode == "FAST_RUN":      # the default mode follows the optimizer flag
            return Mode(optimizer=config.optimizer, excluded=excl, included=incl)
    if isinstance(mode, Mode):
        return mode._with(excluded=mode.excluded + excl, included=mode.included + incl)
    if isinstance(mode, str):
        name = mode.upper()
        if name in _NAMED:
            return Mode(optimizer=_NAMED[name], excluded=excl, included=incl)
        if name == "NANGUARDMODE":
            return NanGuardMode(excluded=excl, included=incl)
        raise ValueError(f"unknown mode {mode!r}; valid modes: 'FAST_RUN', 'FAST_COMPILE', "
                         "'DEBUG_MODE' (or 'DebugMode'), 'NanGuardMode', or a tvmsym.Mode")
    raise TypeError(f"mode must be a string or a tvmsym.Mode, got {type(mode).__name__}")


# --------------------------------------------------------------------------- NanGuardMode
# Theano's debugging mode that stops at the first kernel producing a NaN, an Inf or a huge
# value, naming it.  Every step's outputs are checked right after the step runs (the function
# takes the general per-call loop, so this costs time: use it to find a bug, not to train).
# The error names the node as ``debugprint`` shows it and its inputs; a call that fails
# changes no shared variable (updates are installed only after every step succeeded).
# ``tvmsym.compile.nanguardmode`` (Theano's module path) re-exports it.
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
