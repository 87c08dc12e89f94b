"""ifelse (tvmsym/ifelse.py, symbolic/ops/ifelse.py): Theano's tutorial "Conditions", results
against numpy, lazy evaluation of the taken branch only, gradients, multiple outputs."""
import numpy as np
import pytest

import tvmsym
import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.gradient import verify_grad
from tvmsym.ifelse import ifelse
from tvmsym.runtime.inner import inner_for
from tvmsym.symbolic.ops.ifelse import IfElse, LazyIfElse

FX = theano.config.floatX


def ops_of(f):
    return [type(n.op) for n in f.maker.fgraph.toposort()]


# --------------------------------------------------------------------------- the tutorial
@pytest.fixture(scope="module")
def tutorial():
    from tvmsym import tensor as T
    from tvmsym.ifelse import ifelse
    a, b = T.scalars('a', 'b')
    x, y = T.matrices('x', 'y')
    z_switch = T.switch(T.lt(a, b), T.mean(x), T.mean(y))
    z_lazy = ifelse(T.lt(a, b), T.mean(x), T.mean(y))
    f_switch = theano.function([a, b, x, y], z_switch, mode=theano.Mode(linker='vm'))
    f_lazyifelse = theano.function([a, b, x, y], z_lazy, mode=theano.Mode(linker='vm'))
    return z_lazy, f_switch, f_lazyifelse


def test_tutorial_conditions(tutorial):
    z_lazy, f_switch, f_lazyifelse = tutorial
    val1 = 0.
    val2 = 1.
    big_mat1 = np.ones((100, 50), dtype=FX)
    big_mat2 = np.ones((100, 50), dtype=FX) * 3
    assert f_switch(val1, val2, big_mat1, big_mat2) == 1.0
    assert f_lazyifelse(val1, val2, big_mat1, big_mat2) == 1.0
    assert f_switch(val2, val1, big_mat1, big_mat2) == 3.0
    assert f_lazyifelse(val2, val1, big_mat1, big_mat2) == 3.0


def test_tutorial_graph_prints_as_theano(tutorial):
    z_lazy, _, f_lazyifelse = tutorial
    assert str(z_lazy.owner.op) == "if{}"
    text = theano.printing.debugprint(z_lazy, file="str")
    assert text.splitlines()[:4] == ["if{} [id A] ''   ", " |Elemwise{lt,no_inplace} [id B] ''   ",
                                     " | |a [id C]", " | |b [id D]"]
    # compiled: the means moved into the branch functions, only the taken one runs
    assert theano.printing.debugprint(f_lazyifelse, file="str") == (
        "if{lazy} [id A] ''   1\n"
        " |Elemwise{lt,no_inplace} [id B] ''   0\n"
        " | |a [id C]\n"
        " | |b [id D]\n"
        " |x [id E]\n"
        " |y [id F]\n")


# --------------------------------------------------------------------------- results and laziness
@pytest.fixture(scope="module")
def branches():
    c = T.iscalar("c")
    x = T.vector("x")
    y = T.vector("y")
    out = ifelse(c, T.exp(x) * 2 + y, T.log(y) - x)
    return c, x, y, theano.function([c, x, y], out)


def test_results_against_numpy(branches):
    c, x, y, f = branches
    rng = np.random.default_rng(0)
    xv, yv = rng.random(7).astype(FX), rng.random(7).astype(FX) + 0.5
    np.testing.assert_allclose(f(1, xv, yv), np.exp(xv) * 2 + yv, rtol=1e-6)
    np.testing.assert_allclose(f(0, xv, yv), np.log(yv) - xv, rtol=1e-6)
    np.testing.assert_allclose(f(-3, xv, yv), np.exp(xv) * 2 + yv, rtol=1e-6)   # nonzero: then


