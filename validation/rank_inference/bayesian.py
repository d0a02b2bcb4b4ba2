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
    if np.isinf(x).any():
        raise ValueError("draws contain non-finite values (inf); a degenerate draw of a unit "
                         "is NaN (not ranked)")
    return x, _unit_labels(units, x.shape[1], default)


def _rank_counts(ranks: np.ndarray) -> np.ndarray:
    """counts[i, r-1] = #{draws with rank_i = r}, shape (K, K); NaN ranks (units not ranked in
    a draw) are not counted."""
    n_draws, k = ranks.shape
    ok = ~np.isnan(ranks) if ranks.dtype.kind == "f" else np.ones(ranks.shape, bool)
    rr = np.where(ok, ranks, 1).astype(np.int64)
    flat = (np.arange(k, dtype=np.int64)[None, :] * k + (rr - 1))[ok]
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def _inv_cdf(cum: np.ndarray, n: Any, q: float) -> np.ndarray:
    """Smallest rank r with #{rank <= r} >= q * n (numpy's "inverted_cdf" quantile); ``n``
    per unit (the unit's valid draws) or one number."""
    n = np.broadcast_to(np.asarray(n, dtype=float), (cum.shape[0],))
    target = (q * n)[:, None]
    return (cum >= target - 1e-9 * np.maximum(n, 1)[:, None]).argmax(axis=1) + 1


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
    n_valid = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts / n_valid           # over each unit's valid draws (NaN: none)
    out = pd.DataFrame(share, index=pd.Index(labels, name="unit"),
                       columns=pd.Index(np.arange(1, k + 1), name="rank"))
    out.attrs["n_valid"] = n_valid[:, 0].tolist()
    return out


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
    quantile: str = "inverted_cdf",
    min_draws: int = 10,
) -> pd.DataFrame:
    """Rank summaries from score draws (posterior, bootstrap or Monte Carlo), one row per unit.

    Every draw is ranked (1 = best, ties share the smallest rank). A NaN score is a degenerate
    replicate of that unit: it is dropped for that unit only (never ranked, and not counted in
    the other units' ranks of that draw); every statistic of a unit rests on its ``n_valid``
    draws, and a unit with fewer than ``min_draws`` valid draws gets no summary (NaN) and a
    ``note`` saying why. Columns:

    * ``n_valid`` -- the draws the unit's statistics rest on;
    * ``mean_rank`` -- posterior mean rank = 1 + sum_k P(theta_k > theta_i) (Laird & Louis 1989,
      J. Educ. Stat. 14:29; optimal under squared-error loss, Lin et al. 2006, Bayesian Anal.);
    * ``median_rank``, ``lower``, ``upper`` -- quantiles of the rank at 0.5 and ``interval``
      (equal-tailed) by the rule ``quantile``: "inverted_cdf" (default: whole ranks that occurred;
      numpy's rule) or "linear" (R's type 7, as COINr reports quantiles);
    * ``p_top_<k>`` -- P(rank <= k) for each k in ``top_k``;
    * ``sucra`` -- mean of (K_s - rank) / (K_s - 1) over the valid draws, K_s the units ranked in
      draw s (= (K - mean_rank) / (K - 1) without NaN; Salanti, Ades & Ioannidis 2011);
    * ``joint_lower``, ``joint_upper`` -- Besag et al. (1995) joint band when ``joint_alpha``
      is given (see :func:`joint_rank_band`; over the draws where every unit has a score);
    * ``note`` -- empty, or why the unit has no summary.

    Parameters
    ----------
    draws : array-like, DataFrame or ScoreDraws (with draws), shape (S, K); NaN allowed
    units : K labels, optional (default DataFrame columns or 0..K-1)
    interval : (q_lo, q_hi) with 0 <= q_lo < q_hi <= 1
    top_k : ints in 1..K, optional
        Default (10,), dropped silently when K <= 10.
    joint_alpha : float in (0, 1), optional
    quantile : "inverted_cdf" or "linear" (R type 7)
    min_draws : int >= 1, the fewest valid draws a unit needs for a summary

    Raises
    ------
    ValueError
        Non-2-D draws or draws with inf, bad interval, top_k out of range, bad joint_alpha,
        unknown quantile rule, min_draws < 1.
    """
    x, labels = _draws_matrix(draws, units)
    n, k = x.shape
    q_lo, q_hi = (float(v) for v in interval)
    if not (0.0 <= q_lo < q_hi <= 1.0):
        raise ValueError(f"interval must satisfy 0 <= lo < hi <= 1, got {interval}")
    if quantile not in ("inverted_cdf", "linear"):
        raise ValueError(f"quantile must be 'inverted_cdf' or 'linear' (R type 7), got "
                         f"{quantile!r}")
    if int(min_draws) != min_draws or min_draws < 1:
        raise ValueError(f"min_draws must be a positive integer, got {min_draws}")
    if top_k is _DEFAULT_TOP_K:  # default: P(rank <= 10) when there are more than 10 units
        top_k = [t for t in top_k if t < k]
    top_k = [int(t) for t in np.atleast_1d(top_k)] if top_k is not None else []
    for t in top_k:
        if not 1 <= t <= k:
            raise ValueError(f"top_k values must lie in 1..{k}, got {t}")
    r = draw_ranks(x)
    counts = _rank_counts(r)
    n_valid = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    rf = r.astype(float)
    valid = ~np.isnan(rf)
    k_s = valid.sum(axis=1, keepdims=True).astype(float)      # units ranked in each draw
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt = np.maximum(valid.sum(axis=0), 1)
        mean_rank = np.where(n_valid > 0, np.where(valid, rf, 0.0).sum(axis=0) / cnt, np.nan)
        sv = valid & (k_s > 1)
        sucra = np.where(sv.any(axis=0), np.where(sv, (k_s - rf) / (k_s - 1), 0.0).sum(axis=0)
                         / np.maximum(sv.sum(axis=0), 1), np.nan)
    if quantile == "inverted_cdf":
        med = _inv_cdf(cum, n_valid, 0.5).astype(float)
        lo = (_inv_cdf(cum, n_valid, q_lo) if q_lo > 0
              else cum.astype(bool).argmax(axis=1) + 1).astype(float)
        hi = _inv_cdf(cum, n_valid, q_hi).astype(float)
    else:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)       # all-NaN units
            med, lo, hi = np.nanquantile(rf, [0.5, q_lo, q_hi], axis=0, method="linear")
    few = n_valid < int(min_draws)
    note = np.where(n_valid == 0, "not ranked in any draw",
                    np.char.add(np.char.add("too few valid draws (",
                                            n_valid.astype(str)),
                                f" < {int(min_draws)}); no interval"))
    note = np.where(few, note, "")
    blank = np.where(few, np.nan, 1.0)
    out = pd.DataFrame({
        "unit": labels,
        "n_valid": n_valid.astype(np.int64),
        "mean_rank": mean_rank * blank,
        "median_rank": med * blank,
        "lower": lo * blank,
        "upper": hi * blank,
    })
    if not few.any() and n_valid.min() == n and quantile == "inverted_cdf":
        for c in ("median_rank", "lower", "upper"):
            out[c] = out[c].astype(np.int64)              # whole ranks, as before
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in top_k:
            out[f"p_top_{t}"] = np.where(few, np.nan, cum[:, t - 1] / np.maximum(n_valid, 1))
    out["sucra"] = sucra * blank
    if joint_alpha is not None:
        complete = valid.all(axis=1)
        if complete.sum() >= 1:
            band = joint_rank_band(x[complete], labels, alpha=joint_alpha, ranks=r[complete])
            out["joint_lower"] = band["joint_lower"].to_numpy()
            out["joint_upper"] = band["joint_upper"].to_numpy()
            out.attrs["joint_coverage"] = band.attrs["coverage"]
            out.attrs["joint_n_draws"] = int(complete.sum())
        else:
            out["joint_lower"] = np.nan
            out["joint_upper"] = np.nan
            out.attrs["joint_note"] = "no draw in which every unit has a score"
    out["note"] = note
    out.attrs.update(interval=(q_lo, q_hi), n_draws=n, quantile=quantile,
                     min_draws=int(min_draws))
    return out
