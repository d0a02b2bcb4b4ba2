"""Marginal and simultaneous rank confidence sets of one :class:`ScoreDraws` as one result object.

:func:`rank_sets` computes both two-sided families of Mogstad, Romano, Shaikh & Wilhelm (2024,
*Review of Economic Studies* 91(1):476-518) with the same bootstrap seed and returns a
:class:`RankSets` (results protocol of :mod:`cityindex.model.summary`), which carries the
premise of the sets (the draws' ``source`` and ``assumption``) into every view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

from .draws import ScoreDraws
from .frequentist import _boot_draws, rank_confidence_sets

__all__ = ["RankSets", "rank_sets"]

_COLUMNS = ["unit", "estimate", "se", "rank", "simultaneous_lower", "simultaneous_upper",
            "marginal_lower", "marginal_upper"]
_METHOD = "Mogstad, Romano, Shaikh & Wilhelm (2024), max-t parametric bootstrap"


@dataclass(eq=False, repr=False)
class RankSets(Result):
    """Marginal and simultaneous two-sided rank confidence sets for one ScoreDraws and one alpha.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per unit, in the order of the ScoreDraws: ``unit, estimate, se, rank,
        simultaneous_lower, simultaneous_upper, marginal_lower, marginal_upper`` (ranks are ints,
        1 = best).  The simultaneous sets contain all true ranks jointly with probability
        >= 1 - alpha; each marginal set contains its unit's true rank with probability
        >= 1 - alpha.
    alpha : float
    n_boot : int
        Bootstrap replications R.
    critical_values : list of float
        The simultaneous stepdown's critical values, one per step.
    source, assumption : str
        Of the ScoreDraws: where the score uncertainty comes from and what it assumes.
    note : str
        Anything done to the draws (e.g. the jitter of :meth:`ScoreDraws.separable`).
    stepdown : bool
    seed : Any
        The bootstrap seed.
    """

    table: pd.DataFrame
    alpha: float
    n_boot: int
    critical_values: list[float] = field(default_factory=list)
    source: str = ""
    assumption: str = ""
    note: str = ""
    stepdown: bool = True
    seed: Any = 0
    #: units left out of the sets, with the reason (``unit``, ``reason``): e.g. units with no
    #: observed indicator, never ranked (cityindex.model.availability)
    not_ranked: pd.DataFrame | None = None

    # ------------------------------------------------------------------ derived
    @property
    def level(self) -> float:
        """The confidence level 1 - alpha."""
        return 1.0 - self.alpha

    def widths(self) -> pd.DataFrame:
        """Number of ranks in each set (``upper - lower + 1``): ``unit, simultaneous,
        marginal``."""
        t = self.table
        return pd.DataFrame({
            "unit": t["unit"].to_numpy(),
            "simultaneous": (t["simultaneous_upper"] - t["simultaneous_lower"] + 1).to_numpy(),
            "marginal": (t["marginal_upper"] - t["marginal_lower"] + 1).to_numpy()})

    def _median_widths(self) -> tuple[float, float]:
        w = self.widths()
        return float(w["simultaneous"].median()), float(w["marginal"].median())

    # ------------------------------------------------------------------ results protocol
    def to_frame(self) -> pd.DataFrame:
        """The per-unit table (a copy)."""
        return self.table.copy()

    def summary(self, n: int = 5) -> Summary:
        """Level, premise, median widths and the ``n`` narrowest and widest simultaneous sets."""
        med_s, med_m = self._median_widths()
        s = Summary("Rank confidence sets")
        s.add_text(
            f"{len(self.table)} units; {self.level:.0%} two-sided sets ({_METHOD}, "
            f"{'Romano-Wolf stepdown' if self.stepdown else 'single step'}, "
            f"R = {self.n_boot}).",
            f"Simultaneous: all true ranks lie in their sets jointly with probability "
            f"≥ {self.level:.0%}; marginal: each unit's set on its own.",
            f"Score uncertainty ({self.source or 'unspecified source'}): "
            f"{self.assumption or 'no assumption stated'}.",
            f"Median width: simultaneous {med_s:g} ranks, marginal {med_m:g} ranks.")
        if self.note:
            s.add_text(f"Note: {self.note}")
        if self.not_ranked is not None and len(self.not_ranked):
            s.add_text(f"Not ranked ({len(self.not_ranked)}): " + "; ".join(
                f"{r.unit} ({r.reason})" for r in self.not_ranked.head(8).itertuples())
                + (" …" if len(self.not_ranked) > 8 else "") + ".")
        t = self.table.assign(width=self.widths()["simultaneous"].to_numpy())
        cols = ["unit", "rank", "simultaneous_lower", "simultaneous_upper", "marginal_lower",
                "marginal_upper", "width"]
        by_width = t.sort_values(["width", "rank"], kind="stable")
        s.add_table(by_width.head(n)[cols], title=f"Narrowest {min(n, len(t))} simultaneous sets")
        s.add_table(by_width.iloc[::-1].head(n)[cols],
                    title=f"Widest {min(n, len(t))} simultaneous sets")
        return s

    def to_dict(self) -> dict:
        """JSON-safe: method, alpha, level, n_boot, stepdown, seed, critical values, source,
        assumption, note, median widths and the per-unit table."""
        med_s, med_m = self._median_widths()
        return json_safe({
            "method": _METHOD, "alpha": self.alpha, "level": self.level, "n_boot": self.n_boot,
            "stepdown": self.stepdown,
            "seed": self.seed if isinstance(self.seed, (int, np.integer)) else None,
            "critical_values": list(self.critical_values), "source": self.source,
            "assumption": self.assumption, "note": self.note, "n_units": len(self.table),
            "not_ranked": self.not_ranked if self.not_ranked is not None else [],
            "median_width_simultaneous": med_s, "median_width_marginal": med_m,
            "table": self.table})

    def _repr_lines(self) -> Iterable[str]:
        med_s, med_m = self._median_widths()
        yield (f"{len(self.table)} units, {self.level:.0%} sets, R = {self.n_boot}; median width "
               f"simultaneous {med_s:g}, marginal {med_m:g}")
        yield f"source {self.source or '?'}: {self.assumption or 'no assumption stated'}"
        if self.note:
            yield f"note: {self.note}"


def rank_sets(draws: ScoreDraws, *, alpha: float = 0.05, stepdown: bool = True,
              n_boot: int = 1000, seed: Any = 0,
              not_ranked: pd.DataFrame | None = None) -> RankSets:
    """Marginal and simultaneous two-sided rank confidence sets (MRSW 2024) in one object.

    Runs :func:`rank_confidence_sets` twice, ``simultaneous=True`` and ``simultaneous=False``,
    on the same ScoreDraws and the same bootstrap draws (those an int ``seed`` gives each call).
    When a pair of units has a zero-variance difference the draws are first made separable with
    ``draws.separable(seed)`` and its note is carried into the result.

    Parameters
    ----------
    draws : ScoreDraws
        theta_hat (p,) and Sigma_hat (p, p).
    alpha : float in (0, 1)
    stepdown : bool
        Romano-Wolf stepdown (default) or single step.
    n_boot : int >= 10
    seed : int or numpy Generator (the bootstrap; also the jitter of ``separable``)
    not_ranked : optional table (``unit``, ``reason``) of units left out of ``draws`` (carried
        into the result and its summary).

    Returns
    -------
    RankSets

    Raises
    ------
    TypeError, ValueError
        As :func:`rank_confidence_sets`.
    """
    if not isinstance(draws, ScoreDraws):
        raise TypeError(f"draws must be a ScoreDraws, got {type(draws).__name__}")
    used = draws.separable(seed=seed)
    # one bootstrap sample for both families (identical to what each call would draw from an
    # int seed; shared rather than consumed twice when ``seed`` is a Generator)
    boot = _boot_draws(used.cov, n_boot, seed, None)
    kw = dict(alpha=alpha, kind="two-sided", stepdown=stepdown, boot_draws=boot)
    simul = rank_confidence_sets(used, simultaneous=True, **kw)
    marg = rank_confidence_sets(used, simultaneous=False, **kw)
    table = simul[["unit", "estimate", "se", "rank"]].assign(
        simultaneous_lower=simul["lower"].to_numpy(),
        simultaneous_upper=simul["upper"].to_numpy(),
        marginal_lower=marg["lower"].to_numpy(),
        marginal_upper=marg["upper"].to_numpy())[_COLUMNS]
    table.attrs = {}
    return RankSets(table=table, alpha=float(simul.attrs["alpha"]),
                    n_boot=int(simul.attrs["n_boot"]),
                    critical_values=[float(c) for c in simul.attrs["critical_values"]],
                    source=used.source, assumption=used.assumption, note=used.note,
                    stepdown=bool(stepdown), seed=seed, not_ranked=not_ranked)
