"""Random streams (tensor/shared_randomstreams.py, symbolic/ops/random.py): Theano's tutorial
"Using Random Numbers", distributions checked statistically with fixed seeds, state handling."""
import numpy as np
import pytest

import tvmsym
import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.gradient import NullGradientError
from tvmsym.sandbox.rng_mrg import MRG_RandomStreams
from tvmsym.symbolic.ops.random import STATE_LEN, RandomFunction, state_from_seed
from tvmsym.tensor.shared_randomstreams import RandomStreams, RNGState


# --------------------------------------------------------------------------- the tutorial
def test_tutorial_using_random_numbers():
    from tvmsym import function
    from tvmsym.tensor.shared_randomstreams import RandomStreams
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)    # Not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    f_val0 = f()
    f_val1 = f()      # different numbers from f_val0
    assert f_val0.shape == (2, 2) and f_val0.dtype == theano.config.floatX
    assert np.all(f_val0 != f_val1)
    g_val0 = g()      # different numbers from f_val0 and f_val1
    g_val1 = g()      # same numbers as g_val0!
    assert np.all(g_val0 == g_val1)
    assert np.all(g_val0 != f_val0) and np.all(g_val0 != f_val1)
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-6)

    # Seeding Streams
    rng_val = rv_u.rng.get_value(borrow=True)   # Get the rng for rv_u
    rng_val.seed(89234)                         # seeds the generator
    rv_u.rng.set_value(rng_val, borrow=True)    # Assign back seeded rng
    a = f()
    rv_u.rng.get_value(borrow=True).seed(89234)
    np.testing.assert_array_equal(f(), a)
    srng.seed(902340)  # seeds rv_u and rv_n with different seeds each
    b = f()
    srng.seed(902340)
    np.testing.assert_array_equal(f(), b)

    # Sharing Streams Between Functions
    state_after_v0 = rv_u.rng.get_value().get_state()
    nearly_zeros()       # this affects rv_u's generator
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2 = f()             # v2 != v1
    v3 = f()             # v3 == v1
    assert np.all(v1 != v2)
    np.testing.assert_array_equal(v3, v1)


def test_tutorial_copying_random_state_between_graphs():
    from tvmsym.sandbox.rng_mrg import MRG_RandomStreams
    from tvmsym.tensor.shared_randomstreams import RandomStreams

    class Graph():
        def __init__(self, seed=123):
            self.rng = RandomStreams(seed)
            self.y = self.rng.uniform(size=(1,))

    g1 = Graph(seed=123)
    f1 = theano.function([], g1.y)
    g2 = Graph(seed=987)
    f2 = theano.function([], g2.y)
    assert f1() != f2()       # by default, the two functions are out of sync

    def copy_random_state(g1, g2):
        if isinstance(g1.rng, MRG_RandomStreams):
            g2.rng.rstate = g1.rng.rstate
        for (su1, su2) in zip(g1.rng.state_updates, g2.rng.state_updates):
            su2[0].set_value(su1[0].get_value())

    copy_random_state(g1, g2)  # we now copy the state of the random number generators
    assert f1() == f2()
    assert f1() == f2()


def test_mrg_random_streams_same_api_and_rstate():
    m1, m2 = MRG_RandomStreams(seed=5), MRG_RandomStreams(seed=6)
    assert isinstance(theano.tensor.shared_randomstreams.RandomStreams(1), RandomStreams)
    m2.rstate = m1.rstate       # the next variables of m2 draw what m1's draw
    a = m1.uniform((3,), nstreams=4)
    b = m2.uniform((3,), nstreams=4)
    np.testing.assert_array_equal(theano.function([], a)(), theano.function([], b)())
    assert MRG_RandomStreams().default_instance_seed == 12345
    assert theano.sandbox.rng_mrg.MRG_RandomStreams is MRG_RandomStreams


# --------------------------------------------------------------------------- distributions
N = 20000


