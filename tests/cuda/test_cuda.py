"""device=cuda without a GPU: placement and printing, CUDA C and PTX of every op, the no-GPU error.

Everything except running is checked here: graphs are placed, every op is
lowered, scheduled for cuda and built into one CUDA module (checked for its
kernels and launch bounds), and that module is compiled to PTX by nvcc once.
Tests marked ``gpu`` run the kernels and are skipped on machines without one.
"""
import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic import scalar as ps
from tvmsym.symbolic.elemwise import DimShuffle, Elemwise
from tvmsym.symbolic.graph import Apply, Op
from tvmsym.symbolic.rewrites.placement import GpuFromHost, HostFromGpu, is_on_gpu, on_gpu

SEED_GPU = """\
HostFromGpu(gpuarray) [id A] ''   3
 |GpuElemwise{Composite{((i0 + i1) * i0)}}[(0, 0)]<gpuarray> [id B] ''   2
   |GpuFromHost<None> [id C] ''   1
   | |x [id D]
   |GpuFromHost<None> [id E] ''   0
     |y [id F]
"""

NO_GPU_MESSAGE = (
    "no CUDA device found: this function was compiled for device=cuda (sm_90) but this machine "
    "has no usable GPU (or TVM was built without the CUDA runtime). Set device=cpu to run on the "
    "CPU: TVMSYM_FLAGS=device=cpu, tvmsym.config.device = 'cpu', or "
    "tvmsym.function(..., target='cpu'). The CUDA code can still be inspected with "
    "f.as_text('cuda') / f.as_text('ptx').")

KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\((\d+)\) )?(\w+)\(")


def gpu_present():
    from tvmsym.targets.target import cuda_device_available
    return cuda_device_available()


def seed_function(expr=lambda x, y: (x + y) * x, **kw):
    x, y = T.matrix("x"), T.matrix("y")
    return tvmsym.function([x, y], expr(x, y), target="cuda", **kw)


# --------------------------------------------------------------------------- placement, printing
def test_seed_graph_debugprint_matches_the_seed_gpu_listing():
    f = seed_function()
    assert tvmsym.printing.debugprint(f, file="str") == SEED_GPU


def test_seed_addition_prints_theano_gpu_names():
    # the seed's first GPU listing: GpuElemwise{Add}[(0, 0)]<gpuarray>
    f = seed_function(lambda x, y: x + y)
    assert tvmsym.printing.debugprint(f, file="str") == SEED_GPU.replace(
        "Composite{((i0 + i1) * i0)}", "Add")


def test_cpu_graph_and_numbering_are_unchanged():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], (x + y) * x)
    assert f.maker.fgraph.toposort_fn is None
    assert tvmsym.printing.debugprint(f, file="str") == (
        "Elemwise{Composite{((i0 + i1) * i0)}} [id A] ''   0\n |x [id B]\n |y [id C]\n")


def test_every_way_of_selecting_cuda():
    x, y = T.matrix("x"), T.matrix("y")
    fns = [tvmsym.function([x, y], (x + y) * x, target="cuda"),
           tvmsym.function([x, y], (x + y) * x, mode=tvmsym.Mode(target="cuda"))]
    with tvmsym.config.change_flags(device="cuda"):
        fns.append(tvmsym.function([x, y], (x + y) * x))
    for f in fns:
        assert f.target.kind == "cuda" and f.target.arch == "sm_90"
        assert tvmsym.printing.debugprint(f, file="str") == SEED_GPU


def test_tvmsym_flags_device_cuda_and_cuda_arch():
    code = ("import tvmsym, tvmsym.tensor as T\n"
            "x, y = T.matrix('x'), T.matrix('y')\n"
            "f = tvmsym.function([x, y], (x + y) * x)\n"
            "print(f.target.kind, f.target.arch, f.target.tvm_target.attrs['arch'])\n"
            "tvmsym.printing.debugprint(f)\n")
    env = dict(os.environ,
               TVMSYM_FLAGS=os.environ.get("TVMSYM_FLAGS", "") + ",device=cuda,cuda_arch=sm_80")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "cuda sm_80 sm_80\n" + SEED_GPU


