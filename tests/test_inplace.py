"""Inplace: dead intermediates are overwritten for real; user inputs and shared values never."""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.printing import debugprint

x, y = T.matrix("x"), T.matrix("y")
NOFUSE = tvmsym.Mode().excluding("fusion")


@pytest.fixture(scope="module")
def chain():
    # add -> tanh[(0, 0)] -> mul[(0, 0)]: two kernels write into the add's buffer
    return tvmsym.function([x, y], T.tanh(x + y) * x, mode=NOFUSE)


def test_compiled_graph_shows_destroy_pattern(chain):
    assert debugprint(chain, file="str") == (
        "Elemwise{Mul}[(0, 0)] [id A] ''   2\n"
        " |Elemwise{Tanh}[(0, 0)] [id B] ''   1\n"
        " | |Elemwise{add,no_inplace} [id C] ''   0\n"
        " |   |x [id D]\n"
        " |   |y [id E]\n"
        " |x [id D]\n")


def test_kernels_really_write_into_the_dead_buffer(chain):
    a = np.random.rand(300, 301).astype("float32")
    b = np.random.rand(300, 301).astype("float32")
    out = chain(a, b)
    np.testing.assert_allclose(out, np.tanh(a + b) * a, rtol=1e-6)
    build = chain._last
    fg = chain.maker.fgraph
    add, tanh, mul = fg.toposort()
    add_slot = build.slot[add.outputs[0]]
    # the tanh and mul kernels take the add's slot as their output argument ...
    a0, a1, a2 = build._fast_slots
    (_, _, allocs1), (_, _, allocs2) = build._fast[1:]
    assert a1 == (add_slot, add_slot) and a2 == (add_slot, 0, add_slot)
    assert allocs1 == allocs2 == ()
    # ... so the array returned is the very buffer the add kernel filled
    assert np.shares_memory(out, build.pooled(add_slot))


def test_user_inputs_are_never_overwritten(chain):
    a = np.random.rand(64, 64).astype("float32")
    b = np.random.rand(64, 64).astype("float32")
    a0, b0 = a.copy(), b.copy()
    for _ in range(3):
        out = chain(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    assert not np.shares_memory(out, a) and not np.shares_memory(out, b)


def test_output_kept_by_the_user_is_not_reused(chain):
    a = np.random.rand(64, 64).astype("float32")
    b = np.random.rand(64, 64).astype("float32")
    first = chain(a, b)
    keep = first.copy()
    second = chain(b, a)
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, keep)
    del first
    third = chain(a, b)              # the first result's buffer may be reused now
    np.testing.assert_allclose(third, keep, rtol=1e-6)
    np.testing.assert_allclose(second, np.tanh(a + b) * b, rtol=1e-6)


def test_live_intermediate_is_not_destroyed():
    t = x + y
    f = tvmsym.function([x, y], [T.exp(t), t * 2], mode=NOFUSE)
    assert all("[(" not in str(n.op) for n in f.maker.fgraph.toposort())
    a = np.random.rand(8, 8).astype("float32")
    b = np.random.rand(8, 8).astype("float32")
    e, d = f(a, b)
    np.testing.assert_allclose(e, np.exp(a + b), rtol=1e-6)
    np.testing.assert_allclose(d, (a + b) * 2, rtol=1e-6)


def test_shared_value_is_not_overwritten():
    shared = getattr(tvmsym, "shared", None)
    if shared is None:
        pytest.skip("tvmsym.shared is not available yet")
    w = shared(np.ones((4, 4), "float32"), name="w")
    f = tvmsym.function([x], T.tanh(w + x) * w, mode=NOFUSE)
    before = w.get_value().copy()
    a = np.random.rand(4, 4).astype("float32")
    out = f(a)
    np.testing.assert_allclose(out, np.tanh(before + a) * before, rtol=1e-6)
    np.testing.assert_array_equal(w.get_value(), before)


def test_merged_outputs_are_distinct_arrays():
    v = T.vector("v")
    f = tvmsym.function([v], [v + 1, v + 1, v])       # merge makes the first two one node
    a = np.ones(5, "float32")
    r0, r1, r2 = f(a)
    assert not np.shares_memory(r0, r1) and not np.shares_memory(r2, a)
    r0[0] = 7
    np.testing.assert_array_equal(r1, np.full(5, 2, "float32"))
