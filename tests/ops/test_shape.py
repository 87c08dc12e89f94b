"""Shape ops against numpy: one compiled function per dtype computes every record.

Records: (name, graph builder over (m, v, t), numpy reference over (a, b, c)).
m is a matrix, v a vector, t a 3-d tensor.  Symbolic shape values (``m.shape[1]``)
are evaluated when the kernels are built, once per input-shape signature.
"""
import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T

RECORDS = [
    ("reshape_sym", lambda m, v, t: m.reshape((m.shape[1], -1)), lambda a, b, c: a.reshape(a.shape[1], -1)),
    ("reshape_flat", lambda m, v, t: t.reshape((-1,)), lambda a, b, c: c.reshape(-1)),
    ("reshape_3d", lambda m, v, t: t.reshape((-1, 1, t.shape[2])), lambda a, b, c: c.reshape(-1, 1, c.shape[2])),
    ("flatten", lambda m, v, t: m.flatten(), lambda a, b, c: a.flatten()),
    ("flatten2", lambda m, v, t: T.flatten(t, 2), lambda a, b, c: c.reshape(c.shape[0], int(np.prod(c.shape[1:])))),
    ("concat1", lambda m, v, t: T.concatenate([m, m * 2], axis=1), lambda a, b, c: np.concatenate([a, a * 2], 1)),
    ("concat_neg", lambda m, v, t: T.concatenate([m, m, m], axis=-2), lambda a, b, c: np.concatenate([a, a, a], -2)),
    ("stack", lambda m, v, t: T.stack([v, v + 1], axis=1), lambda a, b, c: np.stack([b, b + 1], 1)),
    ("stack_neg", lambda m, v, t: T.stack([m, m], axis=-1), lambda a, b, c: np.stack([a, a], -1)),
    ("split0", lambda m, v, t: T.split(v, [v.shape[0] // 2, v.shape[0] - v.shape[0] // 2], 2)[0],
     lambda a, b, c: b[:b.shape[0] // 2]),
    ("split1", lambda m, v, t: T.split(v, [v.shape[0] // 2, v.shape[0] - v.shape[0] // 2], 2)[1],
     lambda a, b, c: b[b.shape[0] // 2:]),
    ("split_axis", lambda m, v, t: T.split(t, [1, t.shape[2] - 1], 2, axis=-1)[1], lambda a, b, c: c[:, :, 1:]),
    ("repeat", lambda m, v, t: T.repeat(v, 2), lambda a, b, c: np.repeat(b, 2)),
    ("repeat_axis", lambda m, v, t: m.repeat(3, axis=0), lambda a, b, c: np.repeat(a, 3, 0)),
    ("repeat_flat", lambda m, v, t: T.repeat(m, 2), lambda a, b, c: np.repeat(a, 2)),
    ("tile", lambda m, v, t: T.tile(m, (2, 1)), lambda a, b, c: np.tile(a, (2, 1))),
    ("tile_up", lambda m, v, t: T.tile(v, (2, 3)), lambda a, b, c: np.tile(b, (2, 3))),
    ("alloc", lambda m, v, t: T.alloc(v, 2, v.shape[0]), lambda a, b, c: np.broadcast_to(b, (2, b.shape[0]))),
    ("zeros_like", lambda m, v, t: T.zeros_like(m), lambda a, b, c: np.zeros_like(a)),
    ("ones_like", lambda m, v, t: T.ones_like(t), lambda a, b, c: np.ones_like(c)),
    ("fill", lambda m, v, t: T.fill(m, T.cast(3, m.dtype)), lambda a, b, c: np.full_like(a, 3)),
    ("zeros_sym", lambda m, v, t: T.zeros((m.shape[0], 2), dtype=m.dtype), lambda a, b, c: np.zeros((a.shape[0], 2), a.dtype)),
    ("ones_shape", lambda m, v, t: T.ones(v.shape, dtype=v.dtype), lambda a, b, c: np.ones_like(b)),
    ("arange_sym", lambda m, v, t: T.arange(v.shape[0]), lambda a, b, c: np.arange(b.shape[0])),
    ("arange_step", lambda m, v, t: T.arange(7, 1, -2), lambda a, b, c: np.arange(7, 1, -2)),
    ("eye", lambda m, v, t: T.eye(m.shape[0], m.shape[1], 1, dtype=m.dtype), lambda a, b, c: np.eye(*a.shape, 1, dtype=a.dtype)),
    ("diag_v", lambda m, v, t: T.diag(v), lambda a, b, c: np.diag(b)),
    ("diag_v_k", lambda m, v, t: T.diag(v, -1), lambda a, b, c: np.diag(b, -1)),
    ("diag_m", lambda m, v, t: T.diag(m), lambda a, b, c: np.diag(a)),
    ("diag_m_k", lambda m, v, t: T.diag(m, 1), lambda a, b, c: np.diag(a, 1)),
    ("expand_dims", lambda m, v, t: T.expand_dims(m, -1), lambda a, b, c: np.expand_dims(a, -1)),
    ("flip0", lambda m, v, t: T.flip(m, 0), lambda a, b, c: np.flip(a, 0)),
    ("flip02", lambda m, v, t: T.flip(t, (0, -1)), lambda a, b, c: np.flip(c, (0, 2))),
    ("flip_all", lambda m, v, t: T.flip(v), lambda a, b, c: np.flip(b)),
    ("roll_v", lambda m, v, t: T.roll(v, 2), lambda a, b, c: np.roll(b, 2)),
    ("roll_axis", lambda m, v, t: T.roll(m, -1, 1), lambda a, b, c: np.roll(a, -1, 1)),
    ("roll_flat", lambda m, v, t: T.roll(t, 5), lambda a, b, c: np.roll(c, 5)),
    ("transpose", lambda m, v, t: t.transpose(2, 0, 1) + 0, lambda a, b, c: c.transpose(2, 0, 1)),
    ("T", lambda m, v, t: m.T * 1, lambda a, b, c: a.T),
    ("shape", lambda m, v, t: t.shape, lambda a, b, c: np.array(c.shape)),
    ("shape_i", lambda m, v, t: t.shape[-1] * m.shape[0], lambda a, b, c: np.int64(c.shape[-1] * a.shape[0])),
    ("size", lambda m, v, t: t.size, lambda a, b, c: np.int64(c.size)),
]

# (m, v, t) shapes: ordinary, size-1, empty leading dims
SHAPES = {"plain": ((4, 3), (6,), (2, 3, 4)), "ones": ((1, 1), (1,), (1, 1, 1)),
          "empty": ((0, 3), (0,), (0, 3, 4))}

_F = {}


def function(dtype):
    if dtype not in _F:
        m, v, t = T.matrix("m", dtype=dtype), T.vector("v", dtype=dtype), T.tensor3("t", dtype=dtype)
        _F[dtype] = tvmsym.function([m, v, t], [r[1](m, v, t) for r in RECORDS])
    return _F[dtype]


def _data(shape, dtype, rng, strided):
    if strided:         # a non-contiguous view
        big = rng.integers(-9, 10, size=shape[:-1] + (2 * shape[-1],)).astype(dtype)
        return big[..., ::2]
    return rng.integers(-9, 10, size=shape).astype(dtype)


CASES = ([("float32", k) for k in SHAPES] + [(d, "plain") for d in ("float64", "int64")])


@pytest.mark.parametrize("dtype,case", CASES + [pytest.param(d, k, marks=pytest.mark.slow)
                                                 for d in ("float64", "int32", "int64") for k in SHAPES
                                                 if (d, k) not in CASES])
def test_shape_ops_vs_numpy(dtype, case):
    rng = np.random.default_rng(0)
    ms, vs, ts = SHAPES[case]
    a, b, c = _data(ms, dtype, rng, True), _data(vs, dtype, rng, False), _data(ts, dtype, rng, True)
    outs = function(dtype)(a, b, c)
    for (name, _, ref), o in zip(RECORDS, outs):
        r = np.asarray(ref(a, b, c))
        assert o.shape == r.shape, name
        if name not in ("arange_sym", "arange_step", "shape", "shape_i", "size"):
            assert o.dtype == r.dtype, name
        np.testing.assert_array_equal(o, r, err_msg=name)


def test_one_build_per_shape_signature():
    f = function("float32")
    rng = np.random.default_rng(0)
    n0 = len(f._builds)
    args = [rng.standard_normal(s).astype("float32") for s in SHAPES["plain"]]
    f(*args)
    f(*args)
    assert len(f._builds) <= n0 + 1
    n1 = len(f._builds)
    args2 = [rng.standard_normal(s).astype("float32") for s in ((5, 2), (8,), (3, 2, 2))]
    out = f(*args2)
    assert len(f._builds) == n1 + 1        # a new shape signature builds once, then is cached
    assert out[0].shape == (2, 5)
    f(*args2)
    assert len(f._builds) == n1 + 1


def test_shape_from_input_values():
    """A shape that depends on an int input's value: one build per resulting shape signature;
    reshape and alloc stay kernels, arange (its values are baked) runs in numpy."""
    x, n = T.vector("x"), T.lscalar("n")
    f = tvmsym.function([x, n], [x.reshape((n, -1)) * 2, T.arange(n), T.alloc(1.0, n, 2)])
    assert f._plan.value_inputs == [1]
    a = np.arange(6, dtype="float32")
    r = f(a, 2)
    np.testing.assert_array_equal(r[0], a.reshape(2, 3) * 2)
    np.testing.assert_array_equal(r[1], np.arange(2))
    kinds = {str(r.node.op): r.kind.value for r in f._last.prog}
    assert kinds["Reshape{2}"] == "kernel" and kinds["Alloc"] == "kernel" and kinds["ARange{dtype='int64'}"] == "dyn"
    np.testing.assert_array_equal(f(a, 3)[0], a.reshape(3, 2) * 2)
    np.testing.assert_array_equal(f(a, 3)[2], np.ones((3, 2), "float32"))
    with pytest.raises(ValueError, match=r"cannot reshape array of size 6 \(shape \(6,\)\) into shape \(4, -1\)"):
        f(a, 4)


def test_vector_repeats_and_squeeze():
    x = T.matrix("x")
    f = tvmsym.function([x], [T.repeat(x, [1, 0, 2], axis=1), T.squeeze(x[:1], 0), T.squeeze(T.expand_dims(x, 0))])
    a = np.arange(6, dtype="float32").reshape(2, 3)
    r = f(a)
    np.testing.assert_array_equal(r[0], np.repeat(a, [1, 0, 2], axis=1))
    np.testing.assert_array_equal(r[1], a[0])
    np.testing.assert_array_equal(r[2], a)
    with pytest.raises(ValueError, match="repeat: 3 repeats given for an axis of length 2"):
        tvmsym.function([x], T.repeat(x, [1, 0, 2], axis=1))(np.ones((3, 2), "float32"))


def test_types_and_printing():
    x = T.matrix("x")
    assert T.zeros_like(T.row("r")).broadcastable == (True, False)
    assert T.alloc(0., 1, x.shape[1]).broadcastable == (True, False)
    assert T.alloc(0., 2, 3).dtype == "float32"
    assert T.arange(5).dtype == "int64" and T.arange(2.5).dtype == "float32"
    assert x.reshape((2, 1, -1)).broadcastable == (False, True, False)
    r = x.reshape((x.shape[0], -1))
    assert str(r.owner.op) == "Reshape{2}"
    assert tvmsym.pp(r) == "Reshape{2}(x, [x.shape[0], -1])"
    assert str(T.concatenate([x, x]).owner.op) == "Join"
    assert tvmsym.pp(T.concatenate([x, x], 1)) == "join(1, x, x)"
    assert str(T.flatten(x, 1).owner.op) == "Flatten{1}"
    text = tvmsym.printing.debugprint(x.reshape((3, -1)), file="str")
    assert text.splitlines()[0] == "Reshape{2} [id A] ''   "
    assert text.splitlines()[1] == " |x [id B]"


def test_errors_at_build_time():
    x = T.matrix("x")
    with pytest.raises(ValueError, match=r"can only specify one unknown dimension \(-1\)"):
        x.reshape((-1, -1))
    with pytest.raises(ValueError, match="concatenate: axis 2 is out of range for a 2-d tensor"):
        T.concatenate([x, x], axis=2)
    with pytest.raises(ValueError, match="flip: axis -3 is out of range"):
        T.flip(x, -3)
    with pytest.raises(ValueError, match="stack: axis 3 is out of range"):
        T.stack([x, x], 3)
    with pytest.raises(ValueError, match="join: all tensors must have the same number of dimensions"):
        T.concatenate([x, T.vector()])
    with pytest.raises(ValueError, match="diag: input must be 1-d or 2-d"):
        T.diag(T.tensor3())
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        T.arange(0, 5, 0)


_ERR = {}


def test_errors_at_call_time():
    x, y = T.matrix("x"), T.matrix("y")
    if not _ERR:
        _ERR["f"] = tvmsym.function([x, y], [x.reshape((5, -1)), T.concatenate([x, y], axis=1)])
    f = _ERR["f"]
    with pytest.raises(ValueError, match=r"cannot reshape array of size 12 \(shape \(4, 3\)\) into shape \(5, -1\)"):
        f(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))
    with pytest.raises(ValueError, match=r"join: all input dimensions except axis 1 must match"):
        f(np.ones((5, 2), "float32"), np.ones((4, 1), "float32"))


def test_join_large_and_odd_pieces():
    """Join partitions its loop per piece: odd and vector-width pieces, both axes."""
    x, y, z = T.matrix("x"), T.matrix("y"), T.matrix("z")
    f = tvmsym.function([x, y, z], [T.concatenate([x, y, z], axis=1), T.concatenate([x.T, y.T], axis=0)])
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((300, n)).astype("float32") for n in (19, 64, 1))
    r = f(a, b, c)
    np.testing.assert_array_equal(r[0], np.concatenate([a, b, c], 1))
    np.testing.assert_array_equal(r[1], np.concatenate([a.T, b.T], 0))
