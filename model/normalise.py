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
from . import stages
from .errors import DataError, MethodError
from .ranking import rank_scores
from .stages import register


def _range(x: np.ndarray, code: str) -> tuple[float, float]:
    lo, hi = np.nanmin(x), np.nanmax(x)
    if hi == lo:
        raise DataError(f"column '{code}': zero range after treatment; cannot normalise")
    return lo, hi


@register("normalisation", "none")
def identity(x, code=""):
    """No rescaling (only the direction is applied)."""
    return x


@register("normalisation", "minmax", params={"range"}, defaults={"range": [0.0, 100.0]})
def minmax(x, range=(0.0, 100.0), code=""):
    """(x − min)/(max − min)·(u − l) + l."""
    lo, hi = _range(x, code)
    l, u = tuple(range)
    return (x - lo) / (hi - lo) * (u - l) + l


@register("normalisation", "zscore", params={"mean", "sd"}, defaults={"mean": 0.0, "sd": 1.0})
def zscore(x, mean=0.0, sd=1.0, code=""):
    """(x − mean(x))/sd(x)·sd + mean, with the sample standard deviation (n − 1), as R's sd."""
    s = np.nanstd(x, ddof=1)
    if s == 0 or np.isnan(s):
        raise DataError(f"column '{code}': zero standard deviation; cannot z-score")
    return (x - np.nanmean(x)) / s * sd + mean


def _rank(x, ties):
    """Ascending ranks of the observed values (1 = lowest), NaN kept (R's
    ``rank(x, ties.method = ties, na.last = "keep")``); ties compared exactly, as R does."""
    out = np.full(x.shape, np.nan)
    obs = ~np.isnan(x)
    out[obs] = rank_scores(x[obs], ties=ties, higher_is_better=False, rtol=0.0)
    return out


_TIE_DOC = ("``ties``: how tied values are ranked — ``min`` (default, COINr's "
            "``ties.method = \"min\"``), ``max``, ``average``, ``ordinal`` (R's \"first\") "
            "or ``dense``.")


@register("normalisation", "rank", params={"ties"}, defaults={"ties": "min"})
def rank(x, ties="min", code=""):
    """Ranks, 1 = lowest (direction-adjusted) value, ties at the minimum by default: COINr 1.1.14
    ``n_rank(x, ties.method = "min")`` = ``rank(x, ties.method, na.last = "keep")``
    (R/normalise.R), applied to direction × x."""
    return _rank(x, ties)


@register("normalisation", "prank", params={"ties", "scale"},
          defaults={"ties": "min", "scale": 1.0})
def prank(x, ties="min", scale=1.0, code=""):
    """Percentile rank (rank − 1)/(n − 1) × scale, n = observed values, rank with minimum ties:
    COINr 1.1.14 ``n_prank(x, ties.method = "min")`` (R/normalise.R), in [0, 1] by default
    (``scale: 100`` for percent), applied to direction × x."""
    n = np.sum(~np.isnan(x))
    if n < 2:
        raise DataError(f"column '{code}': percentile ranks need at least 2 observed values")
    return (_rank(x, ties) - 1) / (n - 1) * scale


@register("normalisation", "borda", params={"ties"}, defaults={"ties": "min"})
def borda(x, ties="min", code=""):
    """Borda score rank − 1 (with minimum ties: the number of units with a lower value): COINr
    1.1.14 ``n_borda(x, ties.method = "min")`` (R/normalise.R), applied to direction × x, so a
    direction −1 indicator gives its lowest value the highest score."""
    return _rank(x, ties) - 1


for _f in (rank, prank, borda):
    _f.__doc__ += "\n\n    " + _TIE_DOC


@register("normalisation", "fracmax")
def fracmax(x, code=""):
    """Fraction of the maximum, x / max(x)·100."""
    mx = np.nanmax(x)
    if mx <= 0:
        raise DataError(f"column '{code}': fraction of max needs a positive maximum")
    return x / mx * 100


@register("normalisation", "dist2max")
def dist2max(x, code=""):
    """Distance to the maximum: 100 − (max − x)/(max − min)·100 (COINr ``n_dist2max``)."""
    lo, hi = _range(x, code)
    return 100 - (hi - x) / (hi - lo) * 100


@register("normalisation", "dist2ref", params={"ref", "cap"}, defaults={"cap": False})
def dist2ref(x, ref_value: float, cap=False, code=""):
    """Distance to a reference unit: x / x_ref·100, optionally capped at 100."""
    if not np.isfinite(ref_value) or ref_value == 0:
        raise DataError(f"column '{code}': reference unit value is {ref_value}; must be non-zero")
    out = x / ref_value * 100
    return np.minimum(out, 100) if cap else out


@register("normalisation", "dist2targ", params={"target", "cap"}, defaults={"cap": False},
          directional=True)
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


@register("normalisation", "goalposts", params={"goalposts", "scale", "truncate"},
          defaults={"scale": 100.0, "truncate": True}, directional=True)
def goalposts(x, goalposts=None, direction=1, scale=100.0, truncate=True, code=""):
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
    """Normalise one indicator with a method of the stage registry.

    Parameters
    ----------
    x : array (units,), NaN kept.
    method : a registered normalisation method (:func:`cityindex.model.stages.methods`);
        params as in the method spec (range, mean, sd, cap, goalposts, scale, truncate).
    direction : +1 (higher is better) or −1; applied to the values first, except by the
        methods that take it into their formula (goalposts, dist2targ).
    ref_value : the reference unit's value (dist2ref); target : the target (dist2targ).

    Raises
    ------
    DataError / MethodError for zero range, missing goalposts or target, unknown method.
    """
    x = np.asarray(x, dtype=float)
    m = stages.get("normalisation", method)
    kw = {k: v for k, v in params.items() if k in m.params and k not in ("ref", "target")}
    if method == "dist2targ":
        kw["target"] = target
    if m.options.get("directional"):
        return m.func(x, direction=direction, code=code, **kw)
    if method == "dist2ref":
        kw["ref_value"] = ref_value * direction if ref_value is not None else np.nan
    return m.func(x * direction, code=code, **kw)
