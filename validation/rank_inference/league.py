"""Rank inference for any league table given as estimates with standard errors (or a covariance):
bootstrap and seed-free confidence sets side by side, with the Monte Carlo error of every
bootstrap bound.

:func:`league_table_sets` returns a :class:`LeagueTableSets` holding, per unit, the marginal and
simultaneous two-sided sets of Mogstad, Romano, Shaikh & Wilhelm (2024, *Review of Economic
Studies* 91(1):476-518; the max-t parametric bootstrap with the Romano–Wolf stepdown, as the R
package csranks computes them) and of the seed-free Holm construction
(:mod:`.seedfree`), the tau-best and tau-worst sets of both, the pairwise "a ahead of b" matrices,
and the Monte Carlo error of the bootstrap: the whole bootstrap is repeated with ``n_seeds``
different seeds and, for every bound and every set membership, the share of seeds that give a
different value than the reported seed (a *knife-edge* bound: its value depends on the seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

from .draws import ScoreDraws
from .frequentist import _boot_draws, pairwise_comparisons, rank_confidence_sets
from .seedfree import METHOD as SEEDFREE_METHOD
from .seedfree import _ahead_matrix, _t_matrix, seedfree_rank_sets, seedfree_tau_best

__all__ = ["LeagueTableSets", "league_table_sets", "bootstrap_bounds"]

BOUNDS = ("simultaneous_lower", "simultaneous_upper", "marginal_lower", "marginal_upper")


def bootstrap_bounds(draws: ScoreDraws, alpha: float, tau: int, n_boot: int, seed: int
                     ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One bootstrap run: (per-unit bounds table, tau-best membership, tau-worst membership)."""
    boot = _boot_draws(draws.cov, n_boot, seed, None)
    kw = dict(alpha=alpha, kind="two-sided", boot_draws=boot)
    sim = rank_confidence_sets(draws, simultaneous=True, **kw)
    mar = rank_confidence_sets(draws, simultaneous=False, **kw)
    t = sim[["unit", "estimate", "se", "rank"]].assign(
        simultaneous_lower=sim["lower"].to_numpy(), simultaneous_upper=sim["upper"].to_numpy(),
        marginal_lower=mar["lower"].to_numpy(), marginal_upper=mar["upper"].to_numpy())
    p = len(t)
    best = t["simultaneous_lower"].to_numpy() <= tau
    worst = t["simultaneous_upper"].to_numpy() >= p - tau + 1
    t.attrs = {}
    return t, best, worst


