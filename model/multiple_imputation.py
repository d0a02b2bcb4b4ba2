"""Multiple imputation of the missing indicator cells, and Rubin's rules for pooling.

:func:`multiple_imputation` draws M completed data sets of an index result's indicator table
(screened-in units × indicators, on the denominated scale, before treatment) by multivariate
imputation by chained equations (MICE; van Buuren & Groothuis-Oudshoorn 2011), each set from its
own seeded chain, so that the M sets are independent draws (Rubin 1987; van Buuren 2018,
*Flexible Imputation of Missing Data*, 2nd ed., §3.2, §4.5). Two methods:

* ``"pmm"`` (default) — **predictive mean matching**, the default of *mice* (van Buuren 2018,
  §3.4, Algorithm 3.3, "type 1" matching): per incomplete indicator, a Bayesian linear
  regression on all the others (β̂, σ*² = RSS/χ²(n₀ − p), β* ~ N(β̂, σ*²(XᵀX)⁻¹), ridge 1e-5)
  predicts every unit; each missing cell takes the *observed* value of one of the ``donors``
  (5) units whose predicted mean x_obs·β̂ is closest to its own x_mis·β*, drawn at random.
* ``"iterative"`` — scikit-learn's ``IterativeImputer(sample_posterior=True)`` (Bayesian-ridge
  regressions, each imputed value a truncated-normal draw from the predictive distribution,
  mice's ``norm``), one fit per imputation; kept for comparison.

Why predictive mean matching for the panel's skewed counts (measured on the bundled data and the
synthetic truth of ``benchmarks/bench_missing_data.py``):

* imputed values are observed values of other units: never negative, never beyond the observed
  range, whole numbers for counts, 0/1 for flags, and **exact zeros** — counts have a point mass
  at zero that a (truncated) normal draw cannot reproduce: IterativeImputer's truncated draws
  spread that mass upwards (imputed cells biased up on the synthetic truth);
* the well-kept PMM implementation, statsmodels' ``MICEData`` (seedable since 0.14), rebuilds
  its patsy design matrices at every update: 5–22 s per chain on the bundled GDCI, minutes for
  M = 10; IterativeImputer takes 0.3–0.5 s per imputation. The algorithm here is the textbook
  one in a few vectorised numpy lines (≈ 0.01 s per imputation), so the rank-set draws can take
  a fresh completed data set each; ``tests/test_missing_data.py`` checks it against
  statsmodels' ``MICEData`` on a data set where both apply.

Its known limit (van Buuren 2018, §3.4.3): donors are observed units, so PMM cannot impute
beyond the observed range — where the missing units lie in the tail of the predictors (strongly
MAR), the imputations are pulled towards the observed values; the coverage benchmark reports
how far that matters on the bundled missingness pattern.

Choices common to both methods (stated in the result's ``settings``):

* **log1p scale** for indicators whose observed values are non-negative and right-skewed (sample
  skewness > 1): the regressions are fitted there, where a linear model of counts is tenable
  (PMM donates observed values, so the scale only shapes the matching);
* **neighbours**: when the nominal imputation uses a group column (e.g. ``subregion``), its
  dummies are complete auxiliary predictors, so the model, like the group median, compares a
  unit with its neighbours;
* **left-censored lists**: an indicator whose nominal imputation is ``min`` (a list that omits
  the units below its threshold, GaWC) keeps that bound in every completed set — an absent unit
  is only known to be below the smallest listed value, which no donor can represent;
* **burn-in**: ``max_iter = 5`` rounds of the chained equations per imputation (mice's default);
  M = 10 sets by default for the uncertainty space (van Buuren 2018, §2.8: 5–20 suffice for
  pooled estimates), and one per draw for the rank sets' measurement draws.

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
DEFAULT_DONORS = 5
METHODS = ("pmm", "iterative")
_SKEW_LOG = 1.0
_RIDGE = 1e-5


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
        how = ("predictive mean matching, 5 donors" if st.get("method") == "pmm" else
               "Bayesian-ridge posterior draws (scikit-learn IterativeImputer)")
        return (f"multiple imputation: M = {self.m} completed data sets by chained equations "
                f"({how}; {st.get('max_iter')} rounds, seed {st.get('seed')}); skewed "
                "non-negative indicators modelled on the log1p scale"
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


def _pmm_chain(X: np.ndarray, obs: np.ndarray, aux: np.ndarray, n_iter: int, donors: int,
               rng: np.random.Generator) -> np.ndarray:
    """One completed matrix by chained equations with predictive mean matching (van Buuren
    2018, Algorithm 3.3, type-1 matching; see the module docstring). ``X``: units × variables
    with NaN; ``aux``: complete auxiliary predictors (units × q)."""
    n, p = X.shape
    Xc = X.copy()
    order = [j for j in np.argsort((~obs).sum(0), kind="stable") if (~obs[:, j]).any()]
    for j in order:  # start: random draws from the observed values (mice's default)
        mis = ~obs[:, j]
        Xc[mis, j] = rng.choice(X[obs[:, j], j], int(mis.sum()))
    one = np.ones((n, 1))
    for _ in range(n_iter):
        for j in order:
            o, mis = obs[:, j], ~obs[:, j]
            D = np.hstack([one, np.delete(Xc, j, axis=1), aux])
            Do, yo = D[o], X[o, j]
            XtX = Do.T @ Do
            XtX[np.diag_indices_from(XtX)] += np.diag(XtX) * _RIDGE + 1e-12
            V = np.linalg.inv(XtX)
            V = 0.5 * (V + V.T)
            b = V @ (Do.T @ yo)
            r = yo - Do @ b
            sigma = np.sqrt((r @ r) / rng.chisquare(max(len(yo) - D.shape[1], 1)))
            L = np.linalg.cholesky(V + np.eye(len(V)) * 1e-12 * np.trace(V))
            bstar = b + sigma * (L @ rng.standard_normal(len(b)))
            yo_hat, ym_hat = Do @ b, D[mis] @ bstar
            srt = np.argsort(yo_hat, kind="stable")
            ys, yv = yo_hat[srt], yo[srt]
            d = min(donors, len(ys))
            win = np.searchsorted(ys, ym_hat)[:, None] + np.arange(-d, d)[None, :]
            out_of = (win < 0) | (win >= len(ys))
            win = np.clip(win, 0, len(ys) - 1)
            dist = np.where(out_of, np.inf, np.abs(ys[win] - ym_hat[:, None]))
            near = np.argsort(dist, axis=1, kind="stable")[:, :d]
            rows = np.arange(len(near))
            pick = near[rows, rng.integers(0, d, len(near))]
            Xc[mis, j] = yv[win[rows, pick]]
    return Xc


def _iterative_chain(Xt, lo, hi, P, seed: int, max_iter: int) -> np.ndarray:
    """One completed matrix by scikit-learn's IterativeImputer with posterior draws."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    imp = IterativeImputer(sample_posterior=True, random_state=seed, max_iter=max_iter,
                           min_value=np.array(lo), max_value=np.array(hi),
                           keep_empty_features=True, skip_complete=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter: draws, not a fixed point
        return imp.fit_transform(Xt.copy())[:, :P]


