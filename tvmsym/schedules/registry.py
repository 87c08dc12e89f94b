"""Schedule rule registry, per target kind."""
from __future__ import annotations

RULES = {"llvm": [], "cuda": []}


def register_rule(kind, rule, first=False):
    if first:
        RULES[kind].insert(0, rule)
    else:
        RULES[kind].append(rule)
    return rule


def schedule(func, kind, info=None):
    """Apply the first rule for ``kind`` that accepts ``func``; returns a PrimFunc/IRModule."""
    from . import cpu  # noqa: F401  (registers llvm rules)
    from . import cpu_matmul  # noqa: F401  (products; registers itself first)
    from . import cpu_reduce  # noqa: F401  (reductions, softmax; registers itself first)
    from . import cpu_conv, cpu_pool  # noqa: F401  (convolutions, pooling; register first)
    for rule in RULES[kind]:
        out = rule(func, info or {})
        if out is not None:
            return out
    return func
