"""Rank and score shifts between two index results: method A vs B, or year t−1 vs t.

``compare_results(a, b, band=None, top_k=10)`` lines up two
:class:`~cityindex.model.pipeline.IndexResult` objects — two methods, two frameworks or two data
vintages (a vintage comparison is just two results computed with one method) — and returns a
:class:`Comparison`:

* ``shifts`` — tidy, one row per (node, unit): scores and ranks under A and B, the score shift
  ``score_b − score_a`` and the rank shift ``rank_b − rank_a`` (**negative = moved up**, rank 1
  is best), the arrow (``up``, ``down``, ``same``, ``new`` = only in B, ``exit`` = only in A) as in
  the published tables, and — when A's band is given — whether B's rank lies outside it
  (``beyond_band``).
* ``correlations`` — per node: Spearman ρ and Kendall τ (scipy, τ-b) over the common units, with
  p-values, mean/max absolute rank shift and the number of units that moved.
* ``top`` — entries into and exits from the top k, per node.

**The band** is method A's *methodological* rank band: the [q_lo, q_hi] percentiles (5–95 % by
default) of each unit's rank over the replications of an uncertainty analysis of A
(:func:`cityindex.validation.uncertainty.uncertainty_analysis`), i.e. over the alternative
method choices of an uncertainty space (Saisana, Saltelli & Tarantola 2005). A move "outside
the band" is one larger than A's own methodological choices produce; it is not a statistical
confidence statement about the data. A unit whose rank did not change is never outside, even
where its nominal rank lies outside its own skewed band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cityindex.model.errors import DataError, MethodError
from cityindex.model.summary import Result, Summary, json_safe

ARROWS = ("up", "down", "same", "new", "exit")


# ------------------------------------------------------------------------------ helpers
def _arrow(rank_a: float, rank_b: float) -> str:
    if np.isnan(rank_a) and np.isnan(rank_b):
        return ""
    if np.isnan(rank_a):
        return "new"
    if np.isnan(rank_b):
        return "exit"
    if rank_b < rank_a:
        return "up"
    if rank_b > rank_a:
        return "down"
    return "same"


def arrows(rank_a: pd.Series, rank_b: pd.Series) -> pd.Series:
    """Rank-change arrows from A to B over the union of units (up = better rank in B)."""
    idx = rank_a.index.union(rank_b.index, sort=False)
    ra, rb = rank_a.reindex(idx).astype(float), rank_b.reindex(idx).astype(float)
    return pd.Series([_arrow(x, y) for x, y in zip(ra, rb)], index=idx, name="arrow")


def band_limits(band: pd.DataFrame) -> tuple[str, str]:
    """Names of the lower and upper percentile columns of a ``rank_stats`` table.

    Raises DataError when the table has fewer than two ``q<p>`` columns.
    """
    if "band" in band.attrs:
        lo, hi = band.attrs["band"]
        cols = (f"q{lo:g}", f"q{hi:g}")
        if all(c in band.columns for c in cols):
            return cols
    qs = sorted((float(c[1:]), c) for c in band.columns
                if isinstance(c, str) and c.startswith("q") and _isfloat(c[1:]))
    if len(qs) < 2:
        raise DataError("band table needs percentile columns such as q5 and q95 "
                        f"(got {list(band.columns)[:10]})")
    return qs[0][1], qs[-1][1]


def _isfloat(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _node_pairs(a, b, nodes) -> list[tuple[str, str]]:
    """(code in A, code in B) for the nodes compared; the roots are paired even if named apart."""
    ra, rb = a.framework.root, b.framework.root
    common = [c for c in a.framework.aggregates if c in set(b.framework.aggregates) and c != ra]
    pairs = [(ra, rb)] + [(c, c) for c in reversed(common)]
    if nodes is None or nodes == "all":
        return pairs
    if isinstance(nodes, str):
        nodes = [nodes]
    known = {p[0]: p for p in pairs}
    bad = [n for n in nodes if n not in known]
    if bad:
        raise MethodError(f"node(s) {bad} not aggregates common to both results; valid: "
                          f"{sorted(known)}")
    return [known[n] for n in nodes]


def _band_tables(band, root: str) -> dict[str, pd.DataFrame]:
    """node → rank-stats table, from a table (the index), a mapping, or an uncertainty result
    (anything with ``rank_stats`` and optionally ``node_stats``)."""
    if band is None:
        return {}
    if isinstance(band, pd.DataFrame):
        return {root: band}
    if hasattr(band, "rank_stats"):
        return {root: band.rank_stats, **dict(getattr(band, "node_stats", None) or {})}
    return dict(band)


def band_name(percentiles: tuple[float, float] | None) -> str:
    """How the band is named in every summary: method A's methodological q_lo–q_hi % band."""
    lo, hi = percentiles or (5, 95)
    return f"method A's methodological {lo:g}–{hi:g} % rank band over the uncertainty space"


