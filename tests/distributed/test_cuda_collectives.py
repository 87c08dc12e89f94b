"""device=cuda without a GPU: where the collectives run (placement), down to the build's
steps and the CUDA C of the kernels around them.  (tests/distributed/_worker.py runs both
paths over MPI on the loopback device.)"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym import distributed as dist
from tvmsym.distributed import device


def build(flag):
    with theano.config.change_flags(distributed_cuda_aware=flag):
        x = T.fmatrix("x")
        # each collective reads a value computed on the GPU
        grads = [dist.allreduce(T.exp(x) * 2, "sum"), dist.allreduce(x * 3, "max"),
                 dist.broadcast(x + 2, 0)]
        return theano.function([x], [g + 1 for g in grads], target="cuda")


@pytest.fixture(scope="module")
def aware():
    return build("yes")


@pytest.fixture(scope="module")
def staged():
    return build("no")


def test_cuda_aware_collectives_take_device_buffers(aware):
    text = theano.printing.debugprint(aware, file="str")
    assert text.count("GpuAllReduce{sum}") == 1 and "GpuAllReduce{max}" in text and "GpuBroadcast{root=0}" in text
    # no copy to the host before or after a collective: GPU kernels on both sides
    for m in re.finditer(r"Gpu(AllReduce|Broadcast)\S* \[id \w+\] ''   \d+\n(.*)", text):
        assert "HostFromGpu" not in m.group(2)
    from tvmsym.runtime.cuda import CudaBuild
    b = CudaBuild(aware._plan, ((3, 4),), aware.target)
    assert [s.label for s in b.steps].count("gpu_comm") == 3
    src = aware.as_text("cuda", shapes=[(3, 4)])
    assert len(re.findall(r"__global__ void", src)) >= 6      # 3 before, 3 after the collectives


def test_staged_collectives_copy_through_the_host(staged):
    text = theano.printing.debugprint(staged, file="str")
    assert "GpuAllReduce" not in text and "GpuBroadcast" not in text
    for name in ("AllReduce{sum}", "AllReduce{max}", "Broadcast{root=0}"):
        block = text.split(name, 1)[1].split("\n")[1]
        assert "HostFromGpu" in block, text           # the collective reads a host copy
    assert text.count("GpuFromHost") >= 3                # and its result goes back up


def test_auto_asks_the_mpi_library():
    with theano.config.change_flags(distributed_cuda_aware="auto"):
        assert device.cuda_aware() == device.mpi_cuda_support()
    with pytest.raises(ValueError, match="distributed_cuda_aware"):
        theano.config.distributed_cuda_aware = "maybe"


@pytest.mark.parametrize("flag", ["yes", "no"])
def test_loopback_single_process(flag, aware, staged):
    """One rank on the loopback device: both paths give the identity collectives' values."""
    from tvmsym.runtime.cuda import CudaBuild
    f = aware if flag == "yes" else staged
    a = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    out = CudaBuild(f._plan, (a.shape,), f.target, loopback=True).run([a])
    for g, w in zip(out, [np.exp(a) * 2 + 1, a * 3 + 1, a + 3]):
        np.testing.assert_allclose(g, w, rtol=1e-6)
