"""NanGuardMode (theano.compile.nanguardmode): the first step producing NaN/Inf/huge values
raises, naming the node; clean calls give the same numbers as FAST_RUN; a failed call
changes no shared variable."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.compile.nanguardmode import NanGuardMode


def test_clean_calls_match_fast_run():
    x = T.dmatrix("x")
    out = T.tanh(T.dot(x, x.T)).sum(axis=1) + T.log(1 + x.sum())
    f = theano.function([x], out, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                                    big_is_error=True))
    g = theano.function([x], out)
    a = np.arange(6.0).reshape(2, 3) / 10
    np.testing.assert_allclose(f(a), g(a), rtol=1e-12)


def test_nan_is_named_with_its_node():
    x = T.dvector("x")
    f = theano.function([x], T.log(x) * 2, mode=NanGuardMode(True, True, True))
    np.testing.assert_allclose(f([1.0, np.e]), [0.0, 2.0])
    with pytest.raises(AssertionError, match=r"NanGuardMode: NaN detected in output 0 of "
                                             r"Elemwise\{Composite\{\(log\(i0\) \* 2\.0\)\}\}\(x\)"):
        f([-1.0, 1.0])
    with pytest.raises(AssertionError, match="NanGuardMode: Inf detected"):
        f([0.0, 1.0])


def test_flags_turn_checks_off_and_big_values():
    x = T.dvector("x")
    quiet = theano.function([x], T.log(x), mode=NanGuardMode(nan_is_error=False, inf_is_error=False,
                                                             big_is_error=False))
    assert np.isnan(quiet([-1.0])[0])
    big = theano.function([x], x * 1e6, mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
                                                          big_is_error=True))
    with pytest.raises(AssertionError, match="magnitude above 1e"):
        big([1e5])
    np.testing.assert_allclose(big([1.0]), [1e6])


def test_failed_call_changes_no_shared_variable_and_mode_by_name():
    w = theano.shared(np.ones(3), name="w")
    x = T.dvector("x")
    step = theano.function([x], (w * x).sum(), updates=[(w, w + T.sqrt(x))], mode="NanGuardMode")
    assert isinstance(step.mode, NanGuardMode)
    step([1.0, 4.0, 9.0])
    np.testing.assert_allclose(w.get_value(), [2.0, 3.0, 4.0])
    with pytest.raises(AssertionError, match="NaN detected"):
        step([1.0, -4.0, 9.0])
    np.testing.assert_allclose(w.get_value(), [2.0, 3.0, 4.0])


def test_cuda_is_refused_clearly():
    x = T.fvector("x")
    with pytest.raises(NotImplementedError, match="NanGuardMode checks cpu"):
        theano.function([x], x * 2, mode=NanGuardMode(True, True, True, target="cuda"))