# ------------------------------------------------------------------------------ comparison
@dataclass(repr=False, eq=False)
class Comparison(Result):
    """Result of :func:`compare_results` / :func:`cityindex.validation.compare.compare`.

    Attributes
    ----------
    shifts : DataFrame, one row per (node, unit): node, unit, score_a, score_b, score_shift,
        rank_a, rank_b, rank_shift (= rank_b − rank_a; negative = up), abs_rank_shift, arrow,
        and with a band: band_lo, band_hi (A's q_lo and q_hi rank percentiles over the
        uncertainty space: A's methodological band) and beyond_band (True when the unit moved
        and B's rank lies outside [band_lo, band_hi]; NA where undefined).
    correlations : DataFrame, one row per node: node, node_b, n_common, spearman, spearman_p,
        kendall, kendall_p, mean_abs_rank_shift, max_abs_rank_shift, n_moved, n_new, n_exit,
        n_beyond_band (units outside A's methodological band; NaN without a band).
    top : DataFrame of top-k entries/exits: node, unit, change ('entry' | 'exit'), rank_a,
        rank_b.
    root : the index node's code (A's); top_k; labels (names of A and B).
    has_band, band_percentiles : whether A's band was given, and its (lo, hi) percentiles.
    band_info : figures of the uncertainty analysis behind the band (free-form, JSON-safe).
    differing_stages : method stages in which A and B differ (None when not looked at).
    attribution : the :class:`~.attribution.Attribution` of the moves to stages, or None;
        attribution_note says why there is none, or how stages were grouped.
    published : a :class:`~.published.PublishedComparison` of B against a published ranking,
        or None.
    """

    shifts: pd.DataFrame
    correlations: pd.DataFrame
    top: pd.DataFrame
    root: str
    top_k: int
    labels: tuple[str, str] = ("A", "B")
    has_band: bool = False
    band_percentiles: tuple[float, float] | None = None
    band_info: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    differing_stages: list[str] | None = None
    attribution: Any = None
    attribution_note: str = ""
    published: Any = None

    # ------------------------------------------------------------------ views
    def node(self, code: str | None = None) -> pd.DataFrame:
        """The shifts of one node (default: the index), indexed by unit, sorted by B's rank."""
        code = code or self.root
        df = self.shifts[self.shifts["node"] == code].set_index("unit").drop(columns="node")
        return df.sort_values(["rank_b", "rank_a"], na_position="last")

    def beyond_band(self, code: str | None = None) -> pd.DataFrame:
        """Units of ``code`` that moved and whose B rank is outside method A's methodological
        band (see the module docstring), largest moves first."""
        if not self.has_band:
            return self.node(code).iloc[0:0]
        df = self.node(code)
        return df[df["beyond_band"] == True].sort_values(  # noqa: E712  (object column)
            "abs_rank_shift", ascending=False)

    def entries(self, code: str | None = None) -> list[str]:
        """Units in B's top k but not in A's (node ``code``, default the index)."""
        t = self.top[(self.top["node"] == (code or self.root)) & (self.top["change"] == "entry")]
        return t["unit"].tolist()

    def exits(self, code: str | None = None) -> list[str]:
        """Units in A's top k but not in B's (node ``code``, default the index)."""
        t = self.top[(self.top["node"] == (code or self.root)) & (self.top["change"] == "exit")]
        return t["unit"].tolist()

    def largest_moves(self, n: int = 10, code: str | None = None) -> pd.DataFrame:
        """The ``n`` units of ``code`` with the largest |rank shift| (units in both A and B)."""
        idx = self.node(code).dropna(subset=["rank_shift"])
        return idx.sort_values("abs_rank_shift", ascending=False).head(n)

    # ------------------------------------------------------------------ protocol
    def to_frame(self) -> pd.DataFrame:
        """The tidy shifts table (one row per node and unit)."""
        return self.shifts.copy()

    def to_dict(self) -> dict:
        """JSON-safe summary (the CLI's summary.json).

        Keys: labels, root, top_k, has_band, band_percentiles, the ``meta`` entries, nodes
        (per node: the correlations row, top_entries, top_exits), largest_index_moves; with a
        band: band (its ``band_info``) and beyond_band_index (index units that moved outside
        method A's methodological band: unit, rank_a, rank_b, band_lo, band_hi); after
        :func:`~cityindex.validation.compare.compare`: differing_stages, attribution_note,
        attribution (``{"possible": False, "note": …}`` when not possible) and published.
        """
        out: dict[str, Any] = {"labels": list(self.labels), "root": self.root,
                               "top_k": self.top_k, "has_band": self.has_band,
                               "band_percentiles": self.band_percentiles, **self.meta,
                               "nodes": {}}
        for node, row in self.correlations.set_index("node").iterrows():
            d = dict(row.items())
            d["top_entries"] = self.entries(node)
            d["top_exits"] = self.exits(node)
            out["nodes"][node] = d
        out["largest_index_moves"] = [
            {"unit": u, "rank_a": int(r.rank_a), "rank_b": int(r.rank_b),
             "rank_shift": int(r.rank_shift),
             **({"beyond_band": bool(r.beyond_band)} if self.has_band
                and not pd.isna(r.beyond_band) else {})}
            for u, r in self.largest_moves(10).iterrows()]
        if self.has_band:
            out["band"] = dict(self.band_info)
            out["beyond_band_index"] = self.beyond_band()[["rank_a", "rank_b", "band_lo",
                                                           "band_hi"]].reset_index()
        if self.differing_stages is not None:
            out["differing_stages"] = list(self.differing_stages)
            out["attribution_note"] = self.attribution_note
            if self.attribution is not None:
                out["attribution"] = self.attribution.to_dict()
            elif self.differing_stages:
                out["attribution"] = {"possible": False, "note": self.attribution_note}
        if self.published is not None:
            out["published"] = self.published.to_dict()
        return json_safe(out)

    def summary(self) -> Summary:
        """Correlations per node, top-k entries and exits, the largest moves, the moves outside
        A's methodological band, then the attribution and the published comparison if any."""
        a, b = self.labels
        s = Summary(f"Comparison of {a} (A) and {b} (B)")
        s.add_text(f"rank shift = rank_B − rank_A (negative = moved up); top k = {self.top_k}")
        cols = {"node": "node", "n_common": "n", "spearman": "spearman",
                "kendall": "kendall", "mean_abs_rank_shift": "mean|Δr|",
                "max_abs_rank_shift": "max|Δr|", "n_moved": "moved", "n_new": "new",
                "n_exit": "exit"}
        if self.has_band:
            cols["n_beyond_band"] = "outside band"
        s.add_table(self.correlations[list(cols)].rename(columns=cols), digits=4,
                    max_rows=None)
        s.add_text(f"top {self.top_k} of {self.root}: entries {self.entries() or '-'}; "
                   f"exits {self.exits() or '-'}")
        big = self.largest_moves(5)
        if len(big) and big["abs_rank_shift"].iloc[0] > 0:
            s.add_text("largest index moves: " + ", ".join(
                f"{u} {int(r.rank_a)}→{int(r.rank_b)}" for u, r in big.iterrows()))
        if self.has_band:
            bb = self.beyond_band()
            s.add_text(f"{len(bb)} unit(s) of {self.root} move outside "
                       f"{band_name(self.band_percentiles)}"
                       + (": " + ", ".join(f"{u} {int(r.rank_a)}→{int(r.rank_b)} "
                                           f"[{r.band_lo:g}, {r.band_hi:g}]"
                                           for u, r in bb.head(15).iterrows())
                          if len(bb) else ""))
        if self.attribution_note:
            s.add_text(f"attribution: {self.attribution_note}")
        if self.attribution is not None:
            att = self.attribution.summary(note=False)
            s.add_text(att.title)
            s.blocks.extend(att.blocks)
        if self.published is not None:
            pub = self.published.summary()
            s.add_text(pub.title)
            s.blocks.extend(pub.blocks)
        return s

    def _repr_lines(self):
        a, b = self.labels
        units = self.shifts.loc[self.shifts["node"] == self.root, "unit"].nunique()
        yield (f"{a} vs {b}: {units} units, {len(self.correlations)} node(s), "
               f"top k = {self.top_k}")
        r = self.correlations.iloc[0]
        yield (f"{self.root}: Spearman {r['spearman']:.3f}, Kendall {r['kendall']:.3f}, "
               f"{int(r['n_moved'])} moved")
        if self.has_band:
            yield f"{len(self.beyond_band())} outside {band_name(self.band_percentiles)}"
        if self.attribution is not None:
            yield f"attribution over {', '.join(self.attribution.stages)}"
        elif self.attribution_note:
            yield f"attribution: {self.attribution_note[:70]}"
        if self.published is not None:
            yield f"published: {self.published.n_overlap} matched"