def test_bad_cuda_arch_is_refused():
    with tvmsym.config.change_flags(cuda_arch="volta"):
        with pytest.raises(ValueError, match="config.cuda_arch must name a CUDA architecture"):
            seed_function()


class HostSort(Op):
    """A test op with no lowering rule: it can only run on the host (numpy)."""

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        return [np.sort(inputs[0], axis=-1)]

    def infer_shape(self, node, shapes):
        return [shapes[0]]


def test_op_without_gpu_schedule_stays_on_host_with_transfers():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], T.exp(HostSort()(x + y)) * 2, target="cuda")
    assert tvmsym.printing.debugprint(f, file="str") == """\
HostFromGpu(gpuarray) [id A] ''   7
 |GpuElemwise{Composite{(exp(i0) * 2.0)}}[(0, 0)]<gpuarray> [id B] ''   6
   |GpuFromHost<None> [id C] ''   5
     |HostSort [id D] ''   4
       |HostFromGpu(gpuarray) [id E] ''   3
         |GpuElemwise{Add}[(0, 0)]<gpuarray> [id F] ''   2
           |GpuFromHost<None> [id G] ''   1
           | |x [id H]
           |GpuFromHost<None> [id I] ''   0
             |y [id J]
"""


def test_device_variants_are_the_same_ops():
    f = seed_function()
    node = [n for n in f.maker.fgraph.toposort() if is_on_gpu(n.op)][0]
    op = node.op
    assert isinstance(op, Elemwise) and type(op).__name__ == "GpuElemwise"
    assert op.host_op() == Elemwise(op.scalar_op, dict(op.inplace_pattern))
    assert op != op.host_op() and on_gpu(op) is op
    ds = on_gpu(DimShuffle((False, False), (1, 0)))
    assert str(ds) == "InplaceGpuDimShuffle{1,0}" and pickle.loads(pickle.dumps(ds)) == ds
    assert str(GpuFromHost()) == "GpuFromHost<None>" and str(HostFromGpu()) == "HostFromGpu(gpuarray)"


# --------------------------------------------------------------------------- every op, one CUDA module
R, C, K = 24, 40, 16          # odd-sized rows: predicated tails in the injective kernels
BITWISE = {"and_", "or_", "xor", "invert"}


def _elemwise_table(x, y, z, i, j):
    """One output per scalar op of the library (Elemwise), on float32 (ints for bitwise ops)."""
    outs = {}
    for name, sop in sorted(vars(ps).items()):
        if not isinstance(sop, ps.ScalarOp) or isinstance(sop, ps.Composite):
            continue
        args = (i, j, i) if sop.name in BITWISE else (x, y, z)
        outs[f"elemwise:{sop.name}"] = Elemwise(sop)(*args[:sop.nin])
    outs["elemwise:cast"] = T.cast(x, "int32")
    outs["elemwise:float64"] = T.exp(T.cast(x, "float64"))
    return outs


