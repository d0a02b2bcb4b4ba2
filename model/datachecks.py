"""Plausibility checks of indicator data: warnings with unit, indicator and value, never edits.

Four checks (``cityindex validate`` prints them, the audit report lists them):

* **range** — a value outside the plausible range an indicator declares in the framework
  (``range: [0, 100]`` for a share in per cent);
* **zero** — a suspicious zero: a unit at exactly 0 where every other observed value of its
  group (at least :data:`MIN_GROUP` of them; the whole sample when there is no group column) is
  positive and the smallest of them is at least :data:`ZERO_RATIO` times the group's median —
  a zero that looks like a missing value written as 0;
* **jump** — a sudden jump between consecutive years of one unit (long data with a ``year``
  column): a year-on-year change whose robust z-score among all the indicator's year-on-year
  changes exceeds :data:`JUMP_Z` and that is more than half the larger of the two values;
* **duplicate** — a unit whose indicator values (every cell, missing cells included, at least
  :data:`MIN_DUPLICATE` observed and not all equal) repeat another unit's exactly.

Each check returns rows of a table with columns ``check, unit, indicator, value, detail``
(:data:`COLUMNS`); a check that finds nothing returns no row. The data are never changed.
Thresholds are conventions of this package, stated here and in every row's ``detail``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["check", "unit", "indicator", "value", "detail"]
#: a zero is suspicious when its group's other observed values are all ≥ this × their median
ZERO_RATIO = 0.1
#: fewest other observed values of a group for the zero check
MIN_GROUP = 5
#: robust z-score (median / 1.4826·MAD) of a year-on-year change above which it is a jump
JUMP_Z = 8.0
#: fewest observed cells for two units' values to count as a repeat
MIN_DUPLICATE = 3
#: group columns tried, in order, when none is given
GROUP_COLUMNS = ("subregion", "region", "group")


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def check_range(values: pd.DataFrame, framework) -> pd.DataFrame:
    """Values outside their indicator's declared ``range`` (units × indicators in)."""
    rows = []
    for code in framework.indicators:
        rng = framework.nodes[code].range
        if rng is None or code not in values:
            continue
        lo, hi = rng
        x = values[code]
        bad = x[(x < lo) | (x > hi)]
        for unit, v in bad.items():
            rows.append({"check": "range", "unit": unit, "indicator": code, "value": float(v),
                         "detail": f"outside the plausible range [{lo:g}, {hi:g}] declared in "
                                   "the framework"})
    return _frame(rows)


def group_column(meta: pd.DataFrame, method=None) -> str | None:
    """The group column of the zero check: the method's imputation group when the data has
    it, else the first of :data:`GROUP_COLUMNS` present; None for none."""
    if method is not None:
        g = method.stages.get("imputation", {}).get("group")
        if g is not None and g in meta.columns:
            return g
    return next((c for c in GROUP_COLUMNS if c in meta.columns), None)


def _lone_zero(obs: pd.Series) -> str | None:
    """The unit of ``obs`` (observed values of one group) at 0 when it is the only value ≤ 0
    and the others (at least MIN_GROUP) are all ≥ ZERO_RATIO × their median; else None."""
    low = obs[obs <= 0]
    if len(low) != 1 or low.iloc[0] != 0 or len(obs) - 1 < MIN_GROUP:
        return None
    others = obs.drop(low.index)
    return low.index[0] if others.min() >= ZERO_RATIO * float(others.median()) else None


def check_zeros(values: pd.DataFrame, groups: pd.Series | None = None) -> pd.DataFrame:
    """Suspicious zeros (see the module docstring). ``values`` units × indicators; ``groups``
    one label per unit (a unit without a label is compared with the whole sample)."""
    rows = []
    labels = (pd.Series("", index=values.index, dtype=object) if groups is None
              else groups.reindex(values.index).astype(object))
    has = labels.notna()
    for code in values.columns:
        x = values[code]
        zeros = x.index[x == 0]
        if not len(zeros):
            continue
        cases = []
        for g, obs in x[has].dropna().groupby(labels[has]):
            if (obs == 0).any():
                unit = _lone_zero(obs)
                if unit is not None:
                    cases.append((unit, obs.drop(unit), f"group '{g}'" if g != "" else
                                  "all units"))
        for unit in zeros[~has.reindex(zeros).to_numpy()]:
            obs = x.dropna()
            if _lone_zero(obs) == unit:
                cases.append((unit, obs.drop(unit), "all units"))
        for unit, others, where in cases:
            rows.append({"check": "zero", "unit": unit, "indicator": code, "value": 0.0,
                         "detail": f"0 while the {len(others)} other observed values of "
                                   f"{where} are all ≥ {others.min():g} (median "
                                   f"{float(others.median()):g})"})
    return _frame(rows)


