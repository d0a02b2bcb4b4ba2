"""``cityindex compute``: the deterministic index and every stage table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs,
                     out_option)
from .common import SheetOpt, UnitColOpt, YearOpt


@app.command()
@cli_errors
def compute(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
            year: Optional[int] = YearOpt,
            method: Optional[Path] = MethodOpt, out: Path = out_option("reports/compute"),
            seed: Optional[int] = SeedOpt):
    """Compute the index: scores.csv (with each unit's ranking status), one CSV per stage,
    treatment.csv, availability.csv (observed share per unit and node), not_ranked.csv (units
    without a rank, with the reason), manifest.json; with --year also status.csv (each cell of
    the year: observed, carried, interpolated, …; model.temporal.STATUSES)."""
    from cityindex.model import compute_index

    from ..runio import manifest, run_folder, write_json

    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    result = compute_index(*inp)
    with run_folder(out) as tmp:
        result.results_table().to_csv(tmp / "scores.csv", index=False)
        for name, table in result.stage_tables().items():
            table.rename_axis("unit").to_csv(tmp / f"{name}.csv")
        result.treatment.rename_axis("code").to_csv(tmp / "treatment.csv")
        result.screening.rename_axis("unit").to_csv(tmp / "screening.csv")
        result.log.to_csv(tmp / "log.csv", index=False)
        result.availability.per_unit().to_csv(tmp / "availability.csv")
        result.availability.not_ranked("all").to_csv(tmp / "not_ranked.csv", index=False)
        if inp.data.status is not None:
            inp.data.status.rename_axis("unit").to_csv(tmp / "status.csv")
        write_json(tmp / "manifest.json", manifest("compute", method=inp.method,
                                                   framework=inp.framework, data=inp.data,
                                                   seed=inp.seed,
                                                   extra={"units": result.availability
                                                          .counts(),
                                                          "year": inp.data.year}))
    typer.echo(result.summary().as_text() + f"→ {out}")
