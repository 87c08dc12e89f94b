"""The op contract: every Op class of tvmsym is complete, so a new op cannot be half-registered.

For every op class (found by walking the package) at least one instance, taken from the
graphs of ``CORPUS`` (before and after the rewrite pipeline), must

* compare equal to itself and hash, and survive pickling (equal and same hash after a round
  trip when its identity is its props; same printed form otherwise);
* have a lowering rule (``lowering/rules``; scalar ops: the scalar table) or declare
  ``host_only = True`` (or a reason): the executor then runs its ``perform`` on the host;
* have a gradient (``symbolic/grad_rules`` or a ``grad`` method; scalar ops: the scalar
  gradient table) or declare ``no_grad = True`` (or a reason).

A new op family adds an expression making its ops to ``CORPUS`` (one line each).
"""
import copy
import importlib
import pickle
import pkgutil

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym import distributed as dist
from tvmsym.compile.ops import as_op
from tvmsym.ifelse import ifelse
from tvmsym.lowering.rules import LOWER, SCALAR, find_rule
from tvmsym.symbolic.fgraph import FunctionGraph
from tvmsym.symbolic.grad import SCALAR_GRAD, find_grad
from tvmsym.symbolic.graph import Op, ancestors
from tvmsym.symbolic.rewrites import optimize
from tvmsym.symbolic.rewrites.placement import OnGpu
from tvmsym.symbolic.scalar import Composite, ScalarOp
from tvmsym.targets import get_target
from tvmsym.tensor import io as tensor_io


@as_op(itypes=[T.dvector], otypes=[T.dvector])
def _numpy_twice(a):
    return 2 * a


def _corpus():
    x, y, m = T.dmatrix("x"), T.dmatrix("y"), T.fmatrix("m")
    v, s, n = T.dvector("v"), T.dscalar("s"), T.iscalar("n")
    t, iv = T.dtensor3("t"), T.ivector("iv")
    srng = tvmsym.tensor.shared_randomstreams.RandomStreams(0)
    seq, _ = tvmsym.scan(lambda a, acc: acc + a, sequences=v, outputs_info=T.zeros_like(s))
    return [
        # elemwise and every scalar op (the scalar ops come from tvmsym.symbolic.scalar too)
        T.tanh(x) + T.exp(y) * 2 - T.log1p(abs(x)), x.T, T.cast(x, "float32"),
        # reductions, products, nnet
        x.sum(0), x.prod(), x.mean(1), x.max(0), x.min(1), x.argmax(0), x.argmin(1),
        T.any(x > 0), T.all(x > 0), x.var(0, ddof=1),
        T.dot(x, y), T.dot(x, v), T.matmul(t, x), T.tensordot(t, x, [[2], [0]]),
        T.nnet.softmax(x), T.nnet.logsoftmax(x), T.nnet.relu(T.dot(x, y) + v),
        # shape
        x.shape[0] * 2, x.reshape((n, -1)), T.flatten(t, 2), T.concatenate([x, y]),
        T.split(v, [1, v.shape[0] - 1], 2)[1], T.repeat(v, 2), T.tile(x, (2, 1)),
        T.alloc(s, n, 3), T.arange(n), T.eye(n), T.diag(v), T.diagonal(x),
        T.squeeze(x, 0), T.shape_i(t, 1), T.flip(x, 0), T.roll(v, 1), T.specify_shape(v, (3,)),
        # indexing
        x[1:, ::2], x[iv], T.set_subtensor(x[0], v), T.inc_subtensor(x[iv], 1.0),
        T.inc_subtensor(x[iv, iv], 1.0),
        # sort, cumulative, control flow, random, debugging, user ops
        T.sort(v), T.argsort(v), T.cumsum(x, 0), T.cumprod(v),
        ifelse(s > 0, T.dot(x, y), y * 2), seq, srng.normal((3,)), srng.uniform((2,)),
        tvmsym.printing.Print("p")(v), _numpy_twice(v),
        tvmsym.gradient.grad_clip(s, -1, 1), tvmsym.gradient.zero_grad(s),
        tvmsym.gradient.disconnected_grad(s), tvmsym.gradient.consider_constant(s),
        # gradients (their own ops: ScanGrad, counts of reductions)
        *tvmsym.grad((T.sum(seq) + x.mean() + m.sum()), [v, x, m]),
        tvmsym.gradient.jacobian(T.tanh(v), v),
        # rewrites' own ops: FusedDot (dot + epilogue), Composite (fusion)
        T.tanh(T.dot(T.dmatrix("a"), T.dmatrix("b"))) + 1,
        # rng: MRG31k3p streams (uniform, multinomial, choice), nonzero, helper scalar ops
        *_rng_corpus(x, y, v),
        # tvmsym.distributed: collectives (ReduceScatter: allgather's gradient) and Theano's
        # MPI point-to-point ops (tvmsym.tensor.io)
        dist.allreduce(v, "sum") + dist.broadcast(v, 0), *tvmsym.grad(dist.allgather(x).sum(), [x]),
        tensor_io.send(v, 0, 1), tensor_io.recv((2,), "float64", 0, 1),
        # linalg helper (issue 17): nlinalg / slinalg host ops, special functions, extra_ops
        *_linalg_corpus(x, y, v, s, iv),
        # convolutions and pooling (conv branch): abstract and Corr forms, gradients, FusedConv
        *_conv_corpus(),
        # complex numbers and sparse matrices (issue 17; tests/ops/test_complex.py, tests/sparse)
        *_complex_and_sparse_corpus(),
        # hardening (issue 11): logsumexp's max with a -inf identity (MaxOrLowest)
        T.logsumexp(x, axis=1),
        # arch (issue 12): sibling reductions of one input -> one SiblingReduce kernel
        y.sum(1) + y.max(1) + (y - 0.25).mean(1),
        # lstm (issue 13): an increment of zeros by an index vector -> ScatterRowsIntoZeros
        T.inc_subtensor(T.zeros((n, 3))[iv], x),
    ]