def test_only_the_taken_branch_runs(branches):
    c, x, y, f = branches
    assert LazyIfElse in ops_of(f)
    op = [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, LazyIfElse)][0]
    xv = np.ones(3, FX)
    f(1, xv, xv)

    def untaken(*args):
        raise AssertionError("the branch not taken ran")
    fns = inner_for(op)._fns        # the runtime's compiled branches (runtime/inner.py)
    saved = dict(fns)
    fns["else"] = untaken
    try:
        np.testing.assert_allclose(f(1, xv, xv), np.exp(xv) * 2 + xv, rtol=1e-6)
        fns["then"] = untaken
        del fns["else"]
        np.testing.assert_allclose(f(0, xv, xv), np.log(xv) - xv, rtol=1e-6)
    finally:
        fns.clear()
        fns.update(saved)


def test_untaken_branch_errors_are_not_raised():
    """Lazy: an index out of range in the branch not taken is never evaluated."""
    c = T.iscalar("c")
    x = T.vector("x")
    i = T.lscalar("i")
    f = theano.function([c, x, i], ifelse(c, x[i], x.sum()))
    xv = np.arange(4, dtype=FX)
    assert f(0, xv, 100) == 6.0
    assert f(1, xv, 2) == 2.0
    with pytest.raises(IndexError):
        f(1, xv, 100)


def test_branches_with_different_shapes():
    c = T.iscalar("c")
    v = T.vector("v")
    out = ifelse(c, v[:2] * 2, v * 3)
    f = theano.function([c, v], [out, out.sum() + 1])
    vv = np.arange(5, dtype=FX)
    a, s = f(1, vv)
    np.testing.assert_array_equal(a, [0, 2])
    assert s == 3
    a, s = f(0, vv)
    np.testing.assert_array_equal(a, vv * 3)
    assert s == 31
    # both sides plain inputs: selected on the host (no branch to compile)
    w = T.vector("w")
    g = theano.function([c, v, w], ifelse(c, v, w) * 2)
    assert IfElse in ops_of(g) and LazyIfElse not in ops_of(g)
    np.testing.assert_array_equal(g(1, vv, vv[:3]), vv * 2)
    np.testing.assert_array_equal(g(0, vv, vv[:3]), vv[:3] * 2)


def test_branch_sized_by_an_int_input_keeps_static_kernels():
    c = T.iscalar("c")
    x = T.dvector("x")
    n = T.lscalar("n")
    f = theano.function([c, x, n], ifelse(c, x[:n] * 2, x[-n:] * 3).sum() * 2)
    xv = np.arange(6.0)
    for cv, nv in [(1, 2), (0, 2), (1, 4), (0, 4)]:
        ref = (xv[:nv] * 2 if cv else xv[-nv:] * 3).sum() * 2
        assert f(cv, xv, nv) == ref
        assert [s.label for s in f._last.steps] == ["host", "cpu", "cpu"]   # what follows: kernels


def test_eager_ifelse_without_the_lazy_stage():
    c = T.iscalar("c")
    x = T.matrix("x")
    out = ifelse(T.gt(c, 0), x.sum(axis=0), x.max(axis=0))
    f = theano.function([c, x], out, mode=theano.Mode().excluding("lazy_ifelse"))
    assert IfElse in ops_of(f) and LazyIfElse not in ops_of(f)
    xv = np.arange(6, dtype=FX).reshape(2, 3)
    np.testing.assert_array_equal(f(1, xv), xv.sum(0))
    np.testing.assert_array_equal(f(0, xv), xv.max(0))
    # a view read by the host step (x.T is inlined into kernels, materialized for the host)
    y = T.matrix("y")
    g = theano.function([c, x, y], ifelse(c, x.T, y), mode=theano.Mode().excluding("lazy_ifelse"))
    np.testing.assert_array_equal(g(1, xv, xv.T * 2), xv.T)


def test_multiple_outputs():
    c = T.iscalar("c")
    a, b, d, e = T.matrices("a", "b", "d", "e")
    outs = ifelse(c, [a + b, a * 2], [d - e, T.exp(e)])
    assert isinstance(outs, list) and len(outs) == 2
    f = theano.function([c, a, b, d, e], outs)
    rng = np.random.default_rng(1)
    av, bv, dv, ev = (rng.random((2, 3)).astype(FX) for _ in range(4))
    p, q = f(1, av, bv, dv, ev)
    np.testing.assert_allclose(p, av + bv, rtol=1e-6)
    np.testing.assert_allclose(q, av * 2, rtol=1e-6)
    p, q = f(0, av, bv, dv, ev)
    np.testing.assert_allclose(p, dv - ev, rtol=1e-6)
    np.testing.assert_allclose(q, np.exp(ev), rtol=1e-6)
    t = ifelse(c, (a,), (b,))
    assert isinstance(t, tuple) and len(t) == 1


