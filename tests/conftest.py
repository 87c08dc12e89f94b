"""Session set-up for the whole suite: nothing outside a session temporary directory is touched.

* ``compiledir`` (the kernel cache, pydotprint pictures) points at a fresh directory of this
  session, through ``TVMSYM_FLAGS`` so child processes the tests start (the cache tests, MPI
  workers) inherit it; a test that sets its own ``compiledir=`` (later in the string) still wins;
* hypothesis keeps its example database there too (not ``.hypothesis/`` in the checkout).

The directory is removed at the end of the session.
"""
import os
import shutil
import tempfile

_SESSION_DIR = tempfile.mkdtemp(prefix="tvmsym-tests-")
COMPILEDIR = os.path.join(_SESSION_DIR, "compiledir")

# before any test module imports tvmsym (its config reads TVMSYM_FLAGS once, at import)
_flags = os.environ.get("TVMSYM_FLAGS", "")
os.environ["TVMSYM_FLAGS"] = ",".join(f for f in (_flags, f"compiledir={COMPILEDIR}") if f)


def _configure_hypothesis():
    try:
        from hypothesis import settings
        from hypothesis.database import DirectoryBasedExampleDatabase
    except ImportError:         # hypothesis is a test extra; tests that need it import it
        return
    db = DirectoryBasedExampleDatabase(os.path.join(_SESSION_DIR, "hypothesis"))
    settings.register_profile("tvmsym", database=db)
    settings.load_profile("tvmsym")


_configure_hypothesis()


def pytest_configure(config):
    import tvmsym
    # in case a plugin imported tvmsym before this file ran
    tvmsym.config.compiledir = COMPILEDIR


def pytest_unconfigure(config):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
