"""``T.nnet``: Theano's neural-network namespace (softmax, relu, cross-entropies, sigmoid ...)."""
from ...symbolic.ops.nnet import (Softmax, LogSoftmax, softmax, log_softmax, logsoftmax, relu,  # noqa: F401,I001
                                 categorical_crossentropy, binary_crossentropy, sigmoid, softplus,
                                 softmax_with_bias, hard_sigmoid, softsign, elu, selu)
# rng: the rest of Theano's T.nnet helpers (symbolic/ops/nnet_extra.py)
from ...symbolic.ops.nnet_extra import (crossentropy_categorical_1hot,  # noqa: F401,E402
                                       crossentropy_softmax_1hot,
                                       crossentropy_softmax_1hot_with_bias, h_softmax,
                                       confusion_matrix, ultra_fast_sigmoid,
                                       sigmoid_binary_crossentropy, prepend_0_to_each_row,
                                       prepend_1_to_each_row)
from .abstract_conv import conv2d, conv3d, conv2d_transpose  # noqa: F401,E402
from . import abstract_conv, conv, bn  # noqa: F401,E402
