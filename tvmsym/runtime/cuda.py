"""``device=cuda`` functions: shared variables that live on the device.

The build itself is ``executor.Build`` with the cuda backend (``backends.py``: GPU kernels in
one CUDA module, host kernels for llvm, ``GpuFromHost`` / ``HostFromGpu`` transfers; no GPU
and no nvcc are needed to build).  Running needs a GPU; without one a call raises
``NoCudaDeviceError`` before touching any kernel.  ``as_text('cuda')`` gives the CUDA C and
``as_text('ptx')`` the PTX that nvcc makes from it (offline).

Shared variables live on the device.  The placement stage makes a shared input a device
value (no ``GpuFromHost``) and keeps its update on the device (no ``HostFromGpu``).  A call
(``cuda_call``) passes each such variable's device tensor (``Container.device_value``:
uploaded once, after a ``set_value`` or a CPU function's update), lets the update kernel
write into the variable's spare device buffer when it can (double buffering on the
device), and installs the new tensors only once every output is computed: a failed call
changes nothing.  ``get_value`` (and a CPU function reading the variable) copies the value
back lazily.  ``f.loopback = True`` (tests; or ``TVMSYM_CUDA_LOOPBACK=1``) runs the same
per-call loop with ``tvm.cpu(0)`` standing in for the GPU.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm
from .backends import _c
from .executor import CudaBuild  # noqa: F401  (a cuda build: executor.Build, cuda backend)


def _same(a, b):
    return a is not None and a is b


def cuda_call(self, args, kwargs):
    """Call the ``device=cuda`` function ``self`` (``Function._call`` sends it here)."""
    vals = self._gather(args, kwargs)
    arrays = [self._filter(k, v) for k, v in enumerate(vals)]
    fg = self._plan.fgraph
    resident = getattr(fg, "resident_inputs", ())
    keep = getattr(fg, "resident_outputs", ())
    key = tuple(a.shape for a in arrays) + tuple(sv.container.shape for sv in self._shared)
    b = self._builds.get(key)
    if b is None:
        b = self._build(key)
    dev = b.device() if (resident or keep) else None
    n = len(arrays)
    for j, sv in enumerate(self._shared):
        c = sv.container
        arrays.append(c.device_value(dev) if dev is not None and n + j in resident else c.value)
    storage, donated = {}, {}
    if self._update_spec and dev is not None:
        ok = b.__dict__.get("_dev_donatable")
        if ok is None:
            ok = b._dev_donatable = b.donatable(keep)
        for sv, k in self._update_spec:
            if k not in ok:
                continue
            s, shape, dtype = ok[k]
            c = sv.container
            sp = c.dev_spare
            if sp is None or tuple(sp.shape) != shape or sp.dtype != dtype \
                    or _same(sp, c.dev) or sp.device != dev:
                sp = c.dev_spare = _tvm.tvm.runtime.empty(shape, dtype, dev)
            storage[s] = sp
            donated[k] = sp
    outs = b.run(arrays, storage, keep=keep if dev is not None else ())
    self._last = b
    if self._update_spec:
        _install(self, outs, arrays[n:], dev)
    return self._finish([o if isinstance(o, np.ndarray) else o.numpy() for o in outs])


def _install(self, outs, shared_values, dev):
    """Install every update (after all outputs are computed): all or nothing."""
    from .shared_support import check_update_value
    spec = self._update_spec
    for sv, k in spec:
        new = outs[k]
        if not isinstance(new, np.ndarray):
            new = np.empty(tuple(new.shape), new.dtype)     # metadata only, for the check
        check_update_value(sv, new)
    owned = [v for v in shared_values if not isinstance(v, np.ndarray)]
    user = outs[:self._n_user_outputs]
    for sv, k in spec:
        c = sv.container
        new = outs[k]
        if isinstance(new, np.ndarray):
            if dev is not None:
                # a constant or host-computed update: the device keeps the storage
                new = _tvm.tvm.runtime.tensor(_c(new), dev)
            else:
                if any(new is u for u in user) or new is c._value:
                    new = new.copy()
                c.value = new
                continue
        elif _same(new, c.dev):
            continue                        # the update is the value itself
        elif any(_same(new, o) for o in owned):
            # another variable's storage: each variable owns its own tensor
            t = _tvm.tvm.runtime.empty(tuple(new.shape), new.dtype, dev)
            t.copyfrom(new)
            new = t
        c.set_device_value(new)
        owned.append(new)
