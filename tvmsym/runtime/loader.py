"""Load a cached kernel library with the TVM runtime only (no ``import tvm``).

``tvm_ffi`` (the FFI: ~60 ms to import) loads the library; ``libtvm_runtime.so`` is loaded
first with ``RTLD_GLOBAL`` (the kernels' parallel-for and workspace calls resolve against it:
without it a parallel kernel segfaults), and glibc's libmvec likewise (the vector math the
kernels call, tvmsym/_tvm.py).  Set up as ``_tvm`` does: every core for TVM's thread pool,
a fork-safe pool, Ctrl-C in a kernel call coming back as ``KeyboardInterrupt``.  When TVM
is already imported this is what ``tvm.runtime.load_module`` does.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import sys

_ready = False


def _runtime_library():
    spec = importlib.util.find_spec("tvm")          # finds the package, does not import it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the TVM package (apache-tvm) is not installed")
    for d in spec.submodule_search_locations:
        p = os.path.join(d, "lib", "libtvm_runtime.so")
        if os.path.exists(p):
            return p
    raise ImportError("libtvm_runtime.so not found in the TVM package")


def _setup():
    global _ready
    if _ready:
        return
    if "tvm" not in sys.modules:
        try:        # as _tvm: every CPU this process may use
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = os.cpu_count() or 1
        os.environ.setdefault("TVM_NUM_THREADS", str(cpus))
        from ..config import cap_num_threads
        cap_num_threads()       # (as _tvm does: a warm start would start 100000 threads)
        import tvm_ffi  # noqa: F401  (loads libtvm_ffi.so, which libtvm_runtime.so needs)
        ctypes.CDLL(_runtime_library(), mode=ctypes.RTLD_GLOBAL)
        if not os.environ.get("TVMSYM_NO_MVEC"):
            for name in ("libmvec.so.1", ctypes.util.find_library("mvec")):
                try:        # (find_library spawns ldconfig: ~80 ms, only as a fallback)
                    ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
                    break
                except (OSError, TypeError):
                    pass
    import tvm_ffi
    try:
        tvm_ffi.error.register_error("KeyboardInterrupt", KeyboardInterrupt)
    except Exception:       # noqa: BLE001  (registered already, by _tvm)
        pass
    cfg = tvm_ffi.get_global_func("runtime.config_threadpool", allow_missing=True)
    if cfg is not None and "tvm" not in sys.modules:
        os.register_at_fork(after_in_child=lambda: cfg(1, 1))
    _ready = True


def load_library(path, names):
    """The module of the kernel library at ``path``; raises if it lacks one of ``names``."""
    _setup()
    import tvm_ffi
    # not pinned for the process (as _tvm.load_library): the library is unloaded with the
    # last function using it
    mod = tvm_ffi.load_module(os.path.realpath(path), keep_module_alive=False)
    for n in names:
        if not mod.implements_function(n):
            raise RuntimeError(f"cached library lacks kernel {n!r}")
    return mod
