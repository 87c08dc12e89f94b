"""Ctrl-C while TVM loads must not break the process (issue 11).

The first compile imports TVM (a second or more) and tvmsym's backend modules.  A
KeyboardInterrupt in the middle leaves half-initialized modules in ``sys.modules``
(``partially initialized module 'tvm'``, ``module 'tvm_ffi' has no attribute 'core'``),
and completed tvmsym modules holding registries of a package object Python discarded;
every later ``function()`` then failed, and TVM's modules cannot simply run again (their
registrations into C++ registries refuse a second entry).  ``interrupt_safe_import()``
wraps that import: Python signal handlers (KeyboardInterrupt) run right after it instead of
inside it, and on any other exception it removes every TVM and tvmsym module the attempt added, so the next
attempt imports everything afresh (TVM's C++ registries survive; tvmsym's registrations
into them are idempotent).
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

_PREFIXES = ("tvm.", "tvm_ffi.", "tvmsym.")
_NAMES = ("tvm", "tvm_ffi")


_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGALRM", "SIGTERM", "SIGHUP")
                 if hasattr(signal, n))


@contextlib.contextmanager
def _deferred_signals():
    """Python signal handlers (Ctrl-C's KeyboardInterrupt among them) run after the import,
    not inside it: an interrupted TVM import cannot be redone in one process (its modules
    register functions and target tags into C++ registries that refuse a second entry)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending, saved = [], {}
    for sig in _SIGNALS:
        h = signal.getsignal(sig)
        if callable(h):
            saved[sig] = h
            signal.signal(sig, lambda signum, frame: pending.append((signum, frame)))
    try:
        yield
    finally:
        for sig, h in saved.items():
            signal.signal(sig, h)
        for signum, frame in pending:       # delivered now, as if just received
            saved[signum](signum, frame)


@contextlib.contextmanager
def interrupt_safe_import():
    before = set(sys.modules)
    with _deferred_signals():       # outermost: a deferred KeyboardInterrupt keeps the import
        try:
            yield
        except BaseException:
            for name in set(sys.modules) - before:
                if name in _NAMES or name.startswith(_PREFIXES):
                    sys.modules.pop(name, None)
            raise
