"""Hook for shared variables, updates and givens (the training issue fills this in)."""
from __future__ import annotations


def prepare(fn, in_vars, outs, updates, givens):
    """Return (fgraph inputs, fgraph outputs, number of user outputs, update pairs)."""
    if updates:
        raise NotImplementedError("updates are not supported yet")
    if givens:
        raise NotImplementedError("givens are not supported yet")
    return list(in_vars), list(outs), len(outs), []
