"""Observed is not imputed: the observation mask of an index result, data availability per unit
and node, and the rule that a unit with no observed indicator under a node gets no rank there.

The **observation mask** (units × indicators, ``True`` = observed) records which cells held a
value before imputation (after denomination: a ratio with a missing numerator or denominator is
missing). Every statistic that describes the data (coherence, data-driven weights, the Bayesian
model) uses the observed cells; imputed values are shown beside them, never instead.

Ranking rule (DESIGN.md, "Observed is not imputed"):

* **not ranked: no data** — a unit with no observed indicator under a node has no score and no
  rank at that node, in every output (its score would be an imputation and nothing else);
* **flagged** — a unit ranked at a node with fewer than ``availability.flag_below`` of the
  node's indicators observed (a method key, default 0.5: most of its score rests on imputed
  values) is ranked, and flagged wherever its rank is shown;
* **ranked** — otherwise.

The default threshold 0.5 marks units whose scores rest *mostly* on imputed values. Published
conventions differ and are stricter, for exclusion rather than a flag: COINr's ASEM example
screens units at 0.9 availability, the Global Innovation Index requires about two thirds of its
indicators, the SDG Index does not rank countries missing more than about 20 %. Exclusion is
``screening.min_availability``; this flag only marks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .framework import Framework
from .summary import Result, Summary, json_safe

RANKED = "ranked"
FLAGGED = "flagged"
NOT_RANKED = "not ranked: no data"
#: the default of ``availability.flag_below`` (share of a node's indicators observed)
DEFAULT_FLAG_BELOW = 0.5


def membership(framework: Framework, nodes=None) -> pd.DataFrame:
    """Indicators × nodes, 1.0 where the indicator lies under the node (default: every
    computable aggregate, root included)."""
    nodes = list(framework.aggregates) if nodes is None else list(nodes)
    M = pd.DataFrame(0.0, index=framework.indicators, columns=nodes)
    for n in nodes:
        M.loc[framework.indicators_under(n), n] = 1.0
    return M


@dataclass(repr=False)
class Availability(Result):
    """Data availability of an index result and the ranking status it implies.

    Attributes
    ----------
    framework : Framework
    observed : DataFrame (units × indicators) of bool — the observation mask (before imputation).
    flag_below : float in [0, 1] — ``availability.flag_below`` of the method.

    Derived (properties): ``n_observed`` and ``share`` (units × aggregates: observed indicators
    under each node, and their share of the node's indicators), ``rankable`` (units ×
    aggregates: at least one observed indicator), ``flagged`` (ranked with share < flag_below),
    ``status`` (units × aggregates: "ranked", "flagged", "not ranked: no data").
    """

    framework: Framework
    observed: pd.DataFrame
    flag_below: float = DEFAULT_FLAG_BELOW

    def __post_init__(self):
        fw = self.framework
        obs = self.observed.reindex(columns=fw.indicators).fillna(False).astype(bool)
        self.observed = obs
        self._members = membership(fw)
        self._n = pd.DataFrame(obs.to_numpy(float) @ self._members.to_numpy(),
                               index=obs.index, columns=self._members.columns).round().astype(int)
        self._of = self._members.sum(axis=0).astype(int)

    # ------------------------------------------------------------------ tables
    @property
    def root(self) -> str:
        return self.framework.root

    @property
    def units(self) -> pd.Index:
        return self.observed.index

    @property
    def n_observed(self) -> pd.DataFrame:
        """Units × aggregates: number of the node's indicators the unit observed."""
        return self._n.copy()

    @property
    def n_indicators(self) -> pd.Series:
        """Aggregates → number of indicators under the node."""
        return self._of.copy()

    @property
    def share(self) -> pd.DataFrame:
        """Units × aggregates: share of the node's indicators observed, in [0, 1]."""
        return self._n / self._of

    @property
    def rankable(self) -> pd.DataFrame:
        """Units × aggregates: True where the unit observed at least one indicator under the
        node (and so may be ranked there)."""
        return self._n > 0

    @property
    def flagged(self) -> pd.DataFrame:
        """Units × aggregates: ranked, but with less than ``flag_below`` of the node's
        indicators observed."""
        return self.rankable & (self.share < self.flag_below - 1e-12)

    @property
    def status(self) -> pd.DataFrame:
        """Units × aggregates: "ranked", "flagged" or "not ranked: no data"."""
        out = pd.DataFrame(RANKED, index=self.units, columns=self._n.columns, dtype=object)
        out = out.mask(self.flagged, FLAGGED)
        return out.mask(~self.rankable, NOT_RANKED)

    def unit_status(self, node: str | None = None) -> pd.Series:
        """Status of every unit at ``node`` (default: the index)."""
        return self.status[node or self.root].rename("status")

    def reason(self, node: str | None = None) -> pd.Series:
        """Per unit, why it is flagged or not ranked at ``node`` ("" when plainly ranked)."""
        node = node or self.root
        n, of = self._n[node], int(self._of[node])
        st = self.unit_status(node)
        out = pd.Series("", index=self.units, name="reason", dtype=object)
        out[st == NOT_RANKED] = f"no observed indicator under {node} (0 of {of})"
        fl = st == FLAGGED
        out[fl] = [f"{k} of {of} indicators under {node} observed (< {self.flag_below:.0%})"
                   for k in n[fl]]
        return out

    def counts(self, node: str | None = None) -> dict:
        """{"n_units", "n_ranked", "n_flagged", "n_not_ranked", "flag_below"} at ``node``
        (``n_ranked`` includes the flagged units)."""
        st = self.unit_status(node)
        return {"n_units": int(len(st)), "n_ranked": int((st != NOT_RANKED).sum()),
                "n_flagged": int((st == FLAGGED).sum()),
                "n_not_ranked": int((st == NOT_RANKED).sum()), "flag_below": self.flag_below}

    def counts_line(self, node: str | None = None) -> str:
        """One sentence: how many units are ranked, flagged and not ranked at ``node``."""
        c = self.counts(node)
        return (f"{c['n_ranked']} of {c['n_units']} units ranked ({c['n_flagged']} flagged: "
                f"fewer than {c['flag_below']:.0%} of their indicators observed); "
                f"{c['n_not_ranked']} not ranked (no observed indicator)")

    def not_ranked(self, node: str | None = None) -> pd.DataFrame:
        """The units not ranked at ``node`` (default: the index), with the reason: unit, node,
        n_observed, of, reason. With ``node="all"``: every (unit, node) not ranked."""
        nodes = list(self._n.columns) if node == "all" else [node or self.root]
        rows = []
        for nd in nodes:
            st = self.unit_status(nd)
            why = self.reason(nd)
            for u in st.index[st == NOT_RANKED]:
                rows.append(dict(unit=u, node=nd, n_observed=0, of=int(self._of[nd]),
                                 reason=why[u]))
        return pd.DataFrame(rows, columns=["unit", "node", "n_observed", "of", "reason"])

    def per_unit(self) -> pd.DataFrame:
        """One row per unit: n_observed, of, observed_share (the index's indicators), status,
        reason at the index, then ``share_<node>`` for every other aggregate."""
        root = self.root
        t = pd.DataFrame({"n_observed": self._n[root], "of": int(self._of[root]),
                          "observed_share": self.share[root],
                          "status": self.unit_status(root), "reason": self.reason(root)})
        for nd in self._n.columns:
            if nd != root:
                t[f"share_{nd}"] = self.share[nd]
        return t.rename_axis("unit")

    def per_indicator(self) -> pd.DataFrame:
        """One row per indicator: code, parent, n_observed, n_units, observed_share."""
        fw, obs = self.framework, self.observed
        return pd.DataFrame({"code": fw.indicators,
                             "parent": [fw.parent(c) for c in fw.indicators],
                             "n_observed": obs.sum(axis=0).to_numpy(int),
                             "n_units": len(obs),
                             "observed_share": obs.mean(axis=0).to_numpy(float)})

    def classes(self, bins=(0.5, 0.9)) -> pd.Series:
        """Availability class of each unit at the index: "≤ 50 %", "50–90 %", "≥ 90 %" (the
        shares observed; bins are inclusive at both ends as written)."""
        lo, hi = bins
        s = self.share[self.root]
        out = pd.Series(f"{lo:.0%}–{hi:.0%}", index=self.units, name="availability_class")
        out[s <= lo + 1e-12] = f"≤ {lo:.0%}"
        out[s >= hi - 1e-12] = f"≥ {hi:.0%}"
        return out

    # ------------------------------------------------------------------ results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.per_unit().reset_index()

    def to_dict(self) -> dict:
        return json_safe({**self.counts(), "not_ranked": self.not_ranked(),
                          "not_ranked_nodes": self.not_ranked("all"),
                          "per_indicator": self.per_indicator()})

    def summary(self) -> Summary:
        s = Summary(f"Data availability of {self.root}")
        s.add_text(self.counts_line() + ".",
                   f"Observed cells: {int(self.observed.to_numpy().sum())} of "
                   f"{self.observed.size}; a unit with no observed indicator under a node is "
                   f"not ranked there; one with fewer than {self.flag_below:.0%} of a node's "
                   "indicators observed is flagged (method key availability.flag_below).")
        s.add_table(self.per_indicator(), "Observed share per indicator", max_rows=None)
        nr = self.not_ranked()
        if len(nr):
            s.add_table(nr, "Not ranked (index)", max_rows=None)
        return s

    def _repr_lines(self):
        return [self.counts_line()]


