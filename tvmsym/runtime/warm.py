"""Warm start: a function's build found in the on-disk cache before any lowering.

A build is keyed (``build_key``) by everything that decides its code and its step list:

* the graph after the rewrites (``graph_key``: every node's op class and ``__props__``, the
  variables' types, the constants' bytes, in topological order),
* the signature the build is keyed on (``function.build_signature``),
* the target (llvm and this CPU's features), the tvmsym sources that lower, schedule and run
  kernels, the TVM and tvm_ffi versions, the build configuration and the flags that may
  change code (``_key_flags``).

A cold build that qualifies (llvm, every step a plain kernel or an empty one, the kernel
library in the disk cache) writes ``<key>.meta`` beside the libraries: the slot plan, the
step list (kernel names, argument slots, output shapes and dtypes, inplace aliases), the
build-time constant values and the library's cache key.  It is written under the cache's
HMAC like the libraries (``cache.store_blob``).  A later call with that key, in this
process or a new one, loads the library (``loader.py``: ``tvm_ffi`` and the TVM runtime
library only) and runs: no lowering, no scheduling, no TVM pass, no ``import tvm``.
A stale or corrupt entry is rebuilt.  A graph ``graph_key`` cannot encode exactly (an op
prop it does not know) is never looked up: it builds as before.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import types

import numpy as np

from .. import cache as _kcache
from ..config import config

KEY_VERSION = "tvmsym-warm-v1"
META_FORMAT = 2

stats = {"hits": 0, "misses": 0, "stored": 0, "stale": 0, "load_s": 0.0}   # load_s: seconds in load()


# --------------------------------------------------------------------------- graph key
class Unkeyable(Exception):
    """The graph holds a value the key cannot encode exactly: no warm lookup."""


def _enc(x, out, memo):
    """Append an exact, process-independent encoding of ``x`` to ``out``."""
    t = type(x)
    if x is None or t in (bool, int, str):
        out.append(f"{t.__name__}:{x!r}")
        return
    if t is float:
        out.append(f"f:{x.hex()}")
        return
    if isinstance(x, np.generic):
        out.append(f"g:{x.dtype.str}:{x.tobytes().hex()}")
        return
    if isinstance(x, np.ndarray):
        d = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        out.append(f"a:{x.dtype.str}:{x.shape}:{d}")
        return
    if isinstance(x, np.dtype):
        out.append(f"d:{x.str}")
        return
    if t in (tuple, list):
        k = id(x)
        if k in memo:
            out.append(memo[k])
            return
        sub = []
        for e in x:
            _enc(e, sub, memo)
        h = "T" + hashlib.sha256("\x1f".join(sub).encode()).hexdigest()[:32] + f"#{len(x)}"
        memo[k] = h
        out.append(h)
        return
    if t in (dict,):
        items = []
        for k, v in x.items():
            sub = []
            _enc(k, sub, memo)
            _enc(v, sub, memo)
            items.append("\x1e".join(sub))
        out.append("D(" + "\x1f".join(sorted(items)) + ")")
        return
    if t in (set, frozenset):
        items = []
        for e in x:
            sub = []
            _enc(e, sub, memo)
            items.append(sub[0])
        out.append("S(" + "\x1f".join(sorted(items)) + ")")
        return
    if isinstance(x, type):
        out.append("C:" + _qualname(x))
        return
    if isinstance(x, (types.FunctionType, types.BuiltinFunctionType)):
        out.append("F:" + _qualname(x))
        return
    props = getattr(t, "__props__", None)
    if props is not None:           # ops (and types) are equal by their props
        k = id(x)
        if k in memo:
            out.append(memo[k])
            return
        from ..symbolic.inner import InnerGraphOp
        if isinstance(x, InnerGraphOp):
            raise Unkeyable(f"inner graph op {x}")
        sub = ["O:" + _qualname(t)]
        for p in props:
            _enc(getattr(x, p), sub, memo)
        h = "\x1d".join(sub)
        memo[k] = h
        out.append(h)
        return
    if hasattr(x, "dtype") and hasattr(x, "broadcastable"):       # a tensor type
        out.append(f"Y:{_qualname(t)}:{x.dtype}:{tuple(x.broadcastable)}:"
                   f"{getattr(x, 'format', '')}:{getattr(x, 'shape', '')}")
        return
    raise Unkeyable(f"cannot key a {t.__name__} ({x!r:.80})")


def _qualname(obj):
    q = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"
    if "<locals>" in q or "<lambda>" in q:
        raise Unkeyable(f"local function or class {q}")
    return q


def graph_key(fg):
    """sha256 of the rewritten graph ``fg`` (inputs, nodes in topological order, outputs),
    or raise ``Unkeyable``."""
    from ..symbolic.graph import Constant
    memo, out = {}, []
    ref = {v: f"i{k}" for k, v in enumerate(fg.inputs)}
    for v in fg.inputs:
        _enc(v.type, out, memo)
    for j, node in enumerate(fg.toposort()):
        line = [f"n{j}"]
        _enc(node.op, line, memo)
        for v in node.inputs:
            if v in ref:
                line.append(ref[v])
            elif isinstance(v, Constant):
                line.append("c")
                _enc(v.type, line, memo)
                _enc(np.asarray(v.data), line, memo)
            else:
                raise Unkeyable(f"input {v} of {node} is not produced by the graph")
        for o, v in enumerate(node.outputs):
            ref[v] = f"n{j}.{o}"
            _enc(v.type, line, memo)
        out.append("\x1c".join(line))
    for v in fg.outputs:
        if v in ref:
            out.append("o" + ref[v])
        elif isinstance(v, Constant):
            out.append("oc")
            _enc(np.asarray(v.data), out, memo)
        else:
            raise Unkeyable(f"output {v}")
    out.append(f"user_outputs={getattr(fg, 'n_user_outputs', None)}")
    return hashlib.sha256("\n".join(out).encode()).hexdigest()


# --------------------------------------------------------------------------- environment
_SOURCES = ("",)       # every tvmsym source: ops' shape rules, lowering, schedules, executor
_NO_CODE_FLAGS = {"compiledir", "cache", "cache_max_mb", "profile", "print_global_stats",
                  "print_test_value", "on_unused_input", "compute_test_value", "distributed_timeout"}
_env_cache = {}


def _source_digest():
    """sha256 of the tvmsym sources (the ops' shape rules, lowering, schedules and the
    executor decide kernels and step lists; ~1 MB read once per process)."""
    h = _env_cache.get("src")
    if h is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        files = []
        for rel in _SOURCES:
            p = os.path.join(root, rel)
            if os.path.isdir(p):
                for d, _, fs in os.walk(p):
                    files += [os.path.join(d, f) for f in fs if f.endswith(".py")]
            elif os.path.exists(p):
                files.append(p)
        m = hashlib.sha256()
        for p in sorted(files):
            m.update(os.path.relpath(p, root).encode())
            with open(p, "rb") as fh:
                m.update(hashlib.sha256(fh.read()).digest())
        h = _env_cache["src"] = m.hexdigest()
    return h


def _versions():
    """TVM's and tvm_ffi's versions (their dist-info names: ``importlib.metadata`` scans all of
    sys.path, ~120 ms) and their libraries' sizes and mtimes (a rebuilt TVM of one version)."""
    v = _env_cache.get("ver")
    if v is None:
        import importlib.util
        parts = []
        for pkg, dist in (("tvm", "apache_tvm-"), ("tvm_ffi", "apache_tvm_ffi-")):
            spec = importlib.util.find_spec(pkg)
            if spec is None or not spec.submodule_search_locations:
                parts.append(f"{pkg}=?")
                continue
            pdir = list(spec.submodule_search_locations)[0]
            site = os.path.dirname(pdir)
            try:
                infos = sorted(n for n in os.listdir(site) if n.startswith(dist) and n.endswith(".dist-info"))
            except OSError:
                infos = []
            parts.append(f"{pkg}={infos}")
            for sub in ("lib", ""):
                d = os.path.join(pdir, sub)
                try:
                    names = sorted(n for n in os.listdir(d) if n.endswith(".so"))
                except OSError:
                    continue
                for n in names:
                    st = os.stat(os.path.join(d, n))
                    parts.append(f"{n}:{st.st_size}:{st.st_mtime_ns}")
        v = _env_cache["ver"] = ";".join(parts)
    return v


