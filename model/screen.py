"""Screening of units by data availability (COINr ``Screen``, ``unit_screen = "byNA"``; OECD/JRC
Handbook 2008, Step 3): a unit is kept if the share of indicators it has observed is at least
``min_availability``, unless forced in or out. Excluded units are reported, never dropped silently.
"""

from __future__ import annotations

import pandas as pd

from .errors import MethodError


def availability(values: pd.DataFrame) -> pd.Series:
    """Share of observed indicators per unit (units,), in [0, 1]."""
    return values.notna().mean(axis=1).rename("availability")


def screen(values: pd.DataFrame, min_availability: float = 0.0, force_include=(),
           force_exclude=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep units with availability ≥ ``min_availability``.

    Parameters
    ----------
    values : DataFrame, units × indicators, NaN = missing (before imputation).
    min_availability : float in [0, 1].
    force_include, force_exclude : unit codes kept or removed whatever their availability.

    Returns
    -------
    (kept units × indicators, table of every unit: availability, kept, reason)

    Raises
    ------
    MethodError for a threshold outside [0, 1], a forced unit that does not exist, a unit both
    forced in and out, or a screen that would leave no unit.
    """
    if not 0.0 <= float(min_availability) <= 1.0:
        raise MethodError(f"screening.min_availability must be in [0, 1], got {min_availability}")
    for name, units in (("force_include", force_include), ("force_exclude", force_exclude)):
        unknown = [u for u in units if u not in values.index]
        if unknown:
            raise MethodError(f"screening.{name}: unknown unit(s) {unknown}")
    both = set(force_include) & set(force_exclude)
    if both:
        raise MethodError(f"screening: unit(s) {sorted(both)} both forced in and out")
    avail = availability(values)
    keep = avail >= float(min_availability) - 1e-12
    reason = pd.Series("", index=values.index)
    reason[~keep] = [f"availability {a:.2f} < {min_availability}" for a in avail[~keep]]
    keep[list(force_include)] = True
    reason[list(force_include)] = "forced in"
    keep[list(force_exclude)] = False
    reason[list(force_exclude)] = "forced out"
    if not keep.any():
        raise MethodError("screening would exclude every unit")
    table = pd.DataFrame({"availability": avail, "kept": keep, "reason": reason})
    return values.loc[keep], table
