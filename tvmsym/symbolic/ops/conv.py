"""Convolutions as Theano declares them: ``AbstractConv2d`` / ``AbstractConv3d`` and their two
gradients (``..._gradWeights``, ``..._gradInputs``), NCHW / NCDHW, any number of groups.

Semantics (Theano's ``abstract_conv``): ``border_mode`` 'valid' (no padding), 'full'
(``dil * (k - 1)``), 'half' (``dil * (k // 2)``), an int or a tuple of ints (explicit
padding); ``subsample`` the strides; ``filter_flip=True`` flips the filters spatially (a true
convolution), ``False`` is a correlation; ``filter_dilation`` spaces the filter taps.

The gradient ops take the spatial shape they must produce as a third (int vector) input:
``gradWeights(img, topgrad, kshp[2:])`` and ``gradInputs(kern, topgrad, imshp[2:])`` (with
strides the output size does not determine the input size).  Every one of them is lowered
to TVM (``lowering/rules/conv.py``); the ``conv`` rewrite stage renames them ``CorrMM``...
(``ops/corr.py``) with the filter flip made explicit, as Theano's CPU rewrite does.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import basic as tb
from ..graph import Apply, Op, Variable
from ..type import TensorType
from .shape import _known_ints, as_shape_vector, shape_tuple

FLOATS = ("float16", "float32", "float64")


def _tuple(v, n, what):
    if isinstance(v, (numbers.Integral, np.integer)):
        return (int(v),) * n
    v = tuple(int(x) for x in v)
    if len(v) != n:
        raise ValueError(f"{what} must have {n} entries, got {v}")
    return v


def norm_border(border_mode, n):
    """'valid' | 'full' | 'half' | a tuple of n non-negative ints."""
    if isinstance(border_mode, str):
        if border_mode not in ("valid", "full", "half"):
            raise ValueError(f"invalid border_mode {border_mode!r}: use 'valid', 'full', 'half', "
                             "an int or a tuple of ints")
        return border_mode
    if isinstance(border_mode, (numbers.Integral, np.integer)):
        border_mode = (int(border_mode),) * n
    try:
        pads = tuple(int(p) for p in border_mode)
    except TypeError:
        raise ValueError(f"invalid border_mode {border_mode!r}") from None
    if len(pads) != n:
        raise ValueError(f"border_mode {border_mode!r} must have {n} entries (one per spatial dim)")
    if any(p < 0 for p in pads):
        raise ValueError(f"border_mode {pads}: negative padding is not allowed")
    if all(p == 0 for p in pads):
        return "valid"
    return pads


def pads_of(border_mode, kspatial, dilation):
    """Padding per spatial dim for concrete filter sizes."""
    if border_mode == "valid":
        return (0,) * len(kspatial)
    if border_mode == "full":
        return tuple(d * (k - 1) for k, d in zip(kspatial, dilation))
    if border_mode == "half":
        return tuple(d * (k // 2) for k, d in zip(kspatial, dilation))
    return tuple(border_mode)


def out_size(i, k, pad, stride, dil):
    return (i + 2 * pad - dil * (k - 1) - 1) // stride + 1


class BaseConv(Op):
    """Shared props, naming and shape checks of the three convolution ops."""

    __props__ = ("convdim", "border_mode", "subsample", "filter_flip", "filter_dilation",
                 "num_groups")
    kind = "opaque"
    base_name = "AbstractConv"

    def __init__(self, convdim=2, border_mode="valid", subsample=None, filter_flip=True,
                 filter_dilation=None, num_groups=1, imshp=None, kshp=None):
        n = self.convdim = int(convdim)
        if n not in (2, 3):
            raise ValueError(f"convdim must be 2 or 3, got {convdim}")
        self.border_mode = norm_border(border_mode, n)
        self.subsample = _tuple(subsample if subsample is not None else 1, n, "subsample")
        self.filter_dilation = _tuple(filter_dilation if filter_dilation is not None else 1, n,
                                      "filter_dilation")
        if any(s < 1 for s in self.subsample):
            raise ValueError(f"subsample must be positive, got {self.subsample}")
        if any(d < 1 for d in self.filter_dilation):
            raise ValueError(f"filter_dilation must be positive, got {self.filter_dilation}")
        self.filter_flip = bool(filter_flip)
        self.num_groups = int(num_groups)
        if self.num_groups < 1:
            raise ValueError(f"num_groups must be >= 1, got {num_groups}")
        # shape hints (Theano's imshp / kshp): checked, printed, not part of identity
        self.imshp = tuple(imshp) if imshp is not None else (None,) * (n + 2)
        self.kshp = tuple(kshp) if kshp is not None else (None,) * (n + 2)

    @property
    def opname(self):
        return f"{self.base_name}{self.convdim}d{self.suffix}"

    suffix = ""

    def __str__(self):
        bm = repr(self.border_mode) if isinstance(self.border_mode, str) else str(self.border_mode)
        return (f"{self.opname}{{convdim={self.convdim}, border_mode={bm}, "
                f"subsample={self.subsample}, filter_flip={self.filter_flip}, "
                f"imshp={self.imshp}, kshp={self.kshp}, filter_dilation={self.filter_dilation}, "
                f"num_groups={self.num_groups}, unshared=False}}")

    __repr__ = __str__

    def clone_with(self, cls=None, **changes):
        """This op's parameters as another conv class (the gradients, the Corr* forms)."""
        kw = dict(convdim=self.convdim, border_mode=self.border_mode, subsample=self.subsample,
                  filter_flip=self.filter_flip, filter_dilation=self.filter_dilation,
                  num_groups=self.num_groups, imshp=self.imshp, kshp=self.kshp)
        kw.update(changes)
        return (cls or type(self))(**kw)

    # -- checks
    def _float(self, v, what):
        v = tb.as_tensor_variable(v)
        if v.ndim != self.convdim + 2:
            raise TypeError(f"{self.opname}: {what} must be a {self.convdim + 2}-d tensor "
                            f"({'NCHW' if self.convdim == 2 else 'NCDHW'}), got {v.type}")
        if v.dtype not in FLOATS:
            raise TypeError(f"{self.opname}: {what} must be float, got {v.type}")
        return v

    def geometry(self, imshp, kshp):
        """(pads, output spatial shape) for concrete image and filter shapes; ValueError
        naming both shapes when they do not fit together."""
        n = self.convdim
        g = self.num_groups
        if imshp[1] != kshp[1] * g:
            raise ValueError(f"{self.opname}: input has {imshp[1]} channels but the filters expect "
                             f"{kshp[1]} x num_groups={g} = {kshp[1] * g} (input shape {tuple(imshp)}, "
                             f"filter shape {tuple(kshp)})")
        if kshp[0] % g:
            raise ValueError(f"{self.opname}: {kshp[0]} output channels (filter shape "
                             f"{tuple(kshp)}) do not divide into num_groups={g}")
        pads = pads_of(self.border_mode, kshp[2:], self.filter_dilation)
        out = []
        for d in range(n):
            i, k = imshp[2 + d], kshp[2 + d]
            eff = self.filter_dilation[d] * (k - 1) + 1
            if i + 2 * pads[d] < eff:
                raise ValueError(f"{self.opname}: the (dilated) filter ({eff} along spatial dim {d}) is "
                                 f"larger than the padded input ({i} + 2 x {pads[d]}): input shape "
                                 f"{tuple(imshp)}, filter shape {tuple(kshp)}, "
                                 f"border_mode={self.border_mode!r}")
            out.append(out_size(i, k, pads[d], self.subsample[d], self.filter_dilation[d]))
        return pads, tuple(out)

    def _check_known(self, imshp, kshp):
        imshp = [s if s is not None else h for s, h in zip(imshp, self.imshp)]
        kshp = [s if s is not None else h for s, h in zip(kshp, self.kshp)]
        if imshp[1] is not None and kshp[1] is not None and imshp[1] != kshp[1] * self.num_groups:
            raise ValueError(f"{self.opname}: input has {imshp[1]} channels but the filters expect "
                             f"{kshp[1]} x num_groups={self.num_groups} (input shape "
                             f"{_fmt(imshp)}, filter shape {_fmt(kshp)})")
        if all(s is not None for s in imshp[1:]) and all(s is not None for s in kshp[1:]):
            self.geometry([1] + list(imshp[1:]), list(kshp))

    def do_constant_folding(self, node):
        return False


