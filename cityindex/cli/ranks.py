"""``cityindex ranks``: rank confidence sets, τ-best set, pairwise matrix, published-rank audit;
with ``--estimates FILE`` the same for any league table of estimates with standard errors
(:mod:`.ranks_estimates`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs,
                     out_option, step_progress)
from .common import SheetOpt, YearOpt, finite


@app.command("ranks")
@cli_errors
def ranks(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
          sheet: Optional[str] = SheetOpt, year: Optional[int] = YearOpt,
          method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
          source: str = typer.Option("measurement", "--source", help="Score draws: "
                                     "measurement (bootstrap over indicator measurement "
                                     "error; sets centred on the nominal scores), bayes "
                                     "(posterior latent scores) or uncertainty (the Monte "
                                     "Carlo replications' ranks: descriptive only, not a "
                                     "confidence statement)."),
          sd: Optional[float] = typer.Option(None, "--sd", min=0.0, callback=finite,
                                             help="Measurement error "
                                             "(relative SE) of every indicator value, "
                                             "replacing the error model of the framework "
                                             "(node 'error') and method ('measurement_error'); "
                                             "default: that model (built-in: relative SE 0.10, "
                                             "an assumption)."),
          imputation: bool = typer.Option(True, "--imputation/--no-imputation",
                                          help="Draw the imputed cells from their imputation "
                                          "distribution (a fresh completed data set of a "
                                          "multiple imputation per measurement draw); "
                                          "--no-imputation holds them fixed."),
          draws: int = typer.Option(200, "--draws", min=10, help="Measurement-error draws."),
          alpha: Optional[float] = typer.Option(None, "--alpha", min=0.001, max=0.5,
                                               callback=finite,
                                               help="1 − confidence level (or --level)."),
          level: float = typer.Option(0.95, "--level", min=0.5, max=0.999,
                                      help="Confidence level of every set and interval."),
          quantile: str = typer.Option("inverted_cdf", "--quantile", help="Quantile rule of the "
                                       "draws' rank intervals: inverted_cdf (whole ranks) or "
                                       "type7 (R's default, as COINr)."),
          estimates: Optional[Path] = typer.Option(None, "--estimates", help="A league table "
                                                   "(CSV/XLSX: unit, estimate, SE) to give rank "
                                                   "sets without our pipeline."),
          unit_col: str = typer.Option("unit", "--unit-col", help="Unit column (--estimates)."),
          estimate_col: str = typer.Option("estimate", "--estimate-col",
                                           help="Estimate column (--estimates)."),
          se_col: Optional[str] = typer.Option("se", "--se-col",
                                               help="Standard-error column (--estimates)."),
          cov: Optional[Path] = typer.Option(None, "--cov", help="Covariance matrix CSV "
                                             "(labels in first column and header) instead of "
                                             "--se-col (--estimates)."),
          lower_better: bool = typer.Option(False, "--lower-better", help="Lower estimates "
                                            "rank first (--estimates)."),
          n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap draws R."),
          seeds: int = typer.Option(20, "--seeds", min=1, help="Seeds over which the Monte "
                                    "Carlo error of every bootstrap bound is measured "
                                    "(--estimates)."),
          tau: int = typer.Option(10, "--tau", min=1, help="τ of the τ-best set."),
          top: int = typer.Option(50, "--top", min=2, help="Units in the pairwise matrix."),
          space: Optional[Path] = typer.Option(None, "--space", help="Uncertainty space "
                                               "for the methodological band."),
          n: int = typer.Option(1000, "--n", min=2, help="Uncertainty replications."),
          published: Optional[Path] = typer.Option(None, "--published", help="Published "
                                                   "table (default: the 2021 table of the "
                                                   "bundled index)."),
          out: Path = out_option("reports/ranks")):
    """Marginal and simultaneous rank confidence sets (Mogstad et al. 2024) from a
    measurement-error bootstrap, rank summaries of the same draws, the τ-best set, the pairwise
    "A ahead of B" matrix, and the published-ranking audit."""
    from cityindex.model import compute_index
    from cityindex.model.errors import MethodError
    from cityindex.validation.rank_inference import pairwise_comparisons, rank_sets, tau_best
    from cityindex.validation.uncertainty import uncertainty_analysis

    from ..runio import manifest, run_folder, write_json

    if alpha is not None:
        level = 1.0 - alpha
    alpha = round(1.0 - level, 12)
    qrule = _quantile_rule(quantile)
    if estimates is not None:
        from .ranks_estimates import run_estimates

        return run_estimates(estimates, unit_col, estimate_col, se_col, cov, lower_better,
                             level, tau, n_boot, seed or 0, seeds, out)
    if source not in ("measurement", "uncertainty", "bayes"):
        raise MethodError(f"--source '{source}'; valid: measurement, uncertainty, bayes")
    inp = load_inputs(framework, data, method, out, seed, sheet,
                      year=year)  # --unit-col: --estimates
    result = compute_index(*inp)
    with step_progress("ranks") as progress:
        ua = uncertainty_analysis(result, space, n=n, progress=progress.tick(
            f"uncertainty replications (N={n})", n))
        S, not_ranked = _draws(source, result, ua, sd, draws, imputation, progress)
        S = S.separable(seed=inp.seed)
        tick = progress.tick("rank sets, τ-best set, pairwise matrix", 3)
        sets = rank_sets(S, alpha=alpha, seed=inp.seed, n_boot=n_boot, not_ranked=not_ranked)
        table = _table(sets, S, result, tau, level, qrule, not_ranked)
        tick()
        best = tau_best(S, tau=tau, alpha=alpha, seed=inp.seed, n_boot=n_boot)
        tick()
        in_sets = set(S.units)
        top_units = [u for u in result.index_ranks.dropna().sort_values().index
                     if u in in_sets][:top]
        pairs = pairwise_comparisons(S.subset(top_units), alpha=alpha, seed=inp.seed,
                                     form="long")
        tick()
    if S.note:
        typer.echo(f"note: {S.note}", err=True)
    audit = _published_audit(published, result, ua, table)
    with run_folder(out) as tmp:
        table.to_csv(tmp / "rank_sets.csv", index=False)
        best.to_csv(tmp / "tau_best.csv", index=False)
        pairs.to_csv(tmp / "pairwise.csv", index=False)
        ua.rank_stats.to_csv(tmp / "rank_stats.csv")
        if audit is not None:
            audit.to_csv(tmp / "published_audit.csv", index=False)
        write_json(tmp / "manifest.json", manifest(
            "ranks", method=inp.method, framework=inp.framework, data=inp.data, seed=inp.seed,
            extra={"tie_note": S.note, "source": source, "assumption": S.assumption,
                   "measurement_sd": sd, "draws": draws, "imputation": imputation,
                   "alpha": alpha, "tau": tau,
                   "intervals": {"level": level, "quantile": qrule, "n_boot": n_boot},
                   "ranking": result.ranking(result.framework.root).to_dict(),
                   "published": str(published) if published else None, "n_uncertainty": n,
                   "units": {**result.availability.counts(), "n_in_sets": S.n_units},
                   "not_ranked": not_ranked.to_dict("records")}))
    typer.echo(sets.summary().as_text())
    typer.echo(f"ranking: {result.availability.counts_line()}")
    if audit is not None:
        typer.echo(f"published table: {int(audit['method_5_95_outside'].sum())} of "
                   f"{len(audit)} published ranks outside our 5–95% methodological band, "
                   f"{int(audit['mrsw_simultaneous_outside'].sum())} outside the simultaneous "
                   "set (open-data proxies: read as 'not supported by open data')")
        for label, what in (("method_5_95", "5–95% methodological band"),
                            ("mrsw_simultaneous", "simultaneous rank set")):
            typer.echo(f"  inside our {what}: {_baseline_line(audit, label, inp.seed)}")
    typer.echo(f"→ {out}")


def _draws(source: str, result, ua, sd: float | None, draws: int, imputation: bool = True,
           progress=None):
    """The score draws behind the sets (a ScoreDraws of the ranked units) and the units left
    out with the reason (DataFrame unit, reason): units with no observed indicator are never
    ranked; ``progress(step, done, total)``."""
    import numpy as np
    import pandas as pd

    from cityindex.model.bayes import fit_bayes
    from cityindex.validation.measurement import measurement_score_draws
    from cityindex.validation.rank_inference import ScoreDraws

    not_ranked = result.availability.not_ranked()[["unit", "reason"]]
    if source == "measurement":
        return measurement_score_draws(result, sd=sd, draws=draws, imputation=imputation,
                                       progress=progress), not_ranked
    if source == "uncertainty":
        typer.echo("note: with --source uncertainty the sets describe the spread of ranks over "
                   "methodological choices; they are not confidence statements", err=True)
        R = np.asarray(ua.ranks, float)
        always = ~np.isnan(R).any(axis=0)
        units = [u for u, ok in zip(ua.units, always) if ok]
        part = [u for u, ok in zip(ua.units, always)
                if not ok and u not in set(not_ranked["unit"])]
        if part:  # ranked nominally, but not in every replication (leave-one-out)
            not_ranked = pd.concat([not_ranked, pd.DataFrame(
                {"unit": part, "reason": "not ranked in every replication (leave-one-out "
                                         "removes its observed indicators)"})],
                ignore_index=True)
        return ScoreDraws.from_ranks(R[:, always], units, seed=result.method.seed), not_ranked
    b = fit_bayes(result)
    return ScoreDraws.from_draws(b.score_draws, source="bayes", assumption="posterior of the "
                                 "latent-score model fitted on the observed cells (4 chains × "
                                 "1,000 draws)"), not_ranked


def _quantile_rule(quantile: str) -> str:
    """numpy's name of a quantile rule given on the command line (type7 = R's default)."""
    from cityindex.model.errors import MethodError

    rules = {"inverted_cdf": "inverted_cdf", "type1": "inverted_cdf", "type7": "linear",
             "linear": "linear"}
    if quantile not in rules:
        raise MethodError(f"--quantile '{quantile}'; valid: inverted_cdf, type7")
    return rules[quantile]


def _table(sets, S, result, tau: int, level: float = 0.90, quantile: str = "inverted_cdf",
           not_ranked=None):
    """rank_sets.csv: the sets, the nominal rank, and rank summaries of the draws (equal-tailed
    intervals at ``level``, quantile rule ``quantile``); then the units not ranked (no set),
    with ``status`` and ``reason``."""
    import pandas as pd

    from cityindex.validation.rank_inference import rank_summary

    t = sets.to_frame()
    half = (1.0 - level) / 2.0
    summ = rank_summary(S, interval=(half, 1.0 - half), top_k=(tau,), quantile=quantile)
    summ = summ.rename(columns={c: f"draws_{c}" for c in summ.columns if c != "unit"})
    t = t.merge(summ, on="unit", how="left")
    t.insert(1, "nominal_rank", result.index_ranks.reindex(t["unit"]).to_numpy())
    status = result.availability.unit_status()
    t["status"] = t["unit"].map(status).to_numpy()
    t["reason"] = ""
    if not_ranked is not None and len(not_ranked):
        nr = not_ranked.assign(status=not_ranked["unit"].map(status).fillna("not in the sets"),
                               nominal_rank=result.index_ranks.reindex(
                                   not_ranked["unit"]).to_numpy())
        t = pd.concat([t, nr], ignore_index=True)
    return t.sort_values("nominal_rank")


def _baseline_line(audit, label: str, seed) -> str:
    """The share of published ranks inside a band beside the share expected by chance
    (:func:`~cityindex.validation.compare.permutation_band_baseline`)."""
    from cityindex.validation.compare import permutation_band_baseline

    m = audit.dropna(subset=["published_rank", f"{label}_lower", f"{label}_upper"])
    if len(m) < 2:
        return "too few matched units for a baseline"
    b = permutation_band_baseline(m["published_rank"].to_numpy(float),
                                  m[f"{label}_lower"].to_numpy(float),
                                  m[f"{label}_upper"].to_numpy(float), seed=seed)
    return (f"{b['observed']:.0%} of {b['n']} matched; {b['expected']:.0%} expected by chance "
            f"(published ranks shuffled among them; 90% range {b['range_lo']:.0%}–"
            f"{b['range_hi']:.0%}, P = {b['p_value']:.3g})")


def _published_audit(published, result, ua, table):
    """The published ranking beside our methodological band and simultaneous set (None when
    there is no published table)."""
    import pandas as pd

    from cityindex.model import bundled
    from cityindex.validation.compare import published_rank_audit

    root = result.framework.root
    if published is None and bundled.is_bundled(result.framework.origin or "."):
        published = bundled.published_path(root)
    if published is None:
        return None
    pub = pd.read_csv(published, keep_default_na=False, na_values=[""])
    bands = {"method_5_95": ua.rank_stats.rename(columns={"q5": "lower", "q95": "upper"}),
             "mrsw_simultaneous": table.set_index("unit").rename(columns={
                 "simultaneous_lower": "lower", "simultaneous_upper": "upper"})}
    names = pd.Series(result.data.meta.get("name_en", pd.Series(dtype=object)))
    return published_rank_audit(pub, result.index_ranks, bands, names if len(names) else None)
