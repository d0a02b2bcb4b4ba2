"""Monte Carlo uncertainty analysis and variance-based sensitivity analysis of the ranks.

``uncertainty_analysis`` draws N replications of the assumptions in an
:class:`~validation.space.UncertaintySpace` (random or scrambled-Sobol sampling), evaluates them
with the vectorised engine and summarises each unit's rank distribution: nominal, mean and
median rank, percentile band (5th–95th by default), standard deviation, P(rank ≤ k); and overall
the mean absolute rank shift R̄s = mean |rank − nominal rank| and the share of units whose band
is wider than k places (Saisana, Saltelli & Tarantola 2005; OECD/JRC Handbook 2008, Step 7).

``sensitivity_analysis`` runs a Saltelli A/B/AB_i design and estimates first-order (Si,
Saltelli 2010) and total-order (STi, Jansen 1999) Sobol indices of every assumption on R̄s and
on every unit's rank, with bootstrap intervals (``validation.sobol``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from cityindex.model.framework import Framework
from cityindex.model.method import MethodSpec
from cityindex.model.data import IndicatorData

from .engine import Prepared, Runner, prepare, run_replications
from .sobol import SobolProblem, analyze, sample_uniform, saltelli_design
from .space import UncertaintySpace


@dataclass
class UncertaintyResult:
    """Result of :func:`uncertainty_analysis`.

    Attributes
    ----------
    rank_stats : DataFrame, one row per unit (index: unit code): nominal, mean, median,
        q{p} for each percentile, sd, width (upper − lower percentile), mean_abs_shift,
        p_top{k} for each k. Sorted by nominal rank.
    summary : dict of overall figures (mean_abs_rank_shift, share_band_wider_than_k, …).
    ranks : array (replications × units) of index ranks (float32), replication order.
    levels : int array (replications × assumptions): the alternative each replication used.
    node_stats : {aggregate code: rank-stat DataFrame} when node ranks were requested.
    """

    rank_stats: pd.DataFrame
    summary: dict
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


def rank_statistics(ranks: np.ndarray, nominal: np.ndarray, units: Sequence[str],
                    percentiles=(5, 95), top_k=(10,), quantile_method: str = "inverted_cdf"
                    ) -> pd.DataFrame:
    """Per-unit statistics of a replications × units rank matrix.

    Quantiles of the ranks use numpy's "inverted_cdf" rule by default, so bands are whole ranks
    that occurred (the smallest rank r with P(rank ≤ r) ≥ p); ``quantile_method="linear"``
    interpolates as R's type 7 does (COINr). ``width`` is upper − lower percentile. Returns a
    DataFrame indexed by unit, sorted by nominal rank.
    """
    R = np.asarray(ranks, dtype=float)
    lo, hi = percentiles[0], percentiles[-1]
    q = np.percentile(R, list(percentiles), axis=0, method=quantile_method)
    stats = {"nominal": nominal, "mean": R.mean(0), "median": np.median(R, 0)}
    for p, row in zip(percentiles, q):
        stats[f"q{p:g}"] = row
    stats["sd"] = R.std(0, ddof=1) if R.shape[0] > 1 else np.zeros(R.shape[1])
    stats[f"width"] = q[-1] - q[0]
    stats["mean_abs_shift"] = np.abs(R - nominal).mean(0)
    for k in top_k:
        stats[f"p_top{k}"] = (R <= k).mean(0)
    df = pd.DataFrame(stats, index=pd.Index(units, name="unit"))
    df.attrs["band"] = (lo, hi)
    return df.sort_values(["nominal", "median"])


def uncertainty_analysis(framework: Framework, data: IndicatorData, method: MethodSpec,
                         space: UncertaintySpace, n: int = 1000, seed: int = 0,
                         sampling: str = "random", percentiles=(5, 95), top_k=(10,),
                         band_k: int = 10, node_ranks: bool = False,
                         quantile_method: str = "inverted_cdf",
                         runner: Runner | None = None,
                         progress: Callable[[int], None] | None = None,
                         prepared: Prepared | None = None) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis of the ranks (see module docstring).

    Parameters
    ----------
    framework, data, method : as for ``model.compute_index``; ``method`` is the nominal method.
    space : the uncertain assumptions.
    n : number of replications; seed : seeds the sample and the pre-drawn weight sets.
    sampling : "random" (numpy) or "sobol" (scrambled Sobol, scipy.stats.qmc).
    percentiles : band percentiles (lower, upper); top_k : ks for P(rank ≤ k);
    band_k : the summary reports the share of units whose band is wider than band_k places.
    quantile_method : numpy percentile rule for the band ("inverted_cdf": whole ranks;
        "linear": COINr's type-7 interpolation).
    node_ranks : also summarise the ranks of every aggregate node.
    runner : ``engine.SerialRunner()`` (default), ``JoblibRunner(n_jobs)`` or ``DaskRunner(client)``.

    Raises
    ------
    MethodError / DataError if the space or an alternative is invalid.
    """
    p = prepared or prepare(framework, data, method, space, seed=seed, node_ranks=node_ranks)
    problem = SobolProblem(space.names, space.levels)
    U = sample_uniform(problem, n, seed=seed, method=sampling)
    L = problem.map_levels(U)
    out = run_replications(p, L, runner, progress)
    R = out["index"]
    stats = rank_statistics(R, p.nominal_ranks, p.units, percentiles, top_k, quantile_method)
    summary = {
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
    if node_ranks:
        fw_nodes = [c for c in out if c not in ("index", "index_scores")]
        from cityindex.model.pipeline import compute_index

        nominal = compute_index(framework, data, method).ranks
        for c in fw_nodes:
            node_stats[c] = rank_statistics(out[c], nominal[c].to_numpy(float), p.units,
                                            percentiles, top_k, quantile_method)
    return UncertaintyResult(stats, summary, R, L, space, p.units, node_stats)


@dataclass
class SensitivityResult:
    """Result of :func:`sensitivity_analysis`.

    ``table``: tidy DataFrame — output ("mean_abs_rank_shift" or a unit code), factor, S1,
    S1_lo, S1_hi, ST, ST_lo, ST_hi, flag. ``overall``: the rows for R̄s. ``sobol``: the raw
    :class:`validation.sobol.SobolResult`.
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    sobol: object
    n_base: int
    n_runs: int


def sensitivity_analysis(framework: Framework, data: IndicatorData, method: MethodSpec,
                         space: UncertaintySpace, n: int = 1024, seed: int = 0,
                         n_boot: int = 500, conf_level: float = 0.95,
                         per_unit: bool = True, runner: Runner | None = None,
                         progress: Callable[[int], None] | None = None,
                         prepared: Prepared | None = None) -> SensitivityResult:
    """Sobol sensitivity of the ranks to each assumption (Saltelli design, N(d+2) runs).

    Outputs analysed: the mean absolute rank shift per replication and, with ``per_unit``,
    every unit's rank. ``n`` is the base sample size (a power of two for Sobol balance).
    """
    p = prepared or prepare(framework, data, method, space, seed=seed)
    problem = SobolProblem(space.names, space.levels)
    design = saltelli_design(problem, n, seed=seed)
    L = design.levels()
    out = run_replications(p, L, runner, progress)
    R = out["index"].astype(float)
    shift = np.abs(R - p.nominal_ranks).mean(1)
    Y = np.column_stack([shift, R]) if per_unit else shift[:, None]
    names = ["mean_abs_rank_shift"] + (list(p.units) if per_unit else [])
    res = analyze(design, Y, n_resamples=n_boot, conf_level=conf_level, seed=seed,
                  output_names=names)
    table = res.to_frame()
    overall = table[table["output"] == "mean_abs_rank_shift"].reset_index(drop=True)
    return SensitivityResult(table, overall, res, n, design.n_runs)
