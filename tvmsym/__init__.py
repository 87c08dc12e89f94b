"""tvmsym: Theano reborn on Apache TVM.

``import tvmsym as theano; import tvmsym.tensor as T`` runs Theano tutorial code.
TVM itself is imported on the first compile, so ``import tvmsym`` stays fast.
"""
from .config import config, change_flags  # noqa: F401
from . import tensor, printing  # noqa: F401
from .printing import pp, pprint, debugprint  # noqa: F401

__version__ = "0.1.0"


def function(*args, **kwargs):
    """Compile a graph into a callable; see :func:`tvmsym.runtime.function.function`."""
    from .runtime.function import function as _function, _caller_name
    if "name" not in kwargs or kwargs["name"] is None:
        kwargs["name"] = _caller_name()
    return _function(*args, **kwargs)


def __getattr__(name):
    if name in ("In", "Mode", "Function"):
        from . import runtime
        return getattr(runtime, name)
    raise AttributeError(f"module 'tvmsym' has no attribute {name!r}")
