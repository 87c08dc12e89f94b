"""Gradient rules, one module per op family (registered into ``symbolic/grad.py``'s tables).

Families whose ops are not present in this build are skipped.
"""
import importlib

for _m in ("elemwise", "dimshuffle", "reduce", "linalg", "shape", "subtensor", "nnet", "sort", "cum",
           "random", "ifelse", "scan",
           "linalg_host", "special",      # linalg helper
           "conv", "pool",
           "complex",                   # complex: after elemwise and linalg (it wraps their rules)
           "sparse"):
    try:
        importlib.import_module(f".{_m}", __name__)
    except ImportError as _e:        # the op family does not exist (yet)
        if f"grad_rules.{_m}" in str(_e) or "ops" in str(_e):
            continue
        raise

# rng: gradients of the helper scalar ops (arctan2, arc*h, second)
importlib.import_module(".helpers", __name__)
# collectives of tvmsym.distributed (AllReduce, Broadcast, AllGather)
importlib.import_module(".distributed", __name__)
