"""Monte Carlo uncertainty analysis of the ranks (OECD/JRC Handbook 2008, Step 7; Saisana,
Saltelli & Tarantola 2005, JRSS-A 168:307).

:func:`uncertainty_analysis` draws N replications of the assumptions in an
:class:`~cityindex.validation.space.UncertaintySpace` (random or scrambled-Sobol sampling) around
a nominal :class:`~cityindex.model.pipeline.IndexResult`, evaluates them with the vectorised
engine and summarises each unit's rank distribution: nominal, mean and median rank, percentile
band (5th–95th by default: the *methodological band*), standard deviation, P(rank ≤ k); and
overall the mean absolute rank shift R̄s = mean |rank − nominal rank| and the share of units
whose band is wider than k places.

Memory does not grow with N: the replications are evaluated in blocks and streamed into
per-unit rank histograms (:class:`~cityindex.validation.rank_histogram.RankHistogram`, exact
statistics), a bounded sample of the index ranks is kept (:attr:`UncertaintyResult.ranks`), and
every replication can be written to Parquet block by block (``replications=``). A requested N
whose memory would not fit is refused before anything is allocated
(:mod:`cityindex.validation.resources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from cityindex.model.availability import NOT_RANKED
from cityindex.model.summary import Result, Summary, json_safe

from .engine import STREAM_BLOCK_BYTES, Prepared, Runner, prepared_for, stream_replications
from .rank_histogram import RankHistogram
from .sobol import SobolProblem, sample_uniform
from .space import UncertaintySpace, load_space


@dataclass(repr=False)
class UncertaintyResult(Result):
    """Result of :func:`uncertainty_analysis`.

    Attributes
    ----------
    rank_stats : DataFrame, one row per unit (index: unit code): nominal, mean, median,
        q{p} for each percentile, sd, width (upper − lower percentile), mean_abs_shift,
        p_top{k} for each k. Sorted by nominal rank.
    figures : dict of overall figures (mean_abs_rank_shift, median_band_width,
        share_band_wider_than_k, widest_bands, …), each with its reference in the keys.
    ranks : array (kept replications × units) of index ranks (float32), replication order:
        the first :attr:`n_kept` replications — all N when they fit in
        :data:`KEEP_RANK_BYTES` (32 MiB; e.g. N ≤ 20,971 for 400 units), else a bounded
        sample (the replications are independent draws, so the first ones are a random sample
        of them). The statistics use all N replications (:attr:`histograms`).
    levels : int array (N × assumptions): the alternative each replication used (all N).
    space, units : the space analysed; the units ranked (screened-in), in result order.
    node_stats : {aggregate code: rank-stat DataFrame} when node ranks were requested; a node
        that is undefined in some replications (its only indicator left out) is summarised over
        the replications where it is defined (``attrs["defined_share"]``).
    histograms : {"index" or aggregate code: RankHistogram} — the exact rank distribution of
        every unit over all N replications (units in :attr:`units` order).
    not_ranked : DataFrame (unit, reason) of the units screened out: they have no rank, so no
        row in ``rank_stats``.
    """

    rank_stats: pd.DataFrame
    figures: dict
    ranks: np.ndarray
    levels: np.ndarray
    space: UncertaintySpace
    units: list[str]
    node_stats: dict[str, pd.DataFrame] = field(default_factory=dict)
    histograms: dict[str, RankHistogram] = field(default_factory=dict)
    not_ranked: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["unit", "reason"]))

    @property
    def n_kept(self) -> int:
        """Replications whose index ranks are kept in :attr:`ranks`."""
        return int(self.ranks.shape[0])

    def replications_frame(self) -> pd.DataFrame:
        """Wide table of the kept replications (:attr:`n_kept`): replication, the level label
        of each assumption, then the rank of every unit (see ``replications=`` of
        :func:`uncertainty_analysis` for all N)."""
        return _replications_frame(self.space, self.units, self.levels[: self.n_kept],
                                   self.ranks, 0).set_index("replication")

    # results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.rank_stats.reset_index()

    def to_dict(self) -> dict:
        return json_safe({"figures": self.figures, "space": self.space.names,
                          "rank_stats": self.to_frame()})

    def summary(self) -> Summary:
        f = self.figures
        lo, hi = f["percentiles"][0], f["percentiles"][-1]
        s = Summary("Uncertainty analysis of the ranks")
        s.add_text(f"{f['n_replications']} replications ({f['sampling']} sampling, seed "
                   f"{f['seed']}) over the assumptions {', '.join(self.space.names)}.",
                   f"Methodological band: the {lo:g}th–{hi:g}th percentile of each unit's rank "
                   "over the replications (not a confidence interval).",
                   f"Mean absolute rank shift from the nominal ranking: "
                   f"{f['mean_abs_rank_shift']:.2f} places; median band width "
                   f"{f['median_band_width']:.0f} places; "
                   f"{f[f'share_band_wider_than_{f['band_k']}']:.1%} of units have a band wider "
                   f"than {f['band_k']} places.")
        if "n_ranked" in f:
            s.add_text(f"Units: {f['n_ranked']} ranked ({f['n_flagged']} flagged: fewer than "
                       f"{f['flag_below']:.0%} of their indicators observed), "
                       f"{f.get('n_not_ranked', 0)} not ranked.")
        if len(self.not_ranked):
            who = "; ".join(f"{r.unit} ({r.reason})" for r in self.not_ranked.head(10)
                            .itertuples())
            s.add_text(f"{len(self.not_ranked)} unit(s) have no rank and no band: "
                       f"{who}{' …' if len(self.not_ranked) > 10 else ''} (not_ranked).")
        s.add_table(pd.DataFrame(f["widest_bands"]), "Widest bands")
        return s

    def _repr_lines(self):
        f = self.figures
        return [f"{f['n_replications']} replications × {f['n_units']} units over "
                f"{len(self.space.names)} assumptions",
                f"mean |rank shift| {f['mean_abs_rank_shift']:.2f}, median band width "
                f"{f['median_band_width']:.0f}"]


def rank_statistics(ranks: np.ndarray, nominal: np.ndarray, units: Sequence[str],
                    percentiles=(5, 95), top_k=(10,), quantile_method: str = "inverted_cdf",
                    min_valid: int = 10) -> pd.DataFrame:
    """Per-unit statistics of a replications × units rank matrix.

    Quantiles of the ranks use numpy's "inverted_cdf" rule by default, so bands are whole ranks
    that occurred (the smallest rank r with P(rank ≤ r) ≥ p); ``quantile_method="linear"``
    interpolates as R's type 7 does (COINr). ``width`` is upper − lower percentile.

    A NaN rank (the unit has no score in that replication: not ranked there) is a degenerate
    replicate of that unit and is dropped for that unit only: each unit's statistics rest on its
    ``n_valid`` replications; a unit with fewer than ``min_valid`` gets no statistics (NaN) and
    a ``note`` saying why. Returns a DataFrame indexed by unit, sorted by nominal rank (units
    without a nominal rank last).
    """
    import warnings

    R = np.asarray(ranks, dtype=float)
    lo, hi = percentiles[0], percentiles[-1]
    valid = ~np.isnan(R)
    n_valid = valid.sum(0)
    nominal = np.asarray(nominal, dtype=float)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)   # units with no valid replication
        if valid.all():
            q = np.percentile(R, list(percentiles), axis=0, method=quantile_method)
            mean, median = R.mean(0), np.median(R, 0)
            sd = R.std(0, ddof=1) if R.shape[0] > 1 else np.zeros(R.shape[1])
            shift = np.abs(R - nominal).mean(0)
        else:
            q = np.nanpercentile(R, list(percentiles), axis=0, method=quantile_method)
            mean, median = np.nanmean(R, 0), np.nanmedian(R, 0)
            sd = np.where(n_valid > 1, np.nanstd(R, 0, ddof=1), 0.0)
            shift = np.nanmean(np.abs(R - nominal), 0)
    few = n_valid < min(int(min_valid), R.shape[0])
    blank = np.where(few, np.nan, 1.0)
    stats = {"nominal": nominal, "n_valid": n_valid, "mean": mean * blank,
             "median": median * blank}
    for p, row in zip(percentiles, q):
        stats[f"q{p:g}"] = row * blank
    stats["sd"] = sd * blank
    stats["width"] = (q[-1] - q[0]) * blank
    stats["mean_abs_shift"] = shift * blank
    for k in top_k:
        stats[f"p_top{k}"] = np.where(few, np.nan, (R <= k).sum(0) / np.maximum(n_valid, 1))
    df = pd.DataFrame(stats, index=pd.Index(units, name="unit"))
    if few.any():
        df["note"] = np.where(n_valid == 0, "not ranked in any replication",
                              [f"too few valid replications ({v} < {min_valid}); no band"
                               for v in n_valid])
        df.loc[~few, "note"] = ""
    df.attrs["band"] = (lo, hi)
    df.attrs["quantile_method"] = quantile_method
    return df.sort_values(["nominal", "median"], na_position="last")


#: bytes of index ranks kept in :attr:`UncertaintyResult.ranks`
KEEP_RANK_BYTES = 32 * 2**20


def uncertainty_analysis(result, space=None, n: int = 1000, *, seed: int | None = None,
                         sampling: str = "random", percentiles=(5, 95), top_k=(10,),
                         band_k: int = 10, nodes: bool = False,
                         quantile_method: str = "inverted_cdf", runner: Runner | None = None,
                         progress: Callable[[int], None] | None = None,
                         prepared: Prepared | None = None, keep_ranks: int | None = None,
                         replications: str | Path | None = None) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis of the ranks of ``result`` (see the module docstring).

    Parameters
    ----------
    result : IndexResult, the nominal index (never recomputed).
    space : UncertaintySpace, a YAML path, a bundled space's name, or None (the bundled
        default space); see :func:`~cityindex.validation.space.load_space`.
    n : number of replications (N ≥ 2); seed : seeds the sample and the pre-drawn weight sets
        (default: the result's method seed).
    sampling : "random" (numpy) or "sobol" (scrambled Sobol, scipy.stats.qmc).
    percentiles : band percentiles (lower, upper); top_k : ks for P(rank ≤ k);
    band_k : the figures report the share of units whose band is wider than band_k places.
    nodes : also summarise the ranks of every aggregate node (``node_stats``).
    quantile_method : numpy percentile rule for the band ("inverted_cdf": whole ranks;
        "linear": COINr's type-7 interpolation).
    runner : ``engine.SerialRunner()`` (default), ``JoblibRunner(n_jobs)`` or ``DaskRunner(client)``.
    prepared : the alternatives prepared once for this result, space and seed
        (:func:`~cityindex.validation.engine.prepare`), shared with the sensitivity analysis.
    keep_ranks : replications whose index ranks are kept in ``ranks`` (default: as many as fit
        in :data:`KEEP_RANK_BYTES`).
    replications : a Parquet file to write every replication into, block by block (index:
        replication; columns: the level label of each assumption, the rank of every unit).

    Returns
    -------
    UncertaintyResult (statistics over all N replications; memory independent of N).

    Raises
    ------
    MethodError / DataError if the space or an alternative is invalid, N < 2, or the memory N
    needs would not fit (the estimate is in the message).
    """
    space = load_space(space, result)
    n, keep = check_uncertainty_size(result, space, n, nodes=nodes, runner=runner,
                                     keep_ranks=keep_ranks)
    seed = result.method.seed if seed is None else int(seed)
    u = len(result.scores.index)
    node_codes = [c for c in result.framework.aggregates if c != result.framework.root] \
        if nodes else []
    p = prepared_for(result, space, seed, prepared)
    problem = SobolProblem(space.names, space.levels)
    U = sample_uniform(problem, n, seed=seed, method=sampling)
    L = problem.map_levels(U)
    del U
    root = result.framework.root
    hists = {"index": RankHistogram(u, capacity=n, scale=rank_scale(result, root))}
    hists.update({c: RankHistogram(u, capacity=n, scale=rank_scale(result, c))
                  for c in node_codes})
    kept = np.empty((keep, u), dtype=np.float32)
    writer = _ParquetSink(replications, space, p.units, L) if replications else None

    def consume(start: int, out: dict) -> None:
        R = out["index"]
        hists["index"].add(R)
        for c in node_codes:
            hists[c].add(out[c])
        if start < keep:
            m = min(keep - start, R.shape[0])
            kept[start:start + m] = R[:m]
        if writer is not None:
            writer.write(start, R)

    try:
        stream_replications(p, L, consume, runner, progress, nodes=node_codes)
    finally:
        if writer is not None:
            writer.close()
    H = hists["index"]
    stats = H.statistics(p.nominal_ranks, p.units, percentiles, top_k, quantile_method)
    av = result.availability
    stats["status"] = av.unit_status().reindex(stats.index)
    ranked = stats["status"] != NOT_RANKED
    figures = {
        "n_replications": int(n), "n_units": len(p.units), "seed": seed, "sampling": sampling,
        **{k: v for k, v in av.counts().items() if k != "n_units"},
        "mean_abs_rank_shift": H.overall_mean_abs_shift(p.nominal_ranks),
        "median_band_width": float(stats["width"].median()),
        f"share_band_wider_than_{band_k}": float((stats.loc[ranked, "width"] > band_k).mean()),
        "band_k": band_k, "percentiles": list(percentiles),
        "widest_bands": stats.sort_values("width", ascending=False).head(10)[
            ["nominal", f"q{percentiles[0]:g}", f"q{percentiles[-1]:g}", "width"]
        ].reset_index().to_dict("records"),
    }
    nr = not_ranked(result)
    if len(nr):
        figures["n_not_ranked"] = int(len(nr))
    node_stats = {}
    nominal = result.ranks
    if nodes:
        node_stats[result.framework.root] = stats
    for c in node_codes:
        node_stats[c] = _histogram_statistics(hists[c], nominal[c].to_numpy(float), p.units,
                                              percentiles, top_k, quantile_method)
    return UncertaintyResult(stats, figures, kept, L, space, p.units, node_stats, hists, nr)


