"""Run by tests/distributed/test_mpi.py under ``mpiexec -n N`` (or alone: one rank).

    python _worker.py <scenario>

Every rank checks its own results against numpy: the data of every rank is drawn from
a seed that names the rank, so each rank can rebuild the others' data and compute what
the collective must give.  A passing check prints ``CHECK <name> <rank> <size> ok``; a
failing one raises, which ends the job (tvmsym.distributed's MPI abort path).
"""
from __future__ import annotations

import functools
import os
import sys
import time

import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym import distributed as dist
from tvmsym.tensor import io

R, N = dist.rank(), dist.size()
# one kernel cache for every rank and run of the test module (safe for concurrent writers:
# atomic renames), so a kernel is built once, not once per rank
theano.config.compiledir = os.environ["TVMSYM_TEST_COMPILEDIR"]


def say(line):
    sys.stdout.write(line + "\n")     # one write: the ranks' lines stay whole
    sys.stdout.flush()


def ok(name):
    say(f"CHECK {name} {R} {N} ok")


def data(r, shape, dtype, salt=0):
    rng = np.random.default_rng([r, salt])
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-100 if np.dtype(dtype).kind == "i" else 0, 100, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def same(a, b, what, rtol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=what)
        assert np.array_equal(np.isnan(a), np.isnan(b)), what
        if a.dtype.kind == "f":      # -0.0 stays -0.0
            z = (a == 0) & (b == 0)
            assert np.array_equal(np.signbit(a[z]), np.signbit(b[z])), f"{what}: signed zeros"
    else:
        assert np.array_equal(a, b), f"{what}: {a} != {b}"


# ------------------------------------------------------------------------------ values
def check_values():
    cases = [((3, 4), "float64"), ((5,), "float32"), ((), "float64"), ((1, 1), "float32"),
             ((0, 3), "float64"), ((7,), "int32"), ((2, 3), "int8"), ((4,), "uint16"),
             ((6,), "bool"), ((3,), "float16"), ((2, 2), "complex128")]
    fns = []
    for k, (shape, dtype) in enumerate(cases):
        x = T.tensor(dtype, (False,) * len(shape), name=f"x{k}")
        ops = ["sum", "max", "min"] + (["mean"] if dtype[0] in "fc" else [])
        if dtype == "complex128":
            ops = ["sum", "mean"]
        outs = [dist.allreduce(x, op) for op in ops]
        fns.append((shape, dtype, ops, theano.function([x], outs)))
    # sums in rank order (x0 + x1 + ...): -0.0 + -0.0 is -0.0 (numpy's sum starts from +0.0)
    reduce = {"sum": lambda a: functools.reduce(np.add, a), "max": lambda a: np.maximum.reduce(a, axis=0),
              "min": lambda a: np.minimum.reduce(a, axis=0),
              "mean": lambda a: (functools.reduce(np.add, a) / np.asarray(N, a.dtype)).astype(a.dtype)}
    for k, (shape, dtype, ops, f) in enumerate(fns):
        alls = np.stack([data(r, shape, dtype, k) for r in range(N)]) if shape != (0, 3) else \
            np.zeros((N,) + shape, dtype)
        if dtype == "bool":
            reduce_b = {"sum": np.logical_or.reduce, "max": np.logical_or.reduce,
                        "min": np.logical_and.reduce}
            want = [reduce_b[op](alls, axis=0) for op in ops]
        else:
            want = [reduce[op](alls) for op in ops]
        got = f(alls[R])
        for op, g, w in zip(ops, got, want):
            same(g, w, f"allreduce{{{op}}} {dtype}{shape}", rtol=1e-2 if dtype == "float16" else 1e-6)
    # IEEE: NaN wins max/min (numpy), -0.0 and inf survive, int8 sums wrap
    x = T.dvector("x")
    f = theano.function([x], [dist.allreduce(x, "max"), dist.allreduce(x, "min"),
                              dist.allreduce(x, "sum")])
    special = np.array([np.nan if R == N - 1 else 1.0, -0.0, np.inf if R == 0 else 2.0, -np.inf])
    alls = np.stack([np.array([np.nan if r == N - 1 else 1.0, -0.0, np.inf if r == 0 else 2.0, -np.inf])
                     for r in range(N)])
    for g, w in zip(f(special), [np.maximum.reduce(alls), np.minimum.reduce(alls), functools.reduce(np.add, alls)]):
        same(g, w, "IEEE specials")
    i8 = T.bvector("i8")
    g = theano.function([i8], dist.allreduce(i8, "sum"))(np.full(3, 100, np.int8))
    same(g, np.full(3, 100 * N, np.int64).astype(np.int8), "int8 wrap")
    ok("allreduce_values")

    # broadcast from the first and the last rank
    for root in sorted({0, N - 1}):
        for shape, dtype in [((3, 2), "float32"), ((), "int64"), ((4,), "bool"), ((0,), "float64")]:
            x = T.tensor(dtype, (False,) * len(shape), name="x")
            got = theano.function([x], dist.broadcast(x, root))(data(R, shape, dtype, 7))
            same(got, data(root, shape, dtype, 7), f"broadcast root {root} {dtype}{shape}")
    ok("broadcast_values")

    # allgather: the same rows everywhere, and uneven rows (rank r has r rows: rank 0 none)
    x = T.fmatrix("x")
    fe = theano.function([x], dist.allgather(x) * 2)
    same(fe(data(R, (2, 3), "float32", 8)),
         np.concatenate([data(r, (2, 3), "float32", 8) for r in range(N)]) * 2, "allgather even")
    fu = theano.function([x], dist.allgather(x, even=False).sum(axis=1))
    same(fu(data(R, (R, 3), "float32", 9)),
         np.concatenate([data(r, (r, 3), "float32", 9) for r in range(N)]).sum(axis=1),
         "allgather uneven", rtol=1e-5)
    ok("allgather_values")


