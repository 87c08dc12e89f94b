"""Deep and large graphs: no recursion limits, rewrites in near-linear work, fusion's
incremental order equal to a fresh toposort per group."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import tvmsym as th
import tvmsym.tensor as T
from tvmsym.gof import fg as fgraph_module  # FunctionGraph lives in the graph core
from tvmsym.symbolic import scalar as ps
from tvmsym.symbolic.fgraph import FunctionGraph
from tvmsym.symbolic.printing import debugprint, pp
from tvmsym.symbolic.rewrites import fusion as fusion_module, pipeline


def _scaled_chain(depth):
    x = T.fmatrix("x")
    z = x
    for _ in range(depth):
        z = z * np.float32(0.5) + x
    return x, z


# --------------------------------------------------------------------------- deep graphs compile
def test_700_deep_tanh_chain_compiles_and_matches_numpy():
    x = T.fmatrix("x")
    z = x
    for _ in range(700):
        z = T.tanh(z) * x + z
    f = th.function([x], z)
    sops = [n.op.scalar_op for n in f.maker.fgraph.toposort() if hasattr(n.op, "scalar_op")]
    comps = [s for s in sops if isinstance(s, ps.Composite)]
    assert comps and all(c.n_ops <= fusion_module.MAX_OPS and c.cost <= fusion_module.MAX_COST
                         for c in comps)
    a = np.random.default_rng(0).uniform(-0.01, 0.01, (3, 5)).astype("float32")
    e = a.copy()
    for _ in range(700):
        e = np.tanh(e) * a + e
    np.testing.assert_allclose(f(a), e, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_3000_deep_chain_compiles_and_matches_numpy():
    x, z = _scaled_chain(3000)
    f = th.function([x], z)
    comps = [n.op.scalar_op for n in f.maker.fgraph.toposort()
             if isinstance(getattr(n.op, "scalar_op", None), ps.Composite)]
    assert len(comps) >= 6000 // fusion_module.MAX_OPS         # split by the cap
    a = np.random.default_rng(1).standard_normal((2, 3)).astype("float32")
    e = a.copy()
    for _ in range(3000):
        e = e * np.float32(0.5) + a
    np.testing.assert_allclose(f(a), e, rtol=1e-5)


def test_grad_of_a_deep_chain():
    x, z = _scaled_chain(2000)
    g = th.grad(z.sum(), x)             # d z_n / dx = 1 + 0.5 + 0.25 + ... = 2
    x2, z2 = _scaled_chain(120)
    f = th.function([x2], th.grad(z2.sum(), x2))
    np.testing.assert_allclose(f(np.ones((2, 3), "float32")), np.full((2, 3), 2.0), rtol=1e-6)
    assert g.ndim == 2 and g.dtype == "float32"


def test_pp_and_debugprint_of_a_deep_graph():
    x, z = _scaled_chain(3000)
    want = "x"
    for _ in range(3000):
        want = f"(({want} * TensorConstant{{0.5}}) + x)"
    assert pp(z) == want
    text = debugprint(z, file="str")
    lines = text.splitlines()
    # per level: add, mul, DimShuffle, constant, x; then the innermost x
    assert len(lines) == 5 * 3000 + 1
    assert lines[0] == "Elemwise{add,no_inplace} [id A] ''   "
    assert lines[1] == " |Elemwise{mul,no_inplace} [id B] ''   "
    assert lines[-1].strip().startswith("|x [id ")
    assert sum(line.endswith(lines[-1].strip()) for line in lines) == 3001


def test_deep_composite_program_name_pickle_and_impl():
    e = ("i", 0)
    for _ in range(3000):
        e = (ps.add, (ps.mul, e, ("c", np.float32(0.5), "float32")), ("i", 0))
    c = ps.Composite([e], ["float32"])
    assert c.n_ops == 6000 and c.name == "Composite{...6000 ops}"
    assert c.output_dtypes("float32") == ("float32",)
    c2 = pickle.loads(pickle.dumps(c))
    assert c2 == c and hash(c2) == hash(c)
    a = np.array([1.0, -2.0], "float32")
    want = a.copy()
    for _ in range(3000):
        want = want * np.float32(0.5) + a
    np.testing.assert_allclose(c.impl(a), want, rtol=1e-6)


def test_composite_shares_equal_subtrees_and_keeps_signed_zero_apart():
    t = (ps.add, ("i", 0), ("i", 1))
    c = ps.Composite([(ps.mul, t, (ps.add, ("i", 0), ("i", 1)))], ["float64", "float64"])
    assert c.name == "Composite{((i0 + i1) * (i0 + i1))}"
    assert c.n_ops == 2            # the two (i0 + i1) are one entry
    z = ps.Composite([(ps.mul, ("i", 0), ("c", -0.0, "float64")),
                      (ps.mul, ("i", 0), ("c", 0.0, "float64"))], ["float64"])
    assert [str(v) for v in z.impl(np.array(1.0))] == ["-0.0", "0.0"]


# --------------------------------------------------------------------------- same decisions
UNARY = [T.tanh, T.exp, T.neg, T.abs, T.sqr, T.sigmoid, lambda v: v * 0.5, lambda v: 1 - v]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, T.maximum]


def random_graph(seed, n_nodes=80, n_out=3):
    """A random DAG of elementwise ops over two matrices and a row, with sums, dot
    products (fusion barriers) and several outputs."""
    rng = np.random.default_rng(seed)
    x, y, v = T.matrix("x"), T.matrix("y"), T.row("v")
    pool = [x, y, v]
    for _ in range(n_nodes):
        r = rng.random()
        a = pool[rng.integers(max(0, len(pool) - 12), len(pool))]
        if r < 0.45:
            new = UNARY[rng.integers(len(UNARY))](a)
        elif r < 0.85:
            new = BINARY[rng.integers(len(BINARY))](a, pool[rng.integers(len(pool))])
        elif r < 0.92:
            new = a.sum(axis=1, keepdims=True)
        else:
            new = T.dot(a, a.T)
        if new.broadcastable == (False, False) or rng.random() < 0.5:
            pool.append(new)
    return [x, y, v], [pool[-1 - k] for k in range(n_out)]


def _optimize_with(ins, outs, fuse):
    fg = FunctionGraph(ins, outs)
    for name, fn, levels in pipeline.STAGES:
        if "fast_run" in levels:
            (fuse if name == "fusion" else fn)(fg)
    return fg


@pytest.mark.parametrize("seed", range(25))
def test_fusion_order_is_a_fresh_toposort_per_group(seed):
    """The incremental order makes the decisions of the plain algorithm (a fresh
    toposort after every group): same printed graph, and the graph's bookkeeping is
    what a full rebuild computes."""
    ins, outs = random_graph(seed)
    fast = _optimize_with(ins, outs, fusion_module.fusion)
    plain = _optimize_with(ins, outs, fusion_module._fusion_restarting)
    assert debugprint(fast, file="str") == debugprint(plain, file="str")
    nodes, clients = set(fast.apply_nodes), {k: sorted(map(repr, v)) for k, v in fast.clients.items()}
    fast.rebuild()
    assert nodes == fast.apply_nodes
    assert clients == {k: sorted(map(repr, v)) for k, v in fast.clients.items()}


def test_replace_imports_and_prunes_like_rebuild():
    x = T.matrix("x")
    y = T.exp(x) + 1
    fg = FunctionGraph([x], [y * 2])
    (xi,) = fg.inputs
    add = fg.outputs[0].owner.inputs[0]
    fg.replace(add, T.tanh(xi) * 3)          # the exp and add nodes leave, tanh/mul come in
    nodes = set(fg.apply_nodes)
    fg.rebuild()
    assert nodes == fg.apply_nodes
    assert sorted(str(n.op) for n in nodes) == sorted(
        ["Elemwise{tanh,no_inplace}", "Elemwise{mul,no_inplace}", "Elemwise{mul,no_inplace}",
         "InplaceDimShuffle{x,x}", "InplaceDimShuffle{x,x}"])


# --------------------------------------------------------------------------- linear work
def _walked_nodes(monkeypatch, outputs_of):
    """Nodes emitted by every topological walk during optimize (toposorts + fusion's)."""
    count = [0]
    real_toposort = fgraph_module.toposort
    real_walk = fusion_module._Order._walk

    def toposort(*a, **k):
        r = real_toposort(*a, **k)
        count[0] += len(r)
        return r

    def walk(self, *a, **k):
        r = real_walk(self, *a, **k)
        count[0] += len(r)
        return r

    monkeypatch.setattr(fgraph_module, "toposort", toposort)
    monkeypatch.setattr(fusion_module._Order, "_walk", walk)
    ins, outs = outputs_of
    fg = FunctionGraph(ins, outs)
    n = len(fg.apply_nodes)
    count[0] = 0
    pipeline.optimize(fg)
    return count[0] / n


def _chain_io(depth):
    x, z = _scaled_chain(depth)
    return [x], [z]


def _wide_io(terms):
    x, y = T.fmatrix("x"), T.fmatrix("y")
    total = x
    for j in range(terms):
        total = total + T.exp(x * np.float32(1.0 / (j + 1))) * y
    return [x, y], [total]


def _mlp_grad(layers):
    x = T.fmatrix("x")
    h, params = x, []
    for j in range(layers):
        W, b = T.fmatrix(f"W{j}"), T.fvector(f"b{j}")
        params += [W, b]
        h = T.tanh(T.dot(h, W) + b)
    return [x] + params, th.grad((h ** 2).sum(), params)


@pytest.mark.parametrize("family", ["chain", "wide"])
def test_rewrite_walks_grow_linearly(monkeypatch, family):
    """Deterministic work measure: nodes visited by topological walks per graph node
    stays flat from a small to a 4x larger graph (it grew with the graph before: one
    toposort per fused group)."""
    make = {"chain": _chain_io, "wide": _wide_io}[family]
    small, large = (_walked_nodes(monkeypatch, make(k)) for k in (100, 400))
    assert large <= 1.25 * small, (small, large)


def test_rewrite_walks_of_a_gradient_graph(monkeypatch):
    """A deep MLP's gradient: fusion re-walks part of the order once per layer (the
    layer's group meets its inputs in another order than the Composite numbers them),
    far from one toposort per group."""
    per_node = _walked_nodes(monkeypatch, _mlp_grad(40))
    assert per_node < 40
