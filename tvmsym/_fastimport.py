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
import os
import sys
import threading

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


# ------------------------------------------------------------------ leaner ``import tvm``
# Two parts of TVM 0.27's ``import tvm`` that a CPU build never uses, ~0.4 s of its ~0.9 s
# (thread CPU, this machine):
#
# * ``tvm.runtime`` tries ``from . import disco``, which fails (``ValueError``: the type
#   ``runtime.disco.DRef`` lives in ``libtvm_runtime_extra``, loaded only at the end of
#   ``import tvm``) and is caught (``tvm.runtime.disco = None``).  The failure is a C++
#   exception whose backtrace makes libbacktrace read the debug information of TVM's
#   libraries: ~0.25 s.  ``None`` in ``sys.modules`` fails the same import at once, with the
#   same outcome.
# * ``_autoload_backends()`` imports the Python hooks of every device backend (cuda, metal,
#   rocm, trn, opencl, vulkan, webgpu, hexagon, adreno: ~240 modules, PTX tables, Relax
#   pipelines) and loads their runtime libraries.  None of them takes part in an llvm build
#   (tests/runtime/test_fast_import.py compares the machine code of kernels built either
#   way); ``ensure_backends()`` loads them before the first cuda target is made
#   (``targets/target.py``), and TVM's own switch (``TVM_DEVICE_BACKEND_AUTOLOAD=0``, set
#   by the user) is left alone.

_AUTOLOAD = "TVM_DEVICE_BACKEND_AUTOLOAD"
_lean = {"deferred": False}


class lean_import:
    """Context of the first ``import tvm``: no disco import attempt, device backends
    deferred (``ensure_backends``).  Everything is restored on exit, an interrupted import
    included (a second attempt starts from the same state)."""

    def __enter__(self):
        self._set_disco = "tvm.runtime.disco" not in sys.modules and "tvm" not in sys.modules
        if self._set_disco:
            sys.modules["tvm.runtime.disco"] = None
        self._env = os.environ.get(_AUTOLOAD)
        self._defer = self._env is None and "tvm" not in sys.modules
        if self._defer:
            os.environ[_AUTOLOAD] = "0"
        return self

    def __exit__(self, *exc):
        if self._set_disco and sys.modules.get("tvm.runtime.disco", 0) is None:
            del sys.modules["tvm.runtime.disco"]       # a later explicit import may try again
        if self._defer:
            os.environ.pop(_AUTOLOAD, None)
            if exc[0] is None:
                _lean["deferred"] = True
        return False


_backends_lock = threading.Lock()


def ensure_backends():
    """Load TVM's device backends (as ``import tvm`` does by default) if the lean import
    deferred them.  Idempotent and thread-safe."""
    if not _lean["deferred"]:
        return
    with _backends_lock:
        if not _lean["deferred"]:
            return
        from tvm.backend import _autoload_backends as auto
        auto._AUTO_LOAD_DONE = False
        auto._autoload_backends()
        _lean["deferred"] = False


def backends_deferred():
    """True while the device backends are not loaded (the lean import deferred them)."""
    return _lean["deferred"]
