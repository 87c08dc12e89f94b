"""Shared variables under device=cuda live on the device.

Run with the loopback device (``CudaFunction.loopback``: ``tvm.cpu(0)`` stands in
for the GPU and the device kernels get CPU schedules), so the whole per-call loop
-- device-resident storage, the device double buffer, lazy copy back -- runs on
a machine without a GPU.  ``@pytest.mark.gpu`` tests repeat it on a real GPU.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic.rewrites.placement import GpuFromHost, HostFromGpu


def cuda_function(*args, loopback=True, **kw):
    f = tvmsym.function(*args, target="cuda", **kw)
    assert f.target.kind == "cuda"
    f.loopback = loopback
    return f


def is_device_tensor(a):
    return a is not None and not isinstance(a, np.ndarray) and hasattr(a, "numpy")


# --------------------------------------------------------------------------- placement
SGD_GPU = """\
HostFromGpu(gpuarray) [id A] ''   3
 |GpuCAReduce{add} [id B] ''   2
   |GpuElemwise{Mul}[]<gpuarray> [id C] ''   1
     |w [id D]
     |GpuFromHost<None> [id E] ''   0
       |x [id F]
GpuElemwise{Composite{(i1 - (0.5 * i0))}}[]<gpuarray> [id G] ''   4
 |GpuFromHost<None> [id E] ''   0
 |w [id D]
"""


def sgd(w, loopback=True):
    x = T.dvector("x")
    return cuda_function([x], (w * x).sum(), updates=[(w, w - 0.5 * x)], loopback=loopback)


def test_debugprint_has_no_transfer_for_the_shared_input_and_its_update():
    w = tvmsym.shared(np.arange(3.), name="w")
    f = sgd(w)
    assert tvmsym.printing.debugprint(f, file="str") == SGD_GPU
    fg = f.maker.fgraph
    assert fg.resident_inputs == {1} and fg.resident_outputs == {1}


SORT_GPU = """\
HostFromGpu(gpuarray) [id A] ''   4
 |GpuElemwise{Add}[(0, 0)]<gpuarray> [id B] ''   3
   |GpuFromHost<None> [id C] ''   2
   | |Sort{axis=-1, quicksort} [id D] ''   1
   |   |HostFromGpu(gpuarray) [id E] 'w'   0
   |     |w [id F]
   |TensorConstant{(1,) of 1.0} [id G]
GpuElemwise{Add}[]<gpuarray> [id H] ''   5
 |w [id F]
 |TensorConstant{(1,) of 1.0} [id G]
