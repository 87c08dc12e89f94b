"""Tensor types: a dtype and a broadcastable pattern, as in Theano."""
from __future__ import annotations

import numpy as np

from ..config import config

# The dtypes a TensorType may hold (numpy names).
ALL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128")
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
COMPLEX_DTYPES = ("complex64", "complex128")
_NP_DTYPES = {d: np.dtype(d) for d in ALL_DTYPES}

_PATTERN_NAMES = {
    (): "scalar", (False,): "vector", (True,): "(True,)", (False, False): "matrix",
    (True, False): "row", (False, True): "col", (False,) * 3: "3D", (False,) * 4: "4D",
}


def normalize_dtype(dtype) -> str:
    if dtype is None:
        return config.floatX
    if dtype == "floatX":
        return config.floatX
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"{dtype!r} is not a dtype; valid dtypes: {', '.join(ALL_DTYPES)}") from None
    if name not in ALL_DTYPES:
        raise TypeError(f"dtype {name!r} is not supported; valid dtypes: {', '.join(ALL_DTYPES)}")
    return name


class TensorType:
    """The type of a symbolic tensor: ``TensorType(dtype, broadcastable)``.

    ``broadcastable`` has one bool per dimension; True means the dimension has
    length 1 and broadcasts against any length.  Calling the type makes a new
    variable: ``TensorType('float32', (False, False))('x')``.
    """

    __slots__ = ("dtype", "broadcastable", "_hash")

    def __init__(self, dtype, broadcastable=None, shape=None):
        if broadcastable is None and shape is not None:
            broadcastable = tuple(s == 1 for s in shape)
        if broadcastable is None:
            raise TypeError("TensorType needs a broadcastable pattern, e.g. (False, False)")
        if not isinstance(broadcastable, (tuple, list)):
            hint = ""
            if isinstance(broadcastable, int) and not isinstance(broadcastable, bool):
                hint = (f"; for a {broadcastable}-d tensor pass "
                        f"{(False,) * broadcastable!r} (e.g. (False, False) for a matrix)")
            raise TypeError("broadcastable must be a tuple of bools (one per dimension), "
                            f"got {broadcastable!r}{hint}")
        self.dtype = normalize_dtype(dtype)
        self.broadcastable = tuple(bool(b) for b in broadcastable)
        self._hash = hash((TensorType, self.dtype, self.broadcastable))

    @property
    def ndim(self):
        return len(self.broadcastable)

    def clone(self, dtype=None, broadcastable=None):
        return TensorType(self.dtype if dtype is None else dtype,
                          self.broadcastable if broadcastable is None else broadcastable)

    def __eq__(self, other):
        return (type(other) is TensorType and other.dtype == self.dtype
                and other.broadcastable == self.broadcastable)

    def __hash__(self):
        return self._hash

    def __call__(self, name=None):
        from . import graph  # noqa: F401  (sets TensorType.Variable; tvmsym.tensor.var refines it)
        return self.Variable(self, name=name)

    def pattern_name(self):
        b = self.broadcastable
        if len(b) > 4 and not any(b):  # Theano: TensorType(float64, 5D), 6D, 7D
            return f"{len(b)}D"
        return _PATTERN_NAMES.get(b, str(b))

    def __str__(self):
        return f"TensorType({self.dtype}, {self.pattern_name()})"

    __repr__ = __str__

    # -- values --------------------------------------------------------------
    def filter(self, data, allow_downcast=False, strict=False):
        if type(data) is not np.ndarray and isinstance(data, np.ma.MaskedArray):
            raise TypeError(f"{self} cannot take a numpy masked array (its mask would be "
                            f"ignored); pass data.filled(fill_value) or np.asarray(data)")
        """Return ``data`` as an ndarray of this type, or raise TypeError/ValueError.

        Follows Theano: a value whose dtype would lose precision is refused unless
        ``allow_downcast``; Python scalars and lists are converted when they fit.
        """
        if isinstance(data, np.ndarray) and (data.dtype is _NP_DTYPES.get(self.dtype)
                                             or data.dtype.name == self.dtype):  # .name costs ~3 us
            arr = data
        elif strict:
            got = type(data).__name__ + (f" of dtype {data.dtype}" if hasattr(data, "dtype") else "")
            raise TypeError(f"{self} expected an ndarray of dtype {self.dtype}, got {got}")
        else:
            arr = self._convert(data, allow_downcast)
        if arr.ndim != self.ndim:
            raise TypeError(f"Wrong number of dimensions: expected {self.ndim}, got {arr.ndim} "
                            f"with shape {arr.shape} ({self} holds {self.ndim}-d arrays)")
        for i, (b, s) in enumerate(zip(self.broadcastable, arr.shape)):
            if b and s != 1:
                raise ValueError(f"{self} has a broadcastable dimension {i} (length 1), "
                                 f"got an array of shape {arr.shape}")
        return arr

    def _convert(self, data, allow_downcast):
        target = np.dtype(self.dtype)
        if isinstance(data, np.ndarray) or isinstance(data, np.generic):
            arr = np.asarray(data)
            if allow_downcast or np.can_cast(arr.dtype, target, "safe"):
                return arr.astype(target, copy=False)
            raise TypeError(
                f"{self} cannot store a value of dtype {arr.dtype} without risking loss of "
                f"precision. If you do not mind this loss, you can: 1) explicitly cast your data "
                f"to {self.dtype}, or 2) set \"allow_input_downcast=True\" when calling \"function\".")
        # Python scalars / lists: convert, accept if the values survive the cast
        try:
            raw = np.asarray(data)
        except Exception as e:  # ragged lists etc.
            raise TypeError(f"{self} cannot store {type(data).__name__} value "
                            f"{describe_value(data)}: {e}") from None
        if raw.dtype == object or raw.dtype.kind in "USV":
            raise TypeError(f"{self} cannot store a value of type {type(data).__name__}: "
                            f"{describe_value(data)}")
        if allow_downcast or np.can_cast(raw.dtype, target, "safe"):
            return raw.astype(target)
        with np.errstate(all="ignore"):
            conv = raw.astype(target)
        same = (conv.astype(raw.dtype) == raw) | ((raw != raw) & (conv != conv))
        if raw.dtype.kind == "f" and target.kind == "f":
            ok = True  # Theano: Python floats are accepted into any float type (floatX data)
        else:
            ok = bool(np.all(same))
            if ok and raw.dtype.kind in "iu" and target.kind in "iu" and raw.size:
                # the round trip wraps too for 64-bit targets (2**63 -> int64 -> 2**63): compare
                # the values themselves with the target's range
                info = np.iinfo(target)
                ok = int(raw.min()) >= int(info.min) and int(raw.max()) <= int(info.max)
        if ok:
            return conv
        raise TypeError(
            f"{self} cannot store accurately value {describe_value(data)}, it would be represented "
            f"as {describe_value(conv)}. If you do not mind this precision loss, you can: "
            f"1) explicitly convert your data to a numpy array of dtype {self.dtype}, or 2) set "
            f"\"allow_input_downcast=True\" when calling \"function\".")

    def value_zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)


def describe_value(value, limit=10):
    """A short text for a value in an error message: small values as themselves, an array
    or a long list by its shape and dtype (the whole array made messages megabytes long)."""
    try:
        arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if arr.dtype != object and arr.size > limit:
            return f"<{type(value).__name__} of shape {arr.shape} and dtype {arr.dtype}>"
    except Exception:       # noqa: BLE001  (ragged lists ...)
        pass
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
