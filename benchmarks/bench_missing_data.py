"""Calibration of the bands that combine imputation and measurement error, on a known synthetic
truth with the bundled panel's real missingness pattern.

Run:  .venv/bin/python benchmarks/bench_missing_data.py [--index brpci gdci] [--reps 20]
      [--draws 100] [--m 10] [--level 0.90] [--seed 0]

For each replication r of each index:

1. **Truth.** Complete indicator values from a one-factor model on the log1p scale with
   sub-regional effects (the structure the bundled method's group imputation assumes):
   θ_u = g_region(u) + η_u, y_uj = μ_j + λ_j θ_u + ε_uj, x*_uj = expm1(max(y_uj, 0)) — skewed,
   non-negative, with a point mass at zero, like the panel's counts. An indicator that the
   nominal method imputes with ``min`` (a left-censored list: GaWC) has true value 0 (below the
   list's threshold) wherever the real panel misses it, as censoring implies. The true index is
   the nominal method applied to the complete truth; the true rank is its rank among the units
   the observed index ranks.
2. **Observed data.** The truth with a relative measurement error of SE 10 % (the error model
   the draws assume: the built-in default), then the real panel's observation mask (the cells
   missing in ``data/panel/panel.csv`` are missing here).
3. **Band.** The nominal index of the observed data, then D score draws of
   :func:`cityindex.validation.measurement.measurement_score_draws` (observed cells with their
   measurement error, imputed cells from a fresh completed data set of a multiple imputation
   per draw — predictive mean matching); the band is the equal-tailed ``level`` interval
   (5th–95th percentile at 0.90) of each unit's rank over the draws.
4. **Coverage.** Share of units whose band holds the true rank, separately for mostly-imputed
   units (≤ 50 % of their indicators observed), partly observed ones (50–90 %) and (nearly) fully
   observed ones (≥ 90 %); the same with the imputed cells held fixed at the nominal single
   imputation (``imputation=False``, the behaviour before multiple imputation) for comparison.

Monte Carlo SE of a coverage p over n unit-replications: √(p(1−p)/n) if independent (units of
one replication are not, so read it as a lower bound).

The functions (``synthetic_truth``, ``observe``, ``band``) are reusable by a wider calibration
benchmark (other error models, other spaces).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import cityindex as ci
from cityindex.model.aggregate import rank_desc
from cityindex.model.data import IndicatorData
from cityindex.model.pipeline import compute_index
from cityindex.validation.measurement import measurement_score_draws


def synthetic_truth(result, rng: np.random.Generator, loading=(0.5, 0.9),
                    region_sd: float = 0.6) -> pd.DataFrame:
    """Complete true values (units × indicators) for ``result``'s units (see the docstring)."""
    fw, meta = result.framework, result.data.meta.reindex(result.imputed.index)
    units = result.imputed.index
    regions = meta["subregion"].fillna("?") if "subregion" in meta else pd.Series("?", units)
    g = {r: rng.normal(0, region_sd) for r in regions.unique()}
    theta = regions.map(g).to_numpy(float) + rng.normal(size=len(units))
    out = {}
    for c in fw.indicators:
        lam = rng.uniform(*loading)
        mu = rng.uniform(0.5, 2.5)
        y = mu + lam * theta * 1.2 + rng.normal(0, np.sqrt(1 - lam ** 2) * 1.2, len(units))
        out[c] = np.expm1(np.maximum(y, 0.0))
    truth = pd.DataFrame(out, index=units)
    censored = [c for c in fw.indicators
                if result.method.resolve("imputation", c, 1)["method"] == "min"]
    for c in censored:  # a left-censored list: absent = below its threshold (0)
        truth.loc[~result.observed[c], c] = 0.0
    return truth


def observe(truth: pd.DataFrame, observed: pd.DataFrame, se: float,
            rng: np.random.Generator) -> pd.DataFrame:
    """The truth with relative measurement error ``se`` on the observed cells, NaN elsewhere."""
    noisy = truth * (1.0 + se * rng.standard_normal(truth.shape))
    return noisy.where(observed[truth.columns])


def _data(values: pd.DataFrame, like) -> IndicatorData:
    return IndicatorData(values, like.data.meta.reindex(values.index), "synthetic", "")


def band(result, draws: int, imputation: bool, level: float, seed: int,
         m: int | None = None) -> pd.DataFrame:
    """Per ranked unit: lower and upper rank of the equal-tailed ``level`` band over the
    measurement (+ imputation) draws."""
    S = measurement_score_draws(result, draws=draws, seed=seed, imputation=imputation, m=m)
    R = rank_desc(S.draws.to_numpy(), axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(R, [a, 1 - a], axis=0, method="inverted_cdf")
    return pd.DataFrame({"lower": lo, "upper": hi}, index=S.units)


def run(index: str, reps: int, draws: int, m: int, level: float, seed: int) -> pd.DataFrame:
    base = ci.compute(index)
    rows = []
    for r in range(reps):
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, r, 0xB3])
        truth = synthetic_truth(base, rng)
        true_res = compute_index(base.framework, _data(truth, base), base.method)
        obs = observe(truth, base.observed, 0.10, rng)
        res = compute_index(base.framework, _data(obs, base), base.method)
        ranked = res.availability.unit_status() != "not ranked: no data"
        units = ranked.index[ranked]
        true_rank = pd.Series(rank_desc(true_res.aggregated[base.framework.root]
                                        .reindex(units).to_numpy()), index=units)
        share = res.availability.share[base.framework.root].reindex(units)
        for label, imp in (("multiple imputation", True), ("imputed cells fixed", False)):
            b = band(res, draws, imp, level, seed + r, m).reindex(units)
            hit = (b["lower"] <= true_rank) & (true_rank <= b["upper"])
            rows.append(pd.DataFrame({"rep": r, "draws": label, "unit": units,
                                      "share": share.to_numpy(), "covered": hit.to_numpy(),
                                      "width": (b["upper"] - b["lower"]).to_numpy()}))
        print(f"  {index} rep {r + 1}/{reps}: {time.perf_counter() - t0:.1f} s", flush=True)
    return pd.concat(rows, ignore_index=True)


def classify(share: pd.Series) -> pd.Series:
    return pd.cut(share, [-0.01, 0.5 + 1e-9, 0.9 - 1e-9, 1.01],
                  labels=["≤ 50 % observed", "50–90 %", "≥ 90 % observed"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", nargs="+", default=["brpci", "gdci"])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--m", type=int, default=None, help="completed data sets (default: one per "
                    "draw)")
    ap.add_argument("--level", type=float, default=0.90)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for index in args.index:
        t0 = time.perf_counter()
        res = run(index, args.reps, args.draws, args.m, args.level, args.seed)
        res["class"] = classify(res["share"])
        tab = res.groupby(["draws", "class"], observed=True).agg(
            units=("covered", "size"), coverage=("covered", "mean"),
            median_width=("width", "median"))
        tab["mc_se"] = np.sqrt(tab["coverage"] * (1 - tab["coverage"]) / tab["units"])
        overall = res.groupby("draws").agg(units=("covered", "size"),
                                           coverage=("covered", "mean"),
                                           median_width=("width", "median"))
        print(f"\n{index.upper()}: {args.reps} synthetic truths × {args.draws} draws, M = "
              f"{args.m or args.draws}, nominal level {args.level:.0%} "
              f"({time.perf_counter() - t0:.0f} s)")
        print(tab.round(3).to_string())
        print(overall.round(3).to_string())


if __name__ == "__main__":
    main()
