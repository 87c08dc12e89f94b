"""The tensor API: constructors, NEP 50 dtype rules, Python operators, cast."""
import itertools
import warnings

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.symbolic.elemwise import DimShuffle, Elemwise

ALL = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
       "float16", "float32", "float64", "complex64", "complex128")
KINDS = {"scalar": (), "vector": (False,), "matrix": (False, False), "row": (True, False),
         "col": (False, True), "tensor3": (False,) * 3, "tensor4": (False,) * 4}
PREFIX = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
          "c": "complex64", "z": "complex128"}


# --------------------------------------------------------------------------- constructors
@pytest.mark.parametrize("kind", list(KINDS))
def test_constructors(kind):
    v = getattr(T, kind)("v")
    assert v.type == T.TensorType("float32", KINDS[kind]) and v.name == "v"
    assert getattr(T, kind)(dtype="int16").dtype == "int16"
    for p, dt in PREFIX.items():
        w = getattr(T, p + kind)()
        assert w.dtype == dt and w.broadcastable == KINDS[kind] and w.name is None


def test_constructors_follow_floatX():
    with tvmsym.config.change_flags(floatX="float64"):
        assert T.matrix().dtype == "float64"
        assert T.TensorType("floatX", (False,)).dtype == "float64"
    assert T.matrix().dtype == "float32"


def test_tensor_and_typecall():
    assert T.tensor("int8", (False, True), name="t").type == T.TensorType("int8", (False, True))
    assert T.tensor("float32", shape=(1, None)).broadcastable == (True, False)
    x = T.TensorType("float64", (False,) * 5)("x")
    assert x.ndim == 5 and x.dtype == "float64" and x.name == "x"
    with pytest.raises(TypeError, match="needs broadcastable"):
        T.tensor("float32")


# --------------------------------------------------------------------------- operators
OPERATORS = [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "true_div"), (lambda a, b: a // b, "int_div"),
    (lambda a, b: a % b, "mod"), (lambda a, b: a ** b, "pow"), (lambda a, b: a < b, "lt"),
    (lambda a, b: a <= b, "le"), (lambda a, b: a > b, "gt"), (lambda a, b: a >= b, "ge"),
]


@pytest.mark.parametrize("fn,name", OPERATORS)
def test_python_operators(fn, name):
    x, y = T.matrix("x"), T.matrix("y")
    mirrored = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le"}   # 2 < x is x > 2 in Python
    for z, n in ((fn(x, y), name), (fn(x, 2), name), (fn(2, x), mirrored.get(name, name))):
        assert isinstance(z.owner.op, Elemwise)
        assert z.owner.op.scalar_op.name == n
        assert repr(z) == f"Elemwise{{{n},no_inplace}}.0"


def test_reflected_operand_order():
    x = T.matrix("x")
    assert tvmsym.pp(2 - x) == "(TensorConstant{2} - x)"
    assert tvmsym.pp(x - 2) == "(x - TensorConstant{2})"
    assert tvmsym.pp(1 / x) == "(TensorConstant{1} / x)"


def test_unary_and_bitwise_operators():
    x, i = T.matrix("x"), T.imatrix("i")
    assert (-x).owner.op.scalar_op.name == "neg"
    assert abs(x).owner.op.scalar_op.name == "abs"
    assert +x is x
    assert (~i).owner.op.scalar_op.name == "invert"
    for z, n in ((i & i, "and_"), (i | 1, "or_"), (1 ^ i, "xor")):
        assert z.owner.op.scalar_op.name == n and z.dtype == "int32"


def test_no_truth_value_and_identity_eq():
    x = T.matrix("x")
    with pytest.raises(TypeError, match="no truth value"):
        bool(x > 0)
    assert (x == x) is True and {x: 1}[x] == 1       # == is identity: variables are dict keys
    assert T.eq(x, 1).owner.op.scalar_op.name == "eq"


