"""Shared variables, updates, givens and In defaults (Theano's tutorial semantics)."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import In, function, shared


# ----------------------------------------------------------------------------- shared values
def test_shared_type_and_value_copy():
    v = np.arange(6, dtype="float32").reshape(2, 3)
    s = shared(v, name="s")
    assert s.type == T.TensorType("float32", (False, False))
    assert s.name == "s" and str(s) == "s"
    v[0, 0] = 100                                  # borrow=False: the shared value is a copy
    assert s.get_value()[0, 0] == 0
    got = s.get_value()
    got[0, 1] = 7                                  # get_value() returns a copy too
    assert s.get_value()[0, 1] == 1


def test_shared_python_scalars_follow_numpy():
    assert shared(0).dtype == "int64" and shared(0).ndim == 0
    assert shared(0.5).dtype == "float64"
    assert shared(np.float32(1)).dtype == "float32"
    assert shared(np.zeros((1, 3)), broadcastable=(True, False)).broadcastable == (True, False)


def test_borrow_aliasing():
    v = np.ones(4)
    s = shared(v, borrow=True)
    assert s.get_value(borrow=True) is v
    v[0] = 5
    assert s.get_value()[0] == 5
    w = np.zeros(4)
    s.set_value(w, borrow=True)
    assert s.get_value(borrow=True) is w
    s.set_value(w)                                 # borrow=False copies
    assert s.get_value(borrow=True) is not w
    np.testing.assert_array_equal(s.get_value(), w)


def test_set_value_type_is_fixed():
    s = shared(np.zeros(3, dtype="float32"), name="w")
    with pytest.raises(TypeError, match="dimension"):
        s.set_value(np.zeros((3, 3), dtype="float32"))
    with pytest.raises(TypeError, match="float64"):
        s.set_value(np.zeros(3))                   # float64 -> float32 would lose precision
    s.set_value([1, 2, 3])                         # values that fit are converted
    assert s.get_value().dtype == np.float32
    with pytest.raises((TypeError, ValueError), match="shared variable a has type"):
        shared(np.zeros(2), name="a").set_value("abc")


# ----------------------------------------------------------------------------- the tutorial
def test_tutorial_accumulator():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    assert accumulator(1) == 0 and state.get_value() == 1
    assert accumulator(300) == 1 and state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1 and state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state - inc)])
    assert decrementor(2) == 2 and state.get_value() == 0
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0                  # givens did not touch the shared value


def test_tutorial_in_defaults_and_keywords():
    x, y, w = T.dscalars("x", "y", "w") if hasattr(T, "dscalars") else (T.dscalar("x"), T.dscalar("y"), T.dscalar("w"))
    z = (x + y) * w
    f = function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z)
    assert f(33) == 68.0
    assert f(33, 2) == 70.0
    assert f(33, 0, 1) == 33.0
    assert f(33, w_by_name=1) == 34.0
    assert f(33, w_by_name=1, y=0) == 33.0
    with pytest.raises(TypeError, match="Missing required input"):
        f()


# ----------------------------------------------------------------------------- updates
def test_updates_see_old_value_and_apply_together():
    a = shared(np.float64(1.0), name="a")
    b = shared(np.float64(10.0), name="b")
    # a swap: each update reads the other's old value
    f = function([], [a + 0, b + 0], updates=[(a, b), (b, a)])
    oa, ob = f()
    assert (oa, ob) == (1.0, 10.0)
    assert (a.get_value(), b.get_value()) == (10.0, 1.0)
    f()
    assert (a.get_value(), b.get_value()) == (1.0, 10.0)


def test_updates_dict_and_no_outputs():
    w = shared(np.ones(3, dtype="float32"), name="w")
    step = function([], [], updates={w: w * 2})
    assert step() == []
    step()
    np.testing.assert_array_equal(w.get_value(), [4, 4, 4])


def test_update_writes_into_reused_storage():
    # steady state: the update kernel writes into a spare buffer, no allocation per step
    w = shared(np.zeros(1000, dtype="float32"), name="w")
    x = T.fvector("x")
    f = function([x], (w * x).sum(), updates=[(w, w + x)])
    ones = np.ones(1000, dtype="float32")
    ids = set()
    for k in range(6):
        out = f(ones)
        assert out == pytest.approx(1000.0 * k)
        ids.add(id(w.get_value(borrow=True)))
    assert len(ids) == 2                          # two buffers, alternating
    np.testing.assert_array_equal(w.get_value(), np.full(1000, 6, dtype="float32"))


def test_update_equal_to_output_is_not_aliased():
    w = shared(np.zeros(3), name="w")
    f = function([], w + 1, updates=[(w, w + 1)])
    r1 = f()
    r2 = f()
    np.testing.assert_array_equal(r1, [1, 1, 1])
    np.testing.assert_array_equal(r2, [2, 2, 2])
    r2[:] = 50                                     # the returned array is not the shared storage
    np.testing.assert_array_equal(w.get_value(), [2, 2, 2])


def test_failed_call_leaves_shared_unchanged():
    w = shared(np.arange(3.0), name="w")
    c = shared(np.int64(0), name="c")
    x = T.dvector("x")
    f = function([x], (w * x).sum(), updates=[(w, w - x), (c, c + 1)])
    f(np.ones(3))
    before_w, before_c = w.get_value(), c.get_value()
    with pytest.raises(ValueError, match="dimension mismatch|shape"):
        f(np.ones(4))                              # shape error
    with pytest.raises(TypeError):
        f(np.ones((2, 2)))                         # bad input
    with pytest.raises((TypeError, ValueError)):
        f("abc")
    np.testing.assert_array_equal(w.get_value(), before_w)
    assert c.get_value() == before_c == 1
    f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), before_w - 1)


def test_update_type_errors():
    w = shared(np.zeros(3, dtype="float32"), name="w")
    x = T.dvector("x")
    with pytest.raises(TypeError, match="same type as the original shared variable"):
        function([x], [], updates=[(w, w + x)])
    with pytest.raises(TypeError, match="not a shared variable"):
        function([x], [], updates=[(x, x + 1)])
    with pytest.raises(TypeError, match="dimension"):
        function([], [], updates=[(w, w.sum())])


def test_shared_in_several_functions_and_eval():
    w = shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = function([x], w * x)
    g = function([], [], updates=[(w, w * 10)])
    np.testing.assert_array_equal(f(np.ones(2)), [1, 2])
    g()
    np.testing.assert_array_equal(f(np.ones(2)), [10, 20])  # f reads the current value
    np.testing.assert_array_equal((w + 1).eval(), [11, 21])


# ----------------------------------------------------------------------------- givens
def test_givens_replace_input_by_expression_and_shared():
    x, y = T.dvector("x"), T.dvector("y")
    data = shared(np.array([1.0, 2.0, 3.0]), name="data")
    z = x * 2 + y
    f = function([y], z, givens=[(x, data)])
    np.testing.assert_array_equal(f(np.ones(3)), [3, 5, 7])
    g = function([y], z, givens={x: y * 10})
    np.testing.assert_array_equal(g(np.array([1.0, 2.0])), [21, 42])
    with pytest.raises(TypeError, match="givens"):
        function([y], z, givens=[(x, T.fmatrix("m"))])


def test_on_unused_input():
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(ValueError, match="not part of the computational graph"):
        function([x, y], x * 2)
    f = function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_array_equal(f(np.ones(2), np.ones(3)), [2, 2])
    with pytest.warns(UserWarning):
        function([x, y], x * 2, on_unused_input="warn")


def test_sgd_update_through_inplace_kernels_reuses_two_buffers():
    # w - lr * dot(x.T, d): the update kernel overwrites the dot's buffer in place;
    # that buffer is the shared variable's spare, so steps allocate nothing for w
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((20, 8))
    w = shared(w0, name="w")
    x, d = T.dmatrix("x"), T.dmatrix("d")
    step = function([x, d], [], updates=[(w, w - 0.1 * T.dot(x.T, d))])
    xv, dv = rng.standard_normal((5, 20)), rng.standard_normal((5, 8))
    ref = w0.copy()
    ids = set()
    for _ in range(5):
        step(xv, dv)
        ref = ref - 0.1 * xv.T @ dv
        ids.add(id(w.get_value(borrow=True)))
    assert len(ids) == 2
    np.testing.assert_allclose(w.get_value(), ref, rtol=1e-10, atol=1e-12)


def test_index_error_at_call_time_leaves_shared_unchanged():
    w = shared(np.arange(4.0), name="w")
    i = T.lscalar("i")
    f = function([i], w[i], updates=[(w, w * 2)])
    assert f(1) == 1.0
    np.testing.assert_array_equal(w.get_value(), [0, 2, 4, 6])
    with pytest.raises(IndexError):
        f(7)
    np.testing.assert_array_equal(w.get_value(), [0, 2, 4, 6])


def test_minibatch_givens_from_shared_dataset():
    """The deep-learning tutorials' pattern: givens slice a shared dataset by an index."""
    X = np.arange(12.0).reshape(6, 2)
    Y = np.arange(6.0)
    data, labels = shared(X, name="data"), shared(Y, name="labels")
    w = shared(np.ones(2), name="w")
    index = T.lscalar("index")
    x, y = T.dmatrix("x"), T.dvector("y")
    cost = ((T.dot(x, w) - y) ** 2).mean()
    g = tvmsym.grad(cost, w)
    bs = 2
    train = function([index], cost, updates=[(w, w - 0.01 * g)],
                     givens={x: data[index * bs:(index + 1) * bs],
                             y: labels[index * bs:(index + 1) * bs]})
    wr = np.ones(2)
    for i in range(3):
        xb, yb = X[i * bs:(i + 1) * bs], Y[i * bs:(i + 1) * bs]
        err = xb @ wr - yb
        assert train(i) == pytest.approx((err ** 2).mean(), rel=1e-12)
        wr = wr - 0.01 * (2 * xb.T @ err / bs)
        np.testing.assert_allclose(w.get_value(), wr, rtol=1e-12)


