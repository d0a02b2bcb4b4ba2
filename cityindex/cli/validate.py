"""``cityindex validate``: check the inputs without writing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs
from .common import SheetOpt, UnitColOpt, YearOpt


@app.command()
@cli_errors
def validate(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
             sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
             year: Optional[int] = YearOpt,
             method: Optional[Path] = MethodOpt,
             space: Optional[Path] = typer.Option(None, "--space", "-s",
                                                  help="Also validate an uncertainty space."),
             seed: Optional[int] = SeedOpt):
    """Check framework, data, method (and space: every alternative is run through the
    pipeline once) without writing anything; print a summary."""
    from cityindex.model import compute_index
    from cityindex.validation.engine import prepare

    inp = load_inputs(framework, data, method, seed=seed, sheet=sheet, unit_col=unit_col,
                      year=year)
    fw, ind = inp.framework, inp.data
    result = compute_index(*inp)
    if space is not None:
        p = prepare(result, space)  # every alternative must run through the pipeline
        typer.echo(f"space: {len(p.space.assumptions)} assumptions "
                   f"({', '.join(f'{a.name}×{a.n_levels}' for a in p.space.assumptions)})")
    miss = ind.values[fw.indicators].isna()
    typer.echo(f"framework {fw.root}: {len(fw.indicators)} indicators, "
               f"{len(fw.aggregates)} aggregates, levels 1..{fw.max_level}"
               + (f"; no open indicator: {', '.join(fw.empty_aggregates)}"
                  if fw.empty_aggregates else ""))
    typer.echo(f"data {ind.source}: {len(ind.units)} units, {int(miss.to_numpy().sum())} missing "
               f"cells ({100 * miss.to_numpy().mean():.1f}%), sha256 {ind.sha256[:12]}…")
    typer.echo(f"method: {result.n_imputed} cells imputed, "
               f"{int((result.treatment['action'] != 'none').sum())} indicators treated, "
               f"{int((~result.screening['kept']).sum())} units screened out; valid")
