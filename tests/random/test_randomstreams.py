"""RandomStreams: Theano 1.0's shared_randomstreams numbers (numpy RandomState, Theano's
seeding order and raw_random's calls), reproduced here with numpy directly."""
import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.tensor.shared_randomstreams import RandomStreams


def seeds(seed, n):
    """Theano: RandomState(seed) draws randint(2**30) for each new random variable, in order."""
    g = np.random.RandomState(seed)
    return [int(g.randint(2 ** 30)) for _ in range(n)]


def test_every_distribution_draws_what_theano_draws():
    s = RandomStreams(seed=234)
    vs = [s.uniform((2, 3), low=-1.0, high=2.0, dtype="float64"),
          s.normal((4,), avg=1.0, std=3.0, dtype="float64"),
          s.binomial((5,), n=3, p=0.25),
          s.random_integers((3, 2), low=-2, high=4),
          s.choice((4,), a=10, replace=False),
          s.poisson((3,), lam=2.5),
          s.permutation((2,), n=5),
          s.multinomial((2,), n=7, pvals=[0.2, 0.3, 0.5]),
          s.uniform((3,), dtype="float32")]
    f = theano.function([], vs)
    rs = [np.random.RandomState(k) for k in seeds(234, len(vs))]

    def expected():
        r = rs
        out = [r[0].uniform(-1.0, 2.0, (2, 3)), r[1].normal(1.0, 3.0, (4,)),
               r[2].binomial(3, 0.25, (5,))]
        out.append(np.array([[r[3].randint(-2, 5) for _ in range(2)] for _ in range(3)]))
        out.append(r[4].choice(10, (4,), False, None))
        out.append(r[5].poisson(2.5, (3,)))
        out.append(np.array([r[6].permutation(5) for _ in range(2)]))
        out.append(np.array([r[7].multinomial(7, [0.2, 0.3, 0.5]) for _ in range(2)]))
        out.append(r[8].uniform(0.0, 1.0, (3,)).astype("float32"))    # float64 draw, cast
        return out

    for _ in range(2):               # each call continues every state
        for g, e in zip(f(), expected()):
            np.testing.assert_array_equal(g, e)


def test_seed_reseeds_in_creation_order_and_keeps_the_seed_generator():
    s = RandomStreams(seed=5)
    a, b = s.uniform((3,), dtype="float64"), s.normal((2,), dtype="float64")
    f = theano.function([], [a, b])
    f()
    s.seed(77)
    r = [np.random.RandomState(k) for k in seeds(77, 2)]
    ga, gb = f()
    np.testing.assert_array_equal(ga, r[0].uniform(0, 1, 3))
    np.testing.assert_array_equal(gb, r[1].normal(0, 1, 2))
    # Theano's seed() does not touch the constructor's seed generator: the third variable
    # takes the third seed of RandomState(5)
    c = s.uniform((2,), dtype="float64")
    np.testing.assert_array_equal(theano.function([], c)(),
                                  np.random.RandomState(seeds(5, 3)[2]).uniform(0, 1, 2))


def test_tutorial_state_api():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = theano.function([], rv_u)
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    np.testing.assert_array_equal(
        f(), np.random.RandomState(89234).uniform(0, 1, (2, 2)).astype(theano.config.floatX))
    rv_u.rng.set_value(np.random.RandomState(3))
    np.testing.assert_array_equal(
        f(), np.random.RandomState(3).uniform(0, 1, (2, 2)).astype(theano.config.floatX))


def test_draw_sized_by_a_given():
    s = RandomStreams(seed=9)
    data = theano.shared(np.ones((10, 4)))
    x = T.dmatrix("x")
    i = T.lscalar("i")
    mask = s.binomial(size=x.shape, p=0.5, dtype="float64")
    f = theano.function([i], x * mask, givens={x: data[i * 2:(i + 1) * 2]})
    r = np.random.RandomState(seeds(9, 1)[0])
    np.testing.assert_array_equal(f(3), r.binomial(1, 0.5, (2, 4)).astype("float64"))


def test_random_integers_with_broadcast_bounds_element_by_element():
    """Theano draws randint(low[i], high[i] + 1) one element at a time in C order."""
    s = RandomStreams(seed=21)
    lo, hi = T.lvector("lo"), T.lmatrix("hi")
    r = s.random_integers(None, low=lo, high=hi)
    lv, hv = np.array([0, -5, 10]), np.array([[3, 0, 10], [2 ** 33, 7, 12]])
    got = theano.function([lo, hi], r)(lv, hv)
    rs = np.random.RandomState(seeds(21, 1)[0])
    lb, hb = np.broadcast_arrays(lv, hv)
    exp = np.array([[rs.randint(lb[i, j], hb[i, j] + 1) for j in range(3)] for i in range(2)])
    np.testing.assert_array_equal(got, exp)
    assert got.dtype == np.int64
    e = theano.function([], s.random_integers((0, 3), low=0, high=5))()
    assert e.shape == (0, 3)
