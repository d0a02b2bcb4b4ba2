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
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .framework import Framework
from .tables import cell_label, row_label

UNIT_COLUMNS = ("uCode", "code", "unit", "unit_code")
MISSING_TOKENS = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", ".."}
#: largest magnitude of a data value: beyond it sums of squares and fourth moments (skewness,
#: kurtosis) overflow or lose all precision, and min-max turns an indicator into zeros
MAX_ABS_VALUE = 1e30


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
    rows: dict = field(default_factory=dict, repr=False)  # unit -> line / sheet row in the file
    #: the data's year when read from a panel (model/temporal.py), else None
    year: int | None = None
    #: units × indicators status of each cell when read from a panel ("observed", "carried",
    #: "interpolated", …; model.temporal.STATUSES), else None
    status: pd.DataFrame | None = field(default=None, repr=False)
    #: the whole panel this year was read from (model.temporal.PanelData), else None: a method
    #: with ``panel.reference: panel`` then computes every year together (compute_index)
    panel: object = field(default=None, repr=False, compare=False)

    @property
    def units(self) -> pd.Index:
        return self.values.index

    def row_of(self, unit: str) -> int:
        """The file line (CSV) or sheet row (XLSX) of a unit, for error messages (without a
        record of the file's rows: its position + 2, the header being line 1)."""
        if unit in self.rows:
            return int(self.rows[unit])
        return int(self.values.index.get_loc(unit)) + 2

    def where(self, unit: str | None = None, column: str | None = None) -> str:
        parts = [self.source]
        if unit is not None:
            parts.append(f"row {self.row_of(unit)} (unit {unit})")
        if column is not None:
            parts.append(f"column '{column}'")
        return ", ".join(parts)


def _cell_text(v) -> str:
    """A cell as in the file, for messages: CSV text verbatim, an XLSX value by its repr."""
    return repr(v) if isinstance(v, str) else f"{v!r} ({type(v).__name__})"


def _to_number(table: pd.DataFrame, col: str, source: str, units: pd.Index) -> pd.Series:
    raw = table[col]
    where = lambda i: (f"{source}, {row_label(table, i)} (unit {units[i]}), column "  # noqa: E731
                       f"'{col}'{cell_label(table, i, col)}")
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype(float)
    else:
        cells = raw.to_numpy(dtype=object)
        text = pd.Series([None if v is None or (isinstance(v, float) and np.isnan(v))
                          else (v.strip() if isinstance(v, str) else v) for v in cells],
                         dtype=object)
        for i, v in enumerate(text):
            if isinstance(v, (bool, np.bool_)) or not (v is None or isinstance(
                    v, (str, int, float, np.integer, np.floating))):
                raise DataError(f"{where(i)}: non-numeric value {_cell_text(cells[i])}")
        text = text.where(~text.isin(MISSING_TOKENS), None)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{where(i)}: non-numeric value {_cell_text(cells[i])}")
        values = values.astype(float)
    x = values.to_numpy()
    inf = np.isinf(x)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise DataError(f"{where(i)}: infinite value {_cell_text(raw.iloc[i])}")
    big = np.abs(np.nan_to_num(x)) > MAX_ABS_VALUE
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataError(f"{where(i)}: value {_cell_text(raw.iloc[i])} is outside the range "
                        f"±{MAX_ABS_VALUE:g} that cityindex accepts; rescale the indicator "
                        "(e.g. thousands or millions)")
    values.index = units
    return values


