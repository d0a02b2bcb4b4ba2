"""Rank statistics streamed over replications: per-unit rank histograms.

Ranks take finitely many values — 1..U, or halves of them under ``ties: average`` — so the
distribution of one unit's rank over any number of replications is exactly a histogram of
U (or 2U) counts. :class:`RankHistogram` holds a units × rank-values count matrix (memory
independent of the number of replications N) and gives the statistics
:func:`cityindex.validation.uncertainty.rank_statistics` computes on the full replications ×
units matrix, with the same per-unit handling of missing ranks (a NaN rank — the unit not
ranked in that replication — is dropped for that unit only; ``n_valid``; no statistics and a
``note`` below ``min_valid``):

* quantiles exactly equal to numpy's on the full column, for every numpy method: for the
  discrete methods (``inverted_cdf`` — the default —, ``lower``, ``higher``, ``nearest``,
  ``closest_observation``) the order statistic numpy picks is found from the counts; for the
  interpolating methods (``linear``, …) each unit's sorted sample is rebuilt from its counts
  (one unit at a time) and handed to numpy;
* the median (numpy's: the middle order statistic, or the mean of the two middle ones), the
  mean, P(rank ≤ k) and the mean absolute shift from the nominal rank exactly (sums of whole
  numbers, or of halves);
* the standard deviation up to floating-point rounding (the sum of squared deviations is summed
  by rank value instead of by replication).
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
_BINCOUNT_CELLS = 1 << 21   # counts small enough for a bincount temporary (16 MiB)


class RankHistogram:
    """Counts of every rank value of every unit over the replications added.

    Parameters
    ----------
    n_units : units (columns of the rank blocks added).
    capacity : most replications that will be added (chooses the count width).
    n_ranks : largest rank (default ``n_units``).
    scale : rank values are multiples of ``1 / scale`` (1: whole ranks; 2: the halves that
        ``ties: average`` gives).

    Attributes
    ----------
    counts : int array (units × n_ranks·scale); ``counts[j, b]`` = replications in which unit
        ``j`` had rank ``(b + 1) / scale``. Unsigned 16-bit below 65,535 replications
        (``capacity``), else 32-bit (64-bit beyond 4·10⁹).
    n_seen : replications added; n_defined : those in which at least one unit has a rank;
    n_valid : per unit, the replications in which it has a rank.
    """

    def __init__(self, n_units: int, capacity: int | None = None, n_ranks: int | None = None,
                 scale: int = 1):
        self.n_units = int(n_units)
        self.n_ranks = int(n_ranks or n_units)
        self.scale = int(scale)
        cap = capacity if capacity is not None else 2**32
        dtype = np.uint16 if cap < 2**16 - 1 else (np.uint32 if cap < 2**32 - 1 else np.uint64)
        self.counts = np.zeros((self.n_units, self.n_ranks * self.scale), dtype=dtype)
        self.n_seen = 0
        self.n_defined = 0

    @staticmethod
    def bytes_for(n_units: int, capacity: int, scale: int = 1) -> int:
        """Memory of the count matrix for ``n_units`` and up to ``capacity`` replications."""
        width = 2 if capacity < 2**16 - 1 else (4 if capacity < 2**32 - 1 else 8)
        return n_units * n_units * scale * width

    @property
    def n_valid(self) -> np.ndarray:
        return self.counts.sum(axis=1, dtype=np.int64)

    @property
    def values(self) -> np.ndarray:
        """The rank value of every count column."""
        return np.arange(1, self.counts.shape[1] + 1, dtype=float) / self.scale

    def add(self, ranks: np.ndarray) -> None:
        """Count a block of replications: ranks (replications × units); NaN = the unit has no
        rank in that replication (not counted for it).

        Raises
        ------
        ValueError for a rank that is not a multiple of 1/scale in [1, n_ranks], or more
        replications than the counts can hold.
        """
        R = np.asarray(ranks)
        if R.ndim != 2 or R.shape[1] != self.n_units:
            raise ValueError(f"ranks must be replications × {self.n_units} units, got "
                             f"{R.shape}")
        if self.n_seen + R.shape[0] > np.iinfo(self.counts.dtype).max:
            raise ValueError("more replications than the histogram's capacity")
        flat_counts = self.counts.reshape(-1)
        width = self.counts.shape[1]
        offset = np.arange(self.n_units, dtype=np.int64) * width - 1
        step = max(1, _ADD_CELLS // max(self.n_units, 1))  # bounded temporaries
        for s in range(0, R.shape[0], step):
            part = R[s:s + step]
            valid = ~np.isnan(part)
            self.n_seen += part.shape[0]
            self.n_defined += int(valid.any(axis=1).sum())
            scaled = np.where(valid, part, 1.0) * self.scale
            idx = scaled.astype(np.int64)
            if (idx != scaled).any() or idx.min() < 1 or idx.max() > width:
                raise ValueError(f"ranks must be multiples of 1/{self.scale} in "
                                 f"1..{self.n_ranks}")
            idx += offset
            if flat_counts.size <= _BINCOUNT_CELLS:
                # the unbuffered add (np.add.at) at a fraction of its cost, with a temporary
                # as large as the counts: only for small count matrices
                flat_counts += np.bincount(idx[valid], minlength=flat_counts.size).astype(
                    flat_counts.dtype, copy=False)
            else:
                np.add.at(flat_counts, idx[valid], 1)

    # ------------------------------------------------------------------ statistics
    def _order_stats(self, ks: np.ndarray, units: np.ndarray) -> np.ndarray:
        """For units ``units``, the ``ks[i, j]``-th smallest rank (0-based) of unit
        ``units[j]`` (len(ks) × len(units))."""
        out = np.empty(ks.shape)
        targets = ks.astype(np.int64) + 1
        vals = self.values
        for s in range(0, len(units), _BLOCK_UNITS):
            sel = units[s:s + _BLOCK_UNITS]
            cum = np.cumsum(self.counts[sel], axis=1, dtype=np.int64)
            for i in range(ks.shape[0]):
                out[i, s:s + _BLOCK_UNITS] = vals[(cum >= targets[i, s:s + _BLOCK_UNITS, None]
                                                   ).argmax(axis=1)]
        return out

    def percentiles(self, percentiles: Sequence[float], method: str = "inverted_cdf"
                    ) -> np.ndarray:
        """``np.nanpercentile(R, percentiles, axis=0, method=method)`` of the full matrix R
        (len(percentiles) × units; NaN for a unit never ranked), from the counts."""
        pct = list(percentiles)
        nv = self.n_valid
        out = np.full((len(pct), self.n_units), np.nan)
        if method in DISCRETE_METHODS:
            for n in np.unique(nv[nv > 0]):
                units = np.flatnonzero(nv == n)
                # the index numpy picks depends only on n: ask numpy with the sample 0..n-1
                ks = np.atleast_1d(np.percentile(np.arange(n), pct, method=method))
                out[:, units] = self._order_stats(
                    np.repeat(ks.astype(np.int64)[:, None], len(units), axis=1), units)
            return out
        vals = self.values
        for j in np.flatnonzero(nv > 0):
            out[:, j] = np.percentile(np.repeat(vals, self.counts[j]), pct, method=method)
        return out

    def median(self) -> np.ndarray:
        """``np.nanmedian(R, axis=0)``: the middle order statistic, or the mean of the two."""
        nv = self.n_valid
        out = np.full(self.n_units, np.nan)
        for n in np.unique(nv[nv > 0]):
            units = np.flatnonzero(nv == n)
            if n % 2:
                ks = np.full((1, len(units)), (n - 1) // 2)
                out[units] = self._order_stats(ks, units)[0]
            else:
                ks = np.vstack([np.full(len(units), n // 2 - 1), np.full(len(units), n // 2)])
                lo, hi = self._order_stats(ks, units)
                out[units] = np.mean(np.stack([lo, hi]), axis=0)
        return out

    def _per_unit(self, fn) -> np.ndarray:
        """Σ over rank values of counts · fn(values, block of units) per unit."""
        out = np.empty(self.n_units)
        vals = self.values
        for s in range(0, self.n_units, _BLOCK_UNITS):
            c = self.counts[s:s + _BLOCK_UNITS].astype(np.float64)
            out[s:s + _BLOCK_UNITS] = (c * fn(vals, slice(s, s + _BLOCK_UNITS))).sum(axis=1)
        return out

    def mean(self) -> np.ndarray:
        nv = self.n_valid
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(nv > 0, self._per_unit(lambda v, sl: v[None, :]) / nv, np.nan)

    def std(self, ddof: int = 1) -> np.ndarray:
        """Standard deviation of each unit's rank (0 with a single valid replication; to
        floating-point rounding of numpy's)."""
        nv = self.n_valid
        m = self.mean()
        ss = self._per_unit(lambda v, sl: (v[None, :] - m[sl, None]) ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(ss / (nv - ddof))
        return np.where(nv > ddof, sd, np.where(nv > 0, 0.0, np.nan))

    def abs_shift_sums(self, nominal: np.ndarray) -> np.ndarray:
        """Per unit, Σ over its valid replications of |rank − nominal rank| (exact)."""
        nom = np.asarray(nominal, dtype=float)
        return self._per_unit(lambda v, sl: np.abs(v[None, :] - nom[sl, None]))

    def mean_abs_shift(self, nominal: np.ndarray) -> np.ndarray:
        """Per unit, mean |rank − nominal rank| over its valid replications (exact)."""
        nv = self.n_valid
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(nv > 0, self.abs_shift_sums(nominal) / nv, np.nan)

    def overall_mean_abs_shift(self, nominal: np.ndarray) -> float:
        """Mean |rank − nominal rank| over every ranked (unit, replication) cell with a
        nominal rank (exact)."""
        nom = np.asarray(nominal, dtype=float)
        ok = ~np.isnan(nom)
        nv = self.n_valid[ok]
        if nv.sum() == 0:
            return float("nan")
        return float(self.abs_shift_sums(nom)[ok].sum() / nv.sum())

    def share_at_most(self, k: float) -> np.ndarray:
        """Per unit, the share of its valid replications with rank ≤ k."""
        b = int(np.floor(k * self.scale + 1e-9))
        return self.counts[:, :b].sum(axis=1, dtype=np.int64) / np.maximum(self.n_valid, 1)

    def statistics(self, nominal: np.ndarray, units: Sequence[str], percentiles=(5, 95),
                   top_k=(10,), quantile_method: str = "inverted_cdf",
                   min_valid: int = 10) -> pd.DataFrame:
        """The table :func:`cityindex.validation.uncertainty.rank_statistics` gives on the
        full matrix (same columns, order, values; see the module docstring)."""
        lo, hi = percentiles[0], percentiles[-1]
        nominal = np.asarray(nominal, dtype=float)
        nv = self.n_valid
        q = self.percentiles(percentiles, quantile_method)
        few = nv < min(int(min_valid), self.n_seen)
        blank = np.where(few, np.nan, 1.0)
        stats = {"nominal": nominal, "n_valid": nv, "mean": self.mean() * blank,
                 "median": self.median() * blank}
        for p, row in zip(percentiles, q):
            stats[f"q{p:g}"] = row * blank
        stats["sd"] = self.std(1) * blank
        stats["width"] = (q[-1] - q[0]) * blank
        stats["mean_abs_shift"] = self.mean_abs_shift(nominal) * blank
        for k in top_k:
            stats[f"p_top{k}"] = np.where(few, np.nan, self.share_at_most(k))
        df = pd.DataFrame(stats, index=pd.Index(list(units), name="unit"))
        if few.any():
            df["note"] = np.where(nv == 0, "not ranked in any replication",
                                  [f"too few valid replications ({v} < {min_valid}); no band"
                                   for v in nv])
            df.loc[~few, "note"] = ""
        df.attrs["band"] = (lo, hi)
        df.attrs["quantile_method"] = quantile_method
        return df.sort_values(["nominal", "median"], na_position="last")
