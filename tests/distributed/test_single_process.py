"""tvmsym.distributed in this process (no launcher): one rank, identity collectives, and
the graph-level machinery (side-effect order, no merging/folding, bucketing, errors)."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym import distributed as dist
from tvmsym.symbolic.fgraph import FunctionGraph
from tvmsym.symbolic.ops.distributed import AllReduce, side_effect_order
from tvmsym.tensor import io


def test_one_rank():
    assert (dist.rank(), dist.size(), dist.is_distributed()) == (0, 1, False)
    assert dist.backend().name == "single process"
    dist.barrier()


@pytest.fixture(scope="module")
def identity_fn():
    xs = [T.tensor(d, (False,) * nd, name=f"x{k}")
          for k, (d, nd) in enumerate([("float64", 2), ("float32", 0), ("int8", 1), ("bool", 1),
                                       ("float32", 3)])]
    outs = []
    for x in xs:
        ops = ["sum", "max", "min"] + (["mean"] if x.dtype[0] == "f" else [])
        outs += [dist.allreduce(x, op) for op in ops] + [dist.broadcast(x, 0)]
        if x.ndim:
            outs.append(dist.allgather(x))
    return xs, theano.function(xs, outs)


@pytest.mark.parametrize("shapes", [[(3, 4), (), (5,), (4,), (2, 1, 3)],
                                    [(1, 1), (), (1,), (1,), (1, 1, 1)],
                                    [(0, 3), (), (0,), (0,), (2, 0, 1)]])
def test_identity_collectives(identity_fn, shapes):
    """Size 1: every collective returns its input (values, dtype, shape; NaN, -0.0)."""
    xs, f = identity_fn
    rng = np.random.default_rng(0)
    vals = []
    for x, s in zip(xs, shapes):
        if x.dtype == "bool":
            vals.append(rng.random(s) < 0.5)
        elif x.dtype == "int8":
            vals.append(rng.integers(-128, 127, s).astype("int8"))
        else:
            v = rng.standard_normal(s).astype(x.dtype)
            if v.size >= 2:
                v.reshape(-1)[:2] = [np.nan, -0.0]
            vals.append(v)
    outs = iter(f(*vals))
    for x, v in zip(xs, vals):
        n = (4 if x.dtype[0] == "f" else 3) + 1 + (1 if x.ndim else 0)
        for _ in range(n):
            o = next(outs)
            assert o.dtype == v.dtype and o.shape == v.shape
            np.testing.assert_array_equal(o, v)
            if v.dtype.kind == "f":
                assert np.array_equal(np.signbit(o), np.signbit(v))


def test_grads_single_process():
    dist.verify_grad(lambda a: dist.allreduce(a * a, "sum"), [np.arange(6.0).reshape(3, 2)])
    dist.verify_grad(lambda a: dist.allreduce(a, "max") * dist.broadcast(a, 0),
                     [np.arange(4.0) - 1.5])
    dist.verify_grad(lambda a: T.tanh(dist.allgather(a, even=False)), [np.ones((2, 3)) * 0.3])
    theano.gradient.verify_grad(lambda a: dist.allreduce(T.exp(a), "mean"), [np.ones((2, 2))])


def test_p2p_to_itself():
    x = T.dvector("x")
    s = io.send(x + 1, 0, 5)
    r = io.recv((3,), "float64", 0, 5)
    f = theano.function([x], [s, r * 2])
    ok, got = f(np.arange(3.0))
    assert bool(ok) and np.array_equal(got, (np.arange(3.0) + 1) * 2)
    # the executor started both before waiting on either (Theano's mpi_send_wait_key order)
    kinds = [type(st.node.op).__name__ for st in f._plan.steps]
    assert kinds.index("MPISendWait") > kinds.index("MPIRecv")


def test_recv_without_send_is_an_error():
    f = theano.function([], io.recv((2,), "float32", 0, 77))
    with pytest.raises(RuntimeError, match="no one sent"):
        f()


def test_bad_arguments():
    with pytest.raises(ValueError, match="op must be one of"):
        dist.allreduce(T.dvector(), "prod")
    with pytest.raises(TypeError, match="mean"):
        dist.allreduce(T.ivector(), "mean")
    with pytest.raises(ValueError, match="root 3 is not a rank"):
        dist.broadcast(T.dvector(), 3)
    with pytest.raises(ValueError, match="cannot send to rank 1"):
        theano.function([], io.send(T.constant(np.ones(2)), 1, 0))()
    with pytest.raises(ValueError, match="0-d"):
        dist.allgather(T.dscalar())


def test_side_effect_order():
    """Starts early, waits late, lower tags first; collectives keep their relative order."""
    x = T.dvector("x")
    a = io.send(x * 2, 0, 3)
    b = io.recv((3,), "float64", 0, 3)
    c = dist.allreduce(x + 1)
    d = dist.allreduce(x - 1)
    fg = FunctionGraph([x], [a, b + c, d])
    order = side_effect_order(fg.toposort())
    names = [type(n.op).__name__ for n in order]
    assert names.index("MPISend") < names.index("MPISendWait")
    assert names.index("MPIRecv") < names.index("MPISendWait")
    assert max(names.index("MPIRecvWait"), names.index("MPISendWait")) == max(
        k for k, n in enumerate(order) if type(n.op).__name__ in ("MPIRecvWait", "MPISendWait"))
    ar = [n for n in order if isinstance(n.op, AllReduce)]
    base = [n for n in fg.toposort() if isinstance(n.op, AllReduce)]
    assert ar == base
    # every node once, every input before its user
    assert sorted(map(id, order)) == sorted(map(id, fg.toposort()))
    seen = set()
    for n in order:
        assert all(i.owner is None or i.owner in seen for i in n.inputs)
        seen.add(n)


def test_not_merged_nor_folded():
    """Two receives of the same shape/tag are two messages; a collective of a constant is not
    folded away (it is communication, not arithmetic)."""
    r1 = io.recv((2,), "float64", 0, 9)
    r2 = io.recv((2,), "float64", 0, 9)
    s1 = io.send(T.constant(np.array([1.0, 2.0])), 0, 9)
    s2 = io.send(T.constant(np.array([3.0, 4.0])), 0, 9)
    f = theano.function([], [s1, s2, r1, r2, dist.allreduce(T.constant(np.ones(3)))])
    _, _, g1, g2, g3 = f()
    assert np.array_equal(g1, [1, 2]) and np.array_equal(g2, [3, 4])
    text = theano.printing.debugprint(f, file="str")
    recvs = set(re.findall(r"MPIRecv\{[^}]*\}\.0 \[id (\w+)\]", text))
    assert len(recvs) == 2 and text.count("AllReduce{sum}") == 1, text


def test_bucketing_in_debugprint():
    x, b, s = T.dmatrix("x"), T.dvector("b"), T.dscalar("s")
    outs = [dist.allreduce(x * 2), dist.allreduce(b + 1), dist.allreduce(s), dist.allreduce(b, "max"),
            dist.allreduce(T.fvector("v"))]
    ins = [x, b, s, outs[4].owner.inputs[0]]
    f = theano.function(ins, outs)
    text = theano.printing.debugprint(f, file="str")
    # one float64 sum bucket (3 tensors), the max and the float32 sum alone
    assert text.count("AllReduce{sum}") == 2 and text.count("AllReduce{max}") == 1
    assert "Split{3}" in text and "Join" in text
    vals = [np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0]), 3.0, np.ones(4, "float32")]
    got = f(*vals)
    want = [vals[0] * 2, vals[1] + 1, np.array(3.0), vals[1], vals[3]]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with theano.config.change_flags(distributed_bucketing=False):
        f2 = theano.function(ins, outs)
    assert theano.printing.debugprint(f2, file="str").count("AllReduce{sum}") == 4
    # a dependent allreduce is not in the bucket of the one it reads
    y = dist.allreduce(x)
    z = dist.allreduce(y * 3)
    f3 = theano.function([x, b], [y, z, dist.allreduce(b)])
    t3 = theano.printing.debugprint(f3, file="str")
    assert t3.count("AllReduce{sum}") == 2
    np.testing.assert_array_equal(f3(vals[0], vals[1])[1], vals[0] * 3)


def test_shard():
    a = np.arange(10)
    assert np.array_equal(dist.shard(a), a)
    assert dist.shard_slice(8, 0, 3) == (0, 3) and dist.shard_slice(8, 2, 3) == (6, 8)
    assert [dist.shard_slice(2, r, 3) for r in range(3)] == [(0, 1), (1, 2), (2, 2)]
    xb, yb = dist.shard((a, a * 2))
    assert np.array_equal(yb, a * 2)
    batches = list(dist.shard([(a, a), (a[:3], a[:3])]))
    assert len(batches) == 2 and len(batches[1][0]) == 3
    assert [len(b) for b in dist.shard([a, a[:4]])] == [10, 4]      # a list: batches
    assert len(list(dist.shard(iter([a])))) == 1


def test_theano_io_graph_structure():
    """Theano's own tests of theano.tensor.io: the graph send/recv build."""
    x = io.recv((10, 10), "float64", 0, 11)
    assert x.dtype == "float64" and x.broadcastable == (False, False)
    recvnode = x.owner.inputs[0].owner
    assert (recvnode.op.source, recvnode.op.tag) == (0, 11)
    y = io.send(T.matrix("x"), 1, 11)
    sendnode = y.owner.inputs[0].owner
    assert (sendnode.op.dest, sendnode.op.tag) == (1, 11)
    assert io.mpi_send_wait_key(recvnode) == -1 and io.mpi_send_wait_key(x.owner) == 1
    assert io.mpi_tag_key(sendnode) == 11 and io.mpi_cmps[0](recvnode, x.owner) == -1
    assert theano.function([], [x + 1])     # Theano's test_can_make_function
