"""theano.compile.MonitorMode: pre_func/post_func around every step, (i, node, fn)."""
import io
from contextlib import redirect_stdout

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.compile import MonitorMode
from tvmsym.compile.monitormode import detect_nan
from tvmsym.compile.nanguardmode import NanGuardMode


def test_pre_and_post_see_every_step_in_order():
    x = T.dvector("x")
    calls = []

    def pre(i, node, fn):
        assert all(o[0] is None for o in fn.outputs)          # not computed yet
        calls.append(("pre", i, node, [np.array(v[0]) for v in fn.inputs]))

    def post(i, node, fn):
        calls.append(("post", i, node, [np.array(o[0]) for o in fn.outputs]))

    y = T.exp(x).sum()
    mode = MonitorMode(pre_func=pre, post_func=post)
    f = theano.function([x], [y * 2, T.dot(x, x)], mode=mode)
    a = np.array([0.5, -1.0, 2.0])
    r = f(a)
    steps = f.maker.fgraph.toposort()
    n = len([c for c in calls if c[0] == "pre"])
    assert n >= 2 and [c[0] for c in calls] == ["pre", "post"] * n
    assert [c[1] for c in calls[::2]] == list(range(n))
    for (_, i, node, ins), (_, j, node2, outs) in zip(calls[::2], calls[1::2]):
        assert i == j and node is node2 and node in steps
        # the step's numbers are what its node computes from its inputs (numpy reference)
        want = node.op.perform(node, ins)
        for w, o in zip(want, outs):
            np.testing.assert_allclose(o, w, rtol=1e-12)
    np.testing.assert_allclose(r[0], 2 * np.exp(a).sum())
    calls.clear()
    f(a)                                   # a second call numbers its steps from 0 again
    assert calls[0][1] == 0 and len(calls) == 2 * n


def test_the_faq_nan_detector():
    x = T.dscalar("x")
    f = theano.function([x], [T.log(x) * x], mode=MonitorMode(post_func=detect_nan))
    out = io.StringIO()
    with redirect_stdout(out):
        r = f(0)
    assert np.isnan(r[0])
    text = out.getvalue()
    assert text.startswith("*** NaN detected ***\nElemwise{Composite{(log(i0) * i0)}} [id A] ''")
    assert "Inputs : [array(0.)]" in text and "Outputs: [array(nan)]" in text
    with redirect_stdout(io.StringIO()) as quiet:
        f(2.0)
    assert quiet.getvalue() == ""


def test_excluding_fusion_by_theanos_name_shows_the_first_bad_node():
    x = T.dscalar("x")
    mode = MonitorMode(post_func=detect_nan).excluding("local_elemwise_fusion", "inplace")
    assert isinstance(mode, MonitorMode) and mode.post_func is detect_nan
    assert isinstance(mode.including("fusion"), MonitorMode)
    f = theano.function([x], [T.log(x) * x], mode=mode)
    out = io.StringIO()
    with redirect_stdout(out):
        f(0)
    # unfused: the first NaN is made by the mul (log(0) = -inf is no NaN)
    assert "Elemwise{mul,no_inplace}" in out.getvalue() and "Composite" not in out.getvalue()
    assert out.getvalue().count("*** NaN detected ***") == 1


def test_inspect_inputs_outputs_example():
    lines = []

    def inspect_inputs(i, node, fn):
        lines.append(f"{i} {node} in {[float(v[0]) for v in fn.inputs]}")

    def inspect_outputs(i, node, fn):
        lines.append(f"out {[float(o[0]) for o in fn.outputs]}")

    x = T.dscalar("x")
    f = theano.function([x], [5 * x], mode=MonitorMode(pre_func=inspect_inputs,
                                                       post_func=inspect_outputs))
    f(3)
    assert lines == ["0 Elemwise{mul,no_inplace}(TensorConstant{5.0}, x) in [5.0, 3.0]",
                     "out [15.0]"]


def test_composes_with_nanguard_checks():
    x = T.dvector("x")
    seen = []
    mode = MonitorMode(post_func=lambda i, node, fn: seen.append(i), nan_guard=NanGuardMode())
    f = theano.function([x], T.log(x).sum(), mode=mode)
    assert np.isfinite(f(np.array([1.0, 2.0])))
    seen.clear()
    with pytest.raises(AssertionError, match="NanGuardMode: NaN"):
        f(np.array([-1.0, 2.0]))
    assert seen                      # post_func saw the step before the guard stopped the call
    with pytest.raises(TypeError, match="NanGuardMode"):
        MonitorMode(nan_guard="yes")
