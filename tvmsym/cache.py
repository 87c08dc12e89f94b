"""The on-disk kernel cache (``config.compiledir/kernels``), and its command line.

    python -m tvmsym.cache info                      # directory, entries, size, cap
    python -m tvmsym.cache list                      # one line per entry, most recent first
    python -m tvmsym.cache clear                     # remove every entry
    python -m tvmsym.cache purge --older-than DAYS   # remove entries unused for DAYS days

An entry is ``<key>.so`` (a kernel library) and ``<key>.so.sha256`` (its checksum, written
last: an entry without a matching checksum is never loaded, it is rebuilt).  A hit touches
the library's mtime, so mtime is the entry's last use; when a write would take the
directory over ``config.cache_max_mb``, the least recently used entries are removed first.
Writers never lock: every file is written under a temporary name and renamed into place,
so processes sharing the directory see either no entry or a complete one, and removing an
entry another process is loading at worst makes that process rebuild it.
Nothing here imports TVM (``python -m tvmsym.cache`` stays fast).

Security model (only code tvmsym built is ever loaded):

* ``compiledir`` and ``kernels/`` are created 0700 and every file 0600 whatever the umask;
  a directory or file not owned by the user, or writable by group or others, is refused
  with a warning (the kernel is then built in memory, nothing is loaded from or written to
  that directory).  A symlinked entry is refused too.
* The checksum file is a manifest line ``tvmsym-kernel-v2 <key> <size> <sha256> <mac>``: the
  key it was written for, the library's size and content hash, and an HMAC of those under a
  per-cache secret (``kernels/.secret``, 0600).  Before ``dlopen`` the line must name this
  key, the file must have that size and hash, and its ELF headers must lie inside the file
  (a truncated library is never handed to the loader).  Another graph's library copied
  under a key, or an old-format entry, fails the check and is rebuilt.
* After loading, the library must export every kernel name the module defines.
* An unwritable or full cache warns once per directory on stderr; kernels keep working.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import stat
import struct
import sys
import time
import warnings
from dataclasses import dataclass

LIB_SUFFIX = ".so"
SUM_SUFFIX = ".so.sha256"
TMP_MARK = ".tmp"
STALE_TMP_SECONDS = 3600        # a temporary file this old belongs to a dead writer


MANIFEST_TAG = "tvmsym-kernel-v2"

# libraries loaded from the cache (hits), built (misses), entries refused or unwritable
# (errors), entries removed by the size cap (pruned): ``_tvm.cache_stats``
stats = {"hits": 0, "misses": 0, "errors": 0, "pruned": 0}
SECRET_NAME = ".secret"


# --------------------------------------------------------------------------- trust
_warned = set()


def warn_once(what, path, detail):
    """One warning per (problem, directory) on stderr: the cache is skipped, kernels still run."""
    if (what, path) in _warned:
        return
    _warned.add((what, path))
    warnings.warn(f"tvmsym kernel cache: {detail}", RuntimeWarning, stacklevel=3)


def _untrusted(st, path, kind):
    """Why a stat result may not be trusted (None: trusted)."""
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{kind} {path} is owned by uid {st.st_uid}, not by this user (uid {os.getuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{kind} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def prepare_dir(cachedir):
    """Create ``cachedir`` (and its parent, the compiledir) 0700 if missing; True when both
    may be trusted (owned by this user, not writable by others), else warn once, False."""
    cachedir = os.path.abspath(cachedir)
    for d in (os.path.dirname(cachedir), cachedir):
        try:
            os.makedirs(d, mode=0o700, exist_ok=False)
            os.chmod(d, 0o700)          # makedirs' mode is masked by the umask
        except FileExistsError:
            pass
        except OSError as e:
            warn_once("mkdir", cachedir, f"cannot create {d} ({e.strerror}); kernels are built "
                      "in memory and not cached")
            return False
        try:
            st = os.stat(d)
        except OSError as e:
            warn_once("stat", cachedir, f"cannot use {d} ({e.strerror}); not caching kernels")
            return False
        if not stat.S_ISDIR(st.st_mode):
            warn_once("notdir", cachedir, f"{d} is not a directory; not caching kernels")
            return False
        why = _untrusted(st, d, "directory")
        if why:
            warn_once("untrusted", cachedir, f"{why}: refusing to load or store kernels there; "
                      "kernels are built in memory (use a private compiledir)")
            return False
    return True


def _secret(cachedir, create):
    path = os.path.join(cachedir, SECRET_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            st = os.fstat(fd)
            if _untrusted(st, path, "file") or not stat.S_ISREG(st.st_mode) or st.st_size != 32:
                return None
            return os.read(fd, 32)
        finally:
            os.close(fd)
    except FileNotFoundError:
        if not create:
            return None
    key = os.urandom(32)
    tmp = f"{path}.{os.getpid()}{TMP_MARK}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)          # first writer wins; a later one reads the winner's
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return _secret(cachedir, create=False)


def _mac(secret, key, size, digest):
    return hmac.new(secret, f"{MANIFEST_TAG} {key} {size} {digest}".encode(), hashlib.sha256).hexdigest()


def _sha256_fd(fd):
    h = hashlib.sha256()
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return h.hexdigest()
        h.update(b)


def _elf_complete(fd, size):
    """The ELF header, program headers and section headers lie inside the file."""
    head = os.pread(fd, 64, 0)
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return False        # 64-bit little-endian ELF only (the libraries tvmsym writes)
    (e_phoff, e_shoff) = struct.unpack_from("<QQ", head, 32)
    (e_phentsize, e_phnum, e_shentsize, e_shnum) = struct.unpack_from("<HHHH", head, 54)
    return e_phoff + e_phentsize * e_phnum <= size and e_shoff + e_shentsize * e_shnum <= size


def verify_entry(cachedir, key):
    """The library path of ``key`` if its entry may be loaded, else None (with the reason
    as second item: "missing", or what failed)."""
    lib = os.path.join(cachedir, key + LIB_SUFFIX)
    try:
        with open(os.path.join(cachedir, key + SUM_SUFFIX)) as fh:
            line = fh.read(512)
    except FileNotFoundError:
        return None, ("missing" if not os.path.lexists(lib) else "no manifest")
    except OSError as e:
        return None, f"manifest unreadable ({e.strerror})"
    parts = line.split()
    if len(parts) != 5 or parts[0] != MANIFEST_TAG or parts[1] != key:
        return None, "manifest does not name this key"
    secret = _secret(cachedir, create=False)
    if secret is None:
        return None, "no cache secret"
    try:
        size = int(parts[2])
    except ValueError:
        return None, "bad manifest"
    if not hmac.compare_digest(parts[4], _mac(secret, key, size, parts[3])):
        return None, "manifest not written by tvmsym"
    try:
        fd = os.open(lib, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        return None, f"library unreadable ({e.strerror})"
    try:
        st = os.fstat(fd)
        why = _untrusted(st, lib, "file")
        if why:
            return None, why
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            return None, "library size differs from the manifest"
        if not _elf_complete(fd, size):
            return None, "library is not a complete ELF file"
        if not hmac.compare_digest(_sha256_fd(fd), parts[3]):
            return None, "library content differs from the manifest"
    finally:
        os.close(fd)
    return lib, None


def store_entry(cachedir, key, tmp_lib):
    """Move the freshly exported ``tmp_lib`` to ``key``'s entry (0600) and write its manifest
    last.  Returns the library path."""
    lib = os.path.join(cachedir, key + LIB_SUFFIX)
    os.chmod(tmp_lib, 0o600)
    fd = os.open(tmp_lib, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        digest = _sha256_fd(fd)
    finally:
        os.close(fd)
    secret = _secret(cachedir, create=True)
    if secret is None:
        raise OSError(f"cache secret in {cachedir} is not usable")
    os.replace(tmp_lib, lib)
    man = os.path.join(cachedir, key + SUM_SUFFIX)
    tmp = f"{man}.{os.getpid()}{TMP_MARK}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{MANIFEST_TAG} {key} {size} {digest} {_mac(secret, key, size, digest)}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, man)
    return lib


META_SUFFIX = ".meta"
META_TAG = "tvmsym-meta-v1"


def store_blob(cachedir, key, data):
    """Write ``data`` (bytes: a build's step list, runtime/warm.py) as ``key``'s ``.meta``
    file, 0600, under the same HMAC as a library's manifest: a first line
    ``tvmsym-meta-v1 <key> <size> <sha256> <mac>`` then the bytes."""
    secret = _secret(cachedir, create=True)
    if secret is None:
        raise OSError(f"cache secret in {cachedir} is not usable")
    digest = hashlib.sha256(data).hexdigest()
    mac = hmac.new(secret, f"{META_TAG} {key} {len(data)} {digest}".encode(), hashlib.sha256).hexdigest()
    path = os.path.join(cachedir, key + META_SUFFIX)
    tmp = f"{path}.{os.getpid()}{TMP_MARK}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{META_TAG} {key} {len(data)} {digest} {mac}\n".encode() + data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def load_blob(cachedir, key):
    """(bytes, None) of ``key``'s ``.meta`` file when it verifies (owner, mode, not a symlink,
    names this key, size, hash and HMAC), else (None, why)."""
    path = os.path.join(cachedir, key + META_SUFFIX)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None, "missing"
    except OSError as e:
        return None, f"unreadable ({e.strerror})"
    try:
        st = os.fstat(fd)
        why = _untrusted(st, path, "file")
        if why:
            return None, why
        if not stat.S_ISREG(st.st_mode) or st.st_size > (1 << 30):
            return None, "not a regular file"
        raw = b""
        while len(raw) < st.st_size:
            b = os.read(fd, st.st_size - len(raw))
            if not b:
                break
            raw += b
    finally:
        os.close(fd)
    nl = raw.find(b"\n")
    parts = raw[:nl].decode("ascii", "replace").split() if nl > 0 else []
    if len(parts) != 5 or parts[0] != META_TAG or parts[1] != key:
        return None, "header does not name this key"
    secret = _secret(cachedir, create=False)
    if secret is None:
        return None, "no cache secret"
    data = raw[nl + 1:]
    digest = hashlib.sha256(data).hexdigest()
    want = hmac.new(secret, f"{META_TAG} {key} {len(data)} {digest}".encode(), hashlib.sha256).hexdigest()
    if parts[2] != str(len(data)) or parts[3] != digest or not hmac.compare_digest(parts[4], want):
        return None, "not written by tvmsym (size, hash or HMAC differs)"
    return data, None


@dataclass
class Entry:
    key: str
    size: int           # bytes of the library and its checksum
    last_used: float    # the library's mtime (touched on every hit)
    complete: bool      # both files present


def kernel_dir(compiledir=None):
    from .config import config
    d = config.compiledir if compiledir is None else compiledir
    if not d:
        raise ValueError("compiledir is empty: set it to a directory (the current directory "
                         "is never used for the kernel cache)")
    return os.path.join(os.path.abspath(d), "kernels")


def _scan(cachedir):
    """(entries by key, [(path, size, mtime)] of temporary files)."""
    libs, sums, metas, tmps = {}, {}, {}, []
    try:
        it = list(os.scandir(cachedir))
    except FileNotFoundError:
        return {}, []
    for de in it:
        try:
            st = de.stat(follow_symlinks=False)
        except FileNotFoundError:       # removed meanwhile by another process
            continue
        name = de.name
        if TMP_MARK in name:
            tmps.append((de.path, st.st_size, st.st_mtime))
        elif name.endswith(SUM_SUFFIX):
            sums[name[:-len(SUM_SUFFIX)]] = st
        elif name.endswith(META_SUFFIX):        # a build's step list: complete by itself
            metas[name[:-len(META_SUFFIX)]] = st
        elif name.endswith(LIB_SUFFIX):
            libs[name[:-len(LIB_SUFFIX)]] = st
    entries = {}
    for key in set(libs) | set(sums):
        lib, sm = libs.get(key), sums.get(key)
        size = (lib.st_size if lib else 0) + (sm.st_size if sm else 0)
        used = lib.st_mtime if lib else sm.st_mtime
        entries[key] = Entry(key, size, used, lib is not None and sm is not None)
    for key, st in metas.items():
        entries[key] = Entry(key, st.st_size, st.st_mtime, True)
    return entries, tmps


def entries(cachedir):
    """The cache's entries, most recently used first."""
    return sorted(_scan(cachedir)[0].values(), key=lambda e: -e.last_used)