@pytest.fixture(scope="module")
def srng():
    return RandomStreams(seed=42)


def draw(v, *args):
    ins = [a for a in args[::2]]
    return theano.function(list(ins), v)(*args[1::2])


def test_uniform_statistics(srng):
    u = draw(srng.uniform((N,), low=-2.0, high=3.0))
    assert u.dtype == theano.config.floatX and u.shape == (N,)
    assert u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.05 and abs(u.var() - 25 / 12) < 0.08
    u64 = draw(srng.uniform((4, 5), dtype="float64"))
    assert u64.dtype == np.float64 and u64.shape == (4, 5)
    assert srng.uniform((2,), low=T.dscalar()).dtype == "float64"     # upcast by a float64 bound
    lo, hi = np.array([0.0, 10.0], "float32"), np.array([1.0, 10.5], "float32")
    uv = draw(srng.uniform((N, 2), low=lo, high=hi, dtype="float32"))   # vector bounds
    assert np.all(uv >= lo) and np.all(uv < hi) and abs(uv[:, 1].mean() - 10.25) < 0.01


def test_normal_statistics(srng):
    z = draw(srng.normal((N,), avg=1.5, std=0.5))
    assert z.dtype == theano.config.floatX
    assert abs(z.mean() - 1.5) < 0.02 and abs(z.std() - 0.5) < 0.02
    t = draw(MRG_RandomStreams(3).normal((N,), avg=0.0, std=2.0, truncate=True))
    assert np.abs(t).max() <= 4.0 and 1.5 < t.std() < 1.8      # truncated at 2 std


def test_binomial_statistics(srng):
    b = draw(srng.binomial((N,), p=0.3))
    assert b.dtype == np.int64 and set(np.unique(b)) <= {0, 1}
    assert abs(b.mean() - 0.3) < 0.02
    b10 = draw(srng.binomial((N,), n=10, p=0.5, dtype="float32"))
    assert b10.dtype == np.float32 and b10.min() >= 0 and b10.max() <= 10
    assert abs(b10.mean() - 5) < 0.1 and abs(b10.var() - 2.5) < 0.15


def test_integer_draws(srng):
    r = draw(srng.random_integers((N,), low=3, high=5))
    assert r.dtype == np.int64 and set(np.unique(r)) == {3, 4, 5}        # high included
    i = draw(srng.integers(3, 5, size=(N,)))
    assert set(np.unique(i)) == {3, 4}                                  # high excluded
    i32 = draw(srng.integers(10, size=(7,), dtype="int32"))
    assert i32.dtype == np.int32 and i32.min() >= 0 and i32.max() < 10
    pz = draw(srng.poisson((N,), lam=4.0))
    assert abs(pz.mean() - 4) < 0.1 and abs(pz.var() - 4) < 0.25


def test_choice_and_permutation(srng):
    c = draw(srng.choice((N,), a=np.array([1.5, 2.5, 4.0]), p=[0.2, 0.3, 0.5], dtype="float64"))
    assert c.dtype == np.float64 and set(np.unique(c)) == {1.5, 2.5, 4.0}
    assert abs((c == 4.0).mean() - 0.5) < 0.02
    c2 = draw(srng.choice((5,), a=5, replace=False))
    assert sorted(c2.tolist()) == [0, 1, 2, 3, 4]
    p = draw(srng.permutation((3,), n=6))
    assert p.shape == (3, 6) and all(sorted(r) == list(range(6)) for r in p.tolist())
    assert draw(srng.permutation(n=4)).shape == (4,)
    m = draw(srng.multinomial((4,), n=10, pvals=[0.2, 0.8]))
    assert m.shape == (4, 2) and np.all(m.sum(axis=1) == 10)
    m2 = draw(srng.multinomial(pvals=[[.3, .3, .4]]))
    assert m2.shape == (1, 3) and m2.sum() == 1


