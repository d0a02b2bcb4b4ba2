"""Synthetic inputs for the explorer tests and benchmark: a 3-level framework (3 dimensions ×
4 indicators), any number of units with regions, missing values (some units mostly imputed),
hostile names, and an optional multi-year history built from one index run per year."""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = ["Africa", "America", "Asia", "Europe", "Oceania", "Middle East"]
#: names that would break a page that inserted data as HTML or closed its script element
HOSTILE = ['</script><script>window.__pwned = 1</script>',
           '<img src=x onerror="window.__pwned = 2">',
           "Zürich & Genève \u2028 \u2029 \"quoted\" 'single'"]

SPACE = {"name": "synthetic space", "assumptions": {
    "normalisation": {"path": "normalisation", "values": [
        {"method": "minmax", "range": [1, 100]}, {"method": "rank"}]},
    "aggregation": {"path": "aggregation.method", "values": ["arithmetic", "geometric"]},
    "weights": {"noise": {"levels": "aggregates", "factor": 0.25, "n_sets": 50}},
    "drop_indicator": {"leave_one_out": {"level": 1}}}}

METHOD = {"imputation": {"method": "mean"},
          "normalisation": {"method": "minmax", "range": [1, 100]},
          "aggregation": {"method": "arithmetic"}}


def framework():
    from cityindex.model import Framework

    nodes = [{"code": "IDX", "name": "Synthetic index", "level": 3}]
    for d, dname in enumerate(["Economy", "Connectivity", "Liveability"], 1):
        nodes.append({"code": f"D{d}", "name": dname, "parent": "IDX", "level": 2,
                      "weight": 1})
        for k in range(1, 5):
            nodes.append({"code": f"x{d}{k}", "name": f"{dname} indicator {k}",
                          "parent": f"D{d}", "level": 1, "weight": 1, "direction": 1,
                          "unit": "count" if k % 2 else "%"})
    return Framework.from_dict({"index": "IDX", "name": "Synthetic index", "nodes": nodes})


def values(n_units: int, seed: int = 0, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(units × indicators values, meta with name and region) for ``n_units`` units."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(12345)            # the units' latent quality is fixed
    z = base.normal(size=n_units)
    codes = [f"U{i:05d}" for i in range(n_units)]
    cols = {}
    for d in range(1, 4):
        zd = 0.7 * z + 0.7 * base.normal(size=n_units)
        for k in range(1, 5):
            x = np.exp(1.0 + 0.8 * zd + shift * rng.normal(size=n_units)
                       + 0.4 * rng.normal(size=n_units))
            cols[f"x{d}{k}"] = np.round(x, 3)
    v = pd.DataFrame(cols, index=pd.Index(codes, name="unit"))
    miss = rng.random(v.shape) < 0.06
    miss[: max(1, n_units // 50), :8] = True       # 2 % of the units mostly imputed
    v = v.mask(miss)
    names = [f"Unit {i:05d}" for i in range(n_units)]
    names[1] = "London"                          # something to search for
    for j, h in enumerate(HOSTILE):
        names[10 + j] = h
    meta = pd.DataFrame({"name": names,
                         "region": [REGIONS[i % len(REGIONS)] for i in range(n_units)]},
                        index=v.index)
    return v, meta


def result(n_units: int, seed: int = 0, shift: float = 0.0):
    """The nominal IndexResult of the synthetic data."""
    from cityindex.model import MethodSpec, compute_index, from_frame

    fw = framework()
    v, meta = values(n_units, seed, shift)
    data = from_frame(v, fw, meta, source=f"synthetic {n_units} units, seed {seed}")
    return compute_index(fw, data, MethodSpec.from_dict(METHOD))


def space(res):
    from cityindex.validation.space import UncertaintySpace

    return UncertaintySpace.from_dict(SPACE, res.framework, res.method)


def history(n_units: int, years=(2019, 2020, 2021), n: int = 50) -> pd.DataFrame:
    """Tidy history (year, unit, node, score, rank, q5, q95, median) from one index run and
    one small uncertainty analysis per year."""
    from cityindex.validation.uncertainty import uncertainty_analysis

    rows = []
    for i, year in enumerate(years):
        r = result(n_units, seed=100 + i, shift=0.3)
        ua = uncertainty_analysis(r, space(r), n=n, seed=i, nodes=True)
        for node in r.framework.aggregates:
            st = ua.node_stats[node]
            rows.append(pd.DataFrame({
                "year": year, "unit": r.scores.index, "node": node,
                "score": r.scores[node].to_numpy(), "rank": r.ranks[node].to_numpy(),
                "q5": st["q5"].reindex(r.scores.index).to_numpy(),
                "q95": st["q95"].reindex(r.scores.index).to_numpy(),
                "median": st["median"].reindex(r.scores.index).to_numpy()}))
    return pd.concat(rows, ignore_index=True)
