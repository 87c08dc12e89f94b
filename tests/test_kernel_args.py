"""Kernels are built without TVM's argument checks (``_tvm.BUILD_CONFIG``: ``tirx.disable_assert``):
every bad argument those checks caught must be caught (or made good) by tvmsym before a kernel
runs -- dtype, ndim, shape, broadcast pattern, contiguity, alignment, byte order -- for the
function's inputs, shared variables' storage and update outputs."""
import numpy as np
import pytest

import tvmsym as th
import tvmsym.tensor as T
from tvmsym import _tvm


def test_build_config_disables_kernel_asserts():
    assert _tvm.BUILD_CONFIG == {"tirx.disable_assert": True}
    # the name is one TVM knows (a misspelt key would be refused here)
    with _tvm.tvm.transform.PassContext(config=_tvm.BUILD_CONFIG) as ctx:
        assert bool(ctx.config["tirx.disable_assert"])


@pytest.fixture(scope="module")
def fns():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    v = T.fvector("v")
    r = T.frow("r")
    return {
        "ew": th.function([x, y], T.tanh(x) + y * 2),
        "dot": th.function([x, y], T.dot(x, y)),
        "bcast": th.function([x, v], x * v),
        "row": th.function([x, r], x + r),
    }


def _raises(exc, fn, *args, match=None):
    with pytest.raises(exc, match=match):
        fn(*args)


def a(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("other", [(3, 2), (2, 4), (1, 3), (0, 3)])
def test_shape_mismatch_elemwise(fns, other):
    _raises(ValueError, fns["ew"], a((2, 3)), a(other), match="dimension mismatch")


def test_shape_mismatch_dot_and_vector(fns):
    _raises(ValueError, fns["dot"], a((2, 3)), a((2, 3)), match="not aligned")
    _raises(ValueError, fns["bcast"], a((2, 3)), a((4,)), match="mismatch")


def test_broadcast_pattern(fns):
    # a row input (broadcastable first dim) given 2 rows: refused, never read past the row
    _raises((TypeError, ValueError), fns["row"], a((2, 3)), a((2, 3)))
    np.testing.assert_allclose(fns["row"](a((2, 3)), a((1, 3), seed=1)), a((2, 3)) + a((1, 3), seed=1))


@pytest.mark.parametrize("bad", [np.ones((2, 3), "float64"), np.ones((2, 3), "int32"),
                                 np.ones((2,), "float32"), np.ones((2, 3, 1), "float32")])
def test_dtype_and_ndim(fns, bad):
    _raises(TypeError, fns["ew"], a((2, 3)), bad)


def test_layouts_made_good(fns):
    """Strided, Fortran-order, misaligned, read-only and big-endian arrays: right answers."""
    x, y = a((6, 7)), a((6, 7), seed=1)
    want = np.tanh(x) + y * 2
    f = fns["ew"]
    np.testing.assert_allclose(f(x.T.copy().T, y), want, rtol=1e-6)          # Fortran order
    big = a((12, 14))
    np.testing.assert_allclose(f(big[::2, ::2], y), np.tanh(big[::2, ::2]) + y * 2, rtol=1e-6)
    buf = np.zeros(6 * 7 * 4 + 1, np.uint8)[1:].view("float32").reshape(6, 7)   # misaligned
    assert not buf.flags.aligned
    buf[...] = x
    np.testing.assert_allclose(f(buf, y), want, rtol=1e-6)
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(f(ro, y), want, rtol=1e-6)
    np.testing.assert_allclose(f(x.astype(">f4"), y), want, rtol=1e-6)
    np.testing.assert_allclose(f(x, y), want, rtol=1e-6)                      # the fast path after


def test_shared_storage_and_updates():
    w = th.shared(a((3, 4)), name="w")
    x = T.fmatrix("x")
    f = th.function([x], T.dot(x, w), updates=[(w, w * 0.5)])
    xv = a((2, 3), seed=2)
    w0 = w.get_value()
    np.testing.assert_allclose(f(xv), xv @ w0, rtol=1e-5)
    np.testing.assert_allclose(w.get_value(), w0 * 0.5, rtol=1e-6)
    # a new shape of the shared value: a new build, checked against the input's shape
    w.set_value(a((3, 5), seed=3))
    np.testing.assert_allclose(f(xv), xv @ a((3, 5), seed=3), rtol=1e-5)
    w.set_value(a((4, 5), seed=3))
    _raises(ValueError, f, xv, match="not aligned")
    with pytest.raises(TypeError):
        w.set_value(np.ones((3, 5), "float64"))
    with pytest.raises(TypeError):
        w.set_value(np.ones((3,), "float32"))
    # a strided (borrowed) value is read correctly
    base = a((6, 10), seed=4)
    w.set_value(base[::2, ::2], borrow=True)
    np.testing.assert_allclose(f(xv), xv @ base[::2, ::2], rtol=1e-5)


def test_update_output_shape_checked():
    """An update whose value has another shape than the variable's broadcast pattern allows."""
    s = th.shared(np.zeros((1, 3), "float32"), name="s", broadcastable=(True, False))
    x = T.fmatrix("x")
    f = th.function([x], x.sum(), updates=[(s, T.addbroadcast(x[:1] * 0 + x, 0))])
    f(a((1, 3)))
    with pytest.raises((ValueError, TypeError, AssertionError)):
        f(a((2, 3)))
