"""Float arithmetic that keeps IEEE 754 semantics through TVM's simplifier.

TVM's constant folder and rewrite simplifier (``src/arith/const_fold.h``,
``rewrite_simplify.cc``) apply integer identities to float expressions too:
``x * 0 -> 0``, ``0 / x -> 0``, ``x + 0 -> x`` (wrong for NaN, Inf and -0.0),
``x - x -> 0``, ``(x + y) - y -> x`` and ``x == x -> true`` (wrong for NaN and Inf);
they run when an expression is built, in ``compute_inline`` and in every
``Simplify`` pass of the pipeline.  LLVM itself is IEEE-correct here (TVM
sets no fast-math flags unless the target asks).

The fix is an identity intrinsic, ``tvmsym.ieee_fence``: pure, vectorizable,
lowered to its argument by ``LowerIntrin`` (the last pass before code
generation, after every ``Simplify``), so it costs no instruction.  The
simplifier does not look inside it: a fenced zero is not a ``FloatImm``, and
``x - fence(x)`` is not ``x - x``.  The float rules below fence what the
folds match:

* ``a + b``, ``a * b``, ``a / b``: both operands (a zero constant may only appear
  after a constant producer is inlined);
* ``a - b`` and the comparisons: the right operand (the cancellation rules need
  the two sides to be the same expression).

Integer and bool expressions are left alone: their folds are exact.
"""
from __future__ import annotations

import numpy as np

from .. import _tvm

tirx = _tvm.tirx
tvm = _tvm.tvm

OP_NAME = "tvmsym.ieee_fence"
_EFFECT = 3     # kUpdateState: the cancellation rules (x - x, (x + y) - x, x == x) require
                # operands of at most kReadState; LowerIntrin removes the call before codegen


def _lower_identity(call):
    return call.args[0]


def _lower_llvm(call):
    """On llvm the fence becomes ``llvm.arithmetic.fence`` (no instruction): TVM builds with
    ``AllowFPOpFusion::Fast``, so the backend fused a fenced ``x * y + z`` into one FMA
    (rounded once, unlike numpy and unlike the same graph with the optimizer off)."""
    x = call.args[0]
    if _FENCE_ID is None:
        return x
    return tirx.call_llvm_pure_intrin(str(call.ty), "llvm.arithmetic.fence", x)


def _fence_intrinsic():
    try:
        from tvm.target import codegen
        return codegen.llvm_lookup_intrinsic_id("llvm.arithmetic.fence") or None
    except Exception:       # noqa: BLE001  (a TVM built without LLVM)
        return None


_FENCE_ID = _fence_intrinsic()


def _register():
    # "default.FLowerIntrinsic" covers every target (llvm host code, cuda device code):
    # LowerIntrin looks up "<target>.FLowerIntrinsic" first and falls back to it.
    for attr, value in (("TCallEffectKind", _EFFECT), ("TVectorizable", True),
                        ("TScriptPrinterName", "tvmsym_ieee_fence"),
                        ("default.FLowerIntrinsic", _lower_identity),
                        ("llvm.FLowerIntrinsic", _lower_llvm)):
        try:
            tvm.ir.register_op_attr(OP_NAME, attr, value)
        except Exception:       # noqa: BLE001  (registered by an import before a Ctrl-C)
            pass


_register()


def _teach_parser():
    """TVMScript prints the fence as ``T.tvmsym_ieee_fence(x)``; let the parser read it back
    (``_tvm.relax_alignment``'s text fallback re-parses a kernel)."""
    try:
        from tvm.tirx.script import parser as _parser
    except Exception:       # noqa: BLE001
        return
    if not hasattr(_parser, "tvmsym_ieee_fence"):
        _parser.tvmsym_ieee_fence = lambda x: fence(x)


_teach_parser()


def _is_float(x):
    return np.dtype(str(x.ty)).kind == "f" if str(x.ty) != "bool" else False


def fence(x):
    """``x`` hidden from TVM's simplifier (no instruction in the built code)."""
    if hasattr(x, "asobject"):      # a te.TensorSlice (``A[i]``)
        x = x.asobject()
    return tirx.call_intrin(str(x.ty), OP_NAME, x)


def add(a, b):
    if _is_float(a):
        return tirx.Add(fence(a), fence(b))
    return a + b


def sub(a, b):
    if _is_float(a):
        return tirx.Sub(a, fence(b))
    return a - b


def mul(a, b):
    if _is_float(a):
        return tirx.Mul(fence(a), fence(b))
    return a * b


def div(a, b):
    """Float ``a / b`` (``x / 0`` would even abort TVM's constant folder)."""
    if _is_float(a):
        return tirx.Div(fence(a), fence(b))
    return a / b


def compare(make):
    """A comparison ``make(a, b)`` (tirx.EQ, tirx.LT, ...) with ``x == x`` not folded for floats."""
    def cmp(a, b):
        if _is_float(a):
            return make(a, fence(b))
        return make(a, b)
    return cmp
