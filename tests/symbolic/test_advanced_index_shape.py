"""AdvancedSubtensor's shape inference (``_advanced_index_shape``) is numpy's indexing result
shape, computed without gathering: slices, index arrays (adjacent or separated, 0-d,
empty, broadcast), empty axes and their IndexErrors; a probe-sized shape costs nothing."""
import time

import numpy as np
import pytest

from tvmsym.symbolic.ops.subtensor import _advanced_index_shape


def _numpy_shape(xs, idx):
    dummy = np.lib.stride_tricks.as_strided(np.zeros(1, "int8"), shape=xs, strides=(0,) * len(xs))
    try:
        return dummy[tuple(idx)].shape
    except IndexError:
        return IndexError


def _ours(xs, idx):
    try:
        return _advanced_index_shape(xs, idx)
    except IndexError:
        return IndexError


def test_matches_numpy_on_random_indices():
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(4000):
        xs = tuple(int(v) for v in rng.integers(0, 5, rng.integers(1, 5)))
        idx = []
        for _ in range(rng.integers(1, len(xs) + 2)):
            if rng.random() < 0.5:
                parts = [None if rng.random() < 0.3 else int(rng.integers(-6, 7)) for _ in range(3)]
                idx.append(slice(*parts[:2], parts[2] or None))
            else:
                shape = tuple(int(v) for v in rng.integers(0, 3, rng.integers(0, 3)))
                idx.append(np.zeros(shape, "int64"))
        want = _numpy_shape(xs, idx)
        assert _ours(xs, idx) == want, (xs, idx)
        kinds.add(want is IndexError)
    assert kinds == {True, False}       # both outcomes were exercised


@pytest.mark.parametrize("xs,idx,want", [
    ((5, 6, 7), [slice(None), np.zeros((2, 3), "int64")], (5, 2, 3, 7)),
    ((5, 6, 7), [np.zeros(4, "int64"), slice(1, None), np.zeros(4, "int64")], (4, 5)),
    ((5, 6, 7), [slice(None, None, -2), np.zeros((4, 1), "int64"), np.zeros(3, "int64")], (3, 4, 3)),
    ((0, 3), [np.zeros(2, "int64")], IndexError),             # an index into an empty axis
    ((0, 3), [np.zeros(0, "int64")], (0, 3)),                 # no index: nothing to check
    ((4, 3), [np.zeros(2, "int64"), np.zeros(3, "int64")], IndexError),    # no broadcast
    ((4,), [slice(None), np.zeros(1, "int64")], IndexError),  # too many indices
])
def test_cases(xs, idx, want):
    assert _numpy_shape(xs, idx) == want
    assert _ours(xs, idx) == want


def test_probe_sized_shape_is_not_gathered():
    # the symbolic-shape probes' sizes: an indexed dummy would gather 3 * 10007 * 20011 bytes
    t = time.process_time()
    assert _advanced_index_shape((10007, 20011, 5), [np.zeros((10007, 1), "int64"), slice(None),
                                                     np.zeros((1, 3), "int64")]) == (10007, 3, 20011)
    assert time.process_time() - t < 0.5
