"""Graph rewrites on a FunctionGraph, run as an explicit list of named stages (``pipeline.py``)."""
from .pipeline import STAGES, optimize, stage_names  # noqa: F401
