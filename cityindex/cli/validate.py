"""``cityindex validate``: check the inputs without writing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs


@app.command()
@cli_errors
def validate(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
             method: Optional[Path] = MethodOpt,
             space: Optional[Path] = typer.Option(None, "--space", "-s",
                                                  help="Also validate an uncertainty space."),
             seed: Optional[int] = SeedOpt):
    """Check framework, data, method (and space: every alternative is run through the
    pipeline once) without writing anything; print a summary."""
    from cityindex.model import compute_index

    fw, ind, spec = load_inputs(framework, data, method, seed=seed)
    seed = spec.seed
    result = compute_index(fw, ind, spec)
    if space is not None:
        from ..validation.space import UncertaintySpace

        from ..validation.engine import prepare

        sp = UncertaintySpace.load(space, fw, spec)
        prepare(fw, ind, spec, sp, seed=seed)  # every alternative must run through the pipeline
        typer.echo(f"space: {len(sp.assumptions)} assumptions "
                   f"({', '.join(f'{a.name}×{a.n_levels}' for a in sp.assumptions)})")
    miss = ind.values[fw.indicators].isna()
    typer.echo(f"framework {fw.root}: {len(fw.indicators)} indicators, "
               f"{len(fw.aggregates)} aggregates, levels 1..{fw.max_level}"
               + (f"; no open indicator: {', '.join(fw.empty_aggregates)}"
                  if fw.empty_aggregates else ""))
    typer.echo(f"data {ind.source}: {len(ind.units)} units, {int(miss.to_numpy().sum())} missing "
               f"cells ({100 * miss.to_numpy().mean():.1f}%), sha256 {ind.sha256[:12]}…")
    log = result.log
    typer.echo(f"method: {len(log[log.stage == 'imputation'])} cells imputed, "
               f"{int((result.treatment['action'] != 'none').sum())} indicators treated, "
               f"{int((~result.screening['kept']).sum())} units screened out; valid")
