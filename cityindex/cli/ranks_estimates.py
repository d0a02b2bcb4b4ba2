"""``cityindex ranks --estimates FILE``: rank inference for any league table given as estimates
with standard errors (test scores, survey estimates, another institute's index with its published
SEs), without our pipeline.

Reads a CSV or XLSX with one row per unit (``--unit-col``, ``--estimate-col``, ``--se-col``;
optionally ``--cov FILE``, a p × p covariance matrix as CSV with the unit labels in its first
column and header) and writes into ``--out``: rank_sets.csv (bootstrap and seed-free marginal and
simultaneous sets with the Monte Carlo error of every bootstrap bound), tau_best.csv,
tau_worst.csv, pairwise.csv and pairwise_seedfree.csv (p × p, "row unit significantly ahead of
column unit"), knife_edge.csv (bounds that change with the seed) and manifest.json (with the
interval conventions: level, quantile rule, R, seeds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def read_estimates(path: Path, unit_col: str, estimate_col: str, se_col: Optional[str],
                   cov: Optional[Path], lower_better: bool):
    """The league table as a ScoreDraws (estimates oriented so that higher = better).

    Raises
    ------
    CityIndexError (one line) for a missing column, a repeated or empty unit, a value that is
    not a finite number, a negative SE, neither/both of SE column and covariance, or a
    covariance whose labels differ from the units.
    """
    import numpy as np
    import pandas as pd

    from cityindex.model.errors import CityIndexError
    from cityindex.validation.rank_inference import ScoreDraws

    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xls"):
        df = pd.read_excel(path)
    else:
        df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    need = [unit_col, estimate_col] + ([se_col] if se_col and cov is None else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise CityIndexError(f"{path}: no column(s) {missing}; columns are "
                             f"{', '.join(map(str, df.columns[:12]))} (set --unit-col, "
                             "--estimate-col, --se-col)")
    units = df[unit_col].astype(str).str.strip()
    if (units == "").any() or df[unit_col].isna().any():
        raise CityIndexError(f"{path}: empty unit label in row "
                             f"{int(np.flatnonzero((units == '') | df[unit_col].isna())[0]) + 2}")
    dup = units[units.duplicated()]
    if len(dup):
        raise CityIndexError(f"{path}: unit {dup.iloc[0]!r} appears more than once")

    def numbers(col):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(v.to_numpy(float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CityIndexError(f"{path}: column '{col}', row {i + 2} (unit {units.iloc[i]!r}): "
                                 f"{df[col].iloc[i]!r} is not a finite number")
        return v.to_numpy(float)

    est = numbers(estimate_col) * (-1.0 if lower_better else 1.0)
    what = f"estimates from {path.name} ({estimate_col}"
    if cov is not None:
        c = pd.read_csv(cov, index_col=0)
        c.index = c.index.astype(str).str.strip()
        c.columns = c.columns.astype(str).str.strip()
        if set(c.index) != set(units) or set(c.columns) != set(units):
            raise CityIndexError(f"{cov}: the covariance's row and column labels must be the "
                                 f"units of {path.name}")
        sigma = c.loc[list(units), list(units)].to_numpy(float)
        try:
            draws = ScoreDraws.from_estimates(pd.Series(est, index=units.to_numpy()), cov=sigma,
                                              source="estimates",
                                              assumption=f"{what}, covariance {Path(cov).name}); "
                                              "normal, centred on the truth")
        except ValueError as exc:
            raise CityIndexError(f"{cov}: {exc}") from None
        return draws
    if not se_col:
        raise CityIndexError("give --se-col (standard errors) or --cov (a covariance file)")
    se = numbers(se_col)
    if (se < 0).any():
        i = int(np.flatnonzero(se < 0)[0])
        raise CityIndexError(f"{path}: column '{se_col}', unit {units.iloc[i]!r}: negative "
                             "standard error")
    return ScoreDraws.from_estimates(pd.Series(est, index=units.to_numpy()), se=se,
                                     source="estimates",
                                     assumption=f"{what} ± {se_col}); independent, normal, "
                                     "centred on the truth")


def run_estimates(estimates: Path, unit_col: str, estimate_col: str, se_col: Optional[str],
                  cov: Optional[Path], lower_better: bool, level: float, tau: int, n_boot: int,
                  seed: int, n_seeds: int, out: Path) -> None:
    """The ``--estimates`` mode of ``cityindex ranks`` (see the module docstring)."""
    from cityindex.validation.rank_inference import league_table_sets

    from ..runio import check_output_folder, file_sha256, manifest, run_folder, write_json

    check_output_folder(out)
    draws = read_estimates(estimates, unit_col, estimate_col, se_col, cov, lower_better)
    res = league_table_sets(draws, alpha=round(1.0 - level, 12), tau=tau, n_boot=n_boot, seed=seed,
                            n_seeds=n_seeds)
    t = res.table
    if lower_better:
        t = t.assign(estimate=-t["estimate"])
    with run_folder(out) as tmp:
        t.sort_values("rank", kind="stable").to_csv(tmp / "rank_sets.csv", index=False)
        cols = ["unit", "estimate", "rank", "simultaneous_lower", "in_tau_best",
                "in_tau_best_changed", "seedfree_simultaneous_lower", "seedfree_in_tau_best"]
        t.sort_values("rank", kind="stable")[cols].to_csv(tmp / "tau_best.csv", index=False)
        cols = ["unit", "estimate", "rank", "simultaneous_upper", "in_tau_worst",
                "in_tau_worst_changed", "seedfree_simultaneous_upper", "seedfree_in_tau_worst"]
        t.sort_values("rank", kind="stable")[cols].to_csv(tmp / "tau_worst.csv", index=False)
        res.pairwise.rename_axis("ahead_of").to_csv(tmp / "pairwise.csv")
        res.pairwise_seedfree.rename_axis("ahead_of").to_csv(tmp / "pairwise_seedfree.csv")
        res.knife_edge().to_csv(tmp / "knife_edge.csv", index=False)
        write_json(tmp / "summary.json", res.to_dict())
        write_json(tmp / "manifest.json", manifest("ranks", seed=seed, extra={
            "mode": "estimates",
            "estimates": {"file": str(Path(estimates).resolve()),
                          "sha256": file_sha256(estimates), "unit_col": unit_col,
                          "estimate_col": estimate_col, "se_col": se_col,
                          "cov": str(cov) if cov else None,
                          "cov_sha256": file_sha256(cov) if cov else None,
                          "lower_is_better": lower_better},
            "intervals": {"level": level, "alpha": round(1.0 - level, 12), "sets": "two-sided",
                          "bootstrap_quantile": "R type 7 (numpy 'linear') of the max-t "
                                                "statistic, as csranks",
                          "n_boot": n_boot, "seeds": res.seeds},
            "tau": tau, "assumption": draws.assumption, "note": res.note}))
    typer.echo(res.summary().as_text())
    typer.echo(f"→ {out}")
