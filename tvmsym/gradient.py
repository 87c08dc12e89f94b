"""``tvmsym.gradient``: Theano's gradient module, as an import path.

The engine is ``symbolic/grad.py`` (reverse mode; rules in ``symbolic/grad_rules/``), the
modifiers ``symbolic/grad_modifiers.py``, ``Lop``/``Rop``/``jacobian``/``hessian``
``symbolic/derivatives.py``, and the finite-difference check ``runtime/gradcheck.py``.
"""
from __future__ import annotations

from .runtime.gradcheck import GradientError, check_grads, numeric_grad, verify_grad  # noqa: F401
from .runtime.inner import apply as _apply
from .symbolic import derivatives as _derivatives
from .symbolic.derivatives import JacobianOp, Lop, Rop  # noqa: F401
from .symbolic.grad import (  # noqa: F401
    DisconnectedInputError,
    DisconnectedType,
    NullGradientError,
    NullTypeGradError,
    grad,
    grad_not_implemented,
    grad_undefined,
    register_grad,
    register_scalar_grad,
    zeros_like,
)
from .symbolic.grad_modifiers import (  # noqa: F401
    ConsiderConstant,
    DisconnectedGrad,
    GradClip,
    ZeroGrad,
    consider_constant,
    disconnected_grad,
    grad_clip,
    zero_grad,
)

__all__ = ["grad", "jacobian", "hessian", "verify_grad", "GradientError", "disconnected_grad",
           "zero_grad", "consider_constant", "grad_clip", "DisconnectedInputError",
           "NullGradientError", "NullTypeGradError", "DisconnectedType", "numeric_grad",
           "check_grads", "Lop", "Rop", "grad_undefined", "grad_not_implemented"]


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """``symbolic.derivatives.jacobian`` with the runtime's test values (compute_test_value)."""
    return _derivatives.jacobian(expression, wrt, consider_constant, disconnected_inputs,
                                 apply=_apply)


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """``symbolic.derivatives.hessian`` with the runtime's test values (compute_test_value)."""
    return _derivatives.hessian(cost, wrt, consider_constant, disconnected_inputs, apply=_apply)
