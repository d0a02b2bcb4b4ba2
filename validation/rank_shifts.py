"""The distribution of rank shifts over an uncertainty analysis (JRC statistical-audit style).

JRC audits summarise the Monte Carlo ranks by how far units move from their nominal rank: the
share of units whose *median* rank over the simulations lies within ±3 (and ±10) places of the
nominal rank (e.g. Saisana, Saltelli & Tarantola 2005, JRSS-A 168:307, §5; the JRC audits of the
Global Innovation Index), and, over every replication, the share of simulated ranks within
±3 / ±10 places. :func:`rank_shift_distribution` gives both, with the full distribution in
bins of absolute shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import warnings

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

__all__ = ["RankShiftDistribution", "rank_shift_distribution",
           "rank_shift_distribution_from_histogram", "SHIFT_BINS"]

#: upper edges of the bins of |shift| (places); the last bin is open
SHIFT_BINS = (0, 3, 10, 20, 50)


def _bin_labels(edges) -> list[str]:
    labels, lo = [], 0
    for e in edges:
        labels.append(f"{lo}" if lo == e else f"{lo}–{e}")
        lo = e + 1
    labels.append(f"> {edges[-1]}")
    return labels


def _shares(d: np.ndarray, edges) -> np.ndarray:
    """Share of the finite values of |d| in each bin (0, 1–3, 4–10, …, > last)."""
    d = np.abs(np.asarray(d, float))
    d = d[np.isfinite(d)]
    if not d.size:
        return np.full(len(edges) + 1, np.nan)
    # ranks and medians are whole or half places: a median shift of 3.5 is beyond 3
    idx = np.searchsorted(np.asarray(edges, float), d, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)[: len(edges) + 1] / d.size


@dataclass(repr=False)
class RankShiftDistribution(Result):
    """Result of :func:`rank_shift_distribution`.

    Attributes
    ----------
    table : DataFrame, one row per bin of absolute shift: ``shift`` (label, places),
        ``units_median`` (share of units whose |median rank − nominal rank| is in the bin),
        ``replications`` (share of all replication × unit ranks whose |rank − nominal rank| is
        in the bin).
    shares : {"median_within_3", "median_within_10", "all_within_3", "all_within_10", …} for
        each ``within`` threshold.
    per_unit : DataFrame (units): ``nominal``, ``median``, ``median_shift`` (median −
        nominal; negative = better than nominal), ``share_within_3`` … (share of the unit's
        replications within ±k places).
    """

    table: pd.DataFrame
    shares: dict
    per_unit: pd.DataFrame
    within: tuple = field(default=(3, 10))

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return json_safe({"table": self.table, "shares": self.shares})

    def sentence(self) -> str:
        """The figures as one sentence (plain text)."""
        s = self.shares
        parts = [f"{s[f'median_within_{k}']:.0%} of units have a median rank within ±{k} "
                 f"places of their nominal rank" for k in self.within]
        parts2 = [f"{s[f'all_within_{k}']:.0%} within ±{k}" for k in self.within]
        return "; ".join(parts) + " (over all replications: " + ", ".join(parts2) + ")."

    def summary(self) -> Summary:
        s = Summary("Distribution of rank shifts")
        s.add_text(self.sentence())
        s.add_table(self.table, "Share of units (median rank) and of all simulated ranks, by "
                    "absolute shift from the nominal rank", max_rows=None)
        return s

    def _repr_lines(self):
        return [self.sentence()]


def rank_shift_distribution(ranks: np.ndarray, nominal: np.ndarray, units=None,
                            within=(3, 10), bins=SHIFT_BINS) -> RankShiftDistribution:
    """How far simulated ranks move from the nominal ranks (see the module docstring).

    Parameters
    ----------
    ranks : array (replications × units) of ranks (e.g. ``UncertaintyResult.ranks``).
    nominal : array (units,) of nominal ranks.
    units : unit labels (default 0..n−1).
    within : thresholds k (places) for the "within ±k" shares.
    bins : upper edges of the bins of |shift| for ``table``.

    Returns
    -------
    RankShiftDistribution

    Raises
    ------
    ValueError if the shapes disagree.
    """
    R = np.asarray(ranks, float)
    nominal = np.asarray(nominal, float)
    if R.ndim != 2 or R.shape[1] != nominal.shape[0]:
        raise ValueError(f"ranks must be replications × units with {nominal.shape[0]} units; "
                         f"got shape {R.shape}")
    units = list(range(R.shape[1])) if units is None else list(units)
    D = R - nominal[None, :]
    with warnings.catch_warnings():   # a unit never ranked (no data) has an all-NaN column
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(R, axis=0)
    md = median - nominal
    shares = {}
    per_unit = pd.DataFrame({"nominal": nominal, "median": median, "median_shift": md},
                            index=pd.Index(units, name="unit"))
    for k in within:
        shares[f"median_within_{k}"] = float(np.mean(np.abs(md) <= k))
        ok = np.isfinite(D)
        shares[f"all_within_{k}"] = float((np.abs(D[ok]) <= k).mean()) if ok.any() else np.nan
        with np.errstate(invalid="ignore"):
            per_unit[f"share_within_{k}"] = (np.abs(D) <= k).mean(axis=0)
    table = pd.DataFrame({"shift": _bin_labels(bins), "units_median": _shares(md, bins),
                          "replications": _shares(D.ravel(), bins)})
    return RankShiftDistribution(table, shares, per_unit, tuple(within))


def rank_shift_distribution_from_histogram(hist, nominal: np.ndarray, units=None,
                                           within=(3, 10), bins=SHIFT_BINS
                                           ) -> RankShiftDistribution:
    """:func:`rank_shift_distribution` from per-unit rank histograms
    (:class:`~cityindex.validation.rank_histogram.RankHistogram`, e.g.
    ``UncertaintyResult.histograms["index"]``) instead of the replications × units matrix:
    the same figures over all N replications, with memory independent of N (the shares are
    exact: whole counts over the same totals)."""
    nominal = np.asarray(nominal, float)
    u = hist.n_units
    if nominal.shape[0] != u:
        raise ValueError(f"nominal must have {u} units; got {nominal.shape[0]}")
    units = list(range(u)) if units is None else list(units)
    vals = hist.values
    edges = np.asarray(bins, float)
    median = hist.median()
    md = median - nominal
    within_n = {k: np.zeros(u) for k in within}
    bin_n = np.zeros(len(bins) + 1)
    for s in range(0, u, 256):
        c = hist.counts[s:s + 256].astype(np.float64)
        d = np.abs(vals[None, :] - nominal[s:s + 256, None])
        ok = np.isfinite(d)
        for k in within:
            within_n[k][s:s + 256] = (c * (ok & (np.where(ok, d, np.inf) <= k))).sum(axis=1)
        idx = np.searchsorted(edges, np.where(ok, d, 0.0), side="left")
        for b in range(len(bins) + 1):
            bin_n[b] += (c * ((idx == b) & ok)).sum()
    total = bin_n.sum()
    shares = {}
    per_unit = pd.DataFrame({"nominal": nominal, "median": median, "median_shift": md},
                            index=pd.Index(units, name="unit"))
    for k in within:
        shares[f"median_within_{k}"] = float(np.mean(np.abs(md) <= k))
        shares[f"all_within_{k}"] = float(within_n[k].sum() / total) if total else np.nan
        per_unit[f"share_within_{k}"] = within_n[k] / max(hist.n_seen, 1)
    table = pd.DataFrame({"shift": _bin_labels(bins), "units_median": _shares(md, bins),
                          "replications": bin_n / total if total else
                          np.full(len(bins) + 1, np.nan)})
    return RankShiftDistribution(table, shares, per_unit, tuple(within))
