"""Outlier treatment (OECD/JRC Handbook 2008, Step 3; COINr 1.1.14 ``Treat``, R/treat.R).

The COINr rule, per indicator: it passes when |skewness| < ``skew`` OR kurtosis < ``kurtosis``
(defaults 2 and 3.5). A failing indicator is winsorised one step at a time — every value tied at
the extreme on the side of the skew (max if skewness ≥ 0, else min) is set to the next value
inwards, each point changed counted once — re-checking after each step, for at most ``winmax`` steps.
If it still fails, the log transform ``log(x − min + 0.01·(max − min))`` (COINr ``log_CT``) is
applied to the *original* values instead. ``force=True`` winsorises even an indicator that
passes (COINr issue #53, case B03); such an indicator is never log-transformed (it passed).

Skewness and kurtosis are the adjusted Fisher–Pearson sample skewness and the sample excess
kurtosis (e1071 type 2 = Excel SKEW/KURT), on the non-missing values:
skew = √n·Σd³/(Σd²)^{3/2} · √(n(n−1))/(n−2), kurt = ((n+1)(r−3)+6)(n−1)/((n−2)(n−3)),
r = n·Σd⁴/(Σd²)², d = x − mean(x).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import stages
from .errors import DataError
from .stages import register


def skewness(x: np.ndarray) -> float:
    """Adjusted Fisher–Pearson sample skewness of the non-missing values (n ≥ 3, else NaN)."""
    return float(_row_moments(np.asarray(x, float)[None])[0][0])


def kurtosis(x: np.ndarray) -> float:
    """Sample excess kurtosis of the non-missing values (n ≥ 4, else NaN)."""
    return float(_row_moments(np.asarray(x, float)[None])[1][0])


def passes(x: np.ndarray, skew: float = 2.0, kurt: float = 3.5) -> tuple[bool, float, float]:
    """(passes, skewness, kurtosis) under the COINr rule |skew| < skew OR kurt < kurt."""
    s, k = skewness(x), kurtosis(x)
    ok = bool(np.isnan(s) or np.isnan(k) or abs(s) < skew or k < kurt)
    return ok, s, k


def winsorise(x: np.ndarray, winmax: int = 5, skew: float = 2.0, kurt: float = 3.5,
              force: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """COINr's iterative winsorisation of one indicator.

    Parameters
    ----------
    x : array (units,), NaN = missing (left as is).
    winmax : maximum number of winsorisation steps.
    force : winsorise even if ``x`` passes the rule at the start.

    Returns
    -------
    (treated values, flags array of "" / "winhi" / "winlo", number of points changed)
    """
    xt = np.array(x, dtype=float)
    flags = np.full(xt.shape, "", dtype=object)
    ok, s, _ = passes(xt, skew, kurt)
    if ok and not force:
        return xt, flags, 0
    for _ in range(int(winmax)):
        obs = ~np.isnan(xt)
        if np.unique(xt[obs]).size < 3:  # a step would leave a constant indicator
            break
        if s >= 0:
            ext = np.nanmax(xt)
            idx = np.flatnonzero(obs & (xt == ext))
            xt[idx] = np.max(xt[obs & (xt != ext)])
            flags[idx] = "winhi"
        else:
            ext = np.nanmin(xt)
            idx = np.flatnonzero(obs & (xt == ext))
            xt[idx] = np.min(xt[obs & (xt != ext)])
            flags[idx] = "winlo"
        ok, s, _ = passes(xt, skew, kurt)
        if ok:
            break
    # points changed: a point moved at several steps counts once (COINr's count of flags)
    nwin = int(np.sum(flags != ""))
    return xt, flags, nwin


def _row_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and excess kurtosis of every row of X (R, n), NaN ignored; NaN where a row has
    too few values (skewness n < 3, kurtosis n < 4); 0 for a constant row.

    Each row is sorted first, so the sums run in one canonical order: the result does not
    depend on the order of the units (the pass/fail rule can sit exactly on its threshold, e.g.
    skewness 2.0, where summation order would otherwise decide it).
    """
    X = np.sort(np.asarray(X, dtype=float), axis=1)  # NaN last
    obs = ~np.isnan(X)
    n = obs.sum(axis=1).astype(float)
    with np.errstate(all="ignore"):
        mean = np.where(obs, X, 0.0).sum(axis=1) / n
        d = np.where(obs, X - mean[:, None], 0.0)
        d2 = d * d
        m2 = d2.sum(axis=1)
        sk = (np.sqrt(n) * (d2 * d).sum(axis=1) / (m2 * np.sqrt(m2)) * np.sqrt(n * (n - 1))
              / (n - 2))
        r = n * (d2 * d2).sum(axis=1) / (m2 * m2)
        ku = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    sk = np.where(n < 3, np.nan, np.where(m2 == 0, 0.0, sk))
    ku = np.where(n < 4, np.nan, np.where(m2 == 0, 0.0, ku))
    return sk, ku


