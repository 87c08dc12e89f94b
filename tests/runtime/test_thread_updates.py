"""Calls that update shared variables, from several threads at once (issue 11): they are
serialized per shared variable (runtime/function.py ``_locked_call``), so the final state is
one some serial order of the calls gives, and random streams never repeat a draw."""
import sys
import threading

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.sandbox.rng_mrg import MRG_RandomStreams
from tvmsym.tensor.shared_randomstreams import RandomStreams

THREADS, CALLS = 8, 500


def _hammer(targets, calls=CALLS, timeout=120):
    """Run every callable of ``targets`` ``calls`` times, each in its own thread, all
    started together; fail on an exception or a thread that does not finish (deadlock)."""
    errors, start = [], threading.Barrier(len(targets))

    def work(fn):
        try:
            start.wait()
            for _ in range(calls):
                fn()
        except BaseException as e:     # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=work, args=(fn,), daemon=True) for fn in targets]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)         # switch threads often: races show up at once
    try:
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout)
    finally:
        sys.setswitchinterval(old)
    assert not any(t.is_alive() for t in ts), "a thread is still running: deadlock?"
    assert not errors, errors


def test_counter_update_from_threads_is_exact():
    w = theano.shared(np.float64(0.0), name="w")
    x = T.dscalar("x")
    f = theano.function([x], [], updates=[(w, w + x)])
    one = np.float64(1.0)
    _hammer([lambda: f(one)] * THREADS)
    assert w.get_value() == THREADS * CALLS


def test_vector_update_from_threads_is_exact():
    w = theano.shared(np.zeros(1000, "int64"), name="w")
    f = theano.function([], w.sum(), updates=[(w, w + 1)])
    _hammer([f] * THREADS, calls=200)
    np.testing.assert_array_equal(w.get_value(), np.full(1000, THREADS * 200))


def test_matrix_update_state_is_a_serial_one():
    # A <- P A with a permutation P: any serial order of n calls gives P^n A0 exactly
    rng = np.random.default_rng(0)
    n = 48
    P = np.eye(n)[rng.permutation(n)]
    A0 = rng.standard_normal((n, n))
    A = theano.shared(A0.copy(), name="A")
    R = theano.shared(P, name="R")
    f = theano.function([], [], updates=[(A, T.dot(R, A))])
    calls = 60
    _hammer([f] * THREADS, calls=calls)
    want = A0
    for _ in range(THREADS * calls):
        want = P @ want
    np.testing.assert_array_equal(A.get_value(), want)


def test_two_functions_updating_the_same_variables():
    # f and g update (a, b) listed in opposite orders: serialized, and no deadlock
    a = theano.shared(np.int64(0), name="a")
    b = theano.shared(np.int64(0), name="b")
    f = theano.function([], [], updates=[(a, a + 1), (b, b + 2)])
    g = theano.function([], [], updates=[(b, b + 3), (a, a + 5)])
    h = theano.function([], [], updates=[(a, a + 7)])
    _hammer([f, g, h, f, g, h], calls=300)
    assert a.get_value() == 2 * 300 * (1 + 5 + 7)
    assert b.get_value() == 2 * 300 * (2 + 3)


def test_copy_with_swap_locks_the_swapped_variable():
    w = theano.shared(np.int64(0), name="w")
    v = theano.shared(np.int64(0), name="v")
    f = theano.function([], [], updates=[(w, w + 1)])
    g = f.copy(swap={w: v})
    _hammer([f, g] * 3, calls=300)
    assert w.get_value() == 900 and v.get_value() == 900


def test_function_without_updates_takes_no_lock():
    w = theano.shared(np.ones(3), name="w")
    f = theano.function([], w * 2)
    g = theano.function([], [], updates=[(w, w + 1)])
    assert f._update_locks == () and len(g._update_locks) == 1
    with g._update_locks[0]:            # a reader is not blocked by a held update lock
        t = threading.Thread(target=f)
        t.start()
        t.join(30)
        assert not t.is_alive()


@pytest.mark.parametrize("streams", [RandomStreams, MRG_RandomStreams])
def test_random_draws_from_threads_never_repeat(streams):
    srng = streams(seed=7)
    f = theano.function([], srng.uniform((4,), dtype="float64"))
    draws, lock = [], threading.Lock()

    def one():
        d = f()
        with lock:
            draws.append(tuple(d))
    _hammer([one] * THREADS, calls=200)
    assert len(draws) == THREADS * 200
    assert len(set(draws)) == len(draws)
    # and the draws are the ones a single thread gets, in some order
    srng2 = streams(seed=7)
    f2 = theano.function([], srng2.uniform((4,), dtype="float64"))
    assert set(draws) == {tuple(f2()) for _ in range(THREADS * 200)}
