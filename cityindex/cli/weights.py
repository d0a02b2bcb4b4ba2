"""``cityindex weights``: the weight audit (:mod:`cityindex.validation.weight_audit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, MethodOpt, SeedOpt, app, cli_errors, load_inputs,
                     out_option, step_progress)
from .common import SheetOpt, UnitColOpt, YearOpt


@app.command("weights")
@cli_errors
def weights(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
            year: Optional[int] = YearOpt,
            method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
            n_boot: int = typer.Option(1000, "--boot", min=0, max=100_000,
                                       help="Bootstrap resamples of the correlation ratios."),
            loo: bool = typer.Option(True, "--loo/--no-loo", help="Leave-one-out rebuilds."),
            out: Path = out_option("reports/weights")):
    """Weight audit: nominal vs PCA, FA, effective (correlation ratio) and optimised weights,
    coherence flags, Cronbach's α, KMO, BoD and leave-one-out, at every level."""
    from cityindex.model import compute_index
    from cityindex.validation.weight_audit import weight_audit

    from ..runio import manifest, run_folder, write_json

    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    with step_progress("weights") as progress:
        audit = weight_audit(compute_index(*inp), loo=loo, n_boot=n_boot, progress=progress)
    with run_folder(out) as tmp:
        audit.to_frame().to_csv(tmp / "weight_audit.csv", index=False)
        audit.groups.to_csv(tmp / "groups.csv", index=False)
        for name in ("correlations", "cronbach", "kmo", "pca", "availability"):
            getattr(audit.coherence, name).to_csv(tmp / f"{name}.csv", index=False)
        if audit.bod is not None:
            audit.bod.to_csv(tmp / "bod.csv")
        (tmp / "summary.txt").write_text(audit.summary().as_text())
        write_json(tmp / "manifest.json", manifest("weights", method=inp.method,
                                                   framework=inp.framework, data=inp.data,
                                                   seed=inp.seed, extra={"n_boot": n_boot}))
    typer.echo(audit.summary().as_text() + f"→ {out}")
