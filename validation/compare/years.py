"""Which year-on-year moves are real: rank changes with bands from paired replications.

:func:`compare_years` takes the index of year A and of year B (two
:class:`~cityindex.model.pipeline.IndexResult` of the same framework and method, e.g. from
:func:`cityindex.model.temporal.compute_panel`) and draws N replications of the uncertainty
space **once**; every replication (one method draw: treatment, normalisation, aggregation,
weights, left-out indicator, completed data set of the multiple imputation) is applied to both
years through the vectorised engine (:func:`~cityindex.validation.engine.prepare`, same seed, so
the pre-drawn weight sets are the same draws), and the unit's rank change A → B is computed
within the replication. The band of a move is the 5–95 % range of that paired rank-change
distribution (the nominal change is the change under the nominal method). A move is

* **up** / **down** when the whole band lies above / below zero (the move survives every
  method choice in 90 % of the draws),
* **within band** otherwise (the move is smaller than the uncertainty of the two rankings).

Pairing matters: two rankings' own bands overlap for most units, but the method draws shift
both years alike, so the paired change is far narrower than the difference of two unpaired
bands (Saisana, Saltelli & Tarantola 2005, JRSS-A 168, §4, compare ranks of two years under the
same simulated assumptions).

With the panel reference (``panel.reference: panel``) both years come from one pooled
computation; the replications are then run on that pooled (unit-year) computation and ranked
within each year, so one draw also shares its treatment and normalisation ranges across years.

Seed-style arrows ("up", "down", "same"; "new" / "exit" for a unit ranked in one year only) are
written beside the classification; a published table with a ``rank_change`` column (the
seed's 2021 tables) adds the published arrow and the agreement of the directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cityindex.model.errors import MethodError
from cityindex.model.summary import Result, Summary, json_safe

from .shifts import _arrow

CLASSES = ("up", "down", "within band", "new", "exit", "not ranked")


@dataclass
class YearComparison(Result):
    """Year A → year B rank changes with paired-replication bands.

    Attributes
    ----------
    table : one row per unit: rank_a, rank_b, change (rank_a − rank_b; positive = up),
        band_lo, band_hi (percentiles of the paired change), p_up, p_down (shares of
        replications with a rise / a fall), classification (:data:`CLASSES`), arrow (ours:
        up / down / same / new / exit), and with a published table arrow_published,
        rank_published, agree (our arrow equals the published one).
    figures : counts and shares (n_compared, n_up, n_down, n_within, median band width,
        agreement with the published arrows).
    years : (A, B); n : replications; percentiles : band percentiles.
    """

    table: pd.DataFrame
    figures: dict = field(default_factory=dict)
    years: tuple = ("A", "B")
    n: int = 0
    percentiles: tuple = (5.0, 95.0)
    node: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return json_safe({"years": list(self.years), "node": self.node, "n": self.n,
                          "percentiles": list(self.percentiles), **self.figures})

    def confusion(self) -> pd.DataFrame | None:
        """Our arrow (rows) × the published arrow (columns) over the cities in both published
        top-100 lists; None without a published table."""
        c = self.figures.get("confusion")
        if c is None:
            return None
        return pd.DataFrame({b.removeprefix("published_"): {a.removeprefix("ours_"): v[b]
                                                             for a, v in c.items()}
                             for b in next(iter(c.values()))}).rename_axis("ours")

    def largest(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` largest real moves (classified up or down), by absolute nominal change."""
        real = self.table[self.table["classification"].isin(["up", "down"])]
        return real.reindex(real["change"].abs().sort_values(ascending=False).index)[:k]

    def summary(self) -> Summary:
        f = self.figures
        a, b = self.years
        lines = [f"{self.node}: {a} → {b}, {f['n_compared']} units ranked in both years; "
                 f"band: {self.percentiles[0]:g}–{self.percentiles[1]:g} % of the paired rank "
                 f"change over {self.n} replications",
                 f"beyond the band: {f['n_up']} up, {f['n_down']} down; within the band: "
                 f"{f['n_within']} (median band width {f['median_band_width']:g} places)"]
        if "agreement" in f:
            lines.append(f"published arrows: {f['n_published_both']} cities in both published "
                         f"top-100 lists; our direction agrees for {f['n_agree']} "
                         f"({f['agreement']:.0%}); among our real moves "
                         f"{f['n_agree_real']}/{f['n_published_real']}")
        big = self.largest(5)
        if len(big):
            lines.append("largest real moves: " + ", ".join(
                f"{u} {r.rank_a:.0f}→{r.rank_b:.0f} [{r.band_lo:+g}, {r.band_hi:+g}]"
                for u, r in big.iterrows()))
        return Summary(f"Year-on-year moves {a} → {b}").add_text(*lines)

    def _repr_lines(self):
        f = self.figures
        return [f"{self.years[0]} → {self.years[1]}: {f['n_up']} up, {f['n_down']} down, "
                f"{f['n_within']} within the band"]


