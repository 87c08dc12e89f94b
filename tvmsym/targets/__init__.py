"""Targets: the device named by ``config.device`` and how to build for it."""
from .target import (get_target, build, TargetInfo, NoCudaDeviceError,  # noqa: F401
                     cuda_device_available)