def _linalg_corpus(x, y, v, s, iv):
    from tvmsym.tensor import extra_ops as eo, nlinalg as nl, slinalg as sl
    return [
        nl.matrix_inverse(x), nl.pinv(x), nl.det(x), *nl.eig(x), *nl.eigh(x), *nl.svd(x),
        *nl.qr(x), *nl.lstsq(x, y, -1), sl.cholesky(x), sl.solve(x, y),
        sl.solve_lower_triangular(x, v), sl.eigvalsh(x, y), sl.expm(x), sl.kron(x, y),
        *tvmsym.grad(nl.det(x) + nl.eigh(x)[1].sum() + sl.cholesky(x).sum() + sl.expm(x).sum()
                     + sl.solve(x, v).sum() + nl.pinv(x).sum() + sl.eigvalsh(x).sum(), [x, v]),
        T.psi(v), T.tri_gamma(v), T.erfinv(v), T.erfcinv(v), T.erfcx(v), T.i0(v), T.i1(v),
        T.j0(v), T.j1(v), T.jv(s, v), T.iv(s, v), T.gammainc(s, v), T.gammaincc(s, v),
        T.gammau(s, v), T.gammal(s, v), T.chi2sf(v, s),
        eo.bincount(iv), eo.searchsorted(v, v), *eo.unique(v, True, True, True), eo.compress(v > 0, v),
        eo.ravel_multi_index((iv, iv), (3, 4)), *eo.unravel_index(iv, (3, 4)), eo.cpu_contiguous(v),
    ]


def _rng_corpus(x, y, v):
    from tvmsym.sandbox.rng_mrg import MRG_RandomStreams
    mrg = MRG_RandomStreams(5)
    return [mrg.uniform((2, 3)), mrg.multinomial(pvals=x), mrg.choice(size=1, p=x, replace=False),
            T.nonzero(v)[0], T.arctan2(x, y), T.arccosh(x), T.arcsinh(x), T.arctanh(x),
            T.second(x, y), T.inverse_permutation(T.lvector())]


def _conv_corpus():
    from tvmsym.tensor.signal import pool
    ci, cw, cb = T.dtensor4("ci"), T.dtensor4("cw"), T.dvector("cb")
    c = T.nnet.conv2d(ci, cw)
    mp = pool.pool_2d(c, (2, 2), ignore_border=True)
    gw, gi = tvmsym.grad((c ** 2).sum(), [cw, ci])
    mpg = tvmsym.grad(mp.sum(), ci)
    fused = T.tanh(pool.pool_2d(T.nnet.conv2d(T.dtensor4("fi"), T.dtensor4("fw")), (2, 2), ignore_border=True)
                   + cb.dimshuffle("x", 0, "x", "x"))
    return [fused, mp, gw, gi, *tvmsym.grad((gw ** 2).sum() + (gi ** 2).sum(), [ci, cw]),
            tvmsym.grad(pool.pool_2d(ci, (2, 2), ignore_border=True, mode="sum").sum(), ci),
            tvmsym.grad((mpg ** 2).sum(), ci)]


def _complex_and_sparse_corpus():
    import tvmsym.sparse as S
    from tvmsym.symbolic.ops.complex import arctan2, hypot
    z, x, y = T.zmatrix("z"), T.dmatrix("cx"), T.dmatrix("cy")
    a, b = S.csr_matrix("sa", dtype="float64"), S.csr_matrix("sb", dtype="float64")
    c = T.real(T.exp(z) * T.conj(z)) + T.imag(z) + T.angle(z) + abs(T.complex(x, y))
    c = c + T.real(T.complex_from_polar(x, y)) + T.arctan2(x, y) + hypot(x, y) + arctan2(y, x)
    sd = S.structured_dot(a, x) + S.dot(a, y) + S.sp_sum(a + b, axis=0) + S.add(a, x)
    sd = sd + S.dense_from_sparse(S.mul(a, b) * 2.0 - a.T.T + S.csc_from_dense(x).T.T.T.T)
    sd = sd + S.sp_sum(S.true_dot(a, S.transpose(b))) + S.sp_sum(S.sampling_dot(x, y, b))
    sd = sd + S.dense_from_sparse(S.sp_zeros_like(a) + S.csr_from_dense(x))
    d = T.dvector("d")
    pat = S.SparseFromData("csr", [0, 1], [0, 1, 2], (2, 2))(d)
    st = S.sp_sum(S.clean(S.dcast(S.fcast(S.structured_exp(a))))) + S.csm_data(a).sum()
    st = st + T.cast(a.shape[0], "float64")
    cost = c.sum() + sd.sum() + S.sp_sum(pat) + st
    return [c, sd, pat, st, *tvmsym.grad(cost, [z, x, a, d])]


