"""Variance-based sensitivity analysis of the ranks (Saltelli et al. 2010; OECD/JRC Handbook
2008, Step 7).

:func:`sensitivity_analysis` runs a Saltelli A/B/AB_i design over the assumptions of an
:class:`~cityindex.validation.space.UncertaintySpace` around a nominal
:class:`~cityindex.model.pipeline.IndexResult` and estimates first-order (Si, Saltelli 2010)
and total-order (STi, Jansen 1999) Sobol indices of every assumption on the mean absolute rank
shift R̄s and on every unit's rank (:mod:`.sobol`).

Intervals: the N base rows are R independently scrambled Sobol' point sets (R independent
randomisations of the design, Owen 1997; default R = min(16, N/4)), and each index gets the
pooled estimate ± t_(R−1) × its delete-one-group jackknife SE (Wolter 2007). A bootstrap of the
rows of one scrambled design treats them as independent and is about three times too wide on
Ishigami at N = 1,024 (benchmarks/bench_sobol.py). A dummy factor the model ignores gives the
noise floor (:func:`.sobol.estimators.dummy_indices`). The first k groups form a design of
k N/R base rows at no extra runs: ``convergence`` holds the indices of R̄s at N/R, 2N/R, …, N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from cityindex.model.availability import NOT_RANKED
from cityindex.model.summary import Result, Summary, json_safe

from .engine import Prepared, Runner, prepared_for, run_replications
from .sobol import SobolProblem, analyze, saltelli_design
from .space import load_space

OVERALL = "mean_abs_rank_shift"
DUMMY = "dummy (floor)"


def default_replicates(n: int) -> int:
    """Independent randomisations for a base N: min(16, N/4), at least 1 (N a power of 2)."""
    return int(max(1, min(16, n // 4)))


@dataclass(repr=False)
class SensitivityResult(Result):
    """Result of :func:`sensitivity_analysis`.

    ``table``: tidy DataFrame — output (``mean_abs_rank_shift`` or a unit code), factor, S1,
    S1_lo, S1_hi, ST, ST_lo, ST_hi, flag. ``overall``: the rows for R̄s, the dummy factor's row
    last (factor ``dummy (floor)``). ``sobol``: the raw
    :class:`~cityindex.validation.sobol.SobolResult`. ``convergence``: the indices of R̄s
    (and the dummy's) against the base N (columns n_base, factor, S1, S1_lo, S1_hi, ST, ST_lo,
    ST_hi), from the nested designs of the first 1, 2, 4, … of the R independent groups.
    """

    table: pd.DataFrame
    overall: pd.DataFrame
    sobol: object
    n_base: int
    n_runs: int
    conf_level: float = 0.95
    #: units without per-unit indices, with the reason (not ranked in every run: no data)
    excluded: dict = field(default_factory=dict)
    convergence: pd.DataFrame | None = None
    interval: str = "replicates"
    groups: int = 1

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return json_safe({"n_base": self.n_base, "n_runs": self.n_runs,
                          "conf_level": self.conf_level, "interval": self.interval,
                          "groups": self.groups, "overall": self.overall,
                          "convergence": self.convergence, "excluded": self.excluded})

    def interval_text(self) -> str:
        """One sentence on how the intervals were made."""
        if self.interval == "replicates":
            return (f"{self.conf_level:.0%} t intervals from {self.groups} independent "
                    "randomisations of the design (delete-one-group jackknife; Owen 1997)")
        return f"{self.conf_level:.0%} bootstrap intervals over base rows"

    def floor_text(self) -> str:
        """The dummy factor's bounds and the factors below them, for R̄s."""
        o = self.overall
        dm = o[o["factor"] == DUMMY]
        if dm.empty or not np.isfinite(dm["S1_hi"].iloc[0]):
            return ""
        real = o[o["factor"] != DUMMY]
        low = real[real["flag"].str.contains("ST_below_dummy", regex=False)]["factor"].tolist()
        return (f"Noise floor (a dummy factor the model ignores): S1 up to "
                f"{dm['S1_hi'].iloc[0]:.3f}, ST up to {dm['ST_hi'].iloc[0]:.3f}. "
                + (f"Total index indistinguishable from zero: {', '.join(map(str, low))}."
                   if low else "Every assumption's total index is above the floor."))

    def summary(self) -> Summary:
        s = Summary("Sensitivity analysis of the ranks (Sobol indices)")
        s.add_text(f"Saltelli design, base N = {self.n_base}, {self.n_runs} runs. Output: the "
                   "mean absolute rank shift from the nominal ranking (one of the outputs "
                   "analysed; per-unit indices are in the table).",
                   f"Intervals: {self.interval_text()}.")
        if self.floor_text():
            s.add_text(self.floor_text())
        if self.excluded:
            s.add_text(f"No per-unit indices for {len(self.excluded)} unit(s): "
                       + "; ".join(f"{u} ({why})" for u, why in list(self.excluded.items())[:8])
                       + (" …" if len(self.excluded) > 8 else "") + ".")
        o = self.overall[["factor", "S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"]]
        real = o[o["factor"] != DUMMY].sort_values("ST", ascending=False)
        s.add_table(pd.concat([real, o[o["factor"] == DUMMY]]), "Sobol indices of the mean "
                    "absolute rank shift (the dummy factor last: the noise floor)",
                    max_rows=None)
        return s

    def _repr_lines(self):
        top = self.overall[self.overall["factor"] != DUMMY].sort_values(
            "ST", ascending=False).head(3)
        return [f"base N {self.n_base}, {self.n_runs} runs, "
                f"{self.table['output'].nunique()} outputs",
                "largest STi: " + ", ".join(f"{r.factor} {r.ST:.2f}" for r in top.itertuples())]


