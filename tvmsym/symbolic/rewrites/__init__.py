"""Graph rewrites on a FunctionGraph, run as an explicit list of named stages."""
from .pipeline import optimize, STAGES  # noqa: F401
