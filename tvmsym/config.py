"""tvmsym configuration flags.

Flags are read once from the ``TVMSYM_FLAGS`` environment variable
(``"floatX=float64,device=cpu"``), can be assigned (``config.floatX = "float64"``)
and can be changed for a block with ``config.change_flags(floatX="float64")``.
An unknown flag or a bad value raises an error listing what is valid.
"""
from __future__ import annotations

import contextlib
import os
import platform
import sys


class _Flag:
    def __init__(self, name, default, doc, choices=None, convert=None):
        self.name, self.default, self.doc = name, default, doc
        self.choices, self.convert = choices, convert

    def check(self, value):
        if self.convert is not None:
            try:
                value = self.convert(value)
            except (TypeError, ValueError) as e:
                raise ValueError(f"bad value {value!r} for config flag {self.name!r}: {e}") from None
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f"bad value {value!r} for config flag {self.name!r}; valid values: "
                + ", ".join(repr(c) for c in self.choices))
        return value


def _optimizer(v):
    if v in (None, "None", "none", ""):
        return None
    return str(v)


def _str_list(v):
    return str(v or "")


def _bool(v):
    if isinstance(v, bool):
        return v
    s = str(v).lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected a boolean (True/False/1/0)")


def _nonneg_float(v):
    v = float(v)
    if not v >= 0:
        raise ValueError("expected a number >= 0")
    return v


def _compiledir(v):
    v = str(v)
    if not v.strip():
        raise ValueError("compiledir must name a directory; an empty value would cache "
                         "kernels in the current directory")
    return v


def _default_compiledir():
    tag = "_".join([platform.system(), platform.machine(), "py" + ".".join(map(str, sys.version_info[:2]))])
    return os.path.join(os.path.expanduser("~"), ".tvmsym", f"compiledir_{tag}")


_FLAGS = [
    _Flag("floatX", "float32", "default dtype of new symbolic float variables",
          choices=("float16", "float32", "float64")),
    _Flag("device", "cpu", "where compiled functions run: cpu (llvm) or cuda",
          choices=("cpu", "cuda")),
    _Flag("mode", "FAST_RUN", "default compilation mode",
          choices=("FAST_RUN", "FAST_COMPILE", "DEBUG_MODE")),
    _Flag("optimizer", "fast_run", "graph rewrite level used by the default mode",
          choices=(None, "fast_run", "fast_compile"), convert=_optimizer),
    _Flag("optimizer_excluding", "", "colon-separated rewrite stages/tags to skip",
          convert=_str_list),
    _Flag("optimizer_including", "", "colon-separated extra rewrite tags to enable",
          convert=_str_list),
    _Flag("compiledir", _default_compiledir(), "directory for compiled artifacts and pictures",
          convert=_compiledir),
    # on by default, as Theano's compiledir: a new process loads identical kernels instead of
    # rebuilding them (keyed by TVM version, target and the scheduled module's text and hash)
    _Flag("cache", True, "keep built cpu kernels as shared libraries under compiledir/kernels "
          "and load them in later processes instead of rebuilding", convert=_bool),
    # 1 GiB: ~40,000 kernel libraries of the median size (~26 KB; 16 KB-1 MB seen), far more
    # than a project's working set, yet small next to a disk (Theano's compiledir grew unbounded)
    _Flag("cache_max_mb", 1024, "size cap (MB) of compiledir/kernels; least recently used "
          "entries are pruned when a write would exceed it (0 = no cap)", convert=_nonneg_float),
    _Flag("cuda_arch", "sm_90", "CUDA architecture the cuda target compiles for", convert=str),
    _Flag("constant_folding_limit", 1 << 20,
          "largest constant (in elements) that constant folding may create", convert=int),
    _Flag("on_unused_input", "raise", "what function() does with an input the outputs do not use",
          choices=("raise", "warn", "ignore")),
    _Flag("compute_test_value", "off", "run each new node on its inputs' tag.test_value as the "
          "graph is built ('raise'/'warn'/'ignore' an input without one)",
          choices=("off", "ignore", "warn", "raise")),
    _Flag("print_test_value", False, "repr(variable) also shows its tag.test_value",
          convert=_bool),
    _Flag("print_global_stats", False, "accepted for Theano compatibility", convert=_bool),
    _Flag("profile", False, "profile every new function (f.profile: time per call and per kernel, "
          "bytes allocated) and print all profiles to stderr at exit", convert=_bool),
]

# distributed (tvmsym.distributed, MPI)
_FLAGS += [
    _Flag("distributed_timeout", 300.0, "seconds a collective or a point-to-point wait may take "
          "before it raises DistributedTimeout (0 = wait forever)", convert=_nonneg_float),
    _Flag("distributed_check_meta", True, "before a collective's data moves, the ranks compare "
          "shapes and dtypes (one small message) and raise a clear error when they differ",
          convert=_bool),
    _Flag("distributed_bucketing", True, "the collectives rewrite (fast_run) joins the "
          "independent allreduces of one dtype and op of a function into one message",
          convert=_bool),
    _Flag("distributed_cuda_aware", "auto", "device=cuda: hand device buffers to MPI ('yes', "
          "needs a CUDA-aware MPI), copy through the host ('no'), or ask the MPI library ('auto')",
          choices=("auto", "yes", "no")),
]


