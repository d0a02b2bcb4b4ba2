"""Score draws under measurement error and imputation uncertainty, for rank inference
(:mod:`.rank_inference`).

Draw d perturbs every *observed* indicator value with its own error model (relative or absolute
SE per indicator, :mod:`cityindex.model.measurement_error`: framework node ``error``, method
``measurement_error``, else the built-in assumption of a 10 % relative SE), takes the *imputed*
cells from a completed data set of a multiple imputation (their imputation distribution,
:mod:`cityindex.model.multiple_imputation`) instead of holding them fixed, and recomputes the
index with the nominal method (treatment and normalisation included), so the draws share one
score scale, as rank confidence sets need.

By default every draw has its own completed data set (M = D): each draw is then a joint draw of
imputation and measurement error and the draws' covariance estimates the total variance
W + B directly (W: measurement error within a completed set; B: imputation, between sets).
With fewer sets (``m`` < D, cycled, K = D/M draws each, to save imputation time) the plain
covariance of the draws is still used: its expectation is W + B·(D − K)/(D − 1) (one-way
random-effects sums of squares), 2 % short of B at D = 200, K = 5. Rubin's pooled
T = W̄ + (1 + 1/M)·B̂ (:func:`rubin_draws`) is not used for the draws: B̂, the covariance of
the sets' mean scores, carries W/K of measurement noise, which overstated the covariance (the
median simultaneous GDCI set was 151 places at D = 200, M = 40 and 171 at M = 100, against
138 with one set per draw). The covariance is measured about the nominal scores, not about the
draws' own mean (:func:`covariance_about`): Mogstad, Romano, Shaikh & Wilhelm (2024) centre
the sets on the estimates and assume the draws are centred there, which the nonlinear pipeline
and the nominal single imputation do not give; the offset then counts as uncertainty.

Units with no observed indicator are not ranked and have no draws (:mod:`cityindex.model.
availability`); they are listed in the result's ``note``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cityindex.model.aggregate import aggregate
from cityindex.model.availability import NOT_RANKED
from cityindex.model.batch import normalise_many
from cityindex.model.data import IndicatorData
from cityindex.model.measurement_error import error_model
from cityindex.model.multiple_imputation import multiple_imputation
from cityindex.model.pipeline import compute_index
from cityindex.model.progress import counted

from .engine import VECTOR_METHODS
from .rank_inference import ScoreDraws


def rubin_draws(S: np.ndarray, sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rubin's total covariance of score draws grouped by completed data set, and the draws
    rescaled to it.

    Parameters
    ----------
    S : array (draws × units) of scores; sets : int array (draws,), the completed set of each
        draw (M distinct values, at least 2 draws in each).

    Returns
    -------
    (T, adjusted): T (units × units) = W̄ + (1 + 1/M)·B (Rubin 1987, §3.1: W̄ the mean
    within-set covariance, divisor K_k − 1; B the covariance of the set means, divisor M − 1);
    ``adjusted`` = x̄ + a(x̄_k − x̄) + b(S − x̄_k), whose sample covariance (divisor D − 1) is T
    exactly when the sets are of equal size.
    """
    S = np.asarray(S, float)
    sets = np.asarray(sets)
    labels, idx = np.unique(sets, return_inverse=True)
    M, D = len(labels), S.shape[0]
    counts = np.bincount(idx)
    if M < 2 or counts.min() < 2:
        raise ValueError("Rubin's rules need at least 2 completed sets with 2 draws each")
    means = np.stack([S[idx == k].mean(0) for k in range(M)])           # M × U
    grand = means.mean(0)
    within_dev = S - means[idx]
    W = sum(np.cov(within_dev[idx == k], rowvar=False, ddof=1) for k in range(M)) / M
    B = np.atleast_2d(np.cov(means, rowvar=False, ddof=1))
    T = np.atleast_2d(W) + (1 + 1 / M) * B
    K = D / M
    a = np.sqrt((1 + 1 / M) * (D - 1) * M / (K * M * (M - 1)))
    b = np.sqrt((D - 1) / (D - M))
    adjusted = grand + a * (means[idx] - grand) + b * within_dev
    return T, adjusted