def check_uncertainty_size(result, space, n, *, nodes: bool = False, runner=None,
                           keep_ranks: int | None = None) -> tuple[int, int]:
    """(N, replications kept in ``ranks``) after checking N (an integer ≥ 2) and the memory it
    needs (:mod:`cityindex.validation.resources`) — call it before any work.

    Raises
    ------
    MethodError naming N, with the memory estimate when it would not fit.
    """
    from cityindex.model.errors import MethodError

    from .resources import check_memory, uncertainty_bytes

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise MethodError(f"uncertainty replications N must be an integer ≥ 2, got {n!r}")
    n = int(n)
    fw, u = result.framework, len(result.scores.index)
    n_nodes = len(fw.aggregates) - 1 if nodes else 0
    keep = int(min(n, max(1, KEEP_RANK_BYTES // (4 * max(u, 1))) if keep_ranks is None
                   else max(0, keep_ranks)))
    scale = max([rank_scale(result, c) for c in fw.aggregates] or [1])
    check_memory(uncertainty_bytes(space, u, len(fw.indicators), len(fw.nodes), n, n_nodes,
                                   keep, getattr(runner, "n_workers", 1), STREAM_BLOCK_BYTES,
                                   scale),
                 f"the uncertainty analysis with N = {n:,} replications ({u:,} units)",
                 "lower --n")
    return n, keep


def not_ranked(result) -> pd.DataFrame:
    """The units of ``result`` that have no rank, with the reason: unit, reason — the units
    screened out, and the screened-in units with no observed indicator (not ranked: no data,
    :mod:`cityindex.model.availability`)."""
    sc = result.screening
    out = sc.loc[~sc["kept"]]
    reason = out["reason"].astype(str) if "reason" in out else pd.Series("screened out",
                                                                       index=out.index)
    screened = pd.DataFrame({"unit": out.index.astype(str),
                             "reason": [f"screened out: {r}" if r and r != "nan" else
                                        "screened out" for r in reason]})
    nodata = result.availability.not_ranked()[["unit", "reason"]]
    nodata = nodata.assign(reason="not ranked: " + nodata["reason"])
    return pd.concat([screened, nodata], ignore_index=True)


def rank_scale(result, code: str) -> int:
    """Rank values of node ``code`` are multiples of 1/scale: 2 under ``ties: average``
    (halves), else 1 (whole ranks)."""
    try:
        ties = result.ranking(code).ties
    except (AttributeError, KeyError):
        return 1
    return 2 if ties == "average" else 1


def _histogram_statistics(H: RankHistogram, nominal, units, percentiles, top_k,
                          quantile_method) -> pd.DataFrame:
    """Rank statistics of one aggregate: a node whose only indicator is left out has no score,
    hence no rank, in that replication; each unit's statistics rest on the replications where
    it has a rank (``n_valid``; ``attrs["defined_share"]``: share of replications where the
    node is defined) — as :func:`_node_statistics` on the full matrix."""
    st = H.statistics(nominal, units, percentiles, top_k, quantile_method)
    if H.n_defined < H.n_seen:
        st.attrs["defined_share"] = float(H.n_defined / H.n_seen)
    return st


def _replications_frame(space, units, levels: np.ndarray, ranks: np.ndarray, start: int
                        ) -> pd.DataFrame:
    """Rows ``start``… of the replications table: replication, the level label of each
    assumption, then unit ranks (float32)."""
    cols = {"replication": np.arange(start, start + len(ranks), dtype=np.int64)}
    taken = {"replication", *map(str, units)}
    for j, a in enumerate(space.assumptions):
        name = a.name if a.name not in taken else f"{a.name} (assumption)"
        taken.add(name)
        cols[name] = [a.label(int(v)) for v in levels[:, j]]
    lab = pd.DataFrame(cols)
    df = pd.DataFrame(np.asarray(ranks, dtype=np.float32), columns=[str(x) for x in units])
    return pd.concat([lab, df], axis=1)


class _ParquetSink:
    """Writes the replications to one Parquet file, block by block (pyarrow row groups)."""

    def __init__(self, path, space, units, levels):
        self.path, self.space, self.units, self.levels = Path(path), space, units, levels
        self.writer = None

    def write(self, start: int, ranks: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        df = _replications_frame(self.space, self.units,
                                 self.levels[start:start + len(ranks)], ranks, start)
        table = pa.Table.from_pandas(df.set_index("replication"), preserve_index=True)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _node_statistics(R: np.ndarray, nominal: np.ndarray, units, percentiles, top_k,
                     quantile_method) -> pd.DataFrame:
    """Rank statistics of one aggregate: a node whose only indicator is left out has no score,
    hence no rank, in that replication; each unit's statistics rest on the replications where
    it has a rank (``n_valid``; ``attrs["defined_share"]``: share of replications where the
    node is defined)."""
    R = np.asarray(R, float)
    defined = ~np.isnan(R).all(axis=1)
    st = rank_statistics(R, nominal, units, percentiles, top_k, quantile_method)
    if not defined.all():
        st.attrs["defined_share"] = float(defined.mean())
    return st