def multiple_imputation(result, m: int = DEFAULT_M, *, seed: int | None = None,
                        max_iter: int = DEFAULT_MAX_ITER, method: str = "pmm",
                        donors: int = DEFAULT_DONORS) -> MultipleImputation:
    """M completed data sets of ``result``'s indicators (see the module docstring).

    Computed once per (m, seed, max_iter, method, donors) and kept on the result, so that the
    uncertainty and sensitivity analyses and the measurement-error draws share the same sets.

    Parameters
    ----------
    result : IndexResult — its ``denominated`` table (before imputation) for the screened-in
        units, its observation mask, its method (group column, censored indicators) and data.
    m : number of imputations (≥ 2).
    seed : default the result's method seed; imputation k uses the seed sequence (seed, k).
    max_iter : rounds of the chained equations per imputation.
    method : "pmm" (predictive mean matching, default) or "iterative" (IterativeImputer).
    donors : candidate donors of predictive mean matching.

    Returns
    -------
    MultipleImputation

    Raises
    ------
    ValueError for m < 2, max_iter < 1, donors < 1 or an unknown method.
    """
    if int(m) < 2:
        raise ValueError(f"multiple imputation needs m >= 2, got {m}")
    if int(max_iter) < 1 or int(donors) < 1:
        raise ValueError(f"max_iter and donors must be >= 1, got {max_iter}, {donors}")
    if method not in METHODS:
        raise ValueError(f"unknown multiple-imputation method {method!r}; valid: {METHODS}")
    seed = result.method.seed if seed is None else int(seed)
    key = (int(m), seed, int(max_iter), method, int(donors))
    cache = result.__dict__.setdefault("_mi_cache", {})
    if key in cache:
        return cache[key]

    fw = result.framework
    inds = list(fw.indicators)
    units = list(result.imputed.index)
    x = result.denominated.loc[units, inds].astype(float)
    observed = x.notna()
    censored = {c for c in inds if result.method.resolve("imputation", c, 1)["method"] == "min"}
    plan = _plan(x, censored)
    Xt = np.column_stack([np.log1p(x[c].to_numpy()) if plan[c]["log"] else x[c].to_numpy()
                          for c in inds])
    bound = {}
    for j, c in enumerate(inds):  # a left-censored list keeps its bound (the nominal value)
        if plan[c]["censored"]:
            bound[j] = result.imputed[c].reindex(units).to_numpy(float)
            Xt[:, j] = np.where(np.isnan(Xt[:, j]), plan[c]["hi"], Xt[:, j])
    lo = [plan[c]["lo"] for c in inds]
    hi = [max(plan[c]["hi"], plan[c]["lo"] + 1e-9) for c in inds]
    group = _group_column(result)
    aux = np.zeros((len(units), 0))
    if group is not None:
        g = result.data.meta[group].reindex(units)
        aux = pd.get_dummies(g, dtype=float).to_numpy()
        if aux.shape[1] < 2:
            aux, group = np.zeros((len(units), 0)), None
    P = len(inds)
    obs = observed.to_numpy()
    obs_t = np.isfinite(Xt)
    out = np.empty((int(m), len(units), P))
    seeds = np.random.SeedSequence([seed, 0x4D49]).spawn(int(m))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # small solves: threads only add cost
        for k in range(int(m)):
            if method == "pmm":
                filled = _pmm_chain(Xt, obs_t, aux, int(max_iter), int(donors),
                                    np.random.default_rng(seeds[k]))
            else:
                filled = _iterative_chain(np.hstack([Xt, aux]), lo + [0.0] * aux.shape[1],
                                          hi + [1.0] * aux.shape[1], P,
                                          int(seeds[k].generate_state(1)[0]), int(max_iter))
            for j, c in enumerate(inds):
                col = filled[:, j]
                if plan[c]["log"]:
                    col = np.expm1(col)
                if plan[c]["whole"]:
                    col = np.round(col)
                if j in bound:
                    col = bound[j]
                filled[:, j] = col
            out[k] = np.where(obs, x.to_numpy(), filled)
    settings = dict(m=int(m), seed=seed, max_iter=int(max_iter), method=method,
                    donors=int(donors) if method == "pmm" else None,
                    implementation=("predictive mean matching (van Buuren 2018, Algorithm 3.3), "
                                    "numpy" if method == "pmm" else
                                    "sklearn.impute.IterativeImputer(sample_posterior=True)"),
                    log1p=[c for c in inds if plan[c]["log"]],
                    whole_numbers=[c for c in inds if plan[c]["whole"]],
                    censored_at_bound=sorted(censored), group=group)
    res = MultipleImputation(out, units, inds, observed, result.imputed[inds].copy(), settings)
    cache[key] = res
    return res
