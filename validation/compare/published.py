"""Our ranking against a published one, before publication.

:func:`compare_published` sets an :class:`~cityindex.model.pipeline.IndexResult` against a
published ranking (``data/published/*.csv``), matching cities by registry code or, without a
code column, by name through :class:`cityindex.model.registry.CityMatcher`; agreement is
measured by Spearman ρ and Kendall τ-b (scipy) over the matched cities and by the overlap of the
published top n with ours. :func:`published_rank_audit` puts the published rank beside our
nominal rank and our rank bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from cityindex.model.errors import DataError, MethodError
from cityindex.model.summary import Result, Summary, json_safe

from .shifts import _arrow


def read_published(path, matcher=None, name_col: str = "city_en",
                   country_col: str | None = "country_region_en") -> pd.DataFrame:
    """A published ranking (path or DataFrame) with a ``code`` column.

    Without a code column, cities are matched by name (and country) through the registry's
    :class:`~cityindex.model.registry.CityMatcher`. A ``match_error`` column lists names that
    could not be matched (their code is NaN).

    Raises
    ------
    DataError when the table has no ``rank`` column.
    """
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


@dataclass(repr=False, eq=False)
class PublishedComparison(Result):
    """Result of :func:`compare_published`.

    table : one row per published city: code, city, rank_published, rank_ours, rank_diff
        (ours − published; negative = we rank it higher), arrow (published → ours),
        published_change (the table's own rank_change), in_our_top (ours ≤ the table's size).
    spearman, spearman_p, kendall : over the n_overlap cities in both rankings (NaN below 3);
    n_unmatched : published cities we do not rank; n_top_overlap : published cities in our top
    ``top_n`` (the table's size); source : the published file (or "<DataFrame>").
    """

    table: pd.DataFrame
    spearman: float
    spearman_p: float
    kendall: float
    n_overlap: int
    n_unmatched: int
    n_top_overlap: int
    top_n: int
    source: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The per-city table."""
        return self.table.copy()

    def to_dict(self) -> dict:
        """JSON-safe: file, spearman, spearman_p, kendall, n_overlap, n_unmatched,
        n_top_overlap, top_n, mean_abs_rank_diff."""
        return json_safe({"file": self.source, "spearman": self.spearman,
                          "spearman_p": self.spearman_p, "kendall": self.kendall,
                          "n_overlap": self.n_overlap, "n_unmatched": self.n_unmatched,
                          "n_top_overlap": self.n_top_overlap, "top_n": self.top_n,
                          "mean_abs_rank_diff": float(self.table["rank_diff"].abs().mean())})

    def furthest(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` matched cities whose ranks differ most."""
        t = self.table.dropna(subset=["rank_ours"])
        return t.reindex(t["rank_diff"].abs().sort_values(ascending=False).index).head(n)

    def summary(self) -> Summary:
        """Agreement figures and the cities whose ranks differ most."""
        t = self.table.dropna(subset=["rank_ours"])
        s = Summary("Ours vs published" + (f" ({Path(self.source).name})"
                                           if self.source else ""))
        s.add_text(f"ours vs published: {self.n_overlap} cities matched ({self.n_unmatched} "
                   f"not), Spearman ρ = {self.spearman:.3f}, Kendall τ = {self.kendall:.3f}; "
                   f"{self.n_top_overlap}/{self.top_n} of the published top {self.top_n} are "
                   f"in our top {self.top_n}; median |rank diff| = "
                   f"{t['rank_diff'].abs().median():.0f}")
        s.add_table(self.furthest()[["city", "rank_published", "rank_ours", "rank_diff"]],
                    title="furthest apart", max_rows=None)
        return s

    def _repr_lines(self):
        yield f"{self.n_overlap} cities matched, {self.n_unmatched} not"
        yield f"Spearman {self.spearman:.3f}, Kendall {self.kendall:.3f}"


def compare_published(result, published, node: str | None = None, matcher=None,
                      name_col: str = "city_en") -> PublishedComparison:
    """Our ranking against a published table.

    Parameters
    ----------
    result : IndexResult (its ranks of ``node``, default the index, are ours).
    published : path or DataFrame with ``rank`` and ``code`` or city names (read by
        :func:`read_published`).
    node : an aggregate code of ``result``.
    matcher, name_col : for matching names to codes.

    Raises
    ------
    MethodError when ``result`` is not an index result or ``node`` is not an aggregate of it;
    DataError from :func:`read_published`.
    """
    if not (hasattr(result, "ranks") and hasattr(result, "framework")):
        raise MethodError(f"compare_published needs an IndexResult, got "
                          f"{type(result).__name__}")
    code = node or result.framework.root
    if code not in result.ranks.columns:
        raise MethodError(f"node '{code}' is not an aggregate of the result; valid: "
                          f"{list(result.ranks.columns)}")
    ours = result.ranks[code]
    pub = read_published(published, matcher, name_col=name_col)
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
    source = "<DataFrame>" if isinstance(published, pd.DataFrame) else str(published)
    return PublishedComparison(t, float(rho), float(p), float(tau), len(both),
                               int(t["rank_ours"].isna().sum()), int(t["in_our_top"].sum()),
                               top_n, source)


def published_rank_audit(published: pd.DataFrame, nominal_ranks: pd.Series,
                         bands: dict[str, pd.DataFrame], names: pd.Series | None = None
                         ) -> pd.DataFrame:
    """Published rank beside our nominal rank and each band; flags where it lies outside.

    Parameters
    ----------
    published : table with ``code`` and ``rank`` (e.g. data/published/gdci_2021_top100.csv).
    nominal_ranks : Series unit → our rank.
    bands : {label: DataFrame indexed by unit with ``lower`` and ``upper`` columns}.
    names : Series unit → display name.

    Returns one row per published city: code, name, published_rank, our_rank, then
    ``{label}_lower``, ``{label}_upper``, ``{label}_outside`` for each band. Our data are open
    proxies for the report's indicators, so "outside" means "not supported by the open data",
    not "wrong".
    """
    out = pd.DataFrame({"code": published["code"].to_numpy(),
                        "published_rank": published["rank"].to_numpy()})
    if names is not None:
        out.insert(1, "name", names.reindex(out["code"]).to_numpy())
    out["our_rank"] = nominal_ranks.reindex(out["code"]).to_numpy()
    for label, band in bands.items():
        lo = band["lower"].reindex(out["code"]).to_numpy()
        hi = band["upper"].reindex(out["code"]).to_numpy()
        out[f"{label}_lower"], out[f"{label}_upper"] = lo, hi
        out[f"{label}_outside"] = (out["published_rank"] < lo) | (out["published_rank"] > hi)
    return out


# ------------------------------------------------------------------------------------------
# the published-ranking audit with its chance baseline
# ------------------------------------------------------------------------------------------
def mid_percentiles(counts: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Mid-percentile of ``at[i]`` in the discrete distribution ``counts[i]`` over ``values``:
    P(R < x) + ½·P(R = x) (0.5 = the median; 0 or 1 = outside everything we drew).

    counts : (n, V) counts (a rank histogram's rows); values : (V,) ascending; at : (n,).
    NaN where a row has no count or ``at`` is NaN.
    """
    counts = np.asarray(counts, dtype=float)
    at = np.asarray(at, dtype=float)
    tot = counts.sum(axis=1)
    below = (counts * (values[None, :] < at[:, None])).sum(axis=1)
    equal = (counts * (values[None, :] == at[:, None])).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (below + 0.5 * equal) / tot
    out[(tot == 0) | np.isnan(at)] = np.nan
    return out


def permutation_band_baseline(published: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                              n_perm: int = 10000, seed=0, level: float = 0.90) -> dict:
    """What share of published ranks would fall inside our bands by chance.

    The published ranks are shuffled among the same cities (a uniform random permutation), so
    each band keeps its width and position and each published rank is used once. With
    ``M[i, j] = lower_i ≤ published_j ≤ upper_i`` the share inside under a permutation π is
    ``mean_i M[i, π(i)]``; its expectation is exactly ``mean(M)`` (each city receives each
    published rank with probability 1/n), which is returned as ``expected``; its ``level``
    range and the one-sided P-value ``(1 + #{share_π ≥ observed}) / (1 + n_perm)`` (Phipson &
    Smyth 2010) come from ``n_perm`` permutations.

    Parameters
    ----------
    published, lower, upper : (n,) arrays, n ≥ 2, finite (the matched cities only).
    n_perm : permutations (≥ 100); seed : of the permutations; level : of the range.

    Returns
    -------
    dict: observed, expected, range_lo, range_hi, p_value, n, n_perm, level.

    Raises
    ------
    ValueError for arrays of different lengths, fewer than 2 cities, non-finite values or
    n_perm < 100.
    """
    pub, lo, hi = (np.asarray(x, dtype=float) for x in (published, lower, upper))
    if not (pub.shape == lo.shape == hi.shape) or pub.ndim != 1:
        raise ValueError("published, lower and upper must be 1-D arrays of the same length")
    n = pub.size
    if n < 2:
        raise ValueError(f"the baseline needs at least 2 cities, got {n}")
    if not (np.isfinite(pub).all() and np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError("published ranks and bands must be finite (drop unmatched cities)")
    if int(n_perm) < 100:
        raise ValueError(f"n_perm must be at least 100, got {n_perm}")
    M = (lo[:, None] <= pub[None, :]) & (pub[None, :] <= hi[:, None])
    observed = float(np.diag(M).mean())
    rng = np.random.default_rng(seed)
    perm = rng.random((int(n_perm), n)).argsort(axis=1)
    shares = M[np.arange(n)[None, :], perm].mean(axis=1)
    a = (1.0 - level) / 2.0
    r_lo, r_hi = np.quantile(shares, [a, 1.0 - a])
    p = (1.0 + np.count_nonzero(shares >= observed - 1e-12)) / (1.0 + int(n_perm))
    return {"observed": observed, "expected": float(M.mean()), "range_lo": float(r_lo),
            "range_hi": float(r_hi), "p_value": float(p), "n": int(n), "n_perm": int(n_perm),
            "level": float(level)}


def _rank_rows(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), vectorised."""
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def _kendall_tau_b_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of every row pair of (B, n) arrays: Σ sgn(Δx)·sgn(Δy) over pairs divided
    by √(Σ sgn(Δx)² · Σ sgn(Δy)²) (ties excluded from each side, as τ-b does)."""
    n = x.shape[1]
    iu, ju = np.triu_indices(n, 1)
    out = np.empty(x.shape[0])
    step = max(1, 4_000_000 // max(iu.size, 1))
    def signs(v):  # sgn(v_i − v_j) over the pairs as int8 (exact; 8× less memory traffic)
        a, b = v[:, iu], v[:, ju]
        return (a > b).view(np.int8) - (a < b).view(np.int8)

    for s in range(0, x.shape[0], step):
        sx, sy = signs(x[s:s + step]), signs(y[s:s + step])
        num = np.einsum("ij,ij->i", sx, sy, dtype=np.int64)
        tx = np.count_nonzero(sx, axis=1)
        ty = np.count_nonzero(sy, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + step] = num / np.sqrt(tx.astype(float) * ty)
    return out


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ (Pearson on average ranks) of every row pair of (B, n) arrays."""
    rx, ry = _rank_rows(x), _rank_rows(y)
    rx = rx - rx.mean(1, keepdims=True)
    ry = ry - ry.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))


def rank_correlation_intervals(x, y, *, n_boot: int = 2000, level: float = 0.90,
                               seed=0) -> pd.DataFrame:
    """Spearman ρ and Kendall τ-b of paired values with bootstrap intervals.

    Pairs are resampled with replacement (``n_boot`` times, vectorised); the interval is the
    bias-corrected percentile (BC) interval of Efron (1987, *JASA* 82:171): the percentiles
    Φ(2 z₀ ± z_{(1+level)/2}) of the bootstrap distribution with z₀ = Φ⁻¹(share of
    bootstrap values below the estimate). Its coverage is checked in
    ``benchmarks/bench_calibration.py``.

    Parameters
    ----------
    x, y : (n,) finite values, n ≥ 3; n_boot ≥ 100; level in (0, 1); seed.

    Returns
    -------
    DataFrame with rows ``spearman``, ``kendall`` and columns ``estimate``, ``lower``,
    ``upper``, ``level``, ``n``, ``n_boot``, ``method``.

    Raises
    ------
    ValueError for different lengths, fewer than 3 pairs, non-finite values, bad n_boot/level.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    if x.size < 3:
        raise ValueError(f"rank correlations need at least 3 pairs, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    if int(n_boot) < 100 or not (0 < level < 1):
        raise ValueError("n_boot must be ≥ 100 and level in (0, 1)")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(int(n_boot), x.size))
    xb, yb = x[idx], y[idx]
    rows = []
    z = stats.norm.ppf((1 + level) / 2)
    for name, fn in (("spearman", _spearman_rows), ("kendall", _kendall_tau_b_rows)):
        est = float(fn(x[None, :], y[None, :])[0])
        boot = fn(xb, yb)
        boot = boot[np.isfinite(boot)]
        below = (np.count_nonzero(boot < est) + 0.5 * np.count_nonzero(boot == est)) / boot.size
        z0 = stats.norm.ppf(np.clip(below, 1.0 / boot.size, 1 - 1.0 / boot.size))
        q = stats.norm.cdf([2 * z0 - z, 2 * z0 + z])
        lo, hi = np.quantile(boot, q)
        rows.append({"statistic": name, "estimate": est, "lower": float(lo), "upper": float(hi),
                     "level": float(level), "n": int(x.size), "n_boot": int(n_boot),
                     "method": "pairs bootstrap, bias-corrected percentile"})
    return pd.DataFrame(rows).set_index("statistic")


@dataclass(repr=False, eq=False)
class PublishedAudit(Result):
    """Result of :func:`published_audit`: how a published ranking sits in our rank
    distribution, with the share expected by chance beside the observed share.

    table : one row per published unit: unit, published_rank, our_rank, band_lower,
        band_upper, in_band, percentile (mid-percentile of the published rank in our rank
        distribution: 0.5 = our median; NaN when we do not rank the unit).
    baseline : dict of :func:`permutation_band_baseline` (observed, expected, range_lo,
        range_hi, p_value, n, n_perm, level).
    correlations : :func:`rank_correlation_intervals` of published vs our nominal rank.
    band : what the band is (e.g. "5–95 % methodological band").
    n_unmatched : published units we do not rank.
    """

    table: pd.DataFrame
    baseline: dict
    correlations: pd.DataFrame
    band: str = "5–95 % methodological band"
    n_unmatched: int = 0

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def headline(self) -> str:
        """One sentence: the share inside the band beside the share expected by chance."""
        b = self.baseline
        return (f"Published rank inside our {self.band} for {b['observed']:.0%} of the "
                f"{b['n']} matched published units; {b['expected']:.0%} expected by chance "
                f"(published ranks shuffled among the same units, {b['level']:.0%} range "
                f"{b['range_lo']:.0%}–{b['range_hi']:.0%}, P = {b['p_value']:.3g}, "
                f"{b['n_perm']:,} permutations)")

    def correlation_text(self) -> str:
        c = self.correlations
        lvl = float(c["level"].iloc[0])
        return "; ".join(f"{'Spearman ρ' if k == 'spearman' else 'Kendall τ-b'} = "
                         f"{r.estimate:.2f} ({lvl:.0%} bootstrap interval {r.lower:.2f}–"
                         f"{r.upper:.2f})" for k, r in c.iterrows())

    def summary(self) -> Summary:
        s = Summary("Published ranking against our rank distribution")
        s.add_text(self.headline() + ".", self.correlation_text() + ".")
        pct = self.table["percentile"].dropna()
        if len(pct):
            s.add_text(f"Percentile of the published rank in our rank distribution: median "
                       f"{pct.median():.2f}; below 5 % or above 95 % for "
                       f"{((pct < 0.05) | (pct > 0.95)).mean():.0%} of the units.")
        s.add_table(self.table.head(20), title="First 20 published units")
        return s

    def to_dict(self) -> dict:
        return json_safe({"band": self.band, "baseline": self.baseline,
                          "correlations": self.correlations.reset_index(),
                          "n_unmatched": self.n_unmatched, "table": self.table})

    def _repr_lines(self):
        yield self.headline()


def published_audit(published: pd.Series, nominal: pd.Series, lower: pd.Series,
                    upper: pd.Series, *, distribution=None, band: str =
                    "5–95 % methodological band", n_perm: int = 10000, n_boot: int = 2000,
                    level: float = 0.90, seed=0) -> PublishedAudit:
    """A published ranking against our rank distribution, with its chance baseline.

    Parameters
    ----------
    published : Series unit → published rank.
    nominal : Series unit → our nominal rank (NaN = not ranked).
    lower, upper : Series unit → our band.
    distribution : optional ``(counts, values, units)`` of our rank distribution (a rank
        histogram: counts (units × V) of the rank ``values`` (V,), ``units`` its row labels) for
        the per-unit percentile; without it the percentile column is NaN.
    n_perm, n_boot, level, seed : of :func:`permutation_band_baseline` and
        :func:`rank_correlation_intervals` (both ``level``).

    Returns
    -------
    PublishedAudit over the published units that we rank and that have a band.

    Raises
    ------
    ValueError when fewer than 3 published units are matched.
    """
    units = published.index
    t = pd.DataFrame({"unit": units.to_numpy(),
                      "published_rank": published.to_numpy(dtype=float),
                      "our_rank": nominal.reindex(units).to_numpy(dtype=float),
                      "band_lower": lower.reindex(units).to_numpy(dtype=float),
                      "band_upper": upper.reindex(units).to_numpy(dtype=float)})
    t["in_band"] = (t["published_rank"] >= t["band_lower"]) & (
        t["published_rank"] <= t["band_upper"])
    t["percentile"] = np.nan
    if distribution is not None:
        counts, values, dunits = distribution
        pos = pd.Index(dunits).get_indexer(units)
        ok = pos >= 0
        t.loc[ok, "percentile"] = mid_percentiles(np.asarray(counts)[pos[ok]],
                                                  np.asarray(values, float),
                                                  t["published_rank"].to_numpy()[ok])
    ok = t[["published_rank", "our_rank", "band_lower", "band_upper"]].notna().all(axis=1)
    if ok.sum() < 3:
        raise ValueError(f"only {int(ok.sum())} published units are ranked by us with a band; "
                         "the audit needs at least 3")
    m = t[ok]
    base = permutation_band_baseline(m["published_rank"].to_numpy(), m["band_lower"].to_numpy(),
                                     m["band_upper"].to_numpy(), n_perm=n_perm, seed=seed,
                                     level=level)
    corr = rank_correlation_intervals(m["published_rank"].to_numpy(), m["our_rank"].to_numpy(),
                                      n_boot=n_boot, level=level, seed=seed)
    t.loc[~ok, "in_band"] = False
    return PublishedAudit(t, base, corr, band, int((~ok).sum()))
