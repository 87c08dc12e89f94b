"""Compilation modes, as Theano users know them (FAST_RUN, FAST_COMPILE, Mode(optimizer=None))."""
from __future__ import annotations

from ..config import config

_OPTIMIZERS = (None, "fast_run", "fast_compile")


class Mode:
    """Which rewrites run and which target builds.

    ``Mode(optimizer=None)`` keeps the user's graph; ``mode.excluding('fusion')``
    returns a mode without that stage; ``target='cuda'`` overrides ``config.device``.
    """

    def __init__(self, optimizer="fast_run", linker=None, target=None, excluded=(), included=()):
        if optimizer in ("None", "none"):
            optimizer = None
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: None, 'fast_run', 'fast_compile'")
        self.optimizer = optimizer
        self.linker = linker
        self.target = target
        self.excluded = tuple(excluded)
        self.included = tuple(included)

    def _with(self, **kw):
        d = dict(optimizer=self.optimizer, linker=self.linker, target=self.target,
                 excluded=self.excluded, included=self.included)
        d.update(kw)
        return Mode(**d)

    def excluding(self, *names):
        return self._with(excluded=self.excluded + names)

    def including(self, *names):
        return self._with(included=self.included + names)

    def __repr__(self):
        return (f"Mode(optimizer={self.optimizer!r}, excluded={self.excluded!r}, "
                f"target={self.target!r})")


FAST_RUN = "FAST_RUN"
FAST_COMPILE = "FAST_COMPILE"


def get_mode(mode=None):
    """Resolve ``mode`` (None, a name, or a Mode) against the config flags."""
    excl = tuple(x for x in config.optimizer_excluding.split(":") if x)
    incl = tuple(x for x in config.optimizer_including.split(":") if x)
    if mode is None:
        mode = config.mode
        if mode == "FAST_RUN":
            return Mode(config.optimizer, excluded=excl, included=incl)
    if isinstance(mode, Mode):
        return mode._with(excluded=mode.excluded + excl, included=mode.included + incl)
    if isinstance(mode, str):
        name = mode.upper()
        if name in ("FAST_RUN", "DEBUG_MODE"):
            return Mode("fast_run", excluded=excl, included=incl)
        if name == "FAST_COMPILE":
            return Mode("fast_compile", excluded=excl, included=incl)
        raise ValueError(f"unknown mode {mode!r}; valid modes: 'FAST_RUN', 'FAST_COMPILE', "
                         "'DEBUG_MODE', or a tvmsym.Mode")
    raise TypeError(f"mode must be a string or a tvmsym.Mode, got {type(mode).__name__}")
