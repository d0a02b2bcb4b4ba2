"""Bayesian / simulation rank summaries from score draws (posterior, bootstrap or Monte Carlo).

* :func:`rank_summary` -- posterior mean rank (Laird & Louis 1989), median rank, equal-tailed rank
  interval, P(rank <= k), SUCRA (Salanti, Ades & Ioannidis 2011) and optionally the Besag, Green,
  Higdon & Mengersen (1995, *Statistical Science* 10:3) joint rank band.
* :func:`rankogram`, :func:`joint_rank_band`, :func:`top_tau_credible_set`.

Every function takes the draws as an (S, K) array or DataFrame (columns = units), or a
:class:`~cityindex.validation.rank_inference.draws.ScoreDraws` built from draws.  Every draw is
ranked (higher score = better, rank 1 = best, ties share the smallest rank).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .draws import ScoreDraws, _check_alpha, _unit_labels, draw_ranks

__all__ = ["rankogram", "joint_rank_band", "top_tau_credible_set", "rank_summary"]

_DEFAULT_TOP_K = (10,)


def _draws_matrix(draws: Any, units: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(draws, ScoreDraws):
        if draws.draws is None:
            raise ValueError("this ScoreDraws holds no draws (built from estimates); rank "
                             "summaries need draws (ScoreDraws.from_draws)")
        draws = draws.draws
    default = draws.columns.to_numpy() if isinstance(draws, pd.DataFrame) else None
    x = np.asarray(draws, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 2:
        raise ValueError(f"draws need >= 1 draw and >= 2 units, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("draws contain non-finite values (NaN or inf)")
    return x, _unit_labels(units, x.shape[1], default)


def _rank_counts(ranks: np.ndarray) -> np.ndarray:
    """counts[i, r-1] = #{draws with rank_i = r}, shape (K, K)."""
    n_draws, k = ranks.shape
    flat = (np.arange(k, dtype=np.int64)[None, :] * k + (ranks.astype(np.int64) - 1)).ravel()
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def _inv_cdf(cum: np.ndarray, n: int, q: float) -> np.ndarray:
    """Smallest rank r with #{rank <= r} >= q * n (numpy's "inverted_cdf" quantile)."""
    target = q * n
    return (cum >= target - 1e-9 * max(n, 1)).argmax(axis=1) + 1


def rankogram(draws: Any, units: Sequence | None = None) -> pd.DataFrame:
    """Rankogram P(rank_i = r) from score draws.

    Parameters
    ----------
    draws : array-like, DataFrame or ScoreDraws (with draws), shape (S, K)
        S draws (posterior / bootstrap / Monte Carlo) of K scores, higher = better.
    units : K labels, optional (default the DataFrame columns or 0..K-1)

    Returns
    -------
    pandas.DataFrame, shape (K, K): rows units, columns ranks 1..K, rows sum to 1.
    """
    x, labels = _draws_matrix(draws, units)
    counts = _rank_counts(draw_ranks(x))
    k = x.shape[1]
    return pd.DataFrame(counts / x.shape[0], index=pd.Index(labels, name="unit"),
                        columns=pd.Index(np.arange(1, k + 1), name="rank"))


def joint_rank_band(draws: Any, units: Sequence | None = None, *, alpha: float = 0.05,
                    ranks: np.ndarray | None = None) -> pd.DataFrame:
    """Besag, Green, Higdon & Mengersen (1995, Stat. Sci. 10:3) simultaneous rank band.

    All marginal rank intervals are widened by the same order-statistic index t (the t-th smallest
    and t-th largest draw of each unit's rank) until at least a fraction 1 - alpha of the draws
    lie inside all K intervals at once; the narrowest such band is returned.

    Parameters
    ----------
    draws : array-like, DataFrame or ScoreDraws (with draws), shape (S, K)
    units : K labels, optional
    alpha : float in (0, 1)
    ranks : int array, shape (S, K), optional
        ``draw_ranks(draws)`` when already computed.

    Returns
    -------
    pandas.DataFrame with columns ``unit, joint_lower, joint_upper``; ``attrs["coverage"]`` is the
    fraction of draws entirely inside the band.
    """
    alpha = _check_alpha(alpha)
    x, labels = _draws_matrix(draws, units)
    r = draw_ranks(x) if ranks is None else ranks
    n = r.shape[0]
    cum = np.cumsum(_rank_counts(r), axis=1)

    def band(t: int) -> tuple[np.ndarray, np.ndarray]:
        lo = (cum >= t).argmax(axis=1) + 1
        hi = (cum >= n - t + 1).argmax(axis=1) + 1
        return lo, hi

    def coverage(t: int) -> float:
        lo, hi = band(t)
        return float(((r >= lo[None, :]) & (r <= hi[None, :])).all(axis=1).mean())

    # coverage is non-increasing in t; find the largest t in [1, ceil(n/2)] with coverage >= 1-a
    lo_t, hi_t = 1, (n + 1) // 2
    while lo_t < hi_t:
        mid = (lo_t + hi_t + 1) // 2
        if coverage(mid) >= 1.0 - alpha:
            lo_t = mid
        else:
            hi_t = mid - 1
    lo, hi = band(lo_t)
    out = pd.DataFrame({"unit": labels, "joint_lower": lo, "joint_upper": hi})
    out.attrs.update(alpha=alpha, order_index=lo_t, coverage=coverage(lo_t),
                     method="Besag, Green, Higdon & Mengersen (1995)")
    return out


