"""tvmsym.function: inputs of every layout, argument errors, unused/missing inputs, eval."""
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime.function import MissingInputError, UnusedInputError


@pytest.fixture(scope="module")
def fxy():
    x, y = T.matrix("x"), T.matrix("y")
    return tvmsym.function([x, y], (x * 2 + y) * x, name="fxy"), x, y


def _ref(a, b):
    return (a * 2 + b) * a


def _check(f, a, b):
    a0, b0 = a.copy(), b.copy()
    out = f(a, b)
    np.testing.assert_allclose(out, _ref(a0, b0), rtol=1e-6)
    np.testing.assert_array_equal(a, a0)            # the user's arrays are never written
    np.testing.assert_array_equal(b, b0)
    return out


BASE = np.arange(96 * 70, dtype="float32").reshape(96, 70) / 7


@pytest.mark.parametrize("name,a,b", [
    ("contiguous", BASE, BASE + 1),
    ("strided", BASE[::2, ::3], BASE[1::2, ::3]),
    ("negative_strides", BASE[::-1, ::-2], BASE[::-1, 1::2]),
    ("transposed", BASE[:70, :70].T, BASE[:70, :70]),
    ("fortran", np.asfortranarray(BASE), BASE),
    ("broadcast_view", np.broadcast_to(BASE[0], (96, 70)), BASE),
    ("zero_stride_scalar", np.broadcast_to(np.float32(3), (5, 7)), np.ones((5, 7), "float32")),
    ("sliced_columns", BASE[:, 1:], BASE[:, :-1]),
])
def test_input_layouts(fxy, name, a, b):
    _check(fxy[0], a, b)


def test_read_only_and_aliased_inputs(fxy):
    f = fxy[0]
    ro = BASE.copy()
    ro.setflags(write=False)
    _check(f, ro, ro)
    a = BASE.copy()
    out = _check(f, a, a)                  # the same array twice
    assert out is not a


def test_python_lists_and_scalars():
    x, s = T.vector("x"), T.scalar("s")
    f = tvmsym.function([x, s], x * s)
    np.testing.assert_array_equal(f([1, 2, 3], 2), np.array([2, 4, 6], "float32"))
    np.testing.assert_array_equal(f((1.5,), 2.0), np.array([3], "float32"))
    i = T.iscalar("i")
    g = tvmsym.function([i], i + 1)
    out = g(41)
    assert out.shape == () and out.dtype == np.int32 and out == 42
    with pytest.raises(TypeError, match="cannot store accurately value 1.5"):
        g(1.5)
    b = T.vector("b", dtype="bool")
    h = tvmsym.function([b], ~b)
    np.testing.assert_array_equal(h([True, False]), [False, True])


def test_outputs_are_fresh_arrays(fxy):
    f = fxy[0]
    o1 = f(BASE, BASE)
    o2 = f(BASE, BASE)
    assert o1 is not o2 and not np.shares_memory(o1, o2)
    np.testing.assert_array_equal(o1, o2)


def test_output_that_is_an_input_is_a_copy():
    x = T.vector("x")
    f = tvmsym.function([x], [x, x + 1])
    a = np.ones(3, "float32")
    out = f(a)
    assert not np.shares_memory(out[0], a)
    out[0][0] = 5
    assert a[0] == 1


def test_single_output_and_list_of_outputs():
    x = T.vector("x")
    assert isinstance(tvmsym.function([x], x + 1)([1.0]), np.ndarray)
    out = tvmsym.function([x], [x + 1])([1.0])
    assert isinstance(out, list) and len(out) == 1


# --------------------------------------------------------------------------- misaligned data
MISALIGNED = textwrap.dedent("""
    import numpy as np, tvmsym, tvmsym.tensor as T
    x, y = T.vector("x"), T.vector("y")
    fns = [tvmsym.function([x, y], [x + y, T.exp(x) * y]),
           tvmsym.function([x, y], (x * 2 + y) * x)]
    for n in (8, 257, 4096, 70001):
        r = np.random.default_rng(n).random(n).astype("float32")
        # element-aligned but not 16/64-byte aligned (numpy only promises element alignment)
        a = np.empty(n + 1, "float32")[1:]; a[:] = r
        # truly unaligned: address % 4 != 0 (numpy flags it not aligned)
        raw = bytearray(4 * n + 1)
        u = np.frombuffer(raw, dtype="float32", offset=1, count=n)
        np.copyto(u, r) if u.flags.writeable else None
        assert not u.flags.aligned and a.ctypes.data % 16 != 0
        b = np.linspace(0, 1, n, dtype="float32")
        for arr in (a, u):
            before = arr.copy()
            s, e = fns[0](arr, b)
            np.testing.assert_allclose(s, r + b, rtol=1e-6)
            np.testing.assert_allclose(e, np.exp(r) * b, rtol=1e-5)
            np.testing.assert_allclose(fns[1](arr, b), (r * 2 + b) * r, rtol=1e-5)
            np.testing.assert_array_equal(arr, before)
            np.testing.assert_allclose(fns[1](b, arr), (b * 2 + r) * b, rtol=1e-5)
    print("OK")
""")


