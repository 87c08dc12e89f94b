"""``theano.tensor.nnet.conv``: the old ``conv2d`` signature (``image_shape``, ``filter_shape``,
``border_mode`` 'valid' | 'full', ``subsample``), a flipping convolution as the new one."""
from .abstract_conv import conv2d as _conv2d


def conv2d(input, filters, image_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), **kargs):
    """Theano's legacy ``conv.conv2d`` (always flips the filters)."""
    if border_mode not in ("valid", "full"):
        raise ValueError(f"conv.conv2d: border_mode must be 'valid' or 'full', got {border_mode!r}")
    kargs.pop("imshp_logical", None)
    kargs.pop("kshp_logical", None)
    kargs.pop("kshp_logical_top_aligned", None)
    if kargs:
        raise TypeError(f"conv.conv2d: unsupported keyword arguments {sorted(kargs)}")
    return _conv2d(input, filters, input_shape=image_shape, filter_shape=filter_shape,
                   border_mode=border_mode, subsample=subsample)
