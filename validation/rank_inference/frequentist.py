"""Frequentist confidence sets for ranks from estimates ``theta_hat`` with covariance ``Sigma_hat``.

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

Every routine takes a :class:`~cityindex.validation.rank_inference.draws.ScoreDraws` (theta_hat,
Sigma_hat and what they assume).  Higher score = better; rank 1 = best, ties share the smallest
rank.  Every random result takes a ``seed``; the same seed gives the same result.  Everything is
vectorised over bootstrap draws; the compiled kernels (:mod:`.kernels`) pass over the pairs of
units without a (pairs × draws) array, and the numpy version of the marginal sets works in
chunks of ``max_chunk_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .draws import ScoreDraws, _check_alpha, point_ranks

__all__ = [
    "rank_confidence_sets",
    "tau_best",
    "pairwise_comparisons",
    "rank_confidence_sets_kww",
]

_KINDS = ("two-sided", "lower", "upper")
_DEFAULT_CHUNK_BYTES = 32 * 2**20  # 32 MiB per working array


# ----------------------------------------------------------------------------------------------
# helpers: input, bootstrap draws, units of interest
# ----------------------------------------------------------------------------------------------
def _prepare(draws: ScoreDraws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (theta_hat (p,), Sigma_hat (p, p), labels (p,)); reject zero-variance pairs."""
    if not isinstance(draws, ScoreDraws):
        raise TypeError(
            f"draws must be a ScoreDraws (got {type(draws).__name__}); build one with "
            "ScoreDraws.from_estimates(estimates, se=... or cov=...) or ScoreDraws.from_draws(...)")
    theta = draws.estimates.to_numpy(dtype=float)
    sigma = draws.cov
    labels = draws.units.to_numpy()
    i, j = draws._zero_variance_index()
    if i.size:
        raise ValueError(
            f"the difference between units {labels[i[0]]!r} and {labels[j[0]]!r} has zero "
            f"variance ({i.size} such pair(s)); rank inference needs Var(theta_j - theta_k) > 0 "
            "(ScoreDraws.separable() jitters such draws)"
        )
    return theta, sigma, labels