def _fmt(shp):
    return "(" + ", ".join("?" if s is None else str(s) for s in shp) + ")"


def _static_shape(v):
    """Known dims of ``v`` at graph-build time (1 for broadcastable dims, else None)."""
    return [1 if b else None for b in v.broadcastable]


class AbstractConv(BaseConv):
    """``AbstractConv2d(img, kern)`` -> (batch, out channels, *output spatial)."""

    def make_node(self, img, kern):
        img, kern = self._float(img, "input"), self._float(kern, "filters")
        self._check_known(_static_shape(img), _static_shape(kern))
        dtype = np.result_type(img.dtype, kern.dtype).name
        bc = (img.broadcastable[0], kern.broadcastable[0]) + (False,) * self.convdim
        return Apply(self, [img, kern], [TensorType(dtype, bc)()])

    def infer_shape(self, node, shapes):
        imshp, kshp = shapes
        _, out = self.geometry(imshp, kshp)
        return [(imshp[0], kshp[0]) + out]


class _GradConv(BaseConv):
    def shape_value_inputs(self, node):
        return [2]

    def _shape_input(self, shp):
        shp = as_shape_vector(shp, self.opname)
        known = _known_ints(shp)
        if known is not None and len(known) != self.convdim:
            raise ValueError(f"{self.opname}: the shape input needs {self.convdim} entries, got {known}")
        return shp


