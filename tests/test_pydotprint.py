"""pydotprint: PNG written (signature), Theano's colours and shapes, clear error without Graphviz."""
import sys

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.printing import pydotprint
from tvmsym.symbolic import pydotprint as pdp

PNG = b"\x89PNG\r\n\x1a\n"
x, y = T.matrix("x"), T.matrix("y")


def test_png_of_a_variable_in_compiledir(tmp_path, capsys):
    with tvmsym.config.change_flags(compiledir=str(tmp_path)):
        assert pydotprint((x + y) * x) is None
    path = str(tmp_path / "tvmsym.pydotprint.cpu.png")
    assert capsys.readouterr().out == f"The output file is available at {path}\n"
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG


def test_png_of_a_compiled_function_shows_the_composite(tmp_path, capsys):
    f = tvmsym.function([x, y], [T.exp((x + y) * x), x + y])
    out = tmp_path / "f.png"
    pydotprint(f, outfile=str(out))
    assert capsys.readouterr().out == f"The output file is available at {out}\n"
    assert out.read_bytes()[:8] == PNG
    src = pdp.to_dot(f).to_string()
    assert "Elemwise{Composite{(i0 + i1), exp(((i0 + i1) * i0))}}  0" in src
    assert src.count("shape=box") == 1 and src.count("shape=ellipse") == 4
    assert src.count("limegreen") == 2 and src.count("dodgerblue") == 2


def test_colours_of_constants_and_shared(tmp_path):
    shared = getattr(tvmsym, "shared", None)
    w = shared(np.ones((2, 2), "float32"), name="w") if shared else T.matrix("w")
    e = T.exp(x) * T.constant(np.arange(4, dtype="float32").reshape(2, 2)) + w
    path = str(tmp_path / "g.dot")
    pydotprint(e, outfile=path, format="dot", print_output_file=False)
    src = open(path).read()
    assert "lightgrey" in src                      # the constant
    assert ("magenta" in src) == (shared is not None)
    assert "dodgerblue" in src and "limegreen" in src


def test_clear_error_without_any_renderer(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert pdp.find_graphviz() is None
    with pytest.raises(pdp.GraphvizNotFound, match=r"`dot`.*`graphviz-pure`"):
        pydotprint(x + y, outfile=str(tmp_path / "a.png"))


def test_return_image_and_apply_node():
    z = (x + y) * x
    png = pydotprint(z.owner, return_image=True)
    assert png[:8] == PNG
    assert b"Elemwise{mul,no_inplace}" in pydotprint(z.owner, format="dot", return_image=True)


def test_bad_argument():
    with pytest.raises(TypeError, match="pydotprint needs a variable"):
        pydotprint(42)