def _attrs(draws: ScoreDraws) -> dict:
    return {"source": draws.source, "assumption": draws.assumption, "note": draws.note}


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
    # blocks of pairs: the compiled pass keeps no (pairs × R) temporary, so the block size
    # only trades the per-block maxima kept against the partial block recomputed per step
    block = int(max(64, min(n_pairs, 2048)))
    n_blocks = -(-n_pairs // block)
    inv_sd = 1.0 / sd

    from .kernels import pair_block_extrema

    bmax = np.full((n_blocks + 1, n_r), -np.inf)
    bmax[:n_blocks], bmin = pair_block_extrema(zt, a, b, inv_sd, block)
    neg_max = -bmin.min(axis=0) if symmetric else np.full(n_r, -np.inf)
    # suffix maxima over blocks
    bmax = np.maximum.accumulate(bmax[::-1], axis=0)[::-1]

    def suffix_max(m: int) -> np.ndarray:
        i0 = m // block
        out = bmax[i0 + 1].copy() if i0 + 1 <= n_blocks else np.full(n_r, -np.inf)
        hi = min(n_pairs, (i0 + 1) * block)
        if m < hi:
            part = pair_block_extrema(zt, a[m:hi], b[m:hi], inv_sd[m:hi], hi - m)[0][0]
            np.maximum(out, part, out=out)
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
    # the compiled kernels keep no (pairs × draws) array: max_chunk_bytes bounds only the
    # numpy oracle of the marginal sets (_marginal_counts_numpy)
    res = _stepdown_pairs(np.ascontiguousarray(z.T), theta, sigma, a, b, alpha, stepdown,
                          symmetric)
    rej = np.zeros((p, p), dtype=bool)
    m = res.n_rejected
    rej[res.a[:m], res.b[:m]] = True
    return rej, res


# ----------------------------------------------------------------------------------------------
# core: marginal sets, vectorised over units in chunks
# ----------------------------------------------------------------------------------------------
def _marginal_counts(theta, sigma, z, J, kind, alpha, stepdown, max_chunk_bytes):
    """For each j in J, (N_minus_j, N_plus_j) from the stepdown with family {j} (the compiled
    kernel of :mod:`.kernels`; :func:`_marginal_counts_numpy` is the array version it is
    tested against)."""
    from .kernels import marginal_stepdown

    return marginal_stepdown(z.T, theta, sigma, J, kind, alpha, stepdown)


def _marginal_counts_numpy(theta, sigma, z, J, kind, alpha, stepdown, max_chunk_bytes):
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
    draws: ScoreDraws,
    *,
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
    draws : ScoreDraws
        theta_hat (p,), higher = better, and Sigma_hat (p, p), with the unit labels (see
        :meth:`ScoreDraws.from_estimates`, :meth:`ScoreDraws.from_draws`).
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
        Memory bound for each working array of the numpy version of the marginal sets (the
        compiled kernels used by default keep no array over pairs × draws).

    Returns
    -------
    pandas.DataFrame
        One row per unit of interest, in input order, columns ``unit, estimate, se, rank, lower,
        upper`` (ints; ``rank`` = point rank by theta_hat).  ``df.attrs`` holds ``alpha``,
        ``simultaneous``, ``kind``, ``stepdown``, ``n_boot``, ``critical_values`` and the draws'
        ``source``, ``assumption`` and ``note``.

    Raises
    ------
    TypeError
        ``draws`` is not a :class:`ScoreDraws`.
    ValueError
        A pair of units whose difference has zero variance (see :meth:`ScoreDraws.separable`),
        alpha outside (0, 1), unknown ``kind``, unknown ``indices``, ``n_boot`` < 10, bad
        ``boot_draws`` (shapes and covariance are checked when the ScoreDraws is built).
    """
    alpha = _check_alpha(alpha)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    theta, sigma, labels = _prepare(draws)
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
                     method="Mogstad-Romano-Shaikh-Wilhelm (2024)", **_attrs(draws))
    return out


def tau_best(
    draws: ScoreDraws,
    *,
    tau: int,
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
    cs = rank_confidence_sets(draws, alpha=alpha,
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
    draws: ScoreDraws,
    *,
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

    Raises
    ------
    TypeError, ValueError
        As :func:`rank_confidence_sets`; unknown ``form``.
    """
    alpha = _check_alpha(alpha)
    if form not in ("long", "matrix", "t"):
        raise ValueError(f"form must be 'long', 'matrix' or 't', got {form!r}")
    theta, sigma, labels = _prepare(draws)
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
                 critical_values=res.critical_values, **_attrs(draws))
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
    draws: ScoreDraws,
    *,
    alpha: float = 0.05,
    method: str = "bonferroni",
) -> pd.DataFrame:
    """Klein, Wright & Wieczorek (2020, JRSS-C 69:589) simultaneous rank sets.

    Builds simultaneous intervals ``theta_hat_j +- z * se_j`` with z from Bonferroni
    (``1 - alpha / (2p)``) or Sidak (``(1 - alpha)^(1/p)`` two-sided, valid under independence).
    With ``L(k)`` = units whose interval lies wholly above k's and ``O(k)`` = other units whose
    interval overlaps k's, the rank set is ``[|L(k)| + 1, |L(k)| + |O(k)| + 1]``.  Only the
    standard errors (diagonal of Sigma_hat) are used; simple and conservative.

    Parameters
    ----------
    draws : ScoreDraws
    alpha : float in (0, 1)
    method : {"bonferroni", "sidak"}

    Returns
    -------
    pandas.DataFrame with columns ``unit, estimate, se, rank, lower, upper, ci_lower, ci_upper``.

    Raises
    ------
    TypeError, ValueError
        As :func:`rank_confidence_sets`; unknown ``method``.
    """
    alpha = _check_alpha(alpha)
    theta, sigma, labels = _prepare(draws)
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
    out.attrs.update(alpha=alpha, method=f"Klein-Wright-Wieczorek (2020), {method}",
                     **_attrs(draws))
    return out
