"""Pooling over the last ``ndim`` axes (Theano's ``theano.tensor.signal.pool``).

Windows (per pooled axis, padded coordinates): ``[r * stride, min(r * stride + ws, H + 2 pad))``.
'max', 'sum' and 'average_exc_pad' use only the window's part inside the image;
'average_inc_pad' divides by the window's size inside the padded image.  The output size
is Theano's ``Pool.out_shape`` (``ignore_border=False`` keeps a last partial window).

``MaxPoolGrad(x, maxout, gz)`` routes each window's gradient to every position equal to its
max (ties all receive it, as Theano's), ``AveragePoolGrad(x, gz)`` spreads it over the
window, ``DownsampleFactorMaxGradGrad(x, maxout, ggx)`` is MaxPoolGrad's adjoint.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op
from ..type import TensorType

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _ints(v, n, what):
    if isinstance(v, (numbers.Integral, np.integer)):
        v = (v,) * n
    try:
        v = tuple(int(x) for x in v)
    except TypeError:
        raise TypeError(f"{what} must be a tuple of {n} ints, got {v!r}") from None
    if len(v) != n:
        raise ValueError(f"{what} must have {n} entries, got {v}")
    return v


def out_len(h, ws, st, pad, ignore_border):
    """Theano's Pool.out_shape for one axis."""
    r = h + 2 * pad
    if ignore_border:
        return r // st if ws == st else max((r - ws) // st + 1, 0)
    if st >= ws:
        return (r - 1) // st + 1
    return max(0, (r - 1 - ws) // st + 1) + 1


class PoolBase(Op):
    __props__ = ("ws", "ignore_border", "stride", "pad", "mode", "ndim")
    kind = "opaque"

    def __init__(self, ws, ignore_border=False, stride=None, pad=None, mode="max", ndim=2):
        self.ndim = int(ndim)
        n = self.ndim
        self.ws = _ints(ws, n, "ws")
        self.stride = _ints(stride if stride is not None else self.ws, n, "stride")
        self.pad = _ints(pad if pad is not None else 0, n, "pad")
        self.ignore_border = bool(ignore_border)
        if mode == "average":
            mode = "average_inc_pad"
        if mode not in MODES:
            raise ValueError(f"Pool mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        if any(w < 1 for w in self.ws) or any(s < 1 for s in self.stride):
            raise ValueError(f"pool: ws {self.ws} and stride {self.stride} must be positive")
        if any(p < 0 for p in self.pad):
            raise ValueError(f"pool: negative padding {self.pad}")
        if any(self.pad) and not self.ignore_border:
            raise NotImplementedError("pool: padding works only with ignore_border=True")
        if any(p >= w for p, w in zip(self.pad, self.ws)):
            raise NotImplementedError(f"pool: padding {self.pad} must be smaller than ws {self.ws}")

    def __str__(self):
        return (f"{type(self).__name__}{{ignore_border={self.ignore_border}, mode={self.mode!r}, "
                f"ndim={self.ndim}}}")

    __repr__ = __str__

    def _x(self, x):
        x = tb.as_tensor_variable(x)
        if x.ndim < self.ndim:
            raise TypeError(f"{type(self).__name__}: the input must have at least {self.ndim} dims "
                            f"(pooling over the last {self.ndim}), got {x.type}")
        if self.mode.startswith("average") and x.dtype[0] != "f":
            raise TypeError(f"{type(self).__name__}: mode {self.mode!r} needs a float input, got {x.type}")
        return x

    def out_shape(self, xshape):
        lead = tuple(xshape[:-self.ndim])
        out = tuple(out_len(h, w, s, p, self.ignore_border)
                    for h, w, s, p in zip(xshape[-self.ndim:], self.ws, self.stride, self.pad))
        return lead + out

    def do_constant_folding(self, node):
        return False


class Pool(PoolBase):
    """``Pool{ignore_border, mode, ndim}(x)``."""

    def make_node(self, x):
        x = self._x(x)
        bc = x.broadcastable[:-self.ndim] + (False,) * self.ndim
        return Apply(self, [x], [TensorType(x.dtype, bc)()])

    def infer_shape(self, node, shapes):
        return [self.out_shape(shapes[0])]


class MaxPoolGrad(PoolBase):
    """``MaxPoolGrad(x, maxout, gz)``: gz routed to each window's arg-max positions."""

    def __init__(self, ws, ignore_border=False, stride=None, pad=None, mode="max", ndim=2):
        super().__init__(ws, ignore_border, stride, pad, mode, ndim)

    def make_node(self, x, maxout, gz):
        x = self._x(x)
        maxout, gz = tb.as_tensor_variable(maxout), tb.as_tensor_variable(gz)
        for v, what in ((maxout, "maxout"), (gz, "gz")):
            if v.ndim != x.ndim:
                raise TypeError(f"{self}: {what} must have the input's ndim {x.ndim}, got {v.type}")
        return Apply(self, [x, maxout, gz], [TensorType(gz.dtype, x.broadcastable)()])

    def infer_shape(self, node, shapes):
        self._check(shapes[0], shapes[1:])
        return [tuple(shapes[0])]

    def _check(self, xshape, others):
        want = self.out_shape(xshape)
        for s in others:
            if tuple(s) != want:
                raise ValueError(f"{self}: pooled shape {tuple(s)} does not match the input "
                                 f"{tuple(xshape)} (expected {want})")


class AveragePoolGrad(MaxPoolGrad):
    """``AveragePoolGrad(x, gz)``: gz spread over each window (sum: unscaled)."""

    def __init__(self, ws, ignore_border=False, stride=None, pad=None, mode="average_inc_pad", ndim=2):
        PoolBase.__init__(self, ws, ignore_border, stride, pad, mode, ndim)

    def make_node(self, x, gz):
        x = self._x(x)
        gz = tb.as_tensor_variable(gz)
        if gz.ndim != x.ndim:
            raise TypeError(f"{self}: gz must have the input's ndim {x.ndim}, got {gz.type}")
        return Apply(self, [x, gz], [TensorType(gz.dtype, x.broadcastable)()])


class DownsampleFactorMaxGradGrad(MaxPoolGrad):
    """``(x, maxout, ggx)`` -> pooled shape: the adjoint of MaxPoolGrad in its gz."""

    def make_node(self, x, maxout, ggx):
        x = self._x(x)
        maxout, ggx = tb.as_tensor_variable(maxout), tb.as_tensor_variable(ggx)
        if maxout.ndim != x.ndim or ggx.ndim != x.ndim:
            raise TypeError(f"{self}: maxout and ggx must have the input's ndim {x.ndim}")
        bc = x.broadcastable[:-self.ndim] + (False,) * self.ndim
        return Apply(self, [x, maxout, ggx], [TensorType(ggx.dtype, bc)()])

    def infer_shape(self, node, shapes):
        self._check(shapes[0], [shapes[1]])
        return [self.out_shape(shapes[0])]
