"""Denomination: divide an indicator by a size variable (OECD/JRC Handbook 2008, Step 3; COINr
``Denominate``): x'_ci = x_ci / d_c for each indicator i with a denominator column d."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def denominate(values: pd.DataFrame, denominators: dict[str, str], source: str = "<data>",
               row_of=None) -> tuple[pd.DataFrame, list[dict]]:
    """Divide each indicator in ``denominators`` by its denominator column.

    Parameters
    ----------
    values : DataFrame, units × columns (indicators and denominator columns).
    denominators : {indicator code: denominator column}.

    Returns
    -------
    (units × indicators DataFrame, log records)

    Raises
    ------
    DataError if a denominator is zero or negative where the indicator is observed, or a ratio
    overflows the accepted range (``data.MAX_ABS_VALUE``). ``row_of(unit)`` gives the unit's
    line in the file (default: its position + 2).
    """
    from .data import MAX_ABS_VALUE

    line = row_of or (lambda u: int(values.index.get_loc(u)) + 2)
    out = values.copy()
    log = []
    for ind, den in denominators.items():
        d = values[den]
        bad = values[ind].notna() & (d <= 0)
        if bad.any():
            unit = bad[bad].index[0]
            raise DataError(f"{source}, row {line(unit)} (unit {unit}), column '{den}': "
                            f"denominator of '{ind}' is {d[unit]:g}; must be positive "
                            f"({int(bad.sum())} unit(s))")
        with np.errstate(over="ignore"):
            out[ind] = values[ind] / d
        big = ~(out[ind].abs() <= MAX_ABS_VALUE) & out[ind].notna()
        if big.any():
            unit = big[big].index[0]
            raise DataError(f"{source}, row {line(unit)} (unit {unit}), column '{den}': "
                            f"'{ind}' / '{den}' = {values[ind][unit]:g} / {d[unit]:g} is "
                            f"outside the accepted range ±{MAX_ABS_VALUE:g}")
        lost = values[ind].notna() & d.isna()
        log.append({"stage": "denomination", "code": ind, "action": f"divided by {den}",
                    "n": int(values[ind].notna().sum()),
                    "detail": f"{int(lost.sum())} value(s) missing because {den} is missing"
                    if lost.any() else ""})
    return out, log