@dataclass(eq=False, repr=False)
class LeagueTableSets(Result):
    """Rank confidence sets of a league table (see the module docstring).

    Attributes
    ----------
    table : DataFrame, one row per unit (input order): ``unit, estimate, se, rank``; the
        bootstrap bounds ``simultaneous_lower/upper``, ``marginal_lower/upper`` (at ``seed``);
        the seed-free bounds ``seedfree_simultaneous_lower/upper``,
        ``seedfree_marginal_lower/upper``; ``in_tau_best``, ``in_tau_worst`` (bootstrap),
        ``seedfree_in_tau_best``, ``seedfree_in_tau_worst``; and for every bootstrap bound
        ``<bound>_changed``: the share of the ``n_seeds`` seeds whose bound differs from the
        reported one (0 = stable), ``<bound>_min``/``_max`` over the seeds, ``<bound>_mode`` (the
        value most seeds give) with ``<bound>_mode_share``, and
        ``in_tau_best_changed``/``in_tau_worst_changed``.
    pairwise : DataFrame p × p (bool), ``[a, b]`` = a significantly ahead of b (bootstrap,
        simultaneous, FWER alpha); ``pairwise_seedfree`` likewise from Holm.
    alpha, tau, n_boot, seed, n_seeds, source, assumption, note.
    """

    table: pd.DataFrame
    pairwise: pd.DataFrame
    pairwise_seedfree: pd.DataFrame
    alpha: float
    tau: int
    n_boot: int
    seed: int
    n_seeds: int
    source: str = ""
    assumption: str = ""
    note: str = ""
    seeds: list = field(default_factory=list)

    @property
    def level(self) -> float:
        return 1.0 - self.alpha

    def knife_edge(self) -> pd.DataFrame:
        """Every bootstrap bound or membership that changes with the seed: ``unit, bound,
        reported, min, max, share_changed, mode, mode_share`` sorted by share (the reported
        value is the seed's; ``mode`` is the value most seeds give)."""
        rows = []
        t = self.table
        for b in BOUNDS:
            ch = t[f"{b}_changed"] > 0
            for _, r in t[ch].iterrows():
                rows.append({"unit": r["unit"], "bound": b, "reported": int(r[b]),
                             "min": int(r[f"{b}_min"]), "max": int(r[f"{b}_max"]),
                             "share_changed": float(r[f"{b}_changed"]),
                             "mode": int(r[f"{b}_mode"]),
                             "mode_share": float(r[f"{b}_mode_share"])})
        for m in ("in_tau_best", "in_tau_worst"):
            ch = t[f"{m}_changed"] > 0
            for _, r in t[ch].iterrows():
                ch_share = float(r[f"{m}_changed"])
                rows.append({"unit": r["unit"], "bound": m, "reported": int(r[m]),
                             "min": 0, "max": 1, "share_changed": ch_share,
                             "mode": int(r[m]) if ch_share <= 0.5 else 1 - int(r[m]),
                             "mode_share": max(ch_share, 1 - ch_share)})
        out = pd.DataFrame(rows, columns=["unit", "bound", "reported", "min", "max",
                                          "share_changed", "mode", "mode_share"])
        return out.sort_values(["share_changed", "unit"], ascending=[False, True],
                               kind="stable").reset_index(drop=True)

    def tau_sets(self) -> dict[str, list]:
        t = self.table.sort_values("rank", kind="stable")
        return {"tau_best": t.loc[t["in_tau_best"], "unit"].tolist(),
                "tau_worst": t.loc[t["in_tau_worst"], "unit"].tolist(),
                "seedfree_tau_best": t.loc[t["seedfree_in_tau_best"], "unit"].tolist(),
                "seedfree_tau_worst": t.loc[t["seedfree_in_tau_worst"], "unit"].tolist()}

    # ------------------------------------------------------------------ results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> Summary:
        s = Summary("Rank confidence sets of a league table")
        ke = self.knife_edge()
        sets = self.tau_sets()
        s.add_text(
            f"{len(self.table)} units; {self.level:.0%} two-sided sets. Bootstrap: Mogstad, "
            f"Romano, Shaikh & Wilhelm (2024), max-t stepdown, R = {self.n_boot}, seed "
            f"{self.seed}; seed-free: {SEEDFREE_METHOD}.",
            f"Score uncertainty ({self.source or 'estimates'}): "
            f"{self.assumption or 'estimates with standard errors, normal'}.",
            f"τ = {self.tau} best ({len(sets['tau_best'])} units, bootstrap): "
            + ", ".join(map(str, sets["tau_best"])) + ".",
            f"τ = {self.tau} best, seed-free ({len(sets['seedfree_tau_best'])} units): "
            + ", ".join(map(str, sets["seedfree_tau_best"])) + ".",
            f"τ = {self.tau} worst ({len(sets['tau_worst'])} units, bootstrap): "
            + ", ".join(map(str, sets["tau_worst"])) + ".",
            f"Monte Carlo error over {self.n_seeds} seeds: {len(ke)} bootstrap bounds or "
            "memberships change with the seed (knife-edge); seed-free bounds never do.")
        if self.note:
            s.add_text(f"Note: {self.note}")
        cols = ["unit", "rank", "simultaneous_lower", "simultaneous_upper",
                "seedfree_simultaneous_lower", "seedfree_simultaneous_upper", "marginal_lower",
                "marginal_upper"]
        s.add_table(self.table.sort_values("rank", kind="stable")[cols], "Sets by rank")
        if len(ke):
            s.add_table(ke, "Knife-edge bootstrap bounds (share of seeds that change them)")
        return s

    def to_dict(self) -> dict:
        return json_safe({
            "alpha": self.alpha, "level": self.level, "tau": self.tau, "n_boot": self.n_boot,
            "seed": self.seed, "n_seeds": self.n_seeds, "seeds": self.seeds,
            "method_bootstrap": "Mogstad, Romano, Shaikh & Wilhelm (2024), max-t parametric "
                                "bootstrap, Romano-Wolf stepdown",
            "method_seedfree": SEEDFREE_METHOD, "source": self.source,
            "assumption": self.assumption, "note": self.note, **self.tau_sets(),
            "knife_edge": self.knife_edge(), "table": self.table})

    def _repr_lines(self) -> Iterable[str]:
        sets = self.tau_sets()
        yield (f"{len(self.table)} units, {self.level:.0%} sets, R = {self.n_boot}, "
               f"{self.n_seeds} seeds; τ={self.tau} best: {len(sets['tau_best'])} units")
        yield f"knife-edge bootstrap bounds: {len(self.knife_edge())}"


