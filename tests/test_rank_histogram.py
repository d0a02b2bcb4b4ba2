"""Streamed rank statistics (issue 15): per-unit rank histograms give the statistics of the full
replications × units matrix — quantiles exactly equal to numpy's (inverted_cdf, the other
discrete methods, and the interpolating ones), the median, mean, P(rank ≤ k) and the mean
absolute shift exactly, the sd to rounding — and the uncertainty analysis built on them keeps
memory bounded whatever N is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cityindex.model import Framework, MethodSpec, compute_index, read_data
from cityindex.model.aggregate import rank_desc
from cityindex.model.errors import MethodError
from cityindex.validation.engine import JoblibRunner, prepare, run_replications
from cityindex.validation.rank_histogram import RankHistogram
from cityindex.validation.sobol import SobolProblem, sample_uniform
from cityindex.validation.space import UncertaintySpace
from cityindex.validation.uncertainty import rank_statistics, uncertainty_analysis

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


def _random_ranks(n: int, u: int, seed: int, ties: bool = True) -> np.ndarray:
    """Ranks (n × u, float32) of noisy scores around a fixed order; with ties (rounded
    scores) when ``ties``: ranks then skip numbers, as rank_desc's min rule gives."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=u)
    S = base + rng.normal(scale=0.7, size=(n, u))
    if ties:
        S = np.round(S, 1)
    return rank_desc(S, axis=1).astype(np.float32)


def _hist(R: np.ndarray) -> RankHistogram:
    H = RankHistogram(R.shape[1], capacity=R.shape[0])
    for s in range(0, R.shape[0], 7):  # fed in uneven blocks
        H.add(R[s:s + 7])
    return H


@pytest.mark.parametrize("n,u,seed", [(1, 5, 0), (2, 5, 1), (3, 4, 2), (20, 9, 3), (99, 30, 4),
                                      (100, 30, 5), (301, 17, 6), (1000, 40, 7)])
@pytest.mark.parametrize("method", ["inverted_cdf", "lower", "higher", "nearest",
                                    "closest_observation", "linear", "median_unbiased"])
def test_quantiles_equal_numpy_on_the_full_matrix(n, u, seed, method):
    R = _random_ranks(n, u, seed)
    H = _hist(R)
    pct = [5, 10, 25, 50, 75, 90, 95]
    expected = np.percentile(R.astype(float), pct, axis=0, method=method)
    got = H.percentiles(pct, method)
    if method == "inverted_cdf" or method in ("lower", "higher", "nearest",
                                             "closest_observation"):
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n,u,seed", [(1, 5, 0), (2, 6, 1), (57, 12, 2), (400, 51, 3)])
def test_statistics_equal_rank_statistics(n, u, seed):
    R = _random_ranks(n, u, seed)
    nominal = rank_desc(np.arange(u, 0, -1, dtype=float))
    units = [f"u{j}" for j in range(u)]
    full = rank_statistics(R, nominal, units, percentiles=(5, 50, 95), top_k=(1, 3, 10))
    streamed = _hist(R).statistics(nominal, units, percentiles=(5, 50, 95), top_k=(1, 3, 10))
    assert list(streamed.columns) == list(full.columns)
    assert list(streamed.index) == list(full.index)
    exact = [c for c in full.columns if c != "sd"]
    pd.testing.assert_frame_equal(streamed[exact], full[exact], check_exact=True)
    np.testing.assert_allclose(streamed["sd"], full["sd"], rtol=1e-12, atol=1e-12)


def _same_statistics(R, nominal, **kw):
    units = [f"u{j}" for j in range(R.shape[1])]
    full = rank_statistics(R, nominal, units, **kw)
    H = RankHistogram(R.shape[1], capacity=R.shape[0],
                      scale=2 if np.any(np.nan_to_num(R) % 1) else 1)
    for s in range(0, R.shape[0], 7):
        H.add(R[s:s + 7])
    streamed = H.statistics(nominal, units, **kw)
    assert list(streamed.columns) == list(full.columns)
    assert list(streamed.index) == list(full.index)
    exact = [c for c in full.columns if c != "sd"]
    pd.testing.assert_frame_equal(streamed[exact], full[exact], check_exact=True)
    np.testing.assert_allclose(streamed["sd"], full["sd"], rtol=1e-12, atol=1e-12)
    return streamed


