"""Kernel libraries of discarded functions are unloaded (issue 11): a process that compiles
many graphs does not run into the kernel's map limit.  Each case runs in a child process
(its /proc/self/maps is the measurement), with the on-disk cache on in a fresh directory:
the libraries come from it (built and stored, or found there)."""
import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import gc, os, sys
    import numpy as np
    import tvmsym, tvmsym.tensor as T

    KERNELS = os.path.join(tvmsym.config.compiledir, "kernels")

    def mapped():
        return {l.split()[-1] for l in open("/proc/self/maps")
                if l.rstrip().endswith(".so") and l.split()[-1].startswith(KERNELS)}

    x = T.fvector("x")
    one = np.arange(5, dtype="float32")
    live = tvmsym.function([x], T.exp(x) * 3 + 1)
    assert np.allclose(live(one), np.exp(one) * 3 + 1)
    twin = tvmsym.function([x], x * 0.5 - 2)          # shares its library with `keep` below
    twin(one)
    gc.collect()
    base = mapped()
    assert len(base) == 2, base
    fs = []
    for i in range(20):
        f = tvmsym.function([x], (x + i) * (i + 1.5))   # 20 distinct graphs, 20 libraries
        np.testing.assert_allclose(f(one), (one + i) * (i + 1.5), rtol=1e-6)
        fs.append(f)
    keep = tvmsym.function([x], x * 0.5 - 2)           # the same kernel as `twin`
    keep(one)
    peak = len(mapped())                               # while they are alive: all mapped
    del f, fs, twin
    gc.collect()
    after = mapped()
    print(len(base), peak, len(after))
    assert after == base, (sorted(after - base), sorted(base - after))
    # the live function and the one sharing the discarded function's library still run
    assert np.allclose(live(one), np.exp(one) * 3 + 1)
    np.testing.assert_array_equal(keep(one), one * 0.5 - 2)
    np.testing.assert_array_equal(keep(one[:3]), one[:3] * 0.5 - 2)   # a new build
    print("ok")
""")


@pytest.mark.parametrize("warm", [False, True], ids=["built", "from-cache"])
def test_discarded_functions_unload_their_libraries(tmp_path, warm):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}")
    runs = 2 if warm else 1           # the second process finds every library in the cache
    for _ in range(runs):
        p = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stdout.strip().endswith("ok"), p.stdout
    base, peak, after = (int(v) for v in p.stdout.split()[:3])
    assert peak == base + 20 and after == base
