"""``cityindex bayes``: the hierarchical Bayesian latent-score model (cityindex.model.bayes)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs,
                     out_option)
from .common import SheetOpt, UnitColOpt, YearOpt


@app.command("bayes")
@cli_errors
def bayes(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
          sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
          year: Optional[int] = YearOpt,
          method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
          quick: bool = typer.Option(False, "--quick", help="2 chains × 200 draws + 200 tune "
                                     "(overrides --chains/--draws/--tune; a smoke run, not "
                                     "for publication)."),
          chains: int = typer.Option(4, "--chains", min=1),
          draws: int = typer.Option(1000, "--draws", min=10),
          tune: int = typer.Option(1000, "--tune", min=0),
          likelihood: str = typer.Option("normal", help="normal | student_t"),
          loo: bool = typer.Option(False, "--loo", help="Also compare Normal vs Student-t by "
                                                        "PSIS-LOO (slow)."),
          strict: bool = typer.Option(False, "--strict", help="Exit non-zero if R-hat > 1.01 "
                                                              "or any divergence."),
          level: float = typer.Option(0.90, "--level", min=0.5, max=0.999,
                                      help="Level of the posterior rank intervals."),
          quantile: str = typer.Option("inverted_cdf", "--quantile", help="Quantile rule of "
                                       "the rank intervals: inverted_cdf or type7 (R's)."),
          out: Path = out_option("reports/bayes")):
    """Posterior latent scores, posterior ranks (median, 90% interval, P(top 10)), implied
    indicator weights beside nominal and PCA weights, diagnostics; posterior saved as netCDF."""
    import warnings

    import pandas as pd

    from cityindex.model import bundled, compute_index
    from cityindex.model.bayes import bayes_input, compare_likelihoods, fit_bayes
    from cityindex.model.errors import MethodError

    from ..runio import manifest, run_folder, write_json

    from .common import interval_conventions

    iv = interval_conventions(level, quantile)
    if likelihood not in ("normal", "student_t"):
        raise MethodError(f"--likelihood '{likelihood}'; valid: normal, student_t")
    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    result = compute_index(*inp)
    chains, draws, tune = (2, 200, 200) if quick else (chains, draws, tune)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = fit_bayes(result, likelihood=likelihood, chains=chains, draws=draws, tune=tune)
    if iv["quantile"] != "inverted_cdf" or abs(level - 0.90) > 1e-12:
        b.posterior_ranks = b.model.posterior_ranks(top_k=(10,), prob=level,
                                                    quantile=iv["quantile"])
    with run_folder(out) as tmp:
        b.latent_scores.to_csv(tmp / "latent_scores.csv", index=False)
        ranks = b.ranks_table().set_index("unit")
        ranks.insert(0, "nominal_rank", result.index_ranks.reindex(ranks.index))
        ranks.sort_values("rank_median").rename_axis("unit").to_csv(tmp / "posterior_ranks.csv")
        if b.not_ranked is not None:
            b.not_ranked.to_csv(tmp / "not_ranked.csv", index=False)
        b.implied_weights.to_csv(tmp / "implied_weights.csv")
        pub = bundled.published_path(inp.framework.root) \
            if bundled.is_bundled(inp.framework.origin or ".") else None
        if pub is not None:
            top = pd.read_csv(pub, keep_default_na=False, na_values=[""])
            top = top[top["rank"] <= 20][["code", "city_en", "rank"]].rename(
                columns={"rank": "published_rank"})
            top.merge(ranks, left_on="code", right_index=True, how="left").to_csv(
                tmp / "published_top20_posterior_ranks.csv", index=False)
        b.model.parameter_table().to_csv(tmp / "summary.csv", index=False)
        b.diagnostics.to_csv(tmp / "diagnostics.csv")
        b.model.ppc().to_csv(tmp / "ppc.csv")
        b.model.save(tmp / "posterior.nc")
        if loo:
            comp, _ = compare_likelihoods(bayes_input(result), result.framework, chains=chains,
                                          draws=draws, tune=tune, seed=inp.seed)
            comp.to_csv(tmp / "loo_compare.csv")
        write_json(tmp / "convergence.json", b.convergence)
        write_json(tmp / "manifest.json", manifest(
            "bayes", method=inp.method, framework=inp.framework, data=inp.data, seed=inp.seed,
            extra={"chains": chains, "draws": draws, "tune": tune, "likelihood": likelihood,
                   "intervals": iv,
                   "fitted_on": "observed cells only (imputed cells missing)",
                   "units": b.counts,
                   "warnings": sorted({str(w.message) for w in caught})}))
    typer.echo(b.summary().as_text() + f"→ {out}")
    if not b.converged:
        typer.echo("warning: not converged (R-hat > 1.01 or divergences); do not publish these "
                   "posterior ranks", err=True)
        if strict:
            raise typer.Exit(1)
