"""verify_grad over every differentiable op, table-driven, float64.

Each family's cases are checked by ONE compiled function (``check_grads``), so the
whole table costs a handful of builds; a failure still names its case and ops.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads, grad_clip
from tvmsym.symbolic import scalar as ps
from tvmsym.symbolic.elemwise import Elemwise

R = np.random.default_rng(7)


def u(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, size=shape)


def pos(*shape):
    return R.uniform(0.2, 2.0, size=shape)


def away0(*shape):
    return R.choice([-1.0, 1.0], size=shape) * R.uniform(0.2, 1.5, size=shape)


_composite = ps.Composite(((ps.mul, ("i", 0), (ps.exp, ("i", 1))),
                                       (ps.add, (ps.tanh, ("i", 0)), ("c", 2.0, "float64"))),
                                      ("float64", "float64"))


def _composite_case(a, b):
    o1, o2 = Elemwise(_composite)(a, b)
    return o1 * o2


CASES = {
    "elemwise_unary": [
        ("neg", lambda a: -a, [u(3, 4)]),
        ("abs", lambda a: abs(a), [away0(3, 4)]),
        ("sqr", lambda a: T.sqr(a), [u(3, 4)]),
        ("exp", lambda a: T.exp(a), [u(3, 4)]),
        ("exp2", lambda a: T.exp2(a), [u(3, 4)]),
        ("expm1", lambda a: T.expm1(a), [u(3, 4)]),
        ("log", lambda a: T.log(a), [pos(3, 4)]),
        ("log2", lambda a: T.log2(a), [pos(3, 4)]),
        ("log10", lambda a: T.log10(a), [pos(3, 4)]),
        ("log1p", lambda a: T.log1p(a), [pos(3, 4)]),
        ("sqrt", lambda a: T.sqrt(a), [pos(3, 4)]),
        ("sin", lambda a: T.sin(a), [u(3, 4)]),
        ("cos", lambda a: T.cos(a), [u(3, 4)]),
        ("tan", lambda a: T.tan(a), [u(3, 4)]),
        ("arcsin", lambda a: T.arcsin(a), [u(3, 4, lo=-0.9, hi=0.9)]),
        ("arccos", lambda a: T.arccos(a), [u(3, 4, lo=-0.9, hi=0.9)]),
        ("arctan", lambda a: T.arctan(a), [u(3, 4)]),
        ("sinh", lambda a: T.sinh(a), [u(3, 4)]),
        ("cosh", lambda a: T.cosh(a), [u(3, 4)]),
        ("tanh", lambda a: T.tanh(a), [u(3, 4)]),
        ("erf", lambda a: T.erf(a), [u(3, 4, lo=-2, hi=2)]),
        ("erfc", lambda a: T.erfc(a), [u(3, 4, lo=-2, hi=2)]),
        ("sigmoid", lambda a: T.sigmoid(a), [u(3, 4, lo=-4, hi=4)]),
        ("softplus", lambda a: T.softplus(a), [u(3, 4, lo=-4, hi=4)]),
        ("inv", lambda a: T.inv(a), [away0(3, 4)]),
        ("identity", lambda a: T.identity(a), [u(3, 4)]),
        ("piecewise_constant", lambda a: (T.floor(a) + T.ceil(a) + T.round(a) + T.trunc(a)
                                          + T.sgn(a)) * a, [u(3, 4, lo=0.1, hi=0.4)]),
        ("grad_clip", lambda a: grad_clip(a, -10, 10) * 2, [u(3, 4)]),
    ],
    "elemwise_nary": [
        ("add", lambda a, b: a + b, [u(3, 4), u(3, 4)]),
        ("sub", lambda a, b: a - b, [u(3, 4), u(3, 4)]),
        ("mul", lambda a, b: a * b, [u(3, 4), u(3, 4)]),
        ("true_div", lambda a, b: a / b, [u(3, 4), away0(3, 4)]),
        ("pow", lambda a, b: a ** b, [pos(3, 4), u(3, 4)]),
        ("pow_const", lambda a: a ** 3, [u(3, 4)]),
        ("mod", lambda a, b: a % b, [u(3, 4, lo=0.1, hi=0.3), u(3, 4, lo=0.5, hi=0.9)]),
        ("int_div", lambda a, b: (a // b) * a, [u(3, 4, lo=0.1, hi=0.3), u(3, 4, lo=0.5, hi=0.9)]),
        ("maximum", lambda a, b: T.maximum(a, b), [u(3, 4), u(3, 4)]),
        ("minimum", lambda a, b: T.minimum(a, b), [u(3, 4), u(3, 4)]),
        ("clip", lambda a: T.clip(a, -0.5, 0.5), [u(3, 4)]),
        ("clip_bounds", lambda a, lo, hi: T.clip(a, lo, hi),
         [u(3, 4), u(3, 4, lo=-1.5, hi=-0.3), u(3, 4, lo=0.3, hi=1.5)]),
        ("switch", lambda a, b: T.switch(a > 0, a * b, b), [u(3, 4), u(3, 4)]),
        ("broadcast_row", lambda a, b: a * b, [u(3, 4), u(4)]),
        ("broadcast_col", lambda a, b: a - b, [u(3, 4), u(3, 1)]),
        ("broadcast_both", lambda a, b: a * T.exp(b), [u(3, 1), u(1, 4)]),
        ("broadcast_scalar", lambda a, b: a / (1 + b * b), [u(3, 4), u()]),
        ("composite", _composite_case, [u(3, 4), u(3, 4)]),
        ("chain", lambda a, b: T.tanh(a * b + 1) * T.exp(-abs(a)) + T.log1p(T.exp(b)) - a / (1 + b * b),
         [away0(3, 4), u(3, 4)]),
    ],
    "reduce_dimshuffle": [
        ("sum", lambda a: a.sum(), [u(3, 4)]),
        ("sum_axis0", lambda a: a.sum(axis=0), [u(3, 4)]),
        ("sum_axis_neg_keepdims", lambda a: a.sum(axis=-1, keepdims=True) * a, [u(3, 4)]),
        ("sum_3d_axes", lambda a: a.sum(axis=(0, 2)), [u(2, 3, 4)]),
        ("prod", lambda a: a.prod(axis=1), [u(3, 4)]),
        ("prod_with_zeros", lambda a: a.prod(axis=1), [np.array([[0.0, 1.5, 2.0], [0.0, 0.0, 3.0],
                                                                  [1.0, 2.0, 3.0]])]),
        ("mean", lambda a: a.mean(axis=0), [u(3, 4)]),
        ("mean_all", lambda a: a.mean() * a, [u(3, 4)]),
        ("var", lambda a: T.var(a, axis=1), [u(3, 4)]),
        ("std", lambda a: T.std(a), [u(3, 4)]),
        ("max", lambda a: T.max(a, axis=1), [u(3, 4)]),
        ("min", lambda a: T.min(a, axis=0), [u(3, 4)]),
        ("max_all", lambda a: T.max(a), [u(3, 4)]),
        ("logsumexp", lambda a: T.logsumexp(a, axis=1), [u(3, 4)]),
        ("transpose", lambda a: a.T * np.arange(3.0), [u(3, 4)]),
        ("dimshuffle_3d", lambda a: a.dimshuffle(2, "x", 0, 1), [u(2, 3, 4)]),
        ("dimshuffle_drop", lambda a: a.dimshuffle(0) * np.arange(3.0), [u(3, 1)]),
    ],
    "linalg": [
        ("dot_mm", lambda a, b: T.dot(a, b), [u(3, 4), u(4, 5)]),
        ("dot_mv", lambda a, b: T.dot(a, b), [u(3, 4), u(4)]),
        ("dot_vm", lambda a, b: T.dot(a, b), [u(4), u(4, 5)]),
        ("dot_vv", lambda a, b: T.dot(a, b), [u(4), u(4)]),
        ("dot_transposed", lambda a, b: T.dot(a.T, b), [u(4, 3), u(4, 5)]),
        ("matmul_batch", lambda a, b: a @ b, [u(2, 3, 4), u(2, 4, 5)]),
        ("matmul_broadcast", lambda a, b: a @ b, [u(2, 3, 4), u(4, 5)]),
        ("tensordot", lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]), [u(2, 3, 4), u(4, 2, 5)]),
        ("outer", lambda a, b: T.outer(a, b), [u(3), u(4)]),
        ("batched_dot", lambda a, b: T.batched_dot(a, b), [u(2, 3, 4), u(2, 4, 5)]),
    ],
    "shape": [
        ("reshape", lambda a: a.reshape((4, 3)) * np.arange(3.0), [u(3, 4)]),
        ("reshape_minus1", lambda a: a.reshape((2, -1)), [u(3, 4)]),
        ("flatten", lambda a: T.flatten(a) * np.arange(12.0), [u(3, 4)]),
        ("concatenate", lambda a, b: T.concatenate([a, b * 2], axis=1), [u(3, 4), u(3, 2)]),
        ("stack", lambda a, b: T.stack([a, b * 2]), [u(3, 4), u(3, 4)]),
        ("split", lambda a: T.split(a, [1, 3], 2, axis=1)[1] * 3, [u(3, 4)]),
        ("repeat_axis", lambda a: T.repeat(a, 2, axis=1), [u(3, 4)]),
        ("repeat_flat", lambda a: T.repeat(a, 3), [u(3, 4)]),
        ("tile", lambda a: T.tile(a, (2, 3)), [u(3, 4)]),
        ("tile_more_dims", lambda a: T.tile(a, (2, 1, 3)), [u(3, 4)]),
        ("alloc", lambda a: T.alloc(a, 5, 3, 4), [u(3, 4)]),
        ("alloc_broadcast", lambda a: T.alloc(a, 3, 4), [u(1, 4)]),
        ("diag_alloc", lambda a: T.diag(a, 1), [u(3)]),
        ("diag_extract", lambda a: T.diag(a), [u(3, 3)]),
        ("diag_extract_wide", lambda a: T.diag(a) * np.arange(3.0), [u(3, 4)]),
        ("diag_extract_tall_offset", lambda a: T.diagonal(a, -1), [u(4, 2)]),
        ("diag_extract_wide_offset", lambda a: T.diagonal(a, 2) * np.arange(2.0), [u(3, 4)]),
        ("squeeze", lambda a: T.squeeze(a, 1), [u(3, 1)]),
        ("flip", lambda a: T.flip(a, 1) * np.arange(4.0), [u(3, 4)]),
        ("roll", lambda a: T.roll(a, 1, 1) * np.arange(4.0), [u(3, 4)]),
    ],
    "subtensor": [
        ("slices", lambda a: a[1:, ::2], [u(3, 4)]),
        ("int_index", lambda a: a[1], [u(3, 4)]),
        ("int_and_slice", lambda a: a[-1, 1:3] * 2, [u(3, 4)]),
        ("inc_subtensor", lambda a, b: T.inc_subtensor(a[1:], b), [u(3, 4), u(2, 4)]),
        ("set_subtensor", lambda a, b: T.set_subtensor(a[1:], b), [u(3, 4), u(2, 4)]),
        ("inc_subtensor_broadcast", lambda a, b: T.inc_subtensor(a[1:], b), [u(3, 4), u(4)]),
        ("mask", lambda a: a[np.array([[True, False, True, False]] * 3)], [u(3, 4)]),
    ],
    "nnet_sort_cum": [
        ("softmax", lambda a: T.nnet.softmax(a), [u(3, 4)]),
        ("softmax_axis0", lambda a: T.nnet.softmax(a, axis=0), [u(3, 4)]),
        ("log_softmax", lambda a: T.nnet.log_softmax(a), [u(3, 4)]),
        ("crossentropy_onehot", lambda a, y: T.nnet.categorical_crossentropy(T.nnet.softmax(a), y),
         [u(3, 4), np.eye(4)[[0, 2, 1]]]),
        ("crossentropy_int_targets",
         lambda a: T.nnet.categorical_crossentropy(T.nnet.softmax(a), np.array([0, 2, 1])),
         [u(3, 4)]),
        ("binary_crossentropy", lambda a, t: T.nnet.binary_crossentropy(T.nnet.sigmoid(a), t),
         [u(3, 4), R.uniform(0, 1, (3, 4))]),
        ("relu", lambda a: T.nnet.relu(a) + T.nnet.relu(a, 0.1), [away0(3, 4)]),
        ("cumsum", lambda a: T.cumsum(a, axis=1), [u(3, 4)]),
        ("cumsum_flat", lambda a: T.cumsum(a), [u(3, 4)]),
        ("cumprod", lambda a: T.cumprod(a, axis=0), [pos(3, 4)]),
        ("sort", lambda a: T.sort(a) * np.arange(4.0), [u(4)]),
        ("sort_axis0", lambda a: T.sort(a, axis=0) * np.arange(4.0), [u(3, 4)]),
    ],
    "advanced_subtensor": [
        ("int_array", lambda a: a[[0, 2, 2]], [u(3, 4)]),
        ("int_array_axis1", lambda a: a[:, [0, 3]], [u(3, 4)]),
        ("take", lambda a: T.take(a, [2, 0], axis=1), [u(3, 4)]),
        ("advanced_inc_duplicates", lambda a, b: T.inc_subtensor(a[[0, 0, 2]], b),
         [u(3, 4), u(3, 4)]),
        ("advanced_set", lambda a, b: T.set_subtensor(a[[0, 2]], b), [u(3, 4), u(2, 4)]),
    ],
}

_results = {}


def _family(name):
    if name not in _results:
        try:
            res = check_grads([(fn, pt) for _, fn, pt in CASES[name]], n_tests=2,
                              rng=np.random.default_rng(0))
            _results[name] = dict(zip([c[0] for c in CASES[name]], res))
        except Exception as e:                # a build failure: every case of the family reports it
            _results[name] = e
    return _results[name]


def _params():
    for f in CASES:
        for c in CASES[f]:
            yield pytest.param(f, c[0], id=f"{f}-{c[0]}")


@pytest.mark.parametrize("family,case", list(_params()))
def test_verify_grad(family, case):
    res = _family(family)
    if isinstance(res, Exception):
        raise res
    r = res[case]
    if r["error"] is not None:
        raise r["error"]
    assert len(r["analytic"]) == 2
    np.testing.assert_allclose(r["analytic"], r["numeric"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", [T.gamma, T.gammaln])
def test_gamma_grad_through_psi(fn):
    # issue 17: psi (digamma) gives gamma and gammaln their gradients
    import scipy.special as sp
    x = T.dvector("x")
    g = tvmsym.function([x], tvmsym.grad(T.sum(fn(x)), x))
    a = np.array([0.3, 1.0, 2.5, 7.0])
    exp = sp.psi(a) * (sp.gamma(a) if fn is T.gamma else 1.0)
    np.testing.assert_allclose(g(a), exp, rtol=1e-12)
