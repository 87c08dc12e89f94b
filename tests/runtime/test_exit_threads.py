"""A daemon thread calling compiled functions while the interpreter exits (issue 11): the
process exits with status 0, never SIGABRT ("terminate called without an active exception");
calls from other threads after exit has begun raise a RuntimeError that says why."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

_DAEMONS = textwrap.dedent("""
    import atexit, threading, time
    import numpy as np
    import tvmsym, tvmsym.tensor as T
    x = T.matrix()
    f = tvmsym.function([x], T.dot(x, x).sum() + T.exp(x).sum())       # parallel kernels
    w = tvmsym.shared(np.zeros((200, 200), "float32"))
    g = tvmsym.function([x], [], updates=[(w, w + T.tanh(x))])          # locked (updates)
    a = np.ones((200, 200), "float32")
    f(a), g(a)

    def loop(fn):
        while True:
            fn(a)
    for fn in (f, g, f, g):
        threading.Thread(target=loop, args=(fn,), daemon=True).start()
    # an exit hook of the user's, registered after tvmsym: the main thread may still call
    atexit.register(lambda: print("MAIN AT EXIT", float(f(np.zeros((2, 2), "float32"))), flush=True))
    time.sleep(0.3)
    print("LEAVING", flush=True)
""")


@pytest.mark.parametrize("run", range(3))
def test_daemon_threads_calling_at_exit_do_not_abort(run, tmp_path):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={tmp_path}")
    r = subprocess.run([sys.executable, "-c", _DAEMONS], capture_output=True, text=True,
                       env=env, timeout=300)
    assert "terminate called" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 0, (r.returncode, r.stderr[-3000:])
    assert "LEAVING" in r.stdout and "MAIN AT EXIT 4.0" in r.stdout, r.stdout
    # the daemon threads stopped with the clear error (if they reached a call after exit began)
    # (several daemon threads print their tracebacks at once: lines may interleave, so the
    # message is looked for in the whole stderr, and no other exception type may appear)
    if "RuntimeError" in r.stderr:
        assert "while the interpreter is exiting" in r.stderr, r.stderr[-3000:]
    # (interleaving can cut a message after its type: "RuntimeError:     fn(a)", so the types
    # are compared, the message is checked above)
    kinds = set(re.findall(r"^(\w*(?:Error|Exception)):", r.stderr, re.M))
    assert kinds <= {"RuntimeError"}, r.stderr[-3000:]