def test_missing_ranks_are_dropped_per_unit_like_the_matrix_version():
    """A NaN rank (unit not ranked in that replication) is dropped for that unit only; a unit
    with fewer than min_valid ranks gets no statistics and a note."""
    R = _random_ranks(60, 8, 9)
    rng = np.random.default_rng(1)
    R[rng.random(R.shape) < 0.1] = np.nan
    R[[3, 40]] = np.nan                       # replications where nobody is ranked
    R[:55, 5] = np.nan                        # a unit ranked only 5 times: no band
    R[:, 6] = np.nan                          # a unit never ranked
    nominal = np.arange(1, 9, dtype=float)
    nominal[6] = np.nan
    st = _same_statistics(R, nominal, percentiles=(5, 95), top_k=(3,),
                          quantile_method="inverted_cdf")
    assert st.loc["u6", "note"] == "not ranked in any replication"
    assert "too few" in st.loc["u5", "note"] and np.isnan(st.loc["u5", "q5"])
    for method in ("linear", "lower"):
        _same_statistics(R, nominal, percentiles=(10, 50, 90), quantile_method=method)


def test_average_ties_give_half_ranks():
    from cityindex.model.ranking import rank_scores

    rng = np.random.default_rng(3)
    S = np.round(rng.normal(size=(300, 12)), 0)  # many ties
    R = rank_scores(S, ties="average", axis=1)
    assert np.any(R % 1 == 0.5)
    nominal = rank_scores(np.arange(12, 0, -1, dtype=float), ties="average")
    for method in ("inverted_cdf", "linear"):
        _same_statistics(R, nominal, percentiles=(5, 50, 95), top_k=(1, 2, 10),
                         quantile_method=method)


def test_bad_ranks_are_refused():
    H = RankHistogram(3, capacity=10)
    with pytest.raises(ValueError):
        H.add(np.array([[1.0, 2.5, 3.0]]))  # halves need scale=2
    RankHistogram(3, capacity=10, scale=2).add(np.array([[1.0, 2.5, 2.5]]))
    with pytest.raises(ValueError):
        H.add(np.array([[1.0, 2.0, 4.0]]))
    with pytest.raises(ValueError):
        H.add(np.ones((2, 4)))


def test_count_width_follows_the_capacity():
    assert RankHistogram(4, capacity=65_000).counts.dtype == np.uint16
    assert RankHistogram(4, capacity=70_000).counts.dtype == np.uint32
    H = RankHistogram(2, capacity=3)
    H.add(np.array([[1.0, 2.0]] * 3))
    assert H.counts.tolist() == [[3, 0], [0, 3]] and H.n_valid.tolist() == [3, 3]


# --------------------------------------------------------------------------- the analysis
@pytest.fixture(scope="module")
def asem():
    fw = Framework.load(ASEM / "asem_imeta.csv")
    method = MethodSpec.load(ROOT / "data" / "methods" / "asem.yaml")
    data = read_data(ASEM / "asem_idata.csv", fw)
    space = UncertaintySpace.load(ROOT / "data" / "spaces" / "coinr_asem.yaml", fw, method)
    return compute_index(fw, data, method), space


def test_streamed_analysis_equals_the_full_matrix(asem):
    """uncertainty_analysis (histograms) == rank_statistics on every replication's ranks."""
    result, space = asem
    n, seed = 1500, 4
    ua = uncertainty_analysis(result, space, n=n, seed=seed, nodes=True)
    p = prepare(result, space, seed)
    problem = SobolProblem(space.names, space.levels)
    L = problem.map_levels(sample_uniform(problem, n, seed=seed, method="random"))
    nodes = [c for c in result.framework.aggregates if c != result.framework.root]
    full = run_replications(p, L, nodes=nodes)
    expected = rank_statistics(full["index"], p.nominal_ranks, p.units)
    exact = [c for c in expected.columns if c != "sd"]
    pd.testing.assert_frame_equal(ua.rank_stats[exact], expected[exact], check_exact=True)
    np.testing.assert_allclose(ua.rank_stats["sd"], expected["sd"], rtol=1e-12)
    assert ua.figures["mean_abs_rank_shift"] == float(
        np.abs(full["index"] - p.nominal_ranks).mean())
    np.testing.assert_array_equal(ua.ranks, full["index"])  # all N kept (small)
    np.testing.assert_array_equal(ua.levels, L)
    for c in nodes:
        e = rank_statistics(full[c], result.ranks[c].to_numpy(float), p.units)
        pd.testing.assert_frame_equal(ua.node_stats[c][exact], e[exact], check_exact=True)


def test_kept_sample_is_bounded_and_the_first_replications(asem):
    result, space = asem
    ua = uncertainty_analysis(result, space, n=300, seed=1, keep_ranks=40)
    full = uncertainty_analysis(result, space, n=300, seed=1)
    assert ua.n_kept == 40 and full.n_kept == 300
    np.testing.assert_array_equal(ua.ranks, full.ranks[:40])
    pd.testing.assert_frame_equal(ua.rank_stats, full.rank_stats)  # statistics use all N
    assert ua.replications_frame().shape == (40, len(space.names) + len(ua.units))


