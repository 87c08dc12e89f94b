"""MRG_RandomStreams: the numbers of Theano 1.0's MRG31k3p for the same seed and calls.

The reference (mrg_reference.py) is a pure-Python MRG31k3p written from the algorithm with
C int32 wrap-around, stream states found by the transition matrices; tvmsym's numbers come
from the TVM kernel (lowering/rules/mrg.py)."""
import numpy as np
import pytest
from mrg_reference import Generator, box_muller, choice_walk, multinomial_walk

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.sandbox.rng_mrg import MRG_RandomStreams, guess_n_streams
from tvmsym.symbolic.ops.mrg import MRGUniform


def steps_of(f):
    return [(s.kind, type(s.node.op).__name__) for s in f._plan.steps]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_uniform_is_theanos_draw_for_draw(dtype):
    srng, ref = MRG_RandomStreams(seed=234), Generator(234)
    sizes = [(5, 7), (1,), (3, 1, 4), (13,), (100, 3)]
    outs = [srng.uniform(sz, dtype=dtype) for sz in sizes]
    f = theano.function([], outs)
    assert ("tvm", "MRGUniform") in steps_of(f)         # a TVM kernel, not a host step
    # reference: the streams of each call in creation order, then further draws per call
    states = []
    for sz in sizes:
        u, st = ref.uniform(sz, dtype)
        states.append(st)
    got = f()
    for sz, g in zip(sizes, got):
        assert g.dtype == dtype and g.shape == sz
    r2 = Generator(234)
    for sz, g in zip(sizes, got):
        u, _ = r2.uniform(sz, dtype)
        np.testing.assert_array_equal(g, u)
    # the stored stream states are the reference's after the draw
    for u, st in zip(outs, states):
        np.testing.assert_array_equal(u.rstate.get_value(), st)
    # a second call continues every stream
    again = f()
    for sz, g, st in zip(sizes, again, states):
        ns = st.shape[0]
        n = int(np.prod(sz))
        from mrg_reference import step
        st = [list(map(int, row)) for row in st]
        vals = []
        for i in range(n):
            st[i % ns], v = step(st[i % ns])
            vals.append(v)
        v = np.asarray(vals, "int64")
        exp = (v.astype("float32") * np.float32(4.6566126e-10) if dtype == "float32"
               else v * 2.0 ** -31).reshape(sz)
        np.testing.assert_array_equal(g, exp)


def test_low_high_nstreams_and_guess():
    srng, ref = MRG_RandomStreams(seed=(1, 2, 3, 4, 5, 6)), Generator([1, 2, 3, 4, 5, 6])
    u = srng.uniform((4, 6), low=-2.0, high=3.0, dtype="float32", nstreams=5)
    assert u.rstate.get_value().shape == (5, 6)
    r, _ = ref.uniform((4, 6), "float32", nstreams=5)
    lo, hi = np.float32(-2.0), np.float32(3.0)
    got = theano.function([], u)()
    # u * (high - low) + low: two roundings, or one when the compiler fuses it into an FMA
    # (Theano's gcc -march=native builds did too on FMA machines)
    two = r * (hi - lo) + lo
    fused = (r.astype("float64") * float(hi - lo) + float(lo)).astype("float32")
    assert np.all((got == two) | (got == fused))
    assert [guess_n_streams(s) for s in [(1,), (6,), (7,), (600,), (10 ** 6,)]] == \
        [1, 6, 1, 100, 60 * 256]
    assert guess_n_streams((T.lscalar(),)) == 60 * 256
    assert guess_n_streams((np.int64(600),)) == 60 * 256      # Theano: Python ints only


def test_seed_resets_every_stream():
    srng = MRG_RandomStreams(seed=99)
    a, b = srng.uniform((3, 4), dtype="float64"), srng.uniform((5,), dtype="float64")
    f = theano.function([], [a, b])
    first = f()
    assert not np.array_equal(f()[0], first[0])
    srng.seed(99)
    again = f()
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    srng.seed(7)
    ref = Generator(7)
    np.testing.assert_array_equal(f()[0], ref.uniform((3, 4))[0])


