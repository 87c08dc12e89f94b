"""The seed transcript (../shared/seed/000_4d0425ce97abf940.txt), line by line, on the CPU."""
import io
import re

import numpy
import pytest

import tvmsym as theano
import tvmsym.tensor as T

SEED_DEBUGPRINT = (
    "Elemwise{add,no_inplace} [id A] ''   \n"
    " |x [id B]\n"
    " |y [id C]\n"
)


@pytest.fixture(scope="module")
def xyz():
    x = T.matrix('x')
    y = T.matrix('y')
    z = x + y
    return x, y, z


@pytest.fixture(scope="module")
def addition(xyz):
    x, y, z = xyz
    return theano.function([x, y], [z])


def test_display_z(xyz):
    x, y, z = xyz
    assert repr(z) == 'Elemwise{add,no_inplace}.0'
    assert theano.pp(z) == '(x + y)'
    assert theano.printing.pprint(z) == '(x + y)'


def test_debugprint_stdout(xyz, capsys):
    theano.printing.debugprint(xyz[2])
    assert capsys.readouterr().out == SEED_DEBUGPRINT


def test_debugprint_to_file(xyz):
    buf = io.StringIO()
    assert theano.printing.debugprint(xyz[2], file=buf) is buf
    assert buf.getvalue() == SEED_DEBUGPRINT
    assert theano.printing.debugprint(xyz[2], file="str") == SEED_DEBUGPRINT


def test_debugprint_shared_subgraph_printed_once():
    x, y = T.matrix('x'), T.matrix('y')
    s = x + y
    assert theano.printing.debugprint(s * s, file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |Elemwise{add,no_inplace} [id B] ''   \n"
        " | |x [id C]\n"
        " | |y [id D]\n"
        " |Elemwise{add,no_inplace} [id B] ''   \n")
    # two separately built (x + y) are two nodes: both are printed in full
    assert theano.printing.debugprint((x + y) * (x + y), file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |Elemwise{add,no_inplace} [id B] ''   \n"
        " | |x [id C]\n"
        " | |y [id D]\n"
        " |Elemwise{add,no_inplace} [id E] ''   \n"
        "   |x [id C]\n"
        "   |y [id D]\n")


def test_debugprint_nested_prefixes():
    x, y = T.matrix('x'), T.matrix('y')
    assert theano.printing.debugprint(x * (x + y), file="str") == (
        "Elemwise{mul,no_inplace} [id A] ''   \n"
        " |x [id B]\n"
        " |Elemwise{add,no_inplace} [id C] ''   \n"
        "   |x [id B]\n"
        "   |y [id D]\n")
    z = ((x + y) * x).exp()
    z.name = 'z'
    assert theano.printing.debugprint(z, file="str") == (
        "Elemwise{exp,no_inplace} [id A] 'z'   \n"
        " |Elemwise{mul,no_inplace} [id B] ''   \n"
        "   |Elemwise{add,no_inplace} [id C] ''   \n"
        "   | |x [id D]\n"
        "   | |y [id E]\n"
        "   |x [id D]\n")


def test_addition_on_python_lists(addition):
    out = addition([[1, 2], [1, 3]], [[1, 0], [3, 4]])
    assert isinstance(out, list) and len(out) == 1
    assert out[0].dtype == numpy.float32
    numpy.testing.assert_array_equal(out[0], numpy.array([[2., 2.], [4., 7.]], dtype='float32'))
    assert repr(out) == repr([numpy.array([[2., 2.], [4., 7.]], dtype='float32')])


def test_floatX_and_anonymous_matrix():
    assert theano.config.floatX == 'float32'
    x = T.matrix()
    assert repr(x) == '<TensorType(float32, matrix)>'
    assert str(x.type) == 'TensorType(float32, matrix)'


@pytest.fixture(scope="module")
def anon_addition():
    x = T.matrix()
    y = T.matrix()
    return theano.function([x, y], [x + y], name="<stdin>:1")