def _other_table(x, y, w, v, u):
    """Reductions, products and shape ops, as far as the library has them."""
    outs = {}
    for name in ("sum", "prod", "mean", "max", "min", "argmax", "argmin"):
        fn = getattr(T, name, None)
        if fn is not None:
            for axis in (None, 0, 1):
                outs[f"reduce:{name}:{axis}"] = fn(x, axis=axis)
    for name in ("all", "any"):
        fn = getattr(T, name, None)
        if fn is not None:
            outs[f"reduce:{name}:1"] = fn(T.gt(x, 0), axis=1)
    if hasattr(T, "dot"):
        outs["dot:matrix.matrix"] = T.dot(x, w)
        outs["dot:matrix.vector"] = T.dot(x, v)
        outs["dot:vector.vector"] = T.dot(v, u)
    outs["shape:transpose"] = x.T
    outs["shape:broadcast_row"] = x + v.dimshuffle("x", 0)
    candidates = {      # the library's other ops, as far as it has them (names are tvmsym.tensor's)
        "reduce:logsumexp": lambda: T.logsumexp(x, axis=1),
        "reduce:var": lambda: T.var(x, axis=0),
        "reduce:std": lambda: T.std(x),
        "reduce:max_and_argmax": lambda: T.max_and_argmax(x, axis=1)[0],
        "nnet:softmax": lambda: T.nnet.softmax(x),
        "nnet:log_softmax": lambda: T.nnet.log_softmax(x),
        "nnet:relu": lambda: T.nnet.relu(x - 0.5),
        "nnet:categorical_crossentropy": lambda: T.nnet.categorical_crossentropy(
            T.nnet.softmax(x), y),
        "nnet:binary_crossentropy": lambda: T.nnet.binary_crossentropy(T.nnet.sigmoid(x), y),
        "dot:outer": lambda: T.outer(v, u),
        "dot:matmul": lambda: T.matmul(x, w),
        "dot:tensordot": lambda: T.tensordot(x, w, axes=1),
        "dot:batched_dot": lambda: T.batched_dot(T.stack([x, y]), T.stack([w.T, w.T]).dimshuffle(0, 2, 1)),
        "shape:reshape": lambda: T.reshape(x, (C, R)),
        "shape:flatten": lambda: T.flatten(x),
        "shape:concatenate": lambda: T.concatenate([x, y], axis=0),
        "shape:stack": lambda: T.stack([x, y]),
        "shape:repeat": lambda: T.repeat(x, 2, axis=0),
        "shape:tile": lambda: T.tile(x, (2, 1)),
        "shape:expand_dims": lambda: T.expand_dims(x, 0) * 2,
        "shape:zeros_like": lambda: T.zeros_like(x) + y,
        "shape:alloc": lambda: T.alloc(np.float32(1.5), R, C) + x,
        "shape:arange": lambda: T.arange(R) * 2,
        "shape:eye": lambda: T.eye(R) + 0,
        "shape:diag": lambda: T.diag(v),
        "index:slice": lambda: x[1:5, 2],
        "index:set_subtensor": lambda: T.set_subtensor(x[1:3], y[1:3]),
        "index:inc_subtensor": lambda: T.inc_subtensor(x[:, 2:4], y[:, 2:4]),
        "index:take": lambda: T.take(x, T.cast(T.arange(3), "int64"), axis=0),
        "index:advanced": lambda: x[T.cast(T.arange(4) * 2, "int64")],
        "index:bool_mask": lambda: x[T.gt(x, 0.5)],     # data-dependent shape: numpy steps
    }
    for name, build in candidates.items():
        try:
            outs[name] = build()
        except (AttributeError, TypeError, ValueError, NotImplementedError):
            pass            # not in the library (yet): nothing to build for cuda
    return outs


def every_op_graph():
    x, y, z = T.fmatrix("x"), T.fmatrix("y"), T.fmatrix("z")
    i, j = T.imatrix("i"), T.imatrix("j")
    w, v, u = T.fmatrix("w"), T.fvector("v"), T.fvector("u")
    outs = _elemwise_table(x, y, z, i, j)
    outs.update(_other_table(x, y, w, v, u))
    return [x, y, z, i, j, w, v, u], outs


@pytest.fixture(scope="module")
def every_op():
    """One cuda function computing every op unfused (optimizer=None): one kernel per op."""
    ins, outs = every_op_graph()
    f = tvmsym.function(ins, list(outs.values()), target="cuda",
                        mode=tvmsym.Mode(optimizer=None), on_unused_input="ignore")
    shapes = [(R, C)] * 5 + [(C, K), (C,), (C,)]
    build = f._build(tuple(shapes))
    return f, build, dict(zip(outs, range(len(outs)))), shapes


