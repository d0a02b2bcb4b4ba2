"""``cityindex weights``: the weight audit (validation.weight_audit) of every level."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import app, DataOpt, FrameworkOpt, MethodOpt, SeedOpt, cli_errors, load_inputs


@app.command("weights")
@cli_errors
def weights(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            method: Optional[Path] = MethodOpt, seed: Optional[int] = SeedOpt,
            n_boot: int = typer.Option(200, "--boot", help="Bootstrap resamples of the "
                                                           "correlation ratios."),
            loo: bool = typer.Option(True, "--loo/--no-loo", help="Leave-one-out rebuilds."),
            out: Path = typer.Option(Path("reports/weights"), "--out", "-o")):
    """Weight audit: nominal vs PCA, FA, effective (correlation ratio) and optimised weights,
    coherence flags, Cronbach's α, KMO, BoD and leave-one-out, at every level."""
    from cityindex.model import compute_index

    from ..runio import manifest, run_folder, write_json
    from ..validation.weight_audit import audit_weights

    fw, ind, spec = load_inputs(framework, data, method, out, seed)
    seed = spec.seed
    result = compute_index(fw, ind, spec)
    score_fn = ((lambda f: compute_index(f, ind, spec.restricted_to(f)).aggregated)
                if loo else None)
    audit = audit_weights(result.framework, result.aggregated, score_fn,
                          data=result.raw.loc[result.aggregated.index], seed=seed,
                          n_boot=n_boot)
    with run_folder(out) as tmp:
        audit.to_frame().to_csv(tmp / "weight_audit.csv", index=False)
        audit.groups.to_csv(tmp / "groups.csv", index=False)
        coh = audit.coherence
        for name in ("correlations", "cronbach", "kmo", "pca", "availability"):
            table = getattr(coh, name, None)
            if table is not None and hasattr(table, "to_csv"):
                table.to_csv(tmp / f"{name}.csv", index=False)
        if audit.bod is not None:
            audit.bod.to_csv(tmp / "bod.csv")
        (tmp / "summary.txt").write_text(audit.summary())
        write_json(tmp / "manifest.json", manifest("weights", method=spec, framework=fw,
                                                   data=ind, seed=seed,
                                                   extra={"n_boot": n_boot}))
    typer.echo(audit.summary())
    typer.echo(f"→ {out}")