# ------------------------------------------------------------------------------ SGD
def mlp(dtype, batch_rows, global_rows, mean_allreduce):
    """A 5-7-3 MLP step; ``mean_allreduce``: mean loss + allreduce-mean (even shards),
    else sum of the rows' losses / global rows + allreduce-sum (uneven shards)."""
    rng = np.random.default_rng(0)
    params = [theano.shared(rng.standard_normal(s).astype(dtype) * 0.5, name=n)
              for s, n in [((5, 7), "W1"), ((7,), "b1"), ((7, 3), "W2"), ((3,), "b2")]]
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    W1, b1, W2, b2 = params
    h = T.tanh(T.dot(x, W1) + b1)
    err = ((T.dot(h, W2) + b2 - y) ** 2).sum(axis=1)
    loss = err.mean() if mean_allreduce else err.sum() / global_rows
    grads = theano.grad(loss, params)
    return params, x, y, loss, grads


def check_sgd():
    steps, rows = 4, 12 if N != 3 else 8           # 8 rows over 3 ranks: 3, 3, 2
    batches = [(data(100 + s, (rows, 5), "float64"), data(200 + s, (rows, 3), "float64"))
               for s in range(steps)]
    for mean in ([True, False] if rows % N == 0 else [False]):
        params, x, y, loss, grads = mlp("float64", None, rows, mean)
        grads = [dist.allreduce(g, "mean" if mean else "sum") for g in grads]
        train = theano.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
        # rank 0's initial weights everywhere: perturb the others' first
        for p in params:
            p.set_value(p.get_value() + R)
        dist.broadcast_shared(params, root=0)
        for xb, yb in dist.shard(batches):
            train(xb, yb)
        # one rank, the concatenated batches, no collectives
        ref, rx, ry, rloss, rgrads = mlp("float64", None, rows, True)
        rtrain = theano.function([rx, ry], rloss, updates=[(p, p - 0.1 * g) for p, g in zip(ref, rgrads)])
        for xb, yb in batches:
            rtrain(xb, yb)
        for p, q in zip(params, ref):
            np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{p.name} after data-parallel SGD (mean={mean})")
    sizes = [len(dist.shard(b[0])) for b in batches[:1]]
    say(f"SHARD {R} {sizes[0]}")
    ok("sgd")


