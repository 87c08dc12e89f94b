"""``theano.tensor.signal.pool``: pool_2d, pool_3d, max_pool_2d_same_size (ops in
``symbolic/ops/pool.py``)."""
import warnings

from ...symbolic.basic import as_tensor_variable
from ...symbolic.ops.pool import AveragePoolGrad, DownsampleFactorMaxGradGrad, MaxPoolGrad, Pool  # noqa: F401


def _pool(input, ws, ignore_border, stride, pad, mode, ndim, name, ds=None, st=None, padding=None):
    if ds is not None:
        if ws is not None:
            raise ValueError(f"{name}: pass ws or its old name ds, not both")
        ws = ds
    if st is not None:
        if stride is not None:
            raise ValueError(f"{name}: pass stride or its old name st, not both")
        stride = st
    if padding is not None:
        pad = padding
    if ws is None:
        raise ValueError(f"{name}: ws (the window shape) is required")
    input = as_tensor_variable(input)
    if input.ndim < ndim:
        raise NotImplementedError(f"{name} requires a dimension >= {ndim}, got {input.type}")
    if ignore_border is None:
        warnings.warn(f"{name}() will have the parameter ignore_border default value changed to "
                      "True (currently False). To have consistent behavior with all Theano "
                      "versions, explicitly add the parameter ignore_border=True.", stacklevel=3)
        ignore_border = False
    return Pool(ws, ignore_border, stride, pad if pad is not None else (0,) * ndim, mode, ndim)(input)


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max", ds=None,
            st=None, padding=None):
    """Max / sum / average pooling over the last two axes (``ignore_border=None`` warns and
    means False, as Theano)."""
    return _pool(input, ws, ignore_border, stride, pad, mode, 2, "pool_2d", ds, st, padding)


def pool_3d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0, 0), mode="max", ds=None,
            st=None, padding=None):
    """Pooling over the last three axes."""
    return _pool(input, ws, ignore_border, stride, pad, mode, 3, "pool_3d", ds, st, padding)


def max_pool_2d_same_size(input, patch_size):
    """Keep each non-overlapping patch's maximum (every tied one) in place, zero the rest."""
    input = as_tensor_variable(input)
    out = Pool(patch_size, True, ndim=2)(input)
    return MaxPoolGrad(patch_size, True, ndim=2)(input, out, out)