def test_shared_values_and_updates_in_branches():
    w = tvmsym.shared(np.array([1.0, 2.0]), name="w")
    c = T.iscalar("c")
    step = theano.function([c], w.sum(), updates=[(w, ifelse(c, w * 2, w - 1))])
    assert step(1) == 3.0 and list(w.get_value()) == [2.0, 4.0]
    assert step(0) == 6.0 and list(w.get_value()) == [1.0, 3.0]


def test_dtype_upcast_and_errors():
    c = T.iscalar("c")
    x, y = T.fvector("x"), T.dvector("y")
    assert ifelse(c, x, y).dtype == "float64"
    with pytest.raises(TypeError, match="condition must be a scalar"):
        ifelse(x, x, x)
    with pytest.raises(TypeError, match="different numbers of dimensions"):
        ifelse(c, x, T.fmatrix())
    with pytest.raises(ValueError, match="same number"):
        ifelse(c, [x, x], [x])
    assert tvmsym.ifelse.ifelse is ifelse
    assert ifelse(c, x.sum(), 0.0).dtype == "float32"          # a Python scalar is weak
    assert ifelse(c, 1, y.sum()).dtype == "float64"


def test_nested_ifelse():
    c1, c2 = T.iscalars("c1", "c2")
    x = T.dvector("x")
    out = ifelse(c1, ifelse(c2, x * 2, x * 3), T.exp(x))
    f = theano.function([c1, c2, x], out)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(1, 1, xv), xv * 2)
    np.testing.assert_allclose(f(1, 0, xv), xv * 3)
    np.testing.assert_allclose(f(0, 1, xv), np.exp(xv))


# --------------------------------------------------------------------------- gradients
def test_grad_goes_to_the_taken_branch():
    c = T.iscalar("c")
    x, y = T.dvectors("x", "y")
    cost = ifelse(c, (x ** 2).sum(), (y * 3).sum() + x.sum())
    gx, gy = theano.grad(cost, [x, y])
    f = theano.function([c, x, y], [gx, gy])
    xv, yv = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    gxv, gyv = f(1, xv, yv)
    np.testing.assert_allclose(gxv, 2 * xv)
    np.testing.assert_allclose(gyv, [0, 0])
    gxv, gyv = f(0, xv, yv)
    np.testing.assert_allclose(gxv, [1, 1])
    np.testing.assert_allclose(gyv, [3, 3])
    assert str(gx.owner.op).startswith("Elemwise") or "if{}" in theano.pp(gx)


@pytest.mark.parametrize("cond", [0, 1])
def test_verify_grad(cond):
    rng = np.random.default_rng(3)
    verify_grad(lambda a, b: ifelse(np.int8(cond), T.tanh(a) * b, a * b ** 2),
                [rng.random((2, 3)), rng.random((2, 3))], rng=rng)
    verify_grad(lambda a, b: ifelse(T.gt(a.sum(), 1e9), [a * 2, b], [b, T.exp(a)])[1],
                [rng.random(3), rng.random(3)], rng=rng)


def test_cuda_selects_on_the_host():
    """device=cuda: both sides run on the device, the host selects (loopback: no GPU needed)."""
    c = T.iscalar("c")
    x = T.fvector("x")
    out = ifelse(c, T.exp(x) * 2, x - 1)
    f = tvmsym.function([c, x], out, target="cuda")
    f.loopback = True
    assert IfElse in ops_of(f) and LazyIfElse not in ops_of(f)
    xv = np.arange(4, dtype="float32")
    np.testing.assert_allclose(f(1, xv), np.exp(xv) * 2, rtol=1e-5)
    np.testing.assert_allclose(f(0, xv), xv - 1)