# ------------------------------------------------------------------------------ grads
def check_grads():
    pt = [data(R, (3, 2), "float64", 11)]
    dist.verify_grad(lambda a: dist.allreduce(a * a, "sum"), pt)
    dist.verify_grad(lambda a: dist.allreduce(T.sin(a), "mean") * a, pt)
    dist.verify_grad(lambda a: dist.allreduce(a, "max") * 3, pt)
    dist.verify_grad(lambda a: dist.allreduce(a, "min") ** 2, pt)
    dist.verify_grad(lambda a: dist.broadcast(a, N - 1) * a, pt)
    dist.verify_grad(lambda a: T.tanh(dist.allgather(a)), pt)
    dist.verify_grad(lambda a: dist.allgather(a, even=False) ** 2, [data(R, (R + 1, 2), "float64", 12)])
    # a wrong gradient is caught: a collective whose grad rule would forget the other ranks
    if N > 1:
        from tvmsym.symbolic.grad import GRAD
        from tvmsym.symbolic.ops.distributed import AllReduce
        saved = GRAD[AllReduce]
        GRAD[AllReduce] = lambda node, inputs, gouts: [gouts[0]]
        try:
            dist.verify_grad(lambda a: dist.allreduce(a * a, "sum"), pt)
        except AssertionError:
            pass
        else:
            raise AssertionError("dist.verify_grad accepted a wrong gradient")
        finally:
            GRAD[AllReduce] = saved
    ok("verify_grad")


# ------------------------------------------------------------------------------ p2p
def check_p2p():
    nxt, prv = (R + 1) % N, (R - 1) % N
    x = T.dmatrix("x")
    # a ring: every rank sends to the next and receives from the previous (blocking forms;
    # the executor starts the receive and the send before it waits on either)
    sent = io.send(x * 2, nxt, 11)
    got = io.recv((2, 3), "float64", prv, 11)
    f = theano.function([x], [sent, got + 1])
    s, g = f(data(R, (2, 3), "float64", 13))
    assert bool(s) is True
    same(g, data(prv, (2, 3), "float64", 13) * 2 + 1, "ring send/recv")
    # non-blocking forms with explicit waits
    req, buf = io.irecv((4,), "float32", prv, 12)
    sreq, _ = io.isend(T.cast(x.sum(axis=0).repeat(2)[:4], "float32"), nxt, 12)
    f2 = theano.function([x], [io.MPIRecvWait(12)(req, buf), io.MPISendWait(12)(sreq, _)])
    g2, _s = f2(data(R, (2, 3), "float64", 14))
    same(g2, data(prv, (2, 3), "float64", 14).sum(axis=0).repeat(2)[:4].astype("float32"),
         "isend/irecv", rtol=1e-6)
    ok("p2p")


# ------------------------------------------------------------------------------ bucketing
def check_bucketing():
    params, x, y, loss, grads = mlp("float32", None, 12, True)
    grads = [dist.allreduce(g, "mean") for g in grads]
    ups = [(p, p - 0.1 * g) for p, g in zip(params, grads)]
    f = theano.function([x, y], [loss] + grads)
    text = theano.printing.debugprint(f, file="str")
    assert text.count("AllReduce{mean}") == 1, text
    with theano.config.change_flags(optimizer_excluding="collectives"):
        f1 = theano.function([x, y], [loss] + grads)
    assert theano.printing.debugprint(f1, file="str").count("AllReduce{mean}") == 4
    xb, yb = data(R, (4, 5), "float32", 15), data(R, (4, 3), "float32", 16)
    dist.reset_stats()
    a = f(xb, yb)
    st = dist.stats()
    b = f1(xb, yb)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-6)
    if N > 1:
        assert st["messages"] == 1 and st["meta_messages"] == 1, st
        assert st["bytes"] == 4 * (5 * 7 + 7 + 7 * 3 + 3), st
    with theano.config.change_flags(distributed_check_meta=False):    # no shape check message
        dist.reset_stats()
        c = f(xb, yb)
        assert dist.stats()["meta_messages"] == 0
    for u, v in zip(a, c):
        np.testing.assert_array_equal(u, v)
    del ups
    ok("bucketing")


