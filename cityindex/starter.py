"""``cityindex init``: starter framework, method and space files written from a data file.

:func:`starter_files` reads a data table (as ``--data`` is read), takes every numeric column
with at least two distinct observed values as an indicator (the unit-code column, a ``year``
column and text columns are metadata) and writes three commented YAML files, ready to edit:

* ``framework.yaml`` — one pillar per column prefix (the text before the first ``_``, ``.`` or
  ``-``) when every indicator has one and there are at least two, else a flat tree (index →
  indicators); equal weights; every direction is a placeholder ``1`` marked ``TO FILL IN``; a
  ``range: [0, 100]`` for a column whose name says it is a share (pct, percent, share, rate)
  and whose values lie in [0, 100];
* ``method.yaml`` — the built-in defaults written out, with the alternatives in comments
  (a group-based imputation names the group column the data has, if any);
* ``space.yaml`` — the uncertainty space the audit would build from these files
  (:func:`cityindex.validation.space.default_space_spec`).

Nothing is overwritten: an existing file of the same name is an error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from cityindex.model.errors import CityIndexError, DataError

SEPARATORS = re.compile(r"[_.\-]")
SHARE_WORDS = re.compile(r"(pct|percent|share|rate|ratio_pct)", re.IGNORECASE)
FILES = ("framework.yaml", "method.yaml", "space.yaml")
TO_FILL = "TO FILL IN"


def _q(text: str) -> str:
    """A YAML scalar for any text (JSON strings are YAML 1.2 flow scalars)."""
    return json.dumps(str(text), ensure_ascii=False)


def _numeric(col: pd.Series) -> pd.Series | None:
    """The column as numbers when every non-missing cell is one; else None."""
    from cityindex.model.data import MISSING_TOKENS

    s = col.astype(object)
    s = s.where(~s.isin(list(MISSING_TOKENS)) & s.notna(), None)
    x = pd.to_numeric(s, errors="coerce")
    if (x.isna() & s.notna()).any():
        return None
    return x.astype(float)


def analyse(table: pd.DataFrame, unit_col: str | None = None) -> dict:
    """Unit column, indicator columns (numbers), metadata columns of a data table.

    Raises
    ------
    DataError when there is no unit-code column or fewer than two indicator columns."""
    from cityindex.model.data import UNIT_COLUMNS

    if unit_col is None:
        unit_col = next((c for c in UNIT_COLUMNS if c in table.columns), None)
        if unit_col is None:
            raise DataError(f"no unit-code column (expected one of {', '.join(UNIT_COLUMNS)}, "
                            "or name it with --unit-col)")
    elif unit_col not in table.columns:
        raise DataError(f"unit-code column '{unit_col}' not found")
    indicators, values = [], {}
    for c in table.columns:
        if c == unit_col or str(c).lower() == "year":
            continue
        x = _numeric(table[c])
        if x is not None and x.notna().sum() >= 2 and x.nunique() >= 2:
            indicators.append(str(c))
            values[str(c)] = x
    if len(indicators) < 2:
        raise DataError(f"found {len(indicators)} numeric indicator column(s); a framework "
                        "needs at least two")
    meta = [str(c) for c in table.columns if c != unit_col and str(c) not in values]
    return {"unit_col": unit_col, "indicators": indicators, "values": values, "meta": meta}


def pillars(indicators: list[str], flat: bool = False) -> dict[str, list[str]] | None:
    """{prefix: indicators} when every indicator has a prefix and there are at least two
    prefixes; None for a flat tree."""
    if flat:
        return None
    groups: dict[str, list[str]] = {}
    for c in indicators:
        parts = SEPARATORS.split(c, maxsplit=1)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            return None
        groups.setdefault(parts[0], []).append(c)
    return groups if len(groups) >= 2 else None


def _code(base: str, taken: set) -> str:
    code, k = base, 2
    while code.casefold() in {t.casefold() for t in taken}:
        code, k = f"{base}_{k}", k + 1
    taken.add(code)
    return code


def framework_text(info: dict, index: str = "INDEX", flat: bool = False,
                   source: str = "") -> str:
    """The starter framework (see the module docstring)."""
    inds = info["indicators"]
    groups = pillars(inds, flat)
    taken = set(inds)
    root = _code(index, taken)
    lines = [
        "# Starter framework written by `cityindex init` (format: docs/formats.md#framework).",
        f"# Every direction below is a placeholder marked {TO_FILL}: set 1 where a higher",
        "# value is better, -1 where a lower value is better. Weights are relative within",
        "# their parent (0.6 and 0.3 are used as 2/3 and 1/3); `cityindex validate` prints the",
        "# weights as used. An optional `range: [lo, hi]` per indicator declares its plausible",
        "# values (validate warns about values outside; nothing is changed).",
        f"index: {_q(root)}",
        f"name: {_q('Starter index from ' + source if source else 'Starter index')}",
        "nodes:",
        f"  - {{code: {_q(root)}, name: {_q(index)}, level: {3 if groups else 2}}}",
    ]

    def indicator(c: str, parent: str) -> list[str]:
        out = [f"  - code: {_q(c)}", f"    name: {_q(c)}", f"    parent: {_q(parent)}",
               "    level: 1", "    weight: 1",
               f"    direction: 1   # {TO_FILL}: 1 higher is better, -1 lower is better"]
        x = info["values"][c].dropna()
        if SHARE_WORDS.search(c) and len(x) and x.min() >= 0 and x.max() <= 100:
            out.append("    range: [0, 100]   # a share in per cent (from its name); check it")
        return out

    if groups:
        for prefix, members in groups.items():
            p = _code(prefix.upper(), taken)
            lines.append(f"  - {{code: {_q(p)}, name: {_q(prefix)}, parent: {_q(root)}, "
                         "level: 2, weight: 1}")
            for c in members:
                lines.extend(indicator(c, p))
    else:
        for c in inds:
            lines.extend(indicator(c, root))
    return "\n".join(lines) + "\n"


def method_text(info: dict, group: str | None) -> str:
    """The starter method: the built-in defaults written out, alternatives in comments."""
    grp = (f"# or {{method: group_median, group: {_q(group)}, fallback: median}}  "
           f"(the data has a group column {_q(group)})" if group else
           "# group_median / group_mean need a group column in the data (none found)")
    return "\n".join([
        "# Starter method written by `cityindex init` (format: docs/formats.md#method): the",
        "# built-in defaults, written out so that you can change them. `cityindex validate`",
        "# prints what each stage will do with your data.",
        "seed: 0",
        "screening: {min_availability: 0.0, force_include: [], force_exclude: [], "
        "measure: denominated}",
        "# Missing cells are left missing (a parent is the mean of its observed children);",
        "# alternatives: {method: median}, {method: mean}, {method: iterative}",
        grp,
        "imputation: {method: none}",
        "# Outliers: {method: coinr, winmax: 5, skew: 2.0, kurtosis: 3.5} winsorises skewed",
        "# indicators (COINr's rule); {method: log} log-transforms them.",
        "treatment: {method: none}",
        "# Alternatives: {method: zscore, mean: 10, sd: 2}, {method: rank}, {method: goalposts,",
        "# goalposts: [L, U]} (or goalposts per indicator in the framework).",
        "normalisation: {method: minmax, range: [0, 100]}",
        "# Alternatives: geometric (needs positive normalised values), harmonic, generalised.",
        "aggregation: {method: arithmetic}",
        "# weights: {CODE: 2}   # replaces a node's framework weight (relative within its parent)",
        "",
    ])


def starter_files(data_path: Path, out: Path, unit_col: str | None = None,
                  sheet: str | None = None, index: str = "INDEX", flat: bool = False
                  ) -> dict[str, Path]:
    """Write the starter files (see the module docstring) into ``out`` (created if needed)
    and check them as ``cityindex validate`` would. Returns {file name: path}.

    Raises
    ------
    CityIndexError when a starter file exists already, or the data cannot be read or give no
    valid starter (DataError naming the file)."""
    from cityindex.model import Framework, MethodSpec
    from cityindex.model.data import read_data
    from cityindex.model.inputs import check_input_file
    from cityindex.model.tables import read_table
    from cityindex.validation.space import default_space_spec, group_column, space_yaml

    from .safety import inside

    data_path = check_input_file(data_path, DataError, "data")
    table = read_table(data_path, DataError, sheet=sheet)
    try:
        info = analyse(table, unit_col)
    except DataError as exc:
        raise DataError(f"{data_path}: {exc}") from None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CityIndexError(f"{out}: exists and is not a folder")
    exists = [f for f in FILES if (out / f).exists()]
    if exists:
        raise CityIndexError(f"{out}: {', '.join(exists)} exist(s) already; nothing was "
                             "written (choose another --out or move them)")
    fw_text = framework_text(info, index, flat, data_path.name)
    out.mkdir(parents=True, exist_ok=True)
    paths = {f: inside(out, f) for f in FILES}
    paths["framework.yaml"].write_text(fw_text, encoding="utf-8")
    fw = Framework.load(paths["framework.yaml"])
    data = read_data(data_path, fw, unit_col=info["unit_col"], sheet=sheet)
    spec0 = MethodSpec.from_dict(None)
    group = group_column(fw, data, spec0)
    paths["method.yaml"].write_text(method_text(info, group), encoding="utf-8")
    method = MethodSpec.load(paths["method.yaml"])
    spec, notes = default_space_spec(fw, data, method)
    paths["space.yaml"].write_text(space_yaml(spec, notes), encoding="utf-8")
    return paths
