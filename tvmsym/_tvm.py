"""The one module that knows TVM 0.27's names (tvm.tirx, tvm.s_tir, tvm.compile).

Importing it starts TVM with what tvmsym needs on the CPU: every core
(TVM's default is half of them on x86), the host's real ``mcpu``, vector math
from glibc's libmvec for float transcendentals, and a fork-safe thread pool.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import time

# TVM sizes its pool at first use; it defaults to hardware_concurrency/2 on x86.
os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))


from .config import cap_num_threads as _cap_num_threads  # noqa: E402

_cap_num_threads()

from . import _fastimport  # noqa: E402  (init_ffi_api without 52 registry listings)

_import_t0 = time.perf_counter()
_fastimport.install()

with _fastimport.lean_import():     # no disco attempt, device backends when a cuda target is
    import tvm  # noqa: E402          # made, Relax / meta_schedule / dlight at first use
    import tvm_ffi  # noqa: E402
    from tvm import s_tir, te, tirx, topi  # noqa: E402,F401
    from tvm.target import Target, codegen  # noqa: E402

from . import cache as _kcache  # noqa: E402  (entries, LRU pruning; no TVM)

__all__ = ["tvm", "te", "tirx", "s_tir", "topi", "Target", "cpu_target", "compile_module",
           "vector_bytes", "relax_alignment", "tvm_ffi", "ensure_backends"]

ensure_backends = _fastimport.ensure_backends     # TVM's device backends (cuda ...), on demand

# A Ctrl-C inside a Python callback that TVM's build calls from C++ (a pass, an intrinsic
# lowering rule) crossed back as RuntimeError('') -- swallowed by ``except Exception``
# handlers; registered, it comes back as the KeyboardInterrupt it was.
tvm_ffi.error.register_error("KeyboardInterrupt", KeyboardInterrupt)

_config_threadpool = tvm.get_global_func("runtime.config_threadpool", allow_missing=True)
if _config_threadpool is not None:
    # A forked child would hang in its first parallel kernel (the pool's threads are gone).
    os.register_at_fork(after_in_child=lambda: _config_threadpool(1, 1))


@functools.lru_cache(maxsize=None)
def cpu_target():
    """The llvm target for this host's CPU ("llvm -mcpu=native" is rejected by TVM 0.27)."""
    return Target({"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu()})


@functools.lru_cache(maxsize=None)
def vector_bytes():
    """Width of the host's vector registers in bytes (64 AVX-512, 32 AVX2, 16 otherwise)."""
    t = cpu_target()
    if codegen.llvm_cpu_has_features("avx512f", t):
        return 64
    if codegen.llvm_cpu_has_features("avx2", t):
        return 32
    return 16


# ------------------------------------------------------------------ libmvec vector math
# glibc libmvec names of the float functions TVM can route to it (name + "f" for float32).
_MVEC_FUNCS = ("exp", "exp2", "exp10", "log", "log2", "log10", "log1p", "tanh", "sin", "cos",
               "tan", "sinh", "cosh", "asin", "acos", "atan", "erf")
_MVEC_ISA = {64: "e", 32: "d", 16: "b"}
mvec_enabled = False


def _split_wide_call(call, variants):
    """A vector call wider than libmvec's (float32x16 when a float16 kernel computes in
    float32): run it as libmvec-width pieces and concatenate them."""
    ty = str(call.ty)
    m = re.fullmatch(r"(float32|float64)x(\d+)", ty)
    if m is None:
        return None
    for vty, sym in variants.items():
        base, w = vty.split("x")
        w = int(w)
        lanes = int(m.group(2))
        if base == m.group(1) and lanes > w and lanes % w == 0:
            parts = []
            for start in range(0, lanes, w):
                idx = [tirx.IntImm("int32", start + j) for j in range(w)]
                args = [tirx.Shuffle([a], idx) for a in call.args]
                parts.append(tirx.call_pure_extern(vty, sym, *args))
            return tirx.Shuffle(parts, [tirx.IntImm("int32", j) for j in range(lanes)])
    return None


def _pad_narrow_call(call, variants):
    """A scalar or narrow float call (a loop's scalar tail, a partly vectorized kernel): run it
    through the same libmvec routine as the vector body, on a vector padded with copies of
    lane 0, and keep the lanes asked for.  A value's result then does not depend on where
    it sits in the array (TVM's scalar lowering of tanh gave 0 for 1e-10, the body 1e-10)."""
    ty = str(call.ty)
    m = re.fullmatch(r"(float32|float64)(?:x(\d+))?", ty)
    if m is None:
        return None
    lanes = int(m.group(2) or 1)
    for vty, sym in variants.items():
        base, w = vty.split("x")
        w = int(w)
        if base != m.group(1) or lanes >= w:
            continue
        args = []
        for a in call.args:
            if lanes == 1:
                args.append(tirx.Broadcast(a, w))
            else:
                # a Shuffle takes at most as many indices as its inputs have lanes: the
                # narrow vector repeated until it is as wide as the routine
                idx = [tirx.IntImm("int32", j if j < lanes else 0) for j in range(w)]
                args.append(tirx.Shuffle([a] * (-(-w // lanes)), idx))
        wide = tirx.call_pure_extern(vty, sym, *args)
        return tirx.Shuffle([wide], [tirx.IntImm("int32", j) for j in range(lanes)])
    return None


def _setup_mvec():
    global mvec_enabled
    if os.environ.get("TVMSYM_NO_MVEC"):
        return
    try:        # the usual name first: find_library spawns ldconfig (~80 ms of every start)
        lib = ctypes.CDLL("libmvec.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        path = ctypes.util.find_library("mvec")
        try:
            lib = ctypes.CDLL(path or "libmvec.so.1", mode=ctypes.RTLD_GLOBAL)
        except OSError:
            return      # non-glibc or non-x86: TVM's stock (scalar) lowering stays
    isa = _MVEC_ISA[vector_bytes()]
    for fname in _MVEC_FUNCS:
        make = getattr(tirx, fname, None)
        if make is None:
            continue
        op = make(tirx.Var("x", "float32")).op      # "tirx.exp", "prim.log2", ...
        opname = op.name
        default = op.get_attr("llvm.FLowerIntrinsic")
        variants = {}
        for dtype, suffix, size in (("float32", "f", 4), ("float64", "", 8)):
            lanes = vector_bytes() // size
            sym = f"_ZGV{isa}N{lanes}v_{fname}{suffix}"
            if hasattr(lib, sym):
                variants[f"{dtype}x{lanes}"] = sym
        if not variants:
            continue
        if opname in ("tirx.log1p", "tirx.erf"):    # stock TVM scalarizes a loop holding these
            _register_once(opname, "TVectorizable", True)

        def rule(call, _variants=variants, _default=default):
            sym = _variants.get(str(call.ty))
            if sym is not None:
                return tirx.call_pure_extern(str(call.ty), sym, *call.args)
            split = _split_wide_call(call, _variants)
            if split is not None:
                return split
            narrow = _pad_narrow_call(call, _variants)
            if narrow is not None:
                return narrow
            return _default(call) if _default is not None else call

        _register_once(opname, "llvm.FLowerIntrinsic", rule)
    mvec_enabled = True


def _register_once(opname, attr, value, level=100):
    """Register an op attribute at tvmsym's level unless an earlier import of this module
    did (TVM's op registry outlives a module re-imported after a Ctrl-C, and refuses a
    second registration at the same level)."""
    try:
        tvm.ir.register_op_attr(opname, attr, value, level=level)
    except Exception:       # noqa: BLE001  (already registered by a previous import)
        pass


_setup_mvec()


def _unwrap_type_checked(cls):
    """Call ``cls``'s methods without TVM's Python-side argument type checker
    (``s_tir.schedule._type_checker.type_checked``: ``inspect.signature`` binding and a
    typing walk on every schedule primitive, ~1/3 of a kernel's schedule time).  tvmsym's
    schedules pass well-typed arguments; a wrong one still fails in TVM's C++ checks."""
    n = 0
    for name, fn in list(vars(cls).items()):
        inner = getattr(fn, "__wrapped__", None)
        if inner is not None and getattr(fn, "__qualname__", "") == getattr(inner, "__qualname__", None) \
                and "type_checked" in getattr(fn, "__code__", inner.__code__).co_qualname:
            setattr(cls, name, inner)
            n += 1
    return n


if not os.environ.get("TVMSYM_TVM_TYPE_CHECKS"):
    _unwrap_type_checked(s_tir.Schedule)

#: seconds this module's import took (TVM's import and set-up; bench/bench_warm.py prints it)
import_seconds = time.perf_counter() - _import_t0


# ------------------------------------------------------------------ building
INT32_ELEMENTS = 2 ** 31 - 1


def create_prim_func(tensors):
    """``te.create_prim_func`` with 64-bit index arithmetic when some tensor (or loop nest)
    holds 2**31 elements or more: TVM's default int32 indices overflowed there (a negative
    ``loop_partition`` factor, "Literal value ... exceeds range of int32")."""
    def big(t):
        try:
            n = 1
            for d in t.shape:
                n *= int(d)
            return n > INT32_ELEMENTS
        except (TypeError, ValueError):     # a symbolic extent
            return False
    seen, stack, wide = set(), list(tensors), False
    while stack and not wide:
        t = stack.pop()
        if not hasattr(t, "shape") or id(t) in seen:
            continue
        seen.add(id(t))
        wide = big(t)
        stack.extend(getattr(t.op, "input_tensors", []))
    return te.create_prim_func(tensors, index_dtype_override="int64" if wide else None)


_SIG = re.compile(r'T\.Buffer\(([^()]*(?:\([^()]*\))?[^()]*)\)')


def prim_func(tensors):
    """``te.create_prim_func(tensors)``, with each variable defined once: a Let-bound value
    (the special functions' kernels bind theirs) that two consumers read appears twice in
    the tree, which TIR's well-formedness check rejects; ConvertSSA renames the copies."""
    func = create_prim_func(tensors)        # 64-bit indices where sizes need them
    if tvm.tirx.analysis.verify_well_formed(func, assert_mode=False):
        return func
    return tvm.tirx.transform.ConvertSSA()(tvm.IRModule({"main": func}))["main"]


def relax_alignment(func, align_of):
    """Return ``func`` with its parameter buffers declaring ``align_of(dtype)`` bytes.

    TVM assumes 64-byte aligned buffers; numpy gives 16 (or element) alignment, and a
    misaligned array in a vectorized kernel faults.  Declaring element alignment
    makes LLVM emit unaligned vector loads, which cost nothing on x86.

    In TVM 0.27 a buffer is a ``Var`` whose ``BufferType`` holds ``data_alignment``:
    each parameter buffer is re-declared with the smaller alignment and substituted
    everywhere in the function (params, loads, stores, sblock reads/writes) by one
    ``tvm_ffi.structural_map`` (~0.5 ms, vs ~25-40 ms for the TVMScript round trip,
    which stays as the fallback).
    """
    global relax_fallbacks
    try:
        return _relax_alignment_structural(func, align_of)
    except Exception:       # an unforeseen IR form: the slow but general text path
        relax_fallbacks += 1
        return _relax_alignment_text(func, align_of)


relax_fallbacks = 0     # how many kernels took the text path (tests assert none do)


def _relax_alignment_structural(func, align_of):
    from tvm.tirx.buffer import is_buffer_var
    new = {}
    for p in func.params:
        if not is_buffer_var(p):
            continue            # scalar parameters
        t = p.ty
        align = align_of(str(t.dtype))
        if t.data_alignment <= align:
            continue
        new[p] = tirx.decl_buffer(t.shape, t.dtype, p.name, None, t.strides, t.elem_offset,
                                  t.storage_scope, align, t.offset_factor, layout=t.layout)
    if not new:
        return func
    out = tvm_ffi.structural_map(func, (tvm.ir.Var, lambda v: new.get(v, v)), order="post")
    # every use must now be the re-declared buffer (a missed one keeps `align 64` loads)
    if any(not q.same_as(new.get(p, p)) for p, q in zip(func.params, out.params)):
        raise RuntimeError("relax_alignment: parameters were not substituted")
    return out


def _relax_alignment_text(func, align_of):
    """The TVMScript round trip: print, rewrite ``T.Buffer(..., align=N)``, re-parse."""
    text = func.script()
    head, sep, body = text.partition("):\n")
    def fix(m):
        inner = m.group(1)
        dt = re.search(r'"(\w+)"', inner).group(1)
        return f"T.Buffer({inner}, align={align_of(dt)})"
    head = _SIG.sub(fix, head)
    return _from_source(head + sep + body)


class _NoStack:
    """``inspect`` for TVMScript's ``prim_func(...)`` decorator without ``inspect.stack()``:
    parsing text evaluates ``@T.prim_func(s_tir=True)`` only for its dispatch token, yet that
    call walks (and reads the source of) every frame, ~60% of a kernel build under pytest."""

    def __getattr__(self, name):
        return getattr(inspect, name)

    @staticmethod
    def stack(*args, **kwargs):
        return []


def _from_source(text):
    from tvm.tirx.script.parser import entry
    real = entry.inspect
    entry.inspect = _NoStack()
    try:
        return tvm.script.from_source(text)
    finally:
        entry.inspect = real


# The kernels' own argument checks (the packed-call wrapper's dtype, ndim, shape, stride,
# alignment and device asserts: most of a small kernel's code and ~40% of its build) are
# left out: every caller checks them first (runtime/function.py filters dtypes and ndims, a
# build is keyed by its input shapes, runtime/executor.py passes C-contiguous aligned arrays
# and allocates every output and temporary itself; tests/test_kernel_args.py).
BUILD_CONFIG = {"tirx.disable_assert": True}


def _compile(mod, target, objects_dir=None):
    """``tvm.compile`` under tvmsym's build configuration (``BUILD_CONFIG``); llvm kernels
    are built in groups on every core (``_parallel_build``: the same machine code, passes
    that cannot change it skipped; ``objects_dir``: the groups' object files go there)."""
    if target.kind.name == "llvm":
        from . import _parallel_build
        return _parallel_build.build(mod, target, BUILD_CONFIG, objects_dir)
    with tvm.transform.PassContext(config=BUILD_CONFIG):
        return _fastimport.compile_tir(mod, target)     # tvm.compile for TIR modules


def compile_module(mod, target, stream=None):
    """``tvm.compile``; with ``config.cache`` an llvm module is also kept as a shared library
    under ``config.compiledir/kernels`` and a later process loads it instead of building.
    ``stream``: a ``_parallel_build.Stream`` that was handed ``mod``'s kernels as they were
    lowered (and compiled some of them already): it finishes the build."""
    from .config import config
    if getattr(config, "cache", False) and target.kind.name == "llvm":
        return _cached_compile(mod, target, _kcache.kernel_dir(), stream)
    if stream is not None:
        try:
            return stream.finish()
        finally:
            stream.cleanup()
    return _compile(mod, target)


def stream_for(target):
    """A ``_parallel_build.Stream`` for kernels built for ``target`` (llvm), or None."""
    if target.kind.name != "llvm":
        return None
    from . import _parallel_build
    from .config import config
    if _parallel_build.workers() < 2:
        return None
    return _parallel_build.Stream(target, BUILD_CONFIG, objects=bool(getattr(config, "cache", False)))


# ------------------------------------------------------------------ on-disk compile cache
cache_stats = _kcache.stats     # (in cache.py: runtime/warm.py counts its library loads too)


@functools.lru_cache(maxsize=None)
def _code_salt():
    """What else decides the machine code: TVM, this module's lowering rules (libmvec)."""
    with open(__file__, "rb") as fh:
        src = hashlib.sha256(fh.read()).hexdigest()
    return f"{tvm.__version__}|{src}|mvec={mvec_enabled}|{vector_bytes()}|{sorted(BUILD_CONFIG.items())}"


def cache_key(mod, target):
    """sha256 of (TVM version, tvmsym lowering rules, target, the module's structural hash
    and every kernel's name and structural hash).  (The module's TVMScript text was part of
    it: printing cost ~5 ms per kernel, 5% of a cold start; the hashes are stable across
    processes and cover the whole IR, constants' bits included.)"""
    funcs = sorted((gv.name_hint, tvm_ffi.structural_hash(f)) for gv, f in mod.functions.items())
    h = hashlib.sha256()
    for part in (_code_salt(), str(target), str(tvm_ffi.structural_hash(mod)), repr(funcs)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


def _cached_compile(mod, target, cachedir, stream=None):
    """Load ``mod``'s library from the cache when its entry verifies (tvmsym/cache.py: owner,
    permissions, manifest naming this key, size, hash, complete ELF), else build and store it.
    Any cache trouble leaves a working in-memory build (warned once per directory)."""
    if not _kcache.prepare_dir(cachedir):
        if stream is not None:
            try:
                return stream.finish()
            finally:
                stream.cleanup()
        return _compile(mod, target)
    key = cache_key(mod, target)
    lib_path, why = _kcache.verify_entry(cachedir, key)
    if lib_path is not None:
        try:
            loaded = load_library(lib_path)
            _check_exports(loaded, mod)
            cache_stats["hits"] += 1
            _kcache.touch(lib_path)         # mtime = last use (least recently used go first)
            if stream is not None:
                stream.cancel()             # (kernels it compiled already are dropped)
            return _LoadedExecutable(loaded, mod, target, key=key)
        except Exception:       # unloadable despite its checksum: rebuild it below
            cache_stats["errors"] += 1
    elif why != "missing":
        cache_stats["errors"] += 1          # corrupted, half written or foreign: rebuild
    cache_stats["misses"] += 1
    own = stream is None
    if own:
        from . import _parallel_build
        stream = _parallel_build.Stream(target, BUILD_CONFIG, objects=True)
    try:
        # (each group's object file written by its worker)
        ex = _compile(mod, target, stream.objects_dir) if own else stream.finish()
        tmp = os.path.join(cachedir, f"{key}.{os.getpid()}.tmp.so")
        try:
            mtime_before = _mtime_ns(cachedir)
            ex.export_library(tmp, fcompile=_link if _LD else _cc_link)
            lib_path = _kcache.store_entry(cachedir, key, tmp)
            _prune(cachedir, key, os.path.getsize(lib_path), mtime_before)
            # run the exported machine code: using ``ex`` would generate it again (LLVM's JIT)
            loaded = load_library(lib_path)
            _check_exports(loaded, mod)
            return _LoadedExecutable(loaded, mod, target, ex, key=key)
        except Exception as e:      # read-only or full disk, no linker, ...: the build is fine
            cache_stats["errors"] += 1
            try:
                os.unlink(tmp)
            except OSError:
                pass
            _kcache.warn_once("write", cachedir, f"cannot store kernels in {cachedir} "
                              f"({type(e).__name__}: {e}); they are built in memory")
        return ex
    finally:
        stream.cleanup()


def load_library(path):
    """The runtime module of the kernel library at ``path``, not pinned for the process.

    ``tvm.runtime.load_module`` (tvm_ffi's ``keep_module_alive=True``) adds every library
    to a process-wide registry that is never emptied, so each library stayed mapped after
    the functions using it were gone.  Kernel libraries register no global functions, so
    they can go with their last user: the module and every kernel function taken from it
    hold references to the library, which is unloaded (``dlclose``) when the last of them
    is released (a library shared by a live function stays)."""
    return tvm_ffi.load_module(os.path.realpath(path), keep_module_alive=False)


def _check_exports(loaded, mod):
    """The loaded library defines every kernel of ``mod`` (another graph's library copied
    under this key would miss some)."""
    for gv in mod.get_global_vars():
        if not loaded.implements_function(gv.name_hint):
            raise RuntimeError(f"cached library lacks kernel {gv.name_hint!r}")


_dir_state = {}     # cachedir -> (bytes after our last write, dir mtime after it, scan time)


def _mtime_ns(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _prune(cachedir, key, written, mtime_before):
    """Keep the directory under ``config.cache_max_mb`` (least recently used entries go).

    Listing the directory costs ~10 us per entry, so this process keeps a running total
    and rescans only when the total nears the cap, when the directory changed since our
    last write (``mtime_before``, taken before this write started, moved: another process
    wrote or removed something), or 30 s after the last scan.  Processes writing at the
    same instant may miss each other's entry: the cap is then exceeded by those until the
    next write."""
    from .config import config
    cap = int(float(getattr(config, "cache_max_mb", 0) or 0) * 2 ** 20)
    if cap <= 0:
        return
    now = time.monotonic()
    est, dir_mtime, when = _dir_state.get(cachedir, (None, None, 0.0))
    if est is not None and est + written <= 0.9 * cap and now - when < 30 \
            and mtime_before is not None and mtime_before == dir_mtime:
        left = est + written
    else:
        n, _, left = _kcache.prune(cachedir, cap, keep=(key,))
        cache_stats["pruned"] += n
        when = now
    _dir_state[cachedir] = (left, _mtime_ns(cachedir), when)


_LD = shutil.which("ld")


def _link(output, objects, options=None, aliases=(), **kwargs):
    """Link the kernel objects alone (``ld -shared``, ~2x faster than the g++ driver); their
    libm/libmvec/runtime symbols resolve from the process when the library is loaded.
    ``aliases``: (new symbol, existing symbol) pairs (kernels compiled once for two names)."""
    subprocess.run([_LD, "-shared", "-o", output, *objects,
                    *(f"--defsym={a}={b}" for a, b in aliases)], check=True, capture_output=True)


def _cc_link(output, objects, options=None, aliases=(), **kwargs):
    """No ``ld`` on PATH: TVM's compiler driver (``g++ -shared``)."""
    from tvm.support import cc
    cc.create_shared(output, objects, options=[f"-Wl,--defsym={a}={b}" for a, b in aliases])


class _LoadedExecutable:
    """A cached library standing in for ``tvm.compile``'s Executable: kernels come from the
    loaded library; ``.mod.inspect_source`` (ll/asm text) builds the module on demand."""

    def __init__(self, loaded, irmod, target, built=None, key=None):
        self.mod = _LoadedModule(loaded, irmod, target, built)
        self.cache_key = key        # the entry's key (runtime/warm.py refers to it)

    def __getitem__(self, name):
        return self.mod[name]


class _LoadedModule:
    def __init__(self, loaded, irmod, target, built=None):
        self._loaded, self._irmod, self._target, self._built = loaded, irmod, target, built

    def __getitem__(self, name):
        return self._loaded[name]

    def __getattr__(self, name):
        return getattr(self._loaded, name)

    def inspect_source(self, fmt=""):
        if self._built is None:
            self._built = _compile(self._irmod, self._target)
        return self._built.mod.inspect_source(fmt)