def _cpu_id():
    """This host's CPU, as LLVM sees it for ``mcpu`` and features (no TVM needed)."""
    c = _env_cache.get("cpu")
    if c is None:
        import platform
        info = ""
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    if line.startswith(("model name", "flags", "vendor_id", "cpu family", "model\t")):
                        info += line
                    elif not line.strip() and info:
                        break
        except OSError:
            pass
        c = _env_cache["cpu"] = hashlib.sha256(
            f"{platform.machine()}|{info}|mvec={os.environ.get('TVMSYM_NO_MVEC', '')}".encode()).hexdigest()
    return c


def _threads_id():
    """The pool a build's schedules are made for (``lowering.machine.host``: kernels parallel
    or serial by its size): a build made with ``TVM_NUM_THREADS=1`` ran serial in a two-thread
    process that found it in the cache.  As ``config.cap_num_threads``/``_tvm`` will set it
    (unset or out of range: the CPUs), so the key is the same before and after they run."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        n = int(os.environ.get("TVM_NUM_THREADS", ""))
    except ValueError:
        n = 0
    return f"threads={n if 1 <= n <= cpus else cpus}"


def _key_flags():
    return sorted((n, repr(getattr(config, n))) for n in config._flags if n not in _NO_CODE_FLAGS)


def build_key(gkey, signature, target_kind):
    """The cache key of a build: graph, signature, target, versions, sources, flags."""
    h = hashlib.sha256()
    for part in (KEY_VERSION, gkey, repr(signature), target_kind, _cpu_id(), _versions(),
                 _source_digest(), "disable_assert", repr(_key_flags()), _threads_id()):
        h.update(part.encode())
        h.update(b"\0")
    return "w" + h.hexdigest()[:39]


# --------------------------------------------------------------------------- light target
class LightTarget:
    """``device=cpu`` before TVM is imported: what ``Function`` asks of a target (kind,
    ``places``), the full ``TargetInfo`` (``tvm_target``, ...) resolved on first need."""

    kind = "llvm"
    arch = ""

    def __str__(self):
        return "llvm"

    def places(self, op):
        return False

    def device_available(self):
        return True

    def check_device(self, what="this function"):
        return None

    @property
    def machine(self):
        from ..lowering.machine import for_kind
        return for_kind("llvm")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        from .function import _backend
        return getattr(_backend().get_target("cpu"), name)

    def __eq__(self, other):
        return getattr(other, "kind", None) == "llvm" and not getattr(other, "arch", "")

    def __hash__(self):
        return hash("llvm")


def light_target(name):
    """A ``LightTarget`` when ``name`` (or ``config.device``) is the cpu and the kernel cache
    is on, else None (the caller asks the targets package)."""
    if not getattr(config, "cache", False) or os.environ.get("TVMSYM_NO_WARM"):
        return None
    if name is None:
        name = config.device
    return LightTarget() if isinstance(name, str) and name in ("cpu", "llvm") else None


# --------------------------------------------------------------------------- entries
def _cachedir():
    try:
        d = _kcache.kernel_dir()
    except ValueError:
        return None
    return d if _kcache.prepare_dir(d) else None


def store(key, build, extra=None):
    """Write ``key``'s entry for the fresh ``build`` when it qualifies (see module doc);
    ``extra``: more fields of the entry's head (runtime/warm_generic.py)."""
    from .steps import Kind
    cd = _cachedir()
    lib_key = getattr(getattr(build.backend, "lib", None), "cache_key", None)
    if cd is None or lib_key is None or build.uses_device or build.loopback or build.checks:
        return False
    if getattr(build, "dev_const_values", None) or getattr(build, "kernel_src", None):
        return False        # (kernels borrowed from another build's library: not one entry)
    from .complex_support import touches_complex
    from .sparse_support import plan_has_sparse
    if plan_has_sparse(build.plan):
        return False
    order = {n: j for j, n in enumerate(build.plan.fgraph.toposort())}
    steps = []
    for rec in build.steps:
        if rec.kind not in (Kind.KERNEL, Kind.EMPTY) or rec.on_device or rec.step.check is not None:
            return False
        if touches_complex(rec.step) or rec.step.node not in order:
            return False
        steps.append([rec.kind.name, order[rec.step.node], rec.name or "", list(rec.ins),
                      [[s, list(map(int, shape)), str(dt)] for s, shape, dt in rec.outs],
                      [[int(o), int(s)] for o, s in rec.inplace.items()]])
    consts, blobs, off = [], [], 0
    for s, a in build.const_values:
        if not isinstance(a, np.ndarray) or a.dtype.hasobject:
            return False
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        consts.append([int(s), a.dtype.str, list(a.shape), off, len(b)])
        blobs.append(b)
        off += len(b)
    head = {"format": META_FORMAT, "lib": lib_key, "n_slots": build.n_slots,
            "n_inputs": len(build.plan.fgraph.inputs), "steps": steps, "consts": consts,
            "out_slots": list(build.out_slots), "out_is_input": [bool(x) for x in build.out_is_input],
            "input_shapes": [list(map(int, sh)) for sh in getattr(build, "input_shapes", ())]}
    head.update(extra or {})
    data = json.dumps(head).encode() + b"\n" + b"".join(blobs)
    try:
        _kcache.store_blob(cd, key, data)
    except OSError:
        return False
    stats["stored"] += 1
    return True


