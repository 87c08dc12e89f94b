"""Complex arrays at the kernel boundary: a complex64 (complex128) array of shape S is passed
to a TVM kernel as its float32 (float64) view of shape S + (2,) (no copy; numpy's layout
is interleaved real, imaginary), see lowering/rules/complex.py."""
from __future__ import annotations

import numpy as np

_FLOAT = {np.dtype("complex64"): np.dtype("float32"), np.dtype("complex128"): np.dtype("float64")}


def touches_complex(step):
    return any(v.type.dtype in ("complex64", "complex128")
               for v in list(step.inputs) + list(step.outputs))


def float_view(a):
    f = _FLOAT.get(getattr(a, "dtype", None))
    if f is None or not isinstance(a, np.ndarray):
        return a
    if not a.flags.c_contiguous:
        raise ValueError("a complex array passed to a kernel must be C-contiguous")
    return a.reshape(a.shape + (1,)).view(f)        # S + (2,), a view (0-d too)


def complex_args(fn):
    """``fn`` (a kernel) called with the float views of its complex arguments."""
    def call(*args):
        return fn(*[float_view(a) for a in args])
    return call
