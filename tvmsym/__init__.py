"""tvmsym: Theano reborn on Apache TVM.

``import tvmsym as theano; import tvmsym.tensor as T`` runs Theano tutorial code.
TVM itself is imported on the first compile, so ``import tvmsym`` stays fast.
"""
from .config import config, change_flags  # noqa: F401
from . import tensor, printing  # noqa: F401
from .printing import pp, pprint, debugprint  # noqa: F401
from . import gradient  # noqa: E402,F401  (symbolic only: no TVM import)
from . import ifelse, sandbox  # noqa: E402,F401  (theano.ifelse, theano.sandbox.rng_mrg)

# Theano's tensor module exposes the gradient functions too (T.grad, T.jacobian, ...)
tensor.grad, tensor.jacobian, tensor.hessian = gradient.grad, gradient.jacobian, gradient.hessian
tensor.Lop, tensor.Rop = gradient.Lop, gradient.Rop
from .gradient import Lop, Rop  # noqa: E402,F401  (theano.Rop / theano.Lop, as Theano exports them)

__version__ = "0.1.0"


class Out:
    """An output of ``function`` with Theano's ``borrow`` flag: ``Out(y, borrow=True)``.

    ``borrow=True`` allows a function to return an internal buffer that a later call may
    overwrite; tvmsym only reuses a result array that the caller no longer holds, so both
    values of the flag give the same (safe) behaviour.
    """

    def __init__(self, variable, borrow=False):
        self.variable, self.borrow = variable, borrow

    def __repr__(self):
        return f"Out({self.variable}, borrow={self.borrow})"


def _unwrap_out(outputs):
    if isinstance(outputs, Out):
        return outputs.variable
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(o.variable if isinstance(o, Out) else o for o in outputs)
    return outputs


def function(*args, **kwargs):
    """Compile a graph into a callable; see :func:`tvmsym.runtime.function.function`."""
    from .runtime.function import function as _function, _caller_name
    if "name" not in kwargs or kwargs["name"] is None:
        kwargs["name"] = _caller_name()
    if len(args) > 1:
        args = (args[0], _unwrap_out(args[1])) + tuple(args[2:])
    elif "outputs" in kwargs:
        kwargs["outputs"] = _unwrap_out(kwargs["outputs"])
    if config.compute_test_value != "off":
        with config.change_flags(compute_test_value="off"):   # rewrites build new nodes
            return _function(*args, **kwargs)
    return _function(*args, **kwargs)


def function_dump(filename, inputs, outputs=None, **kwargs):
    """Pickle the arguments of a ``function`` call to ``filename`` (Theano's debugging aid):
    ``tvmsym.function(**pickle.load(open(filename, 'rb')))`` compiles the same function."""
    import pickle
    d = dict(inputs=inputs, outputs=outputs, **kwargs)
    with open(filename, "wb") as f:
        pickle.dump(d, f, protocol=pickle.HIGHEST_PROTOCOL)


def shared(value, name=None, strict=False, allow_downcast=None, **kwargs):
    """A variable holding a value across calls; see :func:`tvmsym.runtime.shared.shared`."""
    from .runtime.shared import shared as _shared
    return _shared(value, name=name, strict=strict, allow_downcast=allow_downcast, **kwargs)


def grad(cost, wrt, **kwargs):
    """Reverse-mode gradient of a scalar ``cost``; see :func:`tvmsym.gradient.grad`."""
    from .gradient import grad as _grad
    return _grad(cost, wrt, **kwargs)


def __getattr__(name):
    if name == "SharedVariable":
        from .runtime.shared import SharedVariable
        return SharedVariable
    if name in ("In", "Mode", "Function"):
        from . import runtime
        return getattr(runtime, name)
    raise AttributeError(f"module 'tvmsym' has no attribute {name!r}")


# Theano's graph classes (``class DoubleOp(theano.Op)``, ``theano.Apply(op, inputs, outputs)``)
from .symbolic.graph import Apply, Constant, Op, Variable  # noqa: E402,F401


def _eval(self, inputs_to_values=None, **kwargs):
    """Compile (cached) and evaluate this variable given ``{variable: value}``."""
    from .runtime.function import evaluate
    return evaluate(self, inputs_to_values, **kwargs)


Variable.eval = _eval       # symbolic/ compiles nothing: the runtime provides eval
from . import compile  # noqa: E402,F401  (theano.compile.ops.as_op, theano.compile.function)

# ``from tvmsym import *`` (the tutorial's ``from theano import *``) also gives the names
# resolved lazily by __getattr__ (not ``compile``, which would hide the builtin)
__all__ = sorted(({k for k in globals() if not k.startswith("_")} - {"compile"})
                 | {"In", "Mode", "Function", "SharedVariable"})

# theano.scan and its special cases (tvmsym/scan_module); map/reduce stay out of ``import *``
from . import scan_module  # noqa: E402,F401
from .scan_module import scan, map, reduce, foldl, foldr  # noqa: E402,F401,A004
__all__ += ["scan", "scan_module", "foldl", "foldr"]

# theano.sparse (scipy.sparse values; scipy is imported when a sparse value is made)
from . import sparse  # noqa: E402,F401
# --- gof helper (issue 14): theano.gof (graph core), theano.tensor.var
from . import gof  # noqa: E402,F401
from . import scalar  # noqa: E402,F401  (theano.scalar)
from .tensor import xlogx as _xlogx  # noqa: E402,F401  (theano.tensor.xlogx)
from .tensor import dot  # noqa: E402,F401  (theano.dot, as Theano exports it)
