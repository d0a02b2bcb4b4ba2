"""Multiple imputation of the missing indicator cells, and Rubin's rules for pooling.

:func:`multiple_imputation` draws M completed data sets of an index result's indicator table
(screened-in units × indicators, on the denominated scale, before treatment) by chained
equations with posterior draws: scikit-learn's ``IterativeImputer(sample_posterior=True)``
(Bayesian-ridge regression of each incomplete indicator on all the others, each imputed value a
draw from the predictive distribution; van Buuren & Groothuis-Oudshoorn 2011, the ``norm``
method of *mice*), run once per imputation with its own seed so that the M sets are independent
draws (Rubin 1987; van Buuren 2018, *Flexible Imputation of Missing Data*, §3.2 and §5.1).

Why this implementation, for skewed counts (every choice stated in the result's ``settings``):

* **log1p scale.** Indicators whose observed values are non-negative and right-skewed (sample
  skewness > 1: counts of unicorns, routes, ports, finance) are imputed on the log1p scale, where
  the normal regression model of chained equations is tenable, and back-transformed with expm1.
* **Observed support.** Draws are truncated to the range of the observed values of the indicator
  (``min_value``/``max_value`` of the imputer: a truncated-normal posterior draw), so an imputed
  count is never negative nor above the largest observed count — the property that makes
  predictive mean matching attractive for counts (statsmodels' ``MICEData``), which we also
  considered; it draws from numpy's global random state and cannot be seeded per call, while
  every random result here takes a seed.
* **Whole numbers.** An indicator whose observed values are all whole numbers (counts, 0/1
  flags) gets whole-number draws (rounded after back-transforming).
* **Left-censored lists.** An indicator whose nominal imputation is ``min`` is a list that
  omits the units below its threshold (GaWC): its draws are truncated *above* at the smallest
  listed value (and below at 0 for non-negative data), so a unit absent from the list is never
  imputed above the threshold.
* **Neighbours.** When the nominal imputation uses a group column (e.g. ``subregion``), its
  dummies are auxiliary predictors, so the imputation model, like the group median, compares a
  unit with its neighbours.
* **Burn-in.** ``max_iter = 5`` rounds of the chained equations per imputation (the default of
  *mice*); M = 10 imputations by default (van Buuren 2018, §2.8: 5–20 is enough for pooled
  estimates; more levels make the imputation factor of the uncertainty space smoother).

Observed cells are never changed (bit-identical in every completed set). Units with no observed
indicator get draws too (they are never ranked; see :mod:`.availability`).

:func:`rubin` pools M estimates (and their within-imputation variances) by Rubin's rules.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .summary import Result, Summary, json_safe

DEFAULT_M = 10
DEFAULT_MAX_ITER = 5
_SKEW_LOG = 1.0


# ---------------------------------------------------------------------------- Rubin's rules
@dataclass
class Pooled:
    """Rubin's rules (Rubin 1987, §3.1) for M estimates of a scalar (or of each element of an
    array): ``estimate`` Q̄ = mean of the M estimates; ``within`` W̄ = mean within-imputation
    variance; ``between`` B = variance of the estimates (divisor M − 1); ``total`` T = W̄ +
    (1 + 1/M)·B; ``df`` = (M − 1)(1 + 1/r)² with r = (1 + 1/M)B/W̄ (inf when B = 0);
    ``fmi`` λ = (1 + 1/M)B/T, the share of the variance due to the missing data."""

    estimate: np.ndarray
    within: np.ndarray
    between: np.ndarray
    total: np.ndarray
    df: np.ndarray
    fmi: np.ndarray
    m: int

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.total)


def rubin(estimates, variances=None) -> Pooled:
    """Pool M estimates by Rubin's rules.

    Parameters
    ----------
    estimates : array (M, ...) — the estimate from each completed data set.
    variances : array (M, ...) of their within-imputation (complete-data) variances, or None
        (a statistic without sampling variance given the data: W̄ = 0).

    Returns
    -------
    Pooled (arrays of the trailing shape).

    Raises
    ------
    ValueError for fewer than 2 imputations or mismatched shapes.
    """
    Q = np.asarray(estimates, dtype=float)
    if Q.ndim < 1 or Q.shape[0] < 2:
        raise ValueError(f"Rubin's rules need at least 2 imputations, got shape {Q.shape}")
    m = Q.shape[0]
    U = np.zeros_like(Q) if variances is None else np.asarray(variances, dtype=float)
    if U.shape != Q.shape:
        raise ValueError(f"variances have shape {U.shape}, estimates {Q.shape}")
    qbar = Q.mean(axis=0)
    W = U.mean(axis=0)
    B = Q.var(axis=0, ddof=1)
    T = W + (1 + 1 / m) * B
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (1 + 1 / m) * B / W
        df = np.where(B > 0, (m - 1) * (1 + 1 / r) ** 2, np.inf)
        fmi = np.where(T > 0, (1 + 1 / m) * B / T, 0.0)
    return Pooled(qbar, W, B, T, df, fmi, m)


# ---------------------------------------------------------------------- the imputations
@dataclass(repr=False)
class MultipleImputation(Result):
    """M completed data sets of an index result (see the module docstring).

    Attributes
    ----------
    completed : array (M, units, indicators) — each completed table on the denominated scale
        (the scale of ``IndexResult.imputed``); observed cells equal the data's.
    units, indicators : labels of the axes.
    observed : DataFrame (units × indicators) of bool — the observation mask.
    nominal : DataFrame (units × indicators) — the nominal single imputation
        (``IndexResult.imputed``), for comparison.
    settings : dict — m, seed, max_iter, implementation, per-indicator transform, bounds,
        whole-number and censored flags, auxiliary group column.
    """

    completed: np.ndarray
    units: list
    indicators: list
    observed: pd.DataFrame
    nominal: pd.DataFrame
    settings: dict = field(default_factory=dict)

    @property
    def m(self) -> int:
        return int(self.completed.shape[0])

    def frame(self, k: int) -> pd.DataFrame:
        """Completed data set ``k`` as a DataFrame (units × indicators)."""
        return pd.DataFrame(self.completed[k], index=self.units, columns=self.indicators)

    def imputed_cells(self, level: float = 0.90) -> pd.DataFrame:
        """One row per imputed cell: unit, indicator, nominal (single imputation), mean, sd,
        lo, hi (equal-tailed ``level`` interval over the M draws)."""
        obs = self.observed.to_numpy()
        i, j = np.nonzero(~obs)
        vals = self.completed[:, i, j]                            # (M, cells)
        a = (1 - level) / 2
        return pd.DataFrame({
            "unit": np.asarray(self.units)[i], "indicator": np.asarray(self.indicators)[j],
            "nominal": self.nominal.to_numpy(float)[i, j], "mean": vals.mean(0),
            "sd": vals.std(0, ddof=1), "lo": np.quantile(vals, a, axis=0),
            "hi": np.quantile(vals, 1 - a, axis=0)})

    def pool(self, estimates, variances=None) -> Pooled:
        """Rubin's rules over this imputation's M sets (see :func:`rubin`)."""
        Q = np.asarray(estimates, dtype=float)
        if Q.shape[0] != self.m:
            raise ValueError(f"{Q.shape[0]} estimates for {self.m} imputations")
        return rubin(Q, variances)

    def describe(self) -> str:
        st = self.settings
        return (f"multiple imputation: M = {self.m} completed data sets by chained equations "
                f"with posterior draws (scikit-learn IterativeImputer, sample_posterior, "
                f"{st.get('max_iter')} rounds, seed {st.get('seed')}); skewed non-negative "
                "indicators on the log1p scale, draws inside the observed range"
                + (f", group dummies of '{st['group']}' as predictors" if st.get("group")
                   else ""))

    # results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.imputed_cells()

    def to_dict(self) -> dict:
        return json_safe({"description": self.describe(), "settings": self.settings,
                          "n_imputed_cells": int((~self.observed).to_numpy().sum())})

    def summary(self) -> Summary:
        s = Summary("Multiple imputation")
        cells = self.imputed_cells()
        s.add_text(self.describe() + ".",
                   f"{len(cells)} imputed cells; observed cells identical in every set.")
        per = cells.groupby("indicator").agg(n=("unit", "size"), mean_sd=("sd", "mean"))
        s.add_table(per.reset_index(), "Imputed cells and their mean between-imputation SD",
                    max_rows=None)
        return s

    def _repr_lines(self):
        return [f"M = {self.m} completed sets of {len(self.units)} units × "
                f"{len(self.indicators)} indicators, "
                f"{int((~self.observed).to_numpy().sum())} imputed cells"]


def _skew(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    if len(v) < 3 or v.std() == 0:
        return 0.0
    d = v - v.mean()
    return float((d ** 3).mean() / (d ** 2).mean() ** 1.5)


def _plan(x: pd.DataFrame, censored: set[str]) -> dict:
    """Per indicator: log1p?, whole numbers?, bounds on the imputation scale."""
    plan = {}
    for c in x.columns:
        v = x[c].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            plan[c] = dict(log=False, whole=False, lo=-np.inf, hi=np.inf, censored=False)
            continue
        nonneg = bool((v >= 0).all())
        log = nonneg and _skew(v) > _SKEW_LOG
        whole = bool(np.all(v == np.round(v)))
        f = np.log1p if log else (lambda a: a)
        lo, hi = float(f(v.min())), float(f(v.max()))
        cens = c in censored
        if cens:
            lo, hi = (float(f(0.0)) if nonneg else lo), float(f(v.min()))
        plan[c] = dict(log=log, whole=whole, lo=lo, hi=hi, censored=cens)
    return plan


def _group_column(result) -> str | None:
    for c in result.framework.indicators:
        g = result.method.resolve("imputation", c, 1).get("group")
        if g is not None and g in result.data.meta.columns:
            return g
    return None


def _one_imputation(IterativeImputer, Xt, x, obs, inds, plan, lo, hi, P, rs, max_iter):
    """One completed table (units × indicators) on the data's scale."""
    imp = IterativeImputer(sample_posterior=True, random_state=rs, max_iter=max_iter,
                           min_value=np.array(lo), max_value=np.array(hi),
                           keep_empty_features=True, skip_complete=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter: draws, not a fixed point
        filled = imp.fit_transform(Xt.copy())[:, :P]
    for j, c in enumerate(inds):
        col = filled[:, j]
        if plan[c]["log"]:
            col = np.expm1(col)
        if plan[c]["whole"]:
            col = np.round(col)
        filled[:, j] = col
    return np.where(obs, x.to_numpy(), filled)


def multiple_imputation(result, m: int = DEFAULT_M, *, seed: int | None = None,
                        max_iter: int = DEFAULT_MAX_ITER) -> MultipleImputation:
    """M completed data sets of ``result``'s indicators (see the module docstring).

    Computed once per (m, seed, max_iter) and kept on the result, so that the uncertainty and
    sensitivity analyses and the measurement-error draws share the same sets.

    Parameters
    ----------
    result : IndexResult — its ``denominated`` table (before imputation) for the screened-in
        units, its observation mask, its method (group column, censored indicators) and data.
    m : number of imputations (≥ 2).
    seed : default the result's method seed; imputation k uses the seed sequence (seed, k).
    max_iter : rounds of the chained equations per imputation.

    Returns
    -------
    MultipleImputation

    Raises
    ------
    ValueError for m < 2 or max_iter < 1.
    """
    if int(m) < 2:
        raise ValueError(f"multiple imputation needs m >= 2, got {m}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    seed = result.method.seed if seed is None else int(seed)
    key = (int(m), seed, int(max_iter))
    cache = result.__dict__.setdefault("_mi_cache", {})
    if key in cache:
        return cache[key]

    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    fw = result.framework
    inds = list(fw.indicators)
    units = list(result.imputed.index)
    x = result.denominated.loc[units, inds].astype(float)
    observed = x.notna()
    censored = {c for c in inds if result.method.resolve("imputation", c, 1)["method"] == "min"}
    plan = _plan(x, censored)
    Xt = np.column_stack([np.log1p(x[c].to_numpy()) if plan[c]["log"] else x[c].to_numpy()
                          for c in inds])
    for j, c in enumerate(inds):  # a censoring bound equal to the floor: the value is known
        if plan[c]["lo"] >= plan[c]["hi"]:
            Xt[:, j] = np.where(np.isnan(Xt[:, j]), plan[c]["hi"], Xt[:, j])
            plan[c]["hi"] = plan[c]["lo"] + 1.0  # complete now; the bound is not used
    lo = [plan[c]["lo"] for c in inds]
    hi = [plan[c]["hi"] for c in inds]
    group = _group_column(result)
    if group is not None:
        g = result.data.meta[group].reindex(units)
        dummies = pd.get_dummies(g, dtype=float).to_numpy()
        if dummies.shape[1] > 1:
            Xt = np.column_stack([Xt, dummies])
            lo += [0.0] * dummies.shape[1]
            hi += [1.0] * dummies.shape[1]
        else:
            group = None
    P = len(inds)
    obs = observed.to_numpy()
    out = np.empty((int(m), len(units), P))
    seeds = np.random.SeedSequence([seed, 0x4D49]).spawn(int(m))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # small solves: threads only add cost
        for k in range(int(m)):
            out[k] = _one_imputation(IterativeImputer, Xt, x, obs, inds, plan, lo, hi, P,
                                     int(seeds[k].generate_state(1)[0]), int(max_iter))
    settings = dict(m=int(m), seed=seed, max_iter=int(max_iter),
                    implementation="sklearn.impute.IterativeImputer(sample_posterior=True) "
                                   "per imputation, BayesianRidge",
                    log1p=[c for c in inds if plan[c]["log"]],
                    whole_numbers=[c for c in inds if plan[c]["whole"]],
                    censored_above_at_min=sorted(censored), group=group,
                    bounds={c: [plan[c]["lo"], plan[c]["hi"]] for c in inds})
    res = MultipleImputation(out, units, inds, observed, result.imputed[inds].copy(), settings)
    cache[key] = res
    return res
