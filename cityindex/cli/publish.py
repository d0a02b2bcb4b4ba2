"""``cityindex publish``: the league table a report prints, under the publication conventions.

Writes into ``--out``: publication.csv, publication.xlsx, publication.html (an escaped HTML
fragment) and manifest.json (method with its ``ranking`` section, the interval conventions of
the band, the previous vintage). The rank follows the method's ``ranking`` key (rounding, ties);
``--previous`` (a scores.csv or any table with unit and rank columns) or ``--previous-data``
(the previous vintage's data, computed with the same framework and method) adds the rank change
(up/down/same/new); the band is the rank's percentiles over an uncertainty analysis at
``--level`` with the quantile rule ``--quantile`` (``--no-band`` skips it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, MethodOpt, SeedOpt, SpaceOpt, app, cli_errors,
                     load_inputs, out_option)
from .common import SheetOpt, UnitColOpt, YearOpt


@app.command("publish")
@cli_errors
def publish(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
            year: Optional[int] = YearOpt,
            method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
            node: Optional[str] = typer.Option(None, "--node", help="Aggregate to publish "
                                               "(default: the index)."),
            previous: Optional[Path] = typer.Option(None, "--previous", help="Previous vintage's "
                                                    "ranks: a scores.csv or a table with unit "
                                                    "and rank columns."),
            previous_data: Optional[Path] = typer.Option(None, "--previous-data", help="Previous "
                                                         "vintage's data (computed with the same "
                                                         "framework and method)."),
            band: bool = typer.Option(True, "--band/--no-band", help="Methodological band "
                                      "from an uncertainty analysis."),
            space: Optional[Path] = SpaceOpt,
            n: int = typer.Option(500, "--n", min=2, help="Uncertainty replications (band)."),
            level: float = typer.Option(0.90, "--level", min=0.5, max=0.999,
                                        help="Level of the band (0.90: 5th–95th percentile)."),
            quantile: str = typer.Option("inverted_cdf", "--quantile", help="Quantile rule of "
                                         "the band: inverted_cdf (whole ranks) or type7 (R's "
                                         "default, as COINr)."),
            wide: Optional[int] = typer.Option(None, "--flag-wide", min=1, help="Flag bands "
                                               "wider than this many places."),
            out: Path = out_option("reports/publish")):
    """Publication table: rank under the conventions, published score, rank change, band, flags
    (CSV, XLSX, HTML fragment)."""
    from cityindex.model import compute_index
    from cityindex.validation.publication import publication_table

    from ..report.publication import html_fragment, write_csv, write_xlsx
    from ..runio import file_sha256, manifest, run_folder, write_json
    from .ranks import _quantile_rule

    qrule = _quantile_rule(quantile)
    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    result = compute_index(*inp)
    prev, prev_label, prev_rec = None, "", None
    if previous is not None and previous_data is not None:
        from cityindex.model.errors import MethodError
        raise MethodError("give --previous or --previous-data, not both")
    if previous is not None:
        prev, prev_label = previous, f"{previous.name}"
        prev_rec = {"file": str(previous.resolve()), "sha256": file_sha256(previous)}
    elif previous_data is not None:
        from cityindex.model import read_data
        prev = compute_index(inp.framework, read_data(previous_data, inp.framework), inp.method)
        prev_label = f"{previous_data.name} (same framework and method)"
        prev_rec = {"data": str(previous_data.resolve()), "sha256": file_sha256(previous_data)}
    stats, band_label, band_rec = None, "", None
    if band:
        from cityindex.validation.uncertainty import uncertainty_analysis

        half = (1.0 - level) / 2.0 * 100.0
        pct = (round(half, 6), round(100.0 - half, 6))
        target = node or result.framework.root
        ua = uncertainty_analysis(result, space, n=n, percentiles=pct, quantile_method=qrule,
                                  nodes=target != result.framework.root)
        stats = ua.rank_stats if target == result.framework.root else ua.node_stats[target]
        band_label = (f"{level:.0%} band: rank percentiles {pct[0]:g}–{pct[1]:g} over "
                      f"{n} replications ({'inverted CDF' if qrule == 'inverted_cdf' else 'R type 7'})")
        band_rec = {"level": level, "percentiles": list(pct), "quantile": qrule, "n": n,
                    "space": str(space) if space else "default"}
    pt = publication_table(result, node=node, previous=prev, previous_label=prev_label,
                           band=stats, band_label=band_label, wide_band=wide)
    with run_folder(out) as tmp:
        write_csv(pt, tmp / "publication.csv")
        write_xlsx(pt, tmp / "publication.xlsx")
        (tmp / "publication.html").write_text(html_fragment(pt), encoding="utf-8")
        write_json(tmp / "manifest.json", manifest(
            "publish", method=inp.method, framework=inp.framework, data=inp.data, seed=inp.seed,
            extra={"node": pt.node, "ranking": pt.conventions, "previous": prev_rec,
                   "intervals": band_rec, "counts": pt.counts}))
    typer.echo(pt.summary().as_text())
    typer.echo(f"→ {out}")