def read_data(path: str | Path, framework: Framework, unit_col: str | None = None,
              extra_numeric: tuple[str, ...] = (), sheet: str | None = None,
              year: int | None = None, method=None, meta: pd.DataFrame | None = None
              ) -> IndicatorData:
    """Read and validate indicator data for ``framework``.

    Parameters
    ----------
    path : CSV (comma-separated; .tsv tab-separated), Parquet, XLSX or COINr iData CSV; read
        by :mod:`cityindex.model.tables` exactly as it is in the file.
    framework : the framework whose indicators (and denominators) must be present.
    unit_col : name of the unit-code column (default: first of uCode, code, unit, unit_code).
    extra_numeric : further columns to parse as numbers.
    sheet : the XLSX sheet (default: the first).
    year : for data with a ``year`` column (a panel: tidy long unit × year × indicator rows,
        or one row per unit and year; :mod:`.temporal`), the year to read; required then.
    method : the method spec whose ``panel`` section sets the temporal imputation of a panel
        (default: linear between observed years, nearest observation carried, flagged).
    meta : unit metadata joined to a panel file that has none.

    Returns
    -------
    IndicatorData with ``values`` (units × indicators and denominators); from a panel also
    ``year`` and ``status`` (units × indicators: observed, carried, interpolated, …).

    Raises
    ------
    DataError naming file, row (the file's line or the sheet's row) and column (or cell): file
    missing, a folder or a symlink loop, unreadable or not UTF-8, a ragged row, a header name
    given twice, an XLSX formula without a cached value or merged cells, an unknown sheet, a
    delimiter other than a comma, no unit-code column, empty or duplicate unit codes (also
    codes equal after Unicode NFC normalisation and case folding), missing indicator or
    denominator columns, non-numeric, infinite or out-of-range (abs(x) > ``MAX_ABS_VALUE``)
    cells, an all-missing indicator, a zero-variance indicator; a panel read without ``year``,
    a year the panel lacks, ``year`` given for data without a ``year`` column.
    """
    from .inputs import check_input_file
    from .tables import read_table

    path = check_input_file(path, DataError, "data")
    table = read_table(path, DataError, sheet=sheet,
                       wanted=(unit_col,) if unit_col else UNIT_COLUMNS)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if "year" in table.columns and (unit_col is None or unit_col != "year"):
        from .temporal import panel_from_table

        panel = panel_from_table(table, source=str(path), sha256=sha, unit_col=unit_col,
                                 meta=meta)
        if year is None:
            raise DataError(f"{path}: the data has years ({', '.join(map(str, panel.years))}); "
                            "choose one with --year (year=)")
        data = panel.for_year(year, framework, method)
        data.panel = panel
        return data
    if year is not None:
        raise DataError(f"{path}: --year {year} given, but the data has no 'year' column")
    return validate_table(table, framework, source=str(path), sha256=sha, unit_col=unit_col,
                          extra_numeric=extra_numeric)


def validate_table(table: pd.DataFrame, framework: Framework, source: str = "<memory>",
                   sha256: str = "", unit_col: str | None = None,
                   extra_numeric: tuple[str, ...] = ()) -> IndicatorData:
    """Validate an in-memory table (same checks and result as :func:`read_data`)."""
    attrs = dict(table.attrs)
    table = table.reset_index(drop=True)
    table.attrs.update(attrs)
    if table.shape[0] == 0:
        raise DataError(f"{source}: the data has no rows")
    sheet = f", sheet '{attrs['sheet']}'" if attrs.get("sheet") else ""
    if unit_col is None:
        unit_col = next((c for c in UNIT_COLUMNS if c in table.columns), None)
        if unit_col is None:
            raise DataError(f"{source}{sheet}: no unit-code column (expected one of "
                            f"{', '.join(UNIT_COLUMNS)}, or name it with --unit-col); columns: "
                            f"{_names(table.columns)}")
    elif unit_col not in table.columns:
        raise DataError(f"{source}{sheet}: unit-code column '{unit_col}' not found; columns: "
                        f"{_names(table.columns)}")
    codes = _unit_codes(table, unit_col, source)
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
    rows = attrs.get("rows")
    return IndicatorData(values=values, meta=meta, source=source,
                         sha256=sha256 or _frame_hash(values),
                         rows=dict(zip(units, rows)) if rows is not None else {})


def _names(columns, n: int = 12) -> str:
    cols = [str(c) for c in columns]
    return ", ".join(cols[:n]) + (" …" if len(cols) > n else "")


def code_key(code: str) -> str:
    """The form in which two unit codes count as the same: Unicode NFC, case-folded."""
    return unicodedata.normalize("NFC", code).casefold()


def _unit_codes(table: pd.DataFrame, unit_col: str, source: str) -> pd.Series:
    """The unit codes (text, surrounding spaces removed), refusing empty codes, codes with
    control characters and duplicates — also codes that differ only in case or Unicode
    normalisation (they would be one unit to a reader and two to the index)."""
    from .schema import has_control_chars

    where = lambda i: (f"{source}, {row_label(table, i)}, column "  # noqa: E731
                       f"'{unit_col}'{cell_label(table, i, unit_col)}")
    raw = table[unit_col].to_numpy(dtype=object)
    codes = pd.Series(["" if v is None or (isinstance(v, float) and np.isnan(v))
                       else str(v).strip() for v in raw], dtype=object)
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code == "":
            raise DataError(f"{where(i)}: empty unit code")
        if has_control_chars(code):
            raise DataError(f"{where(i)}: unit code {code!r} holds a control character (a "
                            "line break or tab)")
        key = code_key(code)
        if key in seen:
            j = seen[key]
            if codes.iloc[j] == code:
                raise DataError(f"{where(i)}: duplicate unit code '{code}' (first at "
                                f"{row_label(table, j)})")
            raise DataError(f"{where(i)}: unit code {code!r} and {codes.iloc[j]!r} (at "
                            f"{row_label(table, j)}) differ only in case or Unicode "
                            "normalisation; unit codes must be distinct")
        seen[key] = i
    return codes


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