def test_every_op_is_placed_on_the_gpu(every_op):
    f, build, names, _ = every_op
    nodes = f.maker.fgraph.toposort()
    host = [n for n in nodes if not is_on_gpu(n.op) and not isinstance(n.op, (GpuFromHost, HostFromGpu))]
    # only shape metadata and shape arithmetic stay on the host: known at build time, no kernel
    assert all(hasattr(n.op, "infer_value") or all(o in build.values for o in n.outputs)
               for n in host), host
    assert all(isinstance(o.owner.op, HostFromGpu) for o in f.maker.fgraph.outputs)
    kinds = [s.label for s in build.steps]
    assert "cpu" not in kinds and "host" not in kinds and build.host_lib is None


def test_every_op_builds_a_cuda_kernel_with_launch_bounds(every_op):
    f, build, names, _ = every_op
    imports = build.lib.mod.imports
    assert [m.kind for m in imports] == ["cuda"]       # no host-side fallback hidden
    src = build.as_text("cuda")
    kernels = dict((name, int(b or 1)) for b, name in KERNEL.findall(src))
    gpu_steps = [s.name for s in build.steps if s.label == "gpu"]
    assert len(gpu_steps) >= len(names)                # one kernel per op, at least
    for step in gpu_steps:
        own = [k for k in kernels if k == f"{step}_kernel" or k.startswith(f"{step}_kernel_")]
        assert own, f"{step} ({build.rules[step]}) has no CUDA kernel"
        assert all(0 < kernels[k] <= 1024 for k in own)
        # launch bounds are printed for every kernel with more than one thread
        assert all(f"__launch_bounds__({kernels[k]}) {k}(" in src for k in own if kernels[k] > 1)
    # every definition is declared once and defined once
    assert src.count("__global__") == 2 * len(kernels)
    # the schedules: shared-memory tiling for matmul, warp shuffles for row reductions
    rules = set(build.rules.values())
    assert "injective_rule" in rules
    if "dot:matrix.matrix" in names:
        assert "Matmul" in rules and "__shared__" in src
    if "reduce:sum:1" in names:
        assert "__shfl_down_sync" in src


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_every_op_compiles_to_ptx_with_nvcc(every_op):
    f, build, names, _ = every_op
    ptx = build.as_text("ptx")                      # one nvcc run for all kernels
    assert ".target sm_90" in ptx.splitlines()
    entries = re.findall(r"^\.visible \.entry (\w+)\(", ptx, re.M)
    assert sorted(entries) == sorted(build.kernels)
    assert f.as_text("ptx") == ptx                     # the function's view of the same build


def test_as_text_stages(every_op):
    f, build, _, shapes = every_op
    assert "T.thread_binding" in build.as_text("tir") and "blockIdx.x" in build.as_text("tir")
    assert "define" in build.as_text("llvm")           # the host side that launches the kernels
    with pytest.raises(ValueError, match="unknown stage 'bogus'"):
        build.as_text("bogus")


# --------------------------------------------------------------------------- running
@pytest.mark.skipif(gpu_present(), reason="this machine has a GPU")
def test_calling_without_a_gpu_raises_a_clear_error():
    from tvmsym.targets.target import NoCudaDeviceError
    f = seed_function()
    a = np.ones((2, 3), "float32")
    with pytest.raises(NoCudaDeviceError) as e:
        f(a, a)
    assert str(e.value) == NO_GPU_MESSAGE
    assert isinstance(e.value, RuntimeError)
    assert "__global__" in f.as_text("cuda")       # the build itself needed no GPU


def test_a_cuda_function_with_nothing_on_the_gpu_runs_anywhere():
    x = T.matrix("x")
    f = tvmsym.function([x], x, target="cuda")
    a = np.arange(6, dtype="float32").reshape(2, 3)
    out = f(a)
    np.testing.assert_array_equal(out, a)
    assert out is not a