def test_downcast_error_exact(anon_addition):
    value = numpy.ones((2, 2))
    with pytest.raises(TypeError) as info:
        anon_addition(value, numpy.zeros((2, 2)))
    args = info.value.args
    assert len(args) == 3
    assert args[0] == 'Bad input argument to tvmsym function with name "<stdin>:1" at index 0(0-based)'
    assert args[1] == (
        'TensorType(float32, matrix) cannot store a value of dtype float64 without risking loss '
        'of precision. If you do not mind this loss, you can: 1) explicitly cast your data to '
        'float32, or 2) set "allow_input_downcast=True" when calling "function".')
    assert args[2] is value


def test_default_function_name_is_file_and_line():
    # Theano names a function after where it was created ("<stdin>:1" at the prompt)
    env = {"theano": theano, "T": T}
    exec(compile("x = T.matrix(); f = theano.function([x], [x * 2])", "<stdin>", "exec"), env)
    assert env["f"].name == "<stdin>:1"
    with pytest.raises(TypeError, match=re.escape('with name "<stdin>:1" at index 0')):
        env["f"](numpy.ones((2, 2)))
    x = T.matrix()
    f = theano.function([x], [x * 2])
    assert re.fullmatch(r".*test_seed\.py:\d+", f.name)


def test_cast_remedies(anon_addition):
    fx = theano.config.floatX
    out = anon_addition(numpy.ones((2, 2), dtype=fx), numpy.zeros((2, 2), dtype=fx))
    numpy.testing.assert_array_equal(out[0], numpy.ones((2, 2), 'float32'))
    assert out[0].dtype == numpy.float32
    out = anon_addition(numpy.ones((2, 2)).astype(fx), numpy.diag((2, 3)).astype(fx))
    numpy.testing.assert_array_equal(out[0], [[3., 1.], [1., 4.]])
    assert out[0].dtype == numpy.float32


def test_allow_input_downcast():
    x = T.matrix()
    y = T.matrix()
    addition = theano.function([x, y], [x + y], allow_input_downcast=True)
    out = addition(numpy.ones((2, 2)), numpy.zeros((2, 2)))
    assert out[0].dtype == numpy.float32
    numpy.testing.assert_array_equal(out[0], numpy.ones((2, 2)))
    # an int64 array (numpy.diag's dtype) is downcast too
    out = addition(numpy.ones((2, 2)), numpy.diag((2, 3)))
    numpy.testing.assert_array_equal(out[0], [[3., 1.], [1., 4.]])


def test_demo_replays_the_transcript():
    from tvmsym import demo
    buf = io.StringIO()
    demo.main(out=buf)
    text = buf.getvalue()
    for expected in [
        ">>> z\nElemwise{add,no_inplace}.0\n",
        ">>> theano.pp(z)\n'(x + y)'\n",
        ">>> theano.printing.debugprint(z)\n" + SEED_DEBUGPRINT,
        "[array([[2., 2.],\n       [4., 7.]], dtype=float32)]",
        ">>> theano.config.floatX\n'float32'\n",
        ">>> x\n<TensorType(float32, matrix)>\n",
        "TypeError: ('Bad input argument to tvmsym function with name \"<stdin>:1\" at index "
        "0(0-based)', 'TensorType(float32, matrix) cannot store a value of dtype float64",
        "[array([[3., 1.],\n       [1., 4.]], dtype=float32)]",
    ]:
        assert expected in text, expected
    assert text.rstrip().endswith("[array([[1., 1.],\n       [1., 1.]], dtype=float32)]")


def test_import_is_lazy_about_tvm():
    """``import tvmsym``, building/printing graphs and ``function()`` must not load TVM (the first
    call builds, or loads the build from the warm cache without TVM)."""
    import subprocess
    import sys
    code = ("import sys, tvmsym, tvmsym.tensor as T\n"
            "x = T.matrix('x'); y = T.matrix('y'); z = x + y\n"
            "tvmsym.pp(z); tvmsym.printing.debugprint(z, file='str'); tvmsym.grad\n"
            "assert not any(m == 'tvm' or m.startswith('tvm.') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.startswith('tvm'))\n"
            "f = tvmsym.function([x, y], z)\n"
            "assert 'tvm' not in sys.modules  # plan and target are made lazily (warm start)\n"
            "import numpy as np\n"
            "a = np.arange(6, dtype=x.dtype).reshape(2, 3)\n"
            "assert (f(a, a) == a + a).all()   # the first call builds (or loads from the cache)\n"
            "print('OK')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stderr[-2000:]
