"""``cityindex ranks``: rank confidence sets, τ-best set, pairwise matrix, published-rank audit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityindex.model import bundled as _bundled

from .common import app, DataOpt, FrameworkOpt, MethodOpt, SeedOpt, cli_errors, load_inputs


@app.command("ranks")
@cli_errors
def ranks(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
          method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
          source: str = typer.Option("measurement", "--source", help="Score draws: "
                                     "measurement (bootstrap over indicator measurement "
                                     "error; sets centred on the nominal scores), bayes "
                                     "(posterior latent scores) or uncertainty (the Monte "
                                     "Carlo replications' ranks: descriptive only, not a "
                                     "confidence statement)."),
          sd: float = typer.Option(0.10, "--sd", min=0.0, help="Measurement error (relative sd) of "
                                                      "every indicator value."),
          draws: int = typer.Option(200, "--draws", min=10, help="Measurement-error draws."),
          alpha: float = typer.Option(0.05, "--alpha", min=0.001, max=0.5,
                                     help="1 − confidence level."),
          tau: int = typer.Option(10, "--tau", min=1, help="τ of the τ-best set."),
          top: int = typer.Option(50, "--top", min=2, help="Units in the pairwise matrix."),
          space: Optional[Path] = typer.Option(None, "--space", help="Uncertainty space "
                                               "for the methodological band."),
          n: int = typer.Option(1000, "--n", min=2, help="Uncertainty replications."),
          published: Optional[Path] = typer.Option(None, "--published", help="Published "
                                                   "table (default: the 2021 table of the "
                                                   "bundled index)."),
          out: Path = typer.Option(Path("reports/ranks"), "--out", "-o")):
    """Marginal and simultaneous rank confidence sets (Mogstad et al. 2024) from a
    measurement-error bootstrap, Bayesian-style rank summaries of the same draws, the
    τ-best set, the pairwise "A ahead of B" matrix, and the published-ranking audit."""
    import pandas as pd

    from cityindex.model import compute_index
    from cityindex.model.registry import load_registry

    from cityindex.model.errors import MethodError

    from ..validation.rank_audit import (bayes_score_draws, centred_inputs, measurement_score_draws,
                             published_rank_audit, rank_score_draws, separable_draws)
    from ..validation.rank_inference import (pairwise_comparisons, rank_confidence_sets, rank_summary,
                                 tau_best)
    from ..runio import manifest, run_folder, write_json
    from ..validation.space import UncertaintySpace
    from ..validation.uncertainty import uncertainty_analysis

    if source not in ("measurement", "uncertainty", "bayes"):
        raise MethodError(f"--source '{source}'; valid: measurement, uncertainty, bayes")
    fw, ind, spec = load_inputs(framework, data, method, out, seed)
    seed = spec.seed
    nominal = compute_index(fw, ind, spec)
    sp = UncertaintySpace.load(space or _bundled.space_path(), fw, spec)
    ua = uncertainty_analysis(fw, ind, spec, sp, n=n, seed=seed)
    if source == "measurement":
        S = measurement_score_draws(fw, ind, spec, sd=sd, draws=draws, seed=seed)
    elif source == "uncertainty":
        S = rank_score_draws(ua.ranks, ua.units, seed=seed)
    else:
        S = bayes_score_draws(nominal, seed=seed)
    S, tie_note = separable_draws(S, seed=seed)
    if tie_note:
        typer.echo(f"note: {tie_note}", err=True)
    # measurement error: sets centred on the nominal scores, Σ̂ from the draws; a posterior
    # or the Monte Carlo ranks: centred on the draws' mean
    inputs = centred_inputs(S, nominal.index_scores if source == "measurement" else None)
    simul = rank_confidence_sets(**inputs, alpha=alpha, simultaneous=True, seed=seed)
    marg = rank_confidence_sets(**inputs, alpha=alpha, simultaneous=False, seed=seed)
    sets = simul.rename(columns={"lower": "simultaneous_lower", "upper": "simultaneous_upper"})
    sets["marginal_lower"] = marg["lower"].to_numpy()
    sets["marginal_upper"] = marg["upper"].to_numpy()
    summ = rank_summary(S, interval=(0.05, 0.95), top_k=(tau,))
    if "unit" not in summ.columns:
        summ = summ.rename_axis("unit").reset_index()
    summ = summ.rename(columns={c: f"draws_{c}" for c in summ.columns if c != "unit"})
    sets = sets.merge(summ, on="unit", how="left")
    sets.insert(1, "nominal_rank", nominal.index_ranks.reindex(sets["unit"]).to_numpy())
    sets = sets.sort_values("nominal_rank")
    best = tau_best(**inputs, tau=tau, alpha=alpha, seed=seed)
    top_units = list(nominal.index_ranks.sort_values().index[:top])
    top_inputs = centred_inputs(S[top_units], nominal.index_scores[top_units]
                                if source == "measurement" else None)
    pairs = pairwise_comparisons(**top_inputs, alpha=alpha, seed=seed, form="long")

    bands = {"method_5_95": ua.rank_stats.rename(columns={"q5": "lower", "q95": "upper"}),
             "mrsw_simultaneous": sets.set_index("unit").rename(columns={
                 "simultaneous_lower": "lower", "simultaneous_upper": "upper"})}
    pub_path = published or (_bundled.published_path(fw.root) or Path("-"))
    audit = None
    if Path(pub_path).exists():
        pub = pd.read_csv(pub_path, keep_default_na=False, na_values=[""])
        names = load_registry().set_index("code")["name_en"]
        audit = published_rank_audit(pub, nominal.index_ranks, bands, names)
    with run_folder(out) as tmp:
        sets.to_csv(tmp / "rank_sets.csv", index=False)
        best.to_csv(tmp / "tau_best.csv", index=False)
        pairs.to_csv(tmp / "pairwise.csv", index=False)
        ua.rank_stats.to_csv(tmp / "rank_stats.csv")
        if audit is not None:
            audit.to_csv(tmp / "published_audit.csv", index=False)
        write_json(tmp / "manifest.json", manifest(
            "ranks", method=spec, framework=fw, data=ind, seed=seed,
            extra={"tie_note": tie_note, "source": source, "measurement_sd": sd, "draws": draws,
                   "alpha": alpha, "tau": tau,
                   "published": str(pub_path), "n_uncertainty": n}))
    width = (sets["simultaneous_upper"] - sets["simultaneous_lower"] + 1)
    what = (f"conditional on a {sd:.0%} multiplicative measurement error in every value, "
            f"{draws} draws" if source == "measurement" else f"{len(S)} {source} draws")
    if source == "uncertainty":
        typer.echo("note: with --source uncertainty the sets describe the spread of ranks "
                   "over methodological choices; they are not confidence statements",
                   err=True)
    typer.echo(f"{fw.root}: {len(sets)} units; simultaneous {100 * (1 - alpha):.0f}% rank sets "
               f"median width {width.median():.0f} places ({what})")
    if audit is not None:
        typer.echo(f"published table: {int(audit['method_5_95_outside'].sum())} of "
                   f"{len(audit)} published ranks outside our 5–95% method band, "
                   f"{int(audit['mrsw_simultaneous_outside'].sum())} outside the simultaneous "
                   "set (open-data proxies: read as 'not supported by open data')")
    typer.echo(f"→ {out}")