def league_table_sets(draws: ScoreDraws, *, alpha: float = 0.05, tau: int = 5,
                      n_boot: int = 1000, seed: int = 0, n_seeds: int = 20) -> LeagueTableSets:
    """Bootstrap and seed-free rank sets of a league table, with the bootstrap's Monte Carlo
    error (see the module docstring).

    Parameters
    ----------
    draws : ScoreDraws (e.g. :meth:`ScoreDraws.from_estimates` with ``se`` or ``cov``).
    alpha : 1 − confidence level.
    tau : the τ of the τ-best and τ-worst sets.
    n_boot : bootstrap draws R of each run.
    seed : the seed of the reported bootstrap run.
    n_seeds : how many seeds (``seed``, ``seed + 1``, …) the Monte Carlo error is measured over
        (1: not measured).

    Returns
    -------
    LeagueTableSets

    Raises
    ------
    TypeError, ValueError as :func:`~.frequentist.rank_confidence_sets`; tau outside 1..p;
    n_seeds < 1.
    """
    if not isinstance(draws, ScoreDraws):
        raise TypeError(f"draws must be a ScoreDraws, got {type(draws).__name__}")
    p = draws.n_units
    if int(tau) != tau or not 1 <= tau <= p:
        raise ValueError(f"tau must be an integer in 1..{p}, got {tau}")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    used = draws.separable(seed=seed)
    seeds = [int(seed) + i for i in range(int(n_seeds))]
    runs = [bootstrap_bounds(used, alpha, int(tau), n_boot, s) for s in seeds]
    table, best, worst = runs[0]
    for b in BOUNDS:
        vals = np.stack([r[0][b].to_numpy() for r in runs])      # seeds × units
        table[f"{b}_changed"] = (vals != vals[0]).mean(axis=0)
        table[f"{b}_min"] = vals.min(axis=0)
        table[f"{b}_max"] = vals.max(axis=0)
        # the value most seeds give (smallest on a tie), and how many give it
        counts = np.stack([(vals == v).sum(axis=0) for v in vals])      # seeds × units
        top = np.lexsort((vals, -counts), axis=0)[0]
        table[f"{b}_mode"] = vals[top, np.arange(vals.shape[1])]
        table[f"{b}_mode_share"] = counts[top, np.arange(vals.shape[1])] / len(seeds)
    table["in_tau_best"] = best
    table["in_tau_worst"] = worst
    for name, k in (("in_tau_best", 1), ("in_tau_worst", 2)):
        mem = np.stack([r[k] for r in runs])
        table[f"{name}_changed"] = (mem != mem[0]).mean(axis=0)
    sf_s = seedfree_rank_sets(used, alpha=alpha, simultaneous=True)
    sf_m = seedfree_rank_sets(used, alpha=alpha, simultaneous=False)
    table["seedfree_simultaneous_lower"] = sf_s["lower"].to_numpy()
    table["seedfree_simultaneous_upper"] = sf_s["upper"].to_numpy()
    table["seedfree_marginal_lower"] = sf_m["lower"].to_numpy()
    table["seedfree_marginal_upper"] = sf_m["upper"].to_numpy()
    sb = seedfree_tau_best(used, tau=tau, alpha=alpha).set_index("unit")["in_set"]
    sw = seedfree_tau_best(used, tau=tau, alpha=alpha, worst=True).set_index("unit")["in_set"]
    table["seedfree_in_tau_best"] = sb.reindex(table["unit"]).to_numpy()
    table["seedfree_in_tau_worst"] = sw.reindex(table["unit"]).to_numpy()
    pw = pairwise_comparisons(used, alpha=alpha, seed=seed, n_boot=n_boot, form="matrix")
    pw.attrs = {}
    _, _, labels, t = _t_matrix(used)
    pws = pd.DataFrame(_ahead_matrix(t, alpha, "two-sided"), index=labels, columns=labels)
    return LeagueTableSets(table, pw, pws, float(alpha), int(tau), int(n_boot), int(seed),
                           int(n_seeds), used.source, used.assumption, used.note, seeds)