class AbstractConv_gradWeights(_GradConv):
    """``gradWeights(img, topgrad, kshp_spatial)``: the filters' gradient (as flipped when
    ``filter_flip``)."""

    suffix = "_gradWeights"

    def make_node(self, img, topgrad, shape):
        img, topgrad = self._float(img, "input"), self._float(topgrad, "output gradient")
        shape = self._shape_input(shape)
        dtype = np.result_type(img.dtype, topgrad.dtype).name
        bc = (topgrad.broadcastable[1], img.broadcastable[1] and self.num_groups == 1) \
            + (False,) * self.convdim
        return Apply(self, [img, topgrad, shape], [TensorType(dtype, bc)()])

    def infer_shape_values(self, node, shapes, values):
        if values[2] is None:
            return [None]
        imshp, tshp = shapes[0], shapes[1]
        ksp = tuple(int(v) for v in values[2])
        kshp = (tshp[1], imshp[1] // self.num_groups) + ksp
        self._check_grad(imshp, kshp, tshp)
        return [kshp]

    def _check_grad(self, imshp, kshp, tshp):
        if imshp[1] % self.num_groups:
            raise ValueError(f"{self.opname}: input channels {imshp[1]} (input shape {tuple(imshp)}) "
                             f"do not divide into num_groups={self.num_groups}")
        _, out = self.geometry(imshp, kshp)
        want = (imshp[0], kshp[0]) + out
        if tuple(tshp) != want:
            raise ValueError(f"{self.opname}: output gradient shape {tuple(tshp)} does not match the "
                             f"convolution of input {tuple(imshp)} with filters {tuple(kshp)}: "
                             f"expected {want}")

    def infer_shape(self, node, shapes):
        raise NotImplementedError


class AbstractConv_gradInputs(_GradConv):
    """``gradInputs(kern, topgrad, imshp_spatial)``: the input's gradient (a transposed
    convolution)."""

    suffix = "_gradInputs"

    def make_node(self, kern, topgrad, shape):
        kern, topgrad = self._float(kern, "filters"), self._float(topgrad, "output gradient")
        shape = self._shape_input(shape)
        dtype = np.result_type(kern.dtype, topgrad.dtype).name
        bc = (topgrad.broadcastable[0], kern.broadcastable[1] and self.num_groups == 1) \
            + (False,) * self.convdim
        return Apply(self, [kern, topgrad, shape], [TensorType(dtype, bc)()])

    def infer_shape_values(self, node, shapes, values):
        if values[2] is None:
            return [None]
        kshp, tshp = shapes[0], shapes[1]
        isp = tuple(int(v) for v in values[2])
        imshp = (tshp[0], kshp[1] * self.num_groups) + isp
        if tshp[1] != kshp[0]:
            raise ValueError(f"{self.opname}: output gradient has {tshp[1]} channels (shape "
                             f"{tuple(tshp)}) but the filters {tuple(kshp)} have {kshp[0]}")
        AbstractConv_gradWeights._check_grad(self, imshp, kshp, tshp)
        return [imshp]

    def infer_shape(self, node, shapes):
        raise NotImplementedError


# --------------------------------------------------------------------------- user functions
def _hints(shape, n):
    if shape is None:
        return None
    shape = tuple(None if s is None or not isinstance(s, (numbers.Integral, np.integer)) else int(s)
                  for s in shape)
    if len(shape) != n + 2:
        raise ValueError(f"shape hint {shape} must have {n + 2} entries")
    return shape


def conv(input, filters, input_shape=None, filter_shape=None, border_mode="valid", subsample=None,
         filter_flip=True, filter_dilation=None, num_groups=1, convdim=2):
    op = AbstractConv(convdim, border_mode, subsample, filter_flip, filter_dilation, num_groups,
                      _hints(input_shape, convdim), _hints(filter_shape, convdim))
    return op(input, filters)


def conv_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None, border_mode="valid",
                         subsample=None, filter_flip=True, filter_dilation=None, num_groups=1,
                         convdim=2):
    """The gradient of ``conv(input, filters)`` w.r.t. ``input`` for ``output_grad``;
    ``input_shape`` (full, or only the spatial dims) may hold symbolic scalars."""
    if isinstance(input_shape, Variable):       # a symbolic shape vector: its last convdim entries
        input_shape = [input_shape[k] for k in range(-convdim, 0)]
    input_shape = list(input_shape)
    if len(input_shape) not in (convdim, convdim + 2):
        raise ValueError(f"input_shape must have {convdim + 2} (or {convdim}) entries, got "
                         f"{len(input_shape)}")
    hint = [s if isinstance(s, (numbers.Integral, np.integer)) else None for s in input_shape]
    if len(hint) == convdim:
        hint = [None, None] + hint
    op = AbstractConv_gradInputs(convdim, border_mode, subsample, filter_flip, filter_dilation,
                                 num_groups, hint, _hints(filter_shape, convdim))
    return op(filters, output_grad, input_shape[-convdim:])


def conv_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None, border_mode="valid",
                          subsample=None, filter_flip=True, filter_dilation=None, num_groups=1,
                          convdim=2):
    """The gradient of ``conv(input, filters)`` w.r.t. ``filters`` for ``output_grad``."""
    if isinstance(filter_shape, Variable):       # a symbolic shape vector: its last convdim entries
        filter_shape = [filter_shape[k] for k in range(-convdim, 0)]
    filter_shape = list(filter_shape)
    if len(filter_shape) not in (convdim, convdim + 2):
        raise ValueError(f"filter_shape must have {convdim + 2} (or {convdim}) entries, got "
                         f"{len(filter_shape)}")
    hint = [s if isinstance(s, (numbers.Integral, np.integer)) else None for s in filter_shape]
    if len(hint) == convdim:
        hint = [None, None] + hint
    op = AbstractConv_gradWeights(convdim, border_mode, subsample, filter_flip, filter_dilation,
                                  num_groups, _hints(input_shape, convdim), hint)
    return op(input, output_grad, filter_shape[-convdim:])


def spatial_shape(v, n):
    return list(shape_tuple(v)[-n:])
