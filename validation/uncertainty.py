"""Monte Carlo uncertainty analysis of the ranks (OECD/JRC Handbook 2008, Step 7; Saisana,
Saltelli & Tarantola 2005, JRSS-A 168:307).

:func:`uncertainty_analysis` draws N replications of the assumptions in an
:class:`~cityindex.validation.space.UncertaintySpace` (random or scrambled-Sobol sampling) around
a nominal :class:`~cityindex.model.pipeline.IndexResult`, evaluates them with the vectorised
engine and summarises each unit's rank distribution: nominal, mean and median rank, percentile
band (5th–95th by default: the *methodological band*), standard deviation, P(rank ≤ k); and
overall the mean absolute rank shift R̄s = mean |rank − nominal rank| and the share of units
whose band is wider than k places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

from .engine import Prepared, Runner, prepared_for, run_replications
from .sobol import SobolProblem, sample_uniform
from .space import UncertaintySpace, load_space


@dataclass(repr=False)
class UncertaintyResult(Result):
    """Result of :func:`uncertainty_analysis`.

    Attributes
    ----------
    rank_stats : DataFrame, one row per unit (index: unit code): nominal, mean, median,
        q{p} for each percentile, sd, width (upper − lower percentile), mean_abs_shift,
        p_top{k} for each k. Sorted by nominal rank.
    figures : dict of overall figures (mean_abs_rank_shift, median_band_width,
        share_band_wider_than_k, widest_bands, …), each with its reference in the keys.
    ranks : array (replications × units) of index ranks (float32), replication order.
    levels : int array (replications × assumptions): the alternative each replication used.
    node_stats : {aggregate code: rank-stat DataFrame} when node ranks were requested; a node
        that is undefined in some replications (its only indicator left out) is summarised over
        the replications where it is defined (``attrs["defined_share"]``).
    """

    rank_stats: pd.DataFrame
    figures: dict
    ranks: np.ndarray
    levels: np.ndarray
    space: UncertaintySpace
    units: list[str]
    node_stats: dict[str, pd.DataFrame] = field(default_factory=dict)

    def replications_frame(self) -> pd.DataFrame:
        """Long-form table: replication, the level label of each assumption, then unit ranks."""
        lab = {a.name: [a.label(int(v)) for v in self.levels[:, j]]
               for j, a in enumerate(self.space.assumptions)}
        df = pd.DataFrame(self.ranks, columns=self.units).astype("float32")
        return pd.concat([pd.DataFrame(lab), df], axis=1).rename_axis("replication")

    # results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.rank_stats.reset_index()

    def to_dict(self) -> dict:
        return json_safe({"figures": self.figures, "space": self.space.names,
                          "rank_stats": self.to_frame()})

    def summary(self) -> Summary:
        f = self.figures
        lo, hi = f["percentiles"][0], f["percentiles"][-1]
        s = Summary("Uncertainty analysis of the ranks")
        s.add_text(f"{f['n_replications']} replications ({f['sampling']} sampling, seed "
                   f"{f['seed']}) over the assumptions {', '.join(self.space.names)}.",
                   f"Methodological band: the {lo:g}th–{hi:g}th percentile of each unit's rank "
                   "over the replications (not a confidence interval).",
                   f"Mean absolute rank shift from the nominal ranking: "
                   f"{f['mean_abs_rank_shift']:.2f} places; median band width "
                   f"{f['median_band_width']:.0f} places; "
                   f"{f[f'share_band_wider_than_{f['band_k']}']:.1%} of units have a band wider "
                   f"than {f['band_k']} places.")
        s.add_table(pd.DataFrame(f["widest_bands"]), "Widest bands")
        return s

    def _repr_lines(self):
        f = self.figures
        return [f"{f['n_replications']} replications × {f['n_units']} units over "
                f"{len(self.space.names)} assumptions",
                f"mean |rank shift| {f['mean_abs_rank_shift']:.2f}, median band width "
                f"{f['median_band_width']:.0f}"]


def rank_statistics(ranks: np.ndarray, nominal: np.ndarray, units: Sequence[str],
                    percentiles=(5, 95), top_k=(10,), quantile_method: str = "inverted_cdf",
                    min_valid: int = 10) -> pd.DataFrame:
    """Per-unit statistics of a replications × units rank matrix.

    Quantiles of the ranks use numpy's "inverted_cdf" rule by default, so bands are whole ranks
    that occurred (the smallest rank r with P(rank ≤ r) ≥ p); ``quantile_method="linear"``
    interpolates as R's type 7 does (COINr). ``width`` is upper − lower percentile.

    A NaN rank (the unit has no score in that replication: not ranked there) is a degenerate
    replicate of that unit and is dropped for that unit only: each unit's statistics rest on its
    ``n_valid`` replications; a unit with fewer than ``min_valid`` gets no statistics (NaN) and
    a ``note`` saying why. Returns a DataFrame indexed by unit, sorted by nominal rank (units
    without a nominal rank last).
    """
    import warnings

    R = np.asarray(ranks, dtype=float)
    lo, hi = percentiles[0], percentiles[-1]
    valid = ~np.isnan(R)
    n_valid = valid.sum(0)
    nominal = np.asarray(nominal, dtype=float)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)   # units with no valid replication
        if valid.all():
            q = np.percentile(R, list(percentiles), axis=0, method=quantile_method)
            mean, median = R.mean(0), np.median(R, 0)
            sd = R.std(0, ddof=1) if R.shape[0] > 1 else np.zeros(R.shape[1])
            shift = np.abs(R - nominal).mean(0)
        else:
            q = np.nanpercentile(R, list(percentiles), axis=0, method=quantile_method)
            mean, median = np.nanmean(R, 0), np.nanmedian(R, 0)
            sd = np.where(n_valid > 1, np.nanstd(R, 0, ddof=1), 0.0)
            shift = np.nanmean(np.abs(R - nominal), 0)
    few = n_valid < min(int(min_valid), R.shape[0])
    blank = np.where(few, np.nan, 1.0)
    stats = {"nominal": nominal, "n_valid": n_valid, "mean": mean * blank,
             "median": median * blank}
    for p, row in zip(percentiles, q):
        stats[f"q{p:g}"] = row * blank
    stats["sd"] = sd * blank
    stats["width"] = (q[-1] - q[0]) * blank
    stats["mean_abs_shift"] = shift * blank
    for k in top_k:
        stats[f"p_top{k}"] = np.where(few, np.nan, (R <= k).sum(0) / np.maximum(n_valid, 1))
    df = pd.DataFrame(stats, index=pd.Index(units, name="unit"))
    if few.any():
        df["note"] = np.where(n_valid == 0, "not ranked in any replication",
                              [f"too few valid replications ({v} < {min_valid}); no band"
                               for v in n_valid])
        df.loc[~few, "note"] = ""
    df.attrs["band"] = (lo, hi)
    df.attrs["quantile_method"] = quantile_method
    return df.sort_values(["nominal", "median"], na_position="last")


def uncertainty_analysis(result, space=None, n: int = 1000, *, seed: int | None = None,
                         sampling: str = "random", percentiles=(5, 95), top_k=(10,),
                         band_k: int = 10, nodes: bool = False,
                         quantile_method: str = "inverted_cdf", runner: Runner | None = None,
                         progress: Callable[[int], None] | None = None,
                         prepared: Prepared | None = None) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis of the ranks of ``result`` (see the module docstring).

    Parameters
    ----------
    result : IndexResult, the nominal index (never recomputed).
    space : UncertaintySpace, a YAML path, a bundled space's name, or None (the bundled
        default space); see :func:`~cityindex.validation.space.load_space`.
    n : number of replications; seed : seeds the sample and the pre-drawn weight sets
        (default: the result's method seed).
    sampling : "random" (numpy) or "sobol" (scrambled Sobol, scipy.stats.qmc).
    percentiles : band percentiles (lower, upper); top_k : ks for P(rank ≤ k);
    band_k : the figures report the share of units whose band is wider than band_k places.
    nodes : also summarise the ranks of every aggregate node (``node_stats``).
    quantile_method : numpy percentile rule for the band ("inverted_cdf": whole ranks;
        "linear": COINr's type-7 interpolation).
    runner : ``engine.SerialRunner()`` (default), ``JoblibRunner(n_jobs)`` or ``DaskRunner(client)``.
    prepared : the alternatives prepared once for this result, space and seed
        (:func:`~cityindex.validation.engine.prepare`), shared with the sensitivity analysis.

    Returns
    -------
    UncertaintyResult

    Raises
    ------
    MethodError / DataError if the space or an alternative is invalid.
    """
    space = load_space(space, result)
    seed = result.method.seed if seed is None else int(seed)
    p = prepared_for(result, space, seed, prepared)
    problem = SobolProblem(space.names, space.levels)
    U = sample_uniform(problem, n, seed=seed, method=sampling)
    L = problem.map_levels(U)
    node_codes = [c for c in result.framework.aggregates if c != result.framework.root] \
        if nodes else []
    out = run_replications(p, L, runner, progress, nodes=node_codes)
    R = out["index"]
    stats = rank_statistics(R, p.nominal_ranks, p.units, percentiles, top_k, quantile_method)
    figures = {
        "n_replications": int(n), "n_units": len(p.units), "seed": seed, "sampling": sampling,
        "mean_abs_rank_shift": float(np.abs(R - p.nominal_ranks).mean()),
        "median_band_width": float(stats["width"].median()),
        f"share_band_wider_than_{band_k}": float((stats["width"] > band_k).mean()),
        "band_k": band_k, "percentiles": list(percentiles),
        "widest_bands": stats.sort_values("width", ascending=False).head(10)[
            ["nominal", f"q{percentiles[0]:g}", f"q{percentiles[-1]:g}", "width"]
        ].reset_index().to_dict("records"),
    }
    node_stats = {}
    nominal = result.ranks
    if nodes:
        node_stats[result.framework.root] = stats
    for c in node_codes:
        node_stats[c] = _node_statistics(out[c], nominal[c].to_numpy(float), p.units,
                                         percentiles, top_k, quantile_method)
    return UncertaintyResult(stats, figures, R, L, space, p.units, node_stats)


def _node_statistics(R: np.ndarray, nominal: np.ndarray, units, percentiles, top_k,
                     quantile_method) -> pd.DataFrame:
    """Rank statistics of one aggregate: a node whose only indicator is left out has no score,
    hence no rank, in that replication; each unit's statistics rest on the replications where
    it has a rank (``n_valid``; ``attrs["defined_share"]``: share of replications where the
    node is defined)."""
    R = np.asarray(R, float)
    defined = ~np.isnan(R).all(axis=1)
    st = rank_statistics(R, nominal, units, percentiles, top_k, quantile_method)
    if not defined.all():
        st.attrs["defined_share"] = float(defined.mean())
    return st
