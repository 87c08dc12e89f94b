"""A cheaper ``import tvm``: its 52 ``_ffi_api`` modules without listing the registry 52 times.

Every ``tvm.*._ffi_api`` module calls ``tvm_ffi.init_ffi_api(namespace)``, which lists the
names of all global functions (~2,400, one FFI call each) and keeps those under the
namespace: ~125,000 FFI calls and string tests, 0.15-0.2 s of the ~1 s ``import tvm``.
``install()`` replaces it, before TVM is imported, by a function with the same effect (the
same functions set on the same module, in the registry's order) that lists the registry
once per registry size and finds a namespace's names by bisection in a sorted copy.
``tests/runtime/test_fast_import.py`` compares every ``_ffi_api`` module with the stock import.
"""
from __future__ import annotations

import bisect
import sys

_names = {"n": -1, "order": [], "sorted": []}


def _registry():
    """(names in registry order, sorted (name, position) pairs): listed again only when
    the registry's size changed (functions registered since)."""
    from tvm_ffi import registry
    functor = registry.get_global_func("ffi.FunctionListGlobalNamesFunctor")()
    n = functor(-1)
    if n != _names["n"]:
        order = [functor(i) for i in range(n)]
        _names.update(n=n, order=order, sorted=sorted((s, i) for i, s in enumerate(order)))
    return _names["sorted"]


def init_ffi_api(namespace, target_module_name=None):
    """``tvm_ffi.init_ffi_api``: the global functions ``<namespace>.<name>`` (no further
    dot) as attributes ``<name>`` of module ``target_module_name`` (default ``namespace``;
    a leading ``tvm.`` is dropped from the namespace)."""
    from tvm_ffi import registry
    target = sys.modules[target_module_name or namespace]
    prefix = namespace[4:] if namespace.startswith("tvm.") else namespace
    srt = _registry()
    hits = []
    for j in range(bisect.bisect_left(srt, (prefix, -1)), len(srt)):
        name, pos = srt[j]
        if not name.startswith(prefix):
            break
        hits.append((pos, name))
    for _, name in sorted(hits):            # the registry's order, as the stock function
        fname = name[len(prefix) + 1:]
        if "." in fname:
            continue
        f = registry.get_global_func(name)
        f.__name__ = fname
        setattr(target, fname, f)


def install():
    """Use ``init_ffi_api`` above for the modules imported from now on."""
    import tvm_ffi
    tvm_ffi.init_ffi_api = init_ffi_api
