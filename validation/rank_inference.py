"""Inference on ranks: frequentist confidence sets and Bayesian/simulation rank summaries.

Frequentist part (estimates ``theta_hat`` with covariance ``Sigma_hat``)
------------------------------------------------------------------------
* :func:`rank_confidence_sets` -- marginal or simultaneous confidence sets for ranks by the
  max-t parametric bootstrap over pairwise differences with the Romano-Wolf stepdown
  (Mogstad, Romano, Shaikh & Wilhelm, "Inference for ranks with applications to mobility across
  neighbourhoods and academic achievement across countries", *Review of Economic Studies*
  91(1):476-518, 2024, doi:10.1093/restud/rdad006: the marginal and simultaneous confidence
  sets for ranks; same algorithm as the authors' R package csranks, ``csranks()``, described in
  arXiv:2401.15205).
* :func:`tau_best` -- the tau-best (or tau-worst) set by projection of the simultaneous one-sided
  sets (MRSW 2024, tau-best confidence sets; csranks ``cstaubest()``).
* :func:`pairwise_comparisons` -- "unit a is ahead of unit b" tests from the simultaneous stepdown.
* :func:`rank_confidence_sets_kww` -- the Klein, Wright & Wieczorek (2020, *JRSS-C* 69:589)
  Bonferroni/Sidak baseline.

Bayesian / simulation part (``draws``: S x K array of score draws)
-----------------------------------------------------------------
* :func:`rank_summary` -- posterior mean rank (Laird & Louis 1989), median rank, equal-tailed rank
  interval, P(rank <= k), SUCRA (Salanti, Ades & Ioannidis 2011) and optionally the Besag, Green,
  Higdon & Mengersen (1995, *Statistical Science* 10:3) joint rank band.
* :func:`rankogram`, :func:`joint_rank_band`, :func:`top_tau_credible_set`, :func:`draw_ranks`.

Conventions
-----------
Higher score = better.  Rank ``r_j = 1 + #{k : theta_k > theta_j}`` (1 = best; ties share the
smallest rank).  Every random result takes a ``seed``; the same seed gives the same result.
Everything is vectorised over bootstrap draws; memory is bounded by processing pairs of units in
chunks (``max_chunk_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "rank_confidence_sets",
    "tau_best",
    "pairwise_comparisons",
    "rank_confidence_sets_kww",
    "draw_ranks",
    "rank_summary",
    "rankogram",
    "joint_rank_band",
    "top_tau_credible_set",
    "point_ranks",
]

_KINDS = ("two-sided", "lower", "upper")
_DEFAULT_CHUNK_BYTES = 32 * 2**20  # 32 MiB per working array
_DEFAULT_TOP_K = (10,)


# ----------------------------------------------------------------------------------------------
# helpers: ranks and input validation
# ----------------------------------------------------------------------------------------------
def point_ranks(scores: Any) -> np.ndarray:
    """Competition ("min") ranks, 1 = highest score: ``r_j = 1 + #{k : s_k > s_j}``.

    Parameters
    ----------
    scores : array-like, shape (n_units,) or (n_draws, n_units)
        Ranked along the last axis.

    Returns
    -------
    numpy.ndarray of int64, same shape as ``scores``.
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim == 1:
        return draw_ranks(x[None, :])[0].astype(np.int64)
    return draw_ranks(x).astype(np.int64)


def draw_ranks(draws: Any) -> np.ndarray:
    """Rank every row (draw) of an (S, K) array, 1 = highest, ties share the smallest rank.

    Vectorised: one ``argsort`` along the rows, no Python loop over draws.

    Parameters
    ----------
    draws : array-like, shape (S, K)

    Returns
    -------
    numpy.ndarray of int32, shape (S, K).
    """
    x = np.asarray(draws, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {x.shape}")
    n_draws, k = x.shape
    order = np.argsort(-x, axis=1, kind="stable")
    v = np.take_along_axis(x, order, axis=1)
    new_group = np.ones_like(v, dtype=bool)
    new_group[:, 1:] = v[:, 1:] != v[:, :-1]
    start = np.where(new_group, np.arange(k, dtype=np.int32)[None, :], 0)
    np.maximum.accumulate(start, axis=1, out=start)
    ranks = np.empty((n_draws, k), dtype=np.int32)
    np.put_along_axis(ranks, order, start + 1, axis=1)
    return ranks


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0) or not np.isfinite(alpha):
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return alpha


