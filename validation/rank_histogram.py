"""Rank statistics streamed over replications: per-unit rank histograms.

Ranks are integers 1..U (ties take the lowest rank), so the distribution of one unit's rank
over any number of replications is exactly a histogram of U counts. :class:`RankHistogram`
holds a units × ranks count matrix (U² small integers: memory independent of the number of
replications N) and gives the same statistics as :func:`cityindex.validation.uncertainty.
rank_statistics` computes on the full replications × units matrix:

* quantiles exactly equal to numpy's on the full column, for every numpy method: for the
  discrete methods (``inverted_cdf`` — the default —, ``lower``, ``higher``, ``nearest``,
  ``closest_observation``) the order statistic numpy picks is found from the counts; for the
  interpolating methods (``linear``, …) each unit's sorted sample is rebuilt from its counts
  (one unit at a time) and handed to numpy;
* the median (numpy's: the middle order statistic, or the mean of the two middle ones), the
  mean, P(rank ≤ k) and the mean absolute shift from the nominal rank exactly (integer sums);
* the standard deviation up to floating-point rounding (the sum of squared deviations is summed
  by rank instead of by replication).

Replications in which a unit has no rank (an aggregate left without indicators) are skipped
whole, as :func:`~cityindex.validation.uncertainty._node_statistics` does on the matrix.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: numpy quantile methods whose result is one of the sample's values
DISCRETE_METHODS = ("inverted_cdf", "lower", "higher", "nearest", "closest_observation")
#: units per block when order statistics are located (bounds the cumulative-count array)
_BLOCK_UNITS = 256
#: rank cells counted per step of :meth:`RankHistogram.add` (bounds its temporaries)
_ADD_CELLS = 1 << 20


class RankHistogram:
    """Counts of every rank (1..``n_ranks``) of every unit over the replications added.

    Attributes
    ----------
    counts : int array (units × ranks); ``counts[j, r - 1]`` = replications in which unit
        ``j`` had rank ``r``. Unsigned 16-bit while fewer than 65,535 replications were
        requested (``capacity``), else 32-bit (64-bit beyond 4·10⁹).
    n : replications counted (every unit ranked); n_seen : replications offered.
    """

    def __init__(self, n_units: int, capacity: int | None = None, n_ranks: int | None = None):
        self.n_units = int(n_units)
        self.n_ranks = int(n_ranks or n_units)
        cap = capacity if capacity is not None else 2**32
        dtype = np.uint16 if cap < 2**16 - 1 else (np.uint32 if cap < 2**32 - 1 else np.uint64)
        self.counts = np.zeros((self.n_units, self.n_ranks), dtype=dtype)
        self.n = 0
        self.n_seen = 0

    @staticmethod
    def bytes_for(n_units: int, capacity: int) -> int:
        """Memory of the count matrix for ``n_units`` and up to ``capacity`` replications."""
        width = 2 if capacity < 2**16 - 1 else (4 if capacity < 2**32 - 1 else 8)
        return n_units * n_units * width

    def add(self, ranks: np.ndarray) -> None:
        """Count a block of replications: ranks (replications × units), whole numbers; a row
        with a missing rank is skipped (not counted in ``n``).

        Raises
        ------
        ValueError for a rank that is not a whole number in 1..n_ranks, or a block that would
        overflow the counts' capacity.
        """
        R = np.asarray(ranks)
        if R.ndim != 2 or R.shape[1] != self.n_units:
            raise ValueError(f"ranks must be replications × {self.n_units} units, got "
                             f"{R.shape}")
        self.n_seen += R.shape[0]
        ok = ~np.isnan(R).any(axis=1)
        if not ok.all():
            R = R[ok]
        if R.shape[0] == 0:
            return
        if self.n + R.shape[0] > np.iinfo(self.counts.dtype).max:
            raise ValueError("more replications than the histogram's capacity")
        offset = np.arange(self.n_units, dtype=np.int64) * self.n_ranks - 1
        flat_counts = self.counts.reshape(-1)
        step = max(1, _ADD_CELLS // max(self.n_units, 1))  # bounded temporaries
        for s in range(0, R.shape[0], step):
            part = R[s:s + step]
            idx = part.astype(np.int64)
            if (idx != part).any() or idx.min() < 1 or idx.max() > self.n_ranks:
                raise ValueError(f"ranks must be whole numbers in 1..{self.n_ranks}")
            idx += offset
            np.add.at(flat_counts, idx.ravel(), 1)
        self.n += R.shape[0]

    # ------------------------------------------------------------------ statistics
    def _order_stats(self, ks: Sequence[int]) -> np.ndarray:
        """Per unit, the ``k``-th smallest rank (0-based) for each k in ``ks`` (len(ks) × units)."""
        out = np.empty((len(ks), self.n_units))
        targets = np.asarray(ks, dtype=np.int64) + 1
        for s in range(0, self.n_units, _BLOCK_UNITS):
            cum = np.cumsum(self.counts[s:s + _BLOCK_UNITS], axis=1, dtype=np.int64)
            for i, t in enumerate(targets):
                out[i, s:s + _BLOCK_UNITS] = (cum >= t).argmax(axis=1) + 1
        return out

    def percentiles(self, percentiles: Sequence[float], method: str = "inverted_cdf"
                    ) -> np.ndarray:
        """``np.percentile(R, percentiles, axis=0, method=method)`` of the full matrix R
        (len(percentiles) × units), from the counts."""
        n = self.n
        if n == 0:
            return np.full((len(percentiles), self.n_units), np.nan)
        if method in DISCRETE_METHODS:
            # the index numpy picks depends only on n: ask numpy with the sample 0..n-1
            ks = np.percentile(np.arange(n), list(percentiles), method=method)
            return self._order_stats([int(k) for k in np.atleast_1d(ks)])
        ranks = np.arange(1, self.n_ranks + 1, dtype=float)
        out = np.empty((len(percentiles), self.n_units))
        for j in range(self.n_units):
            out[:, j] = np.percentile(np.repeat(ranks, self.counts[j]), list(percentiles),
                                      method=method)
        return out

    def median(self) -> np.ndarray:
        """``np.median(R, axis=0)``: the middle order statistic, or the mean of the two."""
        n = self.n
        if n == 0:
            return np.full(self.n_units, np.nan)
        if n % 2:
            return self._order_stats([(n - 1) // 2])[0]
        lo, hi = self._order_stats([n // 2 - 1, n // 2])
        return np.mean(np.stack([lo, hi]), axis=0)

    def _weighted_sum(self, values: np.ndarray) -> np.ndarray:
        """Per unit, Σ_r counts[j, r] · values[j, r] (values broadcast to units × ranks)."""
        out = np.empty(self.n_units)
        for s in range(0, self.n_units, _BLOCK_UNITS):
            c = self.counts[s:s + _BLOCK_UNITS].astype(np.float64)
            v = values if values.ndim == 1 else values[s:s + _BLOCK_UNITS]
            out[s:s + _BLOCK_UNITS] = (c * v).sum(axis=1)
        return out

    def mean(self) -> np.ndarray:
        r = np.arange(1, self.n_ranks + 1, dtype=float)
        return self._weighted_sum(r) / self.n if self.n else np.full(self.n_units, np.nan)

    def std(self, ddof: int = 1) -> np.ndarray:
        """Standard deviation of each unit's rank (to floating-point rounding of numpy's)."""
        if self.n <= ddof:
            return np.zeros(self.n_units) if self.n else np.full(self.n_units, np.nan)
        m = self.mean()
        r = np.arange(1, self.n_ranks + 1, dtype=float)
        ss = np.empty(self.n_units)
        for s in range(0, self.n_units, _BLOCK_UNITS):
            c = self.counts[s:s + _BLOCK_UNITS].astype(np.float64)
            d = r[None, :] - m[s:s + _BLOCK_UNITS, None]
            ss[s:s + _BLOCK_UNITS] = (c * d * d).sum(axis=1)
        return np.sqrt(ss / (self.n - ddof))

    def abs_shift_sums(self, nominal: np.ndarray) -> np.ndarray:
        """Per unit, Σ over replications of |rank − nominal rank| (exact: whole numbers)."""
        r = np.arange(1, self.n_ranks + 1, dtype=float)
        nom = np.asarray(nominal, dtype=float)
        out = np.empty(self.n_units)
        for s in range(0, self.n_units, _BLOCK_UNITS):
            c = self.counts[s:s + _BLOCK_UNITS].astype(np.float64)
            out[s:s + _BLOCK_UNITS] = (c * np.abs(r[None, :] - nom[s:s + _BLOCK_UNITS, None])
                                       ).sum(axis=1)
        return out

    def mean_abs_shift(self, nominal: np.ndarray) -> np.ndarray:
        """Per unit, mean |rank − nominal rank| (exact)."""
        if not self.n:
            return np.full(self.n_units, np.nan)
        return self.abs_shift_sums(nominal) / self.n

    def share_at_most(self, k: int) -> np.ndarray:
        """Per unit, P(rank ≤ k) over the replications."""
        if not self.n:
            return np.full(self.n_units, np.nan)
        return self.counts[:, :k].sum(axis=1, dtype=np.int64) / self.n

    def statistics(self, nominal: np.ndarray, units: Sequence[str], percentiles=(5, 95),
                   top_k=(10,), quantile_method: str = "inverted_cdf") -> pd.DataFrame:
        """The table :func:`cityindex.validation.uncertainty.rank_statistics` gives on the
        full matrix (same columns, order, values; see the module docstring)."""
        lo, hi = percentiles[0], percentiles[-1]
        q = self.percentiles(percentiles, quantile_method)
        stats = {"nominal": np.asarray(nominal, dtype=float), "mean": self.mean(),
                 "median": self.median()}
        for p, row in zip(percentiles, q):
            stats[f"q{p:g}"] = row
        stats["sd"] = self.std(1)
        stats["width"] = q[-1] - q[0]
        stats["mean_abs_shift"] = self.mean_abs_shift(nominal)
        for k in top_k:
            stats[f"p_top{k}"] = self.share_at_most(k)
        df = pd.DataFrame(stats, index=pd.Index(list(units), name="unit"))
        df.attrs["band"] = (lo, hi)
        return df.sort_values(["nominal", "median"])

    def overall_mean_abs_shift(self, nominal: np.ndarray) -> float:
        """Mean |rank − nominal rank| over all units and replications (exact)."""
        if not self.n:
            return float("nan")
        return float(self.abs_shift_sums(nominal).sum() / (self.n * self.n_units))
