"""The kernel cache executes only code tvmsym built (issue 11).

Every case runs a child process on a compiledir under tmp_path: permissions regardless of
umask, foreign-owned or group/world-writable directories refused (a planted library's
constructor never runs), another graph's library copied under a key rejected, a truncated
library with a matching hash refused before dlopen, empty compiledir an error, an
unwritable or full cache warned once while kernels keep working, and the command line's
one-line errors.
"""
import glob
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent("""
    import json, os, sys, warnings
    umask = os.environ.get("CHILD_UMASK")
    if umask: os.umask(int(umask, 8))
    fsize = os.environ.get("CHILD_FSIZE")
    if fsize:
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))
    warnings.simplefilter("default")
    import numpy as np
    import tvmsym, tvmsym.tensor as T
    from tvmsym import _tvm
    x = T.vector("x")
    scale = float(os.environ.get("CHILD_SCALE", "3"))
    xv = np.arange(100, dtype="float32")
    f = tvmsym.function([x], x * scale + 1)
    np.testing.assert_array_equal(f(xv), xv * np.float32(scale) + 1)
    g = tvmsym.function([x], T.exp(x) * scale)       # a second kernel, a second entry
    np.testing.assert_allclose(g(xv[:10]), np.exp(xv[:10]) * scale, rtol=1e-6)
    print("RESULT", json.dumps(_tvm.cache_stats))
""")


def run_child(compiledir, **env_extra):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}")
    env.pop("TVM_NUM_THREADS", None)
    env.update({k: str(v) for k, v in env_extra.items()})
    r = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    import json
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):]), r.stderr


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache written by a child running under umask 000."""
    d = tmp_path_factory.mktemp("sec") / "compiledir"
    stats, err = run_child(d, CHILD_UMASK="000")
    return d, stats, err


def test_directories_0700_files_0600_regardless_of_umask(filled):
    d, stats, err = filled
    assert stats["misses"] == 2 and stats["errors"] == 0, (stats, err)
    kdir = d / "kernels"
    assert _mode(d) == 0o700 and _mode(kdir) == 0o700
    files = os.listdir(kdir)
    assert len([f for f in files if f.endswith(".so")]) == 2
    for f in files:
        assert _mode(kdir / f) == 0o600, (f, oct(_mode(kdir / f)))
    stats, err = run_child(d)        # and a second process loads them
    assert stats["hits"] == 2 and stats["misses"] == 0 and stats["errors"] == 0


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


PLANT_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    const char *p = getenv("PLANT_MARKER");
    if (p) { FILE *f = fopen(p, "w"); if (f) { fputs("ran", f); fclose(f); } }
}
"""


