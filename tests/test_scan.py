"""scan (tvmsym/scan_module, symbolic/ops/scan.py): Theano's tutorial "Loop" snippets, results
against numpy, taps, go_backwards, n_steps=0, errors, map/reduce/foldl/foldr, gradients."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.gradient import verify_grad
from tvmsym.runtime.inner import inner_for
from tvmsym.symbolic.ops.scan import Scan

FX = theano.config.floatX


# --------------------------------------------------------------------------- the tutorial
def test_tutorial_tanh_elementwise():
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")
    results, updates = theano.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    compute_elementwise = theano.function(inputs=[X, W, b_sym], outputs=results)
    x = np.eye(2, dtype=theano.config.floatX)
    w = np.ones((2, 2), dtype=theano.config.floatX)
    b = np.ones((2), dtype=theano.config.floatX)
    b[1] = 2
    np.testing.assert_allclose(compute_elementwise(x, w, b), np.tanh(x.dot(w) + b), rtol=1e-6)
    assert len(updates) == 0 and isinstance(updates, dict)
    assert str(results.owner.op) == "for{cpu,scan_fn}"
    assert theano.printing.debugprint(results, file="str").splitlines()[0] == \
        "for{cpu,scan_fn} [id A] ''   "


def test_tutorial_recurrence_with_reversed_sequence():
    X = T.vector("X")
    W = T.matrix("W")
    U = T.matrix("U")
    Y = T.matrix("Y")
    V = T.matrix("V")
    P = T.matrix("P")
    results, updates = theano.scan(lambda y, p, x_tm1: T.tanh(T.dot(x_tm1, W) + T.dot(y, U) + T.dot(p, V)),
                                   sequences=[Y, P[::-1]], outputs_info=[X])
    compute_seq = theano.function(inputs=[X, W, Y, U, P, V], outputs=results)
    x = np.zeros((2), dtype=theano.config.floatX)
    x[1] = 1
    w = np.ones((2, 2), dtype=theano.config.floatX)
    y = np.ones((5, 2), dtype=theano.config.floatX)
    y[0, :] = -3
    u = np.ones((2, 2), dtype=theano.config.floatX)
    p = np.ones((5, 2), dtype=theano.config.floatX)
    p[0, :] = 3
    v = np.ones((2, 2), dtype=theano.config.floatX)
    x_res = np.zeros((5, 2), dtype=theano.config.floatX)
    x_res[0] = np.tanh(x.dot(w) + y[0].dot(u) + p[4].dot(v))
    for i in range(1, 5):
        x_res[i] = np.tanh(x_res[i - 1].dot(w) + y[i].dot(u) + p[4 - i].dot(v))
    np.testing.assert_allclose(compute_seq(x, w, y, u, p, v), x_res, rtol=1e-5)


def test_tutorial_norms_of_rows_and_columns():
    X = T.matrix("X")
    rows, _ = theano.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X])
    cols, _ = theano.scan(lambda x_i: T.sqrt((x_i ** 2).sum()), sequences=[X.T])
    f = theano.function(inputs=[X], outputs=[rows, cols])
    x = np.diag(np.arange(1, 6, dtype=theano.config.floatX), 1)
    r, c = f(x)
    np.testing.assert_allclose(r, np.sqrt((x ** 2).sum(1)), rtol=1e-6)
    np.testing.assert_allclose(c, np.sqrt((x ** 2).sum(0)), rtol=1e-6)


def test_tutorial_trace():
    floatX = "float32"
    X = T.matrix("X")
    results, updates = theano.scan(lambda i, j, t_f: T.cast(X[i, j] + t_f, floatX),
                                   sequences=[T.arange(X.shape[0]), T.arange(X.shape[1])],
                                   outputs_info=np.asarray(0., dtype=floatX))
    result = results[-1]
    compute_trace = theano.function(inputs=[X], outputs=result)
    x = np.eye(5, dtype=theano.config.floatX)
    x[0] = np.arange(5, dtype=theano.config.floatX)
    assert compute_trace(x) == np.diagonal(x).sum() == 4.0
    # the shortest sequence decides the number of steps
    assert compute_trace(np.ones((3, 7), dtype=FX)) == 3.0


def test_tutorial_two_taps():
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")
    U = T.matrix("U")
    V = T.matrix("V")
    n_sym = T.iscalar("n_sym")
    results, updates = theano.scan(lambda x_tm2, x_tm1: T.dot(x_tm2, U) + T.dot(x_tm1, V) + T.tanh(T.dot(x_tm1, W) + b_sym),
                                   n_steps=n_sym, outputs_info=[dict(initial=X, taps=[-2, -1])])
    compute_seq2 = theano.function(inputs=[X, U, V, W, b_sym, n_sym], outputs=results)
    x = np.zeros((2, 2), dtype=theano.config.floatX)
    x[1, 1] = 1
    w = 0.5 * np.ones((2, 2), dtype=theano.config.floatX)
    u = 0.5 * (np.ones((2, 2), dtype=theano.config.floatX) - np.eye(2, dtype=theano.config.floatX))
    v = 0.5 * np.ones((2, 2), dtype=theano.config.floatX)
    n = 10
    b = np.ones((2), dtype=theano.config.floatX)
    x_res = np.zeros((10, 2))
    x_res[0] = x[0].dot(u) + x[1].dot(v) + np.tanh(x[1].dot(w) + b)
    x_res[1] = x[1].dot(u) + x_res[0].dot(v) + np.tanh(x_res[0].dot(w) + b)
    x_res[2] = x_res[0].dot(u) + x_res[1].dot(v) + np.tanh(x_res[1].dot(w) + b)
    for i in range(2, 10):
        x_res[i] = (x_res[i - 2].dot(u) + x_res[i - 1].dot(v) + np.tanh(x_res[i - 1].dot(w) + b))
    np.testing.assert_allclose(compute_seq2(x, u, v, w, b, n), x_res, rtol=1e-5)
    assert compute_seq2(x, u, v, w, b, 3).shape == (3, 2)


def test_tutorial_jacobian():
    v = T.vector()
    A = T.matrix()
    y = T.tanh(T.dot(v, A))
    results, updates = theano.scan(lambda i: T.grad(y[i], v), sequences=[T.arange(y.shape[0])])
    compute_jac_t = theano.function([A, v], results, allow_input_downcast=True)  # shape (d_out, d_in)
    x = np.eye(5, dtype=theano.config.floatX)[0]
    w = np.eye(5, 3, dtype=theano.config.floatX)
    w[2] = np.ones((3), dtype=theano.config.floatX)
    np.testing.assert_allclose(compute_jac_t(w, x), ((1 - np.tanh(x.dot(w)) ** 2) * w).T, rtol=1e-6)


def test_tutorial_accumulate_shared():
    k = theano.shared(0)
    n_sym = T.iscalar("n_sym")
    results, updates = theano.scan(lambda: {k: (k + 1)}, n_steps=n_sym)
    accumulator = theano.function([n_sym], [], updates=updates, allow_input_downcast=True)
    assert results is None
    assert k.get_value() == 0
    accumulator(5)
    assert k.get_value() == 5
    accumulator(0)
    assert k.get_value() == 5
    accumulator(2)
    assert k.get_value() == 7


def test_tutorial_random_noise_is_redrawn_every_step():
    """A draw made outside fn and used inside is redrawn at each step, as in Theano (the
    tutorial: pass it in non_sequences to keep one draw per call)."""
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")
    trng = T.shared_randomstreams.RandomStreams(1234)
    d = trng.binomial(size=W[1].shape)
    results, updates = theano.scan(lambda v: T.tanh(T.dot(v, W) + b_sym) * d, sequences=X)
    assert any("Random" in str(n.op)
               for n in inner_for(results.owner.op).function("body").maker.fgraph.toposort())
    f = theano.function(inputs=[X, W, b_sym], outputs=results, updates=updates,
                        allow_input_downcast=True)
    x = np.ones((40, 2), dtype=theano.config.floatX)
    w = np.ones((2, 2), dtype=theano.config.floatX)
    b = np.ones((2), dtype=theano.config.floatX)
    r = f(x, w, b)
    masks = {tuple(row) for row in (r != 0).astype(int).tolist()}
    assert len(masks) > 1                       # rows see different masks
    np.testing.assert_allclose(r[r != 0], np.tanh(3.0), rtol=1e-6)
    # passed as a non-sequence: one draw per call, the same for every step
    results2, updates2 = theano.scan(lambda v, d: T.tanh(T.dot(v, W) + b_sym) * d, sequences=X,
                                     non_sequences=[d])
    g = theano.function(inputs=[X, W, b_sym], outputs=[results2, d], updates=updates2,
                        allow_input_downcast=True)
    seen = set()
    for _ in range(6):
        r2, dv = g(x, w, b)
        np.testing.assert_allclose(r2, np.tanh(x.dot(w) + b) * dv, rtol=1e-6)
        seen.add(tuple(dv))
    assert len(seen) > 1        # the random stream advances between calls


def test_tutorial_power():
    k = T.iscalar("k")
    A = T.vector("A")
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A),
                                  non_sequences=A,
                                  n_steps=k)
    final_result = result[-1]
    power = theano.function(inputs=[A, k], outputs=final_result, updates=updates)
    a = np.arange(10, dtype=FX)
    np.testing.assert_allclose(power(range(10), 2), a ** 2)
    np.testing.assert_allclose(power(range(10), 4), a ** 4)
    all_steps = theano.function([A, k], result)
    np.testing.assert_allclose(all_steps(range(3), 3), [[0, 1, 2], [0, 1, 4], [0, 1, 8]])


def test_tutorial_polynomial():
    coefficients = theano.tensor.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    components, updates = theano.scan(fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
                                      outputs_info=None,
                                      sequences=[coefficients, theano.tensor.arange(max_coefficients_supported)],
                                      non_sequences=x)
    polynomial = components.sum()
    calculate_polynomial = theano.function(inputs=[coefficients, x], outputs=polynomial)
    test_coefficients = np.asarray([1, 0, 2], dtype=np.float32)
    test_value = 3
    assert calculate_polynomial(test_coefficients, test_value) == \
        1.0 * (3 ** 0) + 0.0 * (3 ** 1) + 2.0 * (3 ** 2) == 19.0


def test_tutorial_polynomial_reduced_by_scan():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    outputs_info = T.as_tensor_variable(np.asarray(0, "float64"))
    components, updates = theano.scan(
        fn=lambda coeff, power, prior_value, free_var: prior_value + (coeff * (free_var ** power)),
        sequences=[coefficients, T.arange(max_coefficients_supported)],
        outputs_info=outputs_info, non_sequences=x)
    polynomial = components[-1]
    f = theano.function([coefficients, x], polynomial)
    assert f(np.asarray([1, 0, 2], FX), 3) == 19.0


# --------------------------------------------------------------------------- map / reduce / folds
def test_map_reduce_foldl_foldr():
    v = T.vector("v")
    sq, _ = theano.map(lambda x: x * x, sequences=v)
    total, _ = theano.reduce(lambda x_t, acc: acc + x_t, sequences=v,
                             outputs_info=T.as_tensor_variable(np.asarray(0, FX)))
    # foldl/foldr: a non-commutative step shows the order
    left, _ = theano.foldl(lambda x_t, acc: acc * 2 + x_t, sequences=v,
                           outputs_info=T.as_tensor_variable(np.asarray(0, FX)))
    right, _ = theano.foldr(lambda x_t, acc: acc * 2 + x_t, sequences=v,
                            outputs_info=T.as_tensor_variable(np.asarray(0, FX)))
    f = theano.function([v], [sq, total, left, right])
    a = np.asarray([1, 2, 3, 4], FX)
    s, t, lft, rgt = f(a)
    np.testing.assert_allclose(s, a * a)
    assert t == 10.0
    assert lft == ((1 * 2 + 2) * 2 + 3) * 2 + 4 == 26.0
    assert rgt == ((4 * 2 + 3) * 2 + 2) * 2 + 1 == 49.0


# --------------------------------------------------------------------------- semantics
def test_several_outputs_mixed_recurrence():
    x = T.vector("x")
    s0 = T.scalar("s0")

    def step(x_t, s_tm1):
        s_t = s_tm1 + x_t
        return [s_t, x_t * 10, s_t * x_t]

    outs, updates = theano.scan(step, sequences=x, outputs_info=[s0, None, None])
    assert isinstance(outs, list) and len(outs) == 3
    f = theano.function([x, s0], outs)
    a = np.asarray([1, 2, 3], FX)
    s, ten, prod = f(a, 5)
    np.testing.assert_allclose(s, 5 + np.cumsum(a))
    np.testing.assert_allclose(ten, a * 10)
    np.testing.assert_allclose(prod, (5 + np.cumsum(a)) * a)


def test_go_backwards_and_sequence_taps():
    x = T.vector("x")
    back, _ = theano.scan(lambda x_t, acc: acc + x_t, sequences=x,
                          outputs_info=T.as_tensor_variable(np.asarray(0, FX)), go_backwards=True)
    taps, _ = theano.scan(lambda a, b, c: a + 10 * b + 100 * c,
                          sequences=dict(input=x, taps=[-1, 0, 2]))
    f = theano.function([x], [back, taps])
    a = np.arange(1, 7, dtype=FX)
    b, t = f(a)
    np.testing.assert_allclose(b, np.cumsum(a[::-1]))
    # steps: len - (2 - (-1)) = 3; step t reads x[t], x[t+1], x[t+3]
    np.testing.assert_allclose(t, [a[i] + 10 * a[i + 1] + 100 * a[i + 3] for i in range(3)])


def test_zero_steps_gives_empty_result():
    k = T.iscalar("k")
    A = T.vector("A")
    result, _ = theano.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
                            non_sequences=A, n_steps=k)
    plain, _ = theano.scan(lambda A: T.outer(A, A), non_sequences=A, n_steps=k)
    f = theano.function([A, k], [result, plain])
    r, p = f(np.ones(3, FX), 0)
    assert r.shape == (0, 3) and r.dtype == FX
    assert p.shape == (0, 3, 3)
    r, p = f(np.full(3, 2, FX), 2)
    np.testing.assert_allclose(r, [[2, 2, 2], [4, 4, 4]])
    assert p.shape == (2, 3, 3)


def test_scan_is_not_constant_folded():
    a = T.as_tensor_variable(np.arange(4, dtype=FX))
    r, _ = theano.scan(lambda x: x * 2, sequences=a)
    f = theano.function([], r)
    assert Scan in [type(n.op) for n in f.maker.fgraph.toposort()]
    np.testing.assert_allclose(f(), np.arange(4) * 2)


# --------------------------------------------------------------------------- errors
def test_n_steps_longer_than_sequence_is_a_clear_error():
    x = T.vector("x")
    n = T.iscalar("n")
    r, _ = theano.scan(lambda x_t: x_t * 2, sequences=x, n_steps=n)
    f = theano.function([x, n], r)
    np.testing.assert_allclose(f(np.ones(4, FX), 3), [2, 2, 2])
    with pytest.raises(ValueError, match=r"sequence 0 has 4 entries, but 5 steps with taps "
                                         r"\[0\] need 5"):
        f(np.ones(4, FX), 5)
    # Theano: a negative n_steps runs backwards
    np.testing.assert_allclose(f(np.arange(4, dtype=FX), -3), [6, 4, 2])
    back, _ = theano.scan(lambda x_t: x_t * 2, sequences=x, n_steps=n, go_backwards=True)
    np.testing.assert_allclose(theano.function([x, n], back)(np.arange(4, dtype=FX), -2), [0, 2])
    g = theano.function([x, n], theano.grad((r * T.arange(1, 4)).sum(), x))
    np.testing.assert_allclose(g(np.arange(4, dtype=FX), -3), [0, 6, 4, 2])


def test_wrong_number_of_outputs_is_a_build_time_error():
    x = T.vector("x")
    with pytest.raises(ValueError, match=r"scan: fn returned 2 output\(s\) but outputs_info has 1 "
                                         r"entries"):
        theano.scan(lambda x_t, acc: [acc + x_t, acc * x_t], sequences=x,
                    outputs_info=T.as_tensor_variable(np.asarray(0, FX)))
    with pytest.raises(TypeError, match=r"scan: output 0 of fn .* has 1 dimension\(s\) but its "
                                        r"initial value in outputs_info gives steps of 0"):
        theano.scan(lambda x_t, acc: acc + x, sequences=x,
                    outputs_info=T.as_tensor_variable(np.asarray(0, FX)))
    with pytest.raises(ValueError, match="no information about the number of steps"):
        theano.scan(lambda: x)
    with pytest.raises(TypeError, match=r"scan: output 0 of fn has dtype float64 but its initial "
                                        r"value in outputs_info has dtype float32; cast one"):
        theano.scan(lambda x_t, acc: acc + T.cast(x_t, "float64"), sequences=x,
                    outputs_info=T.as_tensor_variable(np.asarray(0, "float32")))
    # a step whose shape differs from the initial value's: a clear error when it runs
    v0 = T.vector("v0")
    r, _ = theano.scan(lambda x_t, acc: T.concatenate([acc, acc]), sequences=x, outputs_info=v0)
    with pytest.raises(ValueError, match=r"output 0 has shape \(4,\) at step 0, but its initial "
                                         r"value \(outputs_info\) gives steps of shape \(2,\)"):
        theano.function([x, v0], r)(np.ones(3, FX), np.ones(2, FX))


# --------------------------------------------------------------------------- gradients
def _rnn(x, h0, W, U):
    h, _ = theano.scan(lambda x_t, h_tm1, W, U: T.tanh(T.dot(h_tm1, W) + T.dot(x_t, U)),
                       sequences=x, outputs_info=h0, non_sequences=[W, U])
    return h


def test_grad_rnn_matches_numpy():
    rng = np.random.default_rng(0)
    x, h0, W, U = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W"), T.dmatrix("U")
    cost = _rnn(x, h0, W, U).sum()
    f = theano.function([x, h0, W, U], theano.grad(cost, [W, U, h0, x]))
    xv, hv = rng.standard_normal((4, 3)), rng.standard_normal(2)
    Wv, Uv = rng.standard_normal((2, 2)) * 0.5, rng.standard_normal((3, 2)) * 0.5
    gW, gU, gh0, gx = f(xv, hv, Wv, Uv)
    # numpy backpropagation through time
    hs = [hv]
    for t in range(4):
        hs.append(np.tanh(hs[-1] @ Wv + xv[t] @ Uv))
    eW, eU, ex, carry = np.zeros_like(Wv), np.zeros_like(Uv), np.zeros_like(xv), np.zeros(2)
    for t in range(3, -1, -1):
        ga = (1 + carry) * (1 - hs[t + 1] ** 2)
        eW += np.outer(hs[t], ga)
        eU += np.outer(xv[t], ga)
        ex[t] = Uv @ ga
        carry = Wv @ ga
    np.testing.assert_allclose(gW, eW, rtol=1e-10)
    np.testing.assert_allclose(gU, eU, rtol=1e-10)
    np.testing.assert_allclose(gx, ex, rtol=1e-10)
    np.testing.assert_allclose(gh0, carry, rtol=1e-10)


def test_verify_grad_rnn_taps_and_backwards():
    rng = np.random.default_rng(1)
    verify_grad(_rnn, [rng.standard_normal((4, 3)), rng.standard_normal(2),
                       rng.standard_normal((2, 2)) * 0.5, rng.standard_normal((3, 2)) * 0.5],
                rng=rng)

    def two_taps(x0, u, s):
        r, _ = theano.scan(lambda s_t, x_tm2, x_tm1, u: T.tanh(x_tm2 * u + x_tm1 * s_t),
                           sequences=s, outputs_info=dict(initial=x0, taps=[-2, -1]),
                           non_sequences=u, go_backwards=True)
        return r
    verify_grad(two_taps, [rng.standard_normal((2, 3)), rng.standard_normal(3),
                           rng.standard_normal((5, 3))], rng=rng)

    def seq_taps(x):
        r, _ = theano.scan(lambda a, b: a * b, sequences=dict(input=x, taps=[-1, 1]))
        return r
    verify_grad(seq_taps, [rng.standard_normal(6)], rng=rng)


def test_grad_with_shared_updates_is_not_implemented():
    k = theano.shared(np.float64(1.0))
    x = T.dvector("x")
    r, upd = theano.scan(lambda x_t: (x_t * k, {k: k * 2}), sequences=x)
    with pytest.raises(NotImplementedError, match="scan with shared-variable updates"):
        theano.grad(r.sum(), x)


def test_grad_through_shared_closure_and_truncate_gradient():
    rng = np.random.default_rng(2)
    Wv = rng.standard_normal((2, 2)) * 0.5
    W = theano.shared(Wv, name="W")
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    h, _ = theano.scan(lambda x_t, h_tm1: T.tanh(T.dot(h_tm1, W) + x_t), sequences=x,
                       outputs_info=h0)
    ht, _ = theano.scan(lambda x_t, h_tm1: T.tanh(T.dot(h_tm1, W) + x_t), sequences=x,
                        outputs_info=h0, truncate_gradient=1)
    f = theano.function([x, h0], theano.grad(h[-1].sum(), [W, x]) + theano.grad(ht[-1].sum(), [W, x]))
    xv, hv = rng.standard_normal((3, 2)), rng.standard_normal(2)
    gW, gx, tW, tx = f(xv, hv)
    eps = 1e-6
    num = np.zeros_like(Wv)
    for i in range(2):
        for j in range(2):
            d = np.zeros_like(Wv)
            d[i, j] = eps

            def run(Wm):
                hh = hv
                for t in range(3):
                    hh = np.tanh(hh @ Wm + xv[t])
                return hh.sum()
            num[i, j] = (run(Wv + d) - run(Wv - d)) / (2 * eps)
    np.testing.assert_allclose(gW, num, rtol=1e-6)
    # truncated to the last step: only that step's inputs receive a gradient
    np.testing.assert_allclose(tx[:2], 0)
    np.testing.assert_allclose(tx[2], gx[2])
    h2 = np.tanh(np.tanh(hv @ Wv + xv[0]) @ Wv + xv[1])
    np.testing.assert_allclose(tW, np.outer(h2, 1 - np.tanh(h2 @ Wv + xv[2]) ** 2))
    with pytest.raises(ValueError, match=r"strict=True.*shared variable\(s\) W; pass them"):
        theano.scan(lambda x_t: T.dot(x_t, W), sequences=x, strict=True)
    r, _ = theano.scan(lambda x_t, W: T.dot(x_t, W), sequences=x, non_sequences=W, strict=True)
    np.testing.assert_allclose(theano.function([x], r)(xv), xv @ Wv)


def test_second_order_is_a_clear_not_implemented_error():
    y = T.dvector("y")
    h, _ = theano.scan(lambda y_t, a: a * y_t, sequences=y, outputs_info=T.constant(1.0))
    gy = theano.grad(h[-1], y)
    np.testing.assert_allclose(theano.function([y], gy)(np.asarray([2.0, 3.0, 5.0])), [15, 10, 6])
    with pytest.raises(NotImplementedError, match=r"the gradient of for\{cpu,grad_of_scan_fn\} "
                                                  r"with respect to its input 1 \(y\) is not implemented: .*second order"):
        theano.grad(gy.sum(), y)


def test_nested_scan_and_its_gradient():
    M = T.matrix("M")
    zero = T.constant(np.float32(0))
    sums, _ = theano.scan(lambda row: theano.scan(lambda e, acc: acc + e, sequences=row,
                                                  outputs_info=zero)[0][-1], sequences=M)
    f = theano.function([M], [sums, theano.grad((sums ** 2).sum(), M)])
    m = np.arange(6, dtype=FX).reshape(2, 3)
    s, g = f(m)
    np.testing.assert_allclose(s, m.sum(1))
    np.testing.assert_allclose(g, 2 * m.sum(1, keepdims=True) * np.ones_like(m))


def test_compute_test_value_inside_fn():
    x = T.matrix("x")
    x.tag.test_value = np.ones((3, 2), FX)
    W = T.matrix("W")
    h0 = T.vector("h0")
    h0.tag.test_value = np.zeros(4, FX)
    with theano.change_flags(compute_test_value="raise"):
        W.tag.test_value = np.ones((2, 4), FX)
        h, _ = theano.scan(lambda x_t, h_tm1: T.tanh(T.dot(x_t, W) + h_tm1), sequences=x,
                           outputs_info=h0)
        expect, hv = [], np.zeros(4)
        for _ in range(3):
            hv = np.tanh(2 + hv)
            expect.append(hv)
        np.testing.assert_allclose(h.tag.test_value, expect, rtol=1e-6)
        W.tag.test_value = np.ones((3, 4), FX)
        with pytest.raises(ValueError, match="not aligned"):     # raised where fn builds it
            theano.scan(lambda x_t, h_tm1: T.tanh(T.dot(x_t, W) + h_tm1), sequences=x,
                        outputs_info=h0)


def test_random_draw_inside_fn_advances_every_step():
    X = T.matrix("X")
    trng = T.shared_randomstreams.RandomStreams(1234)
    results, updates = theano.scan(lambda v: v * trng.uniform(size=v.shape), sequences=X)
    assert len(updates) == 1           # the draw's random state, advanced by the loop
    f = theano.function([X], results, updates=updates)
    g = theano.function([X], results)  # without updates= the state still advances
    ones = np.ones((4, 3), FX)
    a, b = f(ones), g(ones)
    assert ((0 <= a) & (a < 1)).all() and ((0 <= b) & (b < 1)).all()
    assert len({tuple(r) for r in a}) == 4         # a new draw at each step
    assert not np.array_equal(a, b)                # and at each call
    trng.seed(7)
    c = f(ones)
    trng.seed(7)
    np.testing.assert_array_equal(g(ones), c)


def test_mode_is_the_body_mode():
    x = T.vector("x")
    r, _ = theano.scan(lambda x_t: T.exp(x_t) * 2 + 1, sequences=x, mode=theano.Mode(optimizer=None))
    f = theano.function([x], r)
    np.testing.assert_allclose(f(np.arange(3, dtype=FX)), np.exp(np.arange(3)) * 2 + 1, rtol=1e-6)
    body = [str(n.op) for n in inner_for(r.owner.op).function("body").maker.fgraph.toposort()]
    assert not any(s.startswith("Composite") for s in body), body     # not fused
