"""City profiles: score, rank and band at every level beside regional peers and rank neighbours,
strongest and weakest indicators, and what drives the city's rank band (per-unit Sobol STi) —
a view of one :class:`~cityindex.auditing.IndexAudit`.

Strongest and weakest indicators are chosen among the indicators the city has *observed* (before
imputation) only, ranked among the units that observed them; imputed indicators are listed
separately, and a value at the indicator's minimum is never called a strength.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cityindex.model.availability import NOT_RANKED
from cityindex.model.ranking import rank_scores
from cityindex.model.summary import Result, Summary, json_safe

#: name columns looked for in a data set's unit metadata (non-bundled data such as COINr ASEM)
NAME_COLS = ("name_en", "uName", "name", "unit_name", "city", "City")


@dataclass(repr=False)
class CityProfile(Result):
    """The profile of one unit in one index (see :func:`city_profile`)."""

    code: str
    name: str
    region: str
    index: str
    levels: pd.DataFrame
    peers: pd.DataFrame
    neighbours: pd.DataFrame
    strongest: pd.DataFrame
    weakest: pd.DataFrame
    imputed: list
    observed_share: float
    drivers: pd.DataFrame
    notes: list = field(default_factory=list)
    trajectory: pd.DataFrame | None = None  # year, score, rank, median, q5, q95 (multi-year)

    #: the tables of a profile, in display order, with their titles
    PARTS = (("levels", "Score, rank and 5–95 % rank band at every level"),
             ("peers", "Regional peers"), ("neighbours", "Rank neighbours"),
             ("strongest", "Strongest indicators (observed only; rank among the units that "
                           "observed it)"),
             ("weakest", "Weakest indicators (observed only)"),
             ("drivers", "What drives the rank band (Sobol STi of this city's rank)"))

    @property
    def parts(self) -> tuple:
        """:data:`PARTS`, plus the trajectory over the years when the audit had years."""
        if self.trajectory is None:
            return self.PARTS
        return self.PARTS + (("trajectory", "Score and rank over the years, with the 5–95 % "
                                            "rank band"),)

    def to_frame(self) -> pd.DataFrame:
        return self.levels.copy()

    def to_dict(self) -> dict:
        return json_safe({"code": self.code, "name": self.name, "region": self.region,
                          "index": self.index, "status": self.status,
                          "observed_share": self.observed_share,
                          "imputed": self.imputed, "notes": self.notes,
                          **{k: getattr(self, k) for k, _ in self.parts}})

    def summary(self) -> Summary:
        region = f", {self.region}" if self.region else ""
        s = Summary(f"{self.name} ({self.code}{region}) — {self.index}")
        for part, title in self.parts:
            s.add_table(getattr(self, part), title, digits=2, max_rows=None)
        s.add_text(*self.notes)
        return s

    @property
    def status(self) -> str:
        """The unit's ranking status at the index."""
        return str(self.levels["status"].iloc[0]) if "status" in self.levels else ""

    def _repr_lines(self):
        r = self.levels["rank"].iloc[0]
        return [f"{self.name} ({self.code}) in {self.index}: "
                + (f"rank {r:.0f}" if pd.notna(r) else self.status)
                + f", {self.observed_share:.0%} observed"]


def _name_column(meta: pd.DataFrame | None) -> str | None:
    if meta is None:
        return None
    return next((c for c in NAME_COLS if c in meta.columns), None)


def unit_names(data_list) -> dict[str, str]:
    """Unit code → display name from the data's own metadata (first name column found)."""
    out: dict[str, str] = {}
    for d in data_list or []:
        meta = getattr(d, "meta", None)
        col = _name_column(meta)
        if col:
            for u, v in meta[col].items():
                if isinstance(v, str) and v.strip():
                    out.setdefault(str(u), v)
    return out


