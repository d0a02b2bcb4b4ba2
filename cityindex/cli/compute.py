"""``cityindex compute``: the deterministic index and every stage table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs


@app.command()
@cli_errors
def compute(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            method: Optional[Path] = MethodOpt,
            out: Path = typer.Option(Path("reports/compute"), "--out", "-o", help="Output folder."),
            seed: Optional[int] = SeedOpt):
    """Compute the index: scores.csv, one CSV per stage, treatment.csv, manifest.json."""
    from cityindex.model import compute_index

    from ..runio import manifest, run_folder, write_json

    fw, ind, spec = load_inputs(framework, data, method, out, seed)
    seed = spec.seed
    result = compute_index(fw, ind, spec)
    with run_folder(out) as tmp:
        result.results_table().to_csv(tmp / "scores.csv", index=False)
        for name, table in result.stage_tables().items():
            table.rename_axis("unit").to_csv(tmp / f"{name}.csv")
        result.treatment.rename_axis("code").to_csv(tmp / "treatment.csv")
        result.screening.rename_axis("unit").to_csv(tmp / "screening.csv")
        result.log.to_csv(tmp / "log.csv", index=False)
        write_json(tmp / "manifest.json", manifest("compute", method=spec, framework=fw,
                                                   data=ind, seed=spec.seed))
    top = result.results_table().head(10)
    typer.echo(f"{fw.root}: {len(result.scores)} units scored, "
               f"{int((~result.screening['kept']).sum())} screened out → {out}")
    for _, row in top.iterrows():
        typer.echo(f"  {int(row[f'{fw.root}_rank']):>3}  {row['unit']:<12} "
                   f"{row[f'{fw.root}_score']:.3f}")
