"""Theano's config flags as Theano scripts use them (tvmsym/_config_theano.py)."""
import warnings

import pytest

import tvmsym as theano
from tvmsym.config import Config


@pytest.fixture
def cfg():
    return Config("")


def test_warn_section_assignment_and_reading(cfg):
    cfg.warn.subtensor_merge_bug = False              # the line found in public model code
    assert cfg.warn.subtensor_merge_bug is False
    assert cfg.warn.round is False and cfg.warn.ignore_bug_before == "0.9"
    assert "sum_sum_bug" in dir(cfg.warn)
    with pytest.warns(UserWarning, match="no effect"):
        cfg.warn.round = True
    assert cfg.warn.round is True and cfg._values["warn.round"] is True


@pytest.mark.parametrize("name, value", [
    ("exception_verbosity", "high"), ("optimizer_verbose", True), ("warn_float64", "raise"),
    ("traceback.limit", 20), ("compute_test_value_opt", "ignore"), ("openmp", True),
    ("blas.ldflags", "-lopenblas"), ("cxx", ""), ("lib.cnmem", 0.8), ("dnn.enabled", "False"),
    ("allow_gc", False), ("dnn.conv.algo_fwd", "time_once"), ("gpuarray.preallocate", 0.9)])
def test_common_flags_accepted_with_a_note(cfg, name, value):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        obj = cfg
        *sections, last = name.split(".")
        for s in sections:
            obj = getattr(obj, s)
        setattr(obj, last, value)
        assert getattr(obj, last) == value
    notes = [str(x.message) for x in w]
    assert all(f"config.{name} is accepted and has no effect: " in n for n in notes)


def test_flag_strings_and_change_flags(cfg):
    cfg._apply_string("warn.round=True,exception_verbosity=high,openmp=1", "TVMSYM_FLAGS")
    assert cfg.warn.round is True and cfg.exception_verbosity == "high" and cfg.openmp is True
    with cfg.change_flags(**{"traceback.limit": 3}):
        assert cfg.traceback.limit == 3
    assert cfg.traceback.limit == 8


def test_bad_values_and_unknown_flags_still_fail(cfg):
    with pytest.raises(ValueError, match="exception_verbosity"):
        cfg.exception_verbosity = "loud"
    with pytest.raises(ValueError, match="traceback.limit"):
        cfg.traceback.limit = "many"
    with pytest.raises(AttributeError, match="unknown config flag 'warn.no_such_bug'"):
        cfg.warn.no_such_bug = False
    with pytest.raises(AttributeError, match="unknown config flag 'no_such_flag'"):
        _ = cfg.no_such_flag
    with pytest.raises(AttributeError, match="unknown config flag 'dnn.nope'"):
        _ = cfg.dnn.nope


def test_global_config_has_them():
    assert theano.config.warn.subtensor_merge_bug is False
    assert theano.config.blas.ldflags == ""
