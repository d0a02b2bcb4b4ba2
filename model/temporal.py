"""Panel data (units × years × indicators): reading, temporal imputation, per-year results.

Layouts read by :func:`read_panel` (CSV / Parquet / XLSX, read exactly as :func:`.read_data`):

* **tidy long** — one row per unit, year and indicator: a unit-code column, ``year``,
  ``indicator``, ``value``, optionally ``status`` (the source's own flag, e.g. "observed" /
  "carried" in the bundled ``panel_long.csv``) and ``source_year``; other columns are unit
  metadata (one value per unit);
* **unit-year rows** — one row per unit and year: a unit-code column, ``year``, metadata and one
  numeric column per indicator (the wide layout of :func:`.read_data` plus a year).

Temporal imputation (method section ``panel``; Handbook on Constructing Composite Indicators,
OECD/JRC 2008, step 3; COINr's ``Impute`` with ``impute_panel`` does the same per unit):

* ``interpolation``: a missing year **between** two observed years of the same unit and
  indicator takes ``linear`` interpolation in the year (unequal spacing allowed), the
  ``previous`` observation (last observation carried forward), the ``nearest`` observed year
  (ties: the earlier), or nothing (``none``);
* ``carry``: a missing year **outside** the unit's observed years takes the nearest observation
  (``both``), only the last one carried forward (``forward``), or nothing (``none``);
* every filled cell is flagged (:data:`STATUSES`); a unit with a single observed year carries
  that value and is flagged ``carried_single``;
* what stays missing goes to the method's cross-sectional imputation (the fallback), year by
  year.

Only a unit's own series is used: no value of one unit ever enters another's (each row of the
units × years matrix is filled from itself alone).

Panel-wide reference (``panel.reference: panel``): treatment and normalisation are computed once
over all unit-years (one min-max range over all years, as COINr's panel normalisation), so a
unit whose data do not change keeps its score when only other units change. With ``year`` (the
default) every year is normalised on its own, and a score change can come from other units.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .data import IndicatorData, MISSING_TOKENS, UNIT_COLUMNS, validate_table
from .errors import DataError, MethodError
from .framework import Framework

#: status of a cell after temporal imputation (``observed`` and a file's own ``carried`` come
#: from the data; the others from :func:`temporal_impute`)
STATUSES = ("observed", "carried", "interpolated", "carried_previous", "nearest",
            "carried_forward", "carried_backward", "carried_single", "missing")
INTERPOLATIONS = ("linear", "previous", "nearest", "none")
CARRIES = ("both", "forward", "none")
REFERENCES = ("year", "panel")
TIDY = ("year", "indicator", "value")
#: separator of the stacked unit-year codes of a panel-wide computation
STACK_SEP = "@"


def temporal_impute(values: pd.DataFrame, interpolation: str = "linear", carry: str = "both"
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing years of each unit's own series.

    Parameters
    ----------
    values : DataFrame indexed by (unit, year) × indicators (float, NaN = missing); years are
        numbers (integers).
    interpolation : "linear", "previous", "nearest" or "none" — gaps between observed years.
    carry : "both", "forward" or "none" — years before the first / after the last observation.

    Returns
    -------
    (filled, status): same index and columns; ``status`` holds one of :data:`STATUSES`
    ("observed" where the cell had a value, "missing" where it still has none).

    Raises
    ------
    MethodError for an unknown ``interpolation`` or ``carry``; DataError for a duplicate
    (unit, year).
    """
    if interpolation not in INTERPOLATIONS:
        raise MethodError(f"panel.interpolation '{interpolation}'; valid: "
                          f"{', '.join(INTERPOLATIONS)}")
    if carry not in CARRIES:
        raise MethodError(f"panel.carry '{carry}'; valid: {', '.join(CARRIES)}")
    if values.index.duplicated().any():
        unit, year = values.index[values.index.duplicated()][0]
        raise DataError(f"unit {unit}, year {year} appears twice in the panel")
    units = values.index.get_level_values(0).unique()
    years = np.sort(values.index.get_level_values(1).unique().to_numpy(dtype=float))
    full = pd.MultiIndex.from_product([units, years.astype(int)], names=values.index.names)
    filled = values.reindex(full).copy()
    status = pd.DataFrame("missing", index=full, columns=values.columns, dtype=object)
    T = len(years)
    t = years[None, :]
    cols = np.arange(T)[None, :]
    for col in values.columns:
        X = filled[col].to_numpy(dtype=float).reshape(len(units), T)   # units × years
        obs = ~np.isnan(X)
        # index of the previous / next observed year of the same unit (row), -1 / T if none
        prev = np.maximum.accumulate(np.where(obs, cols, -1), axis=1)
        nxt = np.flip(np.minimum.accumulate(np.flip(np.where(obs, cols, T), axis=1), axis=1),
                      axis=1)
        rows = np.arange(len(units))[:, None]
        xp = np.where(prev >= 0, X[rows, np.clip(prev, 0, T - 1)], np.nan)
        xn = np.where(nxt < T, X[rows, np.clip(nxt, 0, T - 1)], np.nan)
        tp = np.where(prev >= 0, years[np.clip(prev, 0, T - 1)], np.nan)
        tn = np.where(nxt < T, years[np.clip(nxt, 0, T - 1)], np.nan)
        gap = ~obs & (prev >= 0) & (nxt < T)
        before = ~obs & (prev < 0) & (nxt < T)
        after = ~obs & (prev >= 0) & (nxt >= T)
        single = (obs.sum(axis=1) == 1)[:, None]
        out = X.copy()
        st = np.where(obs, "observed", "missing").astype(object)
        with np.errstate(invalid="ignore", divide="ignore"):
            if interpolation == "linear":
                out[gap] = (xp + (xn - xp) * (t - tp) / (tn - tp))[gap]
                st[gap] = "interpolated"
            elif interpolation == "previous":
                out[gap] = xp[gap]
                st[gap] = "carried_previous"
            elif interpolation == "nearest":
                near = np.where(t - tp <= tn - t, xp, xn)
                out[gap] = near[gap]
                st[gap] = "nearest"
        if carry in ("both", "forward"):
            out[after] = xp[after]
            st[after] = "carried_forward"
        if carry == "both":
            out[before] = xn[before]
            st[before] = "carried_backward"
        st[single & ~obs & (st != "missing")] = "carried_single"
        filled[col] = out.ravel()
        status[col] = st.ravel()
    return filled, status


