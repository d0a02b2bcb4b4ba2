"""The published-ranking audit: the share of published ranks inside our band beside the share
expected by chance, the percentile of each published rank in our rank distribution, and
bootstrap intervals of Spearman and Kendall.

Oracles: exhaustive enumeration of all permutations (itertools) for the chance baseline and the
exact P-value; hand-worked percentiles; scipy.stats.spearmanr / kendalltau (τ-b) for the point
estimates.
"""

from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cityindex.validation.compare import (permutation_band_baseline, published_audit,
                                          rank_correlation_intervals)
from cityindex.validation.compare.published import mid_percentiles


def test_baseline_of_point_bands_is_one_over_n():
    """Band i = [i, i] and published rank i: every city inside (share 1); a random permutation
    keeps a city's own rank with probability 1/n, so the expected share is exactly 1/n, and the
    share is 1 only for the identity: P = 1/n! (here 1/24)."""
    pub = np.arange(1.0, 5.0)
    b = permutation_band_baseline(pub, pub, pub, n_perm=20000, seed=1)
    assert b["observed"] == 1.0
    assert b["expected"] == pytest.approx(0.25, abs=1e-15)
    se = np.sqrt((1 / 24) * (23 / 24) / 20000)
    assert b["p_value"] == pytest.approx(1 / 24, abs=4 * se)


def test_baseline_expected_share_and_p_value_match_enumeration():
    rng = np.random.default_rng(3)
    n = 7
    pub = rng.permutation(np.arange(1.0, n + 1))
    lo = np.array([1, 2, 1, 4, 3, 5, 2], float)
    hi = lo + np.array([1, 3, 0, 2, 4, 1, 5])
    b = permutation_band_baseline(pub, lo, hi, n_perm=20000, seed=2)
    inside = lambda p: np.mean((lo <= p) & (p <= hi))  # noqa: E731
    shares = np.array([inside(pub[list(s)]) for s in permutations(range(n))])
    assert b["observed"] == pytest.approx(inside(pub), abs=1e-15)
    assert b["expected"] == pytest.approx(shares.mean(), abs=1e-12)   # exact, by formula
    p_exact = np.mean(shares >= b["observed"] - 1e-12)
    se = np.sqrt(p_exact * (1 - p_exact) / 20000)
    assert b["p_value"] == pytest.approx(p_exact, abs=4 * se + 1e-4)
    lo90, hi90 = np.quantile(shares, [0.05, 0.95])
    assert lo90 - 1 / n <= b["range_lo"] <= lo90 + 1 / n
    assert hi90 - 1 / n <= b["range_hi"] <= hi90 + 1 / n


def test_baseline_refuses_bad_input():
    with pytest.raises(ValueError, match="same length"):
        permutation_band_baseline([1, 2], [1], [2])
    with pytest.raises(ValueError, match="finite"):
        permutation_band_baseline([1, np.nan], [1, 1], [2, 2])
    with pytest.raises(ValueError, match="n_perm"):
        permutation_band_baseline([1, 2], [1, 1], [2, 2], n_perm=10)


def test_mid_percentiles_by_hand():
    counts = np.array([[1, 2, 3, 2, 2], [0, 0, 0, 0, 4], [0, 0, 0, 0, 0]])
    values = np.arange(1.0, 6.0)
    got = mid_percentiles(counts, values, np.array([3.0, 1.0, 2.0]))
    assert got[0] == pytest.approx((3 + 0.5 * 3) / 10)   # P(R<3) + ½P(R=3)
    assert got[1] == 0.0                                  # below everything we drew
    assert np.isnan(got[2])                               # no distribution


def test_rank_correlations_match_scipy_with_ties():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 30, 60).astype(float)             # ties on both sides
    y = x + rng.integers(-10, 10, 60)
    t = rank_correlation_intervals(x, y, n_boot=500, seed=0)
    assert t.loc["spearman", "estimate"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert t.loc["kendall", "estimate"] == pytest.approx(
        stats.kendalltau(x, y, variant="b")[0], abs=1e-12)
    assert ((t["lower"] <= t["estimate"]) & (t["estimate"] <= t["upper"])).all()
    again = rank_correlation_intervals(x, y, n_boot=500, seed=0)
    pd.testing.assert_frame_equal(t, again)                # same seed, same interval


def test_published_audit_table_and_headline():
    units = [f"u{i}" for i in range(10)]
    pub = pd.Series(np.arange(1.0, 11.0), index=units)
    ours = pd.Series(np.arange(1.0, 11.0)[::-1].copy(), index=units)
    ours["u3"] = np.nan                                     # one published unit we do not rank
    lo, hi = ours - 2, ours + 2
    counts = np.eye(10, dtype=int) * 5                      # unit i always at rank i + 1
    counts[9] = 0
    counts[9, 2] = 5                                        # ... but u9 always at rank 3
    res = published_audit(pub, ours, lo, hi, distribution=(counts, np.arange(1.0, 11.0), units),
                          n_perm=1000, n_boot=200, seed=0)
    t = res.table.set_index("unit")
    assert res.n_unmatched == 1 and res.baseline["n"] == 9
    assert not t.loc["u3", "in_band"]
    # u0: published 1, our distribution all at rank 1 -> percentile ½
    assert t.loc["u0", "percentile"] == 0.5
    assert t.loc["u9", "percentile"] == 1.0                 # published 10 above all of ours
    assert "expected by chance" in res.headline() and "P = " in res.headline()
    assert res.baseline["observed"] == pytest.approx(t["in_band"].drop("u3").mean())


def test_bundled_calibration_table_names_its_version():
    """The audit report shows the bundled calibration table (benchmarks/bench_calibration.py)
    with the product version it was run on."""
    from cityindex.report.html import calibration_table

    cal = calibration_table()
    assert cal is not None and len(cal) >= 10
    assert {"interval", "nominal", "coverage", "mc_se", "mean_width", "tolerance", "within",
            "version", "mode"} <= set(cal.columns)
    need = ["simultaneous", "marginal", "tau-best", "Bayesian", "effective weight",
            "first-order", "total-order", "Spearman", "Kendall", "multiple-imputation"]
    for word in need:
        assert cal["interval"].str.contains(word).any(), word
    tol = np.maximum(3 * cal["mc_se"], 0.03)
    assert np.allclose(cal["tolerance"], tol)
    assert (cal["within"] == ((cal["coverage"] - cal["nominal"]).abs() <= tol + 1e-12)).all()
