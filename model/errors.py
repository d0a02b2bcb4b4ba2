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


def read_yaml(path, error: type[CityIndexError], what: str):
    """Parse a YAML input file strictly and within limits (:func:`.yamlio.load_yaml`): a
    missing or empty file, a symlink loop, a syntax error (with its line and column), a key
    given twice in one mapping, an alias bomb or an oversized file raise ``error`` with a
    one-line message. Mappings, lists and numbers keep their lines and source text (see
    :mod:`.yamlio`); :func:`.yamlio.plain` gives plain Python values."""
    from .yamlio import load_yaml

    return load_yaml(path, error, what)
