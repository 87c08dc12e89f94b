"""Building an IRModule of CPU kernels on every core, with the TIR passes they need.

``tvm.compile`` of one IRModule runs on one core: its pass pipeline, LLVM's optimization
and the machine code of every kernel, one after another.  ``build(mod, target, config)``
splits the kernels into groups, compiles each group by its own ``tvm.compile`` (TVM's pass
context is per thread, and its FFI calls release the GIL: two compiles run side by side on
two cores) and returns one executable-like object over all groups.  ``export_library``
links the groups' object files into ONE shared library (their symbols are distinct: one
kernel each, plus a weak entry point), so the on-disk cache keeps one file per build.

Two costs of the stock pipeline are skipped where they cannot change the code:

* ``s_tir.CompactBufferAllocation`` (a third of the pipeline's time on the W6 step: it
  analyses the regions of every intermediate buffer, slowly on symbolic extents) shrinks a
  buffer to the region its accesses touch below the allocation point.  A kernel whose
  intermediate buffers are all global-scope and allocated at the root with their accesses'
  lowest common ancestor at the root (``needs_compaction``) gets the same machine code
  without it (tests/test_parallel_build.py compares the LLVM IR); those kernels are grouped
  and built with the pass disabled.
* Passes that only act on GPU constructs (thread bindings, shared memory, warp/tensor-core
  fragments, virtual threads, VTCM): CPU kernels have none of them (``GPU_ONLY_PASSES``).

Groups are handed to the workers largest first; a build of a few kernels stays one group
(each ``tvm.compile`` has a fixed cost of ~10 ms).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref

#: passes of TVM's s_tir pipeline that only rewrite GPU (or Hexagon) constructs
GPU_ONLY_PASSES = (
    "s_tir.LowerCrossThreadReduction", "s_tir.LiftThreadBinding",
    "s_tir.ManifestSharedMemoryLocalStage", "s_tir.LowerAutoCopy", "s_tir.UnifyThreadBinding",
    "s_tir.InjectPermutedLayout", "s_tir.TransformMmaBufferLayout",
    "s_tir.InjectVirtualThread", "s_tir.InjectDoubleBuffer", "s_tir.ThreadSync",
    "s_tir.InferFragment", "s_tir.LowerThreadAllreduce", "s_tir.MergeSharedMemoryAllocations",
    "s_tir.LowerVtcmAlloc", "s_tir.VerifyVTCMLimit",
)
COMPACT = "s_tir.CompactBufferAllocation"

#: kernels per group below which a class of kernels is not split further
MIN_GROUP = 3

stats = {"groups": 0, "parallel_builds": 0, "deduplicated": 0}
#: the last build's groups and each worker's CPU seconds (bench_compile.py prints them)
last = {"groups": 0, "thread_cpu": []}


_MPI_RANK_VARS = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID")


def workers():
    """Threads a build may use: ``config.build_workers``, 0 = the CPUs this process may use."""
    from .config import config
    n = int(getattr(config, "build_workers", 0) or 0)
    if n <= 0 and any(v in os.environ for v in _MPI_RANK_VARS):
        n = 1       # a rank of an MPI job: the ranks already share the cores (and an mpich
        #             job with build threads in its ranks aborted at exit now and then)
    if n <= 0:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count() or 1
    return max(1, n)


def needs_compaction(func):
    """Whether ``CompactBufferAllocation`` can change ``func``: some intermediate buffer is
    not global, or is allocated below the root, or its accesses meet below the root (then
    its allocation moves there and is shrunk to the tile).  Params never change."""
    from ._tvm import s_tir
    body = getattr(func, "body", None)
    root = getattr(body, "block", None)
    if root is None:
        return True                         # not an sblock function: as TVM would
    allocs = list(root.alloc_buffers)
    for buf in allocs:
        if buf.scope() != "global":
            return True
    lca = s_tir.analysis.detect_buffer_access_lca(func)
    known = set(allocs) | set(func.params)
    for buf, stmt in lca.items():
        if buf not in known:
            return True                     # allocated in a nested block
        if buf in allocs and stmt is not None and not stmt.same_as(root):
            return True
    return False


class _Dedupe:
    """Kernels structurally equal to one seen before (a deep network's repeated layers, a
    long chain cut into identical fused pieces) are compiled once: ``canonical(name, func)``
    gives the name of the first such kernel, or None for a new one."""

    def __init__(self):
        self.seen = {}          # structural hash -> [(name, func without its symbol)]
        self.aliases = {}       # kernel name -> name of the identical kernel compiled

    def canonical(self, name, func):
        from ._tvm import tvm_ffi
        body = func.without_attr("global_symbol")
        h = tvm_ffi.structural_hash(body)
        for other, fn in self.seen.get(h, ()):
            if tvm_ffi.structural_equal(fn, body):
                self.aliases[name] = other
                stats["deduplicated"] += 1
                return other
        self.seen.setdefault(h, []).append((name, body))
        return None


def _groups(mod, n_workers, dedupe=None):
    """[(IRModule, compact)] covering ``mod``'s functions, largest first."""
    from ._tvm import tvm
    need, other = [], []
    for gv, f in mod.functions.items():
        if dedupe is not None and dedupe.canonical(gv.name_hint, f) is not None:
            continue
        (need if needs_compaction(f) else other).append((gv, f))
    out = []
    for items, compact in ((need, True), (other, False)):
        if not items:
            continue
        # a kernel that needs compaction is a big one (a matmul tile, a multi-output
        # reduction: 50-300 ms each): those are spread one per group if need be
        per = 1 if compact else MIN_GROUP
        k = 1 if n_workers == 1 else max(1, min(n_workers, len(items) // per))
        for j in range(k):
            part = items[j::k]
            # a compacted kernel is the slower to build (matmul tiles, multi-output reductions)
            out.append((3 * len(part) if compact else len(part), compact, part))
    if not out:
        return []
    if n_workers == 1 or len(out) == 1:
        # one compile: compaction as soon as one kernel needs it
        return [(tvm.IRModule(dict(p for _, _, part in out for p in part)),
                 any(c for _, c, _ in out))]
    out.sort(key=lambda t: -t[0])
    return [(tvm.IRModule(dict(part)), compact) for _, compact, part in out]


def _compile_one(sub, target, config, compact):
    from ._fastimport import compile_tir
    from ._tvm import tvm
    disabled = list(GPU_ONLY_PASSES) + ([] if compact else [COMPACT])
    with tvm.transform.PassContext(config=config, disabled_pass=disabled):
        return compile_tir(sub, target)     # tvm.compile for TIR (no tvm.relax import)


class _Pool:
    """Groups compiled by worker threads as they are queued; ``finish()`` compiles the rest
    with the calling thread too and returns the ``MultiExecutable``."""

    def __init__(self, target, config, objects_dir):
        self.target, self.config, self.objects_dir = target, config, objects_dir
        self.n = workers()
        self.cv = threading.Condition()
        self.queue, self.results, self.errors, self.cpu, self.threads = [], [], [], [], []
        self.closed = self.cancelled = False
        self._switch = None

    def submit(self, sub, compact, background=True):
        with self.cv:
            i = len(self.results)
            self.results.append(None)
            self.queue.append((i, sub, compact))
            self.cv.notify()
        if background and self.n > 1 and not self.threads:
            self._start(self.n - 1)

    def _start(self, k):
        if self._switch is None:
            # a worker's Python callbacks (intrinsic lowering rules) wait for the GIL while
            # the calling thread runs Python (lowering the next kernels): hand it over sooner
            self._switch = True
            _switch_interval(+1)
        for _ in range(k):
            t = threading.Thread(target=self._work, name="tvmsym-build", daemon=True)
            t.start()
            self.threads.append(t)
            _workers.add(t)

    def _work(self):
        c0 = time.thread_time()
        try:
            while True:
                with self.cv:
                    while not self.queue and not self.closed:
                        self.cv.wait()
                    if not self.queue or self.errors or self.cancelled:
                        return
                    i, sub, compact = self.queue.pop(0)
                try:
                    ex = _compile_one(sub, self.target, self.config, compact)
                    if self.objects_dir is not None:
                        path = os.path.join(self.objects_dir, f"g{i}.o")
                        ex.mod.write_to_file(path)
                    else:
                        path = None
                        ex.mod.get_function(sub.get_global_vars()[0].name_hint)     # JIT here
                    self.results[i] = (ex, sub, path)
                except BaseException as e:      # noqa: BLE001  (re-raised by finish)
                    with self.cv:
                        self.errors.append(e)
                        self.cv.notify_all()
                    return
        finally:
            self.cpu.append(time.thread_time() - c0)

    def _close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def finish(self, aliases=None):
        self._close()
        if self.n > 1 and len(self.threads) < self.n - 1 and len(self.queue) > 1:
            self._start(min(self.n - 1, len(self.queue) - 1) - len(self.threads))
        try:
            self._work()                    # the calling thread compiles too
            for t in self.threads:
                t.join()
        except BaseException:               # (Ctrl-C): the workers stop after their group
            self.cancel()
            raise
        finally:
            self._restore()
        stats["groups"] += len(self.results)
        if len(self.results) > 1 and self.n > 1:
            stats["parallel_builds"] += 1
        last.update(groups=len(self.results), thread_cpu=sorted(self.cpu, reverse=True))
        if self.errors:
            raise self.errors[0]
        return MultiExecutable(self.results, aliases)

    def cancel(self):
        """Stop (the group being compiled finishes in the background and is dropped)."""
        with self.cv:
            self.cancelled = True
            self.queue.clear()
        self._close()
        self._restore()

    def _restore(self):
        if self._switch is not None:
            self._switch = None
            _switch_interval(-1)


_switch = {"active": 0, "saved": None}
_switch_lock = threading.Lock()


def _switch_interval(delta):
    """The interpreter's switch interval is short while some build has a worker (builds of
    several threads at once: set by the first, restored by the last)."""
    with _switch_lock:
        _switch["active"] += delta
        if delta > 0 and _switch["active"] == 1:
            _switch["saved"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch["saved"], 2e-4))
        elif delta < 0 and _switch["active"] == 0 and _switch["saved"] is not None:
            sys.setswitchinterval(_switch["saved"])
            _switch["saved"] = None


#: every worker thread started (a cancelled build's worker finishes its group in the background)
_workers = weakref.WeakSet()


def _join_workers_at_exit(timeout=120.0):
    """A worker still inside ``tvm.compile`` when the interpreter finalizes takes the GIL back
    in a C++ destructor, the thread is unwound there and the process aborts ("terminate called
    without an active exception": a warm start whose library was found in the cache after its
    stream had handed groups to a worker; mpich ranks too).  Exit waits for them."""
    deadline = time.monotonic() + timeout
    for t in list(_workers):
        t.join(max(0.0, deadline - time.monotonic()))


atexit.register(_join_workers_at_exit)


def build(mod, target, config, objects_dir=None):
    """Compile ``mod`` (llvm kernels) across the workers; returns a ``MultiExecutable``.

    ``objects_dir``: each group's object file is also written there by its worker (the
    machine code is generated there, in parallel), for ``export_library``; without it each
    group's code is generated in its worker by LLVM's JIT (the first function lookup)."""
    pool = _Pool(target, config, objects_dir)
    pool.closed = True
    dedupe = _Dedupe()
    for sub, compact in _groups(mod, pool.n, dedupe):
        pool.submit(sub, compact, background=False)
    return pool.finish(dedupe.aliases)


class Stream:
    """A build whose kernels are handed over one by one as they are lowered
    (``runtime/executor.py``): full groups are compiled by a worker thread while the
    caller lowers the next kernels; ``finish()`` compiles the rest on every core.

    ``objects``: the groups' object files are written (to ``objects_dir``, a temporary
    directory this stream owns until ``cleanup()``) for one linked library."""

    #: kernels per group handed to the worker while lowering goes on (compaction: fewer)
    CHUNK = {False: 4, True: 2}

    def __init__(self, target, config, objects=False):
        import tempfile
        self.target = target
        self.objects_dir = tempfile.mkdtemp(prefix="tvmsym-objs-") if objects else None
        self.pool = _Pool(target, config, self.objects_dir)
        self.buckets = {True: [], False: []}
        self.names = []
        self.dedupe = _Dedupe()
        # a build abandoned by an exception (the stream is dropped unfinished): its worker
        # stops and its objects go
        self._finalizer = weakref.finalize(self, _abandon, self.pool, self.objects_dir)

    def add(self, name, func):
        self.names.append(name)
        if self.dedupe.canonical(name, func) is not None:
            return                          # an identical kernel is compiled already
        compact = needs_compaction(func)
        bucket = self.buckets[compact]
        bucket.append((name, func))
        if self.pool.n > 1 and len(bucket) >= self.CHUNK[compact]:
            self.pool.submit(self._module(bucket), compact)
            bucket.clear()

    @staticmethod
    def _module(items):
        from ._tvm import tvm
        return tvm.IRModule(dict(items))

    def finish(self):
        """The ``MultiExecutable`` of every kernel added."""
        from ._tvm import tvm
        rest = self.buckets[True] + self.buckets[False]
        if rest:
            mod = tvm.IRModule(dict(rest))
            n = self.pool.n if self.pool.n > 1 else 1
            for sub, compact in _groups(mod, n):
                self.pool.submit(sub, compact, background=False)
            self.buckets = {True: [], False: []}
        return self.pool.finish(self.dedupe.aliases)

    def cancel(self):
        self._finalizer()

    def cleanup(self):
        """Remove the object files (after they were linked)."""
        self._finalizer()


def _abandon(pool, objects_dir):
    pool.cancel()
    if objects_dir is not None:
        import shutil
        shutil.rmtree(objects_dir, ignore_errors=True)


class MultiExecutable:
    """The executables of a build's groups, used as one (``tvm.compile``'s Executable API
    that tvmsym uses: ``ex[name]``, ``ex.mod[name]``, ``ex.mod.inspect_source``,
    ``ex.export_library``).  ``aliases``: {kernel: identical kernel compiled in its stead}."""

    def __init__(self, parts, aliases=None):
        self.parts = parts
        self.aliases = dict(aliases or {})
        self.mod = _MultiModule(self)
        self._where = {}
        for ex, sub, _ in parts:
            for gv in sub.get_global_vars():
                self._where[gv.name_hint] = ex
        for name, other in self.aliases.items():
            self._where[name] = self._where[other]

    def __getitem__(self, name):
        return self.mod[name]

    def export_library(self, path, fcompile=None, **kwargs):
        """One shared library of every group's object (written by the workers); a kernel
        compiled once for several names gets each name as an alias symbol of its entry."""
        objects = [p for _, _, p in self.parts]
        if any(p is None for p in objects) or fcompile is None:
            raise RuntimeError("MultiExecutable.export_library needs the groups' objects "
                               "(build(..., objects_dir=...)) and a linker (fcompile)")
        fcompile(path, objects, aliases=[(f"{SYMBOL_PREFIX}{a}", f"{SYMBOL_PREFIX}{b}")
                                         for a, b in sorted(self.aliases.items())])


#: the exported symbol of kernel ``name`` is ``SYMBOL_PREFIX + name`` (tvm_ffi's library
#: modules look functions up by it)
SYMBOL_PREFIX = "__tvm_ffi_"


class _MultiModule:
    def __init__(self, owner):
        self._owner = owner

    def __getitem__(self, name):
        ex = self._owner._where.get(name)
        if ex is None:
            raise AttributeError(f"no kernel {name!r} in this build")
        return ex.mod[self._owner.aliases.get(name, name)]

    def implements_function(self, name, query_imports=False):
        return name in self._owner._where

    def inspect_source(self, fmt=""):
        text = "\n".join(ex.mod.inspect_source(fmt) for ex, _, _ in self._owner.parts)
        if self._owner.aliases:
            mark = ";" if fmt in ("ll", "llvm") else "#"
            text += "".join(f"\n{mark} kernel {a}: the same code as {b} (compiled once)"
                            for a, b in sorted(self._owner.aliases.items()))
        return text

    @property
    def imports(self):
        return []