def replicate_years(results: dict, space=None, n: int = 1000, *, seed: int | None = None,
                    runner=None, sampling: str = "random") -> dict:
    """Index ranks of every year under the same N replications of ``space``.

    Parameters
    ----------
    results : {year: IndexResult} of one framework and method (e.g. from
        :func:`cityindex.model.temporal.compute_panel`).
    space, n, seed, runner, sampling : as :func:`compare_years`.

    Returns
    -------
    {year: (units, ranks)}: ``ranks`` is replications × units (float, NaN = not ranked in
    that replication); row k of every year is the same method draw.
    """
    from ..engine import prepare, run_replications
    from ..sobol import SobolProblem, sample_uniform
    from ..space import load_space

    first = results[next(iter(results))]
    seed = first.method.seed if seed is None else int(seed)
    space = load_space(space, first)
    problem = SobolProblem(space.names, space.levels)
    L = problem.map_levels(sample_uniform(problem, n, seed=seed, method=sampling))
    stacks = {id(getattr(r, "panel_stack", None)) for r in results.values()}
    stack = getattr(first, "panel_stack", None)
    out = {}
    if stack is not None and len(stacks) == 1:
        # panel reference: one pooled computation, ranks within each year per replication
        p = prepare(stack, space, seed)
        S = run_replications(p, L, runner)["index_scores"]
        for year, res in results.items():
            suffix = f"@{res.data.year}"
            cols = [i for i, u in enumerate(p.units) if u.endswith(suffix)]
            out[year] = ([p.units[i][:-len(suffix)] for i in cols],
                         p.rank(S[:, cols], p.nodes[p.root]))
        return out
    for year, res in results.items():
        p = prepare(res, space, seed)
        out[year] = (p.units, run_replications(p, L, runner)["index"])
    return out


def trajectories(results: dict, replications: dict, percentiles=(5, 95),
                 quantile_method: str = "inverted_cdf") -> pd.DataFrame:
    """Score and rank of every unit over the years with its band: tidy table (year, unit,
    node, score, rank, median, q5, q95) — the audit's ``history`` (explorer, profiles).
    The band of each year comes from the shared replications (:func:`replicate_years`)."""
    rows = []
    for year, res in results.items():
        root = res.framework.root
        units, R = replications[year]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanpercentile(R, [percentiles[0], 50, percentiles[1]], axis=0,
                                     method=quantile_method)
        band = pd.DataFrame({"median": q[1], "q5": q[0], "q95": q[2]}, index=units)
        t = pd.DataFrame({"year": year, "unit": res.scores.index, "node": root,
                          "score": res.scores[root].to_numpy(),
                          "rank": res.ranks[root].to_numpy()})
        t = t.join(band, on="unit")
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def compare_years(result_a, result_b, space=None, n: int = 1000, *, seed: int | None = None,
                  percentiles=(5, 95), quantile_method: str = "inverted_cdf",
                  published=None, runner=None, sampling: str = "random",
                  years: tuple | None = None, replications: dict | None = None
                  ) -> YearComparison:
    """Rank change A → B of every unit with its band from paired replications.

    Parameters
    ----------
    result_a, result_b : IndexResult of year A and year B (same framework and method).
    space : uncertainty space (YAML path, bundled name, UncertaintySpace or None = the bundled
        default), validated against A.
    n : replications (one method draw each, applied to both years); seed : their seed
        (default: A's method seed).
    percentiles, quantile_method : the band (numpy percentile rule).
    published : a published ranking of year B with ``code`` (or city names), ``rank`` and
        ``rank_change`` (up / down / same / new) columns, e.g. data/published/gdci_2021_top100.csv.
    years : labels of A and B (default: the results' data years).
    replications : the output of :func:`replicate_years` for both years (reused, e.g. by the
        audit's trajectories); default: drawn here.

    Returns
    -------
    YearComparison.

    Raises
    ------
    MethodError if the two results have different frameworks or methods, or n < 2.
    """
    if n < 2:
        raise MethodError("compare_years needs n ≥ 2 replications")
    if list(result_a.framework.nodes) != list(result_b.framework.nodes):
        raise MethodError("the two years must use the same framework")
    if result_a.method != result_b.method:
        raise MethodError("the two years must use the same method (compare methods with "
                          "cityindex compare --method-b)")
    seed = result_a.method.seed if seed is None else int(seed)
    years = years or (result_a.data.year, result_b.data.year)
    if replications is None:
        replications = replicate_years({"a": result_a, "b": result_b}, space, n, seed=seed,
                                       runner=runner, sampling=sampling)
        (ua, R_a), (ub, R_b) = replications["a"], replications["b"]
    else:
        (ua, R_a), (ub, R_b) = replications[years[0]], replications[years[1]]
        n = R_a.shape[0]
    units = list(dict.fromkeys([*ua, *ub]))
    ra_nom = result_a.index_ranks.reindex(units).astype(float)
    rb_nom = result_b.index_ranks.reindex(units).astype(float)
    A = pd.DataFrame(R_a, columns=ua).reindex(columns=units).to_numpy(float)
    B = pd.DataFrame(R_b, columns=ub).reindex(columns=units).to_numpy(float)
    D = A - B  # positive: a better (smaller) rank in B
    both = ~np.isnan(D)
    lo = np.full(len(units), np.nan)
    hi = np.full(len(units), np.nan)
    ok = both.any(axis=0)
    if ok.any():
        q = np.nanpercentile(D[:, ok], list(percentiles), axis=0, method=quantile_method)
        lo[ok], hi[ok] = q[0], q[1]
    with np.errstate(invalid="ignore"):
        p_up = np.where(ok, (D > 0).sum(axis=0) / np.maximum(both.sum(axis=0), 1), np.nan)
        p_down = np.where(ok, (D < 0).sum(axis=0) / np.maximum(both.sum(axis=0), 1), np.nan)
    t = pd.DataFrame({"rank_a": ra_nom.to_numpy(), "rank_b": rb_nom.to_numpy()},
                     index=pd.Index(units, name="unit"))
    t["change"] = t["rank_a"] - t["rank_b"]
    t["band_lo"], t["band_hi"] = lo, hi
    t["p_up"], t["p_down"] = p_up, p_down
    cls = np.where(lo > 0, "up", np.where(hi < 0, "down", "within band")).astype(object)
    cls[t["rank_a"].isna() & t["rank_b"].notna()] = "new"
    cls[t["rank_a"].notna() & t["rank_b"].isna()] = "exit"
    cls[t["rank_a"].isna() & t["rank_b"].isna()] = "not ranked"
    cls[(t["rank_a"].notna() & t["rank_b"].notna()).to_numpy() & np.isnan(lo)] = "within band"
    t["classification"] = cls
    t["arrow"] = [_arrow(a, b) for a, b in zip(t["rank_a"], t["rank_b"])]
    compared = t["classification"].isin(["up", "down", "within band"])
    width = (t["band_hi"] - t["band_lo"])[compared]
    figures = {"n_compared": int(compared.sum()),
               "n_up": int((t["classification"] == "up").sum()),
               "n_down": int((t["classification"] == "down").sum()),
               "n_within": int((t["classification"] == "within band").sum()),
               "n_new": int((t["classification"] == "new").sum()),
               "n_exit": int((t["classification"] == "exit").sum()),
               "median_band_width": float(width.median()) if len(width) else float("nan"),
               "median_abs_change": float(t["change"][compared].abs().median())}
    if published is not None:
        t, agree = _with_published(t, published)
        figures.update(agree)
    return YearComparison(t, figures, tuple(years), int(n),
                          tuple(float(p) for p in percentiles), result_a.framework.root)


