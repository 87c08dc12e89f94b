"""Function.copy(share_memory, swap, delete_updates, name, profile), as Theano's."""
import copy
import doctest

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import backends

# Theano's tutorial, "Copying functions" (doc/tutorial/examples.txt), verbatim but for the import.
TUTORIAL = """
>>> import tvmsym as theano
>>> import tvmsym.tensor as T
>>> state = theano.shared(0)
>>> inc = T.iscalar('inc')
>>> accumulator = theano.function([inc], state, updates=[(state, state+inc)])

We can use it to increment the state as usual:

>>> accumulator(10)
array(0)
>>> print(state.get_value())
10

We can use ``copy()`` to create a similar accumulator but with its own internal state
using the ``swap`` parameter, which is a dictionary of shared variables to exchange:

>>> new_state = theano.shared(0)
>>> new_accumulator = accumulator.copy(swap={state:new_state})
>>> new_accumulator(100)
[array(0)]
>>> print(new_state.get_value())
100

The state of the first function is left untouched:

>>> print(state.get_value())
10

We now create a copy with updates removed using the ``delete_updates``
parameter, which is set to ``False`` by default:

>>> null_accumulator = accumulator.copy(delete_updates=True)

As expected, the shared state is no longer updated:

>>> null_accumulator(9000)
[array(10)]
>>> print(state.get_value())
10
"""


class _BuildCounter:
    """Counts tvm builds (``targets.build`` as the llvm backend calls it); the real build runs."""

    def __init__(self, monkeypatch):
        self.n, real = 0, backends.target_build

        def counted(mod, target):
            self.n += 1
            return real(mod, target)
        monkeypatch.setattr(backends, "target_build", counted)


def test_tutorial_verbatim():
    test = doctest.DocTestParser().get_doctest(TUTORIAL, {}, "copying_functions", None, 0)
    out = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    assert runner.tries == 15


@pytest.fixture()
def acc():
    state = tvmsym.shared(np.float64(0), name="state")
    inc = T.dscalar("inc")
    f = tvmsym.function([inc], state * 2, updates=[(state, state + inc * 3)], name="acc")
    return f, state


def test_copies_reuse_the_kernels(acc, monkeypatch):
    f, state = acc
    assert f(1.0) == 0 and state.get_value() == 3
    builds = _BuildCounter(monkeypatch)
    s2 = tvmsym.shared(np.float64(10), name="s2")
    g = f.copy(swap={state: s2})
    null = f.copy(delete_updates=True)
    same = f.copy(share_memory=True)
    assert g(1.0) == [20] and s2.get_value() == 13 and state.get_value() == 3
    assert null(5.0) == [6] and state.get_value() == 3
    assert same(1.0) == [6] and state.get_value() == 6
    assert builds.n == 0
    (key,) = f._builds
    for c in (g, null, same):
        assert c._builds[key].lib is f._builds[key].lib
    # the copy without updates drops the update's kernel
    assert len(f._builds[key].prog) == 2 and len(null._builds[key].prog) == 1
    # the fast path serves the copies too
    for c in (g, null, same):
        c(1.0)
        assert key in c._fast_calls


def test_new_shapes_are_built_once_for_a_family(monkeypatch):
    x = T.matrix("x")
    w = tvmsym.shared(np.ones((1, 3), np.float32), name="w", broadcastable=(True, False))
    f = tvmsym.function([x], (x * w).sum(axis=0), updates=[(w, w * 2)])
    c = f.copy(delete_updates=True)
    builds = _BuildCounter(monkeypatch)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(c(a)[0], a.sum(axis=0))
    # one build (none when the disk cache already holds this generic signature from an
    # earlier test's other shape: runtime/warm_generic.py)
    n = builds.n
    assert n <= 1
    np.testing.assert_array_equal(f(a), a.sum(axis=0))     # the copy's build serves f
    np.testing.assert_array_equal(w.get_value(), 2 * np.ones((1, 3)))
    np.testing.assert_array_equal(c(a)[0], 2 * a.sum(axis=0))
    assert builds.n == n


def test_share_memory(acc):
    f, state = acc
    f(1.0)
    (key,) = f._builds
    own, shared = f.copy(), f.copy(share_memory=True)
    assert own._builds[key]._pool is not f._builds[key]._pool
    assert shared._builds[key]._pool is f._builds[key]._pool


def test_intermediate_buffers_are_not_shared_by_default():
    x = T.vector("x")
    f = tvmsym.function([x], T.exp(x) * 2 + 1)
    a = np.arange(4, dtype=np.float32)
    r1 = f(a)
    c = f.copy()
    r2 = c(a + 1)[0]
    r3 = f(a)
    assert not np.shares_memory(r1, r2) and not np.shares_memory(r2, r3)
    np.testing.assert_allclose(r1, np.exp(a) * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(r2, np.exp(a + 1) * 2 + 1, rtol=1e-6)


def test_names_and_profiles(acc):
    f, state = acc
    assert f.copy().name == "acc copy" and f.copy(name="other").name == "other"
    assert f.copy().profile is None
    p = f.copy(profile=True)
    p(2.0)
    assert p.profile.message == "acc copy" and p.profile.fct_callcount == 1
    assert f.copy(profile="msg").profile.message == "msg"
    assert copy.copy(f).name == "acc copy"


def test_swap_errors(acc):
    f, state = acc
    other = tvmsym.shared(np.float64(0), name="other")
    with pytest.raises(ValueError, match="SharedVariable: other not found"):
        f.copy(swap={other: tvmsym.shared(np.float64(0))})
    with pytest.raises(TypeError, match=r"swap: shared variable s32 has type TensorType\(float32, scalar\)"):
        f.copy(swap={state: tvmsym.shared(np.float32(0), name="s32")})
    with pytest.raises(TypeError, match="can only be replaced by a shared variable"):
        f.copy(swap={state: T.dscalar()})


def test_swapped_training_step():
    """One SGD step compiled once, run on a second set of parameters."""
    rng = np.random.default_rng(0)
    X, y = T.matrix("X"), T.vector("y")
    w = tvmsym.shared(np.zeros(3, np.float32), name="w")
    b = tvmsym.shared(np.float32(0), name="b")
    cost = ((T.dot(X, w) + b - y) ** 2).mean()
    gw, gb = T.grad(cost, [w, b])
    train = tvmsym.function([X, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    w2 = tvmsym.shared(rng.standard_normal(3).astype(np.float32), name="w2")
    b2 = tvmsym.shared(np.float32(0.5), name="b2")
    train2 = train.copy(swap={w: w2, b: b2})
    xs = rng.standard_normal((8, 3)).astype(np.float32)
    ys = rng.standard_normal(8).astype(np.float32)
    w0, b0 = w2.get_value(), b2.get_value()
    c = train2(xs, ys)[0]
    err = xs @ w0 + b0 - ys
    np.testing.assert_allclose(c, (err ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(w2.get_value(), w0 - 0.1 * 2 * xs.T @ err / 8, rtol=1e-5)
    np.testing.assert_allclose(b2.get_value(), b0 - 0.1 * 2 * err.mean(), rtol=1e-5)
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))    # the original's untouched
    assert train2.updates[0][0] is w2 and train.updates[0][0] is w
    text = tvmsym.printing.debugprint(train2, file="str")
    assert "w2 [id" in text and "w [id" not in text