def test_symbolic_sizes_and_parameters(srng):
    x = T.matrix("x")
    n = T.iscalar("n")
    u = srng.uniform(x.shape)
    f = theano.function([x], u)
    assert f(np.zeros((3, 4), theano.config.floatX)).shape == (3, 4)
    assert f(np.zeros((2, 1), theano.config.floatX)).shape == (2, 1)
    g = theano.function([n], srng.normal((n, 2)))
    assert g(5).shape == (5, 2) and g(1).shape == (1, 2)
    mu = T.dvector("mu")
    zm = srng.normal(avg=mu, std=0.01)       # size=None: the parameters' shape
    out = theano.function([mu], zm)(np.array([1.0, 10.0, 100.0]))
    assert out.shape == (3,) and out.dtype == np.float64
    np.testing.assert_allclose(out, [1, 10, 100], atol=0.1)
    assert srng.uniform((1, 3)).broadcastable == (True, False)
    # a parameter that is a view (DimShuffle) read by the host step
    h = theano.function([mu], srng.normal((2, 3), avg=mu.dimshuffle("x", 0), std=1e-3))
    np.testing.assert_allclose(h(np.array([1.0, 2.0, 3.0])), [[1, 2, 3]] * 2, atol=0.01)


def test_numbers_are_numpys_randomstate():
    """A state is a numpy RandomState (MT19937) state, as Theano's: the draws are RandomState's."""
    s = RandomStreams(seed=0)
    u = s.uniform((5,), dtype="float64")
    gen = u.rng.get_value().randomstate()
    np.testing.assert_array_equal(theano.function([], u)(), gen.uniform(0.0, 1.0, 5))
    np.testing.assert_array_equal(theano.function([], u)(), gen.uniform(0.0, 1.0, 5))
    z = s.normal((3,), dtype="float64")
    gen = z.rng.get_value().randomstate()
    np.testing.assert_array_equal(theano.function([], z)(), gen.normal(0.0, 1.0, 3))


def test_float32_uniform_is_float64_rounded_as_theano():
    """Theano draws RandomState.uniform in float64 and casts: the float32 values are that."""
    s = RandomStreams(seed=1)
    u = s.uniform((1000,), low=0.0, high=1e-30, dtype="float32")
    ref = u.rng.get_value().randomstate().uniform(0.0, 1e-30, 1000).astype("float32")
    np.testing.assert_array_equal(theano.function([], u)(), ref)


# --------------------------------------------------------------------------- state handling
def test_reproducible_with_seed():
    def values(seed):
        s = RandomStreams(seed=seed)
        f = theano.function([], [s.uniform((3,)), s.normal((2,))])
        return [a.tolist() for a in f() + f()]
    assert values(11) == values(11)
    assert values(11) != values(12)


def test_state_value_api():
    s = RandomStreams(seed=3)
    u = s.uniform((2,))
    v = u.rng.get_value()
    assert isinstance(v, RNGState) and v.dtype == np.uint64 and v.shape == (STATE_LEN,)
    assert v.get_state()[0] == "MT19937"
    assert s[u].shape == (STATE_LEN,)
    s[u] = np.random.RandomState(99)             # a numpy RandomState is a state, as in Theano
    np.testing.assert_array_equal(u.rng.get_value(), state_from_seed(99))
    with pytest.raises(TypeError, match="numpy RandomState"):
        u.rng.set_value(np.random.default_rng(1))
    # RandomState's own draws through the value advance it in place
    w = u.rng.get_value(borrow=True)
    assert w.randint(10 ** 6) == np.random.RandomState(99).randint(10 ** 6)
    assert np.any(u.rng.get_value() != state_from_seed(99))
    assert s.updates() == s.state_updates and s.updates()[0] == u.update
    assert u.rng.default_update is u.update[1]


def test_updates_list_instead_of_default_updates():
    s = RandomStreams(seed=8)
    u = s.uniform((2,))
    f = theano.function([], u, updates=s.updates(), no_default_updates=True)
    assert np.all(f() != f())