# scan (runtime/scan.py, issue 13): the whole loop as one compiled call
_FLAGS += [
    _Flag("scan_compiled_loop", True, "run a scan's steps (and its gradient's) by one compiled "
          "loop calling the body's kernels (no Python per step); off: one host call of the "
          "compiled body per step", convert=_bool),
]

# build (tvmsym/_parallel_build.py, issue 12): a function's kernels compiled on every core
_FLAGS += [
    _Flag("build_workers", 0, "threads that compile a function's cpu kernels (groups of "
          "kernels, each its own tvm.compile, linked into one library); 0 = the CPUs this "
          "process may use", convert=int),
]


# --- gof helper (issue 14): Theano's flags that scripts set or read (tvmsym/_config_theano.py)
def _theano_flags():
    from ._config_theano import FLAGS
    conv = {bool: _bool, int: int, float: float, str: str}
    out = []
    for name, default, note, choices in FLAGS:
        doc = f"Theano's flag; {note}" if note else "Theano's flag"
        f = _Flag(name, default, doc, choices=choices, convert=conv.get(type(default)))
        f.note = note
        out.append(f)
    return out


_FLAGS += _theano_flags()
_NOTED = set()      # flags whose no-effect note was already emitted


class _Section:
    """``config.warn``, ``config.dnn.conv``...: the flags whose names start with a prefix."""

    def __init__(self, cfg, prefix):
        object.__setattr__(self, "_cfg", cfg)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        return getattr(self._cfg, f"{self._prefix}.{name}")

    def __setattr__(self, name, value):
        self._cfg._set(f"{self._prefix}.{name}", value)

    def __dir__(self):
        n = len(self._prefix) + 1
        return sorted({k[n:].split(".")[0] for k in self._cfg._values if k.startswith(self._prefix + ".")})


class Config:
    """The global flags object (``tvmsym.config``)."""

    def __init__(self, environ_flags: str | None = None):
        object.__setattr__(self, "_flags", {f.name: f for f in _FLAGS})
        object.__setattr__(self, "_values", {f.name: f.default for f in _FLAGS})
        object.__setattr__(self, "_version", 0)
        if environ_flags:
            self._apply_string(environ_flags, source="TVMSYM_FLAGS")

    def _apply_string(self, text, source):
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise ValueError(f"{source}: expected name=value, got {item!r}")
            k, v = item.split("=", 1)
            self._set(k.strip(), v.strip())

    def _set(self, name, value):
        flags = object.__getattribute__(self, "_flags")
        if name not in flags:
            raise AttributeError(
                f"unknown config flag {name!r}; valid flags: " + ", ".join(sorted(flags)))
        self._values[name] = value = flags[name].check(value)
        object.__setattr__(self, "_version", self._version + 1)
        note = getattr(flags[name], "note", None)
        if note and value != flags[name].default and name not in _NOTED:
            _NOTED.add(name)
            import warnings
            warnings.warn(f"config.{name} is accepted and has no effect: {note}", stacklevel=3)

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if any(k.startswith(name + ".") for k in values):
            return _Section(self, name)
        raise AttributeError(
            f"unknown config flag {name!r}; valid flags: " + ", ".join(sorted(values)))

    def __setattr__(self, name, value):
        self._set(name, value)

    def __dir__(self):
        return sorted({k.split(".")[0] for k in self._values}) + ["change_flags"]

    @contextlib.contextmanager
    def change_flags(self, **kwargs):
        """Set flags for the duration of a ``with`` block."""
        old = dict(self._values)
        try:
            for k, v in kwargs.items():
                self._set(k, v)
            yield self
        finally:
            self._values.clear()
            self._values.update(old)
            object.__setattr__(self, "_version", self._version + 1)

    def __str__(self):
        return "\n".join(f"{k} = {v!r}" for k, v in sorted(self._values.items()))


config = Config(os.environ.get("TVMSYM_FLAGS", ""))
change_flags = config.change_flags


def cap_num_threads():
    """TVM starts every thread TVM_NUM_THREADS asks for (100000 took minutes, then the
    kernels crawled): more than the CPUs this process may use is capped, with a warning."""
    import warnings
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    raw = os.environ.get("TVM_NUM_THREADS", "")
    try:
        n = int(raw)
    except ValueError:
        n = None
    if n is None or n < 1 or n > cpus:
        warnings.warn(f"TVM_NUM_THREADS={raw!r} is not a thread count between 1 and this "
                      f"machine's {cpus} CPUs; using {cpus}", RuntimeWarning, stacklevel=3)
        os.environ["TVM_NUM_THREADS"] = str(cpus)
