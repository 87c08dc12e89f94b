"""CPU schedules of the convolutions, as properties of the built kernels (never one CPU's
text): LeNet's second layer (20 -> 50 channels, 5x5, batch 128) forward, filter gradient
and input gradient, and the fused training layer (conv -> max pool -> tanh(+ bias) keeping
the correlation and the pooled max), are parallel over every core of the pool in balanced
shares and vectorized at the host's vector width (``tvmsym._tvm.vector_bytes()``)."""
import re

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import _tvm
from tvmsym.lowering.machine import host
from tvmsym.tensor.nnet import abstract_conv
from tvmsym.tensor.signal import pool

N, C, H, CO, K = 128, 20, 12, 50, 5
O = H - K + 1


def _funcs(tir):
    """{kernel name: its TVMScript text}."""
    parts = re.split(r"\n    @T\.prim_func[^\n]*\n", tir)
    return {re.search(r"def (\w+)\(", p).group(1): p for p in parts[1:]}


def _enclosing_loops(text, block):
    """The ``for`` lines enclosing the first ``T.sblock(block...)`` (outermost first)."""
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if re.search(rf'T\.sblock\("{block}', ln))
    indent = len(lines[at]) - len(lines[at].lstrip())
    loops = []
    for ln in reversed(lines[:at]):
        ind = len(ln) - len(ln.lstrip())
        if ind < indent and ln.lstrip().startswith("for "):
            loops.append(ln.strip())
            indent = ind
    return loops[::-1]


def _check_parallel(loops, threads, f=None):
    par = [m for ln in loops for m in re.findall(r"T\.parallel\(([^()]+)\)", ln)]
    assert len(par) == 1, loops
    if not par[0].isdigit():
        # a batch-generic kernel: the parallel loop is the symbolic batch (one class
        # variable), which the cores split when the kernel runs: TVM's parallel launch gives
        # each task ceil(n / tasks) images (shares differing by at most one image)
        assert re.fullmatch(r"n\d+", par[0]), par
        assert f is None or re.search(r"sdiv i32 %\w+, %num_task", f.as_text("llvm"))
        return
    n = int(par[0])
    # every core gets work, in shares that differ by at most one iteration in a quarter
    assert n >= threads and (n % threads == 0 or n >= 4 * threads), (n, threads)


@pytest.fixture(scope="module")
def conv2():
    x, W, dy = T.tensor4("x"), T.tensor4("W"), T.tensor4("dy")
    fns = {"forward": (tvmsym.function([x, W], T.nnet.conv2d(x, W, filter_shape=(CO, C, K, K))), "x W"),
           "grad weights": (tvmsym.function([x, dy], abstract_conv.conv2d_grad_wrt_weights(x, dy, (CO, C, K, K))),
                            "x dy"),
           "grad inputs": (tvmsym.function([W, dy], abstract_conv.conv2d_grad_wrt_inputs(dy, W, (N, C, H, H))),
                           "W dy")}
    rng = np.random.default_rng(0)
    vals = {"x": rng.standard_normal((N, C, H, H)).astype("float32"),
            "W": rng.standard_normal((CO, C, K, K)).astype("float32"),
            "dy": rng.standard_normal((N, CO, O, O)).astype("float32")}
    out = {}
    for what, (f, args) in fns.items():
        f(*[vals[a] for a in args.split()])
        out[what] = f
    return out


@pytest.mark.parametrize("what", ["forward", "grad weights", "grad inputs"])
def test_lenet_conv2_kernels_parallel_and_vectorized(conv2, what):
    f = conv2[what]
    lanes = _tvm.vector_bytes() // 4
    threads = host().threads
    kernels = _funcs(f.as_text("tir"))
    tiled = [t for t in kernels.values() if re.search(r'T\.sblock\("cv_[cr]_\d+x\d+_update"', t)]
    assert len(tiled) == 1, list(kernels)
    text = tiled[0]
    mr, nr = map(int, re.search(r'T\.sblock\("cv_[cr]_(\d+)x(\d+)_update"', text).groups())
    assert nr % lanes == 0 and mr >= 1                    # whole vectors of the host's width
    loops = _enclosing_loops(text, r"cv_[cr]_\d+x\d+_update")
    assert f"T.vectorized({nr})" in loops[-1], loops      # the tile's columns: the innermost loop
    if threads >= 2:
        _check_parallel(loops, threads, f)
    assert f"<{lanes} x float>" in f.as_text("llvm")


@pytest.mark.parametrize("layer", [(1, 28, 20), (20, 12, 50)], ids=["conv1", "conv2"])
def test_fused_training_layer_parallel_and_vectorized(layer):
    """LeNet's layers in a training graph: one kernel computes, per image in parallel, the
    product, the kept correlation and the pooled max + tanh(+ bias) as vectors (conv2's 50
    output channels are not whole register-tile rows: the padded rows are computed too)."""
    ci, hw, co = layer
    x, W, W2 = T.tensor4("x"), T.tensor4("W"), T.tensor4("W2")
    b = T.vector("b")
    c = T.nnet.conv2d(x, W, filter_shape=(co, ci, 5, 5))
    h = T.tanh(pool.pool_2d(c, (2, 2), ignore_border=True) + b.dimshuffle("x", 0, "x", "x"))
    cost = T.tanh(T.nnet.conv2d(h, W2)).sum()
    f = tvmsym.function([x, W, b, W2], tvmsym.grad(cost, [W, b]))
    rng = np.random.default_rng(1)
    f(rng.standard_normal((128, ci, hw, hw)).astype("float32"), rng.standard_normal((co, ci, 5, 5)).astype("float32"),
      rng.standard_normal(co).astype("float32"), rng.standard_normal((4, co, 3, 3)).astype("float32"))
    lanes = _tvm.vector_bytes() // 4
    fused = [t for t in _funcs(f.as_text("tir")).values() if "_raw" in t]
    assert len(fused) == 1
    text = fused[0]
    epi = _enclosing_loops(text, r"\w+_crop_v0")           # tanh(max + b) and the pooled max
    raw = _enclosing_loops(text, r"\w+_raw")               # the kept correlation
    prod = _enclosing_loops(text, r"cv_c_\d+x\d+_update")
    assert epi[0] == raw[0] == prod[0]                     # one batch loop: per image, in cache
    assert "T.vectorized(" in epi[-1] and "T.vectorized(" in raw[-1]
    width = int(re.search(r"T\.vectorized\((\d+)\)", epi[-1]).group(1))
    assert width >= min(lanes, (hw - 4) // 2)               # a pooled row or a whole vector
    if host().threads >= 2:
        _check_parallel(prod, host().threads, f)
