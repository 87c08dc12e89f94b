"""pool_2d / pool_3d / max_pool_2d_same_size and their gradients against numpy loops written here."""
import itertools
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.gradient import check_grads
from tvmsym.printing import debugprint
from tvmsym.tensor.signal import pool


def out_len(h, ws, st, pad, ib):
    r = h + 2 * pad
    if ib:
        return r // st if ws == st else max((r - ws) // st + 1, 0)
    return (r - 1) // st + 1 if st >= ws else max(0, (r - 1 - ws) // st + 1) + 1


def windows(xsp, ws, st, pad, ib, inc):
    """For each output position: (slices into the image, divisor for the averages)."""
    outs = [out_len(h, w, s, p, ib) for h, w, s, p in zip(xsp, ws, st, pad)]
    for r in itertools.product(*[range(o) for o in outs]):
        sl, cnt_inc = [], 1
        for a, ra in enumerate(r):
            start = ra * st[a]
            end = min(start + ws[a], xsp[a] + 2 * pad[a])
            cnt_inc *= end - start
            sl.append(slice(max(start - pad[a], 0), min(end - pad[a], xsp[a])))
        yield r, tuple(sl), cnt_inc


def ref_pool(x, ws, st, pad, ib, mode):
    n = len(ws)
    lead, xsp = x.shape[:-n], x.shape[-n:]
    outs = [out_len(h, w, s, p, ib) for h, w, s, p in zip(xsp, ws, st, pad)]
    y = np.zeros(lead + tuple(outs), x.dtype)
    for r, sl, cnt in windows(xsp, ws, st, pad, ib, mode == "average_inc_pad"):
        win = x[(Ellipsis,) + sl].reshape(lead + (-1,))
        if mode == "max":
            v = win.max(-1)
        elif mode == "sum":
            v = win.sum(-1)
        elif mode == "average_inc_pad":
            v = win.sum(-1) / cnt
        else:
            v = win.sum(-1) / win.shape[-1]
        y[(Ellipsis,) + r] = v
    return y


def ref_pool_grad(x, gz, ws, st, pad, ib, mode):
    """Theano's MaxPoolGrad (every position equal to the window max gets gz) / AveragePoolGrad."""
    n = len(ws)
    xsp = x.shape[-n:]
    gx = np.zeros_like(x)
    y = ref_pool(x, ws, st, pad, ib, "max")
    for r, sl, cnt in windows(xsp, ws, st, pad, ib, mode == "average_inc_pad"):
        g = gz[(Ellipsis,) + r]
        region = (Ellipsis,) + sl
        size = int(np.prod([s.stop - s.start for s in sl]))
        exp = (Ellipsis,) + (None,) * n
        if mode == "max":
            gx[region] += (x[region] == y[(Ellipsis,) + r][exp]) * g[exp]
        elif mode == "sum":
            gx[region] += g[exp]
        else:
            gx[region] += g[exp] / (cnt if mode == "average_inc_pad" else size)
    return gx


MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]
GEOMS = [((2, 2), True, None, (0, 0)), ((2, 2), False, None, (0, 0)), ((3, 2), True, (1, 2), (1, 1)),
         ((3, 3), False, (1, 1), (0, 0)), ((2, 3), False, (3, 3), (0, 0)), ((3, 3), True, (2, 2), (2, 1))]