def resolve_cities(names: list[str], registry: pd.DataFrame | None = None,
                   data=None) -> list[str]:
    """Unit codes for city names ("Shanghai", "上海", "Paris (France)") or codes, deduplicated
    in the order given.

    Codes match case-insensitively ("fr-paris"). Names are matched in the city registry; with
    ``data`` (an IndicatorData or a list of them: non-bundled data such as COINr ASEM) also
    against the data's own unit codes and name column (``uName`` …), which wins when the
    registry has no match or its match is not a unit of the data.

    Raises ``cityindex.model.registry.CityMatchError`` (one line) for an unknown or ambiguous name.
    """
    from cityindex.model.registry import CityMatchError, CityMatcher, load_registry, name_key

    if data is not None and not isinstance(data, (list, tuple)):
        data = [data]
    if registry is None:
        try:
            registry = load_registry()
        except Exception:  # noqa: BLE001 - the data's own names may still resolve
            registry = None
    matcher = CityMatcher(registry) if registry is not None else None
    reg_codes = list(registry["code"]) if registry is not None else []
    units: list[str] = []
    for d in data or []:
        units.extend(str(u) for u in d.values.index if str(u) not in units)
    unit_set = set(units)
    by_upper: dict[str, str] = {}
    for c in units + reg_codes:          # data units first: they win a case-insensitive clash
        by_upper.setdefault(str(c).upper(), str(c))
    by_name: dict[str, list[str]] = {}
    for u, n in unit_names(data).items():
        by_name.setdefault(name_key(n), []).append(u)

    out: list[str] = []
    for n in names:
        code = by_upper.get(str(n).strip().upper())
        if code is None:
            err = None
            try:
                code = matcher.match(n) if matcher is not None else None
            except CityMatchError as exc:
                err = exc
            if data and (code is None or code not in unit_set):
                hits = by_name.get(name_key(n), [])
                if len(hits) == 1:
                    code = hits[0]
                elif len(hits) > 1:
                    raise CityMatchError(f"ambiguous city {n!r}; candidates: "
                                         f"{', '.join(hits)}")
            if code is None:
                raise err or CityMatchError(f"unknown city {n!r}; candidates: none")
        if code not in out:
            out.append(code)
    return out


def _band(a, node: str, unit: str) -> tuple[float, float, float]:
    """(median, q5, q95) of a unit's rank on ``node`` from the uncertainty analysis."""
    if a.uncertainty is None:
        return (float("nan"),) * 3
    rs = a.uncertainty.rank_stats if node == a.root else a.uncertainty.node_stats.get(node)
    if rs is None or unit not in rs.index:
        return (float("nan"),) * 3
    r = rs.loc[unit]
    return float(r["median"]), float(r["q5"]), float(r["q95"])


