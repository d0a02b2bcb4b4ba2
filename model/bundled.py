"""Where the bundled data live: frameworks, methods, spaces, the city registry, the open panel
and the published tables, read as package data of ``cityindex.data`` through
:mod:`importlib.resources` (so they are found in a wheel install as in a checkout).

Every function returns a :class:`pathlib.Path` (the package is always installed as plain files:
wheels are unpacked, editable installs point at the checkout).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import CityIndexError

PACKAGE = "cityindex.data"


def data_dir() -> Path:
    """The folder of the bundled data."""
    return Path(str(resources.files(PACKAGE)))


def _named(folder: str, suffix: str) -> dict[str, Path]:
    base = data_dir() / folder
    return {p.stem: p for p in sorted(base.glob(f"*{suffix}"))} if base.is_dir() else {}


def frameworks() -> dict[str, Path]:
    """Bundled frameworks by name (``gdci``, ``brpci``)."""
    return _named("frameworks", ".yaml")


def methods() -> dict[str, Path]:
    """Bundled method specs by name (``default``, ``gdci``, ``asem``, …)."""
    return _named("methods", ".yaml")


def spaces() -> dict[str, Path]:
    """Bundled uncertainty spaces by name (``default``, ``coinr_asem``)."""
    return _named("spaces", ".yaml")


def _one(kind: str, table: dict[str, Path], name: str) -> Path:
    try:
        return table[name.lower()]
    except KeyError:
        raise CityIndexError(f"unknown bundled {kind} '{name}'; bundled: "
                             f"{', '.join(sorted(table)) or 'none'}") from None


def framework_path(name: str) -> Path:
    """The YAML file of a bundled framework. Raises CityIndexError for an unknown name."""
    return _one("framework", frameworks(), name)


def method_path(name: str) -> Path:
    """The YAML file of a bundled method spec. Raises CityIndexError for an unknown name."""
    return _one("method", methods(), name)


def space_path(name: str = "default") -> Path:
    """The YAML file of a bundled uncertainty space. Raises CityIndexError for an unknown name."""
    return _one("space", spaces(), name)


def default_method_for(framework_name: str) -> Path:
    """A bundled index's own method (``methods/<name>.yaml``) if it has one, else
    ``methods/default.yaml``."""
    return methods().get(framework_name.lower(), method_path("default"))


def panel_path() -> Path:
    """The bundled open indicator panel (CSV)."""
    return data_dir() / "panel" / "panel.csv"


def panel_long_path() -> Path:
    """The bundled multi-year panel (tidy long CSV: code, year, indicator, value, status,
    source_year; years 2018-2021, see data/panel/SOURCES.md)."""
    return data_dir() / "panel" / "panel_long.csv"


def panel_meta():
    """Unit metadata of the bundled panels (code-indexed name_en, iso2, region, subregion)."""
    import pandas as pd

    meta = pd.read_csv(panel_path(), keep_default_na=False, na_values=[""], dtype=str,
                       usecols=["code", "name_en", "iso2", "region", "subregion"])
    return meta.set_index("code")


def registry_path() -> Path:
    """The 513-city registry (CSV)."""
    return data_dir() / "cities.csv"


def published_path(index: str, year: int = 2021) -> Path | None:
    """The published top-100 table of a bundled index, or None when there is none."""
    p = data_dir() / "published" / f"{index.lower()}_{year}_top100.csv"
    return p if p.exists() else None


def is_bundled(path: str | Path) -> bool:
    """Whether ``path`` is one of the bundled files (e.g. a bundled framework)."""
    try:
        Path(path).resolve().relative_to(data_dir().resolve())
        return True
    except (ValueError, OSError):
        return False
