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
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

LIB_SUFFIX = ".so"
SUM_SUFFIX = ".so.sha256"
TMP_MARK = ".tmp"
STALE_TMP_SECONDS = 3600        # a temporary file this old belongs to a dead writer


@dataclass
class Entry:
    key: str
    size: int           # bytes of the library and its checksum
    last_used: float    # the library's mtime (touched on every hit)
    complete: bool      # both files present


def kernel_dir(compiledir=None):
    from .config import config
    return os.path.join(compiledir or config.compiledir, "kernels")


def _scan(cachedir):
    """(entries by key, [(path, size, mtime)] of temporary files)."""
    libs, sums, tmps = {}, {}, []
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
        elif name.endswith(LIB_SUFFIX):
            libs[name[:-len(LIB_SUFFIX)]] = st
    entries = {}
    for key in set(libs) | set(sums):
        lib, sm = libs.get(key), sums.get(key)
        size = (lib.st_size if lib else 0) + (sm.st_size if sm else 0)
        used = lib.st_mtime if lib else sm.st_mtime
        entries[key] = Entry(key, size, used, lib is not None and sm is not None)
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


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](kernel_dir(args.compiledir), args)
    except BrokenPipeError:         # `python -m tvmsym.cache list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
