"""``tvmsym.function``: compile a graph and call it like a Python function.

The graph is cloned into a FunctionGraph and rewritten once.  Kernels are
lowered, scheduled and built once per signature (runtime/generic.py: dtypes, dim
classes, the sizes specialized kernels need); a new input shape of a known
signature reuses them (``specialize=True``: static kernels per input shape).
A call filters its inputs (dtype, ndim), finds or builds the signature's kernels,
and runs them; the user's arrays are never written.
``f.copy(swap=..., delete_updates=...)`` runs the same kernels on other shared
variables; ``profile=True`` times every kernel (runtime/profiling.py).
"""
from __future__ import annotations

import atexit
import copy as _copy
import os
import sys
import threading
import time
from time import perf_counter as _now

import numpy as np

from ..config import config
from ..symbolic.fgraph import FunctionGraph
from ..symbolic.graph import Constant, Variable, ancestors
from ..symbolic.type import describe_value
from .mode import get_mode
from .shared_support import update_plan as _update_plan
from .steps import LRU


class UnusedInputError(ValueError):
    """An input variable of ``function`` is not needed by its outputs (Theano's name)."""


class MissingInputError(ValueError):
    """The outputs need a variable that is not an input of ``function`` (Theano's name)."""


class In:
    """An input with a default value and/or a keyword name: ``In(y, value=2)``."""

    def __init__(self, variable, name=None, value=None, update=None, mutable=False,
                 borrow=False, strict=False, allow_downcast=None, implicit=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() wraps a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.has_default = value is not None
        self.update = update
        self.mutable = mutable
        self.borrow = borrow
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.implicit = implicit


class _Maker:
    """Holds the rewritten graph (``f.maker.fgraph``), as Theano's FunctionMaker does."""

    def __init__(self, fgraph, mode, inputs):
        self.fgraph = fgraph
        self.mode = mode
        self.inputs = inputs


def _caller_name():
    """``file:line`` of the user's call (Theano names functions this way).

    Walks frames directly: ``inspect.stack()`` reads every frame's source (~100 ms).
    """
    fr = sys._getframe(1)
    while fr is not None:
        fn = fr.f_code.co_filename
        if os.sep + "tvmsym" + os.sep not in fn:
            return f"{fn}:{fr.f_lineno}"
        fr = fr.f_back
    return "<unknown>"


def _offending(value):
    """The third argument of a bad-input error: the value itself, as Theano gives it (code may
    inspect ``e.args[2]``), unless it is big, then its shape and dtype (a whole array made the
    message megabytes long)."""
    desc = describe_value(value)
    return value if desc == repr(value) else desc


def _backend():
    """The targets package, with TVM and the backend (lowering rules, schedules, executor)
    loaded all or nothing: a Ctrl-C in the middle of the first compile's imports leaves no
    half-imported module behind (``_importguard``)."""
    from .._importguard import interrupt_safe_import
    with interrupt_safe_import():
        from .. import (
            schedules as _schedules,  # noqa: F401
            targets,
        )
        from ..lowering import lower as _lower, rules as _rules  # noqa: F401
        from . import executor as _executor  # noqa: F401
    return targets


class Function:
    """A compiled graph. Call it with numpy arrays, lists or scalars."""

    def __init__(self, inputs, outputs, mode=None, allow_input_downcast=None, name=None,
                 on_unused_input=None, givens=None, updates=None, target=None,
                 accept_inplace=False, no_default_updates=False, profile=None,
                 specialize=False):
        self.specialize = bool(specialize)     # True: kernels built per input shape (no generic)
        self.name = name
        self.mode = get_mode(mode)
        from . import warm
        # device=cpu with the kernel cache on: no TVM import until a build needs it
        # (runtime/warm.py: builds found in the cache run with the TVM runtime only)
        self.target = warm.light_target(target or self.mode.target)
        if self.target is None:
            self.target = _backend().get_target(target or self.mode.target)
        self._unpack_single = not isinstance(outputs, (list, tuple))
        outs = [outputs] if self._unpack_single else list(outputs)
        ins = [i if isinstance(i, In) else In(i) for i in inputs]
        for k, i in enumerate(ins):
            v = i.variable
            if isinstance(v, Constant):
                raise TypeError(f"input {k} of function {name!r} is a constant ({v}); constants "
                                "cannot be function inputs")
            if i.allow_downcast is None:
                i.allow_downcast = allow_input_downcast
        seen = set()
        for k, i in enumerate(ins):
            if i.variable in seen:
                raise ValueError(f"variable {i.variable} is used twice as an input (index {k})")
            seen.add(i.variable)
        for o in outs:
            if not isinstance(o, Variable):
                raise TypeError(f"function outputs must be symbolic variables, got "
                                f"{type(o).__name__} {o!r}")
        self.inputs = ins
        self._explicit = [i for i in ins if not i.implicit]
        self.updates = []
        from . import shared_support
        in_vars, out_vars, self._n_user_outputs, self.updates = shared_support.prepare(
            self, [i.variable for i in ins], outs, updates, givens, no_default_updates)
        self._check_unused(in_vars, out_vars, on_unused_input or config.on_unused_input)
        self._check_missing(in_vars, out_vars)
        t0 = time.perf_counter()
        fg = FunctionGraph(in_vars, out_vars)
        fg.target = self.target         # the placement stage (device=cuda) reads it
        if self.target.kind == "cuda":
            from .sparse_support import refuse_on_cuda
            refuse_on_cuda(fg, name)
        # cuda: shared variables live on the device (runtime/cuda.py); the placement stage
        # keeps the updates (the outputs after the user's) there
        fg.n_user_outputs = self._n_user_outputs
        fg.n_user_inputs = len(ins)     # the inputs after these are shared variables (symbolic_shapes)
        # tests: tvm.cpu(0) stands in for the GPU (TVMSYM_CUDA_LOOPBACK=1, or set f.loopback)
        self.loopback = self.target.kind == "cuda" and _loopback_default()
        from ..symbolic.rewrites import optimize
        optimize(fg, self.mode.optimizer, excluding=self.mode.excluded, including=self.mode.included)
        self.rewrite_time = time.perf_counter() - t0
        self.maker = _Maker(fg, self.mode, ins)
        self._plan_obj = None       # ``_plan``: made on first need (it imports the compiler)
        self._graph_key = None      # runtime/warm.py's key of the rewritten graph
        if self.target.kind == "cuda":
            _refuse_complex(self._plan, name)
        self._builds = LRU()
        self._generic_bases = LRU()     # signature -> its first build (runtime/generic.py)
        self._by_signature = LRU()
        self._kernels = LRU()   # builds by signature, shared with this function's copies
        self._shape_fns = {}    # class pattern -> [ShapeFn] (runtime/shapefn.py)
        self._keep_outputs = None   # a copy without updates runs only the user's outputs
        self._last = None
        self._in_types = [v.type for v in fg.inputs]
        self._n_inputs = len(ins)
        self._positions = {i.name: k for k, i in enumerate(ins) if i.name}
        self.build_time = 0.0
        self._guard = getattr(self.mode, "guard", None)     # NanGuardMode: checks every step
        if self._guard is not None and self.target.kind == "cuda":
            raise NotImplementedError("NanGuardMode checks cpu (llvm) functions only; compile with "
                                      "device=cpu to find where a NaN or Inf appears")
        self.profile = _make_profile(profile, name)
        if self.profile is not None:
            self.profile.set_graph(self._plan, self.rewrite_time)
            if self.target.kind == "cuda":
                import warnings
                warnings.warn(f"function {name!r}: profiling times cpu (llvm) functions only; "
                              "the calls of this cuda function are not recorded", stacklevel=4)
        self._init_fast_call()

    @property
    def _plan(self):
        """The kernel plan of the rewritten graph (``lowering.lower.plan``)."""
        p = self._plan_obj
        if p is None:
            _backend()
            from ..lowering.lower import plan
            from .inner import inner_for
            p = self._plan_obj = plan(self.maker.fgraph, inner_for)
        return p

    def _value_inputs(self):
        """Indices of the inputs whose values decide shapes (``Plan.value_inputs``): only
        integer inputs of at most one dimension can; a graph without any needs no plan."""
        if self._plan_obj is None and not any(
                v.type.dtype[0] in "iu" and v.type.ndim <= 1 for v in self.maker.fgraph.inputs):
            return []
        return self._plan.value_inputs

    # ------------------------------------------------------------------ checks
    def _check_unused(self, in_vars, out_vars, policy):
        if policy not in ("raise", "warn", "ignore"):
            raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {policy!r}")
        used = set(ancestors(out_vars, blockers=in_vars))
        used.update(w for o in out_vars for w in getattr(o.tag, "rop_wrt", ()))   # gradient.Rop
        for k, v in enumerate(in_vars[:len(self.inputs)]):
            if v not in used:
                msg = (f"tvmsym.function was asked to create a function computing outputs given "
                       f"certain inputs, but the provided input variable at index {k} ({v}) is not "
                       "part of the computational graph needed to compute the outputs. To make "
                       "this error a warning or ignore it, pass on_unused_input='warn' or 'ignore'.")
                if policy == "raise":
                    raise UnusedInputError(msg)
                if policy == "warn":
                    import warnings
                    warnings.warn(msg, stacklevel=4)
                elif policy != "ignore":
                    raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {policy!r}")

    def _check_missing(self, in_vars, out_vars):
        given = set(in_vars)
        for v in ancestors(out_vars, blockers=in_vars):
            if v.owner is None and v not in given and not isinstance(v, Constant):
                raise MissingInputError(
                    f"input {v} (of type {v.type}) is needed to compute the outputs but was not "
                    "provided as an input of the function (nor given a value with givens=)")

    # ------------------------------------------------------------------ call
    def _filter(self, k, value):
        i = self.inputs[k]
        t = i.variable.type
        try:
            arr = t.filter(value, allow_downcast=bool(i.allow_downcast), strict=i.strict)
        except (TypeError, ValueError) as e:
            raise type(e)(f'Bad input argument to tvmsym function with name "{self.name}" at index '
                          f'{k}(0-based)', str(e), _offending(value)) from None
        if not arr.dtype.isnative:      # '>f4' is a float32 too, but DLPack needs native order
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr

    def _gather(self, args, kwargs):
        n = len(self._explicit)
        if len(args) > n:
            raise TypeError(f'Tried to call tvmsym function "{self.name}" with {len(args)} '
                            f"arguments, but it takes at most {n}")
        vals = list(args) + [_MISSING] * (n - len(args))
        for key, v in kwargs.items():
            if key not in self._positions:
                raise TypeError(f'tvmsym function "{self.name}" has no input named {key!r}; '
                                f"named inputs: {sorted(self._positions)}")
            p = self._positions[key]
            if vals[p] is not _MISSING:
                raise TypeError(f'tvmsym function "{self.name}" got input {key!r} twice')
            vals[p] = v
        for k, v in enumerate(vals):
            if v is _MISSING:
                i = self._explicit[k]
                if i.has_default:
                    vals[k] = i.value
                else:
                    raise TypeError(f'Missing required input: argument {k} ({i.variable}) of '
                                    f'tvmsym function "{self.name}"; it takes {n} inputs')
        return vals

    def _init_fast_call(self):
        """Set up ``__call__``'s fast path: positional numpy arrays of the exact dtypes.

        ``_fast_dtypes`` holds one expected dtype object per input (None: no fast path);
        ``_fast_calls`` maps a shape signature to (build, runner) once the general path
        has filtered arguments of those shapes, so ndim and broadcastable dimensions
        are guaranteed by the key.  Anything else (lists, scalars, other dtypes or
        dtype objects, subclasses, non-contiguous/misaligned/read-only arrays, kwargs,
        defaults, value-dependent shapes, cuda) takes the general path, which gives the
        same results and the same errors.  Shared variables' updates go through the same
        per-build ``UpdatePlan`` (shared_support.py: spare buffers, then all or nothing) on
        both paths (``_run_updates``, ``_fast_update_runner``).
        """
        self._fast_calls = LRU()
        self._fast_dtypes = None
        # calls that update shared variables hold their locks (``_locked_call``); functions
        # without updates take no lock
        self._update_locks = ()
        if self._update_spec:
            cs = {id(sv.container): sv.container for sv in self._shared}
            cs.update((id(sv.container), sv.container) for sv, _ in self._update_spec)
            self._update_locks = tuple(c.lock for c in sorted(cs.values(), key=lambda c: c.order))
        self._fast_nargs = len(self._explicit)
        self._fast_shared = tuple(sv.container for sv in self._shared)  # implicit inputs' storage
        if (self.target.kind == "cuda" or self._value_inputs() or any(i.implicit for i in self.inputs)
                or len(self._explicit) + len(self._shared) != len(self._in_types)
                or self.profile is not None         # profiled calls time every kernel: _call
                or self._guard is not None):
            return
        self._fast_dtypes = tuple(np.dtype(t.dtype) for t in self._in_types)

    def __call__(self, *args, **kwargs):
        if _exiting and threading.current_thread() is not threading.main_thread():
            raise RuntimeError(f"tvmsym function {self.name!r} was called from thread "
                               f"{threading.current_thread().name!r} while the interpreter "
                               "is exiting; stop (or join) the threads that call compiled "
                               "functions before exit")
        if self._update_locks:
            return self._locked_call(args, kwargs)
        return self._dispatch(args, kwargs)

    def _locked_call(self, args, kwargs):
        """A call of a function with updates: it holds the locks of every shared variable it
        reads or updates (in their global ``order``: two functions updating the same variables
        cannot deadlock) from reading their values to installing the new ones, so concurrent
        calls (from threads) are serialized and never tear a state or repeat a random draw."""
        locks = self._update_locks
        if len(locks) == 1:
            with locks[0]:
                return self._dispatch(args, kwargs)
        taken = 0
        try:
            for lk in locks:
                lk.acquire()
                taken += 1
            return self._dispatch(args, kwargs)
        finally:
            for lk in reversed(locks[:taken]):
                lk.release()

    def _dispatch(self, args, kwargs):
        dts = self._fast_dtypes
        if dts is not None and not kwargs and len(args) == self._fast_nargs:
            if self._fast_shared:
                args = args + tuple([c.value for c in self._fast_shared])
                kwargs = None       # the general path gets the user's arguments only
            key = []
            for a, dt in zip(args, dts):
                if type(a) is not _ndarray or a.dtype is not dt or not a.flags.carray:
                    break
                key.append(a.shape)
            else:
                hit = self._fast_calls.get(tuple(key))
                if hit is not None:
                    self._last = hit[0]
                    return hit[1](args)
            if kwargs is None:
                args, kwargs = args[:self._fast_nargs], {}
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        """The general path: gather, filter and convert every input, then run (every step
        timed when profiling: a build for a new shape signature counts as build time)."""
        if self.target.kind == "cuda":
            from .cuda import cuda_call
            return cuda_call(self, args, kwargs)
        t0 = _now()
        vals = self._gather(args, kwargs)
        arrays = [self._filter(k, v) for k, v in enumerate(vals)]
        arrays += self._implicit_values()
        key = build_signature(arrays, self._value_inputs())
        b = self._builds.get(key)
        building = 0.0
        if b is None:
            tb = _now()
            b = self._build(key, arrays)
            building = _now() - tb
        if self._fast_dtypes is not None:
            hit = self._fast_calls.get(key)
            if hit is None:
                self._add_fast_call(key, b)
                hit = self._fast_calls.get(key)
            if hit is not None and hit[0] is b and all(
                    type(a) is _ndarray and a.flags.carray for a in arrays):
                # the runner the fast path will use (compiled once, not a second one here)
                self._last = b
                return hit[1](tuple(arrays))
        records = None if self.profile is None else []
        t1 = _now()
        outs = self._run(b, arrays, records)
        if records is not None:
            t2 = _now()
            res = self._finish(outs)
            self.profile.record_call(_now() - t0 - building, t2 - t1, records)
            return res
        return self._finish(outs)

    def _run(self, b, arrays, records=None):
        """Every output of build ``b`` for ``arrays``; shared-variable updates installed
        (runtime/shared_support.py: all or nothing)."""
        u = _update_plan(self, b) if self._update_spec else None
        given = dict(zip(u.slots, u.spares())) if u is not None else None
        outs = b.run(arrays, given, prof=records, guard=self._guard)
        self._last = b
        if u is not None:
            u.install(outs)
        return outs

    def _run_updates(self, b, arrays):
        return self._finish(self._run(b, arrays))

    def _add_fast_call(self, key, b):
        """Register the runner of a shape signature the general path has just validated."""
        runner = None
        if self._update_spec:
            runner = self._fast_update_runner(b)
        elif hasattr(b, "fast_runner"):
            runner = b.fast_runner(self._n_user_outputs, self._unpack_single)
        if runner is None:          # e.g. host or data-dependent steps: run's general loop
            def runner(args, _finish=self._finish):
                return _finish(b.run(list(args)))
        self._fast_calls[key] = (b, runner)

    def _fast_update_runner(self, b):
        """The fast path's runner of a build with updates: ``_run_updates`` with the
        update plan and the kernel program bound once (no per-call dicts or lists)."""
        u = _update_plan(self, b)
        run = b.fast_update_runner(u.slots) if hasattr(b, "fast_update_runner") else None
        if run is None:
            def runner(args, _run=self._run_updates):
                return _run(b, list(args))
            return runner
        spares, install = u.spares, u.install
        n_user, single = self._n_user_outputs, self._unpack_single

        def runner(args):
            outs = run(args, spares())
            self._last = b
            install(outs)
            return outs[0] if single else outs[:n_user]
        return runner

    def _implicit_values(self):
        return [sv.container.value for sv in self._shared]

    def _finish(self, outs):
        outs = outs[:self._n_user_outputs]
        if self._unpack_single:
            return outs[0]
        return outs

    def _build(self, key, arrays=None):
        from .executor import Build
        t0 = time.perf_counter()
        if arrays is not None and len(key) > len(arrays):
            # one build per shape signature those values give (lower.derived_signature)
            from ..lowering.lower import derived_signature
            fg = self._plan.fgraph
            values = {fg.inputs[k]: arrays[k] for k in self._plan.value_inputs}
            shapes = key[:len(arrays)]
            from .inner import inner_for
            sig = derived_signature(self._plan, shapes, values, inner_for)
            b = self._by_signature.get(sig)
            if b is None:
                b = self._by_signature[sig] = self._kernels_for(
                    ("signature", sig), lambda: Build(self._plan, shapes, self.target, values))
        else:
            b = self._kernels_for(key, lambda: self._warm_or_build(key))
        self.build_time += time.perf_counter() - t0
        self._builds[key] = b
        return b

    def _warm_or_build(self, key):
        """The build of signature ``key``: from the warm cache (runtime/warm.py: no lowering,
        no TVM) when an entry verifies, else built (and its entry written)."""
        from . import warm

        b = self._from_shape_fn(key)
        if b is not None:       # a new shape of a signature built here: no shape inference
            return b

        def build():
            _backend()      # the compiler, imported all or nothing (Ctrl-C safe, _importguard)
            from .generic import build_for
            from .inner import inner_for
            b, sig = build_for(self._plan, key, self.target, self._generic_bases, self.specialize,
                               self.loopback, inner_for)
            self._add_shape_fn(key, b, sig)
            return b

        def build_in_memory():      # as_text of a loaded build: the kernels again, not cached
            from ..config import change_flags
            with change_flags(cache=False):
                return build()
        if self._plan_obj is not None and self._generic_bases:
            # a new shape of a signature this process built: its kernels, no disk lookup
            from .generic import signature_built
            from .inner import inner_for
            if signature_built(self._plan_obj, key, self.target, self._generic_bases,
                               self.specialize, inner_for):
                return build()
        from . import warm_generic  # another shape of a cached generic signature
        b = None
        if not self.specialize and warm_generic.known(self, key):
            b = warm_generic.load(self, key)
            if b is not None:
                b._make_full = build_in_memory
                self._add_shape_fn(key, b)
                return b
        wkey = self._warm_key(key)
        if wkey is None:
            return build()
        b = warm.load(wkey, self.maker.fgraph)
        if b is None and not self.specialize:
            b = warm_generic.load(self, key)
            if b is not None:
                self._add_shape_fn(key, b)
        if b is not None:
            b._make_full = build_in_memory
            return b
        b = build()
        if self.specialize or not self._store_generic(key, b):
            warm.store(wkey, b)
        return b

    # ------------------------------------------------------------------ shape functions
    def _from_shape_fn(self, key):
        """The build of input shapes ``key`` from a shape function of a class pattern they
        fit (runtime/shapefn.py: the signature's kernels, shapes without shape inference),
        or None."""
        fns = self._shape_fns
        if not fns:
            return None
        from ..lowering.symbolic_shapes import pattern_sizes
        for pattern, lst in fns.items():
            if pattern_sizes(pattern, key) is None:     # (dims of one class differ, ...)
                continue
            for f in lst:
                b = f.build_at(key) if f is not None else None
                if b is not None:
                    return b
        return None

    def _broadcastable(self):
        bc = self.__dict__.get("_bcast")
        if bc is None:
            bc = self._bcast = [tuple(getattr(t, "broadcastable", ())) for t in self._in_types]
        return bc

    def _add_shape_fn(self, key, b, sig=None):
        """Derive the shape function of generic build ``b`` (input shapes ``key``): from the
        plan's structure (``sig``: its signature) or a warm entry's (``b.generic_side``)."""
        if self.specialize or self.__dict__.get("_no_shape_fn"):
            return
        from ..lowering.symbolic_shapes import class_pattern, pattern_sizes
        from . import shapefn
        side = getattr(b, "generic_side", None)
        fg = self.maker.fgraph
        if sig is not None:
            if sig[0] != "generic" or not getattr(b, "generic", None):
                return          # (a specialized build: its kernels serve these shapes only)
            # the signature's pattern (its classes may be finer than the call's own)
            pattern = sig[2]
            got = pattern_sizes(pattern, key)
            if got is None:
                return
            sizes = [got.get(k, 0) for k in range(1 + max(got, default=-1))]
        else:
            pattern, sizes = class_pattern(key, self._broadcastable())
        fns = self._shape_fns.setdefault(pattern, [])
        if len(fns) >= 4:       # (guards failing at every new size, or no derivation: stop)
            return
        if sig is not None:
            from .inner import inner_for
            plan = self._plan
            predict = _generic_predictions(plan, b, sig, inner_for)
            if predict is None:
                return
            fn = shapefn.derive(b, fg, plan.order, pattern, sizes, inner_for, predict, sig[3])
        elif side is not None:
            from ..symbolic.ops.distributed import side_effect_order
            order = self.__dict__.get("_warm_order")
            if order is None:
                order = self._warm_order = side_effect_order(fg.toposort())
            fn = shapefn.derive(b, fg, order, pattern, sizes, None, side["predict"], side["pins"])
        else:
            return
        fns.append(fn)          # (None: not derivable; counted so that it is not retried forever)

    def _store_generic(self, key, b):
        """The warm entries of a generic signature's first build (runtime/warm_generic.py)."""
        from ..lowering.symbolic_shapes import signature
        from . import warm_generic
        from .inner import inner_for
        sig = signature(self._plan, key, "llvm", False, inner_for)
        return sig[0] == "generic" and self._generic_bases.get(sig) is b \
            and warm_generic.store(self, key, b, sig, inner_for)

    def _warm_key(self, key):
        """runtime/warm.py's key of the build for signature ``key``, or None (not looked up:
        cuda, profiling, NanGuardMode, copies, a graph the key cannot encode)."""
        from . import warm
        if (not isinstance(self.target, warm.LightTarget) or self.profile is not None
                or self._guard is not None or self._keep_outputs is not None
                or self.__dict__.get("_no_warm")):
            return None
        gk = self._graph_key
        if gk is None:
            try:
                gk = warm.graph_key(self.maker.fgraph)
            except warm.Unkeyable:
                gk = False
            self._graph_key = gk
        if gk is False:
            return None
        return warm.build_key(gk, (key, self.specialize), "llvm")

    def _kernels_for(self, key, make):
        """This function's build for ``key``: a clone (``Build.clone``: the same kernels,
        no new build) of the one this function's copies or original built already, if any."""
        base = self._kernels.get(key)
        if base is None:
            t0 = time.perf_counter()
            base = make()
            if self.profile is not None:
                self.profile.record_build(time.perf_counter() - t0, base)
            self._kernels[key] = base
            if self._keep_outputs is None:
                return base             # the function that built it runs it
        return base.clone(self._keep_outputs)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        """The graph, inputs, mode and target; not the built kernels (TVM modules do not
        pickle): the unpickled function builds again on its first call per shape, from the
        on-disk kernel cache when it has them (Theano also recompiled on load)."""
        state = self.__dict__.copy()
        for k in ("_builds", "_by_signature", "_kernels", "_fast_calls", "_generic_bases"):
            state[k] = LRU()
        for k in ("_warm_generic", "_warm_generic_keys"):     # loaded libraries (warm_generic.py)
            state.pop(k, None)
        state["_shape_fns"] = {}
        state["_last"] = None
        state["_update_locks"] = ()     # locks do not pickle: made again from the containers
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_fast_call()

    # ------------------------------------------------------------------ copies
    def __copy__(self):
        return self.copy()

    def copy(self, share_memory=False, swap=None, delete_updates=False, name=None, profile=None):
        """A copy of this function that runs the same compiled kernels (no rewrite, no build).

        As Theano's ``Function.copy``:

        - ``swap={old_shared: new_shared}``: the copy reads (and updates) ``new_shared``
          wherever this function uses ``old_shared`` (same type required); this
          function is unchanged;
        - ``delete_updates=True``: the copy updates no shared variable (and does not
          run the kernels only the updates needed);
        - ``share_memory=True``: the copy reuses this function's intermediate buffers
          (a buffer is reused only when no caller holds it); by default it has its own;
        - ``name``: default ``self.name + " copy"``; ``profile``: as ``function``'s.

        As in Theano, the copy returns a list of outputs even when this function
        returns a single one.  Builds made later for new input shapes are shared
        between a function and its copies too (``_kernels``).
        """
        from .shared import SharedVariable
        swap = dict(swap or {})
        for old, new in swap.items():
            if not (isinstance(old, SharedVariable) and any(old is sv for sv in self._shared)):
                raise ValueError(f"SharedVariable: {getattr(old, 'name', old)} not found: the keys "
                                 f"of swap must be shared variables function {self.name!r} uses")
            if not isinstance(new, SharedVariable):
                raise TypeError(f"swap: {old} can only be replaced by a shared variable, got "
                                f"{type(new).__name__} {new!r}")
            if new.type != old.type:
                raise TypeError(f"swap: shared variable {new} has type {new.type} but {old} "
                                f"has type {old.type}")
        self._plan          # noqa: B018  (made now: the copy runs this function's plan)
        f = object.__new__(type(self))
        f.__dict__.update(self.__dict__)
        f._no_warm = True   # its graph is not the one its kernels were planned from
        f.name = name if name else (self.name + " copy" if self.name else None)
        f.inputs = [_copy.copy(i) for i in self.inputs]
        f._explicit = [i for i in f.inputs if not i.implicit]
        f._shared = [swap.get(sv, sv) for sv in self._shared]
        if delete_updates:
            f._update_spec, f.updates = [], []
            if self._update_spec:
                f._keep_outputs = self._n_user_outputs
        else:
            f._update_spec = [(swap.get(sv, sv), k) for sv, k in self._update_spec]
            f.updates = [(swap.get(sv, sv), e) for sv, e in self.updates]
        f._unpack_single = False        # Theano's copies return lists
        f.maker = _Maker(self._copied_fgraph(swap, delete_updates), self.mode, f.inputs)
        f.rewrite_time, f.build_time = 0.0, 0.0
        f.profile = _make_profile(profile, f.name)
        if f.profile is not None:
            f.profile.set_graph(self._plan, 0.0)
        clones = {}

        def clone(b):
            if id(b) not in clones:
                pool = getattr(b, "_pool", None) if share_memory else None
                clones[id(b)] = b.clone(f._keep_outputs, pool) if hasattr(b, "clone") else None
            return clones[id(b)]
        f._builds, f._by_signature = LRU(), LRU()
        f._shape_fns = {}       # (derived again from the builds the copy makes)
        f._builds.update((k, clone(b)) for k, b in self._builds.items() if clone(b) is not None)
        f._by_signature.update((k, clone(b)) for k, b in self._by_signature.items()
                               if clone(b) is not None)
        f._last = None
        f._init_fast_call()
        return f

    def _copied_fgraph(self, swap, delete_updates):
        """The rewritten graph a copy shows (``debugprint``): swapped shared variables,
        no update outputs if deleted.  The copy runs this function's plan and kernels."""
        from ..symbolic.fgraph import clone_graph
        fg = self.maker.fgraph
        memo = {}
        for k, sv in enumerate(self._shared):
            if sv in swap:
                memo[fg.inputs[len(self.inputs) + k]] = swap[sv].clone()
        outs = fg.outputs[:self._n_user_outputs] if delete_updates else fg.outputs
        ins, outs, _ = clone_graph(fg.inputs, outs, memo)
        new = FunctionGraph(ins, outs, clone=False)
        new.target, new.toposort_fn = fg.target, fg.toposort_fn
        return new

    # ------------------------------------------------------------------ introspection
    def as_text(self, stage="tir", shapes=None):
        """What this function compiled to: 'tir', 'llvm', 'asm', 'cuda' or 'ptx'.

        Before any call, kernels are lowered with the symbolic signature (shape-generic
        kernels show their symbolic extents; specialized ones nominal sizes); ``shapes``
        (one tuple per input) shows the build of those shapes.
        """
        if shapes is not None:
            b = self._builds.get(tuple(map(tuple, shapes))) or self._build(tuple(map(tuple, shapes)))
        elif self._last is not None:
            b = self._last
        elif self._builds:
            b = next(iter(self._builds.values()))
        else:           # before any call: the symbolic signature (runtime/generic.py)
            from .generic import nominal_shapes
            from .inner import inner_for
            nominal = None if self._plan.value_inputs else nominal_shapes(self._plan, inner_for)
            if nominal is None:
                raise RuntimeError(f"function {self.name!r} has not been built yet and its "
                                   "shapes depend on input values: call it once or pass "
                                   "shapes=[(2, 3), ...]")
            b = self._builds.get(tuple(nominal)) or self._build(tuple(nominal))
        return b.as_text(stage)

    def __repr__(self):
        return f"<tvmsym.Function {self.name}>"


_MISSING = object()


def _generic_predictions(plan, b, sig, inner):
    """[(var, dims)] a generic build's kernels assume: the structure's classes for the
    variables of its generic kernels (the structure signature ``sig`` was made with: its
    held classes at their sizes), the build's own shapes for the other kernels'
    (runtime/shapefn.py guards them at every new shape); None without a structure."""
    from ..lowering import symbolic_shapes as _sym
    struct = _sym.sig_structure(plan, sig, inner)
    if struct is None:
        return None
    out, seen = [], set()
    for st in plan.steps:
        if st.kind != "tvm":
            continue
        vs = _sym._step_vars(st) + [i for n in st.inlined for i in n.inputs] + list(st.node.inputs)
        for v in vs:
            if v in seen or isinstance(v, Constant):
                continue
            seen.add(v)
            if st.name in b.generic:
                d = struct.dims.get(v)
            else:
                d = b.shapes.get(v)
                d = None if d is None else tuple(int(x) for x in d)
            if d is None:
                return None
            out.append((v, d))
    return out


def build_signature(arrays, value_inputs=()):
    """The signature a build is keyed on (``Function._builds``, runtime/warm.py's cache key):
    the shapes of every input (shared variables' values included), then the bytes of the
    inputs whose values decide shapes.  ``Function._dispatch``'s fast path keys its calls by
    the same shapes."""
    key = tuple(a.shape for a in arrays)
    if value_inputs:            # x[i:i + n], reshape((n, -1))
        key = key + tuple(arrays[k].tobytes() for k in value_inputs)
    return key

# Orderly exit (issue 11): a kernel still running in a daemon thread while the interpreter
# tears down aborts the process (TVM's thread pool: "terminate called without an active
# exception").  At exit, calls from other threads than the main one raise, and the exit waits
# for the calls under way: threads with a ``Function.__call__`` frame on their stack (nothing is
# counted on the call path; the flag is checked inside that frame, so no call slips through).
_exiting = False


def _calls_under_way():
    me = threading.get_ident()
    code = Function.__call__.__code__
    for tid, fr in sys._current_frames().items():
        if tid == me:
            continue
        while fr is not None:
            if fr.f_code is code:
                return True
            fr = fr.f_back
    return False


def _wait_for_calls_at_exit(timeout=60.0):
    global _exiting
    _exiting = True
    deadline = time.monotonic() + timeout
    while _calls_under_way() and time.monotonic() < deadline:
        time.sleep(0.001)


atexit.register(_wait_for_calls_at_exit)
_ndarray = np.ndarray


def _loopback_default():
    return os.environ.get("TVMSYM_CUDA_LOOPBACK", "") not in ("", "0")


def _make_profile(profile, name):
    """``f.profile`` for ``function(profile=...)``: None (the ``profile`` flag decides),
    True/False, a message string or a ``ProfileStats`` to add to.  Profiles made while
    the flag is on are printed at exit."""
    if profile is None:
        profile = config.profile
    if profile is False:
        return None
    from .profiling import ProfileStats
    if isinstance(profile, ProfileStats):
        return profile
    if profile is True or isinstance(profile, str):
        return ProfileStats(atexit_print=config.profile,
                            message=profile if isinstance(profile, str) else name)
    raise TypeError(f"profile must be True, False, None, a message string or a ProfileStats, "
                    f"got {type(profile).__name__} {profile!r}")


def _refuse_complex(plan, name):
    """TVM has no complex scalar type: say so at function() time, not with a TVM error.
    (cpu kernels read complex buffers as interleaved floats: lowering/rules/complex.py)"""
    for st in plan.steps:
        if st.kind != "tvm":
            continue
        for v in list(st.inputs) + list(st.outputs):
            if v.type.dtype.startswith("complex"):
                raise NotImplementedError(
                    f"function {name!r}: {st.node.op} on {v.type} cannot be compiled: complex "
                    "dtypes are not supported by the TVM lowering yet (TVM has no complex "
                    "scalar type); compute with the real and imaginary parts as float tensors")


def function(inputs, outputs=None, mode=None, updates=None, givens=None,
             allow_input_downcast=None, name=None, on_unused_input=None, profile=None,
             no_default_updates=False, rebuild_strict=True, accept_inplace=False, target=None,
             specialize=False):
    """Compile ``outputs`` as a function of ``inputs``.

    A list of outputs gives a list of arrays; a single output a single array.
    ``profile=True`` (or the ``profile`` flag) times every call and kernel into
    ``f.profile`` (runtime/profiling.py; ``f.profile.summary()``); cpu targets only.
    """
    if name is None:
        name = _caller_name()
    if outputs is None:
        outputs = []
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("function(inputs, ...): inputs must be a list of variables, got "
                        f"{type(inputs).__name__}")
    return Function(list(inputs), outputs, mode=mode, allow_input_downcast=allow_input_downcast,
                    name=name, on_unused_input=on_unused_input, givens=givens, updates=updates,
                    target=target, no_default_updates=no_default_updates, profile=profile,
                    specialize=specialize)


def evaluate(variable, inputs_to_values=None, **kwargs):
    """``variable.eval({variable: value})``: compile (once per variable, inputs and options)
    and evaluate ``variable`` given those values."""
    from .inner import weak_cache
    inputs_to_values = inputs_to_values or {}
    if not isinstance(inputs_to_values, dict):
        raise TypeError("eval() takes a dict {variable: value}, got "
                        f"{type(inputs_to_values).__name__}")
    for v in inputs_to_values:
        if not isinstance(v, Variable):
            raise TypeError(f"eval() keys must be symbolic variables, got {type(v).__name__} "
                            f"{v!r}")
    ins = sorted(inputs_to_values, key=lambda v: id(v))
    key = (tuple(ins), tuple(sorted(kwargs.items())))
    cache = weak_cache(variable, dict)
    if key not in cache:
        cache[key] = function(ins, variable, on_unused_input="ignore", **kwargs)
    return cache[key](*[inputs_to_values[v] for v in ins])
