"""tvmsym.distributed over real MPI: ``mpiexec -n 2`` and ``-n 3`` (uneven shards) run
``_worker.py`` in subprocesses with a timeout; each rank checks itself against numpy and
prints ``CHECK <name> <rank> <size> ok``.  One run per rank count serves several tests."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")

pytest.importorskip("mpi4py", reason="pip install '.[mpi]' (mpi4py and mpich)")
if MPIEXEC is None:
    pytest.skip("no mpiexec (pip install '.[mpi]' installs mpich's)", allow_module_level=True)

CHECKS = ["allreduce_values", "broadcast_values", "allgather_values", "sgd", "verify_grad", "p2p",
          "bucketing", "device"]


def run(n, scenario, tmp, timeout=600):
    """``mpiexec -n n python _worker.py scenario`` (n=None: no launcher); (rc, out, err, s)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIR_"))}
    env.update(PYTHONPATH=str(ROOT), TVMSYM_TEST_COMPILEDIR=str(tmp),
               TVMSYM_FLAGS=f"compiledir={tmp}", OMP_NUM_THREADS="1", TVM_NUM_THREADS="1")
    cmd = [sys.executable, str(HERE / "_worker.py"), scenario]
    if n is not None:
        cmd = [MPIEXEC, "-n", str(n)] + cmd
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp)
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - t0


def passed(out, size):
    return {(m[0], int(m[1])) for m in re.findall(rf"CHECK (\w+) (\d+) {size} ok\b", out)}


@pytest.fixture(scope="module")
def cachedir(tmp_path_factory):
    """One compiledir for every run and rank: later runs load the kernels the first built,
    as a user's second run would."""
    return tmp_path_factory.mktemp("mpi")


@pytest.fixture(scope="module", params=[None, 2, 3], ids=["single-process", "n2", "n3"])
def main_run(request, cachedir):
    n = request.param
    rc, out, err, _ = run(n, "main", cachedir)
    return n or 1, rc, out, err


@pytest.mark.parametrize("check", CHECKS)
def test_main_checks(main_run, check):
    """Each check passed on every rank (values against numpy, SGD, verify_grad, p2p, buckets)."""
    size, rc, out, err = main_run
    got = passed(out, size)
    missing = [r for r in range(size) if (check, r) not in got]
    assert not missing, f"{check} did not pass on ranks {missing} (rc {rc}):\n{out}\n{err[-3000:]}"


def test_job_ends_cleanly(main_run):
    size, rc, out, err = main_run
    assert rc == 0, err[-3000:]
    assert sorted(int(m) for m in re.findall(rf"DONE (\d+) {size}\b", out)) == list(range(size))


def test_uneven_shards(main_run):
    """3 ranks share 8 rows as 3, 3, 2 (numpy.array_split's split); 2 ranks 12 rows as 6, 6."""
    size, rc, out, err = main_run
    rows = dict((int(r), int(k)) for r, k in re.findall(r"SHARD (\d+) (\d+)\b", out))
    want = {1: {0: 12}, 2: {0: 6, 1: 6}, 3: {0: 3, 1: 3, 2: 2}}[size]
    assert rows == want


def test_raising_rank_ends_the_job(cachedir):
    """The last rank raises inside a call; the others, waiting in an allreduce, fail naming it,
    and MPI_Abort ends the job (no hang)."""
    rc, out, err, dt = run(2, "raise", cachedir, timeout=120)
    assert rc != 0
    assert "UNREACHABLE" not in out
    assert "rank 1 of 2 raised TypeError" in err, err[-3000:]
    assert "RankFailedError: rank 1 failed: TypeError" in err, err[-3000:]   # rank 0's error
    assert dt < 60


def test_mismatched_shapes_and_dtypes(cachedir):
    """A shape or dtype that differs across ranks raises DistributedError on every rank, naming
    each rank's shape/dtype, and the job can go on."""
    rc, out, err, _ = run(2, "mismatch", cachedir, timeout=120)
    assert rc == 0, err[-3000:]
    for r in (0, 1):
        m = re.search(rf"MISMATCH {r} (.*)$", out, re.M)
        assert m and "rank 0: allreduce{sum} of float64 (3,)" in m.group(1) \
            and "rank 1: allreduce{sum} of float64 (4,)" in m.group(1), out
        d = re.search(rf"DTYPE {r} (.*)$", out, re.M)
        assert d and "float64" in d.group(1) and "float32" in d.group(1), out
    assert passed(out, 2) == {("mismatch", 0), ("mismatch", 1)}


def test_timeout(cachedir):
    """config.distributed_timeout bounds a collective another rank never joins."""
    rc, out, err, dt = run(2, "timeout", cachedir, timeout=120)
    assert rc != 0
    m = re.search(r"TIMEOUT 0 ([\d.]+) (.*)$", out, re.M)
    assert m, out + err[-2000:]
    assert 1.4 < float(m.group(1)) < 15
    assert "within 1.5 s" in m.group(2)
    assert dt < 29          # the other rank sleeps 30 s: the abort ended it


def test_example_gives_the_same_training_on_two_ranks(cachedir):
    """examples/train_mpi.py (the README's): the same losses and final weights on 2 ranks as
    on one process, one message per step."""
    outs = {}
    for n in (None, 2):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIR_"))}
        env.update(PYTHONPATH=str(ROOT), TVMSYM_FLAGS=f"compiledir={cachedir}/example{n}")
        cmd = [sys.executable, str(ROOT / "examples" / "train_mpi.py")]
        if n:
            cmd = [MPIEXEC, "-n", str(n)] + cmd
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=cachedir)
        assert p.returncode == 0, p.stderr[-3000:]
        outs[n] = p.stdout
    lines = {n: [ln.split(" rank(s)")[-1] for ln in out.splitlines() if "loss" in ln]
             for n, out in outs.items()}
    assert len(lines[None]) >= 4 and lines[None] == lines[2], outs
    assert "1 message(s)" in outs[2]