@pytest.mark.gpu
def test_seed_graph_runs_on_the_gpu():
    f = seed_function()
    a = np.random.rand(2, 3).astype("float32")
    b = np.random.rand(2, 3).astype("float32")
    np.testing.assert_allclose(f(a, b), (a + b) * a, rtol=1e-6)


@pytest.mark.gpu
def test_every_op_runs_on_the_gpu_and_matches_the_cpu(every_op):
    f, build, names, shapes = every_op
    rng = np.random.default_rng(0)
    args = [rng.uniform(0.1, 0.9, s).astype("float32") for s in shapes[:3]]
    args += [rng.integers(1, 50, s).astype("int32") for s in shapes[3:5]]
    args += [rng.uniform(0.1, 0.9, s).astype("float32") for s in shapes[5:]]
    ins, outs = every_op_graph()
    cpu = tvmsym.function(ins, list(outs.values()), mode=tvmsym.Mode(optimizer=None),
                          on_unused_input="ignore", target="cpu")
    got = f(*args)
    assert len(got) == len(names)
    for name, g, c in zip(names, got, cpu(*args)):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6, err_msg=name)


# --------------------------------------------------------------------------- the per-call loop, loopback
# A cuda build's run loop (GpuFromHost / HostFromGpu as TVM device arrays, inplace kernels on
# transferred buffers, device copies of build-time values, host steps in between) executed on
# a loopback device: tvm.cpu(0) stands in for the GPU and the device kernels get CPU schedules.
# This is not a GPU run (the gpu-marked tests are); it checks the executor logic here.
def loopback(f, *arrays):
    from tvmsym.runtime.cuda import CudaBuild
    arrays = [np.ascontiguousarray(a) for a in arrays]
    b = CudaBuild(f._plan, tuple(a.shape for a in arrays), f.target, loopback=True)
    return b.run(arrays)


def test_loopback_seed_graph_with_inplace_on_the_transferred_buffer():
    f = seed_function()
    a = np.random.rand(3, 5).astype("float32")
    b = np.random.rand(3, 5).astype("float32")
    a0 = a.copy()
    (out,) = loopback(f, a, b)
    np.testing.assert_allclose(out, (a + b) * a, rtol=1e-6)
    np.testing.assert_array_equal(a, a0)            # the user's array is never written


def test_loopback_host_op_between_gpu_ops():
    x, y = T.matrix("x"), T.matrix("y")
    f = tvmsym.function([x, y], T.exp(HostSort()(x + y)) * 2, target="cuda")
    a = np.random.rand(3, 5).astype("float32")
    b = np.random.rand(3, 5).astype("float32")
    (out,) = loopback(f, a, b)
    np.testing.assert_allclose(out, np.exp(np.sort(a + b, axis=-1)) * 2, rtol=1e-6)


def test_loopback_shape_values_reductions_and_dot():
    """Device copies of build-time values (alloc dims, reshape target), reductions, matmul."""
    x, y, w = T.fmatrix("x"), T.fmatrix("y"), T.fmatrix("w")
    outs = [T.zeros_like(x) + y, T.reshape(x * 2, (x.shape[1], x.shape[0])) if _has_indexing() else x * 2,
            T.sum(x, axis=1), T.max(x, axis=0), T.argmax(x, axis=1), T.dot(x, w)]
    f = tvmsym.function([x, y, w], outs, target="cuda")
    rng = np.random.default_rng(1)
    a, b, c = (rng.uniform(-1, 1, s).astype("float32") for s in ((5, 7), (5, 7), (7, 3)))
    got = loopback(f, a, b, c)
    want = [b, (a * 2).reshape(7, 5) if _has_indexing() else a * 2, a.sum(1), a.max(0),
            a.argmax(1), a @ c]
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)


def _has_indexing():
    try:
        T.fmatrix().shape[0]
        return True
    except TypeError:
        return False


