"""``cityindex compare``: method A vs B (or data / framework A vs B) before publication.

Registered on the main typer app by ``register(app)``. Writes into ``--out``: compare.csv (tidy
shifts per node and unit), correlations.csv, top.csv (top-k entries/exits), attribution.csv
(exact Shapley + one-at-a-time shares per differing method stage; only when the two runs share
framework and data and the methods differ), summary.json, figures (slope.png, scatter.png,
shapley.png), published.csv when ``--published`` is given, and manifest.json.

The comparison outputs are always written. The attribution runs hybrid methods (A with some of
B's stages); stages whose hybrids are invalid (e.g. B's geometric mean on A's min-max [0, 100]
zeros) are merged into one player automatically. The note on that (grouping used, or why no
attribution was possible) is printed as one ``attribution:`` line and stored in summary.json
(``attribution_note``, ``attribution``); an error of a hybrid never stops the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityindex.model import bundled as _bundled


from .common import app, DataOpt, FrameworkOpt, MethodOpt, SeedOpt, cli_errors

@app.command("compare")
@cli_errors
def compare(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            method: Optional[Path] = MethodOpt,
            method_b: Optional[Path] = typer.Option(
                None, "--method-b", help="Method spec B (default: the same as A)."),
            data_b: Optional[Path] = typer.Option(
                None, "--data-b", help="Data B, e.g. the next vintage (default: as A)."),
            framework_b: Optional[str] = typer.Option(
                None, "--framework-b", help="Framework B (default: as A)."),
            space: Optional[Path] = typer.Option(
                None, "--space", "-s", help="Uncertainty space YAML: A's method band "
                "[q5, q95] over that space classifies each move (default for a bundled "
                "index: data/spaces/default.yaml)."),
            no_band: bool = typer.Option(False, "--no-band", help="Skip the band."),
            n: int = typer.Option(1000, "--n", min=2, help="Replications for the band."),
            top_k: int = typer.Option(10, "--top-k", help="Top group for entries/exits."),
            published: Optional[Path] = typer.Option(
                None, "--published", help="Also compare B with a published ranking CSV."),
            out: Path = typer.Option(Path("reports/compare"), "--out", "-o",
                                     help="Output folder."),
            seed: Optional[int] = SeedOpt):
    """Compare A and B: rank/score shifts, Spearman/Kendall, top-k moves, bands, Shapley."""
    import matplotlib

    matplotlib.use("Agg")
    from cityindex.model import compute_index
    from cityindex.model.data import read_data
    from cityindex.model.framework import Framework
    from cityindex.model.errors import CityIndexError
    from cityindex.model.method import MethodSpec

    from ..validation import compare as cmp
    from .common import load_inputs, resolve_framework
    from ..runio import manifest, run_folder, write_json


    fw_a, d_a, m_a = load_inputs(framework, data, method, out, seed)
    seed = m_a.seed
    if space is None and not no_band and _bundled.is_bundled(fw_a.origin):
        space = _bundled.space_path()
    if space is None and not no_band:
        typer.echo("note: no --space given, so moves are not classified against a method "
                   "band", err=True)
    if framework_b is not None:
        fw_b = Framework.load(resolve_framework(framework_b))
    else:
        fw_b = fw_a
    m_b = MethodSpec.load(method_b) if method_b is not None else m_a
    if data_b is not None:
        d_b = read_data(data_b, fw_b)
    elif fw_b is not fw_a:
        d_b = read_data(d_a.source, fw_b)
    else:
        d_b = d_a
    m_b.seed = seed
    res_a = compute_index(fw_a, d_a, m_a)
    res_b = compute_index(fw_b, d_b, m_b)
    band = None
    ua_summary = None
    if space is not None and not no_band:
        from ..validation.space import UncertaintySpace
        from ..validation.uncertainty import uncertainty_analysis

        sp = UncertaintySpace.load(space, fw_a, m_a)
        ua = uncertainty_analysis(fw_a, d_a, m_a, sp, n=n, seed=seed)
        band = ua.rank_stats
        ua_summary = {k: v for k, v in ua.summary.items() if k != "widest_bands"}
    la = Path(method).stem if method else "A"
    lb = Path(method_b).stem if method_b else (Path(data_b).stem if data_b else "B")
    if la == lb:
        la, lb = f"A:{la}", f"B:{lb}"
    comp = cmp.compare_results(res_a, res_b, band=band, top_k=top_k, labels=(la, lb))
    att = None
    differing = cmp.diff_specs(m_a, m_b)
    if not differing:
        att_note = "no stage attribution: the methods are the same"
    elif not (fw_b is fw_a and d_b is d_a):
        att_note = "no stage attribution: framework or data differ between A and B"
    else:
        # the attribution runs hybrid methods (A with some of B's stages); whatever goes
        # wrong there, the comparison itself is still written, and a hybrid's error is
        # reported as such, never as an error of the data file
        try:
            att = cmp.attribute_stages(fw_a, d_a, m_a, m_b, nodes="all", result_a=res_a,
                                       result_b=res_b)
            att_note = att.note or "every hybrid method was valid; stages attributed " \
                                   "separately"
        except Exception as exc:  # noqa: BLE001 - the comparison must survive
            reason = " ".join(str(exc).split())
            if not isinstance(exc, CityIndexError):
                reason = f"{type(exc).__name__}: {reason}"
            att_note = (reason if reason.startswith("stage attribution not possible")
                        else f"stage attribution not possible: {reason}")
    att_note = " ".join(att_note.split())
    pub = cmp.compare_published(res_b, published) if published is not None else None
    meta = getattr(d_a, "meta", None)
    names = (meta["name_en"].dropna().astype(str).to_dict()
             if meta is not None and "name_en" in meta.columns else None)
    summary = comp.to_dict()
    summary["differing_stages"] = differing
    summary["attribution_note"] = att_note
    if ua_summary:
        summary["band"] = {"space": str(space), **ua_summary}
    if att is not None:
        summary["attribution"] = {
            "possible": True, "stages": att.stages,
            "groups": {k: list(v) for k, v in att.groups.items()},
            "grouped": att.grouped, "trivial": att.trivial, "note": att_note,
            "invalid_hybrids": att.invalid, "n_runs": att.n_runs, "n_tried": att.n_tried,
            "stage_summary": att.stage_summary().reset_index().to_dict("records"),
            "max_abs_sum_error": att.max_abs_sum_error(),
            "max_abs_score_sum_error": att.max_abs_sum_error("score")}
    elif differing:
        summary["attribution"] = {"possible": False, "note": att_note}
    if pub is not None:
        summary["published"] = {"file": str(published), **pub.to_dict()}
    with run_folder(out) as tmp:
        comp.shifts.to_csv(tmp / "compare.csv", index=False)
        comp.correlations.to_csv(tmp / "correlations.csv", index=False)
        comp.top.to_csv(tmp / "top.csv", index=False)
        if att is not None:
            att.table.to_csv(tmp / "attribution.csv", index=False)
            att.interactions.to_csv(tmp / "interactions.csv", index=False)
            att_fig = cmp.shapley_chart(att, names=names)
            att_fig.savefig(tmp / "shapley.png", dpi=110)
        else:
            (tmp / "attribution.csv").write_text(
                "# " + (att_note if att_note.startswith(("no stage", "stage attribution"))
                        else f"no stage attribution: {att_note}") + "\n")
        if pub is not None:
            pub.table.to_csv(tmp / "published.csv", index=False)
        cmp.slope_chart(comp, names=names).savefig(tmp / "slope.png", dpi=110)
        cmp.rank_scatter(comp).savefig(tmp / "scatter.png", dpi=110)
        write_json(tmp / "summary.json", summary)
        write_json(tmp / "manifest.json", manifest(
            "compare", method=m_a, framework=fw_a, data=d_a, seed=seed,
            extra={"method_b": m_b.to_dict(),
                   "framework_b": {"file": getattr(fw_b, "origin", ""), "index": fw_b.root},
                   "data_b": {"file": d_b.source, "sha256": d_b.sha256},
                   "space": str(space) if space else None, "n": n if space else None,
                   "published": str(published) if published else None}))
    typer.echo(comp.summary())
    typer.echo(f"attribution: {att_note}")
    if att is not None:
        typer.echo(att.summary(note=False))
    if pub is not None:
        typer.echo(pub.summary())
    typer.echo(f"→ {out}")
