"""Function.__call__'s fast path (exact-dtype positional ndarrays) against the general path.

Every case calls the function normally (``f(...)``, the fast path when it applies) and
through the general path (``f._call(args, kwargs)``), and requires identical results and
identical errors (type, message, offending value).  Timing is measured by
bench/bench_elemwise.py (W7), never here.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import In


class _Counting:
    """Counts the general-path calls of one Function (an instance attribute over ``_call``)."""

    def __init__(self, f):
        self.f, self.n, self.orig = f, 0, f._call
        f._call = self

    def __call__(self, args, kwargs):
        self.n += 1
        return self.orig(args, kwargs)


@pytest.fixture(scope="module")
def fxy():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], (x + y) * x, name="fxy")
    return f, _Counting(f)


def _outcome(call):
    try:
        return "ok", call()
    except Exception as e:          # noqa: BLE001 - compared between the two paths
        return "err", e


def _same(f, *args, **kwargs):
    """Call f both ways; assert identical outcomes; return the fast path's outcome."""
    saved = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    fast = _outcome(lambda: f(*args, **kwargs))
    gen = _outcome(lambda: f._call(args, kwargs))
    assert fast[0] == gen[0], (fast, gen)
    if fast[0] == "ok":
        fo, go = fast[1], gen[1]
        if isinstance(fo, list):
            assert isinstance(go, list) and len(fo) == len(go)
        else:
            fo, go = [fo], [go]
        for a, b in zip(fo, go):
            assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    else:
        fe, ge = fast[1], gen[1]
        assert type(fe) is type(ge)
        assert fe.args[:2] == ge.args[:2]
        assert str(fe.args[:2]) == str(ge.args[:2])
        if len(fe.args) > 2:
            # the offending value itself (small) or the same description of it (big)
            assert fe.args[2] is ge.args[2] or (isinstance(fe.args[2], str) and fe.args[2] == ge.args[2])
    for a, s in zip(args, saved):               # the user's arrays are never written
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, s)
    return fast


A = np.arange(12, dtype="float32").reshape(3, 4) / 3
B = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)


def test_fast_path_is_taken_and_matches(fxy):
    f, cnt = fxy
    _same(f, A, B)                        # first call: general path registers the signature
    assert (A.shape, B.shape) in f._fast_calls
    n = cnt.n
    out = f(A, B)
    assert cnt.n == n                     # no general-path call
    np.testing.assert_allclose(out, (A + B) * A, rtol=1e-6)
    assert f._last is f._fast_calls[(A.shape, B.shape)][0]


def test_outputs_are_not_overwritten_by_later_calls(fxy):
    f, _ = fxy
    f(A, B)
    o1 = f(A, B)
    v = f(B, A)[1:]                      # only a view of the second result is kept
    o3 = f(A, A)
    np.testing.assert_allclose(o1, (A + B) * A, rtol=1e-6)
    np.testing.assert_allclose(v, ((B + A) * B)[1:], rtol=1e-6)
    np.testing.assert_allclose(o3, (A + A) * A, rtol=1e-6)
    assert o1 is not o3


@pytest.mark.parametrize("bad,exc,msg", [
    (A.astype("float64"), TypeError, "cannot store a value of dtype float64"),
    (A.astype("int64"), TypeError, "cannot store a value of dtype int64"),
    (A[0], TypeError, "Wrong number of dimensions: expected 2, got 1"),
    (A[None], TypeError, "Wrong number of dimensions: expected 2, got 3"),
])
def test_errors_identical(fxy, bad, exc, msg):
    f, _ = fxy
    f(A, B)
    for args in ((bad, B), (A, bad)):
        kind, e = _same(f, *args)
        assert kind == "err" and type(e) is exc
        k = 0 if args[0] is bad else 1
        assert e.args[0] == f'Bad input argument to tvmsym function with name "fxy" at index {k}(0-based)'
        assert msg in e.args[1]


def test_dtype_error_message_exact(fxy):
    f, _ = fxy
    kind, e = _same(f, A, B.astype("float64"))
    assert e.args[1] == ("TensorType(float32, matrix) cannot store a value of dtype float64 without "
                         "risking loss of precision. If you do not mind this loss, you can: 1) "
                         "explicitly cast your data to float32, or 2) set \"allow_input_downcast=True\" "
                         "when calling \"function\".")