@pytest.fixture(scope="module")
def pooled_2d():
    """One function: every mode x geometry, value and gradient of sum(y * gy)."""
    x = T.tensor4("x", dtype="float64")
    outs, specs, gys = [], [], []
    for mode, (ws, ib, st, pad) in itertools.product(MODES, GEOMS):
        y = pool.pool_2d(x, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
        gy = T.tensor4(dtype="float64")
        outs += [y, tvmsym.grad((y * gy).sum(), x)]
        specs.append((mode, ws, ib, st or ws, pad))
        gys.append(gy)
    return tvmsym.function([x] + gys, outs), specs


def test_pool_2d_all_modes_and_gradients(pooled_2d):
    f, specs = pooled_2d
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 3, 7, 9))
    xv[0, 0, 1, 1] = xv[0, 0, 1, 2] = xv[0, 0, 0, 0] = 5.0          # ties inside a window
    refs, gyvs = [], []
    for mode, ws, ib, st, pad in specs:
        ry = ref_pool(xv, ws, st, pad, ib, mode)
        gy = rng.standard_normal(ry.shape)
        refs.append((ry, ref_pool_grad(xv, gy, ws, st, pad, ib, mode)))
        gyvs.append(gy)
    got = f(xv, *gyvs)
    for k, (spec, (ry, rg)) in enumerate(zip(specs, refs)):
        assert got[2 * k].shape == ry.shape, spec
        np.testing.assert_allclose(got[2 * k], ry, rtol=1e-12, atol=1e-12, err_msg=str(spec))
        np.testing.assert_allclose(got[2 * k + 1], rg, rtol=1e-12, atol=1e-12, err_msg=f"grad {spec}")


def test_pool_float32_leading_dims_3d_and_same_size():
    x3 = T.tensor3("x3")
    x5 = T.tensor5("x5")
    x4 = T.tensor4("x4")
    rng = np.random.default_rng(1)
    a3 = rng.standard_normal((5, 6, 7)).astype("float32")
    a5 = rng.standard_normal((2, 3, 5, 6, 7)).astype("float32")
    a4 = np.array([[[[1, 1, 0, 3], [0, 1, 2, 2], [4, 0, 0, 0], [0, 0, 0, 1]]]], "float32")
    f = tvmsym.function([x3, x5, x4], [
        pool.pool_2d(x3, (2, 3), ignore_border=True),
        pool.pool_3d(x5, (2, 2, 3), ignore_border=False, mode="average_exc_pad"),
        pool.pool_3d(x5, (3, 2, 2), ignore_border=True, stride=(1, 2, 2), pad=(1, 1, 0), mode="max"),
        pool.max_pool_2d_same_size(x4, (2, 2))])
    y1, y2, y3, y4 = f(a3, a5, a4)
    np.testing.assert_allclose(y1, ref_pool(a3, (2, 3), (2, 3), (0, 0), True, "max"), rtol=1e-6)
    np.testing.assert_allclose(y2, ref_pool(a5, (2, 2, 3), (2, 2, 3), (0, 0, 0), False, "average_exc_pad"),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y3, ref_pool(a5, (3, 2, 2), (1, 2, 2), (1, 1, 0), True, "max"), rtol=1e-6)
    # every tied maximum of a patch is kept (Theano's MaxPoolGrad(x, out, out))
    want = np.array([[[[1, 1, 0, 3], [0, 1, 0, 0], [4, 0, 0, 0], [0, 0, 0, 1]]]], "float32")
    np.testing.assert_array_equal(y4, want)
    assert y4.dtype == np.float32