def test_binomial_is_uniform_below_p():
    with theano.config.change_flags(floatX="float32"):
        srng, ref = MRG_RandomStreams(seed=3), Generator(3)
        m = srng.binomial((40, 3), p=0.3)
        assert m.dtype == "int64"
        u, _ = ref.uniform((40, 3), "float32")
        np.testing.assert_array_equal(theano.function([], m)(), (u < np.float32(0.3)).astype("int64"))
        with pytest.raises(NotImplementedError, match="n > 1"):
            srng.binomial((3,), n=2)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-13), ("float32", 2e-6)])
def test_normal_is_box_muller_of_theanos_uniforms(dtype, rtol):
    srng, ref = MRG_RandomStreams(seed=5), Generator(5)
    z = srng.normal((3, 5), avg=1.5, std=2.0, dtype=dtype)      # 15 values: 16 uniforms
    assert z.dtype == dtype
    u, _ = ref.uniform((16,), dtype, nstreams=60 * 256)     # symbolic size: 60 * 256 streams
    exp = (box_muller(u, 15, dtype).reshape(3, 5) * np.asarray(2.0, dtype)
           + np.asarray(1.5, dtype))
    got = theano.function([], z)()
    # the transcendentals are TVM's (vector libm), Theano's were the C library's: a few ulp
    np.testing.assert_allclose(got, exp, rtol=rtol, atol=rtol)
    t = theano.function([], srng.normal((2000,), std=2.0, truncate=True, dtype="float64"))()
    assert t.shape == (2000,) and np.abs(t).max() <= 4.0 and 1.5 < t.std() < 1.9


def test_multinomial_and_choice_walk_theanos_uniforms():
    srng, ref = MRG_RandomStreams(seed=11), Generator(11)
    pv = np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05], [0.0, 0.0, 1.0], [0.3, 0.3, 0.4]])
    pc = pv.copy()
    pc[2] = [0.1, 0.0, 0.9]         # two draws without replacement need two outcomes
    p, q = T.dmatrix("p"), T.dmatrix("q")
    m = srng.multinomial(pvals=p, n=3)
    c = srng.choice(size=2, p=q, replace=False)
    got_m, got_c = theano.function([p, q], [m, c])(pv, pc)
    u1, _ = ref.uniform((12,), theano.config.floatX, nstreams=60 * 256)
    u2, _ = ref.uniform((8,), theano.config.floatX, nstreams=60 * 256)
    np.testing.assert_array_equal(got_m, multinomial_walk(pv, u1, 3))
    np.testing.assert_array_equal(got_c, choice_walk(pc, u2, 2))
    assert np.all(got_m.sum(axis=1) == 3)
    assert all(len(set(r)) == 2 for r in got_c.tolist())
    with pytest.raises(NotImplementedError, match="without replacement"):
        srng.choice(size=2, p=p)
    with pytest.raises(ValueError, match="size"):
        srng.multinomial(size=(3,), pvals=p)


def test_seed_and_size_errors():
    with pytest.raises(ValueError, match="should not be 0"):
        MRG_RandomStreams(seed=0)
    with pytest.raises(ValueError, match="first 3 values"):
        MRG_RandomStreams(seed=(0, 0, 0, 1, 1, 1))
    with pytest.raises(TypeError, match="1 integer or 6 integers"):
        MRG_RandomStreams(seed=(1, 2))
    srng = MRG_RandomStreams()
    with pytest.raises(ValueError, match="<= 0"):
        srng.uniform((3, 0))
    with pytest.raises(TypeError, match="size must be"):
        srng.uniform("big")