def _row_passes(X: np.ndarray, skew: float, kurt: float) -> tuple[np.ndarray, np.ndarray]:
    """(passes, skewness) of every row under the COINr rule (see :func:`passes`)."""
    s, k = _row_moments(X)
    ok = np.isnan(s) | np.isnan(k) | (np.abs(s) < skew) | (k < kurt)
    return ok, s


def coinr_many(X: np.ndarray, winmax: int = 5, skew: float = 2.0, kurtosis: float = 3.5,
               force: bool = False, log_fallback: bool = True) -> np.ndarray:
    """COINr's treatment (:func:`winsorise` with the log fallback of the ``coinr`` method) of
    many copies of one indicator at once: X (R, n), NaN = missing; returns the treated (R, n).
    Each row is treated exactly as the one-indicator function treats it."""
    X = np.array(X, dtype=float)
    out = X.copy()
    ok0, s = _row_passes(X, skew, kurtosis)
    active = ~ok0 | force
    for _ in range(int(winmax)):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        x = out[rows]
        obs = ~np.isnan(x)
        srt = np.sort(np.where(obs, x, np.inf), axis=1)
        distinct = np.sum(np.diff(srt, axis=1) > 0, axis=1) + 1
        n_obs = obs.sum(axis=1)
        distinct = np.where(n_obs > 0, np.minimum(distinct, n_obs), 0)
        go = distinct >= 3            # a step would otherwise leave a constant indicator
        hi = s[rows] >= 0
        with np.errstate(invalid="ignore"):
            ext = np.where(hi, np.nanmax(x, axis=1), np.nanmin(x, axis=1))
            at = obs & (x == ext[:, None])
            other = obs & ~at
            new_hi = np.max(np.where(other, x, -np.inf), axis=1)
            new_lo = np.min(np.where(other, x, np.inf), axis=1)
        repl = np.where(hi, new_hi, new_lo)
        x = np.where(at & go[:, None], repl[:, None], x)
        out[rows] = x
        ok, s_new = _row_passes(x, skew, kurtosis)
        s[rows] = s_new
        still = go & ~ok
        active[rows] = still
    if log_fallback:
        ok1, _ = _row_passes(out, skew, kurtosis)
        fall = ~ok1 & ~ok0
        if fall.any():
            lo = np.nanmin(X[fall], axis=1, keepdims=True)
            hi_v = np.nanmax(X[fall], axis=1, keepdims=True)
            out[fall] = np.log(X[fall] - lo + 0.01 * (hi_v - lo))
    return out


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr ``log_CT``: log(x − min(x) + 0.01·(max(x) − min(x))), defined for any real x."""
    x = np.asarray(x, float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def _require_positive(x: np.ndarray, code: str, units, what: str, where=None) -> None:
    bad = np.flatnonzero(~np.isnan(x) & (x <= 0))
    if bad.size:
        unit = units[bad[0]]
        loc = where(unit, code) if where is not None else f"unit {unit}, column '{code}'"
        listed = ", ".join(str(units[i]) for i in bad[:10]) + (" …" if bad.size > 10 else "")
        raise DataError(f"{loc}: value {x[bad[0]]:g} is not positive; {what} needs positive "
                        f"values ({bad.size} cell(s): units {listed})")


# Each registered treatment takes the indicator's values (units,) and returns (treated values,
# per-unit flags, action, points winsorised); ``ok0`` says whether the values pass the COINr rule.
@register("treatment", "none")
def _none(v, *, ok0, **_):
    return v, np.full(v.shape, "", dtype=object), "none", 0


@register("treatment", "coinr", params={"winmax", "skew", "kurtosis", "force", "log_fallback"},
          defaults={"winmax": 5, "skew": 2.0, "kurtosis": 3.5, "force": False,
                    "log_fallback": True})
def _coinr(v, *, ok0, winmax=5, skew=2.0, kurtosis=3.5, force=False, log_fallback=True, **_):
    flags = np.full(v.shape, "", dtype=object)
    if ok0 and not force:
        return v, flags, "none", 0
    out, flags, nwin = winsorise(v, winmax, skew, kurtosis, force)
    ok1, _, _ = passes(out, skew, kurtosis)
    # the log fallback is for an indicator that failed the rule; a forced winsorisation of one
    # that passed keeps its winsorised values (case B03)
    if not ok1 and log_fallback and not ok0:
        return log_ct(v), np.where(np.isnan(v), "", "log"), "log", 0
    return out, flags, "winsorised" if nwin else "none", nwin


@register("treatment", "log")
def _log(v, *, ok0, code="", units=None, where=None, **_):
    _require_positive(v, code, units, "the log transform", where)
    return np.log(v), np.full(v.shape, "", dtype=object), "log", 0


@register("treatment", "log_ct")
def _log_ct(v, *, ok0, **_):
    return log_ct(v), np.full(v.shape, "", dtype=object), "log", 0


@register("treatment", "boxcox", params={"lmbda"})
def _boxcox(v, *, ok0, lmbda=None, code="", units=None, where=None, **_):
    _require_positive(v, code, units, "the Box-Cox transform", where)
    obs = ~np.isnan(v)
    out = np.full(v.shape, np.nan)
    if lmbda is None:
        out[obs], lam = stats.boxcox(v[obs])
    else:
        out[obs], lam = stats.boxcox(v[obs], lmbda=lmbda), lmbda
    return out, np.full(v.shape, "", dtype=object), f"boxcox(lambda={lam:.4g})", 0


def treat_indicator(x: pd.Series, method: str = "coinr", *, where=None, **params
                    ) -> tuple[pd.Series, dict, pd.Series]:
    """Treat one indicator with a registered treatment method; returns (treated values,
    details record, per-unit flags).

    ``params`` are the method's keys of the method spec (``winmax``, ``skew``, ``kurtosis``,
    ``force``, ``log_fallback`` for ``coinr``; ``lmbda`` for ``boxcox``); ``skew`` and
    ``kurtosis`` (default 2 and 3.5) are also the thresholds of the pass/fail rule reported for
    every method. ``where`` is an optional callable ``(unit, column) -> str`` locating a cell in
    the input file (e.g. :meth:`IndicatorData.where`), used in error messages.

    The details record has: code, method, skew0, kurt0, pass0, action ("none", "winsorised",
    "log", "boxcox(lambda=…)"), nwin (points winsorised), skew1, kurt1, pass1 (after treatment).

    Raises
    ------
    DataError when ``log``/``boxcox`` meet a value ≤ 0 (naming the unit and column);
    MethodError for an unknown method.
    """
    m = stages.get("treatment", method)
    v = x.to_numpy(dtype=float)
    code = str(x.name)
    skew, kurt = params.get("skew", 2.0), params.get("kurtosis", 3.5)
    ok0, s0, k0 = passes(v, skew, kurt)
    rec = {"code": code, "method": method, "skew0": s0, "kurt0": k0, "pass0": ok0,
           "action": "none", "nwin": 0, "skew1": np.nan, "kurt1": np.nan, "pass1": np.nan}
    kw = {k: val for k, val in params.items() if k in m.params}
    out, flags, action, nwin = m.func(v, ok0=ok0, code=code, units=x.index, where=where, **kw)
    rec.update(action=action, nwin=nwin)
    if action != "none":
        ok1, s1, k1 = passes(out, skew, kurt)
        rec.update(skew1=s1, kurt1=k1, pass1=ok1)
    return (pd.Series(out, index=x.index, name=x.name), rec,
            pd.Series(flags, index=x.index, name=x.name))
