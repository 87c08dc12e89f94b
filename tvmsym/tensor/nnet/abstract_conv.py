"""``theano.tensor.nnet.abstract_conv``: conv2d / conv3d, their gradients and conv2d_transpose.

NCHW (NCDHW); filters (out channels, in channels / num_groups, *spatial); flipped by default
(a true convolution; ``filter_flip=False`` is a correlation).  See ``symbolic/ops/conv.py``.
"""
from ...symbolic.ops.conv import (  # noqa: F401
    AbstractConv,
    AbstractConv_gradInputs,
    AbstractConv_gradWeights,
    conv,
    conv_grad_wrt_inputs,
    conv_grad_wrt_weights,
)
from ...symbolic.ops.corr import CorrMM, CorrMM_gradInputs, CorrMM_gradWeights  # noqa: F401


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False, **kwargs):
    """2-d convolution of a batch of images (Theano's ``T.nnet.conv2d``).

    ``border_mode``: 'valid', 'full', 'half', an int or (int, int) padding; ``subsample``:
    strides; ``filter_dilation``: spacing of the filter taps; ``num_groups``: grouped
    convolution.  ``input_shape`` / ``filter_shape`` (None entries allowed) are checked
    hints; ``image_shape`` is the old name of ``input_shape``.
    """
    if unshared:
        raise NotImplementedError("conv2d: unshared=True (locally connected filters) is not supported")
    if kwargs:
        raise TypeError(f"conv2d: unexpected keyword arguments {sorted(kwargs)}")
    if image_shape is not None:
        if input_shape is not None:
            raise ValueError("conv2d: pass input_shape or its old name image_shape, not both")
        input_shape = image_shape
    return conv(input, filters, input_shape, filter_shape, border_mode, subsample, filter_flip,
                filter_dilation, num_groups, convdim=2)


def conv3d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1, 1), filter_flip=True, filter_dilation=(1, 1, 1), num_groups=1):
    """3-d convolution (NCDHW), the 2-d one's parameters with three spatial entries."""
    return conv(input, filters, input_shape, filter_shape, border_mode, subsample, filter_flip,
                filter_dilation, num_groups, convdim=3)


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None,
                           border_mode="valid", subsample=(1, 1), filter_flip=True,
                           filter_dilation=(1, 1), num_groups=1):
    """The gradient of conv2d w.r.t. its input (``input_shape``: 4 entries, ints or scalars)."""
    return conv_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape, border_mode,
                                subsample, filter_flip, filter_dilation, num_groups, 2)


def conv2d_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None,
                            border_mode="valid", subsample=(1, 1), filter_flip=True,
                            filter_dilation=(1, 1), num_groups=1):
    """The gradient of conv2d w.r.t. its filters (``filter_shape``: 4 entries)."""
    return conv_grad_wrt_weights(input, output_grad, filter_shape, input_shape, border_mode,
                                 subsample, filter_flip, filter_dilation, num_groups, 2)


def conv3d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None,
                           border_mode="valid", subsample=(1, 1, 1), filter_flip=True,
                           filter_dilation=(1, 1, 1), num_groups=1):
    return conv_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape, border_mode,
                                subsample, filter_flip, filter_dilation, num_groups, 3)


def conv3d_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None,
                            border_mode="valid", subsample=(1, 1, 1), filter_flip=True,
                            filter_dilation=(1, 1, 1), num_groups=1):
    return conv_grad_wrt_weights(input, output_grad, filter_shape, input_shape, border_mode,
                                 subsample, filter_flip, filter_dilation, num_groups, 3)


def conv2d_transpose(input, filters, output_shape, filter_shape=None, border_mode="valid",
                     input_dilation=(1, 1), filter_flip=True, filter_dilation=(1, 1), num_groups=1):
    """The transpose of conv2d (a "deconvolution"): conv2d's input gradient for ``input``,
    producing ``output_shape``; ``input_dilation`` is the forward convolution's stride."""
    return conv2d_grad_wrt_inputs(input, filters, output_shape, filter_shape, border_mode,
                                  input_dilation, filter_flip, filter_dilation, num_groups)