def check_sensitivity_size(result, space, n, n_boot: int = 0, per_unit: bool = True) -> None:
    """Check the base N (an integer ≥ 2), the bootstrap resamples (≥ 0) and the memory they
    need (:mod:`cityindex.validation.resources`) — call it before any work.

    Raises
    ------
    MethodError naming the size, with the memory estimate when it would not fit.
    """
    from cityindex.model.errors import MethodError

    from .resources import check_memory, sensitivity_bytes

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise MethodError(f"Sobol base sample N must be an integer ≥ 2, got {n!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise MethodError(f"bootstrap resamples must be an integer ≥ 0, got {n_boot!r}")
    u, d = len(result.scores.index), len(space.assumptions)
    check_memory(sensitivity_bytes(space, u, len(result.framework.indicators),
                                   len(result.framework.nodes), int(n), per_unit),
                 f"the sensitivity analysis with base N = {int(n):,} ({int(n) * (d + 2):,} "
                 f"runs, {u:,} units)", "lower --n (or --n-sobol)")


def sensitivity_analysis(result, space=None, n: int = 1024, *, seed: int | None = None,
                         n_boot: int = 500, conf_level: float = 0.95, per_unit: bool = True,
                         replicates: int | None = None,
                         runner: Runner | None = None,
                         progress: Callable[[int], None] | None = None,
                         prepared: Prepared | None = None) -> SensitivityResult:
    """Sobol sensitivity of the ranks of ``result`` to each assumption (N(d+2) runs).

    Parameters
    ----------
    result : IndexResult, the nominal index (never recomputed).
    space : UncertaintySpace, a YAML path, a bundled space's name or None (the default space).
    n : base sample size (a power of two for Sobol' balance).
    seed : seeds the design and the bootstrap (default: the result's method seed).
    n_boot, conf_level : bootstrap resamples of the base rows (used only with replicates=1)
        and the interval level.
    replicates : independent randomisations R of the design (N/R base rows each; default
        :func:`default_replicates`); R >= 2 gives t intervals from the spread between them,
        R = 1 a percentile bootstrap of the rows of one design (too wide for a Sobol' net).
    per_unit : also analyse every unit's rank (else only the mean absolute rank shift).
    prepared : alternatives prepared once for this result, space and seed (shared with the
        uncertainty analysis).

    Returns
    -------
    SensitivityResult

    Raises
    ------
    MethodError for a base N below 2, a negative n_boot, replicates that do not divide N, or
    sizes whose memory would not fit (the estimate is in the message;
    :mod:`cityindex.validation.resources`).
    """
    space = load_space(space, result)
    check_sensitivity_size(result, space, n, n_boot, per_unit)
    n_groups = default_replicates(n) if replicates is None else replicates
    if (isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer))
            or n_groups < 1 or n % n_groups):
        from cityindex.model.errors import MethodError
        raise MethodError(f"replicates must be an integer ≥ 1 dividing N = {n}, got {replicates!r}")
    n_groups = int(n_groups)
    seed = result.method.seed if seed is None else int(seed)
    p = prepared_for(result, space, seed, prepared)
    problem = SobolProblem(space.names, space.levels)
    design = saltelli_design(problem, n, seed=seed, replicates=n_groups)
    out = run_replications(p, design.levels(), runner, progress)
    R = out["index"].astype(float)
    with np.errstate(invalid="ignore"):
        shift = np.nanmean(np.abs(R - p.nominal_ranks), axis=1)  # over the ranked units
    # per-unit outputs for the units ranked in every run (a unit with no observed indicator is
    # never ranked; leave-one-out can remove a unit's only observed indicator in some runs)
    always = ~np.isnan(R).any(axis=0)
    Y = np.column_stack([shift, R[:, always]]) if per_unit else shift[:, None]
    names = [OVERALL] + ([u for u, ok in zip(p.units, always) if ok] if per_unit else [])
    res = analyze(design, Y, n_resamples=n_boot, conf_level=conf_level, seed=seed,
                  output_names=names)
    table = res.to_frame()
    overall = res.output_table(OVERALL, dummy=True)
    overall.insert(0, "output", OVERALL)
    conv = _convergence(design, Y[:, :1], conf_level) if n_groups >= 2 else None
    excluded = {}
    if per_unit:
        st = result.availability.unit_status().reindex(p.units)
        for u, ok, frac in zip(p.units, always, np.isnan(R).mean(axis=0)):
            if not ok:
                excluded[u] = ("not ranked: no data" if st[u] == NOT_RANKED else
                               f"not ranked in {frac:.0%} of the runs (leave-one-out removes "
                               "its observed indicators)")
    return SensitivityResult(table, overall, res, n, design.n_runs, conf_level, excluded, conv,
                             res.interval, res.groups)


def _convergence(design, Y: np.ndarray, conf_level: float) -> pd.DataFrame:
    """Indices of one output on the nested designs of the first 1, 2, 4, …, R groups (no
    extra runs): n_base, factor (dummy last), S1, S1_lo, S1_hi, ST, ST_lo, ST_hi; one group
    has no interval (NaN bounds)."""
    import warnings

    from .sobol import SensitivityWarning

    ks = sorted({min(2 ** j, design.groups) for j in range(design.groups.bit_length() + 1)})
    rows = []
    for k in ks:
        sub, Ys = design.first_groups(k, Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SensitivityWarning)
            r = analyze(sub, Ys, n_resamples=0, conf_level=conf_level, interval="replicates"
                        if k >= 2 else "bootstrap", warn=False)
        t = r.output_table(dummy=True).drop(columns="flag")
        t.insert(0, "n_base", sub.n_base)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)
