"""What every ``cityindex`` command shares: the typer app, the common options, reading the
inputs, one-line errors and progress bars.

Every command takes ``--framework``, ``--data``, ``--method``, ``--out`` and ``--seed``; the
defaults run on the bundled GDCI open panel. Input errors print one line and exit with status 2,
and nothing is written (run folders are created atomically). Heavy libraries are imported inside
the commands so that start-up stays fast.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

#: exit statuses of every command (also in ``cityindex --help``)
EXIT_OK, EXIT_INPUT, EXIT_INCOMPLETE = 0, 2, 3
EXIT_STATUSES = ("Exit status: 0 done; 1 bayes --strict and the model did not converge; 2 "
                 "invalid input or option (one line on stderr, nothing written); 3 audit: the "
                 "report was written but a requested section failed or timed out (marked at "
                 "its top); 130 interrupted (SIGINT), 143 stopped (SIGTERM): nothing written.")


class OneLineErrors(TyperGroup):
    """The command group: a usage error (unknown option, an option value out of range or of
    the wrong type) is one line on stderr with exit status 2, like every input error."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        import sys

        try:  # typer ≥ 0.20 carries its own click
            from typer._click import exceptions as click_exc
        except ImportError:  # pragma: no cover
            from click import exceptions as click_exc
        from typer import echo

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click_exc.NoArgsIsHelpError as exc:
            echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(0)
        except click_exc.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "cityindex"
            msg = " ".join(exc.format_message().split())
            echo(f"error: {msg} (see '{where} --help')", err=True)
            sys.exit(EXIT_INPUT)
        except click_exc.ClickException as exc:
            echo(f"error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=OneLineErrors,
                  help="Composite city index engine and audit (GDCI, BRPCI). " + EXIT_STATUSES)


@app.callback()
def _main() -> None:
    """Composite city index engine and audit (GDCI, BRPCI)."""


FrameworkOpt = typer.Option("gdci", "--framework", "-f",
                            help="Framework YAML / COINr iMeta CSV, or a bundled name (gdci, brpci).")
DataOpt = typer.Option(None, "--data", "-d", help="Indicator data (CSV/Parquet/XLSX/COINr iData); "
                                                  "default: the bundled panel.")
MethodOpt = typer.Option(None, "--method", "-m", help="Method spec YAML; default for a bundled "
                         "index: its own bundled method (methods/<index>.yaml) if it has one, "
                         "else methods/default.yaml; for any other framework the built-in "
                         "defaults (docs/formats.md; `cityindex validate` prints the method in "
                         "force).")
SheetOpt = typer.Option(None, "--sheet", help="Sheet of an .xlsx data file (default: the "
                        "first sheet).")
UnitColOpt = typer.Option(None, "--unit-col", help="Name of the unit-code column of the data "
                          "(default: the first of uCode, code, unit, unit_code).")
YearOpt = typer.Option(None, "--year", help="Year of data with years (a panel: tidy "
                       "unit × year × indicator rows or one row per unit and year); with the "
                       "bundled data, a year of the bundled 2018–2021 panel (default: the "
                       "single-year 2021 panel).")
SeedOpt = typer.Option(None, "--seed", min=0, help="Random seed, a non-negative integer "
                       "(default: the method file's seed, else 0).")
SpaceOpt = typer.Option(None, "--space", "-s", help="Uncertainty space YAML (default: the "
                        "bundled spaces/default.yaml for a bundled framework; for any other, a "
                        "space built from the framework and data, written to the run folder "
                        "as space.yaml).")
LevelOpt = typer.Option(0.90, "--level", min=0.5, max=0.999, help="Level of the printed "
                        "intervals (0.90: 5th–95th percentile band).")
QuantileOpt = typer.Option("inverted_cdf", "--quantile", help="Quantile rule of the intervals: "
                           "inverted_cdf (whole ranks that occurred) or type7 (R's default, as "
                           "COINr).")


def interval_conventions(level: float, quantile: str) -> dict:
    """The interval conventions of a command as recorded in its manifest: level, the band's
    percentiles and numpy's name of the quantile rule (``type7`` → "linear").

    Raises
    ------
    MethodError for an unknown quantile rule.
    """
    from cityindex.model.errors import MethodError

    rules = {"inverted_cdf": "inverted_cdf", "type1": "inverted_cdf", "type7": "linear",
             "linear": "linear"}
    if quantile not in rules:
        raise MethodError(f"--quantile '{quantile}'; valid: inverted_cdf, type7")
    half = round((1.0 - level) / 2.0 * 100.0, 6)
    return {"level": level, "percentiles": [half, round(100.0 - half, 6)],
            "quantile": rules[quantile]}


JobsOpt = typer.Option(1, "--jobs", "-j", min=1, max=max(4, 4 * (os.cpu_count() or 1)),
                       help="Parallel processes (joblib); results are identical to a serial "
                       "run.")