def _with_published(t: pd.DataFrame, published) -> tuple[pd.DataFrame, dict]:
    """Add the published arrow of year B and the agreement of directions: over the cities in
    both published top-100 lists (published arrow up / down / same) that we rank in both
    years."""
    from .published import read_published

    pub = read_published(published)
    if "rank_change" not in pub.columns:
        raise MethodError(f"{published}: a published table needs a 'rank_change' column "
                          "(up / down / same / new) to compare directions")
    pub = pub.dropna(subset=["code"]).drop_duplicates("code").set_index("code")
    t = t.copy()
    t["rank_published"] = pub["rank"].reindex(t.index).astype(float)
    t["arrow_published"] = pub["rank_change"].reindex(t.index).fillna("").astype(str)
    both = t["arrow_published"].isin(["up", "down", "same"]) & t["arrow"].isin(
        ["up", "down", "same"])
    t["agree"] = np.where(both, t["arrow"] == t["arrow_published"], np.nan)
    real = both & t["classification"].isin(["up", "down"])
    agree_real = (t["classification"] == t["arrow_published"])[real]
    # a baseline: the share of agreement expected when our arrows are shuffled among the same
    # cities (directions independent of the published ones, same marginal frequencies)
    ours = t.loc[both, "arrow"].value_counts(normalize=True)
    theirs = t.loc[both, "arrow_published"].value_counts(normalize=True)
    chance = float(sum(ours.get(k, 0.0) * theirs.get(k, 0.0) for k in ("up", "down", "same")))
    n_both = int(both.sum())
    order = ["up", "same", "down"]
    conf = pd.crosstab(t.loc[both, "arrow"], t.loc[both, "arrow_published"]).reindex(
        index=order, columns=order, fill_value=0)
    return t, {"confusion": {f"ours_{a}": {f"published_{b}": int(conf.at[a, b]) for b in order}
                             for a in order},"n_published": int(len(pub)), "n_published_both": n_both,
               "n_agree": int(t.loc[both, "agree"].astype(bool).sum()),
               "agreement": float(t.loc[both, "agree"].astype(bool).mean()) if n_both
               else float("nan"),
               "agreement_chance": chance,
               "n_published_real": int(real.sum()),
               "n_agree_real": int(agree_real.sum()),
               "agreement_real": float(agree_real.mean()) if real.any() else float("nan"),
               "published_in_our_top100_b": int((both & (t["rank_b"] <= 100)).sum())}
