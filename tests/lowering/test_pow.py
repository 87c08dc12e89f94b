"""x ** k for a constant integer k is lowered by repeated squaring (no libm pow call, and
no TVM 'pow(x, y) where y >= 3' warning on the tutorial's first exercise)."""
import subprocess
import sys

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T

X = [0.5, 1.1, -1.3, 0.0, -0.0, np.inf, -np.inf, np.nan, 3.0]


@pytest.mark.parametrize("dtype,rtol", [("float32", 4e-6), ("float64", 1e-14)])
def test_integer_exponents_vs_numpy(dtype, rtol):
    x = T.vector("x", dtype=dtype)
    ks = [-3, -2, -1, 0, 1, 2, 3, 5, 10, 64, 2.5, 65]
    f = tvmsym.function([x], [x ** k for k in ks])
    xv = np.array(X, dtype)
    with np.errstate(all="ignore"):
        for k, got in zip(ks, f(xv)):
            ref = xv ** np.asarray(k, dtype)
            assert got.dtype == ref.dtype
            np.testing.assert_allclose(got, ref, rtol=rtol, err_msg=f"x ** {k}")


def test_no_tvm_pow_warning_for_small_integer_powers():
    code = ("import numpy, tvmsym as theano\n"
            "a = theano.tensor.vector()\n"
            "f = theano.function([a], a + a ** 10)\n"
            "print(f([0, 1, 2]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[", "0.", "2.", "1026.]"]
    assert "pow(x, y)" not in r.stderr, r.stderr