def test_symbolic_size_through_givens():
    """rng.binomial(size=x.shape) with givens={x: data[i:j]}: the draw is sized by the slice."""
    srng = MRG_RandomStreams(seed=8)
    data = theano.shared(np.arange(40, dtype="float64").reshape(10, 4), name="data")
    x = T.dmatrix("x")
    i = T.lscalar("i")
    mask = srng.binomial(size=x.shape, p=0.5, dtype="float64")
    f = theano.function([i], (x * mask).sum(axis=1), givens={x: data[i * 3:(i + 1) * 3]})
    out = f(1)
    assert out.shape == (3,)
    assert np.all(np.isin(out, [0, 12, 13, 14, 15, 25, 26, 27, 29, 28, 12 + 13, 12 + 14, 12 + 15,
                                13 + 14, 13 + 15, 14 + 15, 12 + 13 + 14, 12 + 13 + 15,
                                12 + 14 + 15, 13 + 14 + 15, 54]) | (out >= 0))
    rows = data.get_value()[3:6]
    # each output is the sum of a subset of its row
    for r, o in zip(rows, out):
        sums = {float(sum(r[k] for k in range(4) if (b >> k) & 1)) for b in range(16)}
        assert float(o) in sums


def test_random_variable_from_outside_scan_is_redrawn_every_step():
    srng = MRG_RandomStreams(seed=4)
    u = srng.uniform((3,), dtype="float64")
    out, _ = theano.scan(lambda k: u * 1.0, sequences=[T.arange(4)])
    f = theano.function([], out)
    v = f()
    assert v.shape == (4, 3)
    assert len({tuple(r) for r in v.tolist()}) == 4           # a new draw every step
    w = f()
    assert not np.array_equal(v, w)


def test_failed_call_leaves_the_streams_unchanged():
    srng = MRG_RandomStreams(seed=6)
    u = srng.uniform((4,), dtype="float64")
    i = T.lscalar("i")
    f = theano.function([i], (u * 2)[i])
    before = u.rstate.get_value()
    with pytest.raises(IndexError):
        f(10)
    np.testing.assert_array_equal(u.rstate.get_value(), before)
    f(1)
    assert np.any(u.rstate.get_value() != before)


def test_copy_random_state_recipe():
    """The tutorial's "copying random state between graphs" with MRG_RandomStreams."""
    g1, g2 = MRG_RandomStreams(123), MRG_RandomStreams(987)
    y1, y2 = g1.uniform((1,)), g2.uniform((1,))
    f1, f2 = theano.function([], y1), theano.function([], y2)
    assert f1() != f2()
    g2.rstate = g1.rstate
    for su1, su2 in zip(g1.state_updates, g2.state_updates):
        su2[0].set_value(su1[0].get_value())
    assert f1() == f2() and f1() == f2()


def test_perform_is_the_kernel():
    """The op's numpy path (a host step when the size is only known at run time) matches."""
    srng = MRG_RandomStreams(seed=12)
    u = srng.uniform((7, 3), dtype="float32", nstreams=4)
    st = u.rstate.get_value()
    k = theano.function([], u, no_default_updates=True)()
    new, p = MRGUniform("float32", 2).perform(None, [st, np.array([7, 3])])
    np.testing.assert_array_equal(k, p)


def test_cuda_kernel_and_loopback_numbers():
    srng = MRG_RandomStreams(seed=21)
    u = srng.uniform((30, 50), dtype="float32")
    st0 = u.rstate.get_value()
    f = theano.function([], u * 2, target="cuda")
    src = f.as_text("cuda", shapes=[st0.shape])
    assert "blockIdx.x" in src and "2147483647" in src and "2147462579" in src
    from tvmsym.symbolic.rewrites.placement import is_on_gpu
    mrg_nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, MRGUniform)]
    assert mrg_nodes and all(is_on_gpu(n.op) for n in mrg_nodes)     # placed on the device
    build = f._build((st0.shape,))
    kinds = [s.label for s in build.steps]
    assert "host" not in kinds and "cpu" not in kinds               # no host round trip
    assert build.rules[[s.name for s in build.steps if s.label == "gpu"][0]] == "mrg_streams"
    import shutil
    if shutil.which("nvcc") is not None:
        ptx = f.as_text("ptx", shapes=[st0.shape])
        assert ".entry" in ptx and "%tid.x" in ptx and "%ctaid.x" in ptx
    g = theano.function([], u * 2, target="cuda")
    g.loopback = True
    got = g()
    _, exp = MRGUniform("float32", 2).perform(None, [st0, np.array([30, 50])])
    np.testing.assert_array_equal(got, exp * 2)


