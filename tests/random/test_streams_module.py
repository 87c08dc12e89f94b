"""tensor/shared_randomstreams.py is Theano's import path only: the streams live in the
runtime (they own shared states), the state values in symbolic/ (issue 10)."""
import ast
import pickle

import numpy as np

import tvmsym
import tvmsym.tensor.shared_randomstreams as srs
from tvmsym.runtime import random_streams
from tvmsym.symbolic import random_state


def test_theano_path_is_a_thin_reexport():
    tree = ast.parse(open(srs.__file__).read())
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defs == []
    assert srs.RandomStreams is random_streams.RandomStreams
    assert srs.RandomStateSharedVariable is random_streams.RandomStateSharedVariable
    assert srs.RNGState is random_state.RNGState
    assert set(srs.__all__) == {"RandomStreams", "RandomStateSharedVariable", "RNGState"}


def test_states_pickle_and_draw_through_either_path():
    s = srs.RandomStreams(7)
    u = s.uniform((3,))
    f = tvmsym.function([], u)
    a = f()
    st = pickle.loads(pickle.dumps(u.rng.get_value()))
    assert isinstance(st, np.ndarray) and st.shape == (random_state.STATE_LEN,)
    b = f()
    assert a.shape == (3,) and not np.array_equal(a, b)
    # the same numbers as numpy's RandomState seeded as Theano seeds the first variable
    seed = np.random.RandomState(7).randint(2 ** 30)
    np.testing.assert_allclose(a, np.random.RandomState(seed).uniform(0.0, 1.0, (3,)).astype(a.dtype))