def test_update_value_check_on_every_call_of_a_failing_signature():
    # the update's type check is skipped only once it passed on a build; a signature
    # whose update breaks the broadcastable pattern fails on every call, path and all
    w = shared(np.zeros(1, dtype="float32"), name="w", broadcastable=(True,))
    v = shared(np.zeros(3, dtype="float32"), name="v")
    x = T.fvector("x")
    f = function([x], x.sum(), updates=[(v, v + 1), (w, x * 2)])
    for _ in range(3):
        assert f(np.ones(1, dtype="float32")) == 1.0
    np.testing.assert_array_equal(w.get_value(), [2])
    np.testing.assert_array_equal(v.get_value(), [3, 3, 3])
    msg = ("update of w (TensorType(float32, (True,))) gave an array of shape (3,): dimension 0 "
           "is broadcastable and must have length 1")
    for _ in range(3):                    # general path, then the fast path of that signature
        with pytest.raises(ValueError) as e:
            f(np.ones(3, dtype="float32"))
        assert str(e.value) == msg
    np.testing.assert_array_equal(w.get_value(), [2])          # nothing installed
    np.testing.assert_array_equal(v.get_value(), [3, 3, 3])
    assert f(np.full(1, 2, dtype="float32")) == 2.0
    np.testing.assert_array_equal(w.get_value(), [4])
    np.testing.assert_array_equal(v.get_value(), [4, 4, 4])