@dataclass
class PanelData:
    """Indicator data of several years.

    Attributes
    ----------
    values : DataFrame indexed by (unit, year) × numeric columns (float, NaN = missing), the
        data as read (no temporal imputation).
    status : same shape: the file's own status ("observed", "carried", …) or "observed" /
        "missing" when the file has none.
    meta : units × metadata columns (text).
    source, sha256 : the file read and the hash of its bytes.
    """

    values: pd.DataFrame
    status: pd.DataFrame
    meta: pd.DataFrame
    source: str = "<memory>"
    sha256: str = ""
    _filled: dict = field(default_factory=dict, repr=False)

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.values.index.get_level_values(1).unique())

    def filled(self, method=None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(values, status) after the temporal imputation of ``method``'s ``panel`` section
        (see :func:`temporal_impute`); a file's own "carried" flags are kept."""
        sect = _panel_section(method)
        key = (sect["interpolation"], sect["carry"])
        if key not in self._filled:
            if sect["interpolation"] == "none" and sect["carry"] == "none":
                vals = self.values
                st = self.status.where(self.values.notna(), "missing")
            else:
                vals, st = temporal_impute(self.values, *key)
                own = self.status.reindex(st.index)
                st = st.where(st != "observed", own.fillna("observed"))
            self._filled[key] = (vals, st)
        return self._filled[key]

    def for_year(self, year: int, framework: Framework, method=None) -> IndicatorData:
        """The units × indicators data of ``year`` after temporal imputation (validated like
        :func:`.read_data`); its ``status`` holds each cell's status, its ``year`` the year.

        Raises
        ------
        DataError if the panel has no such year, or from the validation of that year's table.
        """
        year = int(year)
        if year not in self.years:
            raise DataError(f"{self.source}: no year {year} in the data (years: "
                            f"{', '.join(map(str, self.years))})")
        vals, st = self.filled(method)
        v = vals.xs(year, level=1)
        table = v.join(self.meta, how="left")
        table.index.name = "uCode"
        data = validate_table(table.reset_index(), framework, source=f"{self.source} (year "
                              f"{year})", unit_col="uCode")
        data.sha256 = self.sha256 or data.sha256
        data.year = year
        data.status = st.xs(year, level=1).reindex(index=data.units,
                                                  columns=framework.indicators)
        return data


def _panel_section(method) -> dict:
    from .method import DEFAULTS

    sect = dict(DEFAULTS["panel"])
    if method is not None:
        sect.update(method.stages.get("panel", {}))
    return sect


def is_panel_table(table: pd.DataFrame) -> bool:
    """Whether a table read from a file has a ``year`` column (a panel layout)."""
    return "year" in table.columns


def read_panel(path: str | Path, unit_col: str | None = None, sheet: str | None = None,
               meta: pd.DataFrame | None = None) -> PanelData:
    """Read a panel file (tidy long or unit-year rows; see the module docstring).

    Parameters
    ----------
    path : CSV / Parquet / XLSX file.
    unit_col : the unit-code column (default: the first of uCode, code, unit, unit_code).
    sheet : XLSX sheet.
    meta : unit metadata (units × columns) joined where the file has none (the bundled tidy
        panel takes its names and regions from the wide panel).

    Returns
    -------
    PanelData (years as integers).

    Raises
    ------
    DataError naming file, row and column: no ``year`` column, a year that is not an integer,
    no unit-code column, an empty unit code, a duplicate (unit, year) or (unit, year,
    indicator), a non-numeric value.
    """
    from .inputs import check_input_file
    from .tables import read_table

    path = check_input_file(path, DataError, "data")
    table = read_table(path, DataError, sheet=sheet,
                       wanted=(unit_col,) if unit_col else UNIT_COLUMNS)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return panel_from_table(table, source=str(path), sha256=sha, unit_col=unit_col, meta=meta)


def _numbers(raw: pd.Series, where) -> np.ndarray:
    text = raw.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    text = text.where(~text.isin(MISSING_TOKENS) & text.notna(), None)
    num = pd.to_numeric(text, errors="coerce")
    bad = num.isna() & text.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{where(i)}: non-numeric value {raw.iloc[i]!r}")
    x = num.to_numpy(dtype=float)
    if np.isinf(x).any():
        i = int(np.flatnonzero(np.isinf(x))[0])
        raise DataError(f"{where(i)}: infinite value {raw.iloc[i]!r}")
    return x


def panel_from_table(table: pd.DataFrame, source: str = "<memory>", sha256: str = "",
                     unit_col: str | None = None, meta: pd.DataFrame | None = None
                     ) -> PanelData:
    """:class:`PanelData` from an in-memory table (same layouts and checks as
    :func:`read_panel`)."""
    from .tables import row_label

    if "year" not in table.columns:
        raise DataError(f"{source}: a panel needs a 'year' column")
    if unit_col is None:
        unit_col = next((c for c in UNIT_COLUMNS if c in table.columns), None)
    if unit_col is None or unit_col not in table.columns:
        raise DataError(f"{source}: no unit-code column (expected one of "
                        f"{', '.join(UNIT_COLUMNS)}, or name it with --unit-col)")
    where = lambda col: lambda i: f"{source}, {row_label(table, i)}, column '{col}'"  # noqa: E731
    units = table[unit_col].astype(object).map(lambda v: "" if v is None or (
        isinstance(v, float) and np.isnan(v)) else str(v).strip())
    if (units == "").any():
        i = int(np.flatnonzero((units == "").to_numpy())[0])
        raise DataError(f"{where(unit_col)(i)}: empty unit code")
    years = _numbers(table["year"], where("year"))
    if np.isnan(years).any() or (years != np.round(years)).any():
        i = int(np.flatnonzero(np.isnan(years) | (years != np.round(years)))[0])
        raise DataError(f"{where('year')(i)}: year {table['year'].iloc[i]!r} is not an integer")
    years = years.astype(int)
    tidy = all(c in table.columns for c in TIDY)
    if tidy:
        ind = table["indicator"].astype(str).str.strip()
        key = pd.DataFrame({"unit": units, "year": years, "indicator": ind})
        dup = key.duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"{source}, {row_label(table, i)}: unit {units.iloc[i]}, year "
                            f"{years[i]}, indicator '{ind.iloc[i]}' appears twice")
        long = key.assign(value=_numbers(table["value"], where("value")))
        st = (table["status"].astype(object).where(table["status"].notna(), "")
              if "status" in table.columns else pd.Series("", index=table.index))
        long["status"] = st.astype(str).str.strip().to_numpy()
        values = long.pivot(index=["unit", "year"], columns="indicator", values="value")
        status = long.pivot(index=["unit", "year"], columns="indicator", values="status")
        extra = [c for c in table.columns if c not in (*TIDY, "status", "source_year",
                                                       unit_col)]
    else:
        key = pd.DataFrame({"unit": units, "year": years})
        dup = key.duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"{source}, {row_label(table, i)}: unit {units.iloc[i]}, year "
                            f"{years[i]} appears twice")
        numeric = [c for c in table.columns if c not in (unit_col, "year")
                   and pd.to_numeric(table[c].astype(object).where(
                       ~table[c].isin(MISSING_TOKENS)), errors="coerce").notna().any()]
        values = pd.DataFrame({c: _numbers(table[c], where(c)) for c in numeric},
                              index=pd.MultiIndex.from_frame(key))
        status = pd.DataFrame("", index=values.index, columns=values.columns)
        extra = [c for c in table.columns if c not in (unit_col, "year", *numeric)]
    values.columns.name = None
    status.columns.name = None
    values = values.sort_index()
    status = status.reindex(values.index)
    status = status.where(status != "", "observed").where(values.notna(), "missing")
    unit_order = list(dict.fromkeys(units))
    if extra:
        m = table[extra].astype(object).copy()
        m.index = units.to_numpy()
        m = m[~m.index.duplicated()]
    else:
        m = pd.DataFrame(index=pd.Index(unit_order))
    if meta is not None:
        m = m.join(meta.drop(columns=[c for c in meta.columns if c in m.columns]), how="left")
    m = m.reindex(unit_order)
    m.index.name = None
    values = values.reindex(pd.MultiIndex.from_product(
        [unit_order, sorted(set(years))], names=["unit", "year"]))
    status = status.reindex(values.index).fillna("missing")
    return PanelData(values, status, m, source, sha256)