def test_misaligned_and_unaligned_inputs_in_subprocess():
    """A misaligned vector load would segfault: run it in a child so a crash fails this test."""
    p = subprocess.run([sys.executable, "-c", MISALIGNED], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"child exited with {p.returncode}:\n{p.stderr[-3000:]}"
    assert p.stdout.strip().endswith("OK")


# --------------------------------------------------------------------------- errors
def test_wrong_ndim(fxy):
    with pytest.raises(TypeError) as info:
        fxy[0](np.ones((2, 2, 2), "float32"), np.ones((2, 2), "float32"))
    assert info.value.args[0] == 'Bad input argument to tvmsym function with name "fxy" at index 0(0-based)'
    assert "Wrong number of dimensions: expected 2, got 3 with shape (2, 2, 2)" in info.value.args[1]


def test_shape_mismatch_raises_before_any_kernel_runs():
    x, y = T.vector("x"), T.vector("y")
    z = T.vector("z")
    f = tvmsym.function([x, y, z], [T.exp(x), x + y, y * z])
    calls_before = dict(f._builds)
    with pytest.raises(ValueError, match=r"Input dimension mismatch.*= 3.*= 4"):
        f(np.ones(3, "float32"), np.ones(3, "float32"), np.ones(4, "float32"))
    assert dict(f._builds) == calls_before        # nothing was built, so nothing ran
    # a broadcastable dimension does broadcast
    r, c = T.row("r"), T.col("c")
    g = tvmsym.function([r, c], r + c)
    assert g(np.ones((1, 3), "float32"), np.ones((2, 1), "float32")).shape == (2, 3)
    with pytest.raises(ValueError, match=r"broadcastable dimension 0"):
        g(np.ones((2, 3), "float32"), np.ones((2, 1), "float32"))


def test_argument_count_and_keywords(fxy):
    f = fxy[0]
    a = np.ones((2, 2), "float32")
    with pytest.raises(TypeError, match=r'Tried to call tvmsym function "fxy" with 3 arguments, '
                                        r'but it takes at most 2'):
        f(a, a, a)
    with pytest.raises(TypeError, match=r"Missing required input: argument 1 \(y\)"):
        f(a)
    with pytest.raises(TypeError, match=r"has no input named 'q'; named inputs: \['x', 'y'\]"):
        f(a, q=a)
    with pytest.raises(TypeError, match="got input 'x' twice"):
        f(a, a, x=a)
    np.testing.assert_array_equal(f(y=a, x=a), _ref(a, a))


def test_unused_input_policies():
    x, y, z = T.matrix("x"), T.matrix("y"), T.matrix("z")
    with pytest.raises(UnusedInputError, match=r"input variable at index 2 \(z\) is not part of "
                                               r"the computational graph"):
        tvmsym.function([x, y, z], x + y)
    assert issubclass(UnusedInputError, ValueError)
    with pytest.warns(UserWarning, match="index 2"):
        f = tvmsym.function([x, y, z], x + y, on_unused_input="warn")
    a = np.ones((2, 2), "float32")
    np.testing.assert_array_equal(f(a, a, a), a + a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tvmsym.function([x, y, z], x + y, on_unused_input="ignore")
    with pytest.raises(ValueError, match="on_unused_input must be 'raise', 'warn' or 'ignore'"):
        tvmsym.function([x, y], x + y, on_unused_input="nope")
    with tvmsym.config.change_flags(on_unused_input="ignore"):
        tvmsym.function([x, z], x * 2)


def test_missing_input():
    x, y = T.matrix("x"), T.matrix("y")
    with pytest.raises(MissingInputError, match=r"input y \(of type TensorType\(float32, matrix\)\) "
                                                r"is needed to compute the outputs"):
        tvmsym.function([x], x + y)


def test_bad_function_arguments():
    x = T.matrix("x")
    with pytest.raises(TypeError, match="inputs must be a list"):
        tvmsym.function(x, x + 1)
    with pytest.raises(TypeError, match="outputs must be symbolic variables"):
        tvmsym.function([x], [x + 1, 3])
    with pytest.raises(ValueError, match="used twice as an input"):
        tvmsym.function([x, x], x + 1)
    with pytest.raises(TypeError, match="constants cannot be function inputs"):
        tvmsym.function([T.constant(1.0)], x + 1)


# --------------------------------------------------------------------------- eval
def test_eval_and_its_cache():
    x, y = T.matrix("x"), T.matrix("y")
    z = x + y
    a = [[1, 2], [1, 3]]
    b = [[1, 0], [3, 4]]
    out = z.eval({x: a, y: b})
    np.testing.assert_array_equal(out, [[2, 2], [4, 7]])
    assert out.dtype == np.float32
    from tvmsym.runtime.inner import weak_cache
    cache = weak_cache(z, dict)     # runtime/function.py evaluate's cache for z
    assert len(cache) == 1
    fn = next(iter(cache.values()))
    out2 = z.eval({y: b, x: a})                 # dict order does not matter
    np.testing.assert_array_equal(out, out2)
    assert len(cache) == 1 and next(iter(cache.values())) is fn
    np.testing.assert_array_equal((x * 2).eval({x: a}), np.array(a, "float32") * 2)
    assert T.constant(3.0).eval() == 3.0
    with pytest.raises(MissingInputError):
        z.eval({x: a})
    with pytest.raises(TypeError, match="eval\\(\\) keys must be symbolic variables, got str"):
        z.eval({"x": a, y: b})
    with pytest.raises(TypeError, match="takes a dict"):
        z.eval([a, b])


def test_complex_compiles():
    # complex tensors compile since issue 17 (tests/ops/test_complex.py has the full story)
    x = T.cvector("x")
    v = np.array([1 + 2j, -3j], dtype="complex64")
    np.testing.assert_array_equal(tvmsym.function([x], x + x)(v), v + v)


def test_debugmode_name_compiles_as_fast_run():
    x = tvmsym.tensor.dvector("x")
    f = tvmsym.function([x], x * 2, mode="DebugMode")
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    with pytest.raises(ValueError, match=r"unknown mode 'NanGuarded'; valid modes: 'FAST_RUN', "
                                         r"'FAST_COMPILE', 'DEBUG_MODE' \(or 'DebugMode'\), 'NanGuardMode'"):
        tvmsym.function([x], x * 2, mode="NanGuarded")
