"""``cityindex audit`` (the main job) and ``cityindex profile``.

``audit`` computes GDCI and BRPCI (or the ``--framework`` given), runs the statistical audit
(:func:`cityindex.auditing.audit`) and writes ``reports/<run>/`` (index.html, figures/, tables/,
tables.xlsx, results.json, manifest.json) atomically: invalid input stops the run with one line
before anything is written. ``profile`` prints city profiles.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from .common import DataOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs
from .common import EXIT_INCOMPLETE, SheetOpt, UnitColOpt, YearOpt, finite

DEFAULT_FRAMEWORKS = ("gdci", "brpci")
FrameworksOpt = typer.Option(None, "--framework", "-f",
                             help="Framework(s) (default: gdci and brpci).")
AuditSpaceOpt = typer.Option(None, "--space", "-s", help="Uncertainty space YAML (default: the "
                             "bundled spaces/default.yaml for a bundled framework; for any "
                             "other, a space built from the framework and data, written to "
                             "the run folder as space.yaml to edit and pass back).")


def _results(frameworks, data, method, seed, out=None, sheet=None, unit_col=None, year=None):
    """Load and validate every input first, then compute each index."""
    from cityindex.model import compute_index

    inputs = [load_inputs(f, data, method, out if i == 0 else None, seed, sheet, unit_col,
                          year)
              for i, f in enumerate(frameworks or DEFAULT_FRAMEWORKS)]
    return inputs, [compute_index(*x) for x in inputs]


@app.command("audit")
@cli_errors
def audit(framework: Optional[List[str]] = FrameworksOpt, data: Optional[Path] = DataOpt,
          sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
          year: Optional[int] = YearOpt,
          method: Optional[Path] = MethodOpt, space: Optional[Path] = AuditSpaceOpt,
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder "
                                             "(default reports/audit-<timestamp>)."),
          quick: bool = typer.Option(False, "--quick", help="Small samples, no Bayes."),
          no_bayes: bool = typer.Option(False, "--no-bayes", help="Skip the Bayesian model."),
          seed: Optional[int] = SeedOpt,
          bayes_timeout: float = typer.Option(170.0, "--bayes-timeout", min=1.0, callback=finite,
                                              help="Seconds the Bayesian fit may run, counted "
                                              "from its start (it runs beside the other "
                                              "stages): a fit still running then is stopped at "
                                              "that moment, the report says so and the audit "
                                              "exits with status 3."),
          n: Optional[int] = typer.Option(None, "--n", min=2, help="Uncertainty replications "
                                          "(default 10000; 500 with --quick)."),
          n_sobol: Optional[int] = typer.Option(None, "--n-sobol", min=2, help="Sobol base "
                                                "sample, a power of two (default 1024; 64 "
                                                "quick)."),
          profile: Optional[List[str]] = typer.Option(None, "--profile", help="City to "
                                                      "profile (repeatable)."),
          rank_curve: Optional[bool] = typer.Option(
              None, "--rank-curve/--no-rank-curve", help="Width of the rank confidence sets "
              "against the assumed measurement error (2, 5, 10, 20 % and the per-indicator "
              "model; default: on in full runs, off with --quick)."),
          quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
          workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Indices "
                                                "audited side by side, one process each "
                                                "(default: one per CPU; 1 = one after the "
                                                "other). Results do not depend on it."),
          year_a: Optional[int] = typer.Option(
              None, "--year-a", help="With --year-b: audit year B of panel data (default: the "
              "bundled 2018–2021 panel) and add the year-on-year section: every year's score "
              "and rank with bands (trajectories) and the A → B moves with bands from paired "
              "replications, beside the published arrows."),
          year_b: Optional[int] = typer.Option(None, "--year-b", help="Year B (with "
                                               "--year-a)."),
          quantile: str = typer.Option("inverted_cdf", "--quantile", help="Quantile rule of "
                                       "the 5–95 % bands: inverted_cdf (whole ranks) or type7 "
                                       "(R's default, as COINr).")):
    """Audit the index: coherence, weights, uncertainty, sensitivity, Bayes, rank sets,
    published comparison → a self-contained HTML report with figures and tables.

    Exit status 3 when the report was written but a requested section failed or timed out
    (the report lists them at its top); 2 for invalid input (nothing written)."""
    from cityindex.auditing import AuditSettings, audit as run_audit
    from cityindex.profiles import resolve_cities

    from ..report.html import write_report
    from ..runio import manifest, run_folder, write_space

    from .common import interval_conventions

    iv = interval_conventions(0.90, quantile)
    out = out or Path("reports") / f"audit-{datetime.now():%Y%m%d-%H%M%S}"
    settings = AuditSettings(quick=quick, bayes=not no_bayes, seed=seed, n_ua=n, n_sa=n_sobol,
                             profiles=list(profile or []), bayes_timeout=bayes_timeout,
                             quantile=iv["quantile"], workers=workers,
                             rank_curve=rank_curve)
    panel, years = _panel_years(data, sheet, unit_col, year, year_a, year_b)
    if panel is not None:
        year = year_b
    inputs, results = _results(framework, data, method, seed, out, sheet, unit_col, year)
    if settings.profiles:                       # fail early on an unknown city
        resolve_cities(settings.profiles, data=[x.data for x in inputs])
    result = run_audit(results, space=space, settings=settings, show_progress=not quiet,
                       panel=panel, years=years)
    man = manifest("audit", method=inputs[0].method, framework=inputs[0].framework,
                   data=inputs[0].data, seed=inputs[0].seed, extra={
                       "settings": settings.to_dict(),
                       "indices": {x.framework.root: {"framework": x.framework.origin,
                                                      "data_sha256": x.data.sha256}
                                   for x in inputs},
                       "space": {},
                       "intervals": {"band": iv, "rank_sets_level":
                                     round(1.0 - settings.rank_alpha, 12),
                                     "bayes_level": 0.90}})
    with run_folder(out) as tmp:  # the space(s) used, ready to edit and pass back (--space)
        man["space"] = write_space(tmp, {k: a.space for k, a in result.indices.items()})
        write_report(result, tmp, man)
    typer.echo(result.summary().as_text()
               + f"report → {out / 'index.html'} ({result.timings['total_s']:.0f} s)")
    _exit_if_incomplete(result)


def _panel_years(data, sheet, unit_col, year, year_a, year_b):
    """(PanelData, (A, B)) for --year-a/--year-b, else (None, None)."""
    if year_a is None and year_b is None:
        return None, None
    from cityindex.model import bundled
    from cityindex.model.errors import DataError
    from cityindex.model.temporal import read_panel

    if year_a is None or year_b is None:
        raise DataError("--year-a and --year-b go together")
    if year_a == year_b:
        raise DataError(f"--year-a and --year-b are both {year_a}")
    if year is not None and year != year_b:
        raise DataError(f"--year {year} and --year-b {year_b}: the audit is of year B")
    panel = (read_panel(bundled.panel_long_path(), meta=bundled.panel_meta()) if data is None
             else read_panel(data, unit_col=unit_col, sheet=sheet))
    for y in (year_a, year_b):
        if y not in panel.years:
            raise DataError(f"{panel.source}: no year {y} in the data (years: "
                            f"{', '.join(map(str, panel.years))})")
    return panel, (year_a, year_b)


def _exit_if_incomplete(result) -> None:
    """Exit status 3 (EXIT_INCOMPLETE) when a requested section failed or timed out."""
    failed = {k: v for k, v in result.failed.items() if v}
    if failed:
        typer.echo("warning: incomplete report: " + "; ".join(
            f"{k}: {', '.join(v)} failed or timed out" for k, v in failed.items())
            + f" (exit status {EXIT_INCOMPLETE})", err=True)
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("profile")
@cli_errors
def profile_cmd(cities: List[str] = typer.Argument(..., help="City names or codes "
                                                   "(\"Shanghai\", \"上海\", \"Paris (France)\")."),
                framework: Optional[List[str]] = FrameworksOpt, data: Optional[Path] = DataOpt,
                sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
                year: Optional[int] = YearOpt,
                method: Optional[Path] = MethodOpt, space: Optional[Path] = AuditSpaceOpt,
                seed: Optional[int] = SeedOpt,
                n: int = typer.Option(500, "--n", min=2, help="Uncertainty replications."),
                out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write "
                                                   "an HTML report with the profiles.")):
    """Profile cities: score, rank and band at every level, peers, neighbours, drivers."""
    from cityindex.auditing import AuditSettings, audit as run_audit
    from cityindex.profiles import resolve_cities

    from ..report.html import write_report
    from ..report.profile import profile_text
    from ..runio import manifest, run_folder

    inputs, results = _results(framework, data, method, seed, out, sheet, unit_col, year)
    codes = resolve_cities(list(cities), data=[x.data for x in inputs])
    settings = AuditSettings(quick=True, bayes=False, seed=seed, n_ua=n, profiles=codes,
                             light=True)
    result = run_audit(results, space=space, settings=settings)
    shown = {p.code for plist in result.profiles.values() for p in plist}
    for plist in result.profiles.values():
        for p in plist:
            typer.echo(profile_text(p) + "\n")
    for c in codes:
        if c not in shown:
            typer.echo(f"warning: {c} is not a unit of {', '.join(result.indices)} (after "
                       "screening)", err=True)
    if out is not None:
        with run_folder(out) as tmp:
            write_report(result, tmp, manifest("profile", method=inputs[0].method,
                                               framework=inputs[0].framework,
                                               data=inputs[0].data, seed=inputs[0].seed))
        typer.echo(f"report → {out / 'index.html'}")
    _exit_if_incomplete(result)