def load(key, fgraph):
    """The ``WarmBuild`` of ``key`` for ``fgraph``, or None (missing, stale or corrupt)."""
    from time import perf_counter
    t0 = perf_counter()
    try:
        return _load(key, fgraph)
    finally:
        stats["load_s"] += perf_counter() - t0


def _load(key, fgraph):
    cd = _cachedir()
    if cd is None:
        return None
    data, why = _kcache.load_blob(cd, key)
    if data is None:
        if why != "missing":
            stats["stale"] += 1
        stats["misses"] += 1
        return None
    try:
        nl = data.index(b"\n")
        head = json.loads(data[:nl])
        if head.get("format") != META_FORMAT or head["n_inputs"] != len(fgraph.inputs):
            raise ValueError("format")
        lib_path, lwhy = _kcache.verify_entry(cd, head["lib"])
        if lib_path is None:
            raise ValueError(f"library: {lwhy}")
        from .loader import load_library
        lib = load_library(lib_path, [s[2] for s in head["steps"] if s[0] == "KERNEL"])
        b = WarmBuild(head, data[nl + 1:], fgraph, lib)
    except Exception:  # noqa: BLE001  (stale or corrupt: the caller builds it again)
        if os.environ.get("TVMSYM_WARM_DEBUG"):
            import traceback
            traceback.print_exc()
        stats["stale"] += 1
        stats["misses"] += 1
        return None
    _kcache.touch(lib_path)
    _kcache.touch(os.path.join(cd, key + _kcache.META_SUFFIX))
    _kcache.stats["hits"] += 1          # a kernel library loaded from the cache
    stats["hits"] += 1
    return b


