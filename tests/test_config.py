"""tvmsym.config: TVMSYM_FLAGS, assignment, change_flags, and errors listing valid values."""
import os
import subprocess
import sys
import tempfile

import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.config import Config, config


def _child(code, flags):
    env = dict(os.environ, TVMSYM_FLAGS=os.environ.get("TVMSYM_FLAGS", "") + "," + flags)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_defaults():
    assert config.floatX == "float32"
    assert config.device == "cpu"
    assert config.mode == "FAST_RUN"
    assert tvmsym.config is config


def test_env_flags_in_subprocess():
    p = _child("import tvmsym, tvmsym.tensor as T, numpy as np\n"
               "x = T.matrix(); print(tvmsym.config.floatX, x.dtype, repr(x))\n"
               "f = tvmsym.function([x], x + 2.16); print(f(np.ones((1, 1))).dtype)",
               "floatX=float64, optimizer=fast_compile")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == ["float64 float64 <TensorType(float64, matrix)>", "float64"]


def test_env_flags_errors_in_subprocess():
    p = _child("import tvmsym", "floatX=float8")
    assert p.returncode != 0
    assert "bad value 'float8' for config flag 'floatX'; valid values: 'float16', 'float32', " \
           "'float64'" in p.stderr
    p = _child("import tvmsym", "floatY=float64")
    assert p.returncode != 0 and "unknown config flag 'floatY'; valid flags: " in p.stderr
    p = _child("import tvmsym", "floatX")
    assert p.returncode != 0 and "TVMSYM_FLAGS: expected name=value, got 'floatX'" in p.stderr


def test_parse_string():
    c = Config("floatX=float16,device=cuda,,on_unused_input=warn")
    assert (c.floatX, c.device, c.on_unused_input) == ("float16", "cuda", "warn")
    assert Config("print_global_stats=1").print_global_stats is True


def test_assignment():
    old = config.floatX
    try:
        config.floatX = "float64"
        assert config.floatX == "float64" and T.vector().dtype == "float64"
    finally:
        config.floatX = old
    assert T.vector().dtype == "float32"


def test_change_flags_restores_even_on_error():
    with tvmsym.change_flags(floatX="float64", on_unused_input="ignore") as c:
        assert c is config and config.floatX == "float64" and config.on_unused_input == "ignore"
        assert T.scalar().dtype == "float64"
    assert config.floatX == "float32" and config.on_unused_input == "raise"
    with pytest.raises(RuntimeError):
        with config.change_flags(floatX="float16"):
            raise RuntimeError("boom")
    assert config.floatX == "float32"
    with pytest.raises(ValueError):
        with config.change_flags(floatX="float64", device="tpu"):
            pass
    assert config.floatX == "float32" and config.device == "cpu"


@pytest.mark.parametrize("name,value,valid", [
    ("floatX", "float8", "valid values: 'float16', 'float32', 'float64'"),
    ("device", "tpu", "valid values: 'cpu', 'cuda'"),
    ("mode", "FASTEST", "valid values: 'FAST_RUN', 'FAST_COMPILE', 'DEBUG_MODE'"),
    ("on_unused_input", "maybe", "valid values: 'raise', 'warn', 'ignore'"),
    ("print_global_stats", "perhaps", "expected a boolean"),
    ("constant_folding_limit", "lots", "bad value 'lots' for config flag 'constant_folding_limit'"),
])
def test_bad_values_list_valid_ones(name, value, valid):
    before = getattr(config, name)
    with pytest.raises(ValueError) as info:
        setattr(config, name, value)
    assert f"bad value {value!r} for config flag {name!r}" in str(info.value)
    assert valid in str(info.value)
    assert getattr(config, name) == before


def test_unknown_flag():
    with pytest.raises(AttributeError) as info:
        config.floatY = "float32"
    msg = str(info.value)
    assert msg.startswith("unknown config flag 'floatY'; valid flags: ")
    for flag in ("compiledir", "device", "floatX", "mode", "optimizer"):
        assert flag in msg
    with pytest.raises(AttributeError, match="unknown config flag 'floatY'"):
        config.floatY
    with pytest.raises(AttributeError, match="unknown config flag 'nope'"):
        with config.change_flags(nope=1):
            pass


def test_dir_and_str():
    assert "floatX" in dir(config) and "change_flags" in dir(config)
    assert "floatX = 'float32'" in str(config)


def test_the_suite_never_uses_the_users_compiledir():
    """tests/conftest.py: this process and its children use a session temporary directory."""
    home = os.path.join(os.path.expanduser("~"), ".tvmsym")
    assert not os.path.abspath(config.compiledir).startswith(home)
    assert os.path.abspath(config.compiledir).startswith(os.path.abspath(tempfile.gettempdir()))
    p = subprocess.run([sys.executable, "-c", "import tvmsym; print(tvmsym.config.compiledir)"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == config.compiledir