def test_runner_does_not_change_the_statistics(asem):
    result, space = asem
    a = uncertainty_analysis(result, space, n=600, seed=2)
    b = uncertainty_analysis(result, space, n=600, seed=2, runner=JoblibRunner(2))
    pd.testing.assert_frame_equal(a.rank_stats, b.rank_stats)
    np.testing.assert_array_equal(a.ranks, b.ranks)


def test_replications_written_block_by_block(asem, tmp_path, monkeypatch):
    """Parquet written in several blocks (row groups) equals the replications table."""
    import pyarrow.parquet as pq

    import cityindex.validation.engine as E

    result, space = asem
    monkeypatch.setattr(E, "STREAM_BLOCK_BYTES", 51 * 16 * 50)  # ≈ 50 rows per block
    path = tmp_path / "reps.parquet"
    ua = uncertainty_analysis(result, space, n=230, seed=5, replications=path)
    assert pq.ParquetFile(path).num_row_groups > 3
    reps = pd.read_parquet(path)
    assert reps.index.name == "replication" and list(reps.index) == list(range(230))
    pd.testing.assert_frame_equal(reps, ua.replications_frame(), check_dtype=False)


def test_memory_is_checked_before_allocating(asem):
    result, space = asem
    with pytest.raises(MethodError, match=r"N = 1,000,000,000,000 .*memory.*lower --n"):
        uncertainty_analysis(result, space, n=10**12)
    with pytest.raises(MethodError, match="≥ 2"):
        uncertainty_analysis(result, space, n=1)


def test_uncertainty_lists_the_units_not_ranked(tmp_path):
    """With screening, the units screened out are listed (not_ranked) — never dropped without
    a word (issue 15)."""
    from typer.testing import CliRunner

    from cityindex.cli import app

    method = tmp_path / "m.yaml"
    method.write_text(f"extends: {ROOT / 'data' / 'methods' / 'asem.yaml'}\n"
                      "screening: {min_availability: 0.95}\n")
    space = tmp_path / "s.yaml"
    space.write_text("assumptions:\n  w: {noise: {levels: [2], factor: 0.25, n_sets: 20}}\n")
    out = tmp_path / "ua"
    res = CliRunner().invoke(app, ["uncertainty", "-f", str(ASEM / "asem_imeta.csv"), "-d",
                                   str(ASEM / "asem_idata.csv"), "-m", str(method), "-s",
                                   str(space), "--n", "50", "-o", str(out)])
    assert res.exit_code == 0, res.output
    nr = pd.read_csv(out / "not_ranked.csv", keep_default_na=False)
    stats = pd.read_csv(out / "rank_stats.csv", index_col=0, keep_default_na=False)
    assert len(nr) > 0 and not set(nr["unit"]) & set(stats.index)
    assert len(nr) + len(stats) == 51
    assert nr["reason"].str.startswith("screened out").all()
    assert "have no rank" in res.output


def test_rank_shift_distribution_from_histograms_equals_the_matrix_version():
    from cityindex.validation.rank_shifts import (rank_shift_distribution,
                                                  rank_shift_distribution_from_histogram)

    R = _random_ranks(500, 30, 11).astype(float)
    R[np.random.default_rng(2).random(R.shape) < 0.05] = np.nan
    nominal = rank_desc(np.arange(30, 0, -1, dtype=float)).astype(float)
    nominal[4] = np.nan
    a = rank_shift_distribution(R, nominal)
    b = rank_shift_distribution_from_histogram(_hist(R), nominal)
    assert a.shares == b.shares
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.per_unit, b.per_unit)


def test_both_counting_paths_agree(monkeypatch):
    """Small count matrices are filled by one bincount, large ones (whose bincount temporary
    would be as large as the counts, 800 MB at 10,000 units) by np.add.at: same counts."""
    import cityindex.validation.rank_histogram as rh

    rng = np.random.default_rng(2)
    R = np.argsort(rng.normal(size=(300, 40)), axis=1).argsort(axis=1) + 1.0
    R[rng.uniform(size=R.shape) < 0.1] = np.nan
    small = rh.RankHistogram(40, capacity=300)
    small.add(R)
    monkeypatch.setattr(rh, "_BINCOUNT_CELLS", 0)
    large = rh.RankHistogram(40, capacity=300)
    large.add(R)
    np.testing.assert_array_equal(small.counts, large.counts)
    assert small.counts.sum() == np.isfinite(R).sum()
