"""The executor: typed step records, one LRU of builds, errors that name the node and the
user's line that built it (Theano's raise_with_op), on the fast path and the general loop."""
import inspect

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.compile.ops import as_op
from tvmsym.runtime.steps import LRU, Kind, StepRecord


def _line_of(marker):
    src, start = inspect.getsourcelines(inspect.currentframe().f_back)
    for k, line in enumerate(src):
        if marker in line:
            return start + k
    raise AssertionError(marker)


@as_op(itypes=[T.dvector], otypes=[T.dvector])
def _fails_on_negative(a):
    if (a < 0).any():
        raise ValueError("negative input")
    return a * 2


def test_a_failing_host_step_names_its_node_and_line():
    x = T.dvector("x")
    y = _fails_on_negative(x) + 1          # MARK-host
    f = tvmsym.function([x], y)
    np.testing.assert_array_equal(f(np.ones(3)), [3, 3, 3])
    with pytest.raises(ValueError, match="negative input") as e:
        f(-np.ones(3))
    notes = "\n".join(getattr(e.value, "__notes__", []))
    assert "FromFunctionOp{_fails_on_negative}(x)" in notes
    assert f"{__file__}:{_line_of('MARK-host')}" in notes


def test_a_failing_kernel_check_names_its_node_and_line():
    m, i = T.dmatrix("m"), T.iscalar("i")
    row = m[i]                             # MARK-index
    f = tvmsym.function([m, i], row * 2)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 2") as e:
        f(np.ones((2, 2)), 5)
    notes = "\n".join(getattr(e.value, "__notes__", []))
    assert "Subtensor" in notes and f"{__file__}:{_line_of('MARK-index')}" in notes


def test_steps_are_typed_records():
    x = T.dvector("x")
    f = tvmsym.function([x], [T.exp(x).sum(), T.sort(x)])
    f(np.arange(4.0))
    steps = f._last.steps
    assert steps and all(isinstance(s, StepRecord) and isinstance(s.kind, Kind) for s in steps)
    kinds = {s.kind for s in steps}
    assert Kind.KERNEL in kinds and Kind.HOST in kinds       # sort runs through numpy
    assert not any(s.on_device for s in steps)
    for s in steps:
        assert all(isinstance(slot, int) for slot in s.ins)
        assert all(len(o) == 3 for o in s.outs)


def test_builds_are_kept_in_one_lru():
    cache = LRU(3)
    for k in range(5):
        cache[k] = k
    assert list(cache) == [2, 3, 4]
    cache[2] = "again"                      # storing again makes it the newest
    cache[5] = 5
    assert list(cache) == [4, 2, 5]
    x = T.dvector("x")
    f = tvmsym.function([x], x * 2)
    assert isinstance(f._builds, LRU) and f._builds.maxsize == 64
    for cache in (f._builds, f._kernels, f._fast_calls):
        cache.maxsize = 4
    for n in range(1, 7):
        np.testing.assert_array_equal(f(np.ones(n)), np.full(n, 2.0))
    assert list(f._builds) == [((n,),) for n in range(3, 7)]
    assert len(f._kernels) == 4 and len(f._fast_calls) == 4
