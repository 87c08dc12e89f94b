"""TensorType: construction, printing, equality, and ``filter`` (the input checks)."""
import numpy as np
import pytest

import tvmsym.tensor as T
from tvmsym.symbolic.type import TensorType


def test_repr_and_str():
    t = TensorType("float32", (False, False))
    assert str(t) == repr(t) == "TensorType(float32, matrix)"
    assert repr(t("x")) == "x"
    assert repr(t()) == "<TensorType(float32, matrix)>"
    names = {(): "scalar", (False,): "vector", (True, False): "row", (False, True): "col",
             (False,) * 3: "3D", (False,) * 4: "4D"}
    for b, n in names.items():
        assert str(TensorType("int8", b)) == f"TensorType(int8, {n})"
    assert str(TensorType("int8", (True,))) == "TensorType(int8, (True,))"


def test_equality_and_hash():
    a, b = TensorType("float32", (False,)), TensorType(np.float32, [0])
    assert a == b and hash(a) == hash(b)
    assert a != TensorType("float64", (False,)) and a != TensorType("float32", (True,))
    assert a.ndim == 1 and TensorType("float32", ()).ndim == 0
    assert TensorType("float32", shape=(1, 5)).broadcastable == (True, False)


def test_floatX_dtype():
    assert TensorType("floatX", ()).dtype == "float32"
    assert TensorType(None, ()).dtype == "float32"


@pytest.mark.parametrize("bad,exc,msg", [
    (lambda: TensorType("float32", 2), TypeError, "broadcastable must be a tuple of bools"),
    (lambda: TensorType("float32"), TypeError, "needs a broadcastable pattern"),
    (lambda: TensorType("float33", (False,)), TypeError, "valid dtypes: bool, int8"),
    (lambda: TensorType("str", (False,)), TypeError, "is not supported; valid dtypes"),
    (lambda: T.TensorType("float32", 2), TypeError, "e.g. (False, False) for a matrix"),
])
def test_construction_mistakes(bad, exc, msg):
    with pytest.raises(exc) as info:
        bad()
    assert msg in str(info.value)


def test_filter_keeps_matching_arrays():
    t = TensorType("float32", (False, False))
    a = np.ones((2, 3), "float32")
    assert t.filter(a) is a
    strided = np.ones((4, 6), "float32")[::2, ::2]
    assert t.filter(strided) is strided        # layout is the executor's business


def test_filter_python_values():
    t = TensorType("float32", (False, False))
    out = t.filter([[1, 2], [3, 4.5]])
    assert out.dtype == np.float32 and out.tolist() == [[1, 2], [3, 4.5]]
    s = TensorType("int8", ())
    assert s.filter(3).dtype == np.int8 and s.filter(3) == 3
    assert TensorType("float32", ()).filter(0.1).dtype == np.float32    # Python floats fit floatX
    assert TensorType("bool", (False,)).filter([True, False]).tolist() == [True, False]


def test_filter_refuses_lossy_values():
    with pytest.raises(TypeError, match="cannot store accurately value 300"):
        TensorType("int8", ()).filter(300)
    with pytest.raises(TypeError, match="cannot store accurately value 1.5"):
        TensorType("int32", ()).filter(1.5)
    with pytest.raises(TypeError, match="cannot store a value of dtype float64 without risking"):
        TensorType("float32", (False,)).filter(np.ones(2))
    with pytest.raises(TypeError, match="cannot store a value of dtype int64"):
        TensorType("int32", (False,)).filter(np.ones(2, "int64"))
    with pytest.raises(TypeError, match="cannot store a value of dtype float64"):
        TensorType("float32", ()).filter(np.float64(1.0))   # numpy scalars are strong
    assert TensorType("int8", ()).filter(300, allow_downcast=True) == np.int8(300 - 256)
    assert TensorType("float32", (False,)).filter(np.ones(2), allow_downcast=True).dtype == np.float32


def test_filter_upcasts_safely():
    out = TensorType("float64", (False,)).filter(np.ones(2, "float32"))
    assert out.dtype == np.float64
    out = TensorType("int64", (False,)).filter(np.ones(2, "uint8"))
    assert out.dtype == np.int64


def test_filter_ndim_and_broadcastable():
    t = TensorType("float32", (False, False))
    with pytest.raises(TypeError, match=r"Wrong number of dimensions: expected 2, got 1 with shape \(3,\)"):
        t.filter(np.ones(3, "float32"))
    r = TensorType("float32", (True, False))
    with pytest.raises(ValueError, match="broadcastable dimension 0"):
        r.filter(np.ones((2, 3), "float32"))
    assert r.filter(np.ones((1, 3), "float32")).shape == (1, 3)


def test_filter_rejects_objects_and_ragged():
    t = TensorType("float32", (False,))
    with pytest.raises(TypeError):
        t.filter([[1, 2], [3]])
    with pytest.raises(TypeError):
        t.filter(["a", "b"])
    with pytest.raises(TypeError):
        t.filter(object())


def test_strict_filter():
    t = TensorType("float32", (False,))
    with pytest.raises(TypeError, match="expected an ndarray of dtype float32"):
        t.filter([1.0, 2.0], strict=True)
