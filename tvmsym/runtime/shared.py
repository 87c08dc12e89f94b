"""Shared variables: symbolic variables that hold a value across function calls.

``w = tvmsym.shared(numpy.zeros(3), name='w')`` is a symbolic variable usable in
any graph; every function that uses it reads its current value (an implicit
input), and ``updates=[(w, new_w)]`` replaces that value after a call.

Aliasing follows Theano's tutorial: ``shared(v)``, ``get_value()`` and
``set_value(v)`` copy (under ``device=cuda`` the value lives on the device once a
cuda function uses it: ``get_value`` copies back, ``set_value`` sends the next
call a new value; see ``Container``); with ``borrow=True`` they may alias the caller's array
(no copy), and a later update may then overwrite or drop that array.  The type
(dtype, broadcastable pattern) is fixed at creation.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from ..symbolic.graph import TensorVariable
from ..symbolic.type import TensorType

_order = itertools.count()


class Container:
    """The storage of one shared variable.

    ``value`` is the host array and ``spare`` a second host buffer the next update
    may be written into.  Once a ``device=cuda`` function uses the variable it also
    has ``dev`` (a ``tvm.runtime`` tensor on the device) and ``dev_spare`` (the
    device double buffer).  At least one side is current: a cuda update replaces
    ``dev`` and marks the host copy stale (``_value = None``); reading ``value``
    copies the device tensor back once (lazily, e.g. when a CPU function or
    ``get_value`` reads it); assigning ``value`` (``set_value``, a CPU function's
    update) drops the device copy, uploaded again by the next cuda call.
    """

    __slots__ = ("_value", "spare", "dev", "dev_spare", "lock", "order")

    def __init__(self, value):
        self._value = value
        self._new_lock()
        self.spare = None      # a second buffer the next update may be written into
        self.dev = None        # the device tensor when current (device=cuda)
        self.dev_spare = None  # the device buffer the next cuda update may be written into

    @property
    def value(self):
        if self._value is None:
            self._value = self.dev.numpy()     # the device has the only current value
        return self._value

    @value.setter
    def value(self, v):
        self._value = v
        self.dev = None        # stale now; the old tensor can serve as the next spare
        self.dev_spare = None

    def __getstate__(self):
        # pickle / deepcopy keep the host value only (device tensors do not pickle)
        return {"_value": self.value, "spare": None}

    def __setstate__(self, state):
        if isinstance(state, tuple):        # pickled before device storage: (None, slots)
            state = state[1]
        self._value = state["_value"] if "_value" in state else state["value"]
        self.spare = state.get("spare")
        self.dev = self.dev_spare = None
        self._new_lock()

    def _new_lock(self):
        # held by a call of a function that updates this variable, from reading its value
        # to installing the new one (runtime/function.py ``_update_locks``); ``order`` is
        # the global acquisition order of several variables' locks (no deadlock)
        self.lock = threading.RLock()
        self.order = next(_order)

    @property
    def shape(self):
        """Shape of the current value, without copying it across devices."""
        return tuple(self._value.shape) if self._value is not None else tuple(self.dev.shape)

    def device_value(self, device):
        """The current value as a tensor on ``device`` (uploaded once, then kept there)."""
        import tvm
        d = self.dev
        if d is not None and d.device == device:
            return d
        host = self.value
        self.dev = tvm.runtime.tensor(np.ascontiguousarray(host) if host.ndim else host, device)
        self.dev_spare = None
        return self.dev

    def set_device_value(self, tensor):
        """Install ``tensor`` (on the device) as the value; the old one becomes the spare."""
        old = self.dev
        self.dev = tensor
        self.dev_spare = old if old is not None and old is not tensor else None
        self._value = None


class SharedVariable(TensorVariable):
    """A tensor variable with a value held between calls (Theano's TensorSharedVariable)."""

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None, container=None):
        super().__init__(type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.default_update = None
        if container is None:
            container = Container(self._filter(value))
        self.container = container

    def _filter(self, value):
        try:
            return self.type.filter(value, allow_downcast=bool(self.allow_downcast), strict=self.strict)
        except (TypeError, ValueError) as e:
            raise type(e)(f"shared variable {self.name or '<unnamed>'} has type {self.type}; "
                          f"cannot hold the given value: {e}") from None

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value: a copy, or with ``borrow=True`` the internal array itself.

        When a cuda function keeps the value on the device, the value is copied
        back to a numpy array (once per update, cached as the host copy): even with
        ``borrow=True`` the result is then a host copy, and writing into it in place
        is not seen by cuda functions (use ``set_value``).  With ``borrow=True,
        return_internal_type=True`` such a value is returned as the device tensor
        itself (``tvm.runtime`` tensor; no copy; the next update may overwrite it).
        """
        c = self.container
        if borrow and return_internal_type and c.dev is not None:
            return c.dev
        v = c.value
        return v if borrow else v.copy()

    def set_value(self, value, borrow=False):
        """Replace the value; with ``borrow=True`` a suitable ndarray is kept without copying."""
        arr = self._filter(value)
        if arr is value and not borrow:
            arr = arr.copy()
        if not (arr.flags.c_contiguous and arr.flags.aligned and arr.flags.writeable):
            arr = np.array(arr, order="C")
        self.container.value = arr
        self.container.spare = None

    @property
    def value(self):
        return self.get_value()

    @value.setter
    def value(self, v):
        self.set_value(v)

    def zero(self, borrow=False):
        """Set every element to 0 (in place when ``borrow``)."""
        if borrow:
            self.container.value[...] = 0
            self.container.value = self.container.value     # drops a device copy
        else:
            self.set_value(np.zeros_like(self.container.value), borrow=True)

    def clone(self):
        # inside a FunctionGraph a shared variable is a plain input whose value the
        # function supplies; the clone remembers where that value lives
        cp = TensorVariable(self.type, name=self.name)
        cp.tag = self.tag.copy()
        cp.tag["shared"] = self
        return cp

    def __repr__(self):
        return self.name if self.name is not None else f"<{self.type}>"

    __str__ = __repr__


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, broadcastable=None,
           target=None):
    """A SharedVariable holding ``value`` (numpy array, list or Python/numpy scalar).

    The dtype is the value's (Python ``int`` -> int64, ``float`` -> float64, as
    numpy); no dimension is broadcastable unless ``broadcastable=`` says so.
    ``borrow=True`` keeps the caller's ndarray as the storage when possible.
    """
    if isinstance(value, SharedVariable):
        raise TypeError("shared() of a shared variable; use its get_value()")
    if type(value).__module__.startswith("scipy.sparse"):        # runtime/sparse_support.py
        from .sparse_support import sparse_shared
        return sparse_shared(value, name=name, strict=strict, allow_downcast=allow_downcast, borrow=borrow)
    if hasattr(value, "owner") and hasattr(value, "type"):
        raise TypeError(f"shared() needs a value (numpy array or scalar), got the symbolic "
                        f"variable {value}")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"shared() cannot hold a value of type {type(value).__name__}: {value!r}")
    if broadcastable is None:
        broadcastable = (False,) * arr.ndim
    if len(broadcastable) != arr.ndim:
        raise TypeError(f"shared(): broadcastable={broadcastable!r} has {len(broadcastable)} "
                        f"entries for a value with {arr.ndim} dimension(s)")
    t = TensorType(arr.dtype.name, broadcastable)
    if borrow and isinstance(value, np.ndarray) and value.flags.c_contiguous \
            and value.flags.aligned and value.flags.writeable:
        data = value
    else:
        data = np.array(arr, order="C", copy=True)
    return SharedVariable(t, data, name=name, strict=strict, allow_downcast=allow_downcast)
