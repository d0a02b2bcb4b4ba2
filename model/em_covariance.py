"""Maximum-likelihood mean and covariance of incomplete multivariate data by EM.

Little & Rubin (2019), *Statistical Analysis with Missing Data*, 3rd ed., §11.2: under a
multivariate normal model and data missing at random, EM alternates

* E-step — for each unit, the conditional mean of its missing values given its observed ones,
  x̂_m = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o), and their conditional covariance
  C_mm = Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om;
* M-step — μ = mean of the completed rows, Σ = mean of (x̂ − μ)(x̂ − μ)ᵀ + C,

until the estimates stop changing. Units are grouped by missingness pattern, so each step is a
few matrix products per pattern.

Why EM for the observed-only statistics of the audit (Cronbach's α, KMO/Bartlett, PCA and the
PCA/FA weights are functions of one covariance matrix): listwise deletion throws away every
unit that misses any one child — in BRPCI most mainland-Chinese cities — and is biased unless
the data are missing completely at random; a pairwise-deletion correlation matrix uses every
observed pair but need not be positive semi-definite, so α can leave [−∞, 1], KMO's inverse and
the eigen-decomposition can fail. The EM estimate uses every observed cell, is positive
semi-definite by construction and is consistent under MAR. Correlations between two codes are
reported pairwise (with ``n`` per pair): one pair needs no matrix.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError


def em_covariance(X, max_iter: int = 500, tol: float = 1e-9, ddof: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, dict]:
    """EM estimate of the mean and covariance of ``X`` (units × variables, NaN = missing).

    Parameters
    ----------
    X : array-like (n, k).
    max_iter, tol : stop after ``max_iter`` iterations or when no element of μ or Σ changes by
        more than ``tol`` × (1 + its size).
    ddof : 0 (the ML estimate) or 1 (rescaled by n/(n − 1), as a sample covariance).

    Returns
    -------
    (mean (k,), cov (k, k), info) with info = {"n_iter", "converged", "n_used" (units with at
    least one observed value), "n_complete" (units with every value observed)}.

    Raises
    ------
    DataError when a variable has fewer than 2 observed values.
    """
    A = np.asarray(X, dtype=float)
    if A.ndim != 2:
        raise DataError(f"X must be 2-D (units × variables), got shape {A.shape}")
    obs = np.isfinite(A)
    used = obs.any(axis=1)
    A, obs = A[used], obs[used]
    n, k = A.shape
    few = np.flatnonzero(obs.sum(axis=0) < 2)
    if len(few):
        raise DataError(f"EM covariance: variable(s) {few.tolist()} have fewer than 2 observed "
                        "values")
    info = {"n_used": int(n), "n_complete": int(obs.all(axis=1).sum())}
    mu = np.nanmean(A, axis=0)
    S = np.diag(np.nanvar(A, axis=0))
    S[S == 0] = 0.0
    patterns, inv = np.unique(obs, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    groups = [(pat, np.flatnonzero(inv == g)) for g, pat in enumerate(patterns)]
    Z = np.where(obs, A, 0.0)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        Xh = Z.copy()
        Csum = np.zeros((k, k))
        for pat, rows in groups:
            m = ~pat
            if not m.any():
                continue
            o = pat
            Soo = S[np.ix_(o, o)]
            Smo = S[np.ix_(m, o)]
            coef = np.linalg.lstsq(Soo, Smo.T, rcond=None)[0].T if o.any() else \
                np.zeros((m.sum(), 0))
            Xo = A[np.ix_(rows, o)] - mu[o]
            Xh[np.ix_(rows, m)] = mu[m] + Xo @ coef.T
            C = S[np.ix_(m, m)] - coef @ Smo.T
            Csum[np.ix_(m, m)] += C * len(rows)
        mu_new = Xh.mean(axis=0)
        D = Xh - mu_new
        S_new = (D.T @ D + Csum) / n
        S_new = 0.5 * (S_new + S_new.T)
        change = max(np.max(np.abs(mu_new - mu) / (1 + np.abs(mu))),
                     np.max(np.abs(S_new - S) / (1 + np.abs(S))))
        mu, S = mu_new, S_new
        if change < tol:
            converged = True
            break
    info.update(n_iter=it, converged=converged)
    if ddof:
        S = S * n / (n - ddof)
    return mu, S, info


def cov_to_corr(S: np.ndarray) -> np.ndarray:
    """Correlation matrix of a covariance matrix (zero-variance variables get 0 off-diagonal
    and 1 on the diagonal)."""
    d = np.sqrt(np.clip(np.diag(S), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        R = S / np.outer(d, d)
    R = np.where(np.outer(d, d) > 0, R, 0.0)
    np.fill_diagonal(R, 1.0)
    return np.clip(R, -1.0, 1.0)
