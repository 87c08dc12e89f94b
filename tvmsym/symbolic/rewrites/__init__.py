"""Graph rewrites on a FunctionGraph, run as an explicit list of named stages (``pipeline.py``)."""
from .pipeline import optimize, STAGES, stage_names  # noqa: F401
