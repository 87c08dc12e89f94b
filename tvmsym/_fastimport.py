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
# Parts of TVM 0.27's ``import tvm`` that a CPU build never uses (thread CPU, this machine:
# ~0.90 -> ~0.59 s; ~1.1 -> ~0.5 s with the disco attempt skipped too):
#
# * ``_autoload_backends()`` imports the Python hooks of every device backend (cuda, metal,
#   rocm, trn, opencl, vulkan, webgpu, hexagon, adreno: ~240 modules, PTX tables, Relax
#   pipelines) and loads their runtime libraries.  None of them takes part in an llvm build
#   (tests/runtime/test_lean_import.py compares the machine code of kernels built either
#   way); ``ensure_backends()`` loads them before the first cuda target is made
#   (``targets/target.py``), and TVM's own switch (``TVM_DEVICE_BACKEND_AUTOLOAD=0``, set
#   by the user) is left alone.
# * ``tvm.relax`` (imported by ``tvm/__init__``), ``tvm.s_tir.meta_schedule`` and
#   ``tvm.s_tir.dlight`` (by ``tvm.s_tir``): ~300 modules tvmsym's llvm builds never use
#   (dlight: cuda schedules only; meta_schedule: tuning).  They are imported lazily
#   (``importlib.util.LazyLoader``): the module object exists, its code runs at the first
#   attribute access.  ``tvm.compile`` looks for Relax functions in every module it builds
#   (``tvm.relax.Function``), so tvmsym builds TIR modules with ``tvm.tirx.build``, which
#   is what ``tvm.compile`` calls for them (``compile_tir``).
#
# * ``tvm.runtime`` tries ``from . import disco``, which fails (its types live in
#   ``libtvm_runtime_extra``, loaded later) with a C++ exception whose backtrace reads TVM's
#   debug information (~0.25 s); ``None`` in ``sys.modules`` fails it at once, the same way.
#   (Skipping it once seemed to make processes abort at exit: that was a build worker left
#   inside ``tvm.compile`` at exit, ``_parallel_build._join_workers_at_exit``.)  The one
#   global the Python disco module registers (``runtime.disco.create_process_pool``,
#   Relax's distributed runtime) is then missing: tvmsym never uses it.

_AUTOLOAD = "TVM_DEVICE_BACKEND_AUTOLOAD"
_lean = {"deferred": False}


class lean_import:
    """Context of the first ``import tvm``: device backends deferred (``ensure_backends``),
    ``LAZY_MODULES`` lazy.  Everything is restored on exit,
    an interrupted import included (a second attempt starts from the same state).
    ``TVMSYM_STOCK_TVM_IMPORT=1`` in the environment: TVM's own import, unchanged."""

    def __enter__(self):
        self._finder = None
        self._defer = self._set_disco = False
        if os.environ.get("TVMSYM_STOCK_TVM_IMPORT"):       # TVM's own import, unchanged
            return self
        self._set_disco = "tvm.runtime.disco" not in sys.modules and "tvm" not in sys.modules
        if self._set_disco:
            sys.modules["tvm.runtime.disco"] = None
        if "tvm" not in sys.modules:
            self._finder = _LazyFinder()
            sys.meta_path.insert(0, self._finder)
        self._env = os.environ.get(_AUTOLOAD)
        self._defer = self._env is None and "tvm" not in sys.modules
        if self._defer:
            os.environ[_AUTOLOAD] = "0"
        return self

    def __exit__(self, *exc):
        if self._set_disco and sys.modules.get("tvm.runtime.disco", 0) is None:
            del sys.modules["tvm.runtime.disco"]       # a later explicit import may try again
        if self._finder is not None:
            try:
                sys.meta_path.remove(self._finder)
            except ValueError:
                pass
            if exc[0] is not None:      # an interrupted import: no half-made lazy module stays
                for name in LAZY_MODULES:
                    m = sys.modules.get(name)
                    if m is not None and type(m).__name__ == "_LazyModule":
                        del sys.modules[name]
            elif type(sys.modules.get("tvm.relax")).__name__ == "_LazyModule":
                # Relax registers its TVMScript dialect when it runs; the parser imports it
                # for every text it parses (``tvm.script.parser.relax``).  Registered here
                # as Relax does, so the parser's import runs the lazy package.
                import tvm.script
                tvm.script.register_dialect("relax", "tvm.relax.script")
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


#: packages imported lazily by the lean import (their code runs at first use)
LAZY_MODULES = ("tvm.relax", "tvm.s_tir.meta_schedule", "tvm.s_tir.dlight")


class _LazyFinder:
    """Finds ``LAZY_MODULES`` as the path finder does, with their loader made lazy."""

    def find_spec(self, name, path, target=None):
        if name not in LAZY_MODULES:
            return None
        import importlib.machinery
        import importlib.util
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def compile_tir(mod, target):
    """``tvm.compile(mod, target)`` for a module of TIR functions only (what
    ``tvm.compile`` does for one, without touching ``tvm.relax``)."""
    import tvm
    from tvm.runtime import Executable
    return Executable(tvm.tirx.build(mod, target))

