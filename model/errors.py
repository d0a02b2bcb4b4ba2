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
    """Parse a YAML file, turning a missing file or a syntax error into ``error`` (one line)."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
