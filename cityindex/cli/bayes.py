"""``cityindex bayes``: the hierarchical Bayesian latent-score model (model.bayes)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityindex.model import bundled as _bundled

from .common import app, DataOpt, FrameworkOpt, MethodOpt, SeedOpt, cli_errors, load_inputs


def _pca_weights(result):
    """Handbook PCA weights of all indicators (None when PCA is not defined on the data)."""
    from cityindex.model.errors import CityIndexError
    from cityindex.model.weights import PCAWeights

    try:
        return PCAWeights().fit(result.normalised[result.framework.indicators]).weights_
    except CityIndexError:
        return None


@app.command("bayes")
@cli_errors
def bayes(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
          method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
          quick: bool = typer.Option(False, "--quick", help="2 chains × 200 draws + 200 tune "
                                     "(overrides --chains/--draws/--tune; a smoke run, "
                                     "not for publication)."),
          chains: int = typer.Option(4, "--chains", min=1),
          draws: int = typer.Option(1000, "--draws", min=10),
          tune: int = typer.Option(1000, "--tune", min=0),
          likelihood: str = typer.Option("normal", help="normal | student_t"),
          loo: bool = typer.Option(False, "--loo", help="Also compare Normal vs Student-t "
                                                        "by PSIS-LOO (slow)."),
          strict: bool = typer.Option(False, "--strict", help="Exit non-zero if R-hat > "
                                                              "1.01 or any divergence."),
          out: Path = typer.Option(Path("reports/bayes"), "--out", "-o")):
    """Posterior latent scores, posterior ranks (median, 90% interval, P(top 10)), implied
    indicator weights beside nominal and PCA weights, diagnostics; posterior saved as
    netCDF."""
    import warnings

    import pandas as pd

    from cityindex.model import compute_index
    from cityindex.model.bayes import ConvergenceError, LatentScoreModel, compare_likelihoods

    from ..runio import manifest, run_folder, write_json

    if likelihood not in ("normal", "student_t"):
        from cityindex.model.errors import MethodError

        raise MethodError(f"--likelihood '{likelihood}'; valid: normal, student_t")
    fw, ind, spec = load_inputs(framework, data, method, out, seed)
    seed = spec.seed
    result = compute_index(fw, ind, spec)
    if quick:
        chains, draws, tune = 2, 200, 200
    model = LatentScoreModel(likelihood=likelihood, chains=chains, draws=draws, tune=tune,
                             seed=seed, strict=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(result.treated, result.framework)
    conv = dict(model.convergence_)
    bad = conv.get("max_rhat", 0) > 1.01 or conv.get("divergences", 0) > 0
    with run_folder(out) as tmp:
        model.latent_scores().to_csv(tmp / "latent_scores.csv")
        ranks = model.posterior_ranks(top_k=(10,))
        ranks.insert(0, "nominal_rank", result.index_ranks.reindex(ranks.index))
        ranks.sort_values("rank_median").to_csv(tmp / "posterior_ranks.csv")
        model.implied_weights(normalised=result.normalised,
                              pca_weights=_pca_weights(result)).to_csv(
            tmp / "implied_weights.csv")
        pub = (_bundled.published_path(fw.root) or Path("-"))
        if pub.exists():
            top = pd.read_csv(pub, keep_default_na=False, na_values=[""])
            top = top[top["rank"] <= 20][["code", "city_en", "rank"]].rename(
                columns={"rank": "published_rank"})
            top.merge(ranks, left_on="code", right_index=True, how="left").to_csv(
                tmp / "published_top20_posterior_ranks.csv", index=False)
        model.summary().to_csv(tmp / "summary.csv", index=False)
        model.diagnostics_.to_csv(tmp / "diagnostics.csv")
        model.ppc().to_csv(tmp / "ppc.csv")
        model.save(tmp / "posterior.nc")
        if loo:
            comp, _ = compare_likelihoods(result.treated, result.framework, chains=chains,
                                          draws=draws, tune=tune, seed=seed)
            comp.to_csv(tmp / "loo_compare.csv")
        write_json(tmp / "convergence.json", conv)
        write_json(tmp / "manifest.json", manifest(
            "bayes", method=spec, framework=fw, data=ind, seed=seed,
            extra={"chains": chains, "draws": draws, "tune": tune,
                   "likelihood": likelihood, "warnings": sorted({str(w.message)
                                                                 for w in caught})}))
    typer.echo(f"{fw.root}: {chains}×{draws} draws, max R-hat {conv.get('max_rhat', 0):.3f}, "
               f"min bulk ESS {conv.get('min_ess_bulk', 0):.0f}, divergences "
               f"{conv.get('divergences', 0)}, sampling {conv.get('sampling_s', 0):.1f} s → {out}")
    if bad:
        typer.echo("warning: not converged (R-hat > 1.01 or divergences); do not publish these "
                   "posterior ranks", err=True)
        if strict:
            raise typer.Exit(1)