def test_broadcasting_inserts_dimshuffle():
    v, m = T.vector("v"), T.matrix("m")
    z = v + m
    a, b = z.owner.inputs
    assert isinstance(a.owner.op, DimShuffle) and str(a.owner.op) == "InplaceDimShuffle{x,0}"
    assert a.broadcastable == (True, False) and b is m
    assert z.broadcastable == (False, False)
    r, c = T.row("r"), T.col("c")
    assert (r + c).broadcastable == (False, False)
    assert (r + r).broadcastable == (True, False)
    s = T.scalar("s") + T.tensor3("t")
    assert s.owner.inputs[0].owner.op.new_order == ("x", "x", "x")


# --------------------------------------------------------------------------- NEP 50
def test_weak_python_scalars_keep_tensor_dtype():
    assert (T.fvector() + 2.16).dtype == "float32"
    assert (T.dvector() + 2.16).dtype == "float64"
    assert (T.ivector() / 2).dtype == "float64"
    assert (T.ivector() + 2.5).dtype == "float64"
    assert (T.bvector() * 2).dtype == "int8"
    assert (T.bvector() + True).dtype == "int8"
    assert (T.fvector() + np.float64(2)).dtype == "float64"      # numpy scalars are strong
    assert (T.hvector() if hasattr(T, "hvector") else T.vector(dtype="float16") + 1.5).dtype == "float16"


def test_weak_scalar_overflow():
    with pytest.raises(OverflowError, match="1000"):
        T.bvector() + 1000
    with pytest.raises(OverflowError):
        T.vector(dtype="uint8") + -1


def test_dvector_plus_weak_float_is_exact():
    x = T.dvector("x")
    c = (x + 2.16).owner.inputs[1].owner.inputs[0]      # InplaceDimShuffle{x} of the constant
    assert c.dtype == "float64" and c.data == 2.16                 # no float32 detour
    v = np.array([1.0, 0.1, -3.3, 1e10])
    f = tvmsym.function([x], [x + 2.16, x * 2.16])
    a, m = f(v)
    np.testing.assert_array_equal(a, v + 2.16)
    np.testing.assert_array_equal(m, v * 2.16)
    fx = T.fvector("fx")
    g = tvmsym.function([fx], fx * 2.16)
    w = np.array([1.0, 0.1, -3.3], "float32")
    np.testing.assert_array_equal(g(w), w * 2.16)                 # numpy: float32(2.16)
    assert g(w).dtype == np.float32


@pytest.mark.parametrize("op", [T.add, T.mul, T.true_div, T.maximum, T.lt, T.int_div, T.sub,
                                T.pow, T.mod])
def test_tensor_tensor_promotion_is_numpys(op):
    ref = {T.add: np.add, T.mul: np.multiply, T.true_div: np.true_divide,
           T.maximum: np.maximum, T.lt: np.less, T.int_div: np.floor_divide,
           T.sub: np.subtract, T.pow: np.power, T.mod: np.mod}[op]
    for a, b in itertools.product(ALL, ALL):
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = ref(np.ones(1, a), np.ones(1, b)).dtype.name
        except TypeError:
            with pytest.raises(TypeError):
                op(T.vector(dtype=a), T.vector(dtype=b))
            continue
        assert op(T.vector(dtype=a), T.vector(dtype=b)).dtype == want, (a, b)
    for a, b in itertools.product(ALL, ALL):
        if op in (T.add, T.mul):
            assert np.result_type(a, b).name == op(T.vector(dtype=a), T.vector(dtype=b)).dtype


@pytest.mark.parametrize("scalar", [True, 3, -1, 2.5, 300])
def test_weak_scalar_promotion_is_numpys(scalar):
    for d in ALL:
        for op, ref in ((T.add, np.add), (T.true_div, np.true_divide), (T.maximum, np.maximum)):
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    want = ref(np.ones(1, d), scalar).dtype.name
            except (TypeError, OverflowError) as e:
                with pytest.raises(type(e) if isinstance(e, OverflowError) else TypeError):
                    op(T.vector(dtype=d), scalar)
                continue
            assert op(T.vector(dtype=d), scalar).dtype == want, (d, scalar, op)