def check_jumps(table: pd.DataFrame, indicators, unit_col: str = "unit",
                year_col: str = "year") -> pd.DataFrame:
    """Sudden jumps between consecutive years (see the module docstring) in long data: one row
    per unit and year, columns ``unit_col``, ``year_col`` and the indicators. The row of a jump
    names the later year in ``detail``; ``value`` is the later value."""
    rows = []
    if year_col not in table.columns or unit_col not in table.columns:
        return _frame(rows)
    t = table.sort_values([unit_col, year_col])
    for code in indicators:
        if code not in t.columns:
            continue
        x = pd.to_numeric(t[code], errors="coerce")
        if x.dropna().nunique() <= 2:    # a flag (0/1) changes by a whole step, never "jumps"
            continue
        prev = x.groupby(t[unit_col]).shift(1)
        prev_year = t[year_col].groupby(t[unit_col]).shift(1)
        d = (x - prev).dropna()
        if len(d) < 3:
            continue
        med = float(d.median())
        mad = 1.4826 * float((d - med).abs().median())
        if mad == 0:
            mad = float((d - med).abs().mean())
        if mad == 0:
            continue
        z = (d - med) / mad
        big = np.maximum(x.loc[d.index].abs(), prev.loc[d.index].abs())
        hit = d.index[(z.abs() > JUMP_Z) & (d.abs() > 0.5 * big)]
        for i in hit:
            rows.append({"check": "jump", "unit": t.at[i, unit_col], "indicator": code,
                         "value": float(x.at[i]),
                         "detail": f"{prev.at[i]:g} in {_year(prev_year.at[i])} → {x.at[i]:g} "
                                   f"in {_year(t.at[i, year_col])} (robust z {z.at[i]:.1f} among the "
                                   f"indicator's year-on-year changes)"})
    return _frame(rows)


def _year(v) -> str:
    """A year as written: 2017.0 (a shifted integer column) is 2017."""
    try:
        f = float(v)
        return str(int(f)) if f.is_integer() else str(v)
    except (TypeError, ValueError):
        return str(v)


def check_duplicates(values: pd.DataFrame) -> pd.DataFrame:
    """Units whose indicator values repeat an earlier unit's exactly (see the module
    docstring); one row per repeating unit, naming the first unit with those values. Only
    rows with at least :data:`MIN_DUPLICATE` non-zero observed values, more than half of the
    observed ones, count: small units with zeros everywhere except values shared by their
    country are alike, not copied."""
    rows = []
    obs = values.notna().sum(axis=1)
    nonzero = (values.fillna(0) != 0).sum(axis=1)
    cand = values[(nonzero >= MIN_DUPLICATE) & (nonzero > 0.5 * obs)]
    dup = cand.duplicated(keep=False)
    if not dup.any():
        return _frame(rows)
    first: dict[tuple, str] = {}
    for unit, row in cand[dup].iterrows():
        key = tuple("NA" if pd.isna(v) else float(v) for v in row.to_numpy())
        if key in first:
            rows.append({"check": "duplicate", "unit": unit, "indicator": "",
                         "value": np.nan,
                         "detail": f"every indicator value equals unit '{first[key]}'s "
                                   f"({int(obs[unit])} observed)"})
        else:
            first[key] = unit
    return _frame(rows)


def check_data(data, framework, method=None, long_table: pd.DataFrame | None = None,
               unit_col: str = "unit", year_col: str = "year") -> pd.DataFrame:
    """Every check on validated data (:class:`~cityindex.model.data.IndicatorData`): range,
    zero (grouped by :func:`group_column`), duplicate; and jump on ``long_table`` when given,
    else on the whole panel (every year, values as read) when ``data`` was read for one year of
    panel data (``read_data(..., year=)``, ``--year``). Returns the rows of :data:`COLUMNS`, sorted by check, indicator, unit."""
    values = data.values[[c for c in framework.indicators if c in data.values]]
    g = group_column(data.meta, method)
    parts = [check_range(values, framework),
             check_zeros(values, data.meta[g] if g else None),
             check_duplicates(values)]
    panel = getattr(data, "panel", None)
    if long_table is None and panel is not None:   # data read for one year of a panel
        long_table = panel.values.reset_index()
        unit_col, year_col = long_table.columns[0], long_table.columns[1]
    if long_table is not None:
        parts.append(check_jumps(long_table, framework.indicators, unit_col, year_col))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _frame([])
    return pd.concat(parts, ignore_index=True)


def describe(checks: pd.DataFrame, limit: int = 20) -> list[str]:
    """One line per flag (at most ``limit``, then a count of the rest)."""
    lines = []
    for r in checks.head(limit).itertuples(index=False):
        v = "" if pd.isna(r.value) else f" = {r.value:g}"
        ind = f", {r.indicator}" if r.indicator else ""
        lines.append(f"{r.check}: {r.unit}{ind}{v}: {r.detail}")
    if len(checks) > limit:
        lines.append(f"… and {len(checks) - limit} more")
    return lines