def test_float16_as_theanos_python_path():
    srng = MRG_RandomStreams(seed=17)
    u = srng.uniform((5, 9), dtype="float16")
    st = u.rstate.get_value()
    got = theano.function([], u)()
    assert got.dtype == np.float16
    ref = Generator(17)
    streams = ref.streams(st.shape[0])
    from mrg_reference import step
    vals = []
    for i in range(45):
        k = i % len(streams)
        streams[k], v = step(streams[k])
        vals.append(v)
    exp = ((np.asarray(vals) & 0x7fff) + 1) * float(np.float16(3.0458e-05))
    np.testing.assert_array_equal(got, exp.astype("float16").reshape(5, 9))


def test_multinomial_kernel_on_cpu_and_cuda():
    """MultinomialFromUniform is a TVM kernel too (rows in parallel / one row per GPU thread),
    also reading a transposed pvals (a view fused into the kernel)."""
    from tvmsym.symbolic.ops.mrg import MultinomialFromUniform
    pt = T.dmatrix("pt")
    srng = MRG_RandomStreams(seed=31)
    m = srng.multinomial(pvals=pt.T, n=4)
    pv = np.array([[0.2, 0.5, 0.1, 0.3], [0.3, 0.25, 0.6, 0.3], [0.5, 0.25, 0.3, 0.4]])
    f = theano.function([pt], m, no_default_updates=True)
    assert ("tvm", "MultinomialFromUniform") in steps_of(f)
    unis = theano.function([pt], m.owner.inputs[1], no_default_updates=True)(pv)
    got = f(pv)
    np.testing.assert_array_equal(got, multinomial_walk(pv.T, unis, 4))
    np.testing.assert_array_equal(
        got, MultinomialFromUniform("int64").perform(None, [pv.T, unis, 4])[0])
    g = theano.function([pt], m, target="cuda", no_default_updates=True)
    src = g.as_text("cuda", shapes=[(3, 4), (60 * 256, 6)])
    assert src.count("blockIdx.x") >= 2
    h = theano.function([pt], m, target="cuda", no_default_updates=True)
    h.loopback = True
    np.testing.assert_array_equal(h(pv), got)


def test_choice_kernel_on_cpu_and_cuda():
    from tvmsym.symbolic.ops.mrg import ChoiceFromUniform
    q = T.matrix("q", dtype="float32")
    srng = MRG_RandomStreams(seed=41)
    c = srng.choice(size=3, p=q, replace=False)
    pv = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]],
                  dtype="float32")
    f = theano.function([q], c, no_default_updates=True)
    assert ("tvm", "ChoiceFromUniform") in steps_of(f)
    unis = theano.function([q], c.owner.inputs[1], no_default_updates=True)(pv)
    got = f(pv)
    np.testing.assert_array_equal(got, choice_walk(pv, unis, 3))
    np.testing.assert_array_equal(got, ChoiceFromUniform("int64").perform(None, [pv, unis, 3])[0])
    assert all(len(set(r)) == 3 for r in got.tolist())
    with pytest.raises(ValueError, match="without replacement"):
        theano.function([q], srng.choice(size=5, p=q, replace=False))(pv)
    h = theano.function([q], c, target="cuda", no_default_updates=True)
    src = h.as_text("cuda", shapes=[(3, 4), (60 * 256, 6)])
    assert src.count("blockIdx.x") >= 2
    h2 = theano.function([q], c, target="cuda", no_default_updates=True)
    h2.loopback = True
    np.testing.assert_array_equal(h2(pv), got)
