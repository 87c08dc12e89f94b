"""Compiled functions: input filtering, kernel execution, shared updates."""
from .function import Function, In, function  # noqa: F401
from .mode import Mode, get_mode  # noqa: F401
