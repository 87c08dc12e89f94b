"""Lowering of the helper scalar ops (``symbolic/ops/helpers.py``): C library calls."""
from __future__ import annotations

from ... import _tvm
from ...symbolic.ops import helpers as h
from . import scalar_rule
from .scalar import _extern1, _f16_via_f32, cast

tirx = _tvm.tirx


def _atan2(op, args, out):
    a, b = cast(args[0], out), cast(args[1], out)
    return tirx.call_pure_extern(out, "atan2f" if out == "float32" else "atan2", a, b)


scalar_rule(type(h.ps_arctan2), _f16_via_f32(_atan2))
scalar_rule(type(h.ps_arccosh), _f16_via_f32(_extern1("acosh")))
scalar_rule(type(h.ps_arcsinh), _f16_via_f32(_extern1("asinh")))
scalar_rule(type(h.ps_arctanh), _f16_via_f32(_extern1("atanh")))
scalar_rule(h.Second, lambda op, args, out: cast(args[1], out))
