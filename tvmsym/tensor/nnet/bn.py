"""``theano.tensor.nnet.bn``: batch normalization as graph expressions (their gradients come
from the ops they are made of; the fusion stage makes them a few elementwise/reduce kernels).

``axes``: 'per-activation' (``(0,)``), 'spatial' (``(0, 2, 3, ...)``) or a tuple of ints.
``gamma`` / ``beta`` / ``mean`` / ``var`` have the input's ndim with size 1 on ``axes``, or
only the kept dims (they are then broadcast over ``axes``).
"""
import numpy as np

from ...symbolic import basic as tb
from ...symbolic.ops.reduce import mean as _mean
from ...symbolic.ops.shape import shape_i


def _axes(axes, ndim):
    if axes == "per-activation":
        return (0,)
    if axes == "spatial":
        return (0,) + tuple(range(2, ndim))
    if isinstance(axes, str):
        raise ValueError(f"batch normalization: axes must be 'per-activation', 'spatial' or a "
                         f"tuple of ints, got {axes!r}")
    axes = tuple(sorted(int(a) % ndim for a in axes))
    if len(set(axes)) != len(axes):
        raise ValueError(f"batch normalization: repeated axes {axes}")
    return axes


def _param(p, x, axes, what):
    p = tb.as_tensor_variable(p)
    if p.ndim == x.ndim:
        return p
    if p.ndim == x.ndim - len(axes):
        order, k = [], 0
        for d in range(x.ndim):
            if d in axes:
                order.append("x")
            else:
                order.append(k)
                k += 1
        return tb.dimshuffle(p, *order)
    raise ValueError(f"batch normalization: {what} must have {x.ndim} dims (size 1 on axes "
                     f"{axes}) or {x.ndim - len(axes)}, got {p.type}")


def batch_normalization_train(inputs, gamma, beta, axes="per-activation", epsilon=1e-4,
                              running_average_factor=0.1, running_mean=None, running_var=None):
    """Normalize by the batch's statistics over ``axes``.

    Returns ``(out, mean, invstd)``, plus ``(new_running_mean, new_running_var)`` when the
    running averages are given (use them as shared-variable updates):
    ``new = old * (1 - factor) + batch * factor`` with the unbiased batch variance.
    """
    x = tb.as_tensor_variable(inputs)
    axes = _axes(axes, x.ndim)
    if epsilon < 1e-5:
        raise ValueError(f"batch_normalization_train: epsilon must be at least 1e-5, got {epsilon}")
    gamma, beta = _param(gamma, x, axes, "gamma"), _param(beta, x, axes, "beta")
    mean = _mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = _mean(tb.sqr(centered), axis=axes, keepdims=True)
    invstd = tb.true_div(1, tb.sqrt(var + np.asarray(epsilon, x.dtype)))
    out = centered * (gamma * invstd) + beta
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_normalization_train: give both running_mean and running_var, or neither")
    if running_mean is None:
        return out, mean, invstd
    m = None
    for a in axes:
        s = shape_i(x, a)
        m = s if m is None else m * s
    m = tb.cast(m, x.dtype)
    f = np.asarray(running_average_factor, x.dtype)
    rm = _param(running_mean, x, axes, "running_mean")
    rv = _param(running_var, x, axes, "running_var")
    new_mean = rm * (1 - f) + mean * f
    new_var = rv * (1 - f) + (var * m / tb.maximum(m - 1, 1)) * f
    if running_mean.ndim != x.ndim:
        new_mean = _squeeze(new_mean, axes)
        new_var = _squeeze(new_var, axes)
    return out, mean, invstd, new_mean, new_var


def _squeeze(v, axes):
    return tb.dimshuffle(v, *[d for d in range(v.ndim) if d not in axes])


def batch_normalization_test(inputs, gamma, beta, mean, var, axes="per-activation", epsilon=1e-4):
    """Normalize by given statistics: ``(x - mean) * gamma / sqrt(var + epsilon) + beta``."""
    x = tb.as_tensor_variable(inputs)
    axes = _axes(axes, x.ndim)
    if epsilon < 1e-5:
        raise ValueError(f"batch_normalization_test: epsilon must be at least 1e-5, got {epsilon}")
    gamma, beta = _param(gamma, x, axes, "gamma"), _param(beta, x, axes, "beta")
    mean, var = _param(mean, x, axes, "mean"), _param(var, x, axes, "var")
    return (x - mean) * (gamma / tb.sqrt(var + np.asarray(epsilon, x.dtype))) + beta


def batch_normalization(inputs, gamma, beta, mean, std, mode="low_mem"):
    """Theano's elementwise ``(inputs - mean) * (gamma / std) + beta`` (all broadcast)."""
    if mode not in ("low_mem", "high_mem"):
        raise ValueError(f"batch_normalization: mode must be 'low_mem' or 'high_mem', got {mode!r}")
    inputs = tb.as_tensor_variable(inputs)
    return (inputs - mean) * (gamma / std) + beta
