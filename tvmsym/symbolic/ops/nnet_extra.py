"""More of ``T.nnet`` (Theano 1.0's theano.tensor.nnet): one-hot cross-entropies with their
softmax, hierarchical softmax, the confusion matrix, ultra_fast_sigmoid,
sigmoid_binary_crossentropy, prepend_0/1_to_each_row.  Compositions of existing ops: their
gradients and lowerings are those ops' (the confusion matrix's ``order`` uses ``nonzero``,
a host step)."""
from __future__ import annotations

import numpy as np

from .. import basic as tb
from .nnet import log_softmax, softmax


def _rows(x):
    from .shape import arange
    return arange(x.shape[0])


def crossentropy_categorical_1hot(coding_dist, true_one_of_n):
    """``-log(coding_dist[i, true_one_of_n[i]])`` for each row ``i``."""
    coding_dist = tb.as_tensor_variable(coding_dist)
    y = tb.as_tensor_variable(true_one_of_n)
    if coding_dist.ndim != 2 or y.ndim != 1 or y.dtype[0] not in "iu":
        raise TypeError(f"crossentropy_categorical_1hot: expected a matrix and an int vector, "
                        f"got {coding_dist.type} and {y.type}")
    return -tb.log(coding_dist[_rows(coding_dist), y])


def crossentropy_softmax_1hot_with_bias(x, b, y_idx):
    """``(nll, softmax(x + b))``: nll[i] = -log(softmax(x + b)[i, y_idx[i]]), computed stably."""
    x, b, y = tb.as_tensor_variable(x), tb.as_tensor_variable(b), tb.as_tensor_variable(y_idx)
    if x.ndim != 2 or b.ndim != 1 or y.ndim != 1 or y.dtype[0] not in "iu":
        raise TypeError(f"crossentropy_softmax_1hot_with_bias: expected x matrix, b vector, "
                        f"y_idx int vector; got {x.type}, {b.type}, {y.type}")
    z = x + b
    return -log_softmax(z)[_rows(z), y], softmax(z)


def crossentropy_softmax_1hot(x, y_idx):
    """``(nll, softmax(x))`` with nll[i] = -log(softmax(x)[i, y_idx[i]])."""
    x, y = tb.as_tensor_variable(x), tb.as_tensor_variable(y_idx)
    if x.ndim != 2 or y.ndim != 1 or y.dtype[0] not in "iu":
        raise TypeError(f"crossentropy_softmax_1hot: expected x matrix, y_idx int vector; got "
                        f"{x.type}, {y.type}")
    return -log_softmax(x)[_rows(x), y], softmax(x)


def h_softmax(x, batch_size, n_outputs, n_classes, n_outputs_per_class, W1, b1, W2, b2,
              target=None):
    """Two-level hierarchical softmax (Theano's h_softmax): P(class) * P(output | class).

    ``W1`` (n_in, n_classes), ``b1`` (n_classes,), ``W2`` (n_classes, n_in, n_outputs_per_class),
    ``b2`` (n_classes, n_outputs_per_class).  Without ``target``: every output's probability,
    (batch_size, n_outputs); with ``target`` (int vector): each row's target probability.
    """
    from .linalg import batched_dot, dot, tensordot
    from .shape import reshape
    x = tb.as_tensor_variable(x)
    W1, b1, W2, b2 = (tb.as_tensor_variable(v) for v in (W1, b1, W2, b2))
    class_probs = softmax(dot(x, W1) + b1)
    if target is None:
        act = tensordot(x, W2, [[1], [1]]) + b2
        out = softmax(reshape(act, (-1, n_outputs_per_class)))
        out = reshape(out, (batch_size, n_classes, -1))
        out = class_probs.dimshuffle(0, 1, "x") * out
        out = reshape(out, (batch_size, -1))
        return out[:, :n_outputs]
    target = tb.as_tensor_variable(target).flatten()
    tc = target // n_outputs_per_class
    to = target % n_outputs_per_class
    act = batched_dot(x, W2[tc]) + b2[tc]
    out = softmax(act)
    rows = _rows(x)
    return class_probs[rows, tc] * out[rows, to]


def confusion_matrix(actual, pred):
    """``[conf_mat, order]``: ``order`` the sorted distinct labels of both vectors,
    ``conf_mat[i, j]`` the count of (actual == order[i], pred == order[j])."""
    from .linalg import dot
    from .nonzero import nonzero
    from .shape import concatenate
    from .sort import sort
    actual, pred = tb.as_tensor_variable(actual), tb.as_tensor_variable(pred)
    if actual.ndim != 1 or pred.ndim != 1:
        raise ValueError(f"confusion_matrix: actual and pred must be vectors, got "
                         f"{actual.type} and {pred.type}")
    s = sort(concatenate([actual, pred]))
    first = concatenate([tb.eq(s[:1], s[:1]), tb.neq(s[1:], s[:-1])])
    order = s[nonzero(first)]
    one_a = tb.cast(tb.eq(actual.dimshuffle(0, "x"), order), "int64")
    one_p = tb.cast(tb.eq(pred.dimshuffle(0, "x"), order), "int64")
    return [dot(one_a.T, one_p), order]


def ultra_fast_sigmoid(x):
    """Theano's piecewise approximation of the sigmoid (a rational tanh approximation)."""
    x = tb.as_tensor_variable(x)
    dt = x.dtype if x.dtype[0] == "f" else "float64"
    h = tb.cast(x, dt) * np.asarray(0.5, dt)
    a = tb.abs(h)
    z = tb.switch(tb.lt(a, 1.7), 1.5 * a / (1 + a),
                  tb.switch(tb.lt(a, 3), 0.935409070603099 + 0.0458812946797165 * (a - 1.7),
                            0.99505475368673))
    z = tb.switch(tb.ge(h, 0), z, -z)
    return 0.5 * (z + 1.0)


def sigmoid_binary_crossentropy(output, target):
    """binary_crossentropy(sigmoid(output), target) computed stably:
    ``softplus(-|output|) + output * ((output > 0) - target)``."""
    output, target = tb.as_tensor_variable(output), tb.as_tensor_variable(target)
    return tb.softplus(-tb.abs(output)) + output * (tb.cast(tb.gt(output, 0), output.dtype)
                                                    - target)


def _prepend(val, x):
    from .shape import alloc, concatenate
    x = tb.as_tensor_variable(x)
    if x.ndim != 2:
        raise TypeError(f"prepend_{val}_to_each_row: expected a matrix, got {x.type}")
    col = alloc(tb.constant(np.asarray(val, dtype=x.dtype)), x.shape[0], 1)
    return concatenate([col, x], axis=1)


def prepend_0_to_each_row(x):
    """``x`` with a column of zeros in front."""
    return _prepend(0, x)


def prepend_1_to_each_row(x):
    """``x`` with a column of ones in front."""
    return _prepend(1, x)
