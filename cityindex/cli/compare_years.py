"""``cityindex compare --year-a A --year-b B``: which year-on-year moves are real.

Writes into ``--out``: years.csv (one row per unit: rank in A and B, change, band of the paired
rank change, p_up / p_down, classification up / down / within band, our arrow, and the
published arrow with a published table of year B), summary.json (counts, median band width,
agreement with the published arrows), moves.png (the top 40 of year B: change and band, arrows)
and manifest.json. For the bundled GDCI and BRPCI and year B 2021 the seed's 2021 table
(data/published) is used unless ``--published`` names another.
"""

from __future__ import annotations


import typer

from cityindex.model import bundled as _bundled

from .common import interval_conventions, load_inputs


def compare_years_cmd(framework, data, sheet, unit_col, method, space, n, published, out,
                      seed, level, quantile, year_a, year_b):
    from cityindex.model.errors import DataError
    from cityindex.model.temporal import compute_panel, read_panel
    from cityindex.report.compare_figures import year_moves_chart
    from cityindex.validation.compare.years import compare_years

    from ..runio import manifest, run_folder, write_json

    if year_a is None or year_b is None:
        raise DataError("--year-a and --year-b go together")
    if year_a == year_b:
        raise DataError(f"--year-a and --year-b are both {year_a}")
    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year_b)
    fw, spec = inp.framework, inp.method
    panel = (read_panel(_bundled.panel_long_path(), meta=_bundled.panel_meta())
             if data is None else read_panel(data, unit_col=unit_col, sheet=sheet))
    for y in (year_a, year_b):
        if y not in panel.years:
            raise DataError(f"{panel.source}: no year {y} in the data (years: "
                            f"{', '.join(map(str, panel.years))})")
    res = compute_panel(fw, panel, spec)  # all years: the panel reference spans them all
    if space is None and _bundled.is_bundled(fw.origin):
        space = _bundled.space_path()
    if published is None and _bundled.is_bundled(fw.origin):
        cand = _bundled.data_dir() / "published" / f"{fw.root.lower()}_{year_b}_top100.csv"
        published = cand if cand.exists() else None
    iv = interval_conventions(level, quantile)
    yc = compare_years(res[year_a], res[year_b], space, n=n, seed=inp.seed,
                       percentiles=tuple(iv["percentiles"]), quantile_method=iv["quantile"],
                       published=published, years=(year_a, year_b))
    meta = inp.data.meta
    names = meta["name_en"].dropna().astype(str).to_dict() if "name_en" in meta else None
    table = yc.table.copy()
    if names:
        table.insert(0, "name", table.index.map(lambda u: names.get(u, "")))
    with run_folder(out) as tmp:
        table.reset_index().to_csv(tmp / "years.csv", index=False, float_format="%.10g")
        write_json(tmp / "summary.json", yc.to_dict())
        year_moves_chart(yc, names=names).savefig(tmp / "moves.png", dpi=110)
        write_json(tmp / "manifest.json", manifest(
            "compare", method=spec, framework=fw, data=inp.data, seed=inp.seed,
            extra={"years": [year_a, year_b], "panel": {"file": panel.source,
                                                       "sha256": panel.sha256},
                   "space": str(space) if space else "bundled spaces/default.yaml", "n": n,
                   "published": str(published) if published else None, "intervals": iv}))
    typer.echo(yc.summary().as_text())
    typer.echo(f"→ {out}")
