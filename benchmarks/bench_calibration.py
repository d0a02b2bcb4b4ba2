"""Calibration of every interval the product prints: one table, printed and written to CSV.

Run:  .venv/bin/python benchmarks/bench_calibration.py [--quick] [--out FILE] [--seed 0]
      [--only rank_sets bayes effective_weights sobol correlations imputation] [--bundle]

``--bundle`` also writes the table to ``data/calibration.csv``, which the audit report shows
(section "Calibration of the intervals") with the version it was run on.

One row per interval type, each from a simulation with a known truth, calling the product's
public functions as the audit calls them:

* **rank sets** (:func:`cityindex.validation.rank_inference.rank_sets`, :func:`tau_best`;
  Mogstad, Romano, Shaikh & Wilhelm 2024), 95 %: p = 50 units with equal true scores (the least
  favourable configuration, where the simultaneous and τ-best guarantees are attained), a
  correlated score covariance, estimates θ + N(0, Σ) and Σ estimated from 200 draws as the
  audit estimates it (the setup of ``bench_rank_coverage.replicate``). Simultaneous: all true
  ranks inside their sets; marginal: each unit's (pooled over units); τ-best (τ = 1): every
  true best unit in the set (all units share rank 1 here, so any false "ahead" claim misses).
* **Bayesian posterior rank intervals** (the latent-score model of :mod:`cityindex.model.bayes`),
  90 %: data simulated from the model with the GDCI framework and 100 units, 20 % of the cells
  missing at random, a short fit (2 chains × 300 draws) — the setup of
  ``bench_bayes_coverage.fit_and_score``; coverage pooled over units. (With 40 units the
  whole-rank bounds of so few ranks overcover: 0.941 over 40 fits.)
* **effective weight** (correlation ratio, :func:`cityindex.validation.effective_weights.
  correlation_ratio`), 90 % bootstrap interval: y = x + x²/2 + ε, x, ε normal, Var ε = 1.5, so
  S = Var E(y|x) / Var y = 1.5 / 3 = 0.5; 200 units.
* **Sobol S1 and ST** (:func:`cityindex.validation.sobol.saltelli_design` and ``analyze`` with
  their defaults), 95 % bootstrap intervals: the Ishigami function (a = 7, b = 0.1) whose
  indices are known in closed form (Ishigami & Homma 1990; Saltelli et al. 2010), 256 base rows;
  coverage pooled over the three factors.
* **Spearman ρ and Kendall τ-b** of the published-ranking audit
  (:func:`cityindex.validation.compare.rank_correlation_intervals`), 90 %: 100 bivariate-normal
  pairs with ρ = 0.6, so ρ_S = (6/π) asin(0.3) and τ = (2/π) asin(0.6).
* **multiple-imputation bands** (:func:`cityindex.validation.measurement.
  measurement_score_draws`), 90 %: the synthetic truth of ``bench_missing_data`` on BRPCI with
  its real missingness pattern; coverage pooled over units.

Columns: nominal level, simulated coverage, Monte Carlo SE (binomial at the nominal level over
the replications; for pooled rows the larger of that over all unit-replications and the SD of
the per-replication coverages over √reps), mean width (ranks, or the statistic's scale),
tolerance max(3 MC SE, 0.03), and whether the coverage lies within nominal ± tolerance. The
script exits with status 1 when any row is outside. ``--quick`` runs fewer replications (so
larger MC SEs and wider tolerances) in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cityindex  # noqa: E402
from bench_bayes_coverage import fit_and_score  # noqa: E402
from bench_missing_data import run as missing_data_run  # noqa: E402
from bench_rank_coverage import replicate  # noqa: E402

#: replications per row: (quick, full)
REPS = {"rank_sets": (150, 1000), "bayes": (8, 40), "effective_weights": (100, 400),
        "sobol": (100, 500), "correlations": (150, 1000), "imputation": (2, 10)}


def _row(name, nominal, hits, widths, design, per_rep=None, guarantee="="):
    """A table row from the hit indicators (replications, or units × replications)."""
    hits = np.asarray(hits, float)
    cov = float(hits.mean())
    se = float(np.sqrt(nominal * (1 - nominal) / hits.size))
    if per_rep is not None and len(per_rep) > 1:
        se = max(se, float(np.std(per_rep, ddof=1) / np.sqrt(len(per_rep))))
    tol = max(3 * se, 0.03)
    ok = (nominal - tol <= cov <= nominal + tol) if guarantee == "=" else (cov >= nominal - tol)
    return {"interval": name, "nominal": nominal, "coverage": cov, "mc_se": se,
            "mean_width": float(np.mean(widths)), "tolerance": tol, "within": bool(ok),
            "replications": int(len(per_rep) if per_rep is not None else hits.size),
            "design": design}


# ------------------------------------------------------------------------------ rank sets
def rank_set_rows(reps: int, seed: int, p: int = 50, n_draws: int = 200, n_boot: int = 500):
    from cityindex.validation.rank_inference import rank_sets, tau_best

    rng = np.random.default_rng([seed, 0xA1])
    a = rng.normal(size=(p, 5))
    cov = 0.5 * (a @ a.T) / 5 + np.diag(np.linspace(0.5, 2.0, p) ** 2)
    theta = np.zeros(p)              # all tied: every true rank is 1
    sim, mar, tau, w_sim, w_mar, size = [], [], [], [], [], []
    for r in range(reps):
        sd = replicate(theta, cov, rng, n_draws)
        t = rank_sets(sd, alpha=0.05, n_boot=n_boot, seed=r).table
        sim.append(bool((t["simultaneous_lower"] <= 1).all()))
        mar.append((t["marginal_lower"] <= 1).to_numpy())
        w_sim.append((t["simultaneous_upper"] - t["simultaneous_lower"] + 1).mean())
        w_mar.append((t["marginal_upper"] - t["marginal_lower"] + 1).mean())
        tb = tau_best(sd, tau=1, alpha=0.05, n_boot=n_boot, seed=r)
        tau.append(bool(tb["in_set"].all()))
        size.append(int(tb["in_set"].sum()))
    mar = np.array(mar)
    design = (f"p = {p} equal true scores, correlated Σ estimated from {n_draws} draws, "
              f"R = {n_boot}")
    return [
        _row("rank sets, simultaneous (MRSW)", 0.95, sim, w_sim, design),
        _row("rank sets, marginal (MRSW)", 0.95, mar, w_mar, design + "; pooled over units",
             per_rep=mar.mean(axis=1)),
        _row("rank sets, tau-best (tau = 1)", 0.95, tau, size, design + "; width = set size"),
    ]


# ------------------------------------------------------------------------------ Bayesian
def bayes_rows(reps: int, seed: int, n_units: int = 100):
    from cityindex.model import Framework

    fw = Framework.load(ROOT / "data" / "frameworks" / "gdci.yaml")
    per, widths, n = [], [], 0
    for r in range(reps):
        out = fit_and_score(fw, n_units, seed + r, missing_rate=0.2, chains=2, draws=300,
                            tune=300, prob=0.90)
        per.append(out["coverage"])
        widths.append(out["mean_width"])
        n += n_units
    hits = np.repeat(per, n_units)          # coverage × units gives the pooled mean exactly
    return [_row("Bayesian posterior rank intervals", 0.90, hits, widths,
                 f"latent-score model simulated with the GDCI framework, {n_units} units, 20 % "
                 "missing; 2 chains × 300 draws; pooled over units", per_rep=per)]


# ------------------------------------------------------------------------------ effective weights
def effective_weight_rows(reps: int, seed: int, n: int = 513, n_boot: int = 1000):
    # the product's interval as the audit prints it: 1,000 BCa resamples, the bundled 513 units
    from cityindex.validation.effective_weights import correlation_ratio

    truth = 0.5
    hits, widths = [], []
    for r in range(reps):
        rng = np.random.default_rng([seed, 0xE1, r])
        x = rng.standard_normal(n)
        y = x + 0.5 * x ** 2 + rng.normal(0, np.sqrt(1.5), n)
        res = correlation_ratio(x, y, n_boot=n_boot, seed=r, level=0.90)
        hits.append(res["lo"] <= truth <= res["hi"])
        widths.append(res["hi"] - res["lo"])
    return [_row("effective weight (correlation ratio)", 0.90, hits, widths,
                 f"y = x + x²/2 + ε, S = 0.5, {n} units, {n_boot} bootstrap resamples")]


# ------------------------------------------------------------------------------ Sobol
def _ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    z = -np.pi + 2 * np.pi * X
    return np.sin(z[:, 0]) + a * np.sin(z[:, 1]) ** 2 + b * z[:, 2] ** 4 * np.sin(z[:, 0])


def _ishigami_indices(a: float = 7.0, b: float = 0.1):
    V1 = 0.5 * (1 + b * np.pi ** 4 / 5) ** 2
    V2 = a ** 2 / 8
    V13 = b ** 2 * np.pi ** 8 * (1 / 18 - 1 / 50)
    V = V1 + V2 + V13
    return np.array([V1, V2, 0.0]) / V, np.array([V1 + V13, V2, V13]) / V


def sobol_rows(reps: int, seed: int, n_base: int = 256):
    from cityindex.validation.sensitivity import default_replicates
    from cityindex.validation.sobol import SobolProblem, analyze, saltelli_design

    S1, ST = _ishigami_indices()
    n_rep = default_replicates(n_base)     # what sensitivity_analysis uses at this N
    problem = SobolProblem(["x1", "x2", "x3"])
    h1, hT, w1, wT = [], [], [], []
    for r in range(reps):
        design = saltelli_design(problem, n_base, seed=seed * 100003 + r, replicates=n_rep)
        Y = _ishigami(design.matrix())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyze(design, Y, seed=r)
        h1.append((res.S1_lo[0] <= S1) & (S1 <= res.S1_hi[0]))
        hT.append((res.ST_lo[0] <= ST) & (ST <= res.ST_hi[0]))
        w1.append(np.mean(res.S1_hi[0] - res.S1_lo[0]))
        wT.append(np.mean(res.ST_hi[0] - res.ST_lo[0]))
        level = float(res.conf_level)
    h1, hT = np.array(h1), np.array(hT)
    design = (f"Ishigami function, {n_base} base rows in {n_rep} independent randomisations "
              "(the product's default); pooled over 3 factors")
    return [_row("Sobol first-order S1", level, h1, w1, design, per_rep=h1.mean(axis=1)),
            _row("Sobol total-order ST", level, hT, wT, design, per_rep=hT.mean(axis=1))]


# ------------------------------------------------------------------------------ rank correlations
def correlation_rows(reps: int, seed: int, n: int = 100, n_boot: int = 2000, rho: float = 0.6):
    from cityindex.validation.compare import rank_correlation_intervals

    truth = {"spearman": 6 / np.pi * np.arcsin(rho / 2), "kendall": 2 / np.pi * np.arcsin(rho)}
    hits = {k: [] for k in truth}
    widths = {k: [] for k in truth}
    cov = np.array([[1, rho], [rho, 1]])
    for r in range(reps):
        rng = np.random.default_rng([seed, 0xC0, r])
        xy = rng.multivariate_normal([0, 0], cov, size=n)
        t = rank_correlation_intervals(xy[:, 0], xy[:, 1], n_boot=n_boot, level=0.90, seed=r)
        for k in truth:
            hits[k].append(t.loc[k, "lower"] <= truth[k] <= t.loc[k, "upper"])
            widths[k].append(t.loc[k, "upper"] - t.loc[k, "lower"])
    design = f"{n} bivariate-normal pairs, ρ = {rho}, {n_boot} bootstrap resamples"
    return [_row("Spearman rho (published audit)", 0.90, hits["spearman"], widths["spearman"],
                 design),
            _row("Kendall tau-b (published audit)", 0.90, hits["kendall"], widths["kendall"],
                 design)]


# ------------------------------------------------------------------------------ imputation bands
def imputation_rows(reps: int, seed: int, draws: int, index: str = "brpci"):
    res = missing_data_run(index, reps, draws, None, 0.90, seed)
    mi = res[res["draws"] == "multiple imputation"]
    per = mi.groupby("rep")["covered"].mean().to_numpy()
    return [_row("multiple-imputation bands (measurement + imputation)", 0.90,
                 mi["covered"].to_numpy(), mi["width"].to_numpy() + 1,
                 f"synthetic truth with {index.upper()}'s missingness, {draws} draws, one "
                 "completed data set per draw; pooled over units", per_rep=per)]


SECTIONS = {"rank_sets": rank_set_rows, "bayes": bayes_rows,
            "effective_weights": effective_weight_rows, "sobol": sobol_rows,
            "correlations": correlation_rows, "imputation": imputation_rows}


def product_version() -> str:
    try:
        from importlib.metadata import version

        return version("cityindex")
    except Exception:  # noqa: BLE001 - an uninstalled checkout
        return getattr(cityindex, "__version__", "unknown")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer replications (a few minutes)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "calibration.csv"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--bundle", action="store_true", help="also write the table to "
                    "data/calibration.csv, the copy the audit report shows")
    args = ap.parse_args(argv)
    q = 0 if args.quick else 1
    ver = product_version()
    print(f"cityindex {ver} — calibration benchmark ({'quick' if args.quick else 'full'}, "
          f"seed {args.seed})", flush=True)
    rows = []
    for name in args.only:
        t0 = time.perf_counter()
        kw = {"draws": 50 if args.quick else 100} if name == "imputation" else {}
        if name == "correlations" and args.quick:
            kw["n_boot"] = 1000
        rows += SECTIONS[name](REPS[name][q], args.seed, **kw)
        print(f"  {name}: {REPS[name][q]} replications, {time.perf_counter() - t0:.0f} s",
              flush=True)
    table = pd.DataFrame(rows)
    table.insert(0, "version", ver)
    table.insert(1, "mode", "quick" if args.quick else "full")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    if args.bundle:
        table.to_csv(ROOT / "data" / "calibration.csv", index=False)
    show = table.drop(columns=["version", "mode", "design"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(show.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {out}")
    bad = table[~table["within"]]
    if len(bad):
        print(f"OUTSIDE TOLERANCE: {', '.join(bad['interval'])}")
        return 1
    print("every coverage within nominal ± max(3 MC SE, 0.03)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
