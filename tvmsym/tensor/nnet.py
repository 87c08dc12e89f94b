"""``T.nnet``: Theano's neural-network namespace (softmax, relu, cross-entropies, sigmoid ...)."""
from ..symbolic.ops.nnet import (Softmax, LogSoftmax, softmax, log_softmax, logsoftmax, relu,  # noqa: F401
                                 categorical_crossentropy, binary_crossentropy, sigmoid, softplus,
                                 softmax_with_bias, hard_sigmoid, softsign, elu, selu)
