"""``cityindex uncertainty`` and ``cityindex sensitivity`` (see validation.uncertainty)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityindex.model import bundled as _bundled

from .common import app, DataOpt, FrameworkOpt, MethodOpt, SeedOpt, cli_errors, load_inputs

SpaceOpt = typer.Option(None, "--space", "-s", help="Uncertainty space YAML; default: "
                                                    "data/spaces/default.yaml.")
JobsOpt = typer.Option(1, "--jobs", "-j", min=1, help="Parallel processes (joblib); results are "
                                               "identical to a serial run.")


def _runner(jobs: int):
    from ..validation.engine import JoblibRunner, SerialRunner

    return SerialRunner() if jobs == 1 else JoblibRunner(jobs)


def _progress(total: int, label: str):
    """A rich progress bar; yields the callback the engine calls with rows done."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda n: bar.advance(task, n)


def _space_record(space) -> dict:
    from ..runio import file_sha256

    path = Path(space or _bundled.space_path()).resolve()
    return {"file": str(path), "sha256": file_sha256(path)}


def _inputs(framework, data, method, space, out, seed):
    from ..validation.space import UncertaintySpace

    fw, ind, spec = load_inputs(framework, data, method, out, seed)
    space = space or _bundled.space_path()
    return fw, ind, spec, UncertaintySpace.load(space, fw, spec)


@app.command("uncertainty")
@cli_errors
def uncertainty(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
                method: Optional[Path] = MethodOpt, space: Optional[Path] = SpaceOpt,
                n: int = typer.Option(1000, "--n", min=2, help="Replications."),
                seed: Optional[int] = SeedOpt, jobs: int = JobsOpt,
                sampling: str = typer.Option("random", help="random | sobol"),
                replications: bool = typer.Option(False, "--replications",
                                                  help="Also write replications.parquet."),
                nodes: bool = typer.Option(False, "--nodes", help="Rank stats of every "
                                                                  "aggregate too."),
                out: Path = typer.Option(Path("reports/uncertainty"), "--out", "-o")):
    """Monte Carlo uncertainty analysis: a rank band for every unit (rank_stats.csv)."""
    from ..runio import manifest, run_folder, write_json
    from ..validation.uncertainty import uncertainty_analysis

    if sampling not in ("random", "sobol"):
        from cityindex.model.errors import MethodError

        raise MethodError(f"--sampling '{sampling}'; valid: random, sobol")
    fw, ind, spec, sp = _inputs(framework, data, method, space, out, seed)
    seed = spec.seed
    bar, tick = _progress(n, "uncertainty")
    with bar:
        res = uncertainty_analysis(fw, ind, spec, sp, n=n, seed=seed, sampling=sampling,
                                   node_ranks=nodes, runner=_runner(jobs), progress=tick)
    with run_folder(out) as tmp:
        res.rank_stats.to_csv(tmp / "rank_stats.csv")
        for code, table in res.node_stats.items():
            table.to_csv(tmp / f"rank_stats_{code}.csv")
        if replications:
            res.replications_frame().to_parquet(tmp / "replications.parquet")
        write_json(tmp / "summary.json", res.summary)
        write_json(tmp / "manifest.json", manifest(
            "uncertainty", method=spec, framework=fw, data=ind, seed=seed,
            extra={"space": _space_record(space), "n": n, "sampling": sampling,
                   "jobs": jobs}))
    s = res.summary
    typer.echo(f"{fw.root}: {n} replications, mean |rank shift| "
               f"{s['mean_abs_rank_shift']:.2f}, median 5–95% band {s['median_band_width']:.0f}"
               f" places, {100 * s['share_band_wider_than_10']:.0f}% of units with a band "
               f"wider than 10 → {out}")

@app.command("sensitivity")
@cli_errors
def sensitivity(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
                method: Optional[Path] = MethodOpt, space: Optional[Path] = SpaceOpt,
                n: int = typer.Option(1024, "--n", min=2, help="Base sample size (power of 2); "
                                                        "runs = n (d + 2)."),
                seed: Optional[int] = SeedOpt, jobs: int = JobsOpt,
                n_boot: int = typer.Option(500, "--boot", min=0, help="Bootstrap resamples (0: no "
                                                                     "intervals)."),
                per_unit: bool = typer.Option(True, "--per-unit/--overall-only"),
                out: Path = typer.Option(Path("reports/sensitivity"), "--out", "-o")):
    """Sobol sensitivity analysis: Si and STi of each assumption, with bootstrap CIs."""
    import warnings

    from ..runio import manifest, run_folder, write_json
    from ..validation.uncertainty import sensitivity_analysis

    fw, ind, spec, sp = _inputs(framework, data, method, space, out, seed)
    seed = spec.seed
    runs = n * (len(sp.assumptions) + 2)
    bar, tick = _progress(runs, "sensitivity")
    with bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sensitivity_analysis(fw, ind, spec, sp, n=n, seed=seed, n_boot=n_boot,
                                   per_unit=per_unit, runner=_runner(jobs), progress=tick)
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        typer.echo(f"warning: {note}", err=True)
    with run_folder(out) as tmp:
        res.table.to_csv(tmp / "sensitivity.csv", index=False)
        write_json(tmp / "summary.json", {"n_base": n, "n_runs": res.n_runs,
                                          "overall": res.overall.to_dict("records"),
                                          "warnings": notes})
        write_json(tmp / "manifest.json", manifest(
            "sensitivity", method=spec, framework=fw, data=ind, seed=seed,
            extra={"space": _space_record(space), "n": n, "n_boot": n_boot,
                   "jobs": jobs}))
    typer.echo(f"{fw.root}: {res.n_runs} runs; Sobol indices of the mean |rank shift| "
               "(95% bootstrap intervals):")
    for _, r in res.overall.iterrows():
        typer.echo(f"  {r['factor']:<16} Si {r['S1']:6.3f} [{r['S1_lo']:.3f}, {r['S1_hi']:.3f}]"
                   f"   STi {r['ST']:6.3f} [{r['ST_lo']:.3f}, {r['ST_hi']:.3f}]")