# --------------------------------------------------------------------- per-year results
def compute_panel(framework: Framework, panel: PanelData, method, years=None) -> dict:
    """The index of every year of ``panel`` ({year: IndexResult}).

    With ``panel.reference: year`` (default) each year is computed on its own. With
    ``panel.reference: panel`` every year is first imputed on its own (temporal, then the
    method's cross-sectional imputation within the year), then the unit-years of all years are
    treated and normalised together (one reference range over all years, pooled treatment) and
    aggregated; each year's result is that computation's rows of the year (ranks within the
    year). The stacked result is kept as ``result.panel_stack`` of each year.

    Raises
    ------
    DataError / MethodError as :func:`.compute_index`.
    """
    from .pipeline import compute_index

    years = panel.years if years is None else [int(y) for y in years]
    ref = _panel_section(method)["reference"]
    per_year = {y: compute_index(framework, panel.for_year(y, framework, method), method)
                for y in years}
    if ref == "year":
        return per_year
    return _pooled(framework, per_year, method, panel)


def _pooled(framework: Framework, per_year: dict, method, panel: PanelData) -> dict:
    from .data import from_frame
    from .pipeline import compute_index

    fw = per_year[next(iter(per_year))].framework
    inds = fw.indicators
    vals, fills, metas = [], [], []
    for y, r in per_year.items():
        lab = [f"{u}{STACK_SEP}{y}" for u in r.data.units]
        vals.append(r.data.values.set_axis(lab))
        metas.append(r.data.meta.set_axis(lab))
        kept = r.imputed.index
        fills.append(r.imputed[inds].set_axis([f"{u}{STACK_SEP}{y}" for u in kept]))
    stacked_values = pd.concat(vals)
    stacked_meta = pd.concat(metas)
    data = from_frame(stacked_values, framework, stacked_meta,
                      source=f"{per_year[next(iter(per_year))].data.source} (all years)")
    stack = compute_index(framework, data, method, imputations=pd.concat(fills))
    out = {}
    for y, r in per_year.items():
        r.data.panel = panel  # an alternative method on this year's data pools again
        out[y] = slice_year(stack, y, r.data)
        out[y].panel_stack = stack
    return out


