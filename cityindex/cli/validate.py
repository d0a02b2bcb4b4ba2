"""``cityindex validate``: run every input check of compute, uncertainty and audit without
writing anything, and print what they will do (:mod:`cityindex.checking`)."""

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
                                                  help="Uncertainty space (default: the one "
                                                  "audit and uncertainty would use)."),
             seed: Optional[int] = SeedOpt):
    """Run every input check of compute, uncertainty and audit (the index, the uncertainty
    space with every alternative run through the pipeline once, the data checks) without
    writing anything; print the method in force and where it came from, the weights as used,
    the cells imputed, the indicators treated, the units screened out or not ranked, and the
    data checks' warnings."""
    from cityindex.checking import check_inputs

    inp = load_inputs(framework, data, method, seed=seed, sheet=sheet, unit_col=unit_col,
                      year=year)
    check = check_inputs(inp, space, seed=seed)
    for line in check.lines():
        typer.echo(line)
    typer.echo("valid: compute, uncertainty and audit accept these inputs"
               + (f" ({len(check.data_checks)} data warning(s) above)"
                  if len(check.data_checks) else ""))
