"""``cityindex explore``: the interactive explorer (``explorer.html``) for any framework and data.

It computes what the page needs — the index, the Monte Carlo uncertainty analysis with the
ranks of every aggregate (the bands), the sensitivity analysis (each unit's drivers) and the
one-at-a-time scenarios — as a light audit (no weight audit, Bayesian model or rank sets), and
writes ``OUT/explorer.html`` (one offline file) and ``manifest.json``. ``cityindex audit``
writes the same page beside ``index.html`` from its full audit.

``--history FILE`` adds score and rank over years (a CSV or Parquet table with columns year,
unit, node, score, rank and optionally q5, q95, median and index); the page then shows the
trajectories with their bands.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import List, Optional

import typer

from .audit import AuditSpaceOpt, FrameworksOpt, _panel_years, _results
from .common import DataOpt, MethodOpt, SeedOpt, app, cli_errors
from .common import SheetOpt, UnitColOpt, YearOpt


def read_history(path: Path):
    """The history table of ``--history`` (CSV or Parquet).

    Raises
    ------
    DataError naming the file and the missing columns.
    """
    import pandas as pd

    from cityindex.model.errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: history file not found")
    h = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    missing = {"year", "unit", "node", "score", "rank"} - set(h.columns)
    if missing:
        raise DataError(f"{p}: history lacks column(s) {', '.join(sorted(missing))} (it needs "
                        "year, unit, node, score, rank; optionally q5, q95, median, index)")
    h["unit"] = h["unit"].astype(str)
    h["node"] = h["node"].astype(str)
    return h


def attach_history(audit, history) -> None:
    """Give each index of ``audit`` the rows of ``history`` that belong to it (its ``index``
    column when there is one, else the rows whose node is one of its aggregates)."""
    for code, a in audit.indices.items():
        h = history
        if "index" in h.columns:
            h = h[h["index"].astype(str) == code]
        h = h[h["node"].isin(set(a.framework.aggregates))]
        a.history = h.reset_index(drop=True) if len(h) else None


@app.command("explore")
@cli_errors
def explore(framework: Optional[List[str]] = FrameworksOpt, data: Optional[Path] = DataOpt,
            sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
            year: Optional[int] = YearOpt,
            method: Optional[Path] = MethodOpt, space: Optional[Path] = AuditSpaceOpt,
            out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder "
                                               "(default reports/explore-<timestamp>)."),
            seed: Optional[int] = SeedOpt,
            n: int = typer.Option(1000, "--n", min=2, help="Uncertainty replications (the "
                                  "5–95 % rank bands)."),
            n_sobol: int = typer.Option(64, "--n-sobol", min=2, help="Sobol base sample, a "
                                        "power of two (each unit's drivers)."),
            history: Optional[Path] = typer.Option(None, "--history", help="Scores and ranks "
                                                   "over years (CSV/Parquet: year, unit, node, "
                                                   "score, rank[, q5, q95, median, index])."),
            quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
            year_a: Optional[int] = typer.Option(
                None, "--year-a", help="With --year-b: explore year B of panel data (default: "
                "the bundled 2018–2021 panel) with the history of every year (score, rank and "
                "band) computed here."),
            year_b: Optional[int] = typer.Option(None, "--year-b", help="Year B.")):
    """Interactive explorer: one offline page (explorer.html) with every unit's rank, band and
    scores at every level — search, filters, comparison of 2–6 units, drill-down to the
    indicators (raw and imputed values), history when the data has years."""
    from cityindex.auditing import AuditSettings, audit as run_audit

    from ..report.explorer import write_explorer
    from ..runio import manifest, run_folder, write_json, write_space

    out = out or Path("reports") / f"explore-{datetime.now():%Y%m%d-%H%M%S}"
    settings = AuditSettings(quick=True, bayes=False, seed=seed, n_ua=n, n_sa=n_sobol,
                             light=True)
    hist = read_history(history) if history is not None else None
    panel, years = _panel_years(data, sheet, unit_col, year, year_a, year_b)
    if panel is not None:
        year = year_b
    inputs, results = _results(framework, data, method, seed, out, sheet, unit_col, year)
    result = run_audit(results, space=space, settings=settings, show_progress=not quiet,
                       panel=panel, years=years)
    if hist is not None:
        attach_history(result, hist)
    with run_folder(out) as tmp:
        path = write_explorer(result, tmp)
        spaces = write_space(tmp, {k: a.space for k, a in result.indices.items()})
        write_json(tmp / "manifest.json", manifest(
            "explore", method=inputs[0].method, framework=inputs[0].framework,
            data=inputs[0].data, seed=inputs[0].seed, extra={
                "settings": settings.to_dict(), "history": str(history) if history else None,
                "indices": {x.framework.root: {"framework": x.framework.origin,
                                               "data_sha256": x.data.sha256}
                            for x in inputs},
                "space": spaces}))
    typer.echo(f"explorer → {out / path.name} ({result.timings['total_s']:.0f} s)")
