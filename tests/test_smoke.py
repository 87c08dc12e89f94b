import numpy as np

import tvmsym
import tvmsym.tensor as T


def test_seed_addition_compiles_and_runs():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], [x + y])
    out = f([[1, 2], [1, 3]], [[1, 0], [3, 4]])
    assert isinstance(out, list) and out[0].dtype == np.float32
    np.testing.assert_array_equal(out[0], [[2, 2], [4, 7]])
