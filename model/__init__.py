"""cityindex.model — the composite index and its statistical models.

Imports are light: PyMC is only imported by the Bayesian model when it is used.
"""

from .errors import CityIndexError, DataError, FrameworkError, MethodError
from .framework import Framework, Node
from .method import MethodSpec
from .data import IndicatorData, read_data, from_frame
from .pipeline import IndexResult, compute_index

__all__ = ["CityIndexError", "DataError", "FrameworkError", "MethodError", "Framework", "Node",
           "MethodSpec", "IndicatorData", "read_data", "from_frame", "IndexResult",
           "compute_index"]
