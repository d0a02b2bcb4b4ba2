"""Normalisation of indicators to a common scale (OECD/JRC Handbook 2008, Step 5, Table 3;
COINr 1.1.14 ``Normalise`` and its ``n_*`` functions, R/normalise.R).

Direction is applied once: for every method except ``goalposts`` and ``dist2targ`` the values
are multiplied by the direction (±1) first; those two take the direction into their formula
(COINr issue #68, case B04). All functions work on one indicator (units,), keep NaN, and use
the statistics of the values they are given (pass several years stacked for a panel-wide
normalisation, case B10).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .errors import DataError, MethodError

METHODS = ("none", "minmax", "zscore", "rank", "prank", "borda", "fracmax", "dist2max",
           "dist2ref", "dist2targ", "goalposts")


def _range(x: np.ndarray, code: str) -> tuple[float, float]:
    lo, hi = np.nanmin(x), np.nanmax(x)
    if hi == lo:
        raise DataError(f"column '{code}': zero range after treatment; cannot normalise")
    return lo, hi


def minmax(x, range=(0.0, 100.0), code=""):
    """(x − min)/(max − min)·(u − l) + l."""
    lo, hi = _range(x, code)
    l, u = range
    return (x - lo) / (hi - lo) * (u - l) + l


def zscore(x, mean=0.0, sd=1.0, code=""):
    """(x − mean(x))/sd(x)·sd + mean, with the sample standard deviation (n − 1), as R's sd."""
    s = np.nanstd(x, ddof=1)
    if s == 0 or np.isnan(s):
        raise DataError(f"column '{code}': zero standard deviation; cannot z-score")
    return (x - np.nanmean(x)) / s * sd + mean


def _rank(x, method):
    out = np.full(x.shape, np.nan)
    obs = ~np.isnan(x)
    out[obs] = stats.rankdata(x[obs], method=method)
    return out


def rank(x, code=""):
    """Ranks, ties averaged (COINr ``n_rank``; 1 = lowest value)."""
    return _rank(x, "average")


def prank(x, code=""):
    """Percentile rank in [0, 100]: (rank_min − 1)/(n − 1)·100 (COINr ``n_prank`` ×100)."""
    n = np.sum(~np.isnan(x))
    return (_rank(x, "min") - 1) / (n - 1) * 100


def borda(x, code=""):
    """Borda score: number of units with a lower value, rank_min − 1 (COINr ``n_borda``)."""
    return _rank(x, "min") - 1


def fracmax(x, code=""):
    """Fraction of the maximum, x / max(x)·100."""
    mx = np.nanmax(x)
    if mx <= 0:
        raise DataError(f"column '{code}': fraction of max needs a positive maximum")
    return x / mx * 100


def dist2max(x, code=""):
    """Distance to the maximum: 100 − (max − x)/(max − min)·100 (COINr ``n_dist2max``)."""
    lo, hi = _range(x, code)
    return 100 - (hi - x) / (hi - lo) * 100


def dist2ref(x, ref_value: float, cap=False, code=""):
    """Distance to a reference unit: x / x_ref·100, optionally capped at 100."""
    if not np.isfinite(ref_value) or ref_value == 0:
        raise DataError(f"column '{code}': reference unit value is {ref_value}; must be non-zero")
    out = x / ref_value * 100
    return np.minimum(out, 100) if cap else out


def dist2targ(x, target: float, direction=1, cap=False, code=""):
    """Distance to target (COINr ``n_dist2targ``): direction +1: (x − min)/(target − min)·100;
    −1: (max − x)/(max − target)·100; optionally capped at 100."""
    if target is None or not np.isfinite(target):
        raise MethodError(f"column '{code}': dist2targ needs a target (framework or override)")
    if direction == 1:
        lo = np.nanmin(x)
        den = target - lo
        out = (x - lo) / den * 100
    else:
        hi = np.nanmax(x)
        den = hi - target
        out = (hi - x) / den * 100
    if den == 0:
        raise DataError(f"column '{code}': target equals the data's extreme; cannot normalise")
    return np.minimum(out, 100) if cap else out


def goalposts(x, goalposts, direction=1, scale=100.0, truncate=True, code=""):
    """Goalposts (L, U): +1: (x − L)/(U − L)·scale; −1: (U − x)/(U − L)·scale; truncated to
    [0, scale] if ``truncate`` (case B04)."""
    if goalposts is None:
        raise MethodError(f"column '{code}': goalposts normalisation needs goalposts [L, U]")
    lo, hi = map(float, goalposts)
    if hi <= lo:
        raise MethodError(f"column '{code}': goalposts need L < U, got {goalposts}")
    out = ((x - lo) if direction == 1 else (hi - x)) / (hi - lo)
    if truncate:
        out = np.clip(out, 0.0, 1.0)
    return out * scale


def normalise(x: np.ndarray, method: str = "minmax", direction: int = 1, code: str = "",
              ref_value: float | None = None, target: float | None = None, **params
              ) -> np.ndarray:
    """Normalise one indicator.

    Parameters
    ----------
    x : array (units,), NaN kept.
    method : one of ``METHODS``; params as in the method spec (range, mean, sd, cap,
        goalposts, scale, truncate).
    direction : +1 (higher is better) or −1.
    ref_value : the reference unit's value (dist2ref); target : the target (dist2targ).

    Raises
    ------
    DataError / MethodError for zero range, missing goalposts or target, unknown method.
    """
    x = np.asarray(x, dtype=float)
    if method in ("goalposts", "dist2targ"):
        if method == "goalposts":
            return goalposts(x, params.get("goalposts"), direction, params.get("scale", 100.0),
                             params.get("truncate", True), code)
        return dist2targ(x, target, direction, params.get("cap", False), code)
    xd = x * direction
    if method == "none":
        return xd
    if method == "minmax":
        return minmax(xd, tuple(params.get("range", (0.0, 100.0))), code)
    if method == "zscore":
        return zscore(xd, params.get("mean", 0.0), params.get("sd", 1.0), code)
    if method == "dist2ref":
        return dist2ref(xd, ref_value * direction if ref_value is not None else np.nan,
                        params.get("cap", False), code)
    funcs = {"rank": rank, "prank": prank, "borda": borda, "fracmax": fracmax,
             "dist2max": dist2max}
    if method not in funcs:
        raise MethodError(f"unknown normalisation method '{method}'; valid: {list(METHODS)}")
    return funcs[method](xd, code=code)
