"""Ctrl-C (issue 11): a KeyboardInterrupt during the first compile's TVM import, or inside
TVM's build (a Python callback called from C++), leaves later function() calls working,
and surfaces as KeyboardInterrupt (not RuntimeError('') that ``except Exception`` swallows).

The interrupt is a SIGALRM handler raising KeyboardInterrupt, as Ctrl-C's SIGINT handler
does, at a sweep of delays; each case runs in a child process."""
import os
import subprocess
import sys
import textwrap

import pytest

_FIRST_IMPORT = textwrap.dedent("""
    import signal, sys, time, numpy as np
    import tvmsym, tvmsym.tensor as T
    assert "tvm" not in sys.modules
    x = T.vector()
    def boom(*a): raise KeyboardInterrupt
    signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, float(sys.argv[1]))
    try:
        f = tvmsym.function([x], T.tanh(x) * 2 + 1)
        f(np.ones(5, "float32"))
        what = "finished"
    except KeyboardInterrupt:
        what = "interrupted"
    signal.setitimer(signal.ITIMER_REAL, 0)
    for k in range(2):          # every later compile works
        f = tvmsym.function([x], T.tanh(x) * 2 + 1)
        np.testing.assert_allclose(f(np.ones(5, "float32")), np.tanh(1) * 2 + 1, rtol=1e-6)
        g = tvmsym.function([x], x.sum() + T.exp(x).max())
        np.testing.assert_allclose(g(np.ones(5, "float32")), 5 + np.e, rtol=1e-6)
    print("RESULT", what)
""")


def _child(code, *args, timeout=300):
    env = dict(os.environ)
    env["TVMSYM_FLAGS"] = "cache=False"
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env=env, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.split("RESULT", 1)[1].strip()


@pytest.mark.parametrize("delay", [0.02, 0.15, 0.4, 0.8])
def test_interrupt_during_first_tvm_import_leaves_later_compiles_working(delay):
    what = _child(_FIRST_IMPORT, str(delay))
    assert what in ("interrupted", "finished")


def test_some_first_import_interrupt_hits_the_import():
    """At least the early delays really interrupt (the sweep is not vacuous)."""
    assert _child(_FIRST_IMPORT, "0.02") == "interrupted"


_DURING_BUILD = textwrap.dedent("""
    import signal, sys, numpy as np
    import tvmsym, tvmsym.tensor as T
    x = T.vector()
    tvmsym.function([x], x + 1)(np.ones(3, "float32"))      # TVM loaded
    def boom(*a): raise KeyboardInterrupt
    signal.signal(signal.SIGALRM, boom)
    counts = {}
    for i in range(int(sys.argv[1])):
        signal.setitimer(signal.ITIMER_REAL, 0.002 + 0.004 * i)
        try:
            f = tvmsym.function([x], T.tanh(x * (i + 2)) * T.erf(x) + T.exp(x) / (i + 3))
            f(np.ones(37, "float32"))
            k = "finished"
        except KeyboardInterrupt:
            k = "KeyboardInterrupt"
        except BaseException as e:
            k = f"{type(e).__name__}({str(e)[:40]!r})"
        signal.setitimer(signal.ITIMER_REAL, 0)
        counts[k] = counts.get(k, 0) + 1
    f = tvmsym.function([x], T.tanh(x) * 2)
    np.testing.assert_allclose(f(np.ones(5, "float32")), np.tanh(1) * 2, rtol=1e-6)
    print("RESULT", counts)
""")


def test_interrupt_inside_the_build_is_a_keyboard_interrupt():
    counts = eval(_child(_DURING_BUILD, "30", timeout=600))       # noqa: S307 (our own output)
    assert set(counts) <= {"KeyboardInterrupt", "finished"}, counts
    assert counts.get("KeyboardInterrupt", 0) >= 5, counts
