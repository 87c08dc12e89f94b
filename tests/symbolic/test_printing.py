"""pp / pprint and debugprint of uncompiled graphs (exact text)."""
import io

import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.printing import debugprint, pp, pprint


@pytest.fixture
def xy():
    return T.matrix("x"), T.matrix("y")


def test_pp_expressions(xy):
    x, y = xy
    v = T.vector("v")
    cases = [
        (x + y, "(x + y)"), ((x + y) * x, "((x + y) * x)"), (x - y / 2, "(x - (y / TensorConstant{2}))"),
        (x ** 2, "(x ** TensorConstant{2})"), (-x, "(-x)"), (abs(x), "|x|"), (T.exp(x), "exp(x)"),
        (T.maximum(x, y), "maximum(x, y)"), (T.clip(x, 0, 1), "clip(x, TensorConstant{0}, TensorConstant{1})"),
        (T.cast(x, "int32"), "int32(x)"), (x.T, "x.T"), (v + x, "(v + x)"),
        (x + 2.5, "(x + TensorConstant{2.5})"), (x // y % 3, "((x // y) % TensorConstant{3})"),
        (T.switch(x < 1, x, 0), "switch(lt(x, TensorConstant{1}), x, TensorConstant{0})"),
    ]
    for expr, text in cases:
        assert pp(expr) == text
        assert pprint(expr) == text
    assert tvmsym.pp is pp and tvmsym.printing.pprint is pprint


def test_pp_unnamed_and_several(xy):
    x, _ = xy
    assert pp(T.matrix() + 1) == "(<TensorType(float32, matrix)> + TensorConstant{1})"
    assert pp(x + 1, x * 2) == "(x + TensorConstant{1})\n(x * TensorConstant{2})"


def test_debugprint_seed_format(xy, capsys):
    x, y = xy
    assert debugprint(x + y) is None
    assert capsys.readouterr().out == (
        "Elemwise{add,no_inplace} [id A] ''   \n"
        " |x [id B]\n"
        " |y [id C]\n")


def test_debugprint_file_object_and_str(xy):
    x, y = xy
    buf = io.StringIO()
    debugprint((x + y) * x, file=buf)
    text = ("Elemwise{mul,no_inplace} [id A] ''   \n"
            " |Elemwise{add,no_inplace} [id B] ''   \n"
            " | |x [id C]\n"
            " | |y [id D]\n"
            " |x [id C]\n")
    assert buf.getvalue() == text
    assert debugprint((x + y) * x, file="str") == text


def test_debugprint_names_constants_and_broadcast(xy):
    x, _ = xy
    z = x + 1
    z.name = "z"
    assert debugprint(z, file="str") == (
        "Elemwise{add,no_inplace} [id A] 'z'   \n"
        " |x [id B]\n"
        " |InplaceDimShuffle{x,x} [id C] ''   \n"
        "   |TensorConstant{1} [id D]\n")


def test_debugprint_shared_node_once_and_list(xy):
    x, y = xy
    s = x + y
    assert debugprint([s * 2, s], file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |Elemwise{add,no_inplace} [id B] ''   \n"
        " | |x [id C]\n"
        " | |y [id D]\n"
        " |InplaceDimShuffle{x,x} [id E] ''   \n"
        "   |TensorConstant{2} [id F]\n"
        "Elemwise{add,no_inplace} [id B] ''   \n")


def test_debugprint_three_levels_of_prefixes(xy):
    x, y = xy
    z = T.exp((x - y) * (x + y))
    assert debugprint(z, file="str") == (
        "Elemwise{exp,no_inplace} [id A] ''   \n"
        " |Elemwise{mul,no_inplace} [id B] ''   \n"
        "   |Elemwise{sub,no_inplace} [id C] ''   \n"
        "   | |x [id D]\n"
        "   | |y [id E]\n"
        "   |Elemwise{add,no_inplace} [id F] ''   \n"
        "     |x [id D]\n"
        "     |y [id E]\n")


def test_debugprint_options(xy):
    x, y = xy
    assert debugprint(x + y, print_type=True, file="str") == (
        "Elemwise{add,no_inplace} [id A] <TensorType(float32, matrix)> ''   \n"
        " |x [id B] <TensorType(float32, matrix)>\n"
        " |y [id C] <TensorType(float32, matrix)>\n")
    assert debugprint((x + y) * x, depth=2, file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |Elemwise{add,no_inplace} [id B] ''   \n"
        " |x [id C]\n")
    assert debugprint((x + y).owner, file="str") == debugprint(x + y, file="str")


def test_debugprint_many_ids():
    x = T.vector("x")
    z = x
    for _ in range(30):
        z = z + x
    text = debugprint(z, file="str")
    assert "[id Z]" in text and "[id BA]" in text and "[id BE]" in text


def test_debugprint_bad_argument():
    with pytest.raises(TypeError, match="debugprint cannot print a int"):
        debugprint(3)


def test_debugprint_id_styles(xy):
    x, y = xy
    assert debugprint(x + y, ids="int", file="str") == (
        "Elemwise{add,no_inplace} [id 0] ''   \n |x [id 1]\n |y [id 2]\n")
    assert debugprint(x + y, ids="", file="str") == (
        "Elemwise{add,no_inplace} ''   \n |x\n |y\n")
    with pytest.raises(ValueError, match="ids must be 'CHAR', 'int' or ''"):
        debugprint(x + y, ids="hex")