def _unlink(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def remove_entry(cachedir, key):
    """Remove one entry: the checksum first, so that a concurrent reader sees it invalid."""
    base = os.path.join(cachedir, key)
    _unlink(base + SUM_SUFFIX)
    _unlink(base + LIB_SUFFIX)
    _unlink(base + META_SUFFIX)


def touch(lib_path):
    """Mark an entry as just used (its library's mtime)."""
    try:
        os.utime(lib_path)
    except OSError:             # read-only cache, removed meanwhile: only the LRU order suffers
        pass


def _remove_stale_tmps(tmps, now, max_age=STALE_TMP_SECONDS):
    n = size = 0
    for path, sz, mtime in tmps:
        if now - mtime >= max_age and _unlink(path):
            n, size = n + 1, size + sz
    return n, size


def prune(cachedir, max_bytes, keep=()):
    """Remove least recently used entries until the directory holds at most ``max_bytes``
    (``max_bytes <= 0``: no cap).  Entries in ``keep`` (just written) stay.
    Returns (entries removed, bytes freed, bytes remaining)."""
    found, tmps = _scan(cachedir)
    _remove_stale_tmps(tmps, time.time())
    total = sum(e.size for e in found.values())
    n = freed = 0
    for e in sorted(found.values(), key=lambda e: e.last_used):
        if not max_bytes or max_bytes <= 0 or total <= max_bytes:
            break
        if e.key in keep:
            continue
        remove_entry(cachedir, e.key)
        total -= e.size
        n, freed = n + 1, freed + e.size
    return n, freed, total


def clear(cachedir):
    """Remove every entry and temporary file. Returns (entries removed, bytes freed)."""
    found, tmps = _scan(cachedir)
    for e in found.values():
        remove_entry(cachedir, e.key)
    for path, _, _ in tmps:
        _unlink(path)
    return len(found), sum(e.size for e in found.values()) + sum(t[1] for t in tmps)


def purge(cachedir, older_than_days, now=None):
    """Remove entries not used for more than ``older_than_days`` days (and stale temporary
    files). Returns (entries removed, bytes freed)."""
    now = time.time() if now is None else now
    limit = now - older_than_days * 86400.0
    found, tmps = _scan(cachedir)
    n = freed = 0
    for e in found.values():
        if e.last_used < limit:
            remove_entry(cachedir, e.key)
            n, freed = n + 1, freed + e.size
    _remove_stale_tmps(tmps, now, max_age=min(STALE_TMP_SECONDS, older_than_days * 86400.0))
    return n, freed


# --------------------------------------------------------------------------- command line
def _mb(nbytes):
    return f"{nbytes / 2 ** 20:.2f} MB"


def _when(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _cmd_info(d, args):
    from .config import config
    es = entries(d)
    cap = config.cache_max_mb
    print(f"directory: {d}" + ("" if os.path.isdir(d) else " (does not exist yet)"))
    bad = sum(not e.complete for e in es)
    print(f"entries:   {len(es)}" + (f" ({bad} incomplete)" if bad else ""))
    print(f"size:      {_mb(sum(e.size for e in es))}")
    print(f"cap:       {'none (cache_max_mb=0)' if not cap else f'{cap:g} MB (cache_max_mb)'}")
    if es:
        print(f"last used: {_when(es[0].last_used)}; least recently: {_when(es[-1].last_used)}")
    return 0


def _cmd_list(d, args):
    es = entries(d)
    if not es:
        print(f"no entries in {d}")
        return 0
    print(f"{'key':40s} {'size KB':>9s}  last used")
    for e in es:
        flag = "" if e.complete else "  (incomplete)"
        print(f"{e.key:40s} {e.size / 1024:9.1f}  {_when(e.last_used)}{flag}")
    print(f"{len(es)} entries, {_mb(sum(e.size for e in es))} in {d}")
    return 0


def _cmd_clear(d, args):
    n, size = clear(d)
    print(f"removed {n} entries ({_mb(size)}) from {d}")
    return 0


def _cmd_purge(d, args):
    n, size = purge(d, args.older_than)
    rest = entries(d)
    print(f"removed {n} entries ({_mb(size)}) not used for more than {args.older_than:g} days "
          f"from {d}; {len(rest)} entries ({_mb(sum(e.size for e in rest))}) remain")
    return 0


def _days(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of days: {text!r}") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"number of days must be >= 0, got {text!r}")
    return v


def make_parser():
    p = argparse.ArgumentParser(
        prog="python -m tvmsym.cache",
        description="Inspect and clean tvmsym's on-disk kernel cache (config.compiledir/kernels; "
                    "set the directory with TVMSYM_FLAGS=compiledir=...).")
    p.add_argument("--compiledir", default=None,
                   help="use this compiledir instead of config.compiledir")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("info", help="directory, number of entries, total size, size cap")
    sub.add_parser("list", help="every entry: key, size, last use (most recent first)")
    sub.add_parser("clear", help="remove every entry")
    pp = sub.add_parser("purge", help="remove entries not used for more than DAYS days")
    pp.add_argument("--older-than", type=_days, required=True, metavar="DAYS",
                    help="age in days (fractions allowed) of the last use")
    return p


_COMMANDS = {"info": _cmd_info, "list": _cmd_list, "clear": _cmd_clear, "purge": _cmd_purge}


def _problem(d, command):
    """One line saying why ``d`` cannot serve ``command``, or None."""
    if not os.path.lexists(d):
        return f"{d} does not exist (no kernel has been cached there)"
    if not os.path.isdir(d):
        return f"{d} is not a directory"
    if not os.access(d, os.R_OK | os.X_OK):
        return f"{d} is not readable"
    if command in ("clear", "purge") and not os.access(d, os.W_OK):
        return f"{d} is read-only: cannot remove entries"
    return None


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        d = kernel_dir(args.compiledir)
    except ValueError as e:         # compiledir= (empty)
        print(f"tvmsym.cache: {e}", file=sys.stderr)
        return 1
    why = _problem(d, args.command)
    if why:
        print(f"tvmsym.cache: {why}", file=sys.stderr)
        return 1
    try:
        return _COMMANDS[args.command](d, args)
    except BrokenPipeError:         # `python -m tvmsym.cache list | head`
        sys.stderr.close()
        return 0
    except OSError as e:
        print(f"tvmsym.cache: {e.filename or d}: {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
