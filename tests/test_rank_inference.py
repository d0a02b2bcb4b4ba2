"""Tests for validation.rank_inference (MRSW rank confidence sets, KWW baseline, Bayesian ranks).

The independent package ``multiple-inference`` (Bowen) is used as a test oracle only.  It draws
its own parametric-bootstrap sample Z ~ N(theta_hat, Sigma_hat); passing the same draws (centred)
to our ``boot_draws`` argument makes the two implementations see identical bootstrap samples, so
their marginal sets, simultaneous sets and projection tau-best sets must agree exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cityindex.validation.rank_inference import (
    draw_ranks,
    joint_rank_band,
    pairwise_comparisons,
    point_ranks,
    rank_confidence_sets,
    rank_confidence_sets_kww,
    rank_summary,
    rankogram,
    tau_best,
    top_tau_credible_set,
)


def _problem(seed: int, p: int = 12, spread: float = 1.5):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.normal(0.0, spread, p))[::-1].copy()
    a = rng.normal(size=(p, p)) * 0.3
    cov = a @ a.T / p + np.diag(rng.uniform(0.05, 0.3, p))
    return x, cov


# ----------------------------------------------------------------------------------------------
# agreement with the independent multiple-inference package
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oracle():
    mi = pytest.importorskip("multiple_inference.confidence_set")
    return mi


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_marginal_matches_multiple_inference_exactly(oracle, seed):
    x, cov = _problem(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = oracle.MarginalRanking(x, cov, random_state=seed).fit(n_samples=4000)
        ci_step = res.conf_int(0.05)  # stepdown
        ci_single = res.conf_int(0.05, fast=True)  # single step
    z = res._rvs - x  # the oracle's own N(0, Sigma) draws
    ours = rank_confidence_sets(x, cov, simultaneous=False, boot_draws=z)
    np.testing.assert_array_equal(ours[["lower", "upper"]].to_numpy(), ci_step)
    ours1 = rank_confidence_sets(x, cov, simultaneous=False, stepdown=False, boot_draws=z)
    np.testing.assert_array_equal(ours1[["lower", "upper"]].to_numpy(), ci_single)
    np.testing.assert_array_equal(ours["rank"].to_numpy(), res.params)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_simultaneous_and_tau_best_match_multiple_inference_exactly(oracle, seed):
    x, cov = _problem(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = oracle.SimultaneousRanking(x, cov, random_state=seed).fit(n_samples=4000)
        ci = res.conf_int(0.05)
        best_proj = res.compute_best_params(3, 0.05, fast=True).to_numpy()
        best_stepwise = res.compute_best_params(3, 0.05).to_numpy()
        rej = res._pairwise_comparison.test_hypotheses(0.05).to_numpy()
    z = res._pairwise_comparison._rvs - x
    ours = rank_confidence_sets(x, cov, boot_draws=z)
    np.testing.assert_array_equal(ours[["lower", "upper"]].to_numpy(), ci)
    tb = tau_best(x, cov, tau=3, boot_draws=z).sort_values("unit")
    np.testing.assert_array_equal(tb["in_set"].to_numpy(), best_proj)
    # the oracle's combinatorial stepwise tau-best test is at least as powerful as projection
    assert np.all(best_stepwise <= tb["in_set"].to_numpy())
    # oracle matrix M[a, b] = "b significantly greater than a"; ours M[a, b] = "a ahead of b"
    mat = pairwise_comparisons(x, cov, boot_draws=z, form="matrix").to_numpy()
    np.testing.assert_array_equal(mat, rej.T)


def test_independent_bootstrap_within_one_rank_of_oracle(oracle):
    """Different random draws (ours R=20000 vs oracle's 20000): bounds may differ only where a
    T statistic is within bootstrap noise of the critical value, i.e. by at most one rank."""
    x, cov = _problem(7, p=10, spread=2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = oracle.SimultaneousRanking(x, cov, random_state=1).fit(n_samples=20000)
        mar = oracle.MarginalRanking(x, cov, random_state=1).fit(n_samples=20000)
        ci_s, ci_m = sim.conf_int(0.05), mar.conf_int(0.05)
    ours_s = rank_confidence_sets(x, cov, n_boot=20000, seed=123)
    ours_m = rank_confidence_sets(x, cov, n_boot=20000, seed=123, simultaneous=False)
    assert np.abs(ours_s[["lower", "upper"]].to_numpy() - ci_s).max() <= 1
    assert np.abs(ours_m[["lower", "upper"]].to_numpy() - ci_m).max() <= 1


# ----------------------------------------------------------------------------------------------
# worked examples, invariances, ties, structure
# ----------------------------------------------------------------------------------------------
def test_hand_example_well_separated_singletons():
    # differences of >= 49 with sd sqrt(2): every pair is rejected at any reasonable level
    for simultaneous in (True, False):
        cs = rank_confidence_sets([1.0, 50.0, 100.0], se=[1, 1, 1], units=list("abc"),
                                  simultaneous=simultaneous)
        assert cs["unit"].tolist() == ["a", "b", "c"]
        assert cs["rank"].tolist() == [3, 2, 1]
        assert cs["lower"].tolist() == [3, 2, 1] and cs["upper"].tolist() == [3, 2, 1]
    kww = rank_confidence_sets_kww([1.0, 50.0, 100.0], se=[1, 1, 1])
    assert kww["lower"].tolist() == [3, 2, 1] and kww["upper"].tolist() == [3, 2, 1]
    tb = tau_best([1.0, 50.0, 100.0], se=[1, 1, 1], tau=1)
    assert tb.loc[tb.in_set, "unit"].tolist() == [2]
    tw = tau_best([1.0, 50.0, 100.0], se=[1, 1, 1], tau=1, worst=True)
    assert tw.loc[tw.in_set, "unit"].tolist() == [0]


def test_hand_example_two_close_one_far():
    # a, b indistinguishable (diff 0.1, sd 1.41); c far ahead -> c = {1}, a, b in {2, 3}
    cs = rank_confidence_sets([0.0, 0.1, 100.0], se=[1, 1, 1])
    assert cs[["lower", "upper"]].to_numpy().tolist() == [[2, 3], [2, 3], [1, 1]]


def test_invariant_to_common_shift_and_scale():
    x, cov = _problem(3, p=15)
    base = rank_confidence_sets(x, cov, seed=5)
    shifted = rank_confidence_sets(x + 123.0, cov, seed=5)
    scaled = rank_confidence_sets(3.0 * x - 7.0, 9.0 * cov, seed=5)
    for other in (shifted, scaled):
        pd.testing.assert_frame_equal(base[["rank", "lower", "upper"]],
                                      other[["rank", "lower", "upper"]])
    mb = rank_confidence_sets(x, cov, seed=5, simultaneous=False)
    ms = rank_confidence_sets(x - 50.0, cov, seed=5, simultaneous=False)
    pd.testing.assert_frame_equal(mb[["lower", "upper"]], ms[["lower", "upper"]])


def test_ties_share_rank_and_sets():
    x = np.array([1.0, 2.0, 2.0, 5.0])
    assert point_ranks(x).tolist() == [4, 2, 2, 1]
    cs = rank_confidence_sets(x, se=[0.1, 0.5, 0.5, 0.1], seed=0)
    assert cs.loc[1, ["rank", "lower", "upper"]].tolist() == cs.loc[2, ["rank", "lower", "upper"]].tolist()
    assert cs.loc[1, "lower"] <= 2 <= cs.loc[1, "upper"]
    assert draw_ranks(np.array([[3.0, 3.0, 1.0, 3.0]])).tolist() == [[1, 1, 4, 1]]


def test_nesting_marginal_in_simultaneous_and_one_sided_tighter():
    x, cov = _problem(11, p=20, spread=1.0)
    sim = rank_confidence_sets(x, cov, seed=2)
    mar = rank_confidence_sets(x, cov, seed=2, simultaneous=False)
    assert (mar.lower >= sim.lower).all() and (mar.upper <= sim.upper).all()
    lo = rank_confidence_sets(x, cov, seed=2, simultaneous=False, kind="lower")
    up = rank_confidence_sets(x, cov, seed=2, simultaneous=False, kind="upper")
    assert (lo.lower >= mar.lower).all() and (lo.upper == 20).all()
    assert (up.upper <= mar.upper).all() and (up.lower == 1).all()
    single = rank_confidence_sets(x, cov, seed=2, stepdown=False)
    assert (single.lower <= sim.lower).all() and (single.upper >= sim.upper).all()
    # rank point estimate always inside the two-sided sets
    assert ((sim.lower <= sim["rank"]) & (sim["rank"] <= sim.upper)).all()


def test_chunking_does_not_change_results():
    x, cov = _problem(4, p=30, spread=1.0)
    for simultaneous in (True, False):
        big = rank_confidence_sets(x, cov, seed=1, simultaneous=simultaneous)
        small = rank_confidence_sets(x, cov, seed=1, simultaneous=simultaneous,
                                     max_chunk_bytes=1000)
        pd.testing.assert_frame_equal(big, small)


def test_subset_indices_and_draws_input():
    x, cov = _problem(5, p=10)
    full = rank_confidence_sets(x, cov, seed=0, simultaneous=False)
    sub = rank_confidence_sets(x, cov, seed=0, simultaneous=False, indices=[2, 5])
    pd.testing.assert_frame_equal(full.iloc[[2, 5]].reset_index(drop=True), sub)
    # a subset family is smaller -> simultaneous subset sets are no wider than the full ones
    simf = rank_confidence_sets(x, cov, seed=0)
    sims = rank_confidence_sets(x, cov, seed=0, indices=[2, 5])
    assert (sims.lower.to_numpy() >= simf.lower.to_numpy()[[2, 5]]).all()
    assert (sims.upper.to_numpy() <= simf.upper.to_numpy()[[2, 5]]).all()
    # draws -> mean and sample covariance; labels from DataFrame columns
    rng = np.random.default_rng(0)
    d = pd.DataFrame(rng.multivariate_normal(x, cov, size=400), columns=[f"c{i}" for i in range(10)])
    a = rank_confidence_sets(draws=d, seed=3)
    b = rank_confidence_sets(d.mean().to_numpy(), np.cov(d.to_numpy(), rowvar=False), seed=3,
                             units=d.columns)
    pd.testing.assert_frame_equal(a, b)
    assert a["unit"].tolist()[0] == "c0"
    # se == diagonal cov
    se = np.sqrt(np.diag(cov))
    pd.testing.assert_frame_equal(rank_confidence_sets(x, se=se, seed=1),
                                  rank_confidence_sets(x, np.diag(se**2), seed=1))


def test_pairwise_long_form_consistent_with_sets():
    x, cov = _problem(6, p=8, spread=2.0)
    long = pairwise_comparisons(x, cov, seed=4, units=list("abcdefgh"))
    assert list(long.columns) == ["unit_a", "unit_b", "diff", "se", "t", "significant"]
    assert len(long) == 8 * 7
    cs = rank_confidence_sets(x, cov, seed=4, units=list("abcdefgh")).set_index("unit")
    ahead = long[long.significant].groupby("unit_b").size()  # units significantly ahead of b
    behind = long[long.significant].groupby("unit_a").size()
    for u in cs.index:
        assert cs.loc[u, "lower"] == 1 + ahead.get(u, 0)
        assert cs.loc[u, "upper"] == 8 - behind.get(u, 0)
    assert (long.loc[long.significant, "diff"] > 0).all()
    tmat = pairwise_comparisons(x, cov, seed=4, form="t").to_numpy()
    np.testing.assert_allclose(tmat, -tmat.T)


def test_reproducible_with_seed():
    x, cov = _problem(8, p=25, spread=0.7)
    a = rank_confidence_sets(x, cov, seed=42, simultaneous=False)
    b = rank_confidence_sets(x, cov, seed=42, simultaneous=False)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(estimates=[1.0, 2.0], se=[1.0]), "shape"),
        (dict(estimates=[1.0, np.nan], se=[1.0, 1.0]), "non-finite"),
        (dict(estimates=[1.0, 2.0], cov=np.eye(3)), "expected"),
        (dict(estimates=[1.0, 2.0], cov=[[1.0, 2.0], [2.0, 1.0]]), "semi-definite"),
        (dict(estimates=[1.0, 2.0], cov=[[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
        (dict(estimates=[1.0, 2.0], cov=np.ones((2, 2))), "zero variance"),
        (dict(estimates=[1.0, 2.0], se=[1.0, 1.0], alpha=1.5), "alpha"),
        (dict(estimates=[1.0, 2.0], se=[1.0, 1.0], alpha=0.0), "alpha"),
        (dict(estimates=[1.0, 2.0], se=[1.0, 1.0], kind="both"), "kind"),
        (dict(estimates=[1.0, 2.0]), "exactly one"),
        (dict(estimates=[1.0], se=[1.0]), "at least 2"),
        (dict(estimates=[1.0, 2.0], se=[1.0, 1.0], units=["a"]), "labels"),
    ],
)
def test_input_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        rank_confidence_sets(**kwargs)


def test_input_validation_misc():
    with pytest.raises(ValueError, match="tau"):
        tau_best([1.0, 2.0, 3.0], se=[1, 1, 1], tau=4)
    with pytest.raises(ValueError, match="non-finite"):
        rank_summary(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="top_k"):
        rank_summary(np.zeros((3, 4)), top_k=(5,))
    with pytest.raises(ValueError, match="interval"):
        rank_summary(np.zeros((3, 4)), interval=(0.9, 0.1))
    with pytest.raises(ValueError, match="draws"):
        rank_confidence_sets(draws=np.zeros(5))


# ----------------------------------------------------------------------------------------------
# coverage simulation (small; full size in benchmarks/bench_rank_coverage.py)
# ----------------------------------------------------------------------------------------------
N_REP = 200
# nominal 0.95 -> binomial SE over 200 replications sqrt(.95*.05/200) = 0.0154; a 3-SE
# one-sided tolerance gives a false-failure probability < 0.2% if coverage were exactly 95%.
TOL = 3 * np.sqrt(0.95 * 0.05 / N_REP)


@pytest.mark.parametrize("spacing", [0.0, 0.25, 1.0])
def test_coverage_simulation(spacing):
    p = 50
    rng = np.random.default_rng(int(spacing * 100) + 1)
    theta = spacing * np.arange(p)[::-1]
    se = np.full(p, 1.0)
    true_rank = point_ranks(theta)
    sim_hits, mar_hits, kww_hits = 0, np.zeros(p), 0
    for rep in range(N_REP):
        est = theta + rng.normal(size=p) * se
        sim = rank_confidence_sets(est, se=se, seed=rep, n_boot=500)
        mar = rank_confidence_sets(est, se=se, seed=rep, n_boot=500, simultaneous=False)
        kww = rank_confidence_sets_kww(est, se=se)
        sim_hits += ((sim.lower <= true_rank) & (true_rank <= sim.upper)).all()
        mar_hits += (mar.lower <= true_rank) & (true_rank <= mar.upper)
        kww_hits += ((kww.lower <= true_rank) & (true_rank <= kww.upper)).all()
    assert sim_hits / N_REP >= 0.95 - TOL
    assert kww_hits / N_REP >= 0.95 - TOL
    # per unit: 50 correlated binomial proportions; 3.5 SE keeps the family-wise false-failure
    # probability below ~1% under exact nominal coverage
    assert (mar_hits / N_REP).min() >= 0.95 - 3.5 * np.sqrt(0.95 * 0.05 / N_REP)
    assert (mar_hits / N_REP).mean() >= 0.95 - TOL


# ----------------------------------------------------------------------------------------------
# Bayesian / simulation summaries
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def normal_draws():
    rng = np.random.default_rng(2024)
    mu = np.array([0.0, 0.3, 0.5, 1.5, 1.6, 3.0, -1.0, 0.4])
    sd = np.array([0.5, 0.4, 0.6, 0.3, 0.5, 0.2, 1.0, 0.7])
    return mu, sd, rng.normal(mu, sd, size=(20000, mu.size))


def test_posterior_mean_rank_identity(normal_draws):
    mu, sd, d = normal_draws
    rs = rank_summary(d)
    # exact, on the same draws: mean rank = 1 + sum_k P_hat(theta_k > theta_i)
    p_gt = (d[:, None, :] > d[:, :, None]).mean(axis=0)  # [i, k] = P(theta_k > theta_i)
    np.testing.assert_allclose(rs.mean_rank.to_numpy(), 1 + p_gt.sum(axis=1), rtol=0, atol=1e-12)
    # and against the analytic value, within Monte Carlo error
    z = (mu[None, :] - mu[:, None]) / np.sqrt(sd[None, :] ** 2 + sd[:, None] ** 2)
    analytic = 1 + stats.norm.cdf(z).sum(axis=1) - 0.5  # drop the k = i term (Phi(0) = .5)
    np.testing.assert_allclose(rs.mean_rank.to_numpy(), analytic, atol=0.03)
    k = mu.size
    np.testing.assert_allclose(rs.sucra, (k - rs.mean_rank) / (k - 1))


def test_rank_quantiles_and_probabilities(normal_draws):
    _, _, d = normal_draws
    r = draw_ranks(d)
    rs = rank_summary(d, interval=(0.025, 0.975), top_k=(1, 3))
    for col, q in (("lower", 0.025), ("median_rank", 0.5), ("upper", 0.975)):
        np.testing.assert_array_equal(rs[col].to_numpy(),
                                      np.quantile(r, q, axis=0, method="inverted_cdf"))
    np.testing.assert_allclose(rs.p_top_1, (r <= 1).mean(axis=0))
    np.testing.assert_allclose(rs.p_top_3, (r <= 3).mean(axis=0))
    rg = rankogram(d)
    np.testing.assert_allclose(rg.sum(axis=1), 1.0)
    np.testing.assert_allclose(rg.sum(axis=0), 1.0)  # continuous draws: one unit per rank
    np.testing.assert_allclose(rg[1].to_numpy(), rs.p_top_1.to_numpy())


def test_joint_band_contains_draws(normal_draws):
    _, _, d = normal_draws
    r = draw_ranks(d)
    for a in (0.05, 0.2):
        band = joint_rank_band(d, alpha=a)
        inside = ((r >= band.joint_lower.to_numpy()) & (r <= band.joint_upper.to_numpy())).all(1)
        assert inside.mean() >= 1 - a
        assert inside.mean() == pytest.approx(band.attrs["coverage"])
        # joint band is at least as wide as the marginal equal-tailed intervals at level a
        rs = rank_summary(d, interval=(a / 2, 1 - a / 2))
        assert (band.joint_lower.to_numpy() <= rs.lower.to_numpy()).all()
        assert (band.joint_upper.to_numpy() >= rs.upper.to_numpy()).all()
    rs = rank_summary(d, joint_alpha=0.1)
    assert {"joint_lower", "joint_upper"} <= set(rs.columns)


def test_top_tau_credible_set(normal_draws):
    _, _, d = normal_draws
    r = draw_ranks(d)
    ts = top_tau_credible_set(d, tau=2, alpha=0.1)
    members = ts.loc[ts.in_set, "unit"].to_numpy()
    covered = (~(r <= 2) | np.isin(np.arange(d.shape[1]), members)[None, :]).all(axis=1)
    assert covered.mean() >= 0.9
    assert covered.mean() == pytest.approx(ts.attrs["coverage"])
    # dropping the last member breaks coverage (minimality)
    fewer = members[:-1]
    cov_fewer = (~(r <= 2) | np.isin(np.arange(d.shape[1]), fewer)[None, :]).all(axis=1).mean()
    assert cov_fewer < 0.9
    assert set(members) >= {5}  # the clear leader


def test_rank_summary_shift_invariant_and_labels(normal_draws):
    _, _, d = normal_draws
    df = pd.DataFrame(d[:2000], columns=list("abcdefgh"))
    a = rank_summary(df, joint_alpha=0.1)
    b = rank_summary(df * 2.0 + 10.0 + np.random.default_rng(0).normal(size=(2000, 1)),
                     joint_alpha=0.1)  # per-draw common shift: ranks unchanged
    pd.testing.assert_frame_equal(a, b)
    assert a.unit.tolist() == list("abcdefgh")
