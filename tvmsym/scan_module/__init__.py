"""``theano.scan_module``: Theano's import path of ``scan`` and its special cases ``map``,
``reduce``, ``foldl``, ``foldr``.

    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)

The graph is built by ``tvmsym/symbolic/scan_build.py`` (one ``Scan`` node,
``symbolic/ops/scan.py``); the runtime runs it (``tvmsym/runtime/scan.py``: a compiled
loop, one host call per scan).  This module only binds the two: which variables are
shared variables, and how to run the node for Theano's test values.
"""
from __future__ import annotations

from ..runtime.inner import perform
from ..runtime.shared import SharedVariable
from ..symbolic.ops.scan import Scan, ScanGrad  # noqa: F401
from ..symbolic.scan_build import OrderedUpdates, build_scan, until

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "OrderedUpdates", "Scan", "until"]


def _is_shared(v):
    return isinstance(v, SharedVariable)


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
         allow_gc=None, strict=False, return_list=False):
    """Theano's ``scan``: ``(outputs, updates)`` (``symbolic/scan_build.py``)."""
    return build_scan(fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient,
                      go_backwards, mode, name, profile, allow_gc, strict, return_list,
                      is_shared=_is_shared, perform=perform)


def map(fn, sequences, non_sequences=None, truncate_gradient=-1, go_backwards=False,
        mode=None, name=None):
    """``fn`` applied to each entry of the sequences (``scan`` without recurrence)."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode,
                name=name)


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False, mode=None,
           name=None):
    """``scan`` keeping only the last step of each output: ``(results, updates)``."""
    res, upd = scan(fn, sequences=sequences, outputs_info=outputs_info,
                    non_sequences=non_sequences, go_backwards=go_backwards, mode=mode, name=name)
    if isinstance(res, (list, tuple)):
        return [r[-1] for r in res], upd
    return res[-1], upd


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the first entry of the sequences to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode,
                  name=name)


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the last entry of the sequences to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode,
                  name=name)
