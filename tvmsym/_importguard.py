"""Ctrl-C while TVM loads must not break the process (issue 11).

The first compile imports TVM (a second or more) and tvmsym's backend modules.  A
KeyboardInterrupt in the middle leaves half-initialized modules in ``sys.modules``
(``partially initialized module 'tvm'``, ``module 'tvm_ffi' has no attribute 'core'``),
and completed tvmsym modules holding registries of a package object Python discarded;
every later ``function()`` then failed.  ``interrupt_safe_import()`` wraps that import:
on any exception it removes every TVM and tvmsym module the attempt added, so the next
attempt imports everything afresh (TVM's C++ registries survive; tvmsym's registrations
into them are idempotent).
"""
from __future__ import annotations

import contextlib
import sys

_PREFIXES = ("tvm.", "tvm_ffi.", "tvmsym.")
_NAMES = ("tvm", "tvm_ffi")


@contextlib.contextmanager
def interrupt_safe_import():
    before = set(sys.modules)
    try:
        yield
    except BaseException:
        for name in set(sys.modules) - before:
            if name in _NAMES or name.startswith(_PREFIXES):
                sys.modules.pop(name, None)
        raise