def slice_year(stack, year: int, data: IndicatorData):
    """The rows of year ``year`` of a stacked (unit-year) IndexResult as an IndexResult of that
    year's units (ranks within the year)."""
    from .pipeline import IndexResult

    suffix = f"{STACK_SEP}{year}"

    def cut(df: pd.DataFrame) -> pd.DataFrame:
        rows = [i for i in df.index if str(i).endswith(suffix)]
        return df.loc[rows].set_axis([str(i)[:-len(suffix)] for i in rows])

    log = stack.log
    if len(log) and "unit" in log:
        unit = log["unit"].astype(object)
        keep = unit.isna() | unit.astype(str).str.endswith(suffix)
        log = log[keep].copy()
        log["unit"] = log["unit"].map(lambda u: u[:-len(suffix)] if isinstance(u, str) else u)
    return IndexResult(stack.framework, stack.method, data, cut(stack.raw),
                       cut(stack.denominated), cut(stack.screened), cut(stack.imputed),
                       cut(stack.treated), cut(stack.normalised), cut(stack.aggregated),
                       stack.treatment, cut(stack.treatment_flags), cut(stack.screening), log,
                       cut(stack.observed))


def panel_table(results: dict, nodes=None) -> pd.DataFrame:
    """Tidy year × unit × node table (columns year, unit, node, score, rank) of per-year
    results — the ``--history`` table of the explorer and the profiles."""
    rows = []
    for y, r in results.items():
        codes = nodes or [r.framework.root]
        for c in codes:
            rows.append(pd.DataFrame({"year": y, "unit": r.scores.index, "node": c,
                                      "score": r.scores[c].to_numpy(),
                                      "rank": r.ranks[c].to_numpy()}))
    return pd.concat(rows, ignore_index=True)