def compare_results(a, b, band: Any = None, top_k: int = 10,
                    nodes: str | Sequence[str] | None = "all",
                    labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two IndexResults (two methods, frameworks or data vintages).

    Parameters
    ----------
    a, b : IndexResult. The roots are compared even if named differently; other aggregates
        only where both frameworks have them.
    band : method A's methodological rank band (see the module docstring): an
        ``UncertaintyResult`` of A (its ``rank_stats`` and ``node_stats`` are used), its
        ``rank_stats`` table (index node; units × statistics with percentile columns such as
        ``q5`` and ``q95``), or a mapping node → such a table. A unit is ``beyond_band`` when
        it moved and B's rank lies outside ``[q_lo, q_hi]`` of A.
    top_k : size of the top group for entries and exits.
    nodes : "all" (default), None (all), or a list of A's aggregate codes.
    labels : names of A and B for summaries and figures.

    Raises
    ------
    MethodError for a bad ``top_k`` or an unknown node; DataError for a band table without
    percentile columns.
    """
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise MethodError(f"top_k must be a positive integer, got {top_k!r}")
    pairs = _node_pairs(a, b, nodes)
    band = _band_tables(band, a.framework.root)
    percentiles = None
    if band:
        first = band.get(a.framework.root, next(iter(band.values())))
        percentiles = tuple(float(c[1:]) for c in band_limits(first))
    ranks_a, ranks_b = a.ranks, b.ranks
    scores_a, scores_b = a.scores, b.scores
    rows, corr, top = [], [], []
    for ca, cb in pairs:
        ra, rb = ranks_a[ca], ranks_b[cb]
        sa, sb = scores_a[ca], scores_b[cb]
        idx = ra.index.union(rb.index, sort=False)
        df = pd.DataFrame({"node": ca, "unit": idx,
                           "score_a": sa.reindex(idx).to_numpy(float),
                           "score_b": sb.reindex(idx).to_numpy(float),
                           "rank_a": ra.reindex(idx).to_numpy(float),
                           "rank_b": rb.reindex(idx).to_numpy(float)})
        df["score_shift"] = df["score_b"] - df["score_a"]
        df["rank_shift"] = df["rank_b"] - df["rank_a"]
        df["abs_rank_shift"] = df["rank_shift"].abs()
        df["arrow"] = [_arrow(x, y) for x, y in zip(df["rank_a"], df["rank_b"])]
        nb = np.nan
        if band:
            df["band_lo"] = np.nan
            df["band_hi"] = np.nan
            df["beyond_band"] = pd.Series([pd.NA] * len(df), dtype="boolean")
            if ca in band:
                lo, hi = band_limits(band[ca])
                bt = band[ca]
                df["band_lo"] = bt[lo].reindex(idx).to_numpy(float)
                df["band_hi"] = bt[hi].reindex(idx).to_numpy(float)
                ok = df[["rank_b", "band_lo", "band_hi"]].notna().all(axis=1).to_numpy()
                # outside A's band when B's rank leaves [q_lo, q_hi] of A; a unit that did not
                # move is never outside (its nominal rank can lie outside its own percentile
                # band when the distribution is skewed)
                beyond = (((df["rank_b"] < df["band_lo"]) | (df["rank_b"] > df["band_hi"]))
                          & (df["rank_shift"] != 0))
                df["beyond_band"] = pd.Series(np.where(ok, beyond, pd.NA),
                                              dtype="boolean").to_numpy()
                nb = int(df["beyond_band"].fillna(False).sum())
        rows.append(df[[c for c in ("node", "unit", "score_a", "score_b", "score_shift",
                                    "rank_a", "rank_b", "rank_shift", "abs_rank_shift",
                                    "arrow", "band_lo", "band_hi", "beyond_band")
                        if c in df.columns]])
        both = df.dropna(subset=["rank_a", "rank_b"])
        if len(both) >= 3 and both["score_a"].nunique() > 1 and both["score_b"].nunique() > 1:
            rho, rho_p = stats.spearmanr(both["score_a"], both["score_b"])
            tau, tau_p = stats.kendalltau(both["score_a"], both["score_b"])
        else:
            rho = rho_p = tau = tau_p = np.nan
        corr.append({"node": ca, "node_b": cb, "n_common": len(both),
                     "spearman": float(rho), "spearman_p": float(rho_p),
                     "kendall": float(tau), "kendall_p": float(tau_p),
                     "mean_abs_rank_shift": float(both["abs_rank_shift"].mean())
                     if len(both) else np.nan,
                     "max_abs_rank_shift": float(both["abs_rank_shift"].max())
                     if len(both) else np.nan,
                     "n_moved": int((both["rank_shift"] != 0).sum()),
                     "n_new": int((df["arrow"] == "new").sum()),
                     "n_exit": int((df["arrow"] == "exit").sum()),
                     "n_beyond_band": nb})
        in_a = set(df.loc[df["rank_a"] <= top_k, "unit"])
        in_b = set(df.loc[df["rank_b"] <= top_k, "unit"])
        for change, units in (("entry", in_b - in_a), ("exit", in_a - in_b)):
            sub = df[df["unit"].isin(units)].sort_values(
                "rank_b" if change == "entry" else "rank_a")
            for r in sub.itertuples(index=False):
                top.append({"node": ca, "unit": r.unit, "change": change,
                            "rank_a": r.rank_a, "rank_b": r.rank_b})
    shifts = pd.concat(rows, ignore_index=True)
    # spearman/kendall from scipy are computed on scores: identical to the rank correlations
    # (rank-based statistics), with ties handled by average ranks as scipy does.
    return Comparison(shifts, pd.DataFrame(corr),
                      pd.DataFrame(top, columns=["node", "unit", "change", "rank_a", "rank_b"]),
                      a.framework.root, int(top_k), tuple(labels), bool(band), percentiles)
