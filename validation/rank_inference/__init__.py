"""Inference on ranks: frequentist confidence sets and Bayesian/simulation rank summaries.

Start from a :class:`ScoreDraws` -- the score uncertainty of p units: estimates ``theta_hat``
(higher = better), covariance ``Sigma_hat``, optionally the draws they came from, and a statement
of what that uncertainty assumes (:meth:`ScoreDraws.from_draws`,
:meth:`ScoreDraws.from_estimates`, :meth:`ScoreDraws.from_ranks`).

Frequentist (module ``frequentist``; Mogstad, Romano, Shaikh & Wilhelm 2024, *Review of Economic
Studies* 91(1):476-518): :func:`rank_confidence_sets`, :func:`tau_best`,
:func:`pairwise_comparisons`, the Klein, Wright & Wieczorek (2020) baseline
:func:`rank_confidence_sets_kww`, and :func:`rank_sets` -> :class:`RankSets` (marginal and
simultaneous sets in one result object).

Seed-free (module ``seedfree``): :func:`seedfree_rank_sets`, :func:`seedfree_tau_best` (Holm's
stepdown on exact normal pairwise p-values). League tables given as estimates with standard
errors (module ``league``): :func:`league_table_sets` -> :class:`LeagueTableSets` (bootstrap and
seed-free sets side by side, with the Monte Carlo error of every bootstrap bound).

Bayesian / simulation (module ``bayesian``): :func:`rank_summary` (posterior mean rank, rank
quantiles, P(rank <= k), SUCRA, the Besag et al. 1995 joint band), :func:`rankogram`,
:func:`joint_rank_band`, :func:`top_tau_credible_set`.

Ranks (module ``draws``): :func:`point_ranks`, :func:`draw_ranks` (1 = best; ties share the
smallest rank; a NaN score is never ranked).
"""

from .bayesian import joint_rank_band, rank_summary, rankogram, top_tau_credible_set
from .draws import ScoreDraws, draw_ranks, point_ranks
from .frequentist import (
    pairwise_comparisons,
    rank_confidence_sets,
    rank_confidence_sets_kww,
    tau_best,
)
from .league import LeagueTableSets, league_table_sets
from .result import RankSets, rank_sets
from .seedfree import seedfree_rank_sets, seedfree_tau_best

__all__ = [
    "ScoreDraws",
    "RankSets",
    "rank_sets",
    "rank_confidence_sets",
    "tau_best",
    "pairwise_comparisons",
    "rank_confidence_sets_kww",
    "seedfree_rank_sets",
    "seedfree_tau_best",
    "league_table_sets",
    "LeagueTableSets",
    "draw_ranks",
    "point_ranks",
    "rank_summary",
    "rankogram",
    "joint_rank_band",
    "top_tau_credible_set",
]
