"""Array helpers for posterior summaries (numpy only)."""

from __future__ import annotations

import numpy as np


def hdi(draws: np.ndarray, prob: float = 0.90) -> tuple[np.ndarray, np.ndarray]:
    """Highest-density interval along axis 0 (the narrowest window holding ``prob`` of the
    sorted draws; unimodal posteriors). ``draws``: (S, ...). Returns (lower, upper)."""
    x = np.sort(np.asarray(draws, dtype=float), axis=0)
    S = x.shape[0]
    n_in = int(np.floor(prob * S))
    if n_in < 1 or n_in >= S:
        return x[0], x[-1]
    widths = x[n_in:] - x[:S - n_in]
    k = np.argmin(widths, axis=0)
    lo = np.take_along_axis(x, k[None], axis=0)[0]
    hi = np.take_along_axis(x, (k + n_in)[None], axis=0)[0]
    return lo, hi


def ranks_desc(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest value (ties share the smallest rank), through
    :func:`cityindex.model.ranking.rank_scores` (exact ties): int32, or float with NaN where a
    value is NaN (never ranked)."""
    from ..ranking import rank_scores

    r = rank_scores(values, ties="min", axis=-1, rtol=0.0)
    return r if np.isnan(r).any() else r.astype(np.int32)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each series: x (K, chains, draws) → normal scores of the average ranks
    over the series' pooled draws (Blom offset 3/8)."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    K = x.shape[0]
    flat = x.reshape(K, -1)
    r = rankdata(flat, method="average", axis=1)
    size = flat.shape[1]
    return ndtri((r - 0.375) / (size - 0.75 + 1)).reshape(x.shape)


def _rhat_classic(x: np.ndarray) -> np.ndarray:
    """Potential scale reduction of each series of x (K, chains, draws)."""
    n = x.shape[2]
    chain_mean = x.mean(axis=2)
    within = x.var(axis=2, ddof=1).mean(axis=1)
    between = n * chain_mean.var(axis=1, ddof=1)
    return np.sqrt((between / within + n - 1) / n)


def rhat_rank(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of many series at once: the larger of the bulk and the tail
    (folded) statistic (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, Bayesian Analysis
    16:667) — the value ``arviz.rhat`` gives, vectorised over series instead of looping.

    draws : array (chains, draws, ...) of posterior draws. Returns an array of the trailing
    shape (... ); a constant series gives NaN.
    """
    x = np.asarray(draws, dtype=float)
    chains, n = x.shape[:2]
    rest = x.shape[2:]
    x = x.reshape(chains, n, -1).transpose(2, 0, 1)         # (K, chains, draws)
    half = n // 2
    split = np.concatenate([x[:, :, :half], x[:, :, n - half:]], axis=1)
    bulk = _rhat_classic(_z_scale(split))
    med = np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None]
    tail = _rhat_classic(_z_scale(np.abs(split - med)))
    with np.errstate(invalid="ignore"):
        out = np.fmax(bulk, tail)
    const = np.ptp(x.reshape(x.shape[0], -1), axis=1) == 0
    out[const] = np.nan
    return out.reshape(rest)


def _geyer_ess(mean_acov: np.ndarray, var_plus: np.ndarray, n_chain: int) -> np.ndarray:
    """ESS of each series from its chain-averaged autocovariances (K, n) and var⁺ (K,), with
    Geyer's initial positive and monotone sequences (as ``arviz``'s ``_ess``)."""
    from numba import njit

    global _GEYER
    if _GEYER is None:
        _GEYER = njit(cache=True, error_model="numpy")(_geyer_kernel)
    return _GEYER(mean_acov, var_plus, n_chain)


_GEYER = None


def _geyer_kernel(mean_acov, var_plus, n_chain):
    K, n_draw = mean_acov.shape
    out = np.empty(K)
    for k in range(K):
        mean_var = mean_acov[k, 0] * n_draw / (n_draw - 1.0)
        vp = var_plus[k]
        rho = np.zeros(n_draw)
        rho_even = 1.0
        rho[0] = rho_even
        rho_odd = 1.0 - (mean_var - mean_acov[k, 1]) / vp
        rho[1] = rho_odd
        t = 1
        while t < (n_draw - 3) and (rho_even + rho_odd) > 0.0:
            rho_even = 1.0 - (mean_var - mean_acov[k, t + 1]) / vp
            rho_odd = 1.0 - (mean_var - mean_acov[k, t + 2]) / vp
            if (rho_even + rho_odd) >= 0:
                rho[t + 1] = rho_even
                rho[t + 2] = rho_odd
            t += 2
        max_t = t - 2
        if rho_even > 0:
            rho[max_t + 1] = rho_even
        t = 1
        while t <= max_t - 2:
            if (rho[t + 1] + rho[t + 2]) > (rho[t - 1] + rho[t]):
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
                rho[t + 2] = rho[t + 1]
            t += 2
        ess = n_chain * n_draw
        tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1: max_t + 2])
        tau = max(tau, 1.0 / np.log10(ess))
        out[k] = ess / tau
        if np.isnan(rho).any():
            out[k] = np.nan
    return out


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each series of x (K, chains, draws) (arviz's ``_ess``, vectorised)."""
    from scipy.fft import next_fast_len

    K, n_chain, n_draw = x.shape
    flat = x.reshape(K, -1)
    const = (flat.max(axis=1) - flat.min(axis=1)) < np.finfo(float).resolution
    m = next_fast_len(2 * n_draw)
    d = x - x.mean(axis=2, keepdims=True)
    f = np.fft.rfft(d, n=m, axis=2)
    acov = np.fft.irfft(f * np.conjugate(f), n=m, axis=2)[:, :, :n_draw] / n_draw
    mean_acov = acov.mean(axis=1)
    var_plus = (mean_acov[:, 0] * n_draw / (n_draw - 1.0)) * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus = var_plus + x.mean(axis=2).var(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = _geyer_ess(np.ascontiguousarray(mean_acov), var_plus, n_chain)
    out[const] = n_chain * n_draw
    return out


def _series(draws: np.ndarray) -> tuple[np.ndarray, tuple]:
    x = np.asarray(draws, dtype=float)
    chains, n = x.shape[:2]
    return x.reshape(chains, n, -1).transpose(2, 0, 1), x.shape[2:]


def _split(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    half = n // 2
    return np.concatenate([x[:, :, :half], x[:, :, n - half:]], axis=1)


def ess_bulk(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size (rank-normalised split chains; Vehtari et al. 2021) of many
    series at once, as ``arviz.ess(method="bulk")``. draws: (chains, draws, ...)."""
    x, rest = _series(draws)
    return _ess(_z_scale(_split(x))).reshape(rest)


def ess_tail(draws: np.ndarray, prob: float = 0.05) -> np.ndarray:
    """Tail effective sample size (the smaller of the ESS of the ``prob`` and ``1 − prob``
    quantile indicators), as ``arviz.ess(method="tail")``. draws: (chains, draws, ...)."""
    x, rest = _series(draws)
    flat = x.reshape(x.shape[0], -1)
    out = None
    for p in (prob, 1 - prob):
        q = np.quantile(flat, p, axis=1)[:, None, None]
        e = _ess(_split((x <= q).astype(float)))
        out = e if out is None else np.minimum(out, e)
    return out.reshape(rest)
