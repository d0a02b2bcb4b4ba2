"""Seed-free confidence sets for ranks: Holm's stepdown over pairwise z-tests with exact normal
p-values.

The same projection as Mogstad, Romano, Shaikh & Wilhelm (2024, *Review of Economic Studies*
91(1):476-518): test the pairwise hypotheses H_jk: theta_j <= theta_k with the studentised
differences T_jk = (theta_hat_j - theta_hat_k) / sigma_jk, reject with a multiple-testing
procedure that controls the family-wise error rate, and read the rank set of j off the
rejections, ``[N_minus_j + 1, p - N_plus_j]`` (N_minus_j: units significantly ahead of j,
N_plus_j: units j is significantly ahead of). Instead of the bootstrap max-t critical value the
family-wise error is controlled by Holm's (1979, *Scand. J. Statist.* 6:65) stepdown on the exact
normal p-values, which is valid under any dependence between the estimates and needs no random
draws: the same input always gives the same sets. It is the pairwise-comparison route of Al
Mohamad, van Zwet, Solari & Goeman (R package ICRanks, "Tukey"-type simultaneous intervals
for ranks from pairwise tests), with Holm instead of Tukey's studentised range so that unequal
standard errors and correlated estimates are covered exactly. It is more conservative than the
bootstrap stepdown when the pairwise statistics are strongly dependent.

* :func:`seedfree_rank_sets` -- simultaneous (all units jointly) or marginal (each unit) sets;
* :func:`seedfree_tau_best` -- the tau-best / tau-worst set by projection of the simultaneous
  one-sided sets.

Inputs are a :class:`~cityindex.validation.rank_inference.draws.ScoreDraws` (estimates and
covariance). Higher = better; rank 1 = best.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .draws import ScoreDraws, _check_alpha, point_ranks
from .frequentist import _prepare

__all__ = ["seedfree_rank_sets", "seedfree_tau_best", "holm_reject"]

METHOD = "Holm stepdown on exact normal pairwise p-values (seed-free)"


def holm_reject(pvalues: np.ndarray, alpha: float) -> np.ndarray:
    """Holm's stepdown: reject the i-th smallest p-value while p_(i) <= alpha / (m - i + 1).

    Parameters
    ----------
    pvalues : 1-D array of m p-values.
    alpha : family-wise error rate.

    Returns
    -------
    bool array (m,): rejected hypotheses.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    thresh = alpha / (m - np.arange(m))
    ok = p[order] <= thresh
    n_rej = m if ok.all() else int(np.argmin(ok))
    out = np.zeros(m, dtype=bool)
    out[order[:n_rej]] = True
    return out


def _t_matrix(draws: ScoreDraws):
    theta, sigma, labels = _prepare(draws)
    d = np.diag(sigma)
    sd = np.sqrt(np.maximum(d[:, None] + d[None, :] - 2.0 * sigma, 0.0))
    np.fill_diagonal(sd, 1.0)
    t = (theta[:, None] - theta[None, :]) / sd
    np.fill_diagonal(t, 0.0)
    return theta, sigma, labels, t


def _ahead_matrix(t: np.ndarray, alpha: float, kind: str, rows: np.ndarray | None = None
                  ) -> np.ndarray:
    """ahead[a, b] = a significantly ahead of b, Holm over the family of the given kind.

    kind "two-sided": unordered pairs, two-sided p-values; "lower": ordered pairs (k, j),
    one-sided p of "k ahead of j" (tests who is ahead of j); "upper": one-sided "j ahead of k".
    ``rows``: restrict the family to pairs involving these units (marginal sets).
    """
    p = t.shape[0]
    ahead = np.zeros((p, p), dtype=bool)
    if kind == "two-sided":
        iu, ju = np.triu_indices(p, 1)
        if rows is not None:
            keep = np.isin(iu, rows) | np.isin(ju, rows)
            iu, ju = iu[keep], ju[keep]
        tv = t[iu, ju]
        pv = 2.0 * stats.norm.sf(np.abs(tv))
        rej = holm_reject(pv, alpha)
        a = np.where(tv > 0, iu, ju)[rej]
        b = np.where(tv > 0, ju, iu)[rej]
        ahead[a, b] = True
        return ahead
    ia, ib = np.nonzero(~np.eye(p, dtype=bool))          # ordered pairs (a, b), a != b
    if rows is not None:
        keep = np.isin(ib if kind == "lower" else ia, rows)
        ia, ib = ia[keep], ib[keep]
    if kind == "lower":       # H: theta_a <= theta_b for the b of interest: a ahead of b
        pv = stats.norm.sf(t[ia, ib])
    else:                     # upper: H: theta_a <= theta_b for the a of interest
        pv = stats.norm.sf(t[ia, ib])
    rej = holm_reject(pv, alpha)
    ahead[ia[rej], ib[rej]] = True
    return ahead


