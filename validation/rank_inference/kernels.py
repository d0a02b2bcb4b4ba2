"""Compiled kernels of the frequentist rank inference (numba, cached on disk).

:func:`marginal_stepdown` computes the marginal confidence sets' counts of Mogstad, Romano,
Shaikh & Wilhelm (2024): for every unit j its own Romano–Wolf max-t stepdown over the p − 1
pairwise hypotheses that involve it. The numpy version had to hold (units × units × bootstrap
draws) arrays and sort them; here each unit is one pass over its sorted pairs that keeps the
running maximum per bootstrap draw, in parallel over units, with the same floating-point
operations (the critical values replicate ``numpy.quantile``'s default linear rule exactly),
so the sets are identical (tested against the numpy version).

Import this module only where it is used: importing numba takes about half a second.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _quantile_linear(sorted_x, q):
    """numpy.quantile(x, q) with method="linear" on an ascending array (same arithmetic)."""
    n = sorted_x.shape[0]
    vi = (n - 1) * q
    if vi >= n - 1:
        return sorted_x[n - 1]
    if vi < 0:
        return sorted_x[0]
    prev = np.floor(vi)
    i = int(prev)
    gamma = vi - prev
    a = sorted_x[i]
    b = sorted_x[i + 1]
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


@numba.njit(cache=True, parallel=True)
def _marginal(zt, theta, sigma, J, kind_code, q, stepdown, n_minus, n_plus):
    """kind_code: 0 two-sided, 1 upper, 2 lower. Writes counts into n_minus, n_plus."""
    p, R = zt.shape
    for idx in numba.prange(J.shape[0]):
        j = J[idx]
        v = np.empty(p)
        s = np.empty(p)
        sd = np.empty(p)
        for k in range(p):
            if k == j:
                sd[k] = 1.0
                v[k] = -np.inf
                s[k] = 1.0
                continue
            sd[k] = np.sqrt(sigma[j, j] + sigma[k, k] - 2.0 * sigma[j, k])
            t = (theta[j] - theta[k]) / sd[k]
            if kind_code == 0:
                s[k] = 1.0 if t >= 0 else -1.0
                v[k] = abs(t)
            elif kind_code == 1:
                s[k] = 1.0
                v[k] = t
            else:
                s[k] = -1.0
                v[k] = -t
        order = np.argsort(-v, kind="mergesort")     # stable; the unit itself last
        suff = np.empty((p, R))
        running = np.full(R, -np.inf)
        neg_max = np.full(R, -np.inf)
        for pos in range(p - 1, -1, -1):
            k = order[pos]
            if k != j:
                for r in range(R):
                    u = (zt[j, r] - zt[k, r]) / sd[k] * s[k]
                    if u > running[r]:
                        running[r] = u
                    if -u > neg_max[r]:
                        neg_max[r] = -u
            suff[pos, :] = running
        n_cand = p - 1
        m = 0
        first = True
        mx = np.empty(R)
        while True:
            if m >= n_cand:
                break
            for r in range(R):
                mx[r] = suff[m, r]
                if kind_code == 0 and neg_max[r] > mx[r]:
                    mx[r] = neg_max[r]
            crit = _quantile_linear(np.sort(mx), q)
            m_new = 0
            for pos in range(p):
                if v[order[pos]] > crit:
                    m_new += 1
            if m_new < m:
                m_new = m
            changed = m_new != m
            m = m_new
            if not stepdown and first:
                break
            first = False
            if not changed:
                break
        ahead = 0
        behind = 0
        for pos in range(m):
            if s[order[pos]] < 0:
                ahead += 1
            elif s[order[pos]] > 0:
                behind += 1
        n_minus[idx] = ahead
        n_plus[idx] = behind


def marginal_stepdown(zt: np.ndarray, theta: np.ndarray, sigma: np.ndarray, J: np.ndarray,
                      kind: str, alpha: float, stepdown: bool) -> tuple[np.ndarray, np.ndarray]:
    """(N_minus, N_plus) for each unit in J: how many units are significantly ahead of it and
    behind it in its own stepdown. zt: (p, R) bootstrap draws Z*ᵀ; theta (p,); sigma (p, p)."""
    code = {"two-sided": 0, "upper": 1, "lower": 2}[kind]
    n_minus = np.zeros(J.size, dtype=np.int64)
    n_plus = np.zeros(J.size, dtype=np.int64)
    _marginal(np.ascontiguousarray(zt, dtype=np.float64), np.asarray(theta, np.float64),
            np.ascontiguousarray(sigma, dtype=np.float64), np.asarray(J, np.int64), code,
            1.0 - float(alpha), bool(stepdown), n_minus, n_plus)
    return n_minus, n_plus


@numba.njit(cache=True, parallel=True)
def _block_maxima(zt, a, b, inv_sd, block, n_blocks, bmax, bmin):
    """Per block of pairs and bootstrap draw, the maximum and minimum of
    T*_ab = (Z*_a − Z*_b) · inv_sd_ab, in the arithmetic of the numpy expression."""
    n_pairs = a.shape[0]
    R = zt.shape[1]
    for i in numba.prange(n_blocks):
        lo = i * block
        hi = min(n_pairs, lo + block)
        for r in range(R):
            bmax[i, r] = -np.inf
            bmin[i, r] = np.inf
        for k in range(lo, hi):
            ak = a[k]
            bk = b[k]
            w = inv_sd[k]
            for r in range(R):
                u = (zt[ak, r] - zt[bk, r]) * w
                if u > bmax[i, r]:
                    bmax[i, r] = u
                if u < bmin[i, r]:
                    bmin[i, r] = u


def pair_block_extrema(zt: np.ndarray, a: np.ndarray, b: np.ndarray, inv_sd: np.ndarray,
                       block: int) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive blocks of ``block`` ordered pairs (a_k, b_k), the per-draw maximum and
    minimum of the studentised differences T*_k = (Z*_a − Z*_b)/sd_k, shapes (blocks, R); the
    simultaneous stepdown's pass over all pairs without (pairs × R) temporaries. zt: (p, R)."""
    n_pairs = a.size
    n_blocks = -(-n_pairs // block)
    R = zt.shape[1]
    bmax = np.empty((n_blocks, R))
    bmin = np.empty((n_blocks, R))
    _block_maxima(np.ascontiguousarray(zt, dtype=np.float64), np.asarray(a, np.int64),
                  np.asarray(b, np.int64), np.asarray(inv_sd, np.float64), int(block),
                  n_blocks, bmax, bmin)
    return bmax, bmin
