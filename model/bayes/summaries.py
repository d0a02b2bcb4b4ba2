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
    """Ranks along the last axis, 1 = highest value (ties share the smallest rank)."""
    from scipy.stats import rankdata

    return rankdata(-np.asarray(values), axis=-1, method="min").astype(np.int32)
