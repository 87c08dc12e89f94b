"""Targets: the device named by ``config.device`` and how to build for it."""
from .._importguard import interrupt_safe_import

# TVM and the backend (lowering rules, schedules, executor) load here, on the first compile,
# all or nothing: a Ctrl-C in the middle leaves no half-imported module behind.  The
# target module comes first (the executor imports ``build`` from this package).
with interrupt_safe_import():
    from .target import NoCudaDeviceError, TargetInfo, build, cuda_device_available, get_target  # noqa: F401,I001
    from ..lowering import lower as _lower, rules as _rules  # noqa: F401
    from .. import schedules as _schedules  # noqa: F401
    from ..runtime import executor as _executor  # noqa: F401
