"""``cityindex compare``: method A vs B (or data / framework A vs B) before publication.

A thin command over :func:`cityindex.validation.compare.compare`. Writes into ``--out``:
compare.csv (tidy shifts per node and unit), correlations.csv, top.csv (top-k entries/exits),
attribution.csv and interactions.csv (exact Shapley + one-at-a-time shares per differing method
stage; only when the two runs share framework and data and the methods differ — otherwise
attribution.csv is one comment line saying why), summary.json (``Comparison.to_dict()``),
figures (slope.png, scatter.png, shapley.png), published.csv when ``--published`` is given, and
manifest.json. Moves are classified against method A's methodological 5–95 % rank band over
the uncertainty space ``--space``. An error of a hybrid method never stops the command: the
reason is the ``attribution:`` line of the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityindex.model import bundled as _bundled

from .common import (DataOpt, FrameworkOpt, LevelOpt, MethodOpt, QuantileOpt, SeedOpt, app,
                     cli_errors, interval_conventions, load_inputs)
from .common import SheetOpt, UnitColOpt, YearOpt


def _band(inputs, result, space: Path, n: int, iv: dict | None = None) -> tuple:
    """Method A's methodological band: (rank_stats, figures for summary.json) of an uncertainty
    analysis of A over ``space`` (percentiles and quantile rule from ``iv``)."""
    from cityindex.validation.uncertainty import uncertainty_analysis

    iv = iv or {"percentiles": [5, 95], "quantile": "inverted_cdf"}
    ua = uncertainty_analysis(result, space, n=n, percentiles=tuple(iv["percentiles"]),
                              quantile_method=iv["quantile"])
    return ua.rank_stats, {"space": str(space), **{k: v for k, v in ua.figures.items()
                                                   if k != "widest_bands"}}


@app.command("compare")
@cli_errors
def compare(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
            year: Optional[int] = YearOpt,
            method: Optional[Path] = MethodOpt,
            method_b: Optional[Path] = typer.Option(
                None, "--method-b", help="Method spec B (default: the same as A)."),
            data_b: Optional[Path] = typer.Option(
                None, "--data-b", help="Data B, e.g. the next vintage (default: as A)."),
            framework_b: Optional[str] = typer.Option(
                None, "--framework-b", help="Framework B (default: as A)."),
            space: Optional[Path] = typer.Option(
                None, "--space", "-s", help="Uncertainty space YAML: A's methodological rank "
                "band [q5, q95] over that space classifies each move (default for a bundled "
                "index: data/spaces/default.yaml)."),
            no_band: bool = typer.Option(False, "--no-band", help="Skip the band."),
            n: int = typer.Option(1000, "--n", min=2, help="Replications for the band."),
            top_k: int = typer.Option(10, "--top-k", min=1, help="Top group for entries/exits."),
            published: Optional[Path] = typer.Option(
                None, "--published", help="Also compare B with a published ranking CSV."),
            out: Path = typer.Option(Path("reports/compare"), "--out", "-o",
                                     help="Output folder."),
            seed: Optional[int] = SeedOpt, level: float = LevelOpt,
            quantile: str = QuantileOpt,
            year_a: Optional[int] = typer.Option(
                None, "--year-a", help="Year A of panel data (default data: the bundled "
                "2018–2021 panel): compare the index of year A with year B under paired "
                "replications of --space (the same method draw applied to both years)."),
            year_b: Optional[int] = typer.Option(None, "--year-b", help="Year B (with "
                                                 "--year-a).")):
    """Compare A and B: rank/score shifts, Spearman/Kendall, top-k moves, bands, Shapley.
    With --year-a/--year-b: year-on-year moves with bands from paired replications."""
    if year_a is not None or year_b is not None:
        from .compare_years import compare_years_cmd

        return compare_years_cmd(framework, data, sheet, unit_col, method, space, n, published,
                                 out, seed, level, quantile, year_a, year_b)
    from cityindex.model import compute_index
    from cityindex.report.compare_figures import rank_scatter, shapley_chart, slope_chart
    from cityindex.validation import compare as cmp

    from ..runio import manifest, run_folder, write_json

    a = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    b = a if not (framework_b or data_b or method_b) else load_inputs(
        framework_b or framework, data_b or data, method_b or method, None, a.seed, sheet,
        unit_col)
    res_a, res_b = compute_index(*a), compute_index(*b)
    if space is None and not no_band and _bundled.is_bundled(a.framework.origin):
        space = _bundled.space_path()
    if space is None and not no_band:
        typer.echo("note: no --space given, so moves are not classified against a method "
                   "band", err=True)
    iv = interval_conventions(level, quantile)
    band, band_info = _band(a, res_a, space, n, iv) if space and not no_band else (None, {})
    la = Path(method).stem if method else "A"
    lb = Path(method_b).stem if method_b else (Path(data_b).stem if data_b else "B")
    labels = (f"A:{la}", f"B:{lb}") if la == lb else (la, lb)
    comp = cmp.compare(res_a, res_b, band=band, top_k=top_k, labels=labels,
                       published=published)
    comp.band_info.update(band_info)
    meta = a.data.meta
    names = meta["name_en"].dropna().astype(str).to_dict() if "name_en" in meta else None
    att, note = comp.attribution, comp.attribution_note
    with run_folder(out) as tmp:
        comp.shifts.to_csv(tmp / "compare.csv", index=False)
        comp.correlations.to_csv(tmp / "correlations.csv", index=False)
        comp.top.to_csv(tmp / "top.csv", index=False)
        if att is not None:
            att.table.to_csv(tmp / "attribution.csv", index=False)
            att.interactions.to_csv(tmp / "interactions.csv", index=False)
            shapley_chart(att, names=names).savefig(tmp / "shapley.png", dpi=110)
        else:
            (tmp / "attribution.csv").write_text("# " + (
                note if note.startswith(("no stage", "stage attribution"))
                else f"no stage attribution: {note}") + "\n")
        if comp.published is not None:
            comp.published.table.to_csv(tmp / "published.csv", index=False)
        slope_chart(comp, names=names).savefig(tmp / "slope.png", dpi=110)
        rank_scatter(comp).savefig(tmp / "scatter.png", dpi=110)
        write_json(tmp / "summary.json", comp.to_dict())
        write_json(tmp / "manifest.json", manifest(
            "compare", method=a.method, framework=a.framework, data=a.data, seed=a.seed,
            extra={"method_b": b.method.to_dict(),
                   "framework_b": {"file": b.framework.origin, "index": b.framework.root},
                   "data_b": {"file": b.data.source, "sha256": b.data.sha256},
                   "space": str(space) if band is not None else None,
                   "n": n if band is not None else None,
                   "published": str(published) if published else None,
                   "intervals": iv if band is not None else None,
                   "ranking": res_a.ranking(res_a.framework.root).to_dict()}))
    typer.echo(comp.summary().as_text())
    typer.echo(f"→ {out}")