def test_verify_grad_pool_every_mode():
    R = np.random.default_rng(3)

    def p(mode, ws=(2, 2), ib=True, st=None, pad=(0, 0)):
        return lambda a: pool.pool_2d(a, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
    # distinct values (finite differences do not move a max across a tie)
    x = lambda *s: R.permutation(np.prod(s)).reshape(s) / 7.0 + R.uniform(0, 0.01, s)  # noqa: E731
    cases = [(p(m, ws, ib, st, pad), [x(2, 2, 5, 6)])
             for m in MODES for ws, ib, st, pad in [((2, 2), True, None, (0, 0)),
                                                    ((3, 2), False, (2, 1), (0, 0)),
                                                    ((3, 3), True, (2, 2), (1, 1))]]
    cases.append((lambda a: pool.pool_3d(a, (2, 2, 2), ignore_border=False, mode="average_inc_pad"),
                  [x(1, 2, 3, 3, 5)]))
    # the gradient ops themselves (second derivatives)
    from tvmsym.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, Pool
    xm = x(1, 2, 4, 6)
    cases.append((lambda g: MaxPoolGrad((2, 2), True)(T.constant(xm), Pool((2, 2), True)(T.constant(xm)), g),
                  [R.standard_normal((1, 2, 2, 3))]))
    cases.append((lambda g: AveragePoolGrad((2, 3), False, mode="average_exc_pad")(T.constant(xm), g),
                  [R.standard_normal((1, 2, 2, 2))]))
    for k, res in enumerate(check_grads(cases, n_tests=2, rng=np.random.default_rng(0))):
        assert res["error"] is None, f"case {k}: {res['error']}"


def test_printing_warning_and_errors():
    x = T.tensor4("x")
    y = pool.pool_2d(x, (2, 2), ignore_border=True)
    assert str(y.owner.op) == "Pool{ignore_border=True, mode='max', ndim=2}"
    f = tvmsym.function([x], tvmsym.grad(y.sum(), x))
    text = debugprint(f, file="str")
    assert "MaxPoolGrad{ignore_border=True, mode='max', ndim=2}" in text
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        z = pool.pool_2d(x, (2, 2))
    assert any("ignore_border" in str(m.message) for m in w)
    assert z.owner.op.ignore_border is False
    with pytest.raises(NotImplementedError, match="padding works only with ignore_border=True"):
        pool.pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1))
    with pytest.raises(NotImplementedError, match="smaller than ws"):
        pool.pool_2d(x, (2, 2), ignore_border=True, pad=(2, 0))
    with pytest.raises(ValueError, match="negative padding"):
        pool.pool_2d(x, (2, 2), ignore_border=True, pad=(-1, 0))
    with pytest.raises(ValueError, match="mode must be one of"):
        pool.pool_2d(x, (2, 2), ignore_border=True, mode="median")
    with pytest.raises(NotImplementedError, match="dimension >= 2"):
        pool.pool_2d(T.vector(), (2, 2), ignore_border=True)
    with pytest.raises(TypeError, match="needs a float input"):
        pool.pool_2d(T.imatrix(), (2, 2), ignore_border=True, mode="average_exc_pad")


@pytest.mark.parametrize("shape,ib", [((3, 4, 24, 24), True), ((2, 3, 7, 9), True), ((2, 3, 7, 9), False)])
def test_max_pool_grad_non_overlapping_selects_exactly(shape, ib):
    """2x2 windows (LeNet's): the gradient goes to every tied max and nowhere else, and a
    non-max position gets +0 even when its window's gradient is inf or nan (a select, as
    Theano's MaxPoolGrad, not mask * gradient)."""
    x = T.tensor4("x", dtype="float32")
    gy = T.tensor4("gy", dtype="float32")
    y = pool.pool_2d(x, (2, 2), ignore_border=ib)
    f = tvmsym.function([x, gy], tvmsym.grad((y * gy).sum(), x))
    rng = np.random.default_rng(7)
    xv = rng.integers(-3, 4, size=shape).astype("float32")        # many ties
    ry = ref_pool(xv, (2, 2), (2, 2), (0, 0), ib, "max")
    gv = rng.standard_normal(ry.shape).astype("float32")
    gv[0, 0, 0, 0], gv[-1, -1, -1, -1], gv[0, 1, 1, 1] = np.inf, -np.inf, np.nan
    got = f(xv, gv)
    want = np.zeros_like(xv)
    for r in itertools.product(*[range(o) for o in ry.shape[2:]]):
        sl = (Ellipsis,) + tuple(slice(2 * a, min(2 * a + 2, h)) for a, h in zip(r, shape[2:]))
        m = ry[(Ellipsis,) + r][..., None, None]
        want[sl] += np.where(xv[sl] == m, gv[(Ellipsis,) + r][..., None, None], np.float32(0))
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[got == 0]).any()
