"""The rewrite pipeline: one readable list of named stages.

Each stage is ``(name, function(fgraph))``; a mode selects stages by name
(``optimizer_excluding=fusion:inplace``).
"""
from __future__ import annotations

STAGES = []      # filled by the rewrite modules: [(name, fn, levels)]


def optimize(fgraph, optimizer="fast_run", excluding=(), including=()):
    """Run the stages allowed by ``optimizer`` (None, 'fast_compile', 'fast_run')."""
    if optimizer is None:
        return fgraph
    excluding = set(excluding)
    for name, fn, levels in STAGES:
        if optimizer not in levels or name in excluding:
            continue
        fn(fgraph, excluding=excluding)
    return fgraph
