"""``T.nnet``: Theano's neural-network namespace (softmax, relu, cross-entropies, sigmoid ...)."""
from ...symbolic.ops.nnet import (Softmax, LogSoftmax, softmax, log_softmax, logsoftmax, relu,  # noqa: F401,I001
                                 categorical_crossentropy, binary_crossentropy, sigmoid, softplus,
                                 softmax_with_bias, hard_sigmoid, softsign, elu, selu)
from .abstract_conv import conv2d, conv3d, conv2d_transpose  # noqa: F401,E402
from . import abstract_conv, conv, bn  # noqa: F401,E402