def observed_mask(denominated: pd.DataFrame, units=None) -> pd.DataFrame:
    """The observation mask: ``denominated`` (units × indicators, NaN = missing, before
    imputation) notna, restricted to ``units`` (the screened-in units) when given."""
    d = denominated if units is None else denominated.loc[units]
    return d.notna()


def observed_aggregated(result) -> pd.DataFrame:
    """The ``aggregated`` table of ``result`` (an IndexResult) on observed data: the normalised
    indicators with imputed cells set back to NaN, and every aggregate recomputed from the
    observed cells alone with the nominal aggregation (weights renormalised over the children a
    unit has, as for partial data). A unit with no observed indicator under a node has no score
    there. Units × (indicators + aggregates), like ``result.aggregated``.

    This is the table every observed-only statistic of the audit is computed on (coherence,
    PCA/FA and effective weights).
    """
    from .aggregate import aggregate

    fw, method = result.framework, result.method
    agg = result.normalised[fw.indicators].where(result.observed[fw.indicators])
    units = agg.index
    for level in range(2, fw.max_level + 1):
        for code in fw.codes_at_level(level):
            kids = fw.children(code)
            spec = method.resolve("aggregation", code, level)
            w = np.array([fw.nodes[k].weight for k in kids], float)
            m = spec["method"]
            if m == "copeland":  # a rank-based aggregate of partial rows is not defined here
                m = "arithmetic"
            agg[code] = aggregate(agg[kids].to_numpy(), w, m, p=spec.get("p", 1.0),
                                  min_availability=spec.get("min_availability"), codes=kids,
                                  units=units, node=code)
    return agg