def test_failed_call_leaves_the_state_unchanged():
    s = RandomStreams(seed=5)
    u = s.uniform((4,))
    i = T.lscalar("i")
    f = theano.function([i], (u * 2)[i])        # the index check runs after the draw
    before = u.rng.get_value()
    with pytest.raises(IndexError):
        f(10)
    np.testing.assert_array_equal(u.rng.get_value(), before)
    f(1)
    assert np.any(u.rng.get_value() != before)


# --------------------------------------------------------------------------- graphs
def test_printing():
    s = RandomStreams(seed=1)
    u = s.uniform((2, 2))
    assert str(u.owner.op) == "RandomFunction{uniform}"
    assert theano.printing.debugprint(u, file="str") == (
        "RandomFunction{uniform}.1 [id A] ''   \n"
        " |<RandomStateType> [id B]\n"
        " |TensorConstant{(2,) of 2} [id C]\n"
        " |TensorConstant{0.0} [id D]\n"
        " |TensorConstant{1.0} [id E]\n")
    assert theano.pp(u) == "uniform(size=[2, 2], low=0, high=1)"
    text = theano.printing.debugprint(theano.function([], u), file="str")
    assert "RandomFunction{uniform}.1 [id A] ''   0\n |<RandomStateType> [id B]" in text
    assert isinstance(u.owner.op, RandomFunction)


def test_dropout_mlp_grad():
    rng = np.random.default_rng(0)
    s = RandomStreams(seed=2)
    x = T.fmatrix("x")
    W = theano.shared(rng.standard_normal((5, 4)).astype("float32"), name="W")
    h = T.tanh(T.dot(x, W))
    mask = s.binomial(h.shape, p=0.5, dtype="float32")
    cost = (h * mask).sum()
    gW = theano.grad(cost, W)
    train = theano.function([x], [cost, gW, mask], updates=[(W, W - 0.1 * gW)])
    X = rng.standard_normal((3, 5)).astype("float32")
    W0 = W.get_value()
    c, g, m = train(X)
    assert m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0}
    hv = np.tanh(X @ W0)
    np.testing.assert_allclose(c, (hv * m).sum(), rtol=1e-5)
    np.testing.assert_allclose(g, X.T @ ((1 - hv ** 2) * m), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(W.get_value(), W0 - 0.1 * g, rtol=1e-5)
    _, _, m2 = train(X)
    assert np.any(m != m2)        # a new mask every step


def test_grad_of_a_draw_wrt_its_parameters_is_undefined():
    s = RandomStreams(seed=2)
    mu = T.dscalar("mu")
    with pytest.raises(NullGradientError, match="random draw"):
        theano.grad(s.normal((3,), avg=mu).sum(), mu)
    # the draw itself is a leaf: the gradient through x * draw reaches x only
    x = T.dvector("x")
    z = s.normal((3,), dtype="float64")
    gx = theano.function([x], theano.grad((x * z).sum(), x), no_default_updates=True,
                         on_unused_input="ignore")
    zv = theano.function([], z, no_default_updates=True)()
    np.testing.assert_array_equal(gx(np.ones(3)), zv)


def test_cuda_function_draws_on_the_host():
    """device=cuda: the draw stays a host node (placement moves its result to the device),
    and the numbers are the CPU function's (loopback device: no GPU needed)."""
    def run(target):
        s = RandomStreams(seed=7)
        x = T.fmatrix("x")
        mask = s.binomial(x.shape, p=0.5, dtype="float32")
        f = tvmsym.function([x], (x * mask).sum(), target=target)
        if target == "cuda":
            f.loopback = True
            text = theano.printing.debugprint(f, file="str")
            assert "GpuFromHost<None> [id F] ''   5\n       |RandomFunction{binomial}.1" in text
        X = np.arange(12, dtype="float32").reshape(3, 4)
        return [float(f(X)) for _ in range(3)]
    assert run("cuda") == run("cpu")