def _indicator_tables(a, code: str, n_ind: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(strongest, weakest, imputed indicator codes) of unit ``code`` (see the module docs)."""
    res, fw = a.result, a.framework
    inds = [i for i in fw.indicators if i in res.normalised.columns]
    norm = res.normalised[inds]
    raw = res.raw.reindex(index=norm.index, columns=inds)
    observed = raw.notna()
    obs_norm = norm.where(observed)
    ind_rank = pd.DataFrame(rank_scores(obs_norm.to_numpy(float), ties="min", axis=0, rtol=0.0),
                            index=obs_norm.index, columns=obs_norm.columns)  # NaN: not ranked
    own = observed.loc[code]
    imputed = [i for i in inds if not own[i]]
    cols = ["indicator", "name", "value", "rank", "of"]
    ind = pd.DataFrame({"indicator": inds, "name": [fw.nodes[i].name for i in inds],
                        "value": norm.loc[code, inds].to_numpy(float),
                        "rank": ind_rank.loc[code, inds].to_numpy(float),
                        "of": observed.sum().reindex(inds).to_numpy(int)})
    ind = ind[own.reindex(inds).to_numpy(bool)]
    if ind.empty:
        empty = pd.DataFrame(columns=cols)
        return empty, empty.copy(), imputed
    # share of observing units this unit beats or ties: 1 = best, 0 = worst
    ind["pct"] = 1 - (ind["rank"] - 1) / ind["of"].clip(lower=2).sub(1)
    at_min = ind["value"].to_numpy() <= obs_norm[ind["indicator"]].min().to_numpy() + 1e-12
    ind = ind.assign(at_min=at_min).sort_values(["pct", "value"], ascending=False)
    # the better half of the city's own observed indicators are strength candidates, the worse
    # half weakness candidates (an odd middle one is a strength only if in the better half of
    # the units); a value at the indicator's minimum is never a strength
    k = len(ind)
    n_top = k // 2 + (1 if k % 2 and ind["pct"].iloc[k // 2] >= 0.5 else 0)
    top, bottom = ind.iloc[:n_top], ind.iloc[n_top:]
    strong = top[~top["at_min"]].head(n_ind)
    weak = (pd.concat([bottom, top[top["at_min"]]])
            .sort_values(["pct", "value"], ascending=True).head(n_ind))
    tidy = lambda t: t[cols].reset_index(drop=True)
    return tidy(strong), tidy(weak), imputed


def city_profile(a, code: str, n_peers: int = 5, n_neighbours: int = 3,
                 n_ind: int = 3) -> "CityProfile":
    """Profile of unit ``code`` in index audit ``a`` (see the module docstring).

    Returns a :class:`CityProfile`: ``code``, ``name``, ``region``; DataFrames ``levels`` (node, level, score,
    rank, median, q5, q95), ``peers`` (same region, nearest in rank), ``neighbours`` (rank ± k),
    ``strongest`` / ``weakest`` (observed indicators only: normalised value, rank among the
    ``of`` units that observed it), ``imputed`` (indicator codes imputed for this unit),
    ``observed_share``, ``drivers`` (factor, ST, ST_lo, ST_hi, S1, flag of this city's rank,
    largest first) and ``notes`` (list of sentences: imputation, flagged Sobol estimates, bands
    computed over part of the replications).
    """
    res, fw = a.result, a.framework
    meta = res.data.meta

    def name_of(u):
        return str(a.names.get(u, u))

    name = name_of(code)
    region_col = "region" if "region" in meta.columns else None
    region = meta.at[code, region_col] if region_col and code in meta.index else ""
    region = "" if pd.isna(region) else str(region)
    ranks, scores = res.ranks, res.scores
    status = res.availability.status
    nodes = [fw.root] + [c for c in reversed(fw.aggregates) if c != fw.root]
    notes: list[str] = []
    rows = []
    for n in nodes:
        med, lo, hi = _band(a, n, code)
        rows.append(dict(node=n, name=fw.nodes[n].name, level=fw.level(n),
                         score=scores.at[code, n], rank=ranks.at[code, n], median=med, q5=lo,
                         q95=hi, status=status.at[code, n]))
        st = (a.uncertainty.node_stats.get(n) if a.uncertainty is not None and n != fw.root
              else None)
        share = st.attrs.get("defined_share") if st is not None else None
        if share is not None and share < 1:
            notes.append(f"{n}: its only indicator is left out in {1 - share:.0%} of the "
                         f"uncertainty replications; its band is over the other {share:.0%}.")
    levels = pd.DataFrame(rows)

    def table(units):
        rows = []
        for u in units:
            med, lo, hi = _band(a, fw.root, u)
            rows.append(dict(unit=u, name=name_of(u), score=scores.at[u, fw.root],
                             rank=ranks.at[u, fw.root], median=med, q5=lo, q95=hi))
        if not rows:
            return pd.DataFrame(columns=["unit", "name", "score", "rank", "median", "q5",
                                         "q95"])
        return pd.DataFrame(rows).sort_values("rank")

    r0 = ranks.at[code, fw.root]
    order = ranks[fw.root].dropna().sort_values()
    neighbours = peers = pd.Index([])
    if code in order.index:  # a unit not ranked has no rank neighbours nor peers by rank
        pos = order.index.get_loc(code)
        neighbours = order.index[max(0, pos - n_neighbours): pos + n_neighbours + 1]
        if region_col:
            same = meta.reindex(order.index)[region_col] == region
            peer_ranks = order[same.to_numpy()]
            peers = (peer_ranks - r0).abs().sort_values().index[: n_peers + 1]
    not_ranked = [n for n in nodes if status.at[code, n] == NOT_RANKED]
    if fw.root in not_ranked:
        notes.append(f"Not ranked: no data — none of the {len(fw.indicators)} indicators of "
                     f"{fw.root} is observed for this unit, so it has no score and no rank "
                     "(imputed values alone are not ranked).")
    elif not_ranked:
        notes.append(f"Not ranked at {', '.join(not_ranked)}: no observed indicator there.")
    strongest, weakest, imputed = _indicator_tables(a, code, n_ind)
    n_all = len([i for i in fw.indicators if i in res.normalised.columns])
    observed_share = 1 - len(imputed) / n_all if n_all else float("nan")
    if imputed:
        notes.append(f"{len(imputed)} of {n_all} indicators are imputed for this unit (not "
                     f"observed), so they are left out of strongest/weakest: "
                     f"{', '.join(imputed)}.")
    flag = res.availability.flag_below
    if 0 < observed_share < flag:
        notes.append(f"Flagged: only {observed_share:.0%} of its indicators are observed "
                     f"(< {flag:.0%}, availability.flag_below): its scores and ranks rest "
                     "mostly on imputed values.")
    drivers = pd.DataFrame(columns=["factor", "ST", "ST_lo", "ST_hi", "S1", "flag"])
    if a.sensitivity is not None:
        t = a.sensitivity.table
        cols = [c for c in ("factor", "ST", "ST_lo", "ST_hi", "S1", "flag") if c in t]
        drivers = (t[t["output"] == code][cols]
                   .sort_values("ST", ascending=False).reset_index(drop=True))
        if "flag" in drivers:
            drivers["flag"] = drivers["flag"].fillna("")
            quality = drivers["flag"].str.split(";").map(
                lambda fs: [f for f in fs if f and not f.endswith("_below_dummy")])
            bad = drivers[quality.map(len) > 0]
            if len(bad):
                notes.append(f"{len(bad)} of {len(drivers)} Sobol estimates of this city's rank "
                             f"are flagged (values outside [0, 1], S1 > ST or intervals wider "
                             f"than 0.2; Sobol base N = {a.sensitivity.n_base}): read them as rough, or "
                             "rerun with a larger --n-sobol.")
    return CityProfile(code=code, name=name, region=region, index=a.root, levels=levels,
                       peers=table(peers), neighbours=table(neighbours),
                       strongest=strongest, weakest=weakest, imputed=imputed,
                       observed_share=observed_share, drivers=drivers, notes=notes,
                       trajectory=_trajectory(a, code))


def _trajectory(a, code: str) -> pd.DataFrame | None:
    """The unit's score and rank over the years with its band (the audit's ``history`` at
    the index; None without years), and the year-on-year move of the audit's two years."""
    h = getattr(a, "history", None)
    if h is None or not len(h):
        return None
    t = h[(h["unit"] == code) & (h["node"] == a.root)]
    cols = [c for c in ("year", "score", "rank", "median", "q5", "q95") if c in t]
    t = t[cols].sort_values("year").reset_index(drop=True)
    yc = getattr(a, "years", None)
    if yc is not None and code in yc.table.index:
        r = yc.table.loc[code]
        t["move"] = ""
        t.loc[t["year"] == yc.years[1], "move"] = (
            f"{r['classification']} ({r['change']:+.0f}, band [{r['band_lo']:+.0f}, "
            f"{r['band_hi']:+.0f}])" if pd.notna(r["change"]) else str(r["classification"]))
    return t


