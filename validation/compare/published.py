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
