"""NaN-robust rank draws (issue 16, item 4): a NaN score is a degenerate replicate of that unit;
it is never ranked, does not count for the other units, is dropped for that unit only, and every
interval says how many draws it rests on. Expected values are worked out by hand below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cityindex.validation.rank_inference import draw_ranks, point_ranks, rank_summary, rankogram
from cityindex.validation.uncertainty import rank_statistics


def test_draw_ranks_never_ranks_nan():
    d = np.array([[3.0, np.nan, 1.0, np.nan],
                  [1.0, 2.0, 3.0, 4.0]])
    r = draw_ranks(d)
    # row 0: two units with a score, ranked 1 and 2; the two NaNs get nothing (not 3 and 4)
    np.testing.assert_array_equal(r[0], [1, np.nan, 2, np.nan])
    np.testing.assert_array_equal(r[1], [4, 3, 2, 1])
    assert draw_ranks(d[1:]).dtype == np.int32          # no NaN: integer ranks as before
    np.testing.assert_array_equal(point_ranks([np.nan, 5.0, 5.0]), [np.nan, 1, 1])
    assert point_ranks([2.0, 5.0, 5.0]).dtype == np.int64
    np.testing.assert_array_equal(draw_ranks(d[1:], ties="dense"), [[4, 3, 2, 1]])


def test_rank_summary_drops_degenerate_replicates_per_unit():
    # 4 units, 20 draws; unit "c" is NaN in 15 draws, unit "d" in every draw
    rng = np.random.default_rng(0)
    x = np.tile([4.0, 3.0, 2.0, 1.0], (20, 1)) + rng.uniform(0, 0.1, (20, 4))
    x[:15, 2] = np.nan
    x[:, 3] = np.nan
    rs = rank_summary(pd.DataFrame(x, columns=list("abcd")), top_k=(1,), min_draws=10)
    rs = rs.set_index("unit")
    assert rs["n_valid"].tolist() == [20, 20, 5, 0]
    # a and b: always first and second among the units with a score
    assert rs.loc["a", ["lower", "upper", "mean_rank"]].tolist() == [1, 1, 1]
    assert rs.loc["b", ["lower", "upper"]].tolist() == [2, 2]
    assert rs.loc["a", "p_top_1"] == 1.0
    # c has 5 valid draws (< 10): no interval, and the note says why
    assert np.isnan(rs.loc["c", ["lower", "upper", "mean_rank", "p_top_1"]].astype(float)).all()
    assert rs.loc["c", "note"] == "too few valid draws (5 < 10); no interval"
    assert rs.loc["d", "note"] == "not ranked in any draw"
    assert rs.loc["a", "note"] == ""
    # with min_draws 5, c gets its interval: always third (rank 3 of 3 units)
    rs5 = rank_summary(x, min_draws=5).set_index("unit")
    assert rs5.loc[2, ["lower", "upper"]].tolist() == [3, 3]


def test_rank_summary_quantile_rules():
    # one unit's ranks over 4 draws are 1, 2, 3, 4 (two units swapping with a third)
    x = np.array([[4.0, 3, 2, 1], [3, 4, 2, 1], [2, 4, 3, 1], [1, 4, 3, 2]])
    inv = rank_summary(x, interval=(0.25, 0.75), min_draws=1).iloc[0]
    lin = rank_summary(x, interval=(0.25, 0.75), quantile="linear", min_draws=1).iloc[0]
    # inverted CDF: smallest r with P(rank <= r) >= q → 1 and 3; type 7: 1.75 and 3.25
    assert (inv["lower"], inv["upper"]) == (1, 3)
    assert (lin["lower"], lin["upper"]) == (1.75, 3.25)
    with pytest.raises(ValueError, match="quantile"):
        rank_summary(x, quantile="type6")


def test_rankogram_rows_over_valid_draws():
    x = np.array([[2.0, 1.0], [np.nan, 1.0], [1.0, 2.0]])
    g = rankogram(x)
    np.testing.assert_allclose(g.iloc[0], [0.5, 0.5])      # unit 0: 2 valid draws
    np.testing.assert_allclose(g.iloc[1], [2 / 3, 1 / 3])  # unit 1: 3 valid draws
    assert g.attrs["n_valid"] == [2, 3]


def test_uncertainty_rank_statistics_with_nan_replications():
    R = np.array([[1, 2, np.nan], [2, 1, np.nan], [1, 2, 3], [1, np.nan, 2]], float)
    st = rank_statistics(R, np.array([1.0, 2.0, 3.0]), ["a", "b", "c"], percentiles=(5, 95),
                         top_k=(1,), min_valid=3)
    assert st.loc["a", "n_valid"] == 4 and st.loc["b", "n_valid"] == 3
    assert st.loc["a", "mean"] == 1.25 and st.loc["b", "mean"] == 5 / 3
    assert st.loc["a", "p_top1"] == 0.75 and st.loc["b", "p_top1"] == 1 / 3
    assert (st.loc["a", "q5"], st.loc["a", "q95"]) == (1, 2)
    assert np.isnan(st.loc["c", "q95"]) and "2 < 3" in st.loc["c", "note"]
    assert st.loc["a", "note"] == ""
    lin = rank_statistics(R, np.array([1.0, 2.0, 3.0]), ["a", "b", "c"], percentiles=(25, 75),
                          quantile_method="linear", min_valid=1)
    # type 7 on a's ranks (1, 1, 1, 2): q25 = 1, q75 = 1.25
    assert (lin.loc["a", "q25"], lin.loc["a", "q75"]) == (1.0, 1.25)
