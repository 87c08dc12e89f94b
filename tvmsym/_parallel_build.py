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

import os
import threading
import time

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

stats = {"groups": 0, "parallel_builds": 0}
#: the last build's groups and each worker's CPU seconds (bench_compile.py prints them)
last = {"groups": 0, "thread_cpu": []}


def workers():
    """Threads a build may use: ``config.build_workers``, 0 = the CPUs this process may use."""
    from .config import config
    n = int(getattr(config, "build_workers", 0) or 0)
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


def _groups(mod, n_workers):
    """[(IRModule, compact)] covering ``mod``'s functions, largest first."""
    from ._tvm import tvm
    need, other = [], []
    for gv, f in mod.functions.items():
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
    if n_workers == 1 or len(out) == 1:
        # one compile: compaction as soon as one kernel needs it
        return [(tvm.IRModule(dict(p for _, _, part in out for p in part)),
                 any(c for _, c, _ in out))]
    out.sort(key=lambda t: -t[0])
    return [(tvm.IRModule(dict(part)), compact) for _, compact, part in out]


def _compile_one(sub, target, config, compact):
    from ._tvm import tvm
    disabled = list(GPU_ONLY_PASSES) + ([] if compact else [COMPACT])
    with tvm.transform.PassContext(config=config, disabled_pass=disabled):
        return tvm.compile(sub, target=target)


def build(mod, target, config, objects_dir=None):
    """Compile ``mod`` (llvm kernels) across the workers; returns a ``MultiExecutable``.

    ``objects_dir``: each group's object file is also written there by its worker (the
    machine code is generated there, in parallel), for ``export_library``; without it each
    group's code is generated in its worker by LLVM's JIT (the first function lookup)."""
    n = workers()
    groups = _groups(mod, n)
    stats["groups"] += len(groups)
    results = [None] * len(groups)
    errors = []
    lock = threading.Lock()
    todo = list(range(len(groups)))

    cpu = []

    def run():
        c0 = time.thread_time()
        try:
            _run()
        finally:
            cpu.append(time.thread_time() - c0)

    def _run():
        while True:
            with lock:
                if not todo or errors:
                    return
                i = todo.pop(0)
            sub, compact = groups[i]
            try:
                ex = _compile_one(sub, target, config, compact)
                if objects_dir is not None:
                    path = os.path.join(objects_dir, f"g{i}.o")
                    ex.mod.write_to_file(path)
                else:
                    path = None
                    ex.mod.get_function(sub.get_global_vars()[0].name_hint)     # JIT here
                results[i] = (ex, sub, path)
            except BaseException as e:      # noqa: BLE001  (re-raised by the caller)
                with lock:
                    errors.append(e)
                return

    threads = []
    if len(groups) > 1 and n > 1:
        stats["parallel_builds"] += 1
        for _ in range(min(n, len(groups)) - 1):
            t = threading.Thread(target=run, name="tvmsym-build", daemon=True)
            t.start()
            threads.append(t)
    run()
    for t in threads:
        t.join()
    last.update(groups=len(groups), thread_cpu=sorted(cpu, reverse=True))
    if errors:
        raise errors[0]
    return MultiExecutable(results)


class MultiExecutable:
    """The executables of a build's groups, used as one (``tvm.compile``'s Executable API
    that tvmsym uses: ``ex[name]``, ``ex.mod[name]``, ``ex.mod.inspect_source``,
    ``ex.export_library``)."""

    def __init__(self, parts):
        self.parts = parts
        self.mod = _MultiModule(self)
        self._where = {}
        for ex, sub, _ in parts:
            for gv in sub.get_global_vars():
                self._where[gv.name_hint] = ex

    def __getitem__(self, name):
        return self.mod[name]

    def export_library(self, path, fcompile=None, **kwargs):
        """One shared library of every group's object (written by the workers)."""
        objects = [p for _, _, p in self.parts]
        if any(p is None for p in objects) or fcompile is None:
            raise RuntimeError("MultiExecutable.export_library needs the groups' objects "
                               "(build(..., objects_dir=...)) and a linker (fcompile)")
        fcompile(path, objects)


class _MultiModule:
    def __init__(self, owner):
        self._owner = owner

    def __getitem__(self, name):
        ex = self._owner._where.get(name)
        if ex is None:
            raise AttributeError(f"no kernel {name!r} in this build")
        return ex.mod[name]

    def implements_function(self, name, query_imports=False):
        return name in self._owner._where

    def inspect_source(self, fmt=""):
        return "\n".join(ex.mod.inspect_source(fmt) for ex, _, _ in self._owner.parts)

    @property
    def imports(self):
        return []
