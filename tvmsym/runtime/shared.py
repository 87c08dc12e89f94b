"""Shared variables: symbolic variables that hold a value across function calls.

``w = tvmsym.shared(numpy.zeros(3), name='w')`` is a symbolic variable usable in
any graph; every function that uses it reads its current value (an implicit
input), and ``updates=[(w, new_w)]`` replaces that value after a call.

Aliasing follows Theano's tutorial: ``shared(v)``, ``get_value()`` and
``set_value(v)`` copy; with ``borrow=True`` they may alias the caller's array
(no copy), and a later update may then overwrite or drop that array.  The type
(dtype, broadcastable pattern) is fixed at creation.
"""
from __future__ import annotations

import numpy as np

from ..symbolic.graph import TensorVariable
from ..symbolic.type import TensorType


class Container:
    """The storage of one shared variable: ``value`` and, for updates, a spare buffer."""

    __slots__ = ("value", "spare")

    def __init__(self, value):
        self.value = value
        self.spare = None      # a second buffer the next update may be written into


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
        """The current value: a copy, or with ``borrow=True`` the internal array itself."""
        v = self.container.value
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
