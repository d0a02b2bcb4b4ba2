"""Error types raised at the input boundary.

Every error carries a one-line message naming the file, row/column or node at fault, so the CLI can
print it without a traceback.
"""

from __future__ import annotations


class CityIndexError(ValueError):
    """Base class of all input and specification errors (a ValueError)."""


class FrameworkError(CityIndexError):
    """The framework (indicator tree) is invalid: names the offending node."""


class DataError(CityIndexError):
    """The indicator data are invalid: names the file, row and column."""


class MethodError(CityIndexError):
    """The method spec is invalid: names the key and lists the valid choices."""
