"""Compare two index results before publication: method A vs B, year t−1 vs t, ours vs published.

``compare_results(a, b, band=None, top_k=10)`` lines up two :class:`~model.pipeline.IndexResult`
objects (two methods, two frameworks or two data vintages) and returns a :class:`Comparison`:

* ``shifts`` — tidy, one row per (node, unit): scores and ranks under A and B, the score shift
  ``score_b − score_a`` and the rank shift ``rank_b − rank_a`` (**negative = moved up**, rank 1
  is best), the arrow (``up``, ``down``, ``same``, ``new`` = only in B, ``exit`` = only in A) as in
  the report's tables, and — when a band is given — whether B's rank lies outside A's
  uncertainty band ``[q_lo, q_hi]`` (``beyond_band``; a unit whose rank did not change is never
  beyond, even where its nominal rank lies outside its own skewed band).
* ``correlations`` — per node: Spearman ρ and Kendall τ (scipy, τ-b) over the common units, with
  p-values, mean/max absolute rank shift and the number of units that moved.
* ``top`` — entries into and exits from the top k, per node.

``attribute_stages(framework, data, method_a, method_b)`` splits each unit's move between the
stages in which two method specs differ (found by :func:`diff_specs`, a diff of ``to_dict()``):

* one-at-a-time (OAT): A with B's setting of stage s only, minus A;
* exact Shapley decomposition: for k differing stages (players) every one of the 2^k
  combinations "A with B's settings of the stages in T" is computed with ``compute_index``
  (2^k runs), and stage s gets
  ``φ_s = Σ_{T ⊆ S∖{s}} |T|! (k−|T|−1)! / k! · (v(T ∪ {s}) − v(T))``
  where v is a unit's rank (or score). By the efficiency property the φ_s of a unit sum to its
  total move v(S) − v(∅) = B − A exactly (up to floating rounding of the rational weights).
  The interaction term ``total − Σ OAT`` is reported too.

Stages that only make sense together (e.g. a geometric mean needs positive normalised values)
can be grouped into one player: ``stages=[("normalisation", "aggregation"), "treatment"]``.
Without such a grouping, a hybrid that is not a valid method (a ``MethodError`` or
``DataError`` from it, or one that leaves unscored a unit both A and B score) makes
``attribute_stages`` merge the stages involved automatically: the finest grouping under which
every hybrid is valid is used, reported in ``Attribution.groups`` and ``Attribution.note``; if
none is finer than "all differing stages together", that single player is used and the
attribution is trivial (the note says so). Shares still sum exactly to each unit's move.

``compare_vintages`` runs two data vintages through one method; ``compare_published`` sets a
result against a published ranking (``data/published/*.csv``), matching cities by registry code
or, without a code column, by name through :class:`model.registry.CityMatcher`.

Figures (matplotlib, Agg backend) for the audit report: :func:`slope_chart`,
:func:`shapley_chart`, :func:`rank_scatter`.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cityindex.model.errors import DataError, MethodError
from cityindex.model.method import MethodSpec

ARROWS = ("up", "down", "same", "new", "exit")
_IGNORED_KEYS = ("name", "description")


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
    """Names of the lower and upper percentile columns of a ``rank_stats`` table."""
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


def _fmt_int(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))


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


# ------------------------------------------------------------------------------ comparison
@dataclass
class Comparison:
    """Result of :func:`compare_results` (see module docstring).

    Attributes
    ----------
    shifts : DataFrame, one row per (node, unit): node, unit, score_a, score_b, score_shift,
        rank_a, rank_b, rank_shift (= rank_b − rank_a; negative = up), abs_rank_shift, arrow,
        and with a band: band_lo, band_hi, beyond_band (bool; NaN where undefined).
    correlations : DataFrame, one row per node: n_common, spearman, spearman_p, kendall,
        kendall_p, mean_abs_rank_shift, max_abs_rank_shift, n_moved, n_new, n_exit,
        n_beyond_band.
    top : DataFrame of top-k entries/exits: node, unit, change ('entry' | 'exit'), rank_a,
        rank_b.
    root : the index node's code (A's); top_k; labels (names of A and B).
    """

    shifts: pd.DataFrame
    correlations: pd.DataFrame
    top: pd.DataFrame
    root: str
    top_k: int
    labels: tuple[str, str] = ("A", "B")
    has_band: bool = False
    meta: dict = field(default_factory=dict)

    def node(self, code: str | None = None) -> pd.DataFrame:
        """The shifts of one node (default: the index), indexed by unit, sorted by B's rank."""
        code = code or self.root
        df = self.shifts[self.shifts["node"] == code].set_index("unit").drop(columns="node")
        return df.sort_values(["rank_b", "rank_a"], na_position="last")

    def beyond_band(self, code: str | None = None) -> pd.DataFrame:
        """Units of ``code`` whose B rank is outside A's band, largest moves first."""
        if not self.has_band:
            return self.node(code).iloc[0:0]
        df = self.node(code)
        return df[df["beyond_band"] == True].sort_values(  # noqa: E712  (object column)
            "abs_rank_shift", ascending=False)

    def entries(self, code: str | None = None) -> list[str]:
        t = self.top[(self.top["node"] == (code or self.root)) & (self.top["change"] == "entry")]
        return t["unit"].tolist()

    def exits(self, code: str | None = None) -> list[str]:
        t = self.top[(self.top["node"] == (code or self.root)) & (self.top["change"] == "exit")]
        return t["unit"].tolist()

    def to_dict(self) -> dict:
        c = self.correlations.set_index("node")
        out = {"labels": list(self.labels), "root": self.root, "top_k": self.top_k,
               "has_band": self.has_band, **self.meta, "nodes": {}}
        for node, row in c.iterrows():
            d = {k: (None if isinstance(v, float) and np.isnan(v) else
                     (int(v) if isinstance(v, (np.integer,)) else
                      (float(v) if isinstance(v, (np.floating, float)) else v)))
                 for k, v in row.items()}
            d["top_entries"] = self.entries(node)
            d["top_exits"] = self.exits(node)
            out["nodes"][node] = d
        idx = self.node()
        biggest = idx.dropna(subset=["rank_shift"]).sort_values("abs_rank_shift",
                                                               ascending=False).head(10)
        out["largest_index_moves"] = [
            {"unit": u, "rank_a": int(r.rank_a), "rank_b": int(r.rank_b),
             "rank_shift": int(r.rank_shift),
             **({"beyond_band": bool(r.beyond_band)} if self.has_band
                and not pd.isna(r.beyond_band) else {})}
            for u, r in biggest.iterrows()]
        if self.has_band:
            out["beyond_band_index"] = self.beyond_band()[["rank_a", "rank_b", "band_lo",
                                                           "band_hi"]].reset_index().to_dict(
                "records")
        return out

    def summary(self) -> str:
        """A plain-text summary a person can read."""
        a, b = self.labels
        lines = [f"Comparison of {a} (A) and {b} (B); rank shift = rank_B − rank_A "
                 f"(negative = moved up); top k = {self.top_k}"]
        c = self.correlations
        w = max(8, *(len(n) for n in c["node"]))
        lines.append(f"{'node':<{w}}  {'n':>4}  {'spearman':>8}  {'kendall':>7}  "
                     f"{'mean|Δr|':>8}  {'max|Δr|':>7}  {'moved':>5}  {'new':>4}  {'exit':>4}"
                     + (f"  {'beyond':>6}" if self.has_band else ""))
        for r in c.itertuples(index=False):
            lines.append(f"{r.node:<{w}}  {r.n_common:>4}  {r.spearman:>8.4f}  {r.kendall:>7.4f}"
                         f"  {r.mean_abs_rank_shift:>8.2f}  {r.max_abs_rank_shift:>7.0f}  "
                         f"{r.n_moved:>5}  {r.n_new:>4}  {r.n_exit:>4}"
                         + (f"  {_fmt_int(r.n_beyond_band):>6}" if self.has_band else ""))
        lines.append(f"top {self.top_k} of {self.root}: entries {self.entries() or '-'}; "
                     f"exits {self.exits() or '-'}")
        idx = self.node().dropna(subset=["rank_shift"])
        big = idx.sort_values("abs_rank_shift", ascending=False).head(5)
        if len(big) and big["abs_rank_shift"].iloc[0] > 0:
            lines.append("largest index moves: " + ", ".join(
                f"{u} {int(r.rank_a)}→{int(r.rank_b)}" for u, r in big.iterrows()))
        if self.has_band:
            bb = self.beyond_band()
            lines.append(f"{len(bb)} unit(s) move beyond A's uncertainty band on {self.root}"
                         + (": " + ", ".join(f"{u} {int(r.rank_a)}→{int(r.rank_b)} "
                                             f"[{r.band_lo:g}, {r.band_hi:g}]"
                                             for u, r in bb.head(15).iterrows())
                            if len(bb) else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def compare_results(a, b, band: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
                    top_k: int = 10, nodes: str | Sequence[str] | None = "all",
                    labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two IndexResults (two methods, frameworks or data vintages).

    Parameters
    ----------
    a, b : IndexResult. The roots are compared even if named differently; other aggregates
        only where both frameworks have them.
    band : the uncertainty band of A: ``UncertaintyResult.rank_stats`` (index node), or a
        mapping node → rank-stats table (e.g. ``{root: rank_stats, **node_stats}``). A move is
        ``beyond_band`` when B's rank lies outside ``[q_lo, q_hi]`` of A.
    top_k : size of the top group for entries and exits.
    nodes : "all" (default), None (all), or a list of A's aggregate codes.
    labels : names of A and B for summaries and figures.
    """
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise MethodError(f"top_k must be a positive integer, got {top_k!r}")
    pairs = _node_pairs(a, b, nodes)
    if band is not None and isinstance(band, pd.DataFrame):
        band = {a.framework.root: band}
    band = dict(band or {})
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
                # a move is beyond the band when B's rank leaves [q_lo, q_hi] of A; a unit
                # that did not move is never "beyond" (its nominal rank can lie outside its
                # own percentile band when the distribution is skewed)
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
                      a.framework.root, int(top_k), tuple(labels), bool(band))


# ------------------------------------------------------------------------------ spec diff
def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping) and d:
        out = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def diff_specs(a: MethodSpec, b: MethodSpec, depth: int = 1) -> list[str]:
    """Paths (top-level stages at ``depth=1``; dotted leaf paths with ``depth=None``) whose
    values differ between two method specs' ``to_dict()``. ``name``/``description`` ignored."""
    da, db = _spec_dict(a), _spec_dict(b)
    fa, fb = _flatten(da), _flatten(db)
    out: list[str] = []
    for path in list(fa) + [p for p in fb if p not in fa]:
        if fa.get(path, _MISSING) != fb.get(path, _MISSING):
            key = ".".join(path.split(".")[:depth]) if depth else path
            if key not in out:
                out.append(key)
    return out


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _spec_dict(m) -> dict:
    m = m if isinstance(m, MethodSpec) else (MethodSpec.from_dict(m) if isinstance(m, Mapping)
                                             else MethodSpec.load(m))
    d = m.to_dict()
    for k in _IGNORED_KEYS:
        d.pop(k, None)
    return d


def _get(d: Mapping, path: str):
    cur = d
    for k in path.split("."):
        if isinstance(cur, Mapping) and k in cur:
            cur = cur[k]
        elif isinstance(cur, Mapping) and k.isdigit() and int(k) in cur:
            cur = cur[int(k)]
        else:
            return _MISSING
    return cur


def _set(d: dict, path: str, value) -> None:
    keys = path.split(".")
    cur = d
    for k in keys[:-1]:
        if k not in cur and k.isdigit() and int(k) in cur:
            k = int(k)
        cur = cur.setdefault(k, {})
    last = keys[-1]
    if last not in cur and last.isdigit() and int(last) in cur:
        last = int(last)
    if value is _MISSING:
        cur.pop(last, None)
    else:
        cur[last] = copy.deepcopy(value)


def hybrid_spec(a: MethodSpec, b: MethodSpec, paths: Iterable[str]) -> MethodSpec:
    """Spec A with B's values at ``paths`` (a path absent from B is removed from A)."""
    da, db = _spec_dict(a), _spec_dict(b)
    for p in paths:
        _set(da, p, _get(db, p))
    try:
        return MethodSpec.from_dict(da)
    except MethodError as exc:
        raise MethodError(f"A with B's {sorted(paths)} is not a valid method ({exc}); group "
                          "stages that only work together, e.g. "
                          "stages=[('normalisation', 'aggregation')]") from None


# ------------------------------------------------------------------------------ attribution
@dataclass
class Attribution:
    """Result of :func:`attribute_stages`.

    Attributes
    ----------
    table : tidy DataFrame, one row per (node, unit, stage): rank_a, rank_b, rank_shift,
        score_shift (totals, B − A), rank_oat, score_oat (one-at-a-time: A with B's stage, − A),
        rank_shapley, score_shapley (exact Shapley shares; sum over stages = the total),
        rank_share (rank_shapley / rank_shift, NaN when the unit did not move).
    stages : the players (labels); paths : label → tuple of spec paths.
    interactions : DataFrame (node, unit): total − Σ OAT for rank and score.
    n_runs : number of combinations the Shapley values use (2^k, k players).
    groups : label → the requested stages (the differing stages, or the ``stages`` given)
        merged into that player; a player of more than one stage was merged automatically
        because some hybrid methods were invalid.
    note : one line explaining the grouping ("" when every hybrid was valid as requested).
    invalid : the hybrids that could not be computed: ``{"stages": [...], "error": str}``.
    n_tried : compute_index runs tried in all (including failed hybrids and the search).
    """

    table: pd.DataFrame
    stages: list[str]
    paths: dict[str, tuple[str, ...]]
    interactions: pd.DataFrame
    n_runs: int
    combos: dict = field(default_factory=dict, repr=False)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""
    invalid: list[dict] = field(default_factory=list)
    n_tried: int = 0

    @property
    def grouped(self) -> bool:
        """True when stages were merged automatically because some hybrids were invalid."""
        return any(len(g) > 1 for g in self.groups.values())

    @property
    def trivial(self) -> bool:
        """True when all (several) requested stages had to be merged into one player."""
        return len(self.stages) == 1 and self.grouped

    def wide(self, value: str = "rank_shapley", node: str | None = None) -> pd.DataFrame:
        """Units × stages of one value (plus the total), for one node (default: the index)."""
        t = self.table
        node = node or t["node"].iloc[0]
        t = t[t["node"] == node]
        w = t.pivot(index="unit", columns="stage", values=value)[self.stages]
        tot = "rank_shift" if value.startswith("rank") else "score_shift"
        w["total"] = t.groupby("unit")[tot].first()
        return w.sort_values("total", key=lambda s: -s.abs())

    def stage_summary(self, node: str | None = None) -> pd.DataFrame:
        """Per stage: mean |Shapley rank share|, share of Σ|moves|, mean |OAT|."""
        t = self.table
        node = node or t["node"].iloc[0]
        t = t[t["node"] == node]
        g = t.groupby("stage", sort=False)
        out = pd.DataFrame({"mean_abs_rank_shapley": g["rank_shapley"].apply(
            lambda s: s.abs().mean()), "mean_abs_rank_oat": g["rank_oat"].apply(
            lambda s: s.abs().mean()), "mean_abs_score_shapley": g["score_shapley"].apply(
            lambda s: s.abs().mean())}).reindex(self.stages)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share_of_abs_rank_shapley"] = (out["mean_abs_rank_shapley"]
                                                / out["mean_abs_rank_shapley"].sum())
        return out

    def max_abs_sum_error(self, value: str = "rank") -> float:
        """max over (node, unit) of |Σ_stages shapley − total move| (0 up to rounding)."""
        g = self.table.groupby(["node", "unit"], sort=False)
        err = (g[f"{value}_shapley"].sum(min_count=1) - g[f"{value}_shift"].first()).abs()
        return float(err.max()) if err.notna().any() else 0.0

    def summary(self, note: bool = True) -> str:
        lines = [f"Stage attribution over {len(self.stages)} player(s) "
                 f"({self.n_runs} combinations, exact Shapley): "
                 + ", ".join(f"{s} = {list(p)}" if (len(p) > 1 or p[0] != s) else s
                             for s, p in self.paths.items())]
        if note and self.note:
            lines.append(f"note: {self.note}")
        lines.append(self.stage_summary().to_string(float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)


def _players(stages, a, b) -> dict[str, tuple[str, ...]]:
    if stages is None:
        found = diff_specs(a, b)
        return {s: (s,) for s in found}
    out = {}
    for s in stages:
        if isinstance(s, str):
            out[s] = (s,)
        else:
            s = tuple(s)
            out["+".join(s)] = s
    return out


_LOC = re.compile(r"^.*?(?:row \d+ \(unit [^)]*\)|unit [^,:]+), column '[^']*': ")


def _short_reason(exc: BaseException, limit: int = 160) -> str:
    """The gist of an error on one line, without the data-file location of a DataError (the
    cell is not at fault: the hybrid method is)."""
    msg = " ".join(str(exc).split())
    msg = _LOC.sub("", msg, count=1)
    for cut in ("; ", " ("):
        i = msg.find(cut)
        if i >= 30:
            msg = msg[:i]
    return msg if len(msg) <= limit else msg[:limit - 1] + "…"


def _set_partitions(items: list[int]):
    """All set partitions of ``items`` (lists of blocks)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in _set_partitions(rest):
        for i in range(len(p)):
            yield p[:i] + [[first] + p[i]] + p[i + 1:]
        yield [[first]] + p


def _candidate_groupings(n: int, max_search: int = 9) -> list[tuple[tuple[int, ...], ...]]:
    """Groupings of players 0..n−1 to try, finest first; among equally fine ones the smallest
    largest group, then groups of stages adjacent in pipeline order. Beyond ``max_search``
    players (Bell(n) groupings) only the finest and the coarsest are tried."""
    if n == 0:
        return [()]
    if n > max_search:
        return [tuple((i,) for i in range(n)), (tuple(range(n)),)]
    parts = {tuple(sorted(tuple(sorted(b)) for b in p)) for p in _set_partitions(list(range(n)))}
    return sorted(parts, key=lambda bl: (-len(bl), max(len(b) for b in bl),
                                         sum(b[-1] - b[0] for b in bl), bl))


def _check_scored(res, a, b) -> None:
    """A hybrid must score every (unit, node) that both A and B score (else the Shapley shares
    of that unit could not add up to its move): MethodError otherwise."""
    if a is None or b is None:
        return
    ra, rb, rh = a.ranks, b.ranks, res.ranks
    cols = [c for c in ra.columns if c in rb.columns]
    units = ra.index.intersection(rb.index)
    both = ra.reindex(index=units, columns=cols).notna() & rb.reindex(index=units,
                                                                        columns=cols).notna()
    lost = both & rh.reindex(index=units, columns=cols).isna()
    if lost.to_numpy().any():
        bad = lost.any(axis=1)
        raise MethodError(f"{int(bad.sum())} unit(s) scored by both A and B are not scored "
                          f"(e.g. {list(bad[bad].index[:3])})")


def attribute_stages(framework, data, method_a, method_b, stages=None,
                     nodes: str | Sequence[str] | None = None, max_stages: int = 8,
                     result_a=None, result_b=None, auto_group: bool = True) -> Attribution:
    """Share of each unit's rank and score move from A to B caused by each differing stage.

    Parameters
    ----------
    framework, data : as for ``compute_index`` (the same for A and B).
    method_a, method_b : MethodSpec (or mapping / path).
    stages : None (the top-level paths found by :func:`diff_specs`), or a list of spec paths
        (e.g. ``"treatment.winmax"``) and tuples of paths grouped into one player.
    nodes : None (the index), "all", or a list of aggregate codes.
    max_stages : refuse more than this many players (2^k runs).
    result_a, result_b : A's and B's results when already computed (saves two runs).
    auto_group : when some hybrid "A with B's settings of the stages in T" is not a valid
        method (a ``MethodError`` or ``DataError`` from it, e.g. B's geometric mean on A's
        min-max [0, 100] zeros), merge the stages involved into one player and retry: the
        finest grouping under which every hybrid is valid is used and reported in
        ``Attribution.groups`` / ``note``. When no finer grouping works all stages become one
        player (the attribution is then trivial: each unit's whole move). With
        ``auto_group=False`` an invalid hybrid raises :class:`MethodError`.

    Returns
    -------
    Attribution. For each unit, Σ_stages rank_shapley == rank_b − rank_a (and likewise scores).

    Raises
    ------
    MethodError when there are too many stages, when ``auto_group`` is off and a hybrid is
    invalid, or when even "A with B's settings of all the stages" cannot be computed. Errors
    of a hybrid are never raised as a ``DataError``: the data are not at fault.
    """
    from cityindex.model.framework import Framework
    from cityindex.model.pipeline import compute_index
    from cityindex.model.data import read_data

    if not isinstance(framework, Framework):
        framework = Framework.load(framework)
    if isinstance(data, (str, Path)):
        data = read_data(data, framework)
    ma = method_a if isinstance(method_a, MethodSpec) else MethodSpec.from_dict(
        _spec_dict(method_a))
    mb = method_b if isinstance(method_b, MethodSpec) else MethodSpec.from_dict(
        _spec_dict(method_b))
    req = _players(stages, ma, mb)
    n = len(req)
    if n > max_stages:
        raise MethodError(f"{n} differing stages ({list(req)}) need 2^{n} runs; group them "
                          f"or raise max_stages ({max_stages})")
    base_names = list(req)
    everything = frozenset(range(n))

    # v(U) for U ⊆ the requested players: A with B's settings of the stages in U (cached,
    # failures remembered so that a grouping containing them is never tried again)
    done: dict[frozenset, Any] = {}
    failed: dict[frozenset, BaseException] = {}

    def label(U) -> str:
        return "+".join(base_names[i] for i in sorted(U))

    def value(U: frozenset):
        if U in done:
            return done[U]
        if U in failed:
            return None
        if not U:
            done[U] = result_a if result_a is not None else compute_index(framework, data, ma)
            return done[U]
        if U == everything and result_b is not None and stages is None:
            done[U] = result_b
            return done[U]
        paths = [p for i in sorted(U) for p in req[base_names[i]]]
        try:
            spec = hybrid_spec(ma, mb, paths)
            res = compute_index(framework, data, spec)
            if U != everything:
                _check_scored(res, value(frozenset()), value(everything))
        except (DataError, MethodError) as exc:
            failed[U] = exc
            return None
        done[U] = res
        return res

    def blocked(grouping) -> bool:
        sets = [frozenset(b) for b in grouping]
        return any(all(b <= F or not (b & F) for b in sets) for F in failed)

    def valid(grouping) -> bool:
        k = len(grouping)
        for r in range(k + 1):
            for T in itertools.combinations(range(k), r):
                U = frozenset(i for j in T for i in grouping[j])
                if value(U) is None:
                    return False
        return True

    finest = tuple((i,) for i in range(n))
    chosen = None
    for grouping in ([finest] if not auto_group or n == 0 else _candidate_groupings(n)):
        if blocked(grouping):
            continue
        if valid(grouping):
            chosen = grouping
            break
        if not auto_group:
            U = min(failed, key=lambda s: (len(s), sorted(s)))
            raise MethodError(
                f"A with B's {label(U)} is not a valid method ({_short_reason(failed[U])}); "
                "group stages that only work together, e.g. "
                "stages=[('normalisation', 'aggregation')], or use auto_group=True") from None
    invalid = [{"stages": [base_names[i] for i in sorted(U)],
                "error": f"A with B's {label(U)}: " + _LOC.sub("", " ".join(str(e).split()),
                                                                  count=1)}
               for U, e in sorted(failed.items(), key=lambda kv: (len(kv[0]), sorted(kv[0])))]
    if chosen is None:
        U = everything if everything in failed else min(failed, key=len)
        raise MethodError(f"stage attribution not possible: A with B's {label(U)} is not a "
                          f"valid method ({_short_reason(failed[U])})")
    chosen = tuple(sorted(chosen, key=lambda b: b[0]))  # players in the requested order
    players = {label(b): tuple(p for i in b for p in req[base_names[i]]) for b in chosen}
    groups = {label(b): tuple(base_names[i] for i in b) for b in chosen}
    names = list(players)
    k = len(names)
    note = ""
    if failed:
        U = min(failed, key=lambda s: (len(s), sorted(s)))
        why = (f"{len(failed)} hybrid method(s) are invalid, e.g. A with B's {label(U)} "
               f"({_short_reason(failed[U])})")
        merged = [label(b) for b in chosen if len(b) > 1]
        if k == 1 and n > 1:
            note = (f"no finer grouping of the differing stages {', '.join(base_names)} makes "
                    f"every hybrid valid: {why}; all are treated as one player "
                    f"'{names[0]}', so the attribution is trivial (each unit's whole move)")
        elif merged:
            note = (f"stages grouped into one player: {', '.join(merged)}, because {why}")
        else:  # pragma: no cover - a failure blocks the finest grouping, so something merged
            note = why
    combos: dict[frozenset, Any] = {}
    for r in range(k + 1):
        for T in itertools.combinations(range(k), r):
            combos[frozenset(T)] = done[frozenset(i for j in T for i in chosen[j])]
    base, full = combos[frozenset()], combos[frozenset(range(k))]
    if nodes is None:
        codes = [framework.root]
    elif nodes == "all":
        codes = [framework.root] + [c for c in reversed(framework.aggregates)
                                    if c != framework.root]
    else:
        codes = [nodes] if isinstance(nodes, str) else list(nodes)
    units = base.ranks.index
    for res in combos.values():
        units = units.union(res.ranks.index, sort=False)
    ranks = {T: r.ranks.reindex(units) for T, r in combos.items()}
    scores = {T: r.scores.reindex(units) for T, r in combos.items()}
    wts = {s: math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
           for s in range(k)}
    rows, inter = [], []
    for code in codes:
        R = {T: v[code].to_numpy(float) for T, v in ranks.items()}
        S = {T: v[code].to_numpy(float) for T, v in scores.items()}
        r0, r1, s0, s1 = R[frozenset()], R[frozenset(range(k))], S[frozenset()], \
            S[frozenset(range(k))]
        oat_r_sum = np.zeros(len(units))
        oat_s_sum = np.zeros(len(units))
        for i, name in enumerate(names):
            phi_r = np.zeros(len(units))
            phi_s = np.zeros(len(units))
            others = [j for j in range(k) if j != i]
            for r in range(k):
                for T in itertools.combinations(others, r):
                    T0 = frozenset(T)
                    T1 = T0 | {i}
                    phi_r += wts[r] * (R[T1] - R[T0])
                    phi_s += wts[r] * (S[T1] - S[T0])
            oat_r = R[frozenset({i})] - r0
            oat_s = S[frozenset({i})] - s0
            oat_r_sum += oat_r
            oat_s_sum += oat_s
            tot_r = r1 - r0
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(tot_r != 0, phi_r / np.where(tot_r != 0, tot_r, 1), np.nan)
            rows.append(pd.DataFrame({
                "node": code, "unit": units, "stage": name, "rank_a": r0, "rank_b": r1,
                "rank_shift": tot_r, "score_shift": s1 - s0, "rank_oat": oat_r,
                "score_oat": oat_s, "rank_shapley": phi_r, "score_shapley": phi_s,
                "rank_share": share}))
        inter.append(pd.DataFrame({"node": code, "unit": units,
                                   "rank_interaction": (r1 - r0) - oat_r_sum,
                                   "score_interaction": (s1 - s0) - oat_s_sum}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return Attribution(table, names, players, pd.concat(inter, ignore_index=True),
                       len(combos), combos, groups, note, invalid, len(done) + len(failed))


# ------------------------------------------------------------------------------ vintages
def compare_vintages(framework, data_prev, data_curr, method=None, band=None, top_k: int = 10,
                     nodes="all", labels=("previous", "current")) -> Comparison:
    """Year over year: two data vintages through one method. Arrows up/down/same/new/exit as
    in the published tables (``new`` = unit scored only in the current vintage);
    ``beyond_band`` uses the previous vintage's uncertainty band."""
    from cityindex.model.pipeline import compute_index

    a = compute_index(framework, data_prev, method)
    b = compute_index(framework, data_curr, method)
    return compare_results(a, b, band=band, top_k=top_k, nodes=nodes, labels=labels)


# ------------------------------------------------------------------------------ published
def read_published(path, matcher=None, name_col: str = "city_en",
                   country_col: str | None = "country_region_en") -> pd.DataFrame:
    """A published ranking with a ``code`` column; without one, cities are matched by name
    (and country) through the registry's :class:`~model.registry.CityMatcher`. A
    ``match_error`` column lists names that could not be matched (their code is NaN)."""
    df = pd.read_csv(path) if not isinstance(path, pd.DataFrame) else path.copy()
    if "rank" not in df.columns:
        raise DataError(f"{path}: a published table needs a 'rank' column "
                        f"(got {list(df.columns)})")
    if "code" in df.columns and df["code"].notna().all():
        return df
    if matcher is None:
        from cityindex.model.registry import CityMatcher, load_registry

        matcher = CityMatcher(load_registry())
    from cityindex.model.registry import CityMatchError

    codes, errs = [], []
    for _, row in df.iterrows():
        if "code" in df.columns and isinstance(row.get("code"), str) and row["code"]:
            codes.append(row["code"])
            errs.append("")
            continue
        country = row.get(country_col) if country_col and country_col in df.columns else None
        try:
            codes.append(matcher.match(str(row[name_col]),
                                       country if isinstance(country, str) else None))
            errs.append("")
        except CityMatchError as exc:
            try:  # the country label may be one the matcher does not know: retry on the name
                codes.append(matcher.match(str(row[name_col])))
                errs.append("")
            except CityMatchError:
                codes.append(np.nan)
                errs.append(str(exc))
    df["code"] = codes
    df["match_error"] = errs
    return df


@dataclass
class PublishedComparison:
    """Result of :func:`compare_published`.

    table : one row per published city: code, city, rank_published, rank_ours, rank_diff
        (ours − published; negative = we rank it higher), arrow (published → ours),
        published_change (the table's own rank_change), in_our_top (ours ≤ the table's size).
    spearman, spearman_p, kendall, n_overlap, n_unmatched, n_top_overlap.
    """

    table: pd.DataFrame
    spearman: float
    spearman_p: float
    kendall: float
    n_overlap: int
    n_unmatched: int
    n_top_overlap: int
    top_n: int

    def to_dict(self) -> dict:
        return {"spearman": self.spearman, "spearman_p": self.spearman_p,
                "kendall": self.kendall, "n_overlap": self.n_overlap,
                "n_unmatched": self.n_unmatched, "n_top_overlap": self.n_top_overlap,
                "top_n": self.top_n,
                "mean_abs_rank_diff": float(self.table["rank_diff"].abs().mean())}

    def summary(self) -> str:
        t = self.table.dropna(subset=["rank_ours"])
        far = t.reindex(t["rank_diff"].abs().sort_values(ascending=False).index).head(5)
        return (f"ours vs published: {self.n_overlap} cities matched ({self.n_unmatched} not), "
                f"Spearman ρ = {self.spearman:.3f}, Kendall τ = {self.kendall:.3f}; "
                f"{self.n_top_overlap}/{self.top_n} of the published top {self.top_n} are in "
                f"our top {self.top_n}; median |rank diff| = "
                f"{t['rank_diff'].abs().median():.0f}; furthest: "
                + ", ".join(f"{r.city} {int(r.rank_published)}→{int(r.rank_ours)}"
                            for r in far.itertuples()))


def compare_published(result, published, node: str | None = None, matcher=None,
                      name_col: str = "city_en") -> PublishedComparison:
    """Our ranking (``result``: IndexResult, or a Series of ranks indexed by unit code) against
    a published table (path or DataFrame with ``rank`` and ``code`` or city names)."""
    pub = read_published(published, matcher, name_col=name_col)
    if hasattr(result, "ranks"):
        ours = result.ranks[node or result.framework.root]
    else:
        ours = pd.Series(result)
    city = pub[name_col] if name_col in pub.columns else pub["code"]
    t = pd.DataFrame({"code": pub["code"], "city": city,
                      "rank_published": pd.to_numeric(pub["rank"], errors="coerce")})
    t["rank_ours"] = t["code"].map(ours).astype(float)
    t["rank_diff"] = t["rank_ours"] - t["rank_published"]
    t["arrow"] = [_arrow(p, o) for p, o in zip(t["rank_published"], t["rank_ours"])]
    if "rank_change" in pub.columns:
        t["published_change"] = pub["rank_change"].values
    top_n = int(t["rank_published"].max())
    t["in_our_top"] = t["rank_ours"] <= top_n
    both = t.dropna(subset=["rank_ours", "rank_published"])
    if len(both) >= 3:
        rho, p = stats.spearmanr(both["rank_published"], both["rank_ours"])
        tau, _ = stats.kendalltau(both["rank_published"], both["rank_ours"])
    else:
        rho = p = tau = np.nan
    return PublishedComparison(t, float(rho), float(p), float(tau), len(both),
                               int(t["rank_ours"].isna().sum()), int(t["in_our_top"].sum()),
                               top_n)


# ------------------------------------------------------------------------------ figures
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def slope_chart(comp: Comparison, node: str | None = None, n: int = 20,
                names: Mapping[str, str] | None = None):
    """Slope (bump) chart of ranks A → B for the units in either top ``n``; lines beyond A's
    band drawn red (when a band was given), others up green / down orange / same grey."""
    from matplotlib.figure import Figure

    df = comp.node(node)
    sel = df[(df["rank_a"] <= n) | (df["rank_b"] <= n)]
    fig = Figure(figsize=(6.5, max(4.0, 0.28 * len(sel) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    ymax = 1
    for unit, r in sel.iterrows():
        ya = r.rank_a if not np.isnan(r.rank_a) else n + 2
        yb = r.rank_b if not np.isnan(r.rank_b) else n + 2
        ymax = max(ymax, min(ya, n + 2), min(yb, n + 2))
        beyond = comp.has_band and not pd.isna(r.get("beyond_band", np.nan)) and bool(
            r.beyond_band)
        color = ("#c0392b" if beyond else "#1e8449" if r.arrow == "up" else "#d35400"
                 if r.arrow == "down" else "#7f8c8d")
        ya_c, yb_c = min(ya, n + 2), min(yb, n + 2)
        ax.plot([0, 1], [ya_c, yb_c], color=color, lw=2.0 if beyond else 1.2, marker="o",
                ms=3)
        label = (names or {}).get(unit, unit)
        # units outside the top n sit on one line below it, labelled with their rank
        out_a, out_b = ya > n, yb > n
        ra_txt = "–" if np.isnan(r.rank_a) else str(int(r.rank_a))
        rb_txt = "–" if np.isnan(r.rank_b) else str(int(r.rank_b))
        if not out_a or not out_b:
            if out_a:
                ax.text(0.03, ya_c, f"{label} ({ra_txt})", ha="left", va="top", fontsize=6,
                        color="grey", rotation=-20)
            else:
                ax.text(-0.03, ya_c, f"{label} {ra_txt}", ha="right", va="center", fontsize=7)
            if out_b:
                ax.text(0.97, yb_c, f"{label} ({rb_txt})", ha="right", va="top", fontsize=6,
                        color="grey", rotation=20)
            else:
                ax.text(1.03, yb_c, f"{rb_txt} {label}", ha="left", va="center", fontsize=7)
    ax.set_ylim(ymax + 1, 0)
    ax.set_xlim(-0.6, 1.6)
    ax.set_xticks([0, 1], list(comp.labels))
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_title(f"{node or comp.root}: rank moves, top {n}"
                 + (" (red: beyond A's uncertainty band)" if comp.has_band else ""), fontsize=9)
    fig.tight_layout()
    return fig


def shapley_chart(att: Attribution, node: str | None = None, n: int = 15,
                  value: str = "rank_shapley", names: Mapping[str, str] | None = None):
    """Horizontal stacked bars of each stage's Shapley share of the ``n`` largest moves; a
    black tick marks the total move (the bars sum to it)."""
    from matplotlib.figure import Figure

    w = att.wide(value, node).head(n).iloc[::-1]
    fig = Figure(figsize=(7, max(3.5, 0.32 * len(w) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(w))
    pos = np.zeros(len(w))
    neg = np.zeros(len(w))
    cmap = _plt().get_cmap("tab10")
    for i, s in enumerate(att.stages):
        v = w[s].to_numpy(float)
        v = np.nan_to_num(v)
        left = np.where(v >= 0, pos, neg)
        ax.barh(y, v, left=left, color=cmap(i % 10), label=s, height=0.7)
        pos += np.where(v >= 0, v, 0)
        neg += np.where(v < 0, v, 0)
    ax.scatter(w["total"], y, marker="|", color="black", s=120, zorder=3, label="total")
    ax.set_yticks(y, [(names or {}).get(u, u) for u in w.index], fontsize=7)
    ax.axvline(0, color="grey", lw=0.8)
    what = "rank" if value.startswith("rank") else "score"
    ax.set_xlabel(f"{what} shift B − A" + (" (negative = moved up)" if what == "rank" else ""))
    ax.set_title(f"Shapley attribution of {what} moves by stage", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def rank_scatter(comp: Comparison, node: str | None = None):
    """Rank under A vs rank under B, with A's band as error bars when available."""
    from matplotlib.figure import Figure

    df = comp.node(node).dropna(subset=["rank_a", "rank_b"])
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot(1, 1, 1)
    if comp.has_band and "band_lo" in df and df["band_lo"].notna().any():
        ax.errorbar(df["rank_a"], df["rank_a"],
                    yerr=[(df["rank_a"] - df["band_lo"]).clip(lower=0),
                          (df["band_hi"] - df["rank_a"]).clip(lower=0)],
                    fmt="none", ecolor="#bbbbbb", lw=0.6, label="A's band")
        beyond = df["beyond_band"].fillna(False).astype(bool)
        ax.scatter(df.loc[~beyond, "rank_a"], df.loc[~beyond, "rank_b"], s=6, color="#2c3e50")
        ax.scatter(df.loc[beyond, "rank_a"], df.loc[beyond, "rank_b"], s=10, color="#c0392b",
                   label="beyond band")
        ax.legend(fontsize=7)
    else:
        ax.scatter(df["rank_a"], df["rank_b"], s=6, color="#2c3e50")
    m = max(df["rank_a"].max(), df["rank_b"].max()) if len(df) else 1
    ax.plot([1, m], [1, m], color="grey", lw=0.8)
    ax.set_xlabel(f"rank, {comp.labels[0]}")
    ax.set_ylabel(f"rank, {comp.labels[1]}")
    ax.set_title(f"{node or comp.root}: ranks A vs B", fontsize=9)
    fig.tight_layout()
    return fig