def seedfree_rank_sets(draws: ScoreDraws, *, alpha: float = 0.05, simultaneous: bool = True,
                       kind: str = "two-sided") -> pd.DataFrame:
    """Seed-free rank confidence sets (see the module docstring).

    Parameters
    ----------
    draws : ScoreDraws — estimates (p,) and covariance (p, p), higher = better.
    alpha : 1 − confidence level, in (0, 1).
    simultaneous : all units' sets hold jointly with probability ≥ 1 − alpha (default), or each
        unit's set on its own (``False``: Holm within the p − 1 comparisons of each unit).
    kind : "two-sided", "lower" ([lower, p]) or "upper" ([1, upper]).

    Returns
    -------
    DataFrame, one row per unit in input order: ``unit, estimate, se, rank, lower, upper``;
    ``attrs``: alpha, simultaneous, kind, method.

    Raises
    ------
    TypeError, ValueError as :func:`~.frequentist.rank_confidence_sets` (zero-variance pairs,
    alpha outside (0, 1), unknown kind).
    """
    alpha = _check_alpha(alpha)
    if kind not in ("two-sided", "lower", "upper"):
        raise ValueError(f"kind must be 'two-sided', 'lower' or 'upper', got {kind!r}")
    theta, sigma, labels, t = _t_matrix(draws)
    p = theta.size
    if simultaneous:
        ahead = _ahead_matrix(t, alpha, kind)
        n_minus, n_plus = ahead.sum(axis=0), ahead.sum(axis=1)
    else:
        n_minus = np.zeros(p, dtype=np.int64)
        n_plus = np.zeros(p, dtype=np.int64)
        for j in range(p):
            ahead = _ahead_matrix(t, alpha, kind, rows=np.array([j]))
            n_minus[j], n_plus[j] = ahead[:, j].sum(), ahead[j, :].sum()
    lower, upper = n_minus + 1, p - n_plus
    if kind == "lower":
        upper = np.full(p, p)
    elif kind == "upper":
        lower = np.ones(p, dtype=np.int64)
    out = pd.DataFrame({"unit": labels, "estimate": theta, "se": np.sqrt(np.diag(sigma)),
                        "rank": point_ranks(theta), "lower": lower.astype(np.int64),
                        "upper": upper.astype(np.int64)})
    out.attrs.update(alpha=alpha, simultaneous=simultaneous, kind=kind, method=METHOD,
                     source=draws.source, assumption=draws.assumption)
    return out


def seedfree_tau_best(draws: ScoreDraws, *, tau: int, alpha: float = 0.05,
                      worst: bool = False) -> pd.DataFrame:
    """Seed-free tau-best (or tau-worst) set: ``{j : L_j <= tau}`` from the simultaneous lower
    one-sided sets (``{j : U_j >= p - tau + 1}`` from the upper ones), as MRSW (2024) project
    their sets, with Holm's stepdown in place of the bootstrap.

    Returns
    -------
    DataFrame sorted by point rank: ``unit, estimate, rank, lower, upper, in_set``.

    Raises
    ------
    ValueError: tau outside 1..p; as :func:`seedfree_rank_sets`.
    """
    cs = seedfree_rank_sets(draws, alpha=alpha, simultaneous=True,
                            kind="upper" if worst else "lower")
    p = len(cs)
    if int(tau) != tau or not 1 <= tau <= p:
        raise ValueError(f"tau must be an integer in 1..{p}, got {tau}")
    in_set = (cs["upper"] >= p - tau + 1) if worst else (cs["lower"] <= tau)
    out = cs.drop(columns="se").assign(in_set=in_set.to_numpy())
    out = out.sort_values(["rank", "estimate"], ascending=[True, False], kind="stable")
    out.attrs.update(cs.attrs, tau=int(tau), worst=worst)
    return out.reset_index(drop=True)
