"""The publication table: the league table a report prints, under the publication conventions.

:func:`publication_table` takes an :class:`~cityindex.model.pipeline.IndexResult` and returns a
:class:`PublicationTable` with one row per unit of one node (the index by default): the rank
under the node's conventions (method key ``ranking``: rounding, ties), the score as published
(rounded or not), the rank change against a previous vintage when one is given (``up``,
``down``, ``same`` or ``new``, as in the published 2021 tables of the seed report, whose
``rank_change`` column uses those words), the methodological band (percentiles of the rank over
an uncertainty analysis, with its level and quantile rule) and flags (shared rank, not ranked,
mostly imputed, wide band). Units without a score are listed last, not ranked, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from cityindex.model.summary import Result, Summary, json_safe

__all__ = ["PublicationTable", "publication_table", "previous_ranks", "CHANGE_WORDS"]

#: rank-change words (the seed report's tables) and the arrows a printed table shows
CHANGE_WORDS = {"up": "↑", "down": "↓", "same": "—", "new": "new", "": ""}


@dataclass(eq=False, repr=False)
class PublicationTable(Result):
    """A league table ready to publish (see the module docstring).

    Attributes
    ----------
    table : DataFrame with columns ``rank`` (float: NaN = not ranked), ``rank_label`` ("12" or
        "=12" for a shared rank, "–" when not ranked), ``unit``, ``name``, ``score`` (as
        published), ``previous_rank``, ``rank_change`` (up/down/same/new, "" when not ranked),
        ``places`` (previous − current: positive = moved up), ``band_lower``, ``band_upper``,
        ``flags`` ("; "-joined).
    node : the node ranked; conventions : its :class:`~cityindex.model.ranking.Ranking` as a dict;
    band : description of the band (level, quantile rule, replications) or "";
    previous : description of the previous vintage or "".
    """

    table: pd.DataFrame
    node: str
    conventions: dict
    band: str = ""
    previous: str = ""
    counts: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self, top: int = 20) -> Summary:
        s = Summary(f"Publication table: {self.node}")
        c = self.counts
        s.add_text(f"{c.get('ranked', 0)} units ranked, {c.get('not_ranked', 0)} not ranked, "
                   f"{c.get('tied', 0)} sharing a rank; conventions: "
                   f"{self.conventions.get('description', '')}.")
        if self.previous:
            s.add_text(f"Rank change against {self.previous}: up {c.get('up', 0)}, down "
                       f"{c.get('down', 0)}, same {c.get('same', 0)}, new {c.get('new', 0)}.")
        if self.band:
            s.add_text(f"Band: {self.band}.")
        cols = [c for c in ("rank_label", "unit", "name", "score", "rank_change", "band_lower",
                            "band_upper", "flags") if c in self.table]
        s.add_table(self.table.head(top)[cols], f"Top {min(top, len(self.table))}")
        return s

    def to_dict(self) -> dict:
        return json_safe({"node": self.node, "conventions": self.conventions,
                          "band": self.band, "previous": self.previous, "counts": self.counts,
                          "table": self.table})

    def _repr_lines(self) -> Iterable[str]:
        c = self.counts
        yield (f"{self.node}: {c.get('ranked', 0)} ranked, {c.get('not_ranked', 0)} not "
               f"ranked; {self.conventions.get('description', '')}")


def previous_ranks(previous: Any, node: str | None = None) -> pd.Series:
    """Ranks of a previous vintage, indexed by unit: an IndexResult (its ranks at ``node``, the
    root by default), a Series, or a table (DataFrame or CSV path) with a unit column (``unit``,
    ``code`` or ``uCode``) and a ``rank`` column (or ``<node>_rank``, as in scores.csv).

    Raises
    ------
    DataError for a table without those columns or with a repeated unit.
    """
    from cityindex.model.errors import DataError

    if isinstance(previous, pd.Series):
        return previous.astype(float)
    if hasattr(previous, "ranks") and hasattr(previous, "framework"):
        return previous.ranks[node or previous.framework.root].astype(float)
    df = previous if isinstance(previous, pd.DataFrame) else pd.read_csv(
        previous, keep_default_na=False, na_values=[""])
    where = "previous vintage" if isinstance(previous, pd.DataFrame) else str(previous)
    ucol = next((c for c in ("unit", "code", "uCode") if c in df.columns), None)
    rcol = next((c for c in (f"{node}_rank" if node else "", "rank") if c and c in df.columns),
                None)
    if ucol is None or rcol is None:
        raise DataError(f"{where}: a previous vintage needs a unit column (unit, code or uCode) "
                        f"and a 'rank' column; columns are {', '.join(map(str, df.columns[:10]))}")
    units = df[ucol].astype(str)
    if units.duplicated().any():
        raise DataError(f"{where}: unit {units[units.duplicated()].iloc[0]!r} appears twice")
    return pd.Series(pd.to_numeric(df[rcol], errors="coerce").to_numpy(float),
                     index=units.to_numpy(), name="previous_rank")


def publication_table(result, *, node: str | None = None, previous: Any = None,
                      previous_label: str = "the previous vintage", band: Any = None,
                      band_label: str = "", low_data: float = 0.5,
                      wide_band: int | None = None) -> PublicationTable:
    """The publication table of ``node`` (default: the index) of ``result``.

    Parameters
    ----------
    result : IndexResult.
    node : an aggregate code (default the root).
    previous : the previous vintage (see :func:`previous_ranks`), optional.
    band : a rank-statistics table indexed by unit (``UncertaintyResult.rank_stats`` or a node
        table of ``node_stats``) whose first and last ``q<p>`` columns are the band, optional.
    band_label : how the band was made (level, quantile rule, replications), for the table's
        description.
    low_data : flag units with less than this share of observed indicators ("low data").
    wide_band : flag bands wider than this many places (default: none).

    Returns
    -------
    PublicationTable, rows sorted by rank (units not ranked last, by code).

    Raises
    ------
    MethodError for an unknown or non-aggregate node; DataError for a bad previous table.
    """
    from cityindex.model.errors import MethodError

    fw = result.framework
    node = node or fw.root
    if node not in fw.aggregates:
        raise MethodError(f"node '{node}' is not an aggregate of '{fw.root}'; valid: "
                          f"{', '.join(fw.aggregates)}")
    conv = result.ranking(node)
    rank = result.ranks[node].astype(float)
    score = result.published_scores[node]
    units = rank.index
    t = pd.DataFrame({"rank": rank.to_numpy(), "unit": units.to_numpy()}, index=units)
    t.index.name = None
    names = result.data.meta.get("name_en") if hasattr(result.data, "meta") else None
    t["name"] = (names.reindex(units).fillna("").astype(str).to_numpy()
                 if names is not None else "")
    t["score"] = score.to_numpy()
    counts_rank = rank.value_counts()
    tied = rank.map(counts_rank).fillna(0).to_numpy() > 1
    t["rank_label"] = [("–" if np.isnan(r) else ("=" if tie else "") + (
        f"{r:g}")) for r, tie in zip(rank.to_numpy(), tied)]
    flags: dict[str, list[str]] = {u: [] for u in units}
    for u in units[rank.isna().to_numpy()]:
        flags[u].append("not ranked: no score")
    for u in units[tied]:
        flags[u].append("shared rank")
    share = result.screening.get("observed_share") if hasattr(result, "screening") else None
    if share is not None:
        low = share.reindex(units) < low_data
        for u in units[low.fillna(False).to_numpy()]:
            flags[u].append(f"low data ({share[u]:.0%} of indicators observed)")
    counts = {"ranked": int(rank.notna().sum()), "not_ranked": int(rank.isna().sum()),
              "tied": int(tied.sum())}
    prev_desc = ""
    if previous is not None:
        prev = previous_ranks(previous, node).reindex(units)
        t["previous_rank"] = prev.to_numpy()
        change = np.select([rank.isna().to_numpy(), prev.isna().to_numpy(),
                            rank.to_numpy() < prev.to_numpy(), rank.to_numpy() > prev.to_numpy()],
                           ["", "new", "up", "down"], "same")
        t["rank_change"] = change
        t["places"] = prev.to_numpy() - rank.to_numpy()
        for w in ("up", "down", "same", "new"):
            counts[w] = int((change == w).sum())
        prev_desc = previous_label
    band_desc = ""
    if band is not None:
        qcols = [c for c in band.columns if str(c).startswith("q")]
        if len(qcols) >= 2:
            b = band.reindex(units)
            t["band_lower"] = b[qcols[0]].to_numpy()
            t["band_upper"] = b[qcols[-1]].to_numpy()
            if wide_band is not None:
                wide = (t["band_upper"] - t["band_lower"]) > wide_band
                for u in units[wide.to_numpy()]:
                    flags[u].append(f"band wider than {wide_band} places")
            band_desc = band_label or f"rank percentiles {qcols[0][1:]}–{qcols[-1][1:]}"
    t["flags"] = [("; ".join(flags[u])) for u in units]
    order = ["rank_label", "rank", "unit", "name", "score", "previous_rank", "rank_change",
             "places", "band_lower", "band_upper", "flags"]
    t = t[[c for c in order if c in t.columns]]
    t = t.assign(_nan=t["rank"].isna()).sort_values(["_nan", "rank", "score", "unit"],
                                                     ascending=[True, True, False, True],
                                                     kind="stable").drop(columns="_nan")
    conventions = {**conv.to_dict(), "description": conv.describe()}
    return PublicationTable(t.reset_index(drop=True), node, conventions, band_desc, prev_desc,
                            counts)
