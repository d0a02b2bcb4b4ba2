"""Denomination: divide an indicator by a size variable (OECD/JRC Handbook 2008, Step 3; COINr
``Denominate``): x'_ci = x_ci / d_c for each indicator i with a denominator column d."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def denominate(values: pd.DataFrame, denominators: dict[str, str], source: str = "<data>"
               ) -> tuple[pd.DataFrame, list[dict]]:
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
    DataError if a denominator is zero or negative where the indicator is observed.
    """
    out = values.copy()
    log = []
    for ind, den in denominators.items():
        d = values[den]
        bad = values[ind].notna() & (d <= 0)
        if bad.any():
            unit = bad[bad].index[0]
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # file line (header is line 1)
            raise DataError(f"{source}, row {row} (unit {unit}), column '{den}': denominator "
                            f"of '{ind}' is {d[unit]:g}; must be positive "
                            f"({int(bad.sum())} unit(s))")
        out[ind] = values[ind] / d
        lost = values[ind].notna() & d.isna()
        log.append({"stage": "denomination", "code": ind, "action": f"divided by {den}",
                    "n": int(values[ind].notna().sum()),
                    "detail": f"{int(lost.sum())} value(s) missing because {den} is missing"
                    if lost.any() else ""})
    return out, log