def finite(value):
    """Option callback: refuse nan and ±inf (a range check lets nan through)."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def out_option(default: str) -> Any:
    """The ``--out`` option with a default run folder under ``reports/``."""
    return typer.Option(Path(default), "--out", "-o", help="Output folder (a new or empty "
                        "folder, or an earlier cityindex run).")


@dataclass
class Inputs:
    """Validated inputs of a command: framework, data, method (with the seed in force)."""

    framework: Any
    data: Any
    method: Any
    #: where the method in force came from (one phrase, printed by validate)
    method_source: str = ""

    def __iter__(self):  # (framework, data, method) unpacking
        return iter((self.framework, self.data, self.method))

    @property
    def seed(self) -> int:
        return self.method.seed


def resolve_framework(name: str) -> Path:
    """A bundled framework name (``gdci``) or a path to a framework file."""
    from cityindex.model import bundled

    p = Path(name)
    if p.suffix.lower() in (".yaml", ".yml", ".csv") or p.exists():
        return p
    return bundled.framework_path(name)


def load_inputs(framework: str, data: Optional[Path], method: Optional[Path],
                out: Optional[Path] = None, seed: Optional[int] = None,
                sheet: Optional[str] = None, unit_col: Optional[str] = None,
                year: Optional[int] = None) -> Inputs:
    """Framework, data and method from CLI options, validated. ``out`` (the run folder) is
    checked first so that a bad ``--out`` fails before any long work; ``seed`` (when given,
    0 included) replaces the method file's seed; ``sheet`` and ``unit_col`` are the data's
    ``--sheet`` and ``--unit-col``; ``year`` (``--year``) picks a year of panel data (for the
    bundled data: the bundled multi-year panel, with the method's temporal imputation)."""
    from cityindex.model import Framework, MethodSpec, bundled, read_data

    from ..runio import claim_output

    if out is not None:  # checked and locked before any work
        claim_output(out)
    fw_path = resolve_framework(framework)
    fw = Framework.load(fw_path)
    if method is not None:
        source = f"{method} (--method)"
    elif bundled.is_bundled(fw_path):
        method = bundled.default_method_for(fw_path.stem)
        source = (f"bundled methods/{Path(method).name} (the default for the bundled "
                  f"framework {fw_path.stem}; give --method to change it)")
    else:
        source = ("the built-in defaults (no --method; a framework that is not bundled gets "
                  "them, see docs/formats.md#method)")
    spec = MethodSpec.load(method)
    spec.source = source  # recorded in the manifest (runio.manifest)
    if seed is not None:
        spec.seed = int(seed)
    if data is None and year is not None:
        return Inputs(fw, read_data(bundled.panel_long_path(), fw, year=year, method=spec,
                                    meta=bundled.panel_meta()), spec, source)
    return Inputs(fw, read_data(data if data is not None else bundled.panel_path(), fw,
                                unit_col=unit_col, sheet=sheet, year=year, method=spec), spec,
                  source)


def cli_errors(func):
    """Turn input errors into one line on stderr and exit status 2 (no traceback); stop
    cleanly on SIGTERM (exit 143) and SIGINT (exit 130), nothing written; release the output
    folder's lock at the end (see :mod:`cityindex.signals`, :mod:`cityindex.runio`)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import warnings

        from cityindex.model.errors import CityIndexError

        from ..runio import release_outputs
        from ..signals import EXIT_SIGINT, EXIT_SIGTERM, Terminated, handling

        try:
            with handling(), warnings.catch_warnings(record=True) as caught:
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
        except MemoryError:
            typer.echo("error: out of memory; lower --n (or the other sizes) and run again; "
                       "nothing was written", err=True)
            raise typer.Exit(2)
        except Terminated as exc:
            typer.echo(f"error: {exc}; stopped, nothing written", err=True)
            raise typer.Exit(EXIT_SIGTERM)
        except KeyboardInterrupt:
            typer.echo("error: interrupted; stopped, nothing written", err=True)
            raise typer.Exit(EXIT_SIGINT)
        finally:
            release_outputs()

    return wrapper


def progress_bar(total: int, label: str):
    """(rich progress bar, callback(k) advancing it by k), transient."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda n=1: bar.advance(task, n)


def runner(jobs: int):
    """The replication runner for ``--jobs``: serial, or joblib processes."""
    from cityindex.validation.engine import JoblibRunner, SerialRunner

    return SerialRunner() if jobs == 1 else JoblibRunner(jobs)


class step_progress:
    """A transient rich bar for an analysis that reports sub-steps with counts: ``with
    step_progress("weights") as progress: weight_audit(r, progress=progress)`` shows
    "weights · leave-one-out rebuilds  12/20" (``progress(step, done, total)``, see
    :mod:`cityindex.model.progress`). ``tick(step, total)`` gives a ``tick(k)`` counter for an
    analysis that only advances (``progress(k)``)."""

    def __init__(self, label: str):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.label = label
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), transient=True)
        self.task = self.bar.add_task(label, total=1)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def __call__(self, step: str, done: int, total: int) -> None:
        self.bar.update(self.task, description=f"{self.label} · {step}", total=max(total, 1),
                        completed=done)

    def tick(self, step: str, total: int):
        from cityindex.model.progress import counted

        return counted(self, step, total)