def _index_draws(result, model, sets: np.ndarray, mi, seed: int) -> pd.DataFrame:
    """Index scores (draws × kept units) of the perturbed data sets: draw d perturbs the raw
    indicator values with ``model`` (seed sequence (seed, 0xE77, d)) and fills the missing
    cells from completed set ``sets[d]`` of ``mi`` (or by the method's imputation). The
    pre-aggregation stages run in one batch (:func:`cityindex.model.batch.normalise_many`),
    the aggregation as array operations; a method with an aggregation that is not vectorised
    (Copeland, max, min) recomputes the index draw by draw."""
    fw, data, method = result.framework, result.data, result.method
    inds = fw.indicators
    raw0 = data.values[inds].to_numpy(dtype=float)
    raws = np.stack([model.perturb_array(raw0, np.random.default_rng([seed, 0xE77, d]), inds)
                     for d in range(len(sets))])
    kept = result.normalised.index
    vector = all(method.resolve("aggregation", c, fw.level(c))["method"] in VECTOR_METHODS
                 for c in fw.aggregates)
    if not vector:
        out = []
        for d in range(len(sets)):
            noisy = IndicatorData(pd.DataFrame(raws[d], index=data.values.index, columns=inds),
                                  data.meta, data.source + " (+measurement error)",
                                  data.sha256)
            res = compute_index(fw, noisy, method, imputations=None if mi is None
                                else mi.frame(int(sets[d])))
            out.append(res.aggregated[fw.root].reindex(kept).to_numpy(float))
        return pd.DataFrame(np.stack(out), columns=kept)
    Z = normalise_many(result, raws, method,
                       completed=None if mi is None else mi.completed[sets])  # (D, K, I)
    agg = {c: Z[:, :, j] for j, c in enumerate(inds)}
    for level in range(2, fw.max_level + 1):
        for code in fw.codes_at_level(level):
            kids = fw.children(code)
            spec = method.resolve("aggregation", code, level)
            w = np.array([fw.nodes[k].weight for k in kids], float)
            agg[code] = aggregate(np.stack([agg[k] for k in kids], axis=-1), w,
                                  spec["method"], p=spec.get("p", 1.0),
                                  min_availability=spec.get("min_availability"),
                                  codes=kids, units=kept, node=code)
    return pd.DataFrame(agg[fw.root], columns=kept)


def measurement_score_draws(result, sd: float | None = None, draws: int = 200,
                            seed: int | None = None, *, imputation: bool = True,
                            m: int | None = None, progress=None, _mi=None) -> ScoreDraws:
    """Index scores of ``result`` (an IndexResult) under measurement error of the observed
    values and imputation uncertainty of the imputed ones (see the module docstring).

    Parameters
    ----------
    result : IndexResult.
    sd : a relative SE for every indicator, replacing the error model of the framework and
        method (None: that model; see :func:`~cityindex.model.measurement_error.error_model`).
    draws : number of draws D (each a recomputation of the index).
    seed : default the result's method seed (also the multiple imputation's).
    imputation : draw the imputed cells from a multiple imputation (default); False holds
        them at the nominal single imputation (the behaviour before multiple imputation; also
        what happens when nothing is missing).
    m : completed data sets of the multiple imputation: None (default) = one per draw; fewer
        are cycled (at least 2 draws per set; see the module docstring).

    progress : ``progress(step, done, total)`` reports the perturbed data sets computed
        (:mod:`cityindex.model.progress`).

    Returns
    -------
    ScoreDraws of the ranked units (draws × units, as drawn): ``estimates`` are the nominal
    index scores, ``cov`` the covariance of the draws about them (:func:`covariance_about`;
    the offset of the draws' mean is stated in ``note``), ``source="measurement"`` and the
    assumptions
    stated (error model, imputation, draws, units not ranked).

    Raises
    ------
    ValueError for fewer than 2 draws or fewer draws than 2 per completed set.
    """
    if int(draws) < 2:
        raise ValueError(f"draws must be >= 2, got {draws}")
    seed = result.method.seed if seed is None else int(seed)
    fw, method = result.framework, result.method
    model = error_model(fw, method, override=sd)
    av = result.availability
    status = av.unit_status()
    units = [u for u in result.scores.index if status.get(u) != NOT_RANKED]
    mi = None
    if imputation and result.n_imputed > 0:
        m = int(draws) if m is None else int(m)
        if m < int(draws) and int(draws) < 2 * m:
            raise ValueError(f"{draws} draws for {m} completed data sets: give at least "
                             f"{2 * m} draws (2 per set), one set per draw, or fewer sets")
        mi = _mi if _mi is not None and _mi.m == m else multiple_imputation(result, m,
                                                                              seed=seed)
    sets = np.arange(int(draws)) % (mi.m if mi is not None else 1)
    tick = counted(progress, "alternatives prepared", int(draws))
    S = _index_draws(result, model, sets, mi, seed).reindex(columns=units).to_numpy(float)
    tick(int(draws))
    estimates = result.index_scores.reindex(units)
    imp = ("imputed cells fixed at the nominal imputation" if mi is None else
           "imputed cells drawn from their imputation distribution ("
           + (f"a fresh completed data set of a multiple imputation per draw, M = {mi.m}"
              if mi.m == int(draws) else
              f"one of M = {mi.m} completed data sets per draw, cycled; covariance of the "
              "draws")
           + ")")
    nr = av.not_ranked()
    assumption = (f"{model.describe()}; {imp}; {int(draws)} draws"
                  + (f"; {len(nr)} unit(s) not ranked (no observed indicator): "
                     f"{', '.join(map(str, nr['unit'][:8]))}" if len(nr) else ""))
    cov, note = covariance_about(S, estimates.to_numpy(float))
    frame = pd.DataFrame(S, columns=units).rename_axis("draw")
    out = ScoreDraws(estimates, cov, frame, source="measurement", assumption=assumption,
                     note=note)
    return out