def top_tau_credible_set(draws: Any, units: Sequence | None = None, *, tau: int,
                         alpha: float = 0.05, ranks: np.ndarray | None = None) -> pd.DataFrame:
    """Smallest prefix of units, ordered by decreasing P(rank <= tau), that contains the draw-wise
    top-tau set ``{i : rank_i <= tau}`` in at least a fraction 1 - alpha of the draws.

    Parameters
    ----------
    draws : array-like, DataFrame or ScoreDraws (with draws), shape (S, K)
    units : K labels, optional
    tau : int in 1..K
    alpha : float in (0, 1)
    ranks : int array, shape (S, K), optional
        ``draw_ranks(draws)`` when already computed.

    Returns
    -------
    pandas.DataFrame sorted by P(rank <= tau) descending with columns
    ``unit, p_top, in_set``; ``attrs["coverage"]`` = achieved fraction of draws.

    Raises
    ------
    ValueError
        Bad draws, alpha outside (0, 1), tau outside 1..K.
    """
    alpha = _check_alpha(alpha)
    x, labels = _draws_matrix(draws, units)
    k = x.shape[1]
    if int(tau) != tau or not 1 <= tau <= k:
        raise ValueError(f"tau must be an integer in 1..{k}, got {tau}")
    r = draw_ranks(x) if ranks is None else ranks
    top = r <= tau
    p_top = top.mean(axis=0)
    order = np.lexsort((np.arange(k), -p_top))  # stable by decreasing P(top)
    pos = np.empty(k, dtype=np.int64)
    pos[order] = np.arange(k)
    needed = np.where(top, pos[None, :] + 1, 0).max(axis=1)  # prefix length needed per draw
    cnt = np.cumsum(np.bincount(needed, minlength=k + 1))
    m = int((cnt >= (1.0 - alpha) * r.shape[0] - 1e-9 * r.shape[0]).argmax())
    in_set = np.zeros(k, dtype=bool)
    in_set[order[:m]] = True
    out = pd.DataFrame({"unit": labels[order], "p_top": p_top[order], "in_set": in_set[order]})
    out.attrs.update(tau=int(tau), alpha=alpha, coverage=float((needed <= m).mean()), size=m)
    return out


def rank_summary(
    draws: Any,
    units: Sequence | None = None,
    *,
    interval: tuple[float, float] = (0.05, 0.95),
    top_k: Sequence[int] | None = _DEFAULT_TOP_K,
    joint_alpha: float | None = None,
) -> pd.DataFrame:
    """Rank summaries from score draws (posterior, bootstrap or Monte Carlo), one row per unit.

    Every draw is ranked (1 = best, ties share the smallest rank).  Columns:

    * ``mean_rank`` -- posterior mean rank = 1 + sum_k P(theta_k > theta_i) (Laird & Louis 1989,
      J. Educ. Stat. 14:29; optimal under squared-error loss, Lin et al. 2006, Bayesian Anal.);
    * ``median_rank``, ``lower``, ``upper`` -- inverse-CDF (numpy "inverted_cdf") quantiles of the
      rank at 0.5 and ``interval`` (equal-tailed; ranks are discrete);
    * ``p_top_<k>`` -- P(rank <= k) for each k in ``top_k``;
    * ``sucra`` -- (K - mean_rank) / (K - 1) (Salanti, Ades & Ioannidis 2011, J. Clin. Epidemiol.);
    * ``joint_lower``, ``joint_upper`` -- Besag et al. (1995) joint band when ``joint_alpha``
      is given (see :func:`joint_rank_band`).

    Parameters
    ----------
    draws : array-like, DataFrame or ScoreDraws (with draws), shape (S, K)
    units : K labels, optional (default DataFrame columns or 0..K-1)
    interval : (q_lo, q_hi) with 0 <= q_lo < q_hi <= 1
    top_k : ints in 1..K, optional
        Default (10,), dropped silently when K <= 10.
    joint_alpha : float in (0, 1), optional

    Raises
    ------
    ValueError
        Non-2-D or non-finite draws, bad interval, top_k out of range, bad joint_alpha.
    """
    x, labels = _draws_matrix(draws, units)
    n, k = x.shape
    q_lo, q_hi = (float(v) for v in interval)
    if not (0.0 <= q_lo < q_hi <= 1.0):
        raise ValueError(f"interval must satisfy 0 <= lo < hi <= 1, got {interval}")
    if top_k is _DEFAULT_TOP_K:  # default: P(rank <= 10) when there are more than 10 units
        top_k = [t for t in top_k if t < k]
    top_k = [int(t) for t in np.atleast_1d(top_k)] if top_k is not None else []
    for t in top_k:
        if not 1 <= t <= k:
            raise ValueError(f"top_k values must lie in 1..{k}, got {t}")
    r = draw_ranks(x)
    cum = np.cumsum(_rank_counts(r), axis=1)
    mean_rank = r.mean(axis=0, dtype=float)
    out = pd.DataFrame({
        "unit": labels,
        "mean_rank": mean_rank,
        "median_rank": _inv_cdf(cum, n, 0.5),
        "lower": _inv_cdf(cum, n, q_lo) if q_lo > 0 else cum.astype(bool).argmax(axis=1) + 1,
        "upper": _inv_cdf(cum, n, q_hi),
    })
    for t in top_k:
        out[f"p_top_{t}"] = cum[:, t - 1] / n
    out["sucra"] = (k - mean_rank) / (k - 1)
    if joint_alpha is not None:
        band = joint_rank_band(x, labels, alpha=joint_alpha, ranks=r)
        out["joint_lower"] = band["joint_lower"].to_numpy()
        out["joint_upper"] = band["joint_upper"].to_numpy()
        out.attrs["joint_coverage"] = band.attrs["coverage"]
    out.attrs.update(interval=(q_lo, q_hi), n_draws=n)
    return out
