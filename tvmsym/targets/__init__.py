"""Targets: the device named by ``config.device`` and how to build for it."""
from .target import NoCudaDeviceError, TargetInfo, build, cuda_device_available, get_target  # noqa: F401