def covariance_about(S: np.ndarray, nominal: np.ndarray) -> tuple[np.ndarray, str]:
    """Covariance of score draws (draws × units) about the nominal scores, not about their own
    mean: Σ̂ = (S − θ̂)ᵀ(S − θ̂) / D = cov(S)·(D − 1)/D + b bᵀ with b = mean(S) − θ̂.

    The rank sets of Mogstad et al. (2024) are centred on θ̂ (the nominal scores) and assume
    the draws are centred there too. They are not: the pipeline is nonlinear (normalisation by
    the sample's own minimum and maximum, winsorisation, geometric means) and the nominal
    single imputation is not the mean of the imputation distribution, so the draws' mean
    differs from θ̂ (by b). Measuring the spread about θ̂ puts that offset into Σ̂ instead of
    ignoring it. (Shifting the draws onto θ̂ instead would leave the covariance, hence the sets,
    unchanged, and it moved the percentile bands of the draws onto the nominal imputation:
    their coverage of the true rank fell from 0.85 to 0.59 on one BRPCI replication of
    ``benchmarks/bench_missing_data.py``.) Returns Σ̂ and a note with the offsets in units of
    each unit's score SD.
    """
    S = np.asarray(S, float)
    D = S.shape[0]
    dev = S - nominal[None, :]
    cov = dev.T @ dev / D
    b = S.mean(axis=0) - nominal
    sd = S.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(b) / np.where(sd > 0, sd, np.nan)
    rel = rel[np.isfinite(rel)]
    note = ("score covariance measured about the nominal scores, not the draws' mean (mean "
            f"draw − nominal score: median {np.median(rel) if rel.size else 0:.2f}, largest "
            f"{rel.max() if rel.size else 0:.2f} score SDs; the offset is counted as "
            "uncertainty)")
    return cov, note


def rank_set_width_curve(result, sds=(0.02, 0.05, 0.10, 0.20), *, draws: int = 200,
                         alpha: float = 0.05, seed: int | None = None, m: int | None = None,
                         n_boot: int = 500) -> pd.DataFrame:
    """Median width of the rank confidence sets against the assumed measurement error.

    For each relative SE in ``sds`` (applied to every indicator) and for the error model of
    the framework and method (per indicator, :func:`~cityindex.model.measurement_error.
    error_model`), score draws of :func:`measurement_score_draws` (same seed: common random
    numbers; ``m`` completed data sets as there, one multiple imputation shared by all) and
    the MRSW sets of :func:`~cityindex.validation.rank_inference.rank_sets` (``n_boot``
    bootstrap replications).

    Returns
    -------
    DataFrame, one row per error model: ``error_model`` (label), ``relative_se`` (NaN for the
    per-indicator model), ``median_width_simultaneous``, ``median_width_marginal``,
    ``mean_width_simultaneous``, ``draws``, ``level``; the per-indicator row last.
    """
    from .rank_inference import rank_sets

    seed = result.method.seed if seed is None else int(seed)
    mi = None
    if result.n_imputed > 0:   # one multiple imputation for every error model
        mi = multiple_imputation(result, int(draws) if m is None else int(m), seed=seed)
    own = error_model(result.framework, result.method)
    t = own.table
    uniform = (t["kind"] == "relative").all() and t["se"].nunique() == 1
    rows = []
    for sd in list(sds) + [None]:
        label = (f"{sd:.0%} relative SE, every indicator" if sd is not None else
                 "error model of the framework and method: " + own.describe())
        if sd is None and uniform and float(t["se"].iloc[0]) in [float(x) for x in sds]:
            same = next(r for r in rows if r["relative_se"] == float(t["se"].iloc[0]))
            rows.append({**same, "error_model": label, "relative_se": np.nan})
            continue   # the same draws as that row (same seed): not recomputed
        d = measurement_score_draws(result, sd=sd, draws=draws, seed=seed, m=m, _mi=mi)
        rs = rank_sets(d, alpha=alpha, seed=seed, n_boot=n_boot)
        w = rs.widths()
        rows.append({"error_model": label, "relative_se": np.nan if sd is None else float(sd),
                     "median_width_simultaneous": float(w["simultaneous"].median()),
                     "median_width_marginal": float(w["marginal"].median()),
                     "mean_width_simultaneous": float(w["simultaneous"].mean()),
                     "draws": int(draws), "level": 1.0 - float(alpha)})
    return pd.DataFrame(rows)