def test_broadcastable_mismatch_after_valid_signature():
    r, m = T.row("r"), T.matrix("m")
    f = tvmsym.function([r, m], r * m, name="fr")
    ok = np.ones((1, 4), "float32") * 2
    _same(f, ok, A)
    assert len(f._fast_calls) == 1
    kind, e = _same(f, A, A)             # (3, 4) for a row: refused although ndim matches
    assert kind == "err" and type(e) is ValueError
    assert "broadcastable dimension 0" in e.args[1]
    assert (A.shape, A.shape) not in f._fast_calls


@pytest.mark.parametrize("name,make", [
    ("strided", lambda: (np.tile(A, (2, 2))[::2, ::2], B)),
    ("transposed", lambda: (np.ascontiguousarray(A.T).T, B)),
    ("fortran", lambda: (np.asfortranarray(A), np.asfortranarray(B))),
    ("negative", lambda: (A[::-1, ::-1], B)),
    ("broadcast_to", lambda: (np.broadcast_to(A[0], (3, 4)), B)),
    ("read_only", lambda: (_ro(A), _ro(B))),
    ("aliased", lambda: (A, A)),
    ("big_endian", lambda: (A.astype(">f4"), B)),
    ("subclass", lambda: (A.view(_Sub), B)),
])
def test_layouts_identical(fxy, name, make):
    f, _ = fxy
    f(A, B)
    a, b = make()
    kind, out = _same(f, a, b)
    assert kind == "ok"
    np.testing.assert_allclose(out, (np.asarray(a, "float32") + b) * np.asarray(a, "float32"),
                               rtol=1e-6)


class _Sub(np.ndarray):
    pass


def _ro(a):
    a = a.copy()
    a.setflags(write=False)
    return a


def test_lists_and_scalars_identical():
    x, s = T.vector("x"), T.scalar("s")
    f = tvmsym.function([x, s], x * s, name="fs")
    _same(f, np.ones(3, "float32"), np.float32(2).reshape(()))
    kind, out = _same(f, [1, 2, 3], 2)
    np.testing.assert_array_equal(out, np.array([2, 4, 6], "float32"))
    kind, out = _same(f, np.ones(3, "float32"), 2.5)
    np.testing.assert_array_equal(out, np.full(3, 2.5, "float32"))
    kind, e = _same(f, [1, 2, 3], "a")
    assert kind == "err" and type(e) is TypeError
    i = T.iscalar("i")
    g = tvmsym.function([i], i + 1, name="gi")
    _same(g, np.int32(1).reshape(()))
    kind, e = _same(g, 1.5)
    assert kind == "err" and "cannot store accurately value 1.5" in e.args[1]


def test_kwargs_and_defaults_identical():
    x, y, w = T.matrix("x"), T.matrix("y"), T.matrix("w")
    f = tvmsym.function([x, In(y, value=np.ones((3, 4), "float32")), In(w, value=B, name="w_by_name")],
                        [x + y * w, x * 2], name="fk")
    _same(f, A, A, A)
    for args, kw in [((A,), {}), ((A, B), {}), ((A,), {"w_by_name": A}), ((A,), {"y": B}),
                     ((), {"x": A, "y": B, "w_by_name": A})]:
        kind, out = _same(f, *args, **kw)
        assert kind == "ok" and isinstance(out, list) and len(out) == 2
    kind, e = _same(f, A, nope=A)
    assert kind == "err" and "has no input named 'nope'" in str(e)
    kind, e = _same(f, A, A, A, A)
    assert kind == "err" and "with 4 arguments, but it takes at most 3" in str(e)
    kind, e = _same(f, A, y=B, w_by_name=A, x=A)
    assert kind == "err" and "got input 'x' twice" in str(e)
    kind, e = _same(f)
    assert kind == "err" and "Missing required input: argument 0" in str(e)