def _plant_everywhere(kdir, tmp_path):
    """Replace every library in ``kdir`` by one whose constructor writes a marker file
    (keeping each entry's manifest)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the planted library")
    src = tmp_path / "plant.c"
    src.write_text(PLANT_C)
    so = tmp_path / "plant.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    for lib in glob.glob(str(kdir / "*.so")):
        shutil.copyfile(so, lib)
        os.chmod(lib, 0o600)


@pytest.mark.parametrize("how", ["world-writable", "group-writable", "foreign-owned"])
def test_untrusted_directory_is_refused_and_nothing_is_loaded(filled, tmp_path, how):
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    kdir = c / "kernels"
    _plant_everywhere(kdir, tmp_path)
    if how == "world-writable":
        os.chmod(kdir, 0o777)
    elif how == "group-writable":
        os.chmod(kdir, 0o770)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a directory's owner needs root")
        os.chown(kdir, 65534, 65534)
    marker = tmp_path / "marker"
    stats, err = run_child(c, PLANT_MARKER=marker)
    assert not marker.exists(), "a planted library's constructor ran"
    assert stats["hits"] == 0 and stats["misses"] == 0      # the cache was not used at all
    assert err.count("tvmsym kernel cache:") == 1, err       # one warning
    assert ("writable by group or others" in err) if how != "foreign-owned" else ("owned by uid 65534" in err)


def test_foreign_owned_library_is_not_loaded(filled, tmp_path):
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    kdir = c / "kernels"
    _plant_everywhere(kdir, tmp_path)
    for lib in glob.glob(str(kdir / "*.so")):
        os.chown(lib, 65534, 65534)
    marker = tmp_path / "marker"
    stats, _ = run_child(c, PLANT_MARKER=marker)
    assert not marker.exists()
    assert stats["hits"] == 0 and stats["errors"] == 2 and stats["misses"] == 2


def test_planted_library_with_a_copied_manifest_is_not_loaded(filled, tmp_path):
    """Same owner and modes, manifest intact: the content hash differs, dlopen never runs."""
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    _plant_everywhere(c / "kernels", tmp_path)
    marker = tmp_path / "marker"
    stats, _ = run_child(c, PLANT_MARKER=marker)
    assert not marker.exists()
    assert stats["hits"] == 0 and stats["errors"] == 2 and stats["misses"] == 2


def test_another_graphs_library_under_a_key_is_rejected(filled, tmp_path):
    """Copy one entry (library and manifest) over the other: the manifest names another
    key, so the entry is rebuilt and the numbers are right (the child checks them)."""
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    kdir = c / "kernels"
    a, b = sorted(glob.glob(str(kdir / "*.so")))
    shutil.copyfile(a, b)
    shutil.copyfile(a + ".sha256", b + ".sha256")
    stats, _ = run_child(c)
    assert stats["hits"] == 1 and stats["errors"] == 1 and stats["misses"] == 1


def test_truncated_library_with_matching_hash_is_never_dlopened(filled, tmp_path):
    """Even with a manifest recomputed for the cut library (key, size, hash and MAC all
    match), the ELF check refuses it before dlopen: rebuilt, no crash."""
    from tvmsym import cache
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    kdir = str(c / "kernels")
    for lib in glob.glob(os.path.join(kdir, "*.so")):
        key = os.path.basename(lib)[:-3]
        with open(lib, "r+b") as fh:
            fh.truncate(os.path.getsize(lib) // 2)
        tmp = lib + ".cut.tmp.so"
        shutil.copyfile(lib, tmp)
        cache.store_entry(kdir, key, tmp)           # a valid manifest for the cut file
        assert cache.verify_entry(kdir, key) == (None, "library is not a complete ELF file")
    stats, _ = run_child(c)
    assert stats["hits"] == 0 and stats["errors"] == 2 and stats["misses"] == 2


def test_old_format_checksum_entries_are_rebuilt(filled, tmp_path):
    import hashlib
    d, _, _ = filled
    c = _copy(d, tmp_path / "c")
    for lib in glob.glob(str(c / "kernels" / "*.so")):
        with open(lib, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        with open(lib + ".sha256", "w") as fh:
            fh.write(digest)
    stats, _ = run_child(c)
    assert stats["hits"] == 0 and stats["errors"] == 2 and stats["misses"] == 2


def test_empty_compiledir_is_an_error(tmp_path):
    from tvmsym.config import config
    with pytest.raises(ValueError, match="compiledir"):
        config.compiledir = ""
    r = subprocess.run([sys.executable, "-c", "import tvmsym"], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, TVMSYM_FLAGS="compiledir="), timeout=120)
    assert r.returncode != 0 and "compiledir" in r.stderr
    assert not (tmp_path / "kernels").exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 48 KiB tmpfs (room for the directory and a library or two, then ENOSPC)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + r.stderr.strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_cache_warns_once_and_keeps_working(small_tmpfs):
    """Writes fail (no space left): one warning, every kernel still right (child checks)."""
    with open(small_tmpfs / "filler", "wb") as fh:        # leave a few KB
        try:
            fh.write(b"\0" * (40 << 10))
        except OSError:
            pass
    stats, err = run_child(small_tmpfs / "c")
    assert stats["errors"] >= 1 and stats["hits"] == 0, (stats, err)
    assert err.count("tvmsym kernel cache:") == 1, err
    assert "cannot store kernels" in err or "cannot create" in err


def test_unwritable_cache_warns_once_and_keeps_working(small_tmpfs):
    (small_tmpfs / "c" / "kernels").mkdir(parents=True)
    os.chmod(small_tmpfs / "c", 0o700)
    os.chmod(small_tmpfs / "c" / "kernels", 0o700)
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    stats, err = run_child(small_tmpfs / "c")
    assert stats["errors"] >= 1 and stats["hits"] == 0, (stats, err)
    assert err.count("tvmsym kernel cache:") == 1, err
    assert os.listdir(small_tmpfs / "c" / "kernels") == []


def test_unusable_secret_warns_once_and_keeps_working(tmp_path):
    """A cache whose per-cache secret is not a private 32-byte file stores nothing."""
    k = tmp_path / "c" / "kernels"
    k.mkdir(parents=True)
    os.chmod(tmp_path / "c", 0o700)
    os.chmod(k, 0o700)
    (k / ".secret").mkdir()
    stats, err = run_child(tmp_path / "c")
    assert stats["hits"] == 0 and stats["errors"] >= 1
    assert err.count("tvmsym kernel cache:") == 1 and "cannot store kernels" in err, err


def _cli(compiledir, *args, **kw):
    env = dict(os.environ, TVMSYM_FLAGS=f"compiledir={compiledir}")
    return subprocess.run([sys.executable, "-m", "tvmsym.cache", *args], capture_output=True,
                          text=True, env=env, timeout=60, **kw)


def _one_line_error(r, text):
    assert r.returncode not in (0, None), r
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], r.stderr


def test_cli_missing_nondirectory_and_read_only_cache(filled, tmp_path):
    _one_line_error(_cli(tmp_path / "none", "info"), "does not exist")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "kernels").write_text("not a directory")
    for cmd in ("info", "list", "clear"):
        _one_line_error(_cli(tmp_path / "f", cmd), "is not a directory")
    r = _cli(tmp_path / "x", "--compiledir", "", "info")
    _one_line_error(r, "compiledir is empty")


def test_cli_read_only_cache(filled, small_tmpfs):
    d, _, _ = filled
    shutil.copytree(d / "kernels", small_tmpfs / "kernels", ignore=shutil.ignore_patterns("*.so"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    for cmd, args in (("clear", ()), ("purge", ("--older-than", "0"))):
        _one_line_error(_cli(small_tmpfs, cmd, *args), "read-only")
    r = _cli(small_tmpfs, "list")       # reading works
    assert r.returncode == 0, r.stderr
