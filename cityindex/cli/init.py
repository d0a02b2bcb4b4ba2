"""``cityindex init``: starter framework, method and space files from a data file
(:mod:`cityindex.starter`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import SheetOpt, UnitColOpt, app, cli_errors


@app.command("init")
@cli_errors
def init(data: Path = typer.Argument(..., help="Indicator data (CSV/TSV/Parquet/XLSX): one "
                                     "row per unit, a unit-code column, numeric indicator "
                                     "columns."),
         out: Path = typer.Option(Path("."), "--out", "-o", help="Folder for framework.yaml, "
                                  "method.yaml and space.yaml (existing files are never "
                                  "overwritten)."),
         index: str = typer.Option("INDEX", "--index", help="Code of the index (the root)."),
         flat: bool = typer.Option(False, "--flat", help="A flat tree (index → indicators) "
                                   "even when the columns have prefixes."),
         sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt):
    """Write a starter framework (one pillar per column prefix, or a flat tree; directions to
    fill in, marked TO FILL IN), a method and an uncertainty space, with comments, ready to
    edit; then run `cityindex validate` on them."""
    from cityindex.starter import starter_files

    paths = starter_files(data, out, unit_col=unit_col, sheet=sheet, index=index, flat=flat)
    for name, p in paths.items():
        typer.echo(f"wrote {p}")
    f, m, s = (paths[k] for k in ("framework.yaml", "method.yaml", "space.yaml"))
    typer.echo(f"next: set the directions marked TO FILL IN in {f}, then\n"
               f"  cityindex validate -f {f} -d {data} -m {m} -s {s}\n"
               f"  cityindex audit -f {f} -d {data} -m {m}")
