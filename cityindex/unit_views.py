"""Per-unit views of an index audit, vectorised over the units (thousands of them).

Each function takes an :class:`~cityindex.auditing.IndexAudit` and returns a table the report
and the explorer render as they are; :class:`~cityindex.auditing.IndexAudit` exposes them as
methods (``a.unit_table()``, ``a.strengths_weaknesses()``, …). Nothing here runs an analysis:
the figures come from the nominal result, the uncertainty and sensitivity analyses and the weight
audit already held by the audit.

Strengths and weaknesses follow :mod:`cityindex.profiles` exactly (observed values only, ranked
among the units that observed the indicator; a value at the indicator's observed minimum is
never a strength), computed for every unit at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: categorical metadata columns with at most this many distinct values are offered as filters
MAX_GROUPS = 60


def indicator_standing(a) -> dict[str, pd.DataFrame]:
    """Per unit and indicator (units × indicators, the result's screened-in units):

    ``raw`` (the value before imputation, in the data's units; NaN = missing), ``imputed`` (the
    value after imputation, before treatment), ``observed`` (bool), ``normalised`` (the value
    that enters aggregation), ``rank`` (rank of the normalised value among the units that
    observed the indicator, 1 = best; NaN where not observed), ``of`` (Series: units that
    observed each indicator), ``pct`` (share of observing units the unit beats or ties:
    1 − (rank − 1)/(of − 1)).
    """
    res, fw = a.result, a.framework
    inds = [i for i in fw.indicators if i in res.normalised.columns]
    norm = res.normalised[inds]
    raw = res.raw.reindex(index=norm.index, columns=inds)
    observed = raw.notna()
    obs_norm = norm.where(observed)
    rank = obs_norm.rank(ascending=False, method="min")
    of = observed.sum()
    pct = 1 - (rank - 1) / of.clip(lower=2).sub(1)
    imputed = res.imputed.reindex(index=norm.index, columns=inds)
    return {"raw": raw, "imputed": imputed, "observed": observed, "normalised": norm,
            "rank": rank, "of": of, "pct": pct}


def strengths_weaknesses(a, k: int = 3) -> pd.DataFrame:
    """Each unit's ``k`` strongest and ``k`` weakest indicators among those it observed.

    Returns a DataFrame (index: unit) with ``strengths`` and ``weaknesses`` (lists of indicator
    codes, best first / weakest first) and ``n_observed``. The rule is that of
    :func:`cityindex.profiles.city_profile`: the better half of the unit's observed indicators
    (by share of observing units beaten, then value) are strength candidates, the worse half
    weakness candidates (an odd middle one is a strength only if it beats half the units); a
    value at the indicator's observed minimum is never a strength.
    """
    st = indicator_standing(a)
    inds = list(st["normalised"].columns)
    units = st["normalised"].index
    obs = st["observed"].to_numpy(bool)
    P = st["pct"].to_numpy(float)
    V = st["normalised"].to_numpy(float)
    vmin = np.nanmin(np.where(obs, V, np.nan), axis=0) if len(units) else np.array([])
    at_min = obs & (V <= vmin[None, :] + 1e-12)
    big = np.inf
    # descending by (pct, value), unobserved last
    desc = np.lexsort((np.where(obs, -V, big), np.where(obs, -P, big)), axis=1)
    n_obs = obs.sum(axis=1)
    rows = np.arange(len(units))[:, None]
    P_sorted = P[rows, desc]
    odd = n_obs % 2 == 1
    mid = np.where(odd, P_sorted[np.arange(len(units)), np.minimum(n_obs // 2, len(inds) - 1)],
                   0.0)
    n_top = n_obs // 2 + (odd & (mid >= 0.5))
    pos = np.empty_like(desc)
    pos[rows, desc] = np.arange(len(inds))[None, :]          # position of each indicator
    top = obs & (pos < n_top[:, None])
    strong_mask = top & ~at_min
    weak_mask = (obs & ~top) | (top & at_min)
    strong_order = desc                                        # best first
    weak_order = np.lexsort((np.where(obs, V, big), np.where(obs, P, big)), axis=1)

    def pick(mask, order):
        m = mask[rows, order]
        keep = m & (np.cumsum(m, axis=1) <= k)
        return [[inds[j] for j in order[i][keep[i]]] for i in range(len(units))]

    return pd.DataFrame({"strengths": pick(strong_mask, strong_order),
                         "weaknesses": pick(weak_mask, weak_order),
                         "n_observed": n_obs}, index=units)


def node_bands(a) -> dict[str, pd.DataFrame]:
    """Aggregate code → DataFrame (index: unit) with ``score``, ``rank`` (nominal) and, when
    the uncertainty analysis ran with node ranks, ``median``, ``q5``, ``q95`` (5th–95th
    percentile methodological band of the node's rank)."""
    res, fw = a.result, a.framework
    out = {}
    for node in fw.aggregates:
        if node not in res.scores.columns:
            continue
        t = pd.DataFrame({"score": res.scores[node], "rank": res.ranks[node]})
        rs = None
        if a.uncertainty is not None:
            rs = (a.uncertainty.rank_stats if node == fw.root
                  else a.uncertainty.node_stats.get(node))
        if rs is not None:
            for c in ("median", "q5", "q95"):
                if c in rs:
                    t[c] = rs[c].reindex(t.index)
        out[node] = t
    return out


def unit_drivers(a, k: int = 3) -> pd.DataFrame:
    """Per unit, the ``k`` assumptions with the largest total Sobol index (STi) of its rank:
    index unit; columns ``driver_1``, ``ST_1``, … (empty when the sensitivity analysis did not
    run or the unit's rank does not vary)."""
    if a.sensitivity is None:
        return pd.DataFrame(index=a.result.scores.index)
    t = a.sensitivity.table
    t = t[t["output"].isin(set(a.result.scores.index))]
    t = t.sort_values(["output", "ST"], ascending=[True, False])
    t = t.assign(pos=t.groupby("output").cumcount() + 1)
    t = t[t["pos"] <= k]
    wide = {}
    for j in range(1, k + 1):
        tj = t[t["pos"] == j].set_index("output")
        wide[f"driver_{j}"] = tj["factor"]
        wide[f"ST_{j}"] = tj["ST"]
    out = pd.DataFrame(wide).reindex(a.result.scores.index)
    return out


def sobol_units(a) -> pd.DataFrame:
    """The per-unit Sobol indices of the sensitivity analysis (one row per unit and assumption:
    unit, name, factor, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi, flag), units in nominal rank
    order; empty when the analysis did not run."""
    if a.sensitivity is None:
        return pd.DataFrame()
    t = a.sensitivity.table
    units = a.result.scores.index
    t = t[t["output"].isin(set(units))].rename(columns={"output": "unit"}).copy()
    t.insert(1, "name", a.name_of(t["unit"]))
    t["nominal_rank"] = t["unit"].map(a.result.ranks[a.root])
    t = t.sort_values(["nominal_rank", "unit", "ST"], ascending=[True, True, False])
    return t.drop(columns="nominal_rank").reset_index(drop=True)


def unit_groups(a) -> dict[str, pd.Series]:
    """Categorical metadata a unit can be filtered by: ``region`` first (the audit's regions),
    then every text column of the data's metadata with 2 to :data:`MAX_GROUPS` distinct values
    (e.g. ``subregion``; COINr's ``EurAsia_group``). Name columns are left out."""
    from .profiles import NAME_COLS

    units = a.result.scores.index
    out: dict[str, pd.Series] = {}
    if len(a.regions) and a.regions.notna().any():
        out["region"] = a.regions.reindex(units)
    meta = a.result.data.meta
    for c in meta.columns:
        if c in out or c in NAME_COLS or c in a.framework.nodes:
            continue
        col = meta[c].reindex(units)
        if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
            continue
        vals = col.dropna().astype(str)
        if pd.to_numeric(vals, errors="coerce").notna().all():
            continue  # numbers stored as text (e.g. another index's indicators)
        if 2 <= vals.nunique() <= MAX_GROUPS:
            out[c] = col
    return out


def unit_table(a) -> pd.DataFrame:
    """One row per unit, in nominal rank order: unit, name, region, rank (nominal), median,
    q5, q95 (5th–95th percentile methodological band), width, observed_share, top_driver,
    flags (``;``-joined: ``mostly imputed`` when fewer than half its indicators are observed;
    ``published rank outside band`` when a published rank lies outside the band)."""
    from .auditing import LOW_OBSERVED

    res, root = a.result, a.root
    units = res.scores.index
    t = pd.DataFrame({"unit": units, "name": a.name_of(units)})
    if len(a.regions):
        t["region"] = a.regions.reindex(units).to_numpy()
    t["rank"] = res.ranks[root].reindex(units).to_numpy()
    if a.uncertainty is not None:
        rs = a.uncertainty.rank_stats.reindex(units)
        for c in ("median", "q5", "q95", "width"):
            t[c] = rs[c].to_numpy()
    share = a.observed_share().reindex(units)
    t["observed_share"] = share.to_numpy()
    drv = unit_drivers(a, 1)
    if "driver_1" in drv:
        t["top_driver"] = drv["driver_1"].reindex(units).to_numpy()
    flags = [[] for _ in range(len(t))]
    for i, s in enumerate(share.to_numpy()):
        if s < LOW_OBSERVED:
            flags[i].append("mostly imputed")
    pub = a.published_comparison()
    if pub is not None and "in_band" in pub:
        out = set(pub.loc[~pub["in_band"].astype(bool), "unit"])
        for i, u in enumerate(units):
            if u in out:
                flags[i].append("published rank outside band")
    t["flags"] = [";".join(f) for f in flags]
    return t.sort_values(["rank", "unit"]).reset_index(drop=True)


def loo_table(a) -> pd.DataFrame | None:
    """The weight audit's leave-one-out results, one row per removed element: removed, name,
    level, parent, mean_abs_shift, max_abs_shift, n_changed — largest mean shift first."""
    wa = a.weights
    if wa is None or wa.loo is None:
        return None
    t = wa.loo.copy()
    t.insert(1, "name", [a.framework.nodes[c].name for c in t["removed"]])
    return t.sort_values("mean_abs_shift", ascending=False).reset_index(drop=True)


def bod_table(a) -> pd.DataFrame | None:
    """Benefit-of-the-doubt scores of the weight audit per unit: unit, name, bod_score,
    bod_rank, index_score, rank (nominal), rank_shift (bod_rank − rank), in nominal rank
    order."""
    wa = a.weights
    if wa is None or wa.bod is None:
        return None
    from cityindex.model.aggregate import rank_desc

    b = wa.bod
    units = b.index
    t = pd.DataFrame({"unit": units, "name": a.name_of(units),
                      "bod_score": b["bod_score"].to_numpy(),
                      "bod_rank": rank_desc(b["bod_score"].to_numpy(float)),
                      "index_score": b["index_score"].to_numpy(),
                      "rank": a.result.ranks[a.root].reindex(units).to_numpy()})
    t["rank_shift"] = t["bod_rank"] - t["rank"]
    return t.sort_values(["rank", "unit"]).reset_index(drop=True)


def coherence_figures(a) -> dict | None:
    """Coherence in a few figures (OECD/JRC Handbook 2008, Step 4; thresholds of the weight
    audit): standardised Cronbach's α per parent of 3+ children against its threshold (0.7),
    the Spearman–Brown reliability of 2-child parents (no α there), and the Pearson correlations
    of indicators with their parent and with the index, and of aggregates with the index,
    against the weak (0.3) and redundancy (0.9) thresholds; with the flagged elements."""
    wa = a.weights
    if wa is None:
        return None
    st = wa.settings
    thr, weak, red = st.get("alpha_threshold", 0.7), st.get("weak", 0.3), st.get("redundancy", 0.9)
    cr = wa.cronbach.dropna(subset=["alpha"])
    two = (wa.cronbach.dropna(subset=["spearman_brown"]) if "spearman_brown" in wa.cronbach
           else wa.cronbach.iloc[:0].assign(spearman_brown=[]))
    corr = wa.correlations
    fw = a.framework
    inds = set(fw.indicators)
    # a parent with one child correlates 1 with it by construction: left out
    multi = {p for p in fw.aggregates if len(fw.children(p)) > 1}
    corr = corr[(corr["relation"] != "parent") | corr["other"].isin(multi)]
    ind_par = corr[(corr["relation"] == "parent") & corr["code"].isin(inds)]
    ind_idx = corr[(corr["relation"] == "index") & corr["code"].isin(inds)]
    ind_idx = pd.concat([ind_idx, ind_par[ind_par["other"] == fw.root]])
    agg_idx = corr[corr["code"].isin(set(fw.aggregates) - {fw.root})
                   & (corr["other"] == fw.root)]
    sib = corr[corr["relation"] == "sibling"]

    def rng(t):
        r = t["pearson"].dropna()
        return (float(r.min()), float(r.max())) if len(r) else (np.nan, np.nan)

    return {
        "alpha_threshold": thr, "weak": weak, "redundancy": red,
        "n_groups": int(len(cr)), "n_alpha_ok": int((cr["alpha"] >= thr).sum()),
        "alpha_min": (float(cr["alpha"].min()) if len(cr) else np.nan),
        "alpha_min_group": (str(cr.loc[cr["alpha"].idxmin(), "group"]) if len(cr) else ""),
        "alpha_below": cr.loc[cr["alpha"] < thr, "group"].astype(str).tolist(),
        "n_two_item": int(len(two)),
        "spearman_brown_below": two.loc[two["spearman_brown"] < thr, "group"].astype(
            str).tolist(),
        "p_adjust": st.get("p_adjust", "holm"),
        "indicator_parent_range": rng(ind_par),
        "indicator_parent_weak": ind_par.loc[ind_par["pearson"].abs() < weak, "code"].tolist(),
        "indicator_index_range": rng(ind_idx),
        "indicator_index_weak": ind_idx.loc[ind_idx["pearson"].abs() < weak, "code"].tolist(),
        "aggregate_index_range": rng(agg_idx),
        "aggregate_index_weak": agg_idx.loc[agg_idx["pearson"].abs() < weak, "code"].tolist(),
        "redundant_pairs": [f"{r.code}–{r.other}" for r in sib.itertuples()
                            if abs(r.pearson) > red],
        "negative": corr.loc[corr["flags"].str.contains("negative"), "code"].tolist(),
    }


def unit_noun(a) -> tuple[str, str]:
    """How the report and the explorer call the units: ("city", "cities") for a bundled city
    framework or when most units are cities of the bundled registry; else ("unit", "units")."""
    from cityindex.model import bundled

    fw = a.framework
    if fw.origin and bundled.is_bundled(fw.origin):
        return ("city", "cities")
    try:
        from cityindex.model.registry import load_registry

        codes = set(load_registry()["code"])
    except Exception:  # noqa: BLE001 - no registry: plain wording
        return ("unit", "units")
    units = a.result.scores.index
    if len(units) and sum(u in codes for u in units) >= 0.5 * len(units):
        return ("city", "cities")
    return ("unit", "units")


def history_blocks(a) -> dict | None:
    """The audit's multi-year history (``a.history``, tidy: year, unit, node, score, rank and
    optionally q5, q95, median) as arrays aligned with the current units: ``{"years": [...],
    "nodes": {node: {"score": [[per unit] per year], "rank": …, "q5": …, "q95": …}}}``;
    None when there is no history.

    Raises
    ------
    ValueError naming the missing columns.
    """
    h = a.history
    if h is None or not len(h):
        return None
    need = {"year", "unit", "node", "score", "rank"}
    missing = need - set(h.columns)
    if missing:
        raise ValueError(f"history lacks column(s) {sorted(missing)}; it needs year, unit, "
                         "node, score, rank (and optionally q5, q95, median)")
    units = list(a.result.scores.index)
    years = sorted(h["year"].unique().tolist())
    out = {"years": years, "nodes": {}}
    for node, g in h.groupby("node", sort=False):
        block = {}
        for col in ("score", "rank", "q5", "q95", "median"):
            if col not in g or g[col].isna().all():
                continue
            wide = g.pivot_table(index="year", columns="unit", values=col, aggfunc="first")
            wide = wide.reindex(index=years, columns=units)
            block[col] = wide.to_numpy(float)
        out["nodes"][str(node)] = block
    return out


def bod_figures(a) -> dict | None:
    """Benefit of the doubt in figures: units at the frontier (score 1), the median score,
    Spearman's ρ between the BoD and the index scores and the mean absolute shift between the
    BoD and the nominal ranks."""
    t = bod_table(a)
    if t is None:
        return None
    from cityindex.validation.scenarios import spearman_rows

    b = t["bod_score"].to_numpy(float)
    return {"n_units": int(len(t)), "n_frontier": int((b > 1 - 1e-9).sum()),
            "median": float(np.nanmedian(b)),
            "spearman_with_index": float(spearman_rows(b[None, :],
                                                       t["index_score"].to_numpy(float))[0]),
            "mean_abs_rank_shift": float(np.nanmean(np.abs(t["rank_shift"].to_numpy(float))))}
