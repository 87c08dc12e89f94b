"""Pickling compiled functions: before and after calls (built kernels are not pickled;
the loaded function builds again). Runs in a subprocess: a regression here was a segfault
inside TVM's serializer."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import pickle
    import numpy as np
    import tvmsym as theano
    import tvmsym.tensor as T

    x = T.fmatrix('x')
    w = theano.shared(np.ones((2, 3), 'float32'), name='w')
    f = theano.function([x], T.tanh(T.dot(x, w)) * 2, updates=[(w, w + 1)])
    a = np.arange(8, dtype='float32').reshape(4, 2) / 8
    f(a)                                  # built and called: kernels exist now
    g = pickle.loads(pickle.dumps(f))
    ref = np.tanh(a @ (np.ones((2, 3), 'float32') + 1)) * 2
    np.testing.assert_allclose(g(a), ref, rtol=1e-6)
    np.testing.assert_allclose(f(a), ref, rtol=1e-6)
    # the loaded function has its own copy of the shared state, advanced by its own update
    assert np.array_equal(w.get_value(),
                          np.full((2, 3), 3, 'float32'))
    h = pickle.loads(pickle.dumps(g))      # a loaded function pickles again
    np.testing.assert_allclose(h(a), np.tanh(a @ np.full((2, 3), 3, 'float32')) * 2, rtol=1e-6)
    print("ok")
""")


def test_pickle_after_call_roundtrip():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok"
