"""The explicit optimisation step (``maskrcnn.optimize``): standard blocks swapped for fast forms of themselves."""
from .step import deoptimize, optimize, optimized_modules

__all__ = ["optimize", "deoptimize", "optimized_modules"]