def numpy_eval(fgraph, arrays):
    """The graph evaluated node by node with each op's numpy reference (``perform``)."""
    env = dict(zip(fgraph.inputs, arrays))
    for node in fgraph.toposort():
        vals = node.op.perform(node, [env[i] if i in env else i.data for i in node.inputs])
        env.update(zip(node.outputs, vals))
    return [env[o] if o in env else o.data for o in fgraph.outputs]


@pytest.mark.slow
def test_loopback_every_op_matches_the_numpy_reference(every_op):
    f, build, names, shapes = every_op
    rng = np.random.default_rng(0)
    args = [rng.uniform(0.1, 0.9, s).astype("float32") for s in shapes[:3]]
    args += [rng.integers(1, 50, s).astype("int32") for s in shapes[3:5]]
    args += [rng.uniform(0.1, 0.9, s).astype("float32") for s in shapes[5:]]
    got = loopback(f, *args)
    with np.errstate(all="ignore"):
        want = numpy_eval(f.maker.fgraph, args)
    assert len(got) == len(names)
    for name, g, r in zip(names, got, want):
        assert g.dtype == r.dtype and g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=1e-6, err_msg=name)


def _logreg(target, seed):
    """The Theano tutorial's logistic regression (small), compiled for ``target``."""
    rng = np.random.RandomState(seed)
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = tvmsym.shared(rng.randn(20), name="w"), tvmsym.shared(0., name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = tvmsym.grad(cost, [w, b])
    train = tvmsym.function([x, y], [p_1 > 0.5, xent], target=target,
                           updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    return train, w, b


def test_logistic_regression_training_on_cuda():
    """Fused multi-output kernels, GEMV, reductions and shared-variable updates on cuda."""
    rng = np.random.RandomState(0)
    D = (rng.randn(50, 20), rng.randint(size=50, low=0, high=2).astype("float64"))
    gpu, wg, bg = _logreg("cuda", 1)
    cpu, wc, bc = _logreg("cpu", 1)
    nodes = gpu.maker.fgraph.toposort()
    sent = sorted(n.inputs[0].name for n in nodes if isinstance(n.op, GpuFromHost))
    assert sent == ["x", "y"]        # each input crosses once; shared ones live on the device
    assert sum(isinstance(n.op, HostFromGpu) for n in nodes) == 2    # 2 outputs; updates stay
    key = tuple(np.shape(a) for a in D) + tuple(sv.container.value.shape for sv in gpu._shared)
    from tvmsym.runtime.cuda import CudaBuild
    real = CudaBuild(gpu._plan, key, gpu.target)
    assert "Fallback" not in real.rules.values() and "GEMV" in real.rules.values()
    assert {s.label for s in real.steps} == {"to_gpu", "gpu", "to_host"}
    # the same function's run loop, shared-variable updates included, on the loopback device
    gpu._builds[key] = CudaBuild(gpu._plan, key, gpu.target, loopback=True)
    for _ in range(5):
        (pg, eg), (pc, ec) = gpu(*D), cpu(*D)
    np.testing.assert_allclose(wg.get_value(), wc.get_value(), rtol=1e-12)
    np.testing.assert_allclose(bg.get_value(), bc.get_value(), rtol=1e-12)
    np.testing.assert_allclose(eg, ec, rtol=1e-12)
    np.testing.assert_array_equal(pg, pc)


def test_library_ops_without_gpu_kernels_run_on_the_host_between_transfers():
    """sort (numpy) and cumsum (topi's CPU scan) stay on the host; the rest is on the GPU."""
    if not (hasattr(T, "sort") and hasattr(T, "cumsum")):
        pytest.skip("sort/cumsum not in the library")
    x = T.fmatrix("x")
    f = tvmsym.function([x], T.cumsum(T.sort(x * 2, axis=1), axis=1) + 1, target="cuda")
    ops = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert ops == ["GpuFromHost", "GpuElemwise", "HostFromGpu", "Sort", "CumOp", "GpuFromHost",
                   "GpuElemwise", "HostFromGpu"], ops
    a = np.random.rand(4, 6).astype("float32")
    from tvmsym.runtime.cuda import CudaBuild
    b = CudaBuild(f._plan, ((4, 6),), f.target)
    assert [s.label for s in b.steps] == ["to_gpu", "gpu", "to_host", "host", "cpu", "to_gpu",
                                        "gpu", "to_host"]
    (out,) = loopback(f, a)
    np.testing.assert_allclose(out, np.cumsum(np.sort(a * 2, axis=1), axis=1) + 1, rtol=1e-6)


def test_ptx_without_nvcc_says_what_is_missing(monkeypatch):
    from tvmsym.runtime.cuda import CudaBuild
    f = seed_function()
    b = CudaBuild(f._plan, ((2, 3), (2, 3)), f.target)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match=r"as_text\('ptx'\) needs nvcc \(the CUDA toolkit\) on "
                                           r"PATH; as_text\('cuda'\) gives the CUDA C without it"):
        b.as_text("ptx")
    assert "k2_kernel" in b.as_text("cuda")


def test_large_full_reductions_use_many_threads():
    """Reductions to one value run across thread blocks (partials, then a combine kernel)."""
    from tvmsym.runtime.cuda import CudaBuild
    x = T.fmatrix("x")
    f = tvmsym.function([x], [T.sum(x), T.max(x), T.argmax(x)], target="cuda")
    b = CudaBuild(f._plan, ((512, 1024),), f.target)
    for s in b.steps:
        if s.label == "gpu":
            own = {k: v for k, v in b.kernels.items() if k.startswith(f"{s.name}_kernel")}
            assert max(own.values()) >= 256, (s.name, own)     # the pass over the data
    assert "__shfl_down_sync" in b.as_text("cuda")           # cross-thread, within blocks


# --------------------------------------------------------------------------- host independence
_SUM_CUDA = ("import tvmsym, tvmsym.tensor as T\n"
             "x = T.fvector('x')\n"
             "f = tvmsym.function([x], x.sum(), target='cuda')\n"
             "print(f.as_text('cuda', shapes=[(1 << 20,)]))\n")


def test_cuda_sum_kernel_does_not_depend_on_the_hosts_thread_count():
    """The lowering knows its target: a cuda kernel is lowered for the GPU, never sliced for
    the host's thread pool (it was: a GpuSum_0_rf split of 1 with TVM_NUM_THREADS=1, 16 on a
    16-core host)."""
    srcs = []
    for threads in ("1", "8"):
        env = dict(os.environ, TVM_NUM_THREADS=threads)
        p = subprocess.run([sys.executable, "-c", _SUM_CUDA], env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        srcs.append(p.stdout)
    assert "__global__" in srcs[0]
    assert srcs[0] == srcs[1]


def test_lowering_reads_the_machine_not_the_host():
    """The same sum lowered for a 1-thread and an 8-thread CPU differs (parallel slices of a
    full reduction), and for the GPU it is the same whatever host the build runs on."""
    from tvmsym.lowering import machine
    from tvmsym.lowering.lower import infer_shapes, lower_step, plan
    from tvmsym.symbolic.fgraph import FunctionGraph
    x = T.fvector("x")
    fg = FunctionGraph([x], [x.sum()])
    pl = plan(fg)
    shapes = infer_shapes(pl, [(1 << 20,)])
    st = pl.steps[0]

    def stages(m):
        _, outs = lower_step(st, shapes, None, m)
        seen, todo = set(), list(outs)
        while todo:
            t = todo.pop()
            if t.op.name not in seen:
                seen.add(t.op.name)
                todo += list(t.op.input_tensors)
        return sorted(seen)
    one, eight = machine.Machine("llvm", 32, 1), machine.Machine("llvm", 32, 8)
    assert stages(one) != stages(eight)            # the CPU lowering does use the threads
    assert not any(n.endswith("_part") for n in stages(machine.GPU))
