"""``cityindex uncertainty`` and ``cityindex sensitivity`` (the Monte Carlo uncertainty analysis
and the Sobol sensitivity analysis of the ranks, :mod:`cityindex.validation`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (DataOpt, FrameworkOpt, JobsOpt, LevelOpt, MethodOpt, QuantileOpt, SeedOpt,
                     SpaceOpt, app, cli_errors, interval_conventions, load_inputs, out_option,
                     progress_bar, runner)
from .common import SheetOpt, UnitColOpt, YearOpt


def _space_record(space, folder: Path) -> dict:
    """Writes the space used into the run folder (space.yaml) and returns its record."""
    from ..runio import file_sha256, write_space

    rec = write_space(folder, {"": space})[""]
    return {**rec, "file": str(Path(space.origin).resolve()) if space.origin else "",
            "sha256": file_sha256(space.origin) or rec["sha256"]}


@app.command("uncertainty")
@cli_errors
def uncertainty(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
                sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
                year: Optional[int] = YearOpt,
                method: Optional[Path] = MethodOpt, space: Optional[Path] = SpaceOpt,
                n: int = typer.Option(1000, "--n", min=2, help="Replications."),
                seed: Optional[int] = SeedOpt, jobs: int = JobsOpt,
                sampling: str = typer.Option("random", help="random | sobol"),
                replications: bool = typer.Option(False, "--replications",
                                                  help="Also write replications.parquet."),
                nodes: bool = typer.Option(False, "--nodes", help="Rank stats of every "
                                                                  "aggregate too."),
                level: float = LevelOpt, quantile: str = QuantileOpt,
                out: Path = out_option("reports/uncertainty")):
    """Monte Carlo uncertainty analysis: a methodological rank band for every unit."""
    from cityindex.model import compute_index
    from cityindex.model.errors import MethodError
    from cityindex.validation.space import load_space
    from cityindex.validation.uncertainty import check_uncertainty_size, uncertainty_analysis

    from ..runio import manifest, run_folder, write_json
    from ..safety import Namer, inside

    if sampling not in ("random", "sobol"):
        raise MethodError(f"--sampling '{sampling}'; valid: random, sobol")
    iv = interval_conventions(level, quantile)
    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    result = compute_index(*inp)
    sp = load_space(space, result)
    check_uncertainty_size(result, sp, n, nodes=nodes, runner=runner(jobs))  # before any work
    with run_folder(out) as tmp:
        bar, tick = progress_bar(n, "uncertainty")
        with bar:  # replications stream into Parquet block by block (memory bounded)
            res = uncertainty_analysis(result, sp, n=n, sampling=sampling, nodes=nodes,
                                       runner=runner(jobs), progress=tick,
                                       percentiles=tuple(iv["percentiles"]),
                                       quantile_method=iv["quantile"],
                                       replications=tmp / "replications.parquet"
                                       if replications else None)
        res.rank_stats.to_csv(tmp / "rank_stats.csv")
        names = Namer()  # node codes become safe, distinct file names
        for code, table in res.node_stats.items():
            table.to_csv(inside(tmp, tmp / f"rank_stats_{names(code)}.csv"))
        if len(res.not_ranked):  # screened-out units: no rank, listed with the reason
            res.not_ranked.to_csv(tmp / "not_ranked.csv", index=False)
        write_json(tmp / "summary.json", {**res.figures,
                                          "not_ranked": res.not_ranked.to_dict("records")})
        write_json(tmp / "manifest.json", manifest(
            "uncertainty", method=inp.method, framework=inp.framework, data=inp.data,
            seed=inp.seed, extra={"space": _space_record(sp, tmp), "n": n, "sampling": sampling,
                                  "jobs": jobs, "intervals": iv,
                                  "ranking": result.ranking(result.framework.root).to_dict(),
                                  "units": result.availability.counts()}))
    typer.echo(res.summary().as_text() + f"→ {out}")


@app.command("sensitivity")
@cli_errors
def sensitivity(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
                sheet: Optional[str] = SheetOpt, unit_col: Optional[str] = UnitColOpt,
                year: Optional[int] = YearOpt,
                method: Optional[Path] = MethodOpt, space: Optional[Path] = SpaceOpt,
                n: int = typer.Option(1024, "--n", min=2, help="Base sample size (power of 2); "
                                                        "runs = n (d + 2)."),
                seed: Optional[int] = SeedOpt, jobs: int = JobsOpt,
                n_boot: int = typer.Option(500, "--boot", min=0, max=100_000, help="Bootstrap resamples (0: no "
                                                                     "intervals); used only with --replicates 1."),
                replicates: Optional[int] = typer.Option(
                    None, "--replicates", min=1, help="Independent randomisations of the Sobol "
                    "design (t intervals from their spread; Owen 1997); default min(16, n/4); 1 "
                    "= one design with a bootstrap of its rows (too wide for a Sobol' net)."),
                per_unit: bool = typer.Option(True, "--per-unit/--overall-only"),
                level: float = typer.Option(0.95, "--level", min=0.5, max=0.999,
                                            help="Level of the intervals of the Sobol "
                                                 "indices."),
                out: Path = out_option("reports/sensitivity")):
    """Sobol sensitivity analysis: Si and STi of each assumption, with intervals from
    independent randomisations of the design and a dummy factor as the noise floor."""
    import warnings

    from cityindex.model import compute_index
    from cityindex.validation.sensitivity import check_sensitivity_size, sensitivity_analysis
    from cityindex.validation.space import load_space

    from ..runio import manifest, run_folder, write_json

    inp = load_inputs(framework, data, method, out, seed, sheet, unit_col, year)
    result = compute_index(*inp)
    sp = load_space(space, result)
    check_sensitivity_size(result, sp, n, n_boot, per_unit)  # before any work
    bar, tick = progress_bar(n * (len(sp.assumptions) + 2), "sensitivity")
    with bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sensitivity_analysis(result, sp, n=n, n_boot=n_boot, per_unit=per_unit,
                                   runner=runner(jobs), progress=tick, conf_level=level,
                                   replicates=replicates)
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        typer.echo(f"warning: {note}", err=True)
    with run_folder(out) as tmp:
        res.table.to_csv(tmp / "sensitivity.csv", index=False)
        res.overall.to_csv(tmp / "sensitivity_overall.csv", index=False)
        if res.convergence is not None:
            res.convergence.to_csv(tmp / "sensitivity_convergence.csv", index=False)
        write_json(tmp / "summary.json", {**res.to_dict(), "warnings": notes,
                                          "units": result.availability.counts()})
        write_json(tmp / "manifest.json", manifest(
            "sensitivity", method=inp.method, framework=inp.framework, data=inp.data,
            seed=inp.seed, extra={"space": _space_record(sp, tmp), "n": n, "n_boot": n_boot,
                                  "jobs": jobs, "intervals": {"level": level,
                                                              "kind": res.interval,
                                                              "groups": res.groups},
                                  "units": result.availability.counts()}))
    typer.echo(res.summary().as_text() + f"→ {out}")
