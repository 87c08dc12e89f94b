"""The fast path passes each pooled intermediate buffer to the kernels as the TVM tensor made
once with it (runtime/executor.py ``_tensor_wrap``): results as numpy's, buffers reused
across calls, an output the user keeps never written again, complex kernels as arrays."""
import weakref

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T


@pytest.fixture(scope="module")
def chain():
    """Several kernels: a sum of rows between elementwise stages (no single-kernel shortcut)."""
    x, y = T.dmatrix("x"), T.dmatrix("y")
    h = T.tanh(x * y + 1)
    s = h.sum(axis=1, keepdims=True)
    return tvmsym.function([x, y], [h / s, s])


def _ref(a, b):
    h = np.tanh(a * b + 1)
    s = h.sum(axis=1, keepdims=True)
    return h / s, s


@pytest.mark.parametrize("shape", [(1, 1), (7, 63), (65, 7), (63, 65)])
def test_results_equal_numpy(chain, shape):
    rng = np.random.default_rng(sum(shape))
    a, b = (rng.standard_normal(shape) for _ in range(2))
    for _ in range(2):                      # second call: pooled buffers and their tensors
        got = chain(a, b)
        for g, w in zip(got, _ref(a, b)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_intermediates_are_reused_and_kept_outputs_untouched(chain):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((7, 63)) for _ in range(2))
    chain(a, b)
    build = chain._last
    assert build._fast is not None
    inter = [s for rec in build._fast_records for s in rec.out_slots
             if s not in build.out_slots and build.pooled(s) is not None]
    assert inter                            # the tanh stage's buffer, at least
    before = {s: weakref.ref(build.pooled(s)) for s in inter}     # (a reference would hold it)
    kept = chain(a, b)                      # the user keeps these outputs
    saved = [k.copy() for k in kept]
    chain(a * 2, b)
    for k, v in zip(kept, saved):           # a later call wrote elsewhere
        np.testing.assert_array_equal(k, v)
    assert all(build.pooled(s) is before[s]() for s in inter)     # intermediates reused
    out0 = weakref.ref(build.pooled(build.out_slots[1]))
    del kept, k                             # dropped: the next call reuses them
    chain(a, b)
    assert build.pooled(build.out_slots[1]) is out0()


def test_complex_kernels_take_arrays():
    z = T.cmatrix("z")
    f = tvmsym.function([z], [abs(z * 2), T.real(z * 2)])
    a = (np.arange(6).reshape(2, 3) + 1j * np.arange(6).reshape(2, 3)[::-1]).astype("complex64")
    for _ in range(2):
        m, r = f(a)
        np.testing.assert_allclose(m, np.abs(a * 2), rtol=1e-6)
        np.testing.assert_allclose(r, (a * 2).real, rtol=1e-6)


def test_straight_line_program_outputs_twice_inputs_and_constants():
    """The generated runner (runtime/fastcode.py): an output listed twice and an input
    returned as an output are separate arrays, constants are read, and it is the code run."""
    x = T.dvector("x")
    c = np.arange(7.0)
    y = T.exp(x) * T.constant(c) + 1
    f = tvmsym.function([x], [y, y, x, y.sum()])
    a = np.linspace(-1, 1, 7)
    for _ in range(3):
        y1, y2, xo, s = f(a)
        want = np.exp(a) * c + 1
        np.testing.assert_allclose(y1, want, rtol=1e-12)
        np.testing.assert_allclose(s, want.sum(), rtol=1e-12)
        assert y1 is not y2 and not np.shares_memory(y1, y2)
        assert xo is not a and not np.shares_memory(xo, a)
        np.testing.assert_array_equal(xo, a)
        y1[:] = 0                           # the caller's arrays: the next call is unaffected
    run = f._last._compile_fast_body(4)
    assert run.__code__.co_filename == "<tvmsym fast path>"
    outs = run((a,))
    np.testing.assert_allclose(outs[0], np.exp(a) * c + 1, rtol=1e-12)


def test_straight_line_error_names_the_failing_kernel(chain):
    """A kernel raising inside the generated runner: the error says which step it was."""
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((7, 63)) for _ in range(2))
    chain(a, b)
    build = chain._last
    fn, getargs, allocs = build._fast[1]

    def broken(*args):
        raise ValueError("kernel says no")
    build._fast[1] = (broken, getargs, allocs)
    try:
        run = build._compile_fast_body(2)
        with pytest.raises(ValueError, match="kernel says no") as err:
            run((a, b))
        note = " ".join(getattr(err.value, "__notes__", []))
        assert build._fast_records[1].name in note and str(build._fast_records[1].node.op) in note
    finally:
        build._fast[1] = (fn, getargs, allocs)