# --------------------------------------------------------------------------- the build
class _Step:
    """What a loaded build's records need of a plan step (errors name the node)."""

    check = None
    kind = "tvm"

    def __init__(self, node, name):
        self.node, self.name = node, name
        self.inputs, self.outputs, self.inlined = list(node.inputs), list(node.outputs), []


class _Plan:
    def __init__(self, fgraph, steps):
        self.fgraph, self.steps, self.value_inputs = fgraph, steps, []


class _LoadedBackend:
    has_device = False

    def __init__(self, lib, full):
        self.lib, self._full = lib, full

    @property
    def mod(self):
        """The IRModule of the kernels (introspection): built again, in memory, on demand."""
        return self._full().mod

    def kernel(self, on_device, name):
        return self.lib[name]

    def device(self, what="this function"):
        return None

    def as_text(self, stage):
        return self._full().as_text(stage)


def _warm_build_class():
    from .executor import Build

    class WarmBuild(Build):
        """A ``Build`` made from a cache entry (``store``): same records, same per-call
        loops; ``as_text`` builds the kernels in memory on demand."""

        def __init__(self, head, blob, fgraph, lib, full=None):
            from .steps import Kind, StepRecord
            nodes = fgraph.toposort()
            self.target = LightTarget()
            self.loopback = False
            self.backend = _LoadedBackend(lib, self._full_build)
            self._full_args = full
            self.n_slots = head["n_slots"]
            self.steps, wsteps = [], []
            for kind, j, name, ins, outs, inplace in head["steps"]:
                st = _Step(nodes[j], name)
                wsteps.append(st)
                self.steps.append(StepRecord(Kind[kind], st, list(ins),
                                             [(s, tuple(shape), dt) for s, shape, dt in outs],
                                             {o: s for o, s in inplace}, False, name or None))
            self.plan = _Plan(fgraph, wsteps)
            self.const_values = []
            for s, dt, shape, off, n in head["consts"]:
                a = np.frombuffer(blob, dtype=np.dtype(dt), count=n // max(np.dtype(dt).itemsize, 1),
                                  offset=off).reshape(shape).copy()    # writable: DLPack
                self.const_values.append((s, a))
            self.dev_const_values, self._dev_consts = [], None
            self.checks, self.values, self.slot, self.shapes = {}, {}, {}, {}
            self.times = {"lower": 0.0, "schedule": 0.0, "compile": 0.0}
            self.input_shapes = [tuple(sh) for sh in head["input_shapes"]]
            self.generic = {}
            self.kernel_names = {s[2] for s in head["steps"] if s[0] == "KERNEL"}
            self.out_slots = list(head["out_slots"])
            self.out_is_input = list(head["out_is_input"])
            self.uses_device = False
            self._bind()

        def _full_build(self):
            full = self.__dict__.get("_full")
            if full is None:
                make = self.__dict__.get("_make_full")
                if make is None:
                    raise RuntimeError("this build was loaded from the kernel cache; call "
                                       "the function's as_text instead")
                full = self._full = make()
            return full

    return WarmBuild


_WarmBuild = None


def WarmBuild(head, blob, fgraph, lib):
    global _WarmBuild
    if _WarmBuild is None:
        _WarmBuild = _warm_build_class()
    return _WarmBuild(head, blob, fgraph, lib)


def in_process_without_tvm():
    return "tvm" not in sys.modules