def test_shared_updates_identical_and_atomic():
    x = T.matrix("x")
    acc = tvmsym.shared(np.zeros((3, 4), "float32"), name="acc")
    f = tvmsym.function([x], acc * 2, updates=[(acc, acc + x)], name="fu")
    cnt = _Counting(f)
    out1 = f(A)                          # general path (first call of this signature)
    out2 = f(A)                          # fast path
    assert cnt.n == 1
    out3 = f._call((A,), {})
    np.testing.assert_array_equal(out1, np.zeros((3, 4), "float32"))
    np.testing.assert_array_equal(out2, A * 2)
    np.testing.assert_allclose(out3, (A + A) * 2, rtol=1e-6)
    np.testing.assert_allclose(acc.get_value(), A + A + A, rtol=1e-6)
    assert out1 is not out2 and out2 is not out3
    np.testing.assert_array_equal(out1, np.zeros((3, 4), "float32"))   # not reused by updates
    acc.set_value(A + A)
    before = acc.get_value()
    with pytest.raises(TypeError, match="Wrong number of dimensions"):
        f(A[0])
    np.testing.assert_array_equal(acc.get_value(), before)      # a failed call changes nothing
    with pytest.raises(TypeError) as e:
        f(A.astype("float64"))
    assert e.value.args[1].startswith("TensorType(float32, matrix) cannot store a value of dtype float64")
    np.testing.assert_array_equal(acc.get_value(), before)
    g = tvmsym.function([x], x + acc, name="fsh")                 # shared read, no update
    assert g._fast_dtypes is not None
    cnt = _Counting(g)
    _same(g, A)
    n = cnt.n
    np.testing.assert_allclose(g(A), A + before, rtol=1e-6)
    assert cnt.n == n                                            # the fast path ran
    acc.set_value(np.full((3, 4), 5, "float32"))
    np.testing.assert_allclose(g(A), A + 5, rtol=1e-6)           # sees the new value
    acc.set_value(np.ones((2, 4), "float32"))                   # a new shape: general path
    kind, e = _same(g, A)
    assert kind == "err" and type(e) is ValueError
    acc.set_value(np.ones((8, 8), "float32")[::2, ::2], borrow=True)   # strided value
    kind, out = _same(g, np.ones((4, 4), "float32"))
    np.testing.assert_array_equal(out, np.full((4, 4), 2, "float32"))
    f(np.ones((4, 4), "float32"))                               # an update still applies
    np.testing.assert_array_equal(acc.get_value(), np.full((4, 4), 2, "float32"))
    np.testing.assert_array_equal(g(np.zeros((4, 4), "float32")), np.full((4, 4), 2, "float32"))
    kind, e = _same(g, A.astype("float64"))
    assert kind == "err" and e.args[0].endswith("at index 0(0-based)")


MISALIGNED = textwrap.dedent("""
    import numpy as np, tvmsym, tvmsym.tensor as T
    x, y = T.vector("x"), T.vector("y")
    f = tvmsym.function([x, y], (x + y) * x)
    n = 4099
    r = np.random.default_rng(0).random(n).astype("float32")
    b = np.linspace(0, 1, n, dtype="float32")
    f(r, b)                                   # registers the signature: the fast path is warm
    e = np.empty(n + 1, "float32")[1:]        # element-aligned only: the fast path takes it
    e[:] = r
    assert e.flags.carray and e.ctypes.data % 16 != 0
    raw2 = np.zeros(4 * n + 1, "uint8")
    w = raw2[1:].view("float32")              # writeable and misaligned
    w[:] = r
    assert not w.flags.aligned and w.flags.writeable
    ro = np.frombuffer(b"\\0" + w.tobytes(), "float32", offset=1)   # read-only and misaligned
    assert not ro.flags.aligned and not ro.flags.writeable
    for arr in (e, w, ro):
        before = arr.copy()
        fast = f(arr, b)
        gen = f._call((arr, b), {})
        np.testing.assert_array_equal(fast, gen)
        np.testing.assert_allclose(fast, (r + b) * r, rtol=1e-6)
        np.testing.assert_array_equal(arr, before)
    print("OK")
""")


def test_misaligned_in_subprocess():
    """A misaligned vector load would segfault: run it in a child so a crash fails this test."""
    p = subprocess.run([sys.executable, "-c", MISALIGNED], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"child exited with {p.returncode}:\n{p.stderr[-3000:]}"
    assert p.stdout.strip().endswith("OK")


def test_checked_kernels_identical():
    """A kernel with a run-time check (index bounds) takes Build.run's general loop."""
    x, i = T.vector("x"), T.lvector("i")
    f = tvmsym.function([x, i], x[i] * 2, name="fi")
    a = np.arange(5, dtype="float32")
    kind, out = _same(f, a, np.array([0, 4, 2]))
    np.testing.assert_array_equal(out, [0, 8, 4])
    assert f._fast_calls[((5,), (3,))][0]._fast is None
    cnt = _Counting(f)
    kind, e = _same(f, a, np.array([0, 9, 1]))
    assert kind == "err" and type(e) is IndexError
    assert str(e) == "index 9 is out of bounds for axis 0 with size 5"
    np.testing.assert_array_equal(f(a, np.array([-1, 1, 1])), [8, 2, 2])
    assert cnt.n == 1                     # only _same's explicit general-path call
