"""``cityindex audit`` and ``cityindex profile`` (registered on the main app by ``register``).

``audit`` runs the full statistical audit of GDCI and BRPCI (or one ``--framework``) and writes
``reports/<run>/`` (index.html, figures/, tables/, tables.xlsx, results.json, manifest.json)
atomically: invalid input stops the run with one line before anything is written.
``profile`` prints city profiles (rank bands at every level, peers, drivers).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from .common import DataOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs

DEFAULT_FRAMEWORKS = ("gdci", "brpci")


def _inputs(frameworks: Optional[List[str]], data, method, seed=None):
    """Load and validate every (framework, data, method) before any work."""
    return [load_inputs(f, data, method, seed=seed) for f in (frameworks or DEFAULT_FRAMEWORKS)]



@app.command("audit")
@cli_errors
def audit(framework: Optional[List[str]] = typer.Option(
              None, "--framework", "-f", help="Framework(s) (default: gdci and brpci)."),
          data: Optional[Path] = DataOpt, method: Optional[Path] = MethodOpt,
          space: Optional[Path] = typer.Option(None, "--space", help="Uncertainty space "
                                               "YAML (default data/spaces/default.yaml)."),
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder "
                                             "(default reports/audit-<timestamp>)."),
          quick: bool = typer.Option(False, "--quick", help="Small samples, no Bayes "
                                     "(under a minute)."),
          no_bayes: bool = typer.Option(False, "--no-bayes", help="Skip the Bayesian model."),
          seed: Optional[int] = SeedOpt,
          bayes_timeout: float = typer.Option(170.0, "--bayes-timeout", min=1.0,
                                              help="Seconds the Bayesian fit may run "
                                              "(from its start; it runs beside the other "
                                              "stages). A fit that does not finish is "
                                              "stopped and the report says so."),
          n: Optional[int] = typer.Option(None, "--n", help="Uncertainty replications "
                                          "(default 10000; 500 with --quick)."),
          n_sobol: Optional[int] = typer.Option(None, "--n-sobol", help="Sobol base sample, "
                                                "a power of two (default 1024; 64 quick)."),
          profile: Optional[List[str]] = typer.Option(None, "--profile", help="City to "
                                                      "profile (repeatable)."),
          quiet: bool = typer.Option(False, "--quiet", help="No progress bars.")):
    """Audit the index: coherence, weights, uncertainty, sensitivity, Bayes, rank sets,
    published comparison → a self-contained HTML report with figures and tables."""
    from cityindex.model.errors import MethodError

    from ..audit import AuditSettings, run_audit
    from ..report.html import write_report
    from ..report.profile import resolve_cities
    from ..runio import manifest, run_folder

    inputs = _inputs(framework, data, method, seed)
    seed = inputs[0].seed
    try:
        settings = AuditSettings(quick=quick, bayes=not no_bayes, seed=seed, n_ua=n,
                                 n_sa=n_sobol, profiles=list(profile or []),
                                 bayes_timeout=bayes_timeout)
    except ValueError as exc:
        raise MethodError(str(exc)) from None
    if settings.profiles:                       # fail early on an unknown city
        resolve_cities(settings.profiles, data=[d for _, d, _ in inputs])
    out = out or Path("reports") / f"audit-{datetime.now():%Y%m%d-%H%M%S}"
    result = run_audit(inputs, space, settings, show_progress=not quiet)
    fw0, data0, spec0 = inputs[0]
    man = manifest("audit", method=spec0, framework=fw0, data=data0, seed=seed, extra={
        "settings": settings.to_dict(),
        "indices": {fw.root: {"framework": fw.origin, "data_sha256": d.sha256}
                    for fw, d, _ in inputs},
        "space": str(space or "data/spaces/default.yaml")})
    with run_folder(out) as tmp:
        write_report(result, tmp, man)
    for k, a in result.indices.items():
        h = a.headline()
        line = f"{k}: "
        if "mean_abs_rank_shift" in h:
            line += (f"mean |rank shift| {h['mean_abs_rank_shift']:.2f}, bands > 10 places "
                     f"{h['share_band_wider_than_10']:.1%}")
        if "top_drivers" in h:
            line += ", top STi " + ", ".join(f"{d['factor']} {d['ST']:.2f}"
                                             for d in h["top_drivers"])
        if h.get("max_rhat") is not None:
            line += f", max R-hat {h['max_rhat']:.3f}"
        elif h.get("bayes_failed"):
            line += f", Bayesian model {h['bayes_failed']}"
        typer.echo(line)
    typer.echo(f"report → {out / 'index.html'} ({result.timings['total_s']:.0f} s)")

@app.command("profile")
@cli_errors
def profile_cmd(cities: List[str] = typer.Argument(..., help="City names or codes "
                                                   "(\"Shanghai\", \"上海\", \"Paris (France)\")."),
                framework: Optional[List[str]] = typer.Option(
                    None, "--framework", "-f", help="Framework(s) (default: gdci and brpci)."),
                data: Optional[Path] = DataOpt, method: Optional[Path] = MethodOpt,
                space: Optional[Path] = typer.Option(None, "--space", help="Uncertainty "
                                                     "space YAML (default "
                                                     "data/spaces/default.yaml)."),
                seed: Optional[int] = SeedOpt,
                n: int = typer.Option(500, "--n", min=2, help="Uncertainty replications."),
                out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write "
                                                   "an HTML report with the profiles.")):
    """Profile cities: score, rank and band at every level, peers, neighbours, drivers."""
    from ..audit import AuditSettings, run_audit
    from ..report.html import write_report
    from ..report.profile import profile_text, resolve_cities
    from ..runio import manifest, run_folder

    inputs = _inputs(framework, data, method, seed)
    seed = inputs[0].seed
    codes = resolve_cities(list(cities), data=[d for _, d, _ in inputs])
    settings = AuditSettings(quick=True, bayes=False, seed=seed, n_ua=n,
                             profiles=codes, light=True)
    result = run_audit(inputs, space, settings, show_progress=False)
    shown = set()
    for plist in result.profiles.values():
        for p in plist:
            shown.add(p["code"])
            typer.echo(profile_text(p))
            typer.echo("")
    for c in codes:
        if c not in shown:
            typer.echo(f"warning: {c} is not a unit of "
                       f"{', '.join(result.indices)} (after screening)", err=True)
    if out is not None:
        fw0, data0, spec0 = inputs[0]
        with run_folder(out) as tmp:
            write_report(result, tmp, manifest("profile", method=spec0, framework=fw0,
                                               data=data0, seed=seed))
        typer.echo(f"report → {out / 'index.html'}")
