"""The result of a Sobol' analysis: indices, intervals and flags per (output, factor).

:class:`SobolResult` follows the results protocol of :mod:`cityindex.model.summary`:
``summary()`` (a :class:`~cityindex.model.summary.Summary`), ``to_frame()`` (one row per output and
factor), ``to_dict()`` (JSON-safe) and a short ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe
from cityindex.validation.sobol.estimators import FLAG_ORDER

if TYPE_CHECKING:
    from cityindex.validation.sobol.design import SobolProblem

__all__ = ["SobolResult"]


@dataclass(eq=False, repr=False)
class SobolResult(Result):
    """First- and total-order Sobol' indices for many outputs, with bootstrap percentile CIs.

    Arrays are indexed ``[output, factor]`` (shape (m, d)); values are **raw** estimates, never
    clipped (they can be < 0, > 1, or S1 > ST at small N; see :attr:`flags`).

    Attributes
    ----------
    factors : list[str] (d)
    outputs : list (m) output labels
    S1, ST : float (m, d) point estimates (NaN or the chosen fill for zero-variance outputs)
    S1_lo, S1_hi, ST_lo, ST_hi : float (m, d) percentile bootstrap bounds at ``conf_level``
    variance : float (m,) pooled variance of f(A), f(B) (ddof 0)
    mean : float (m,) pooled mean of f(A), f(B)
    constant : bool (m,) outputs with zero variance over the A and B rows
    flags : object (m, d) ';'-joined flags: zero_variance, S1<0, ST<0, S1>1, ST>1, S1>ST (raw
        value outside the admissible region, whatever its size), wide_ci (either CI wider than
        ``wide_ci``), boot_zero_var (some bootstrap resamples had zero variance and were dropped).
    n_base, n_resamples, conf_level, seed : design / bootstrap settings
    small_n : bool, n_base < ``min_base``
    S1_boot, ST_boot : (n_resamples, m, d) bootstrap replicates if ``keep_resamples`` else None
    problem : the :class:`SobolProblem` analysed (factor levels, shown by :meth:`summary`), or None
    interval : "replicates" (t intervals from ``groups`` independent randomisations of the
        design, delete-one-group jackknife SE ``S1_se``, ``ST_se``) or "bootstrap" (percentile
        bootstrap of the base rows)
    dummy_S1, dummy_ST, dummy_S1_lo, dummy_S1_hi, dummy_ST_lo, dummy_ST_hi : (m,) indices of a
        dummy factor the model ignores and their bounds (the noise floor; cells at or below it
        carry the flags S1_below_dummy / ST_below_dummy)
    """

    factors: list[str]
    outputs: list
    S1: np.ndarray
    ST: np.ndarray
    S1_lo: np.ndarray
    S1_hi: np.ndarray
    ST_lo: np.ndarray
    ST_hi: np.ndarray
    variance: np.ndarray
    mean: np.ndarray
    constant: np.ndarray
    flags: np.ndarray
    n_base: int
    n_resamples: int
    conf_level: float
    seed: int | None
    small_n: bool
    S1_boot: np.ndarray | None = field(default=None, repr=False)
    ST_boot: np.ndarray | None = field(default=None, repr=False)
    problem: SobolProblem | None = field(default=None, repr=False)
    interval: str = "bootstrap"
    groups: int = 1
    dummy_S1: np.ndarray | None = field(default=None, repr=False)
    dummy_ST: np.ndarray | None = field(default=None, repr=False)
    dummy_S1_lo: np.ndarray | None = field(default=None, repr=False)
    dummy_S1_hi: np.ndarray | None = field(default=None, repr=False)
    dummy_ST_lo: np.ndarray | None = field(default=None, repr=False)
    dummy_ST_hi: np.ndarray | None = field(default=None, repr=False)
    S1_se: np.ndarray | None = field(default=None, repr=False)
    ST_se: np.ndarray | None = field(default=None, repr=False)

    #: the factor label of the dummy's row in :meth:`output_table` / :meth:`dummy_frame`
    DUMMY = "dummy (floor)"

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def n_runs(self) -> int:
        """Model runs of the design, N (d + 2)."""
        return self.n_base * (len(self.factors) + 2)

    def conf_int(self, which: Literal["S1", "ST"] = "S1") -> np.ndarray:
        """Percentile bootstrap interval, (m, d, 2) with [..., 0] = lower, [..., 1] = upper."""
        if which == "S1":
            return np.stack([self.S1_lo, self.S1_hi], axis=-1)
        if which == "ST":
            return np.stack([self.ST_lo, self.ST_hi], axis=-1)
        raise ValueError(f"which must be 'S1' or 'ST', got {which!r}")

    @property
    def interaction(self) -> np.ndarray:
        """Non-additive share per output, ``1 - sum_i S1_i`` (m,) (Handbook Step 7 figure)."""
        return 1.0 - self.S1.sum(axis=1)

    def to_frame(self, clipped: bool = False) -> pd.DataFrame:
        """Tidy table, one row per (output, factor).

        Columns: output, factor, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi, flag (``""`` when clean).
        With ``clipped=True`` two extra columns ``S1_clipped``, ``ST_clipped`` hold the raw values
        clipped to [0, 1] (for display only; the raw columns are unchanged).
        """
        m, d = self.S1.shape
        df = pd.DataFrame(
            {
                "output": np.repeat(np.asarray(self.outputs, dtype=object), d),
                "factor": np.tile(np.asarray(self.factors, dtype=object), m),
                "S1": self.S1.ravel(),
                "S1_lo": self.S1_lo.ravel(),
                "S1_hi": self.S1_hi.ravel(),
                "ST": self.ST.ravel(),
                "ST_lo": self.ST_lo.ravel(),
                "ST_hi": self.ST_hi.ravel(),
                "flag": self.flags.ravel(),
            }
        )
        if clipped:
            df["S1_clipped"] = np.clip(df["S1"].to_numpy(), 0.0, 1.0)
            df["ST_clipped"] = np.clip(df["ST"].to_numpy(), 0.0, 1.0)
        return df

    def dummy_frame(self) -> pd.DataFrame:
        """One row per output: the dummy factor's S1, S1_lo, S1_hi, ST, ST_lo, ST_hi."""
        m = self.n_outputs
        get = (lambda a: np.full(m, np.nan) if a is None else np.asarray(a, float))
        return pd.DataFrame({"output": list(self.outputs), "factor": self.DUMMY,
                             "S1": get(self.dummy_S1), "S1_lo": get(self.dummy_S1_lo),
                             "S1_hi": get(self.dummy_S1_hi), "ST": get(self.dummy_ST),
                             "ST_lo": get(self.dummy_ST_lo), "ST_hi": get(self.dummy_ST_hi)})

    def output_frame(self) -> pd.DataFrame:
        """One row per output: output, mean, variance, constant, sum_S1, sum_ST, interaction."""
        return pd.DataFrame(
            {
                "output": list(self.outputs),
                "mean": self.mean,
                "variance": self.variance,
                "constant": self.constant,
                "sum_S1": self.S1.sum(axis=1),
                "sum_ST": self.ST.sum(axis=1),
                "interaction": self.interaction,
            }
        )

    def flag_counts(self) -> dict[str, int]:
        """How many (output, factor) cells carry each flag."""
        counts = {f: 0 for f in FLAG_ORDER}
        for s in self.flags.ravel():
            if s:
                for f in s.split(";"):
                    counts[f] += 1
        return {k: v for k, v in counts.items() if v}

    # ------------------------------------------------------------------ results protocol
    def output_table(self, output: Any = None, dummy: bool = False) -> pd.DataFrame:
        """S1 and ST with their intervals and flags per factor, for one output.

        ``output`` is a label from :attr:`outputs` (default: the first output). Columns: factor,
        S1, S1_lo, S1_hi, ST, ST_lo, ST_hi, flag; with ``dummy=True`` a last row for the dummy
        factor (the noise floor). Raises KeyError for an unknown label.
        """
        j = 0 if output is None else self._output_index(output)
        tab = self._output_table(j)
        if dummy:
            row = self.dummy_frame().iloc[[j]].drop(columns="output").assign(flag="")
            tab = pd.concat([tab, row], ignore_index=True)
        return tab

    def _output_table(self, j: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "factor": list(self.factors),
                "S1": self.S1[j],
                "S1_lo": self.S1_lo[j],
                "S1_hi": self.S1_hi[j],
                "ST": self.ST[j],
                "ST_lo": self.ST_lo[j],
                "ST_hi": self.ST_hi[j],
                "flag": self.flags[j],
            }
        )

    def _output_index(self, output: Any) -> int:
        for j, o in enumerate(self.outputs):
            if o == output:
                return j
        raise KeyError(f"unknown output {output!r}; this result has {self.n_outputs} output(s)")

    def _median_table(self) -> pd.DataFrame:
        """Per factor, median S1 and ST over the non-constant outputs and the widest interval."""
        ok = ~self.constant
        w = np.fmax(self.S1_hi - self.S1_lo, self.ST_hi - self.ST_lo)[ok]
        return pd.DataFrame(
            {
                "factor": list(self.factors),
                "median S1": np.median(self.S1[ok], axis=0),
                "median ST": np.median(self.ST[ok], axis=0),
                "max CI width": np.max(w, axis=0),
            }
        )

    def _problem_line(self) -> str:
        if self.problem is None or list(self.problem.names) != list(self.factors):
            return "Factors: " + ", ".join(map(str, self.factors))
        parts = [
            f"{n} ({'U[0,1)' if lv is None else f'{lv} levels'})"
            for n, lv in zip(self.problem.names, self.problem.levels)
        ]
        return "Factors: " + ", ".join(parts)

    def _interval_line(self) -> str:
        lvl = f"{self.conf_level * 100:g}%"
        if self.interval == "replicates":
            return (f"Intervals: {lvl} t intervals from {self.groups} independent randomisations "
                    "of the design (delete-one-group jackknife; Owen 1997)")
        if self.n_resamples == 0:
            return "No intervals (n_resamples = 0)"
        return (f"Intervals: {lvl} bootstrap percentile intervals, {self.n_resamples} resamples"
                " of the base rows")

    def summary(self, output: Any = None) -> Summary:
        """Design, interval level, S1/ST with intervals per factor, and flag counts.

        The table is for ``output`` (a label from :attr:`outputs`; default the first output);
        with several outputs a second table gives per factor the median S1 and ST over the
        non-constant outputs and the widest interval. Raises KeyError for an unknown label.
        """
        j = 0 if output is None else self._output_index(output)
        n_const = int(self.constant.sum())
        s = Summary("Sobol' sensitivity indices")
        s.add_text(
            self._problem_line(),
            f"N = {self.n_base} base rows, {self.n_runs} runs (Saltelli A/B/AB_i design); "
            f"{self.n_outputs} output(s)" + (f", {n_const} with zero variance" if n_const else ""),
            "S1: Saltelli et al. (2010) Table 2(b); ST: Jansen (1999); raw values, not clipped",
            self._interval_line(),
        )
        if self.small_n:
            s.add_text(f"WARNING: N = {self.n_base} is small; estimates are unreliable")
        s.add_table(self.output_table(output, dummy=self.dummy_S1 is not None),
                    f"Output: {self.outputs[j]}", digits=4, max_rows=None)
        if self.dummy_S1 is not None:
            s.add_text(f"'{self.DUMMY}': a factor the model ignores; an index whose lower bound "
                       "is at or below the dummy's upper bound is indistinguishable from zero "
                       "(flags S1_below_dummy, ST_below_dummy).")
        if self.n_outputs > 1 and n_const < self.n_outputs:
            s.add_table(self._median_table(),
                        f"Medians over the {self.n_outputs - n_const} non-constant outputs",
                        digits=4, max_rows=None)
        fc = self.flag_counts()
        if fc:
            s.add_table(pd.DataFrame({"flag": list(fc), "cells": list(fc.values())}),
                        "Flags (number of (output, factor) cells)", max_rows=None)
        else:
            s.add_text("Flags: none")
        return s

    def to_dict(self) -> dict:
        """JSON-safe dict: settings, flag counts, the tidy table (:meth:`to_frame`) and the
        per-output table (:meth:`output_frame`); the bootstrap replicates are left out."""
        return json_safe(
            {
                "factors": list(self.factors),
                "levels": None if self.problem is None else list(self.problem.levels),
                "outputs": list(self.outputs),
                "n_base": self.n_base,
                "n_runs": self.n_runs,
                "n_resamples": self.n_resamples,
                "interval": self.interval,
                "groups": self.groups,
                "conf_level": self.conf_level,
                "seed": self.seed,
                "small_n": self.small_n,
                "flag_counts": self.flag_counts(),
                "table": self.to_frame(),
                "output_table": self.output_frame(),
                "dummy": self.dummy_frame(),
            }
        )

    def _repr_lines(self) -> Iterable[str]:
        d = len(self.factors)
        names = ", ".join(map(str, self.factors[:8])) + (f", … (+{d - 8})" if d > 8 else "")
        n_const = int(self.constant.sum())
        fc = self.flag_counts()
        return (
            f"{d} factor(s): {names}",
            f"{self.n_outputs} output(s)" + (f" ({n_const} constant)" if n_const else "")
            + f"; N = {self.n_base} base rows, {self.n_runs} runs",
            (f"{self.groups} independent randomisations, {self.conf_level * 100:g}% t intervals"
             if self.interval == "replicates" else
             f"{self.n_resamples} bootstrap resamples, {self.conf_level * 100:g}% intervals"
             if self.n_resamples else "no bootstrap intervals"),
            "flags: " + (", ".join(f"{k}={v}" for k, v in fc.items()) if fc else "none"),
        )
