"""The ``cityindex`` command line (typer).

Every command takes ``--framework``, ``--data``, ``--method``, ``--out`` and ``--seed``; the
defaults run on the bundled GDCI open panel. Input errors print one line and exit with status 2,
and nothing is written (run folders are created atomically). Heavy libraries are imported inside
the commands so that start-up stays fast.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer

from cityindex.model.bundled import data_dir

DATA = data_dir()
DEFAULT_PANEL = DATA / "panel" / "panel.csv"
DEFAULT_METHOD = DATA / "methods" / "default.yaml"

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Composite city index engine and audit (GDCI, BRPCI).")

FrameworkOpt = typer.Option("gdci", "--framework", "-f",
                            help="Framework YAML / COINr iMeta CSV, or a bundled name (gdci, brpci).")
DataOpt = typer.Option(None, "--data", "-d", help="Indicator data (CSV/Parquet/XLSX/COINr iData); "
                                                  "default: the bundled panel.")
MethodOpt = typer.Option(None, "--method", "-m", help="Method spec YAML; default for a bundled "
                         "index: data/methods/<index>.yaml if it exists, else default.yaml "
                         "(COINr-like defaults for other frameworks).")
SeedOpt = typer.Option(0, "--seed", min=0, help="Random seed (a non-negative integer).")


@app.callback()
def _main() -> None:
    """Composite city index engine and audit (GDCI, BRPCI)."""


def resolve_framework(name: str) -> Path:
    """A bundled framework name (``gdci``) or a path."""
    p = Path(name)
    if p.suffix.lower() in (".yaml", ".yml", ".csv") or p.exists():
        return p
    bundled = DATA / "frameworks" / f"{name.lower()}.yaml"
    if bundled.exists():
        return bundled
    from cityindex.model.errors import FrameworkError

    names = sorted(f.stem for f in (DATA / "frameworks").glob("*.yaml"))
    raise FrameworkError(f"unknown framework '{name}'; give a file or one of {names}")


def load_inputs(framework: str, data: Optional[Path], method: Optional[Path],
                out: Optional[Path] = None):
    """(Framework, IndicatorData, MethodSpec) from CLI options, validated; ``out`` (the run
    folder) is checked first so that a bad ``--out`` fails before any long work."""
    from cityindex.model import Framework, MethodSpec, read_data

    from ..runio import check_output_folder

    if out is not None:
        check_output_folder(out)

    fw_path = resolve_framework(framework)
    fw = Framework.load(fw_path)
    bundled = fw_path.parent == DATA / "frameworks"
    if method is None and bundled:
        own = DATA / "methods" / f"{fw_path.stem}.yaml"  # an index's own method, if any
        method = own if own.exists() else DEFAULT_METHOD
    spec = MethodSpec.load(method)
    if data is None:
        data = DEFAULT_PANEL
    return fw, read_data(data, fw), spec


def cli_errors(func):
    """Turn input errors into one line on stderr and exit status 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import warnings

        from cityindex.model.errors import CityIndexError

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                result = func(*args, **kwargs)
            # library and pipeline warnings as one line each, without source paths
            for msg in dict.fromkeys(str(w.message).splitlines()[0] for w in caught
                                     if issubclass(w.category, UserWarning)):
                typer.echo(f"warning: {msg}", err=True)
            return result
        except CityIndexError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2)
        except ValueError as exc:  # an out-of-range option caught by a library's own check
            typer.echo(f"error: {str(exc).splitlines()[0] if str(exc) else exc!r}", err=True)
            raise typer.Exit(2)
        except BrokenPipeError:  # output piped into `head` and closed: not an error
            raise typer.Exit(0)
        except OSError as exc:  # unreadable input, full disk, …: one line, no traceback
            typer.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2)

    return wrapper


@app.command()
@cli_errors
def compute(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
            method: Optional[Path] = MethodOpt,
            out: Path = typer.Option(Path("reports/compute"), "--out", "-o", help="Output folder."),
            seed: int = SeedOpt):
    """Compute the index: scores.csv, one CSV per stage, treatment.csv, manifest.json."""
    from cityindex.model import compute_index

    from ..runio import manifest, run_folder, write_json

    fw, ind, spec = load_inputs(framework, data, method, out)
    if seed:
        spec.seed = seed
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




@app.command()
@cli_errors
def validate(framework: str = FrameworkOpt, data: Optional[Path] = DataOpt,
             method: Optional[Path] = MethodOpt,
             space: Optional[Path] = typer.Option(None, "--space", "-s",
                                                  help="Also validate an uncertainty space."),
             seed: int = SeedOpt):
    """Check framework, data, method (and space: every alternative is run through the
    pipeline once) without writing anything; print a summary."""
    from cityindex.model import compute_index

    fw, ind, spec = load_inputs(framework, data, method)
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


def _register_commands() -> None:
    from . import audit, bayes, compare, ranks, uncertainty, weights

    for module in (audit, uncertainty, weights, compare, ranks, bayes):
        module.register(app)


_register_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
