"""Convolutions and pooling (with their gradients) under device=cuda: placed on the GPU,
scheduled (the products by dlight's shared-memory Matmul rule), checked down to CUDA C and
PTX; the CPU-only epilogue fusion stays off."""
import re
import shutil

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic.rewrites.placement import GpuFromHost, HostFromGpu
from tvmsym.tensor.signal import pool

KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(")


@pytest.fixture(scope="module")
def conv_build():
    x = T.tensor4("x", dtype="float32")
    w = T.tensor4("w", dtype="float32")
    b = T.vector("b", dtype="float32")
    h = T.tanh(pool.pool_2d(T.nnet.conv2d(x, w, border_mode="half"), (2, 2), ignore_border=True)
               + b.dimshuffle("x", 0, "x", "x"))
    cost = (h ** 2).sum()
    gx, gw = tvmsym.grad(cost, [x, w])
    f = tvmsym.function([x, w, b], [h, gx, gw], target="cuda")
    build = f._build(((8, 4, 12, 12), (16, 4, 3, 3), (16,)))
    f.cpu_twin = lambda: tvmsym.function([x, w, b], [h, gx, gw], target="cpu")
    return f, build


def test_conv_and_pool_ops_are_placed_on_the_gpu(conv_build):
    f, build = conv_build
    names = [type(n.op).__name__ for n in f.maker.fgraph.toposort()
             if not isinstance(n.op, (GpuFromHost, HostFromGpu))]
    for want in ("GpuCorrMM", "GpuCorrMM_gradWeights", "GpuCorrMM_gradInputs", "GpuPool", "GpuMaxPoolGrad"):
        assert want in names, names
    assert not any("FusedConv" in n for n in names)       # the epilogue fusion is a CPU stage
    kinds = [s.label for s in build.steps]
    assert "host" not in kinds and build.host_lib is None


def test_conv_kernels_are_tiled_products_in_cuda_c(conv_build):
    f, build = conv_build
    src = build.as_text("cuda")
    kernels = {name for _, name in KERNEL.findall(src)}
    conv_steps = [s.name for s in build.steps if s.label == "gpu" and "Corr" in type(s.node.op).__name__]
    assert len(conv_steps) == 3
    for step in conv_steps:
        assert build.rules[step] == "Matmul", (step, build.rules[step])
        assert any(k == f"{step}_kernel" or k.startswith(f"{step}_kernel_") for k in kernels)
    assert "__shared__" in src


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_conv_kernels_compile_to_ptx(conv_build):
    f, build = conv_build
    ptx = build.as_text("ptx")
    entries = re.findall(r"^\.visible \.entry (\w+)\(", ptx, re.M)
    assert sorted(entries) == sorted(build.kernels)


@pytest.mark.gpu
def test_conv_runs_on_the_gpu(conv_build):
    f, _ = conv_build
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((8, 4, 12, 12)).astype("float32")
    wv = rng.standard_normal((16, 4, 3, 3)).astype("float32")
    bv = rng.standard_normal(16).astype("float32")
    for a, r in zip(f(xv, wv, bv), f.cpu_twin()(xv, wv, bv)):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4)