def _unit_labels(units: Any, n: int, default: Any = None) -> np.ndarray:
    if units is None:
        if default is not None:
            return np.asarray(default)
        return np.arange(n)
    labels = np.asarray(list(units))
    if labels.shape != (n,):
        raise ValueError(f"units has {labels.size} labels but there are {n} units")
    if len(pd.unique(labels)) != n:
        raise ValueError("units labels must be unique")
    return labels


def _prepare(
    estimates: Any,
    cov: Any,
    se: Any,
    draws: Any,
    units: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs; return (theta_hat (p,), Sigma_hat (p, p), labels (p,))."""
    default_labels = None
    if isinstance(estimates, pd.Series):
        default_labels = estimates.index.to_numpy()
    if draws is not None:
        if isinstance(draws, pd.DataFrame) and default_labels is None:
            default_labels = draws.columns.to_numpy()
        d = np.asarray(draws, dtype=float)
        if d.ndim != 2:
            raise ValueError(f"draws must be 2-D (n_draws, n_units), got shape {d.shape}")
        if d.shape[0] < 2:
            raise ValueError("draws needs at least 2 rows to estimate a covariance")
        if not np.isfinite(d).all():
            raise ValueError("draws contain non-finite values (NaN or inf)")
        if cov is not None or se is not None:
            raise ValueError("give either draws or cov/se, not both")
        theta = d.mean(axis=0) if estimates is None else np.asarray(estimates, dtype=float)
        sigma = np.atleast_2d(np.cov(d, rowvar=False))
    else:
        if estimates is None:
            raise ValueError("estimates are required unless draws are given")
        theta = np.asarray(estimates, dtype=float)
        if (cov is None) == (se is None):
            raise ValueError("give exactly one of cov (covariance matrix) or se (standard errors)")
        if cov is not None:
            sigma = np.asarray(cov, dtype=float)
        else:
            s = np.asarray(se, dtype=float)
            if s.shape != theta.shape:
                raise ValueError(f"se has shape {s.shape} but estimates have shape {theta.shape}")
            if not np.isfinite(s).all() or (s < 0).any():
                raise ValueError("se must be finite and non-negative")
            sigma = np.diag(s**2)
    if theta.ndim != 1 or theta.size < 2:
        raise ValueError(f"estimates must be 1-D with at least 2 units, got shape {theta.shape}")
    p = theta.size
    if not np.isfinite(theta).all():
        raise ValueError("estimates contain non-finite values (NaN or inf)")
    if sigma.shape != (p, p):
        raise ValueError(f"cov has shape {sigma.shape}, expected ({p}, {p}) for {p} estimates")
    if not np.isfinite(sigma).all():
        raise ValueError("cov contains non-finite values (NaN or inf)")
    scale = max(float(np.abs(np.diag(sigma)).max()), np.finfo(float).tiny)
    if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-10 * scale):
        raise ValueError("cov must be symmetric")
    sigma = 0.5 * (sigma + sigma.T)
    eig_min = float(np.linalg.eigvalsh(sigma).min())
    if eig_min < -1e-8 * scale:
        raise ValueError(f"cov is not positive semi-definite (smallest eigenvalue {eig_min:.3g})")
    d = np.diag(sigma)
    var_diff = d[:, None] + d[None, :] - 2.0 * sigma
    np.fill_diagonal(var_diff, np.inf)
    bad = np.argwhere(var_diff <= 1e-12 * scale)
    labels = _unit_labels(units, p, default_labels)
    if bad.size:
        i, j = bad[0]
        raise ValueError(
            f"the difference between units {labels[i]!r} and {labels[j]!r} has zero variance "
            f"({len(bad) // 2} such pair(s)); rank inference needs Var(theta_j - theta_k) > 0"
        )
    return theta, sigma, labels


def _boot_draws(sigma: np.ndarray, n_boot: int, seed: Any, boot_draws: Any) -> np.ndarray:
    """Z* ~ N(0, Sigma_hat), shape (n_boot, p)."""
    p = sigma.shape[0]
    if boot_draws is not None:
        z = np.asarray(boot_draws, dtype=float)
        if z.ndim != 2 or z.shape[1] != p:
            raise ValueError(f"boot_draws must have shape (n_boot, {p}), got {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError("boot_draws contain non-finite values")
        return z
    n_boot = int(n_boot)
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}")
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n_boot, p))
    off = sigma - np.diag(np.diag(sigma))
    if not off.any():
        return e * np.sqrt(np.diag(sigma))[None, :]
    w, v = np.linalg.eigh(sigma)
    root = v * np.sqrt(np.clip(w, 0.0, None))[None, :]
    return e @ root.T


def _indices(indices: Any, labels: np.ndarray) -> np.ndarray:
    p = labels.size
    if indices is None:
        return np.arange(p)
    pos = {lab: i for i, lab in enumerate(labels.tolist())}
    items = [indices] if np.isscalar(indices) else list(indices)
    out = []
    for x in items:
        x = x.item() if isinstance(x, np.generic) else x
        if x in pos:
            out.append(pos[x])
        elif isinstance(x, (int, np.integer)) and 0 <= int(x) < p:
            out.append(int(x))
        else:
            raise ValueError(f"unknown unit {x!r} in indices")
    out = np.unique(np.asarray(out, dtype=np.int64))
    if out.size == 0:
        raise ValueError("indices is empty")
    return out


# ----------------------------------------------------------------------------------------------
# core: max-t stepdown over a set of ordered pairs (simultaneous)
# ----------------------------------------------------------------------------------------------
@dataclass
class _StepdownResult:
    a: np.ndarray  # ordered pairs sorted by T descending: hypothesis theta_a <= theta_b
    b: np.ndarray
    t: np.ndarray
    n_rejected: int
    critical_values: list[float]


def _stepdown_pairs(
    zt: np.ndarray,
    theta: np.ndarray,
    sigma: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    alpha: float,
    stepdown: bool,
    symmetric: bool,
    max_chunk_bytes: int,
) -> _StepdownResult:
    """Romano-Wolf max-t stepdown for H_ab: theta_a <= theta_b over the given ordered pairs.

    ``zt`` is Z*^T, shape (p, R).  With ``symmetric=True`` the reverse pair (b, a) of every given
    pair is also in the family (its statistic is the negative); pairs must then be oriented so
    that T_ab >= 0, and reverse pairs (T <= 0) are never rejected (true whenever alpha <= 1/2,
    because the critical value is then >= 0).  Because every rejection region is {T > c} with c
    non-increasing over steps, the not-yet-rejected set is always a suffix of the pairs sorted by T
    descending; one chunked pass stores per-block maxima of T*, and each step only recomputes one
    partial block.
    """
    n_r = zt.shape[1]
    d = np.diag(sigma)
    sd = np.sqrt(d[a] + d[b] - 2.0 * sigma[a, b])
    t = (theta[a] - theta[b]) / sd
    order = np.argsort(-t, kind="stable")
    a, b, sd, t = a[order], b[order], sd[order], t[order]
    n_pairs = a.size
    block = int(max(64, min(n_pairs, max_chunk_bytes // (8 * max(n_r, 1)))))
    n_blocks = -(-n_pairs // block)
    inv_sd = 1.0 / sd

    def tstar(lo: int, hi: int) -> np.ndarray:  # (hi-lo, R)
        out = zt[a[lo:hi]] - zt[b[lo:hi]]
        out *= inv_sd[lo:hi, None]
        return out

    bmax = np.empty((n_blocks + 1, n_r))
    bmax[n_blocks] = -np.inf
    neg_max = np.full(n_r, -np.inf)
    for i in range(n_blocks):
        ts = tstar(i * block, min(n_pairs, (i + 1) * block))
        bmax[i] = ts.max(axis=0)
        if symmetric:
            np.maximum(neg_max, -ts.min(axis=0), out=neg_max)
    # suffix maxima over blocks
    bmax = np.maximum.accumulate(bmax[::-1], axis=0)[::-1]

    def suffix_max(m: int) -> np.ndarray:
        i0 = m // block
        out = bmax[i0 + 1].copy() if i0 + 1 <= n_blocks else np.full(n_r, -np.inf)
        hi = min(n_pairs, (i0 + 1) * block)
        if m < hi:
            np.maximum(out, tstar(m, hi).max(axis=0), out=out)
        if symmetric:
            np.maximum(out, neg_max, out=out)
        return out

    neg_t = -t  # ascending for searchsorted
    m, crits = 0, []
    while m < n_pairs:
        mx = suffix_max(m)
        if not np.isfinite(mx).any():
            break
        c = float(np.quantile(mx, 1.0 - alpha))
        crits.append(c)
        m_new = int(np.searchsorted(neg_t, -c, side="left"))  # #{T > c}
        m_new = max(m_new, m)
        if not stepdown or m_new == m:
            m = m_new
            break
        m = m_new
    return _StepdownResult(a=a, b=b, t=t, n_rejected=m, critical_values=crits)


def _pairs_for(p: int, J: np.ndarray, kind: str, theta: np.ndarray):
    """Ordered pairs (a, b) [H: theta_a <= theta_b] and whether the family is symmetric."""
    in_j = np.zeros(p, dtype=bool)
    in_j[J] = True
    if kind == "two-sided" or in_j.all():
        iu, ju = np.triu_indices(p, 1)
        keep = in_j[iu] | in_j[ju]
        iu, ju = iu[keep], ju[keep]
        flip = theta[iu] < theta[ju]
        a = np.where(flip, ju, iu)
        b = np.where(flip, iu, ju)
        return a.astype(np.intp), b.astype(np.intp), True
    aa, bb = np.meshgrid(np.arange(p), J, indexing="ij")
    aa, bb = aa.ravel(), bb.ravel()
    keep = aa != bb
    aa, bb = aa[keep], bb[keep]
    if kind == "lower":  # H_kj: theta_k <= theta_j, k ahead of j if rejected
        return aa.astype(np.intp), bb.astype(np.intp), False
    return bb.astype(np.intp), aa.astype(np.intp), False  # upper: H_jk, j ahead of k


def _simultaneous_rejections(theta, sigma, z, J, kind, alpha, stepdown, max_chunk_bytes):
    p = theta.size
    a, b, symmetric = _pairs_for(p, J, kind, theta)
    res = _stepdown_pairs(np.ascontiguousarray(z.T), theta, sigma, a, b, alpha, stepdown,
                          symmetric, max_chunk_bytes)
    rej = np.zeros((p, p), dtype=bool)
    m = res.n_rejected
    rej[res.a[:m], res.b[:m]] = True
    return rej, res


# ----------------------------------------------------------------------------------------------
# core: marginal sets, vectorised over units in chunks
# ----------------------------------------------------------------------------------------------
def _marginal_counts(theta, sigma, z, J, kind, alpha, stepdown, max_chunk_bytes):
    """For each j in J, (N_minus_j, N_plus_j) from the stepdown with family {j}."""
    p, n_r = theta.size, z.shape[0]
    zt = np.ascontiguousarray(z.T)  # (p, R)
    d = np.diag(sigma)
    n_minus = np.zeros(J.size, dtype=np.int64)
    n_plus = np.zeros(J.size, dtype=np.int64)
    chunk = int(max(1, max_chunk_bytes // (8 * n_r * p)))
    ar = np.arange(p)
    for lo in range(0, J.size, chunk):
        jj = J[lo:lo + chunk]
        c = jj.size
        sd = np.sqrt(d[jj, None] + d[None, :] - 2.0 * sigma[jj, :])  # (c, p)
        sd[np.arange(c), jj] = 1.0
        t = (theta[jj, None] - theta[None, :]) / sd  # T_jk, j ahead of k if large
        u = zt[jj][:, None, :] - zt[None, :, :]  # (c, p, R): T*_jk (unscaled)
        u /= sd[:, :, None]
        self_mask = ar[None, :] == jj[:, None]
        if kind == "two-sided":
            s = np.where(t >= 0, 1.0, -1.0)
            v = np.abs(t)
            u *= s[:, :, None]
        elif kind == "upper":
            s = np.ones_like(t)
            v = t.copy()
        else:  # lower: H_kj, statistic T_kj = -T_jk
            s = -np.ones_like(t)
            v = -t
            np.negative(u, out=u)
        v[self_mask] = -np.inf
        if kind == "two-sided":  # max over the reverse (never rejectable) pairs
            u[self_mask] = np.inf
            neg_max = -u.min(axis=1)  # (c, R)
        u[self_mask] = -np.inf
        order = np.argsort(-v, axis=1, kind="stable")  # self last
        v_sorted = np.take_along_axis(v, order, axis=1)
        u = np.take_along_axis(u, order[:, :, None], axis=1)
        # suffix max along sorted pairs; append -inf column for "all rejected"
        suff = np.maximum.accumulate(u[:, ::-1, :], axis=1)[:, ::-1, :]
        del u
        n_cand = p - 1
        m = np.zeros(c, dtype=np.int64)
        active = np.ones(c, dtype=bool)
        first = True
        while active.any():
            idx = np.where(active)[0]
            mm = np.minimum(m[idx], p - 1)
            mx = suff[idx, mm, :]  # (n_active, R)
            if kind == "two-sided":
                mx = np.maximum(mx, neg_max[idx])
            done_all = m[idx] >= n_cand
            crit = np.full(idx.size, np.inf)
            ok = ~done_all
            if ok.any():
                crit[ok] = np.quantile(mx[ok], 1.0 - alpha, axis=1)
            m_new = (v_sorted[idx] > crit[:, None]).sum(axis=1)
            m_new = np.maximum(m_new, m[idx])
            changed = m_new != m[idx]
            m[idx] = m_new
            if not stepdown and first:
                break
            first = False
            active[idx[~changed | done_all]] = False
        # count rejections by direction
        rejected_pos = np.arange(p)[None, :] < m[:, None]  # in sorted order
        s_sorted = np.take_along_axis(s, order, axis=1)
        ahead_of_j = (rejected_pos & (s_sorted < 0)).sum(axis=1)  # k ahead of j
        behind_j = (rejected_pos & (s_sorted > 0)).sum(axis=1)  # j ahead of k
        n_minus[lo:lo + c] = ahead_of_j
        n_plus[lo:lo + c] = behind_j
    return n_minus, n_plus


# ----------------------------------------------------------------------------------------------
# public frequentist API
# ----------------------------------------------------------------------------------------------
def rank_confidence_sets(
    estimates: Any = None,
    cov: Any = None,
    se: Any = None,
    *,
    draws: Any = None,
    units: Sequence | None = None,
    alpha: float = 0.05,
    simultaneous: bool = True,
    kind: str = "two-sided",
    stepdown: bool = True,
    indices: Sequence | None = None,
    n_boot: int = 1000,
    seed: Any = 0,
    boot_draws: Any = None,
    max_chunk_bytes: int = _DEFAULT_CHUNK_BYTES,
) -> pd.DataFrame:
    """Confidence sets for ranks (Mogstad, Romano, Shaikh & Wilhelm 2024).

    For every unit j the set ``[lower_j, upper_j]`` contains the true rank ``r_j`` with
    probability >= 1 - alpha (``simultaneous=False``: per unit), or all true ranks of the units of
    interest lie in their sets jointly with probability >= 1 - alpha (``simultaneous=True``).
    Pairwise hypotheses H_jk: theta_j <= theta_k are tested with the max-t statistic
    ``(theta_j - theta_k) / sigma_jk`` whose null distribution comes from a parametric bootstrap
    ``Z* ~ N(0, Sigma_hat)``; with ``stepdown=True`` the Romano-Wolf (2005, *Econometrica*
    73:1237) stepdown is applied (MRSW 2024, marginal and simultaneous confidence sets).
    Then ``lower = N_minus + 1``, ``upper = p - N_plus`` where N_minus (N_plus) counts the units
    significantly ahead of (behind) j.

    Parameters
    ----------
    estimates : array-like or Series, shape (p,)
        Point estimates theta_hat (higher = better). May be omitted when ``draws`` is given.
    cov : array-like, shape (p, p), optional
        Estimated covariance Sigma_hat (symmetric positive semi-definite).
    se : array-like, shape (p,), optional
        Standard errors (independent estimates; Sigma_hat = diag(se**2)).
    draws : array-like, shape (n_draws, p), optional
        Replications of the scores (bootstrap / posterior / Monte Carlo); theta_hat = column
        means (unless ``estimates`` given) and Sigma_hat = sample covariance.
    units : sequence of p labels, optional
        Defaults to the Series index / DataFrame columns, else 0..p-1.
    alpha : float in (0, 1)
        1 - confidence level.
    simultaneous : bool
        Joint sets for the units of interest (default) or one marginal set per unit.
    kind : {"two-sided", "lower", "upper"}
        "lower" gives ``[lower, p]`` (only tests who is ahead of j), "upper" gives ``[1, upper]``.
    stepdown : bool
        Romano-Wolf stepdown (default) or the single-step critical value.
    indices : sequence, optional
        Units of interest (labels or positions); default all. Rows are returned for these only.
    n_boot : int
        Bootstrap replications R (default 1000).
    seed : int or numpy Generator
        Seed of the bootstrap.
    boot_draws : array-like, shape (R, p), optional
        Use these draws of N(0, Sigma_hat) instead of simulating (e.g. to reproduce other
        software exactly).
    max_chunk_bytes : int
        Memory bound for each working array (pairs are processed in chunks).

    Returns
    -------
    pandas.DataFrame
        One row per unit of interest, in input order, columns ``unit, estimate, se, rank, lower,
        upper`` (ints; ``rank`` = point rank by theta_hat).  ``df.attrs`` holds ``alpha``,
        ``simultaneous``, ``kind``, ``stepdown``, ``n_boot``, ``critical_values``.

    Raises
    ------
    ValueError
        Shape mismatch, non-finite values, a non-symmetric / non-PSD covariance, a pair of units
        whose difference has zero variance, alpha outside (0, 1), unknown ``kind``.
    """
    alpha = _check_alpha(alpha)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    theta, sigma, labels = _prepare(estimates, cov, se, draws, units)
    p = theta.size
    J = _indices(indices, labels)
    z = _boot_draws(sigma, n_boot, seed, boot_draws)
    crits: list[float] = []
    if simultaneous:
        rej, res = _simultaneous_rejections(theta, sigma, z, J, kind, alpha, stepdown,
                                            max_chunk_bytes)
        n_minus = rej[:, J].sum(axis=0)
        n_plus = rej[J, :].sum(axis=1)
        crits = res.critical_values
    else:
        n_minus, n_plus = _marginal_counts(theta, sigma, z, J, kind, alpha, stepdown,
                                           max_chunk_bytes)
    lower = n_minus + 1
    upper = p - n_plus
    if kind == "lower":
        upper = np.full(J.size, p)
    elif kind == "upper":
        lower = np.ones(J.size, dtype=np.int64)
    out = pd.DataFrame({
        "unit": labels[J],
        "estimate": theta[J],
        "se": np.sqrt(np.diag(sigma))[J],
        "rank": point_ranks(theta)[J],
        "lower": lower.astype(np.int64),
        "upper": upper.astype(np.int64),
    })
    out.attrs.update(alpha=alpha, simultaneous=simultaneous, kind=kind, stepdown=stepdown,
                     n_boot=int(z.shape[0]), critical_values=crits,
                     method="Mogstad-Romano-Shaikh-Wilhelm (2024)")
    return out


def tau_best(
    estimates: Any = None,
    cov: Any = None,
    se: Any = None,
    *,
    tau: int,
    draws: Any = None,
    units: Sequence | None = None,
    alpha: float = 0.05,
    worst: bool = False,
    kind: str | None = None,
    stepdown: bool = True,
    n_boot: int = 1000,
    seed: Any = 0,
    boot_draws: Any = None,
    max_chunk_bytes: int = _DEFAULT_CHUNK_BYTES,
) -> pd.DataFrame:
    """Confidence set for the tau best (or worst) units by projection (MRSW 2024, tau-best sets).

    tau-best: ``{j : L_j <= tau}`` with ``L`` the simultaneous lower one-sided rank bounds for all
    units; it contains every true top-tau unit with probability >= 1 - alpha.  tau-worst
    (``worst=True``): ``{j : U_j >= p - tau + 1}`` from the simultaneous upper one-sided bounds.
    (With all units of interest the one-sided and two-sided simultaneous families coincide, so
    ``kind`` only matters for reporting.)

    Parameters
    ----------
    tau : int, 1 <= tau <= p
    kind : {"lower", "upper", "two-sided"}, optional
        Which simultaneous sets to project; default "lower" (tau-best) / "upper" (tau-worst).
    Other parameters as in :func:`rank_confidence_sets`.

    Returns
    -------
    pandas.DataFrame
        All units sorted by point rank with columns ``unit, estimate, rank, lower, upper, in_set``;
        the set is ``df.loc[df.in_set, "unit"]``.

    Raises
    ------
    ValueError
        As :func:`rank_confidence_sets`; tau outside 1..p.
    """
    kind = kind or ("upper" if worst else "lower")
    cs = rank_confidence_sets(estimates, cov, se, draws=draws, units=units, alpha=alpha,
                              simultaneous=True, kind="two-sided", stepdown=stepdown,
                              n_boot=n_boot, seed=seed, boot_draws=boot_draws,
                              max_chunk_bytes=max_chunk_bytes)
    p = len(cs)
    if not (1 <= int(tau) <= p) or int(tau) != tau:
        raise ValueError(f"tau must be an integer in 1..{p}, got {tau}")
    tau = int(tau)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    in_set = (cs["upper"] >= p - tau + 1) if worst else (cs["lower"] <= tau)
    out = cs.drop(columns="se").assign(in_set=in_set.to_numpy())
    if kind == "lower":
        out["upper"] = p
    elif kind == "upper":
        out["lower"] = 1
    out = out.sort_values(["rank", "estimate"], ascending=[True, False], kind="stable")
    out.attrs.update(cs.attrs, tau=tau, worst=worst, kind=kind)
    return out.reset_index(drop=True)


def pairwise_comparisons(
    estimates: Any = None,
    cov: Any = None,
    se: Any = None,
    *,
    draws: Any = None,
    units: Sequence | None = None,
    alpha: float = 0.05,
    stepdown: bool = True,
    n_boot: int = 1000,
    seed: Any = 0,
    boot_draws: Any = None,
    form: str = "long",
    max_chunk_bytes: int = _DEFAULT_CHUNK_BYTES,
) -> pd.DataFrame:
    """Which units are significantly ahead of which (simultaneous max-t stepdown, FWER alpha).

    The family is all ordered pairs H_ab: theta_a <= theta_b; rejecting H_ab means "a is ahead of
    b" (MRSW 2024; Romano & Wolf 2005, *Econometrica* 73:1237).  These are exactly the
    rejections behind the simultaneous two-sided rank sets.

    Parameters
    ----------
    form : {"long", "matrix", "t"}
        "long": one row per ordered pair (a != b) with columns
        ``unit_a, unit_b, diff, se, t, significant`` (p*(p-1) rows).
        "matrix": p x p boolean DataFrame, ``M.loc[a, b]`` = a significantly ahead of b.
        "t": p x p DataFrame of T_ab = (theta_a - theta_b) / sigma_ab (0 on the diagonal).
    Other parameters as in :func:`rank_confidence_sets`.

    Returns
    -------
    pandas.DataFrame; ``attrs["critical_values"]`` lists the stepdown critical values.
    """
    alpha = _check_alpha(alpha)
    if form not in ("long", "matrix", "t"):
        raise ValueError(f"form must be 'long', 'matrix' or 't', got {form!r}")
    theta, sigma, labels = _prepare(estimates, cov, se, draws, units)
    p = theta.size
    z = _boot_draws(sigma, n_boot, seed, boot_draws)
    rej, res = _simultaneous_rejections(theta, sigma, z, np.arange(p), "two-sided", alpha,
                                        stepdown, max_chunk_bytes)
    d = np.diag(sigma)
    sd = np.sqrt(np.maximum(d[:, None] + d[None, :] - 2.0 * sigma, 0.0))
    diff = theta[:, None] - theta[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), 0.0)
    attrs = dict(alpha=alpha, stepdown=stepdown, n_boot=int(z.shape[0]),
                 critical_values=res.critical_values)
    if form == "matrix":
        out = pd.DataFrame(rej, index=labels, columns=labels)
    elif form == "t":
        out = pd.DataFrame(t, index=labels, columns=labels)
    else:
        ia, ib = np.where(~np.eye(p, dtype=bool))
        out = pd.DataFrame({
            "unit_a": labels[ia], "unit_b": labels[ib], "diff": diff[ia, ib],
            "se": sd[ia, ib], "t": t[ia, ib], "significant": rej[ia, ib],
        })
    out.attrs.update(attrs)
    return out


def rank_confidence_sets_kww(
    estimates: Any = None,
    cov: Any = None,
    se: Any = None,
    *,
    draws: Any = None,
    units: Sequence | None = None,
    alpha: float = 0.05,
    method: str = "bonferroni",
) -> pd.DataFrame:
    """Klein, Wright & Wieczorek (2020, JRSS-C 69:589) simultaneous rank sets.

    Builds simultaneous intervals ``theta_hat_j +- z * se_j`` with z from Bonferroni
    (``1 - alpha / (2p)``) or Sidak (``(1 - alpha)^(1/p)`` two-sided, valid under independence).
    With ``L(k)`` = units whose interval lies wholly above k's and ``O(k)`` = other units whose
    interval overlaps k's, the rank set is ``[|L(k)| + 1, |L(k)| + |O(k)| + 1]``.  Only the
    standard errors (diagonal of Sigma_hat) are used; simple and conservative.

    Returns
    -------
    pandas.DataFrame with columns ``unit, estimate, se, rank, lower, upper, ci_lower, ci_upper``.
    """
    alpha = _check_alpha(alpha)
    theta, sigma, labels = _prepare(estimates, cov, se, draws, units)
    p = theta.size
    s = np.sqrt(np.diag(sigma))
    if method == "bonferroni":
        zc = stats.norm.ppf(1.0 - alpha / (2.0 * p))
    elif method == "sidak":
        zc = stats.norm.ppf(0.5 + 0.5 * (1.0 - alpha) ** (1.0 / p))
    else:
        raise ValueError(f"method must be 'bonferroni' or 'sidak', got {method!r}")
    lo, hi = theta - zc * s, theta + zc * s
    above = lo[None, :] > hi[:, None]  # above[k, j]: j's interval wholly above k's
    below = hi[None, :] < lo[:, None]
    n_above = above.sum(axis=1)
    n_overlap = (p - 1) - n_above - below.sum(axis=1)
    out = pd.DataFrame({
        "unit": labels, "estimate": theta, "se": s, "rank": point_ranks(theta),
        "lower": n_above + 1, "upper": n_above + n_overlap + 1, "ci_lower": lo, "ci_upper": hi,
    })
    out.attrs.update(alpha=alpha, method=f"Klein-Wright-Wieczorek (2020), {method}")
    return out


# ----------------------------------------------------------------------------------------------
# Bayesian / simulation rank summaries
# ----------------------------------------------------------------------------------------------
def _draws_matrix(draws: Any, units: Any) -> tuple[np.ndarray, np.ndarray]:
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
    draws : array-like or DataFrame, shape (S, K)
        S draws (posterior / bootstrap / Monte Carlo) of K scores, higher = better.

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

    Returns
    -------
    pandas.DataFrame sorted by P(rank <= tau) descending with columns
    ``unit, p_top, in_set``; ``attrs["coverage"]`` = achieved fraction of draws.
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
    draws : array-like or DataFrame, shape (S, K)
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