# ------------------------------------------------------------------------------ device=cuda
def check_device():
    """device=cuda on the loopback device (tvm.cpu(0) stands in for the GPU): with CUDA-aware
    MPI the collectives get the device tensors themselves (DLPack into mpi4py), else they
    are staged through the host; both give numpy's answer."""
    from tvmsym.runtime.cuda import CudaBuild
    a = data(R, (2, 3), "float32", 17)
    alls = [data(r, (2, 3), "float32", 17) for r in range(N)]
    want = [functools.reduce(np.add, [np.exp(v) for v in alls]) * 2, alls[N - 1] + 1,
            np.concatenate(alls) * 3, np.maximum.reduce(alls)]
    for flag, comm_kind in [("yes", "gpu_comm"), ("no", "host")]:
        with theano.config.change_flags(distributed_cuda_aware=flag):
            x = T.fmatrix("x")
            f = theano.function([x], [dist.allreduce(T.exp(x), "sum") * 2, dist.broadcast(x + 1, N - 1),
                                      dist.allgather(x * 3), dist.allreduce(x, "max")], target="cuda")
        b = CudaBuild(f._plan, (a.shape,), f.target, loopback=True)
        kinds = [s.label for s in b.steps]
        assert kinds.count(comm_kind) == 4, (flag, kinds)
        dist.reset_stats()
        for g, w in zip(b.run([a]), want):
            np.testing.assert_allclose(g, w, rtol=1e-6, err_msg=f"cuda_aware={flag}")
        if N > 1:
            assert dist.stats()["messages"] == 4, dist.stats()
    ok("device")


# ------------------------------------------------------------------------------ failures
def scenario_raise():
    x = T.dvector("x")
    f = theano.function([x], dist.allreduce(x, "sum"))
    f(np.ones(3))
    if R == N - 1:
        f(np.ones((3, 3)))           # a wrong input: this rank raises inside the call
    f(np.ones(3))                    # the others wait here until they hear of it
    say(f"UNREACHABLE {R}")


def scenario_mismatch():
    x = T.dvector("x")
    f = theano.function([x], dist.allreduce(x, "sum"))
    try:
        f(np.ones(3 + R))
    except dist.DistributedError as e:
        say(f"MISMATCH {R} {e}")
    xf = T.fvector("xf")
    g = theano.function([xf], dist.allreduce(xf, "sum"))
    try:
        (f if R == 0 else g)(np.ones(3, "float64" if R == 0 else "float32"))
    except dist.DistributedError as e:
        say(f"DTYPE {R} {e}")
    same(f(np.ones(3)), np.full(3, float(N)), "after a mismatch")      # the job goes on
    ok("mismatch")


def scenario_timeout():
    theano.config.distributed_timeout = 1.5
    x = T.dvector("x")
    f = theano.function([x], dist.allreduce(x, "sum"))
    if R == 0:
        t0 = time.perf_counter()
        try:
            f(np.ones(3))
        except dist.DistributedTimeout as e:
            say(f"TIMEOUT {R} {time.perf_counter() - t0:.2f} {e}")
            raise
    time.sleep(30)                   # the other ranks never join: rank 0 must give up


SCENARIOS = {
    "main": [check_values, check_sgd, check_grads, check_p2p, check_bucketing, check_device],
    "raise": [scenario_raise],
    "mismatch": [scenario_mismatch],
    "timeout": [scenario_timeout],
}

if __name__ == "__main__":
    for fn in SCENARIOS[sys.argv[1]]:
        fn()
    say(f"DONE {R} {N}")
