"""rewrites/tensordot.py: a TensorDot whose summed axes lead or trail becomes a 2-d Dot of
reshaped operands (same results as numpy.tensordot); other TensorDots stay."""
import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.symbolic.ops.linalg import TensorDot

CASES = [((7, 3, 4), (4, 5), [[2], [0]]), ((7, 3, 4), (7, 3, 5), [[0, 1], [0, 1]]),
         ((7, 3, 5), (4, 5), [[2], [1]]), ((7, 3, 4), (7, 2, 5), [[0], [0]]),
         ((1, 1, 4), (4, 1), [[2], [0]]), ((2, 3, 4), (3, 4), [[1, 2], [0, 1]])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sa,sb,axes", CASES)
def test_tensordot_becomes_dot_with_numpys_result(sa, sb, axes, dtype):
    a = T.TensorType(dtype, (False,) * len(sa))("a")
    b = T.TensorType(dtype, (False,) * len(sb))("b")
    f = theano.function([a, b], T.tensordot(a, b, axes))
    assert not any(isinstance(n.op, TensorDot) for n in f.maker.fgraph.toposort())
    rng = np.random.default_rng(len(sa) + len(sb))
    av, bv = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    np.testing.assert_allclose(f(av, bv), np.tensordot(av, bv, axes),
                               rtol=1e-5 if dtype == "float32" else 1e-12)


def test_a_middle_axis_keeps_tensordot():
    a, b = T.tensor3("a"), T.matrix("b")
    f = theano.function([a, b], T.tensordot(a, b, [[1], [0]]))
    assert any(isinstance(n.op, TensorDot) for n in f.maker.fgraph.toposort())
    av = np.arange(24, dtype=theano.config.floatX).reshape(2, 3, 4)
    bv = np.ones((3, 2), theano.config.floatX)
    np.testing.assert_allclose(f(av, bv), np.tensordot(av, bv, [[1], [0]]))