"""


def test_a_host_op_reading_a_shared_variable_gets_it_through_host_from_gpu():
    if not hasattr(T, "sort"):
        pytest.skip("sort not in the library")
    w = tvmsym.shared(np.array([3., 1., 2.]), name="w")
    f = cuda_function([], T.sort(w) + 1, updates=[(w, w + 1)])
    assert tvmsym.printing.debugprint(f, file="str") == SORT_GPU
    np.testing.assert_array_equal(f(), [2., 3., 4.])
    np.testing.assert_array_equal(f(), [3., 4., 5.])
    np.testing.assert_array_equal(w.get_value(), [5., 3., 4.])


def test_a_cpu_function_is_not_placed():
    w = tvmsym.shared(np.arange(3.), name="w")
    f = tvmsym.function([], w * 2, updates=[(w, w + 1)])
    assert type(f).__name__ == "Function"
    assert not hasattr(f.maker.fgraph, "resident_inputs")


# --------------------------------------------------------------------------- storage on the device
def test_storage_stays_on_the_device_and_updates_swap_two_device_buffers():
    w = tvmsym.shared(np.arange(3.), name="w")
    f = sgd(w)
    x = np.ones(3)
    c = w.container
    assert f(x) == 3.0
    assert is_device_tensor(c.dev) and c._value is None      # host copy stale, not made
    first = c.dev
    assert f(x) == 1.5
    second = c.dev
    assert second is not first and c.dev_spare is first
    f(x)
    assert c.dev is first and c.dev_spare is second          # the double buffer, swapped
    assert c._value is None
    np.testing.assert_array_equal(w.get_value(), [-1.5, -0.5, 0.5])
    assert c._value is not None and c.dev is first           # copied back once, device kept


def test_get_value_and_set_value_round_trip():
    w = tvmsym.shared(np.arange(3.), name="w")
    f = sgd(w)
    f(np.ones(3))
    v = w.get_value()
    assert isinstance(v, np.ndarray) and v.dtype == np.float64
    np.testing.assert_array_equal(v, [-0.5, 0.5, 1.5])
    v[0] = 100.0                                               # a copy: storage unchanged
    np.testing.assert_array_equal(w.get_value(), [-0.5, 0.5, 1.5])
    t = w.get_value(borrow=True, return_internal_type=True)
    assert t is w.container.dev                                # the device tensor itself
    np.testing.assert_array_equal(t.numpy(), [-0.5, 0.5, 1.5])
    b = w.get_value(borrow=True)
    assert isinstance(b, np.ndarray)                           # borrow: a host copy too
    np.testing.assert_array_equal(b, [-0.5, 0.5, 1.5])
    w.set_value(np.array([10., 20., 30.]))
    assert w.container.dev is None                             # sent by the next call
    np.testing.assert_array_equal(w.get_value(), [10., 20., 30.])
    assert f(np.array([1., 0., 0.])) == 10.0
    np.testing.assert_array_equal(w.get_value(), [9.5, 20., 30.])
    w.set_value(np.array([1., 1.]))                           # a new shape: a new build
    with pytest.raises(ValueError, match=r"Input dimension mismatch in GpuElemwise\{Mul\}"):
        f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), [1., 1.])
    assert f(np.array([2., 3.])) == 5.0
    np.testing.assert_array_equal(w.get_value(), [0., -0.5])


def test_a_failed_call_changes_nothing():
    w = tvmsym.shared(np.arange(4.), name="w")
    i = T.lscalar("i")
    f = cuda_function([i], w[i] * 2, updates=[(w, w * 3 + 1)])
    assert f(1) == 2.0
    np.testing.assert_array_equal(w.get_value(), [1., 4., 7., 10.])
    f(0)
    before = w.get_value()
    dev, spare = w.container.dev, w.container.dev_spare
    with pytest.raises(IndexError):
        f(7)
    assert w.container.dev is dev
    np.testing.assert_array_equal(w.get_value(), before)
    assert f(2) == 2 * before[2]
    np.testing.assert_array_equal(w.get_value(), before * 3 + 1)
    assert w.container.dev is spare                            # the spare was still usable


def test_swapping_updates_keep_one_tensor_per_variable():
    a = tvmsym.shared(np.array([1., 2.]), name="a")
    b = tvmsym.shared(np.array([5., 6.]), name="b")
    f = cuda_function([], a + b, updates=[(a, b), (b, a)])
    np.testing.assert_array_equal(f(), [6., 8.])
    assert a.container.dev is not b.container.dev
    np.testing.assert_array_equal(a.get_value(), [5., 6.])
    np.testing.assert_array_equal(b.get_value(), [1., 2.])
    g = cuda_function([], a.sum(), updates=[(a, a * 2), (b, a * 2)])
    g()
    assert a.container.dev is not b.container.dev
    a.set_value(np.zeros(2))
    np.testing.assert_array_equal(b.get_value(), [10., 12.])
    g()
    np.testing.assert_array_equal(b.get_value(), [0., 0.])


def test_constant_and_host_computed_updates_are_uploaded():
    w = tvmsym.shared(np.arange(3.), name="w")
    k = tvmsym.shared(np.int64(0), name="k")
    f = cuda_function([], w.sum(), updates=[(w, T.zeros_like(w) + 7.0), (k, k + 1)])
    assert f() == 3.0
    assert f() == 21.0
    assert is_device_tensor(w.container.dev)
    np.testing.assert_array_equal(w.get_value(), [7., 7., 7.])
    assert k.get_value() == 2


def test_pickle_and_deepcopy_keep_the_current_value_on_the_host():
    import copy
    import pickle
    w = tvmsym.shared(np.arange(3.), name="w")
    f = sgd(w)
    f(np.ones(3))
    for w2 in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        assert w2.container.dev is None
        np.testing.assert_array_equal(w2.get_value(), [-0.5, 0.5, 1.5])
    f(np.ones(3))
    np.testing.assert_array_equal(w2.get_value(), [-0.5, 0.5, 1.5])     # independent copies
    np.testing.assert_array_equal(w.get_value(), [-1., 0., 1.])


# --------------------------------------------------------------------------- cpu and cuda together
def test_cpu_and_cuda_functions_on_the_same_variable_stay_consistent():
    w = tvmsym.shared(np.arange(3.), name="w")
    x = T.dvector("x")
    gpu = sgd(w)
    cpu = tvmsym.function([x], (w * x).sum(), updates=[(w, w * 2)])
    read = tvmsym.function([], w + 0)
    ref = np.arange(3.)
    one = np.ones(3)
    for step in range(6):
        if step % 3 == 2:
            assert cpu(one) == ref.sum()
            ref = ref * 2
        else:
            assert gpu(one) == ref.sum()
            ref = ref - 0.5
        np.testing.assert_array_equal(read(), ref)             # a CPU read copies back
        np.testing.assert_array_equal(w.get_value(), ref)


def _logreg(target, seed, N=60, feats=30, loopback=True):
    rng = np.random.RandomState(seed)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2).astype("float64"))
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = tvmsym.shared(rng.randn(feats), name="w"), tvmsym.shared(0., name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = tvmsym.grad(cost, [w, b])
    kw = dict(updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    if target == "cuda":
        train = cuda_function([x, y], [p_1 > 0.5, xent], loopback=loopback, **kw)
    else:
        train = tvmsym.function([x, y], [p_1 > 0.5, xent], target=target, **kw)
    return D, train, w, b


def _train_and_compare(loopback):
    D, gpu, wg, bg = _logreg("cuda", 3, loopback=loopback)
    _, cpu, wc, bc = _logreg("cpu", 3)
    nodes = gpu.maker.fgraph.toposort()
    assert sorted(n.inputs[0].name for n in nodes if isinstance(n.op, GpuFromHost)) == ["x", "y"]
    assert sum(isinstance(n.op, HostFromGpu) for n in nodes) == 2      # the two user outputs
    for _ in range(30):
        (pg, eg), (pc, ec) = gpu(*D), cpu(*D)
    assert wg.container._value is None and is_device_tensor(wg.container.dev)
    np.testing.assert_allclose(wg.get_value(), wc.get_value(), rtol=1e-10)
    np.testing.assert_allclose(bg.get_value(), bc.get_value(), rtol=1e-10)
    np.testing.assert_allclose(eg, ec, rtol=1e-10)
    np.testing.assert_array_equal(pg, pc)
    assert bg.get_value().shape == () and isinstance(bg.get_value(), np.ndarray)


def test_logistic_regression_training_on_loopback_cuda_matches_cpu():
    _train_and_compare(loopback=True)


@pytest.mark.gpu
def test_logistic_regression_training_on_the_gpu_matches_cpu():
    _train_and_compare(loopback=False)


@pytest.mark.gpu
def test_storage_on_the_gpu_is_a_cuda_tensor():
    import tvm
    w = tvmsym.shared(np.arange(3.), name="w")
    f = sgd(w, loopback=False)
    f(np.ones(3))
    assert w.container.dev.device == tvm.cuda(0)
    np.testing.assert_array_equal(w.get_value(), [-0.5, 0.5, 1.5])
