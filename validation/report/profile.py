"""City profiles: score, rank and band at every level beside regional peers and rank neighbours,
strongest and weakest indicators, and what drives the city's rank band (per-unit Sobol STi).

``city_profile(audit, code, registry)`` reads one :class:`~validation.report.audit.IndexAudit`
and returns a dict of small tidy DataFrames; ``profile_text`` renders it for the terminal.
"""

from __future__ import annotations

import pandas as pd


def resolve_cities(names: list[str], registry: pd.DataFrame | None = None) -> list[str]:
    """Registry codes for city names ("Shanghai", "上海", "Paris (France)") or codes.

    Raises ``model.registry.CityMatchError`` (one line) for an unknown or ambiguous name.
    """
    from model.registry import CityMatcher, load_registry

    registry = registry if registry is not None else load_registry()
    matcher = CityMatcher(registry)
    codes = set(registry["code"])
    return [n if n in codes else matcher.match(n) for n in names]


def _band(a, node: str, unit: str) -> tuple[float, float, float]:
    """(median, q5, q95) of a unit's rank on ``node`` from the uncertainty analysis."""
    if a.ua is None:
        return (float("nan"),) * 3
    rs = a.ua.rank_stats if node == a.root else a.ua.node_stats.get(node)
    if rs is None or unit not in rs.index:
        return (float("nan"),) * 3
    r = rs.loc[unit]
    return float(r["median"]), float(r["q5"]), float(r["q95"])


def city_profile(a, code: str, registry: pd.DataFrame | None = None, n_peers: int = 5,
                 n_neighbours: int = 3, n_ind: int = 3) -> dict:
    """Profile of unit ``code`` in index audit ``a`` (see the module docstring).

    Returns a dict: ``code``, ``name``, ``region``; DataFrames ``levels`` (node, level, score,
    rank, median, q5, q95), ``peers`` (same region, nearest in rank), ``neighbours`` (rank ± k),
    ``strongest`` / ``weakest`` (indicator, normalised value, rank among units), ``drivers``
    (factor, ST, ST_lo, ST_hi of this city's rank, largest first).
    """
    res, fw = a.result, a.framework
    meta = res.data.meta
    reg = registry.set_index("code") if registry is not None else None
    name = reg.at[code, "name_en"] if reg is not None and code in reg.index else code
    region_col = "region" if "region" in meta.columns else None
    region = meta.at[code, region_col] if region_col and code in meta.index else ""
    ranks, scores = res.ranks, res.scores
    nodes = [fw.root] + [c for c in reversed(fw.aggregates) if c != fw.root]
    levels = pd.DataFrame([
        dict(node=n, name=fw.nodes[n].name, level=fw.level(n), score=scores.at[code, n],
             rank=ranks.at[code, n], **dict(zip(("median", "q5", "q95"), _band(a, n, code))))
        for n in nodes])

    def table(units):
        rows = []
        for u in units:
            med, lo, hi = _band(a, fw.root, u)
            rows.append(dict(unit=u, name=reg.at[u, "name_en"] if reg is not None and u in
                             reg.index else u, score=scores.at[u, fw.root],
                             rank=ranks.at[u, fw.root], median=med, q5=lo, q95=hi))
        return pd.DataFrame(rows).sort_values("rank")

    r0 = ranks.at[code, fw.root]
    order = ranks[fw.root].sort_values()
    pos = order.index.get_loc(code)
    neighbours = order.index[max(0, pos - n_neighbours): pos + n_neighbours + 1]
    peers = pd.Index([])
    if region_col:
        same = meta.reindex(order.index)[region_col] == region
        peer_ranks = order[same.to_numpy()]
        peers = (peer_ranks - r0).abs().sort_values().index[: n_peers + 1]
    norm = res.normalised
    ind_rank = norm.rank(ascending=False, method="min")
    ind = pd.DataFrame({"indicator": fw.indicators,
                        "name": [fw.nodes[i].name for i in fw.indicators],
                        "value": norm.loc[code, fw.indicators].to_numpy(),
                        "rank": ind_rank.loc[code, fw.indicators].to_numpy()})
    ind = ind.sort_values("rank")
    drivers = pd.DataFrame(columns=["factor", "ST", "ST_lo", "ST_hi", "S1"])
    if a.sa is not None:
        t = a.sa.table
        drivers = (t[t["output"] == code][["factor", "ST", "ST_lo", "ST_hi", "S1"]]
                   .sort_values("ST", ascending=False).reset_index(drop=True))
    return dict(code=code, name=name, region=region, index=a.root, levels=levels,
                peers=table(peers), neighbours=table(neighbours),
                strongest=ind.head(n_ind).reset_index(drop=True),
                weakest=ind.tail(n_ind).iloc[::-1].reset_index(drop=True), drivers=drivers)


def profile_text(p: dict) -> str:
    """A plain-text rendering of :func:`city_profile` for the terminal."""
    fmt = lambda df: df.to_string(index=False, float_format=lambda v: f"{v:.2f}")
    parts = [f"{p['name']} ({p['code']}, {p['region']}) — {p['index']}",
             "Score, rank and 5–95 % rank band at every level:", fmt(p["levels"]),
             "Regional peers:", fmt(p["peers"]), "Rank neighbours:", fmt(p["neighbours"]),
             "Strongest indicators:", fmt(p["strongest"]),
             "Weakest indicators:", fmt(p["weakest"]),
             "What drives the rank band (Sobol STi of this city's rank):",
             fmt(p["drivers"]) if len(p["drivers"]) else "  (sensitivity analysis not run)"]
    return "\n".join(parts)
