"""Indicator data: read CSV / Parquet / XLSX / COINr iData, validate against a framework.

The table has one row per unit, a unit-code column (``uCode`` as in COINr, else ``code``,
``unit`` or ``unit_code``), metadata columns (names, country, groups) and one numeric column per
indicator. Every check fails with a one-line :class:`DataError` naming the file, the row (as the
file's line number) and the column. No unit is ever dropped here.

pandas reads "NA" as missing by default, which would erase Namibia's ISO code; metadata are read
as text with only empty cells missing, and "NA"/"NaN" count as missing only in numeric columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .framework import Framework

UNIT_COLUMNS = ("uCode", "code", "unit", "unit_code")
MISSING_TOKENS = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", ".."}


@dataclass
class IndicatorData:
    """Validated indicator data.

    Attributes
    ----------
    values : DataFrame, units × indicators (and denominators), float, NaN = missing
    meta : DataFrame, units × metadata columns (text)
    source : str, the file read
    sha256 : str, hash of the file's bytes (or of the table when built in memory)
    """

    values: pd.DataFrame
    meta: pd.DataFrame
    source: str = "<memory>"
    sha256: str = ""

    @property
    def units(self) -> pd.Index:
        return self.values.index

    def row_of(self, unit: str) -> int:
        """The file line of a unit (header is line 1), for error messages."""
        return int(self.values.index.get_loc(unit)) + 2

    def where(self, unit: str | None = None, column: str | None = None) -> str:
        parts = [self.source]
        if unit is not None:
            parts.append(f"row {self.row_of(unit)} (unit {unit})")
        if column is not None:
            parts.append(f"column '{column}'")
        return ", ".join(parts)


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(path, dtype=str, keep_default_na=False,
                               sep="\t" if suffix == ".tsv" else ",")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(path, dtype=object, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot be read as a table ({str(exc).splitlines()[0]})") from None
    raise DataError(f"{path}: unknown data format '{suffix}' (use .csv, .parquet or .xlsx)")


def _to_number(table: pd.DataFrame, col: str, source: str, units: pd.Index) -> pd.Series:
    raw = table[col]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype(float)
    else:
        text = raw.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                       else str(v).strip())
        text = text.where(~text.isin(MISSING_TOKENS), None)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{source}, row {i + 2} (unit {units[i]}), column '{col}': "
                            f"non-numeric value {text.iloc[i]!r}")
        values = values.astype(float)
    inf = np.isinf(values.to_numpy())
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise DataError(f"{source}, row {i + 2} (unit {units[i]}), column '{col}': "
                        "infinite value")
    values.index = units
    return values


def read_data(path: str | Path, framework: Framework, unit_col: str | None = None,
              extra_numeric: tuple[str, ...] = ()) -> IndicatorData:
    """Read and validate indicator data for ``framework``.

    Parameters
    ----------
    path : CSV, Parquet, XLSX or COINr iData CSV.
    framework : the framework whose indicators (and denominators) must be present.
    unit_col : name of the unit-code column (default: first of uCode, code, unit, unit_code).
    extra_numeric : further columns to parse as numbers.

    Returns
    -------
    IndicatorData with ``values`` (units × indicators and denominators).

    Raises
    ------
    DataError naming file, row and column: file missing or unreadable, no unit-code column,
    empty or duplicate unit codes, missing indicator or denominator columns, non-numeric or
    infinite cells, an all-missing indicator, a zero-variance indicator.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    table = _read_table(path)
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        import csv

        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv"
                                     else ","), [])
        seen: set[str] = set()
        for col in header:
            if col in seen:
                raise DataError(f"{path}, row 1: column '{col}' appears twice in the header")
            seen.add(col)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return validate_table(table, framework, source=str(path), sha256=sha, unit_col=unit_col,
                          extra_numeric=extra_numeric)


def validate_table(table: pd.DataFrame, framework: Framework, source: str = "<memory>",
                   sha256: str = "", unit_col: str | None = None,
                   extra_numeric: tuple[str, ...] = ()) -> IndicatorData:
    """Validate an in-memory table (same checks and result as :func:`read_data`)."""
    table = table.reset_index(drop=True)
    if table.shape[0] == 0:
        raise DataError(f"{source}: the data has no rows")
    if unit_col is None:
        unit_col = next((c for c in UNIT_COLUMNS if c in table.columns), None)
        if unit_col is None:
            raise DataError(f"{source}: no unit-code column (expected one of "
                            f"{', '.join(UNIT_COLUMNS)})")
    elif unit_col not in table.columns:
        raise DataError(f"{source}: unit-code column '{unit_col}' not found")
    codes = table[unit_col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                else str(v).strip())
    empty = np.flatnonzero((codes == "").to_numpy())
    if empty.size:
        raise DataError(f"{source}, row {empty[0] + 2}, column '{unit_col}': empty unit code")
    dup = codes.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((codes == codes.iloc[i]).to_numpy())[0])
        raise DataError(f"{source}, row {i + 2}, column '{unit_col}': duplicate unit code "
                        f"'{codes.iloc[i]}' (first at row {first + 2})")
    units = pd.Index(codes.to_numpy(), name="unit")

    indicators = framework.indicators
    missing = [c for c in indicators if c not in table.columns]
    if missing:
        raise DataError(f"{source}: indicator column(s) missing from the data: "
                        f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}")
    denoms = sorted({framework.nodes[c].denominator for c in indicators
                     if framework.nodes[c].denominator})
    missing = [d for d in denoms if d not in table.columns]
    if missing:
        raise DataError(f"{source}: denominator column(s) missing from the data: "
                        f"{', '.join(missing)}")
    numeric_cols = list(dict.fromkeys([*indicators, *denoms, *extra_numeric]))
    values = pd.DataFrame({c: _to_number(table, c, source, units) for c in numeric_cols},
                          index=units)
    for col in indicators:
        x = values[col]
        n_obs = int(x.notna().sum())
        if n_obs == 0:
            raise DataError(f"{source}, column '{col}': indicator is missing for every unit")
        if n_obs > 1 and np.nanmax(x) == np.nanmin(x):
            raise DataError(f"{source}, column '{col}': indicator has zero variance "
                            f"(every observed value is {np.nanmax(x):g})")
        if n_obs == 1:
            raise DataError(f"{source}, column '{col}': indicator has a single observed value")
    meta_cols = [c for c in table.columns if c not in numeric_cols and c != unit_col]
    meta = table[meta_cols].copy()
    meta.index = units
    meta = meta.map(lambda v: np.nan if v is None or v == "" else v)
    return IndicatorData(values=values, meta=meta, source=source,
                         sha256=sha256 or _frame_hash(values))


def _frame_hash(values: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(values, index=True).to_numpy().tobytes())
    return h.hexdigest()


def from_frame(values: pd.DataFrame, framework: Framework, meta: pd.DataFrame | None = None,
               source: str = "<memory>") -> IndicatorData:
    """Build validated :class:`IndicatorData` from a units × columns frame (index = unit codes)."""
    table = values.copy()
    if meta is not None:
        table = table.join(meta, how="left")
    table.index.name = "uCode"
    return validate_table(table.reset_index(), framework, source=source, unit_col="uCode")
