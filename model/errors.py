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
    """Parse a YAML file strictly: a missing or empty file, a syntax error (with its line and
    column) or a key given twice in one mapping raise ``error`` with a one-line message."""
    from pathlib import Path

    import yaml

    class _StrictLoader(yaml.SafeLoader):
        pass

    def _mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise error(f"{path}: line {line}: key '{key}' given twice")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    _StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} file not found")
    try:
        spec = yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 (safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise error(f"{path}: {where}not valid YAML ({problem})") from None
    if spec is None:
        raise error(f"{path}: the {what} file is empty")
    return spec