def _ops_of(outputs):
    ops = []
    for var in ancestors(outputs):
        if var.owner is not None:
            ops.append(var.owner.op)
    more = []
    for op in ops:
        sop = getattr(op, "scalar_op", None)
        if sop is not None:
            more.append(sop)
            if isinstance(sop, Composite):
                more += [n.op for n in sop.fgraph.toposort()] if hasattr(sop, "fgraph") else []
    return ops + more


def _all_op_classes():
    for m in pkgutil.walk_packages(tvmsym.__path__, "tvmsym."):
        if m.name.endswith(("__main__", ".demo")):
            continue
        importlib.import_module(m.name)

    def subs(c):
        for sc in c.__subclasses__():
            yield sc
            yield from subs(sc)
    return {c for c in subs(Op) if c.__module__.startswith("tvmsym.") and not issubclass(c, OnGpu)}


@pytest.fixture(scope="module")
def instances():
    outs = [o for o in _corpus() if o is not None]
    found = _ops_of(outs)
    for target in ("cpu", "cuda"):     # cuda: the placement stage's transfers
        fg = FunctionGraph([v for v in ancestors(outs) if v.owner is None
                            and not isinstance(v, tvmsym.Constant)], outs)
        fg.target = get_target(target)
        optimize(fg, "fast_run")
        found += _ops_of(fg.outputs)
    import tvmsym.symbolic.scalar as ps
    found += [o for o in vars(ps).values() if isinstance(o, ScalarOp)]
    by_class = {}
    for op in found:
        by_class.setdefault(type(op), op)
    return by_class


def _abstract(cls, classes):
    return cls.__name__.startswith("_") or any(c is not cls and issubclass(c, cls) for c in classes)


def test_every_op_class_has_an_instance_in_the_corpus(instances):
    classes = _all_op_classes()
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes
                     if c not in instances and not _abstract(c, classes))
    assert not missing, ("op classes no CORPUS expression makes (add one to "
                         f"tests/symbolic/test_op_contract.py): {missing}")


def _roundtrip(op):
    return pickle.loads(pickle.dumps(op, protocol=pickle.HIGHEST_PROTOCOL))


def test_eq_hash_pickle(instances):
    bad = []
    for cls, op in instances.items():
        try:
            assert op == op and not (op != op) and hash(op) == hash(op)
            assert op != object()
            back = _roundtrip(op)
            assert type(back) is type(op)
            if type(op).__eq__ is Op.__eq__:        # identity is the props
                assert back == op and hash(back) == hash(op)
                assert copy.copy(op) == op
            assert str(back) == str(op)
        except Exception as e:      # collect every failure, not only the first
            bad.append(f"{cls.__qualname__}: {type(e).__name__} {e}")
    assert not bad, bad


def _has(table, cls):
    return any(c in table for c in cls.__mro__)


def test_lowered_or_host_only(instances):
    bad = []
    for cls, op in instances.items():
        if isinstance(op, Composite):       # lowered and differentiated through its program
            continue                        # (lower_composite, composite_grad)
        lowered = _has(SCALAR, cls) if isinstance(op, ScalarOp) else find_rule(op) is not None
        if lowered and op.host_only:
            bad.append(f"{cls.__qualname__}: declared host_only but has a lowering rule")
        elif not lowered and not op.host_only:
            bad.append(f"{cls.__qualname__}: no lowering rule and not declared host_only")
    assert not bad, bad


def test_differentiable_or_no_grad(instances):
    bad = []
    for cls, op in instances.items():
        if isinstance(op, Composite):
            continue
        if isinstance(op, ScalarOp):
            has = _has(SCALAR_GRAD, cls) or type(op).grad is not ScalarOp.grad
        else:
            has = find_grad(op) is not None
        if not has and not op.no_grad:
            bad.append(f"{cls.__qualname__}: no gradient rule and not declared no_grad")
    assert not bad, bad


def test_declarations_are_class_attributes():
    for cls in _all_op_classes():
        for attr in ("host_only", "no_grad"):
            val = getattr(cls, attr)
            assert val is False or val is True or (isinstance(val, str) and val), (cls, attr)


def test_a_half_registered_op_is_caught():
    """The checks fail for an op with neither a lowering nor a declaration."""
    class Half(Op):
        __props__ = ("k",)

        def __init__(self, k):
            self.k = k
    op = Half(1)
    assert find_rule(op) is None and not op.host_only
    assert find_grad(op) is None and not op.no_grad
    assert op == Half(1) and hash(op) == hash(Half(1)) and op != Half(2)
    assert LOWER and SCALAR        # the tables the checks read are filled
    np.testing.assert_equal(len({Half(1), Half(1)}), 1)