def test_float_functions_of_ints_follow_numpy():
    assert T.exp(T.bvector()).dtype == "float16"
    assert T.exp(T.wvector()).dtype == "float32"
    assert T.exp(T.ivector()).dtype == "float64"
    assert T.sqrt(T.vector(dtype="bool")).dtype == "float16"
    assert T.sigmoid(T.fvector()).dtype == "float32"
    assert (T.ivector() < 1).dtype == "bool"


# --------------------------------------------------------------------------- cast
def test_cast():
    x = T.matrix("x")
    c = T.cast(x, "int32")
    assert c.dtype == "int32" and c.broadcastable == x.broadcastable
    assert repr(c) == "Elemwise{Cast{int32},no_inplace}.0"
    assert tvmsym.pp(c) == "int32(x)"
    assert T.cast(x, "float32") is x and T.cast(x, "floatX") is x
    assert x.astype("float64").dtype == "float64"
    with pytest.raises(TypeError, match="valid dtypes"):
        T.cast(x, "float128x")
    f = tvmsym.function([x], [T.cast(x, "int8"), x.astype("bool")])
    v = np.array([[1.7, -2.2], [0.0, 100.9]], "float32")
    a, b = f(v)
    np.testing.assert_array_equal(a, v.astype("int8"))
    np.testing.assert_array_equal(b, v.astype(bool))


def test_constants():
    c = T.constant([1, 2, 3])
    assert c.dtype == "int64" and c.broadcastable == (False,)
    assert T.constant(2.0, dtype="float32").dtype == "float32"
    assert T.constant(1, ndim=2).broadcastable == (True, True)
    assert T.as_tensor_variable(np.ones((1, 3), "float32")).broadcastable == (True, False)
    with pytest.raises(TypeError, match="string"):
        T.constant("abc")


def test_switch_and_clip_build():
    x = T.matrix("x")
    s = T.switch(x > 0, x, 0)
    assert s.dtype == "float32" and s.owner.op.scalar_op.name == "switch"
    assert T.where(x > 0, x, 0).owner.op == s.owner.op
    assert T.clip(x, 0, 1).dtype == "float32" and x.clip(0, 1).owner.op.scalar_op.name == "clip"


def test_weak_scalar_wider_than_tensor_compiled():
    u = T.vector("u", dtype="uint8")
    f = tvmsym.function([u], [u / -1, u / 300, u < 300])
    v = np.array([0, 3, 255], "uint8")
    a, b, c = f(v)
    np.testing.assert_array_equal(a, v / -1)
    np.testing.assert_array_equal(b, v / 300)
    np.testing.assert_array_equal(c, v < 300)
    assert a.dtype == (v / -1).dtype and c.dtype == np.bool_


def test_plural_constructors_as_in_the_theano_tutorial():
    a, b = T.dmatrices("a", "b")
    assert (a.name, b.name) == ("a", "b")
    assert str(a.type) == "TensorType(float64, matrix)"
    x, y = T.dscalars("x", "y")
    assert str(y.type) == "TensorType(float64, scalar)"
    i, j = T.iscalars(2)
    assert str(i.type) == "TensorType(int32, scalar)" and i.name is None and i is not j
    assert [v.name for v in T.fvectors("u, v")] == ["u", "v"]


def test_prefixed_constructors_are_types_as_in_the_theano_tutorial():
    # the tutorial's "baby steps": x = T.dscalar('x'); x.type is T.dscalar; T.dscalar prints its type
    x = T.dscalar("x")
    assert x.type is T.dscalar and x.name == "x"
    assert str(T.dscalar) == "TensorType(float64, scalar)"
    assert T.fmatrix == T.TensorType("float32", (False, False))
    assert T.imatrix(name="m").type is T.imatrix
    assert repr(T.fmatrix()) == "<TensorType(float32, matrix)>"


def test_theano_level_rop_lop_exported():
    assert tvmsym.Rop is tvmsym.gradient.Rop and tvmsym.Lop is tvmsym.gradient.Lop
