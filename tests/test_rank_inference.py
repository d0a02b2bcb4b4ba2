"""Tests for validation.rank_inference (ScoreDraws, MRSW rank confidence sets and RankSets, KWW
baseline, Bayesian ranks).

The independent package ``multiple-inference`` (Bowen) is used as a test oracle only.  It draws
its own parametric-bootstrap sample Z ~ N(theta_hat, Sigma_hat); passing the same draws (centred)
to our ``boot_draws`` argument makes the two implementations see identical bootstrap samples, so
their marginal sets, simultaneous sets and projection tau-best sets must agree exactly.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cityindex.validation.rank_inference import (
    RankSets,
    ScoreDraws,
    draw_ranks,
    joint_rank_band,
    pairwise_comparisons,
    point_ranks,
    rank_confidence_sets,
    rank_confidence_sets_kww,
    rank_sets,
    rank_summary,
    rankogram,
    tau_best,
    top_tau_credible_set,
)


def _est(estimates, cov=None, se=None, units=None) -> ScoreDraws:
    """ScoreDraws from estimates (labelled by ``units`` when given) with a covariance or SEs."""
    if units is not None:
        estimates = pd.Series(np.asarray(estimates, dtype=float), index=list(units))
    return ScoreDraws.from_estimates(estimates, se=se, cov=cov)


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
    ours = rank_confidence_sets(_est(x, cov), simultaneous=False, boot_draws=z)
    np.testing.assert_array_equal(ours[["lower", "upper"]].to_numpy(), ci_step)
    ours1 = rank_confidence_sets(_est(x, cov), simultaneous=False, stepdown=False, boot_draws=z)
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
    ours = rank_confidence_sets(_est(x, cov), boot_draws=z)
    np.testing.assert_array_equal(ours[["lower", "upper"]].to_numpy(), ci)
    tb = tau_best(_est(x, cov), tau=3, boot_draws=z).sort_values("unit")
    np.testing.assert_array_equal(tb["in_set"].to_numpy(), best_proj)
    # the oracle's combinatorial stepwise tau-best test is at least as powerful as projection
    assert np.all(best_stepwise <= tb["in_set"].to_numpy())
    # oracle matrix M[a, b] = "b significantly greater than a"; ours M[a, b] = "a ahead of b"
    mat = pairwise_comparisons(_est(x, cov), boot_draws=z, form="matrix").to_numpy()
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
    ours_s = rank_confidence_sets(_est(x, cov), n_boot=20000, seed=123)
    ours_m = rank_confidence_sets(_est(x, cov), n_boot=20000, seed=123, simultaneous=False)
    assert np.abs(ours_s[["lower", "upper"]].to_numpy() - ci_s).max() <= 1
    assert np.abs(ours_m[["lower", "upper"]].to_numpy() - ci_m).max() <= 1


# ----------------------------------------------------------------------------------------------
# worked examples, invariances, ties, structure
# ----------------------------------------------------------------------------------------------
def test_hand_example_well_separated_singletons():
    # differences of >= 49 with sd sqrt(2): every pair is rejected at any reasonable level
    for simultaneous in (True, False):
        cs = rank_confidence_sets(_est([1.0, 50.0, 100.0], se=[1, 1, 1], units="abc"),
                                  simultaneous=simultaneous)
        assert cs["unit"].tolist() == ["a", "b", "c"]
        assert cs["rank"].tolist() == [3, 2, 1]
        assert cs["lower"].tolist() == [3, 2, 1] and cs["upper"].tolist() == [3, 2, 1]
    kww = rank_confidence_sets_kww(_est([1.0, 50.0, 100.0], se=[1, 1, 1]))
    assert kww["lower"].tolist() == [3, 2, 1] and kww["upper"].tolist() == [3, 2, 1]
    tb = tau_best(_est([1.0, 50.0, 100.0], se=[1, 1, 1]), tau=1)
    assert tb.loc[tb.in_set, "unit"].tolist() == [2]
    tw = tau_best(_est([1.0, 50.0, 100.0], se=[1, 1, 1]), tau=1, worst=True)
    assert tw.loc[tw.in_set, "unit"].tolist() == [0]


def test_hand_example_two_close_one_far():
    # a, b indistinguishable (diff 0.1, sd 1.41); c far ahead -> c = {1}, a, b in {2, 3}
    cs = rank_confidence_sets(_est([0.0, 0.1, 100.0], se=[1, 1, 1]))
    assert cs[["lower", "upper"]].to_numpy().tolist() == [[2, 3], [2, 3], [1, 1]]


def test_invariant_to_common_shift_and_scale():
    x, cov = _problem(3, p=15)
    base = rank_confidence_sets(_est(x, cov), seed=5)
    shifted = rank_confidence_sets(_est(x + 123.0, cov), seed=5)
    scaled = rank_confidence_sets(_est(3.0 * x - 7.0, 9.0 * cov), seed=5)
    for other in (shifted, scaled):
        pd.testing.assert_frame_equal(base[["rank", "lower", "upper"]],
                                      other[["rank", "lower", "upper"]])
    mb = rank_confidence_sets(_est(x, cov), seed=5, simultaneous=False)
    ms = rank_confidence_sets(_est(x - 50.0, cov), seed=5, simultaneous=False)
    pd.testing.assert_frame_equal(mb[["lower", "upper"]], ms[["lower", "upper"]])


def test_ties_share_rank_and_sets():
    x = np.array([1.0, 2.0, 2.0, 5.0])
    assert point_ranks(x).tolist() == [4, 2, 2, 1]
    cs = rank_confidence_sets(_est(x, se=[0.1, 0.5, 0.5, 0.1]), seed=0)
    assert cs.loc[1, ["rank", "lower", "upper"]].tolist() == cs.loc[2, ["rank", "lower", "upper"]].tolist()
    assert cs.loc[1, "lower"] <= 2 <= cs.loc[1, "upper"]
    assert draw_ranks(np.array([[3.0, 3.0, 1.0, 3.0]])).tolist() == [[1, 1, 4, 1]]


def test_nesting_marginal_in_simultaneous_and_one_sided_tighter():
    x, cov = _problem(11, p=20, spread=1.0)
    sd = _est(x, cov)
    sim = rank_confidence_sets(sd, seed=2)
    mar = rank_confidence_sets(sd, seed=2, simultaneous=False)
    assert (mar.lower >= sim.lower).all() and (mar.upper <= sim.upper).all()
    lo = rank_confidence_sets(sd, seed=2, simultaneous=False, kind="lower")
    up = rank_confidence_sets(sd, seed=2, simultaneous=False, kind="upper")
    assert (lo.lower >= mar.lower).all() and (lo.upper == 20).all()
    assert (up.upper <= mar.upper).all() and (up.lower == 1).all()
    single = rank_confidence_sets(sd, seed=2, stepdown=False)
    assert (single.lower <= sim.lower).all() and (single.upper >= sim.upper).all()
    # rank point estimate always inside the two-sided sets
    assert ((sim.lower <= sim["rank"]) & (sim["rank"] <= sim.upper)).all()


def test_chunking_does_not_change_results():
    x, cov = _problem(4, p=30, spread=1.0)
    for simultaneous in (True, False):
        big = rank_confidence_sets(_est(x, cov), seed=1, simultaneous=simultaneous)
        small = rank_confidence_sets(_est(x, cov), seed=1, simultaneous=simultaneous,
                                     max_chunk_bytes=1000)
        pd.testing.assert_frame_equal(big, small)


def test_subset_indices_and_draws_input():
    x, cov = _problem(5, p=10)
    sd = _est(x, cov)
    full = rank_confidence_sets(sd, seed=0, simultaneous=False)
    sub = rank_confidence_sets(sd, seed=0, simultaneous=False, indices=[2, 5])
    pd.testing.assert_frame_equal(full.iloc[[2, 5]].reset_index(drop=True), sub)
    # a subset family is smaller -> simultaneous subset sets are no wider than the full ones
    simf = rank_confidence_sets(sd, seed=0)
    sims = rank_confidence_sets(sd, seed=0, indices=[2, 5])
    assert (sims.lower.to_numpy() >= simf.lower.to_numpy()[[2, 5]]).all()
    assert (sims.upper.to_numpy() <= simf.upper.to_numpy()[[2, 5]]).all()
    # draws -> mean and sample covariance; labels from DataFrame columns
    rng = np.random.default_rng(0)
    d = pd.DataFrame(rng.multivariate_normal(x, cov, size=400), columns=[f"c{i}" for i in range(10)])
    a = rank_confidence_sets(ScoreDraws.from_draws(d), seed=3)
    b = rank_confidence_sets(_est(d.mean().to_numpy(), np.cov(d.to_numpy(), rowvar=False),
                                  units=d.columns), seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["unit"].tolist()[0] == "c0"
    # se == diagonal cov
    se = np.sqrt(np.diag(cov))
    pd.testing.assert_frame_equal(rank_confidence_sets(_est(x, se=se), seed=1),
                                  rank_confidence_sets(_est(x, np.diag(se**2)), seed=1))


def test_pairwise_long_form_consistent_with_sets():
    x, cov = _problem(6, p=8, spread=2.0)
    long = pairwise_comparisons(_est(x, cov, units="abcdefgh"), seed=4)
    assert list(long.columns) == ["unit_a", "unit_b", "diff", "se", "t", "significant"]
    assert len(long) == 8 * 7
    cs = rank_confidence_sets(_est(x, cov, units="abcdefgh"), seed=4).set_index("unit")
    ahead = long[long.significant].groupby("unit_b").size()  # units significantly ahead of b
    behind = long[long.significant].groupby("unit_a").size()
    for u in cs.index:
        assert cs.loc[u, "lower"] == 1 + ahead.get(u, 0)
        assert cs.loc[u, "upper"] == 8 - behind.get(u, 0)
    assert (long.loc[long.significant, "diff"] > 0).all()
    tmat = pairwise_comparisons(_est(x, cov), seed=4, form="t").to_numpy()
    np.testing.assert_allclose(tmat, -tmat.T)


def test_reproducible_with_seed():
    x, cov = _problem(8, p=25, spread=0.7)
    a = rank_confidence_sets(_est(x, cov), seed=42, simultaneous=False)
    b = rank_confidence_sets(_est(x, cov), seed=42, simultaneous=False)
    pd.testing.assert_frame_equal(a, b)


def _two() -> ScoreDraws:
    return ScoreDraws.from_estimates([1.0, 2.0], se=[1.0, 1.0])


@pytest.mark.parametrize(
    "make, msg",
    [
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], se=[1.0]), "shape"),
        (lambda: ScoreDraws.from_estimates([1.0, np.nan], se=[1.0, 1.0]), "non-finite"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], cov=np.eye(3)), "expected"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], cov=[[1.0, 2.0], [2.0, 1.0]]),
         "semi-definite"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], cov=[[1.0, 0.5], [0.0, 1.0]]),
         "symmetric"),
        (lambda: rank_confidence_sets(ScoreDraws.from_estimates([1.0, 2.0], cov=np.ones((2, 2)))),
         "zero variance"),
        (lambda: rank_confidence_sets(_two(), alpha=1.5), "alpha"),
        (lambda: rank_confidence_sets(_two(), alpha=0.0), "alpha"),
        (lambda: rank_confidence_sets(_two(), kind="both"), "kind"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0]), "exactly one"),
        (lambda: ScoreDraws.from_estimates([1.0], se=[1.0]), "at least 2"),
        (lambda: ScoreDraws.from_ranks(np.ones((3, 2)), units=["a"]), "labels"),
        (lambda: ScoreDraws.from_estimates(pd.Series([1.0, 2.0], index=["a", "a"]),
                                           se=[1.0, 1.0]), "labels must be unique"),
    ],
)
def test_input_validation(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_input_validation_misc():
    with pytest.raises(ValueError, match="tau"):
        tau_best(_est([1.0, 2.0, 3.0], se=[1, 1, 1]), tau=4)
    with pytest.raises(ValueError, match="non-finite"):
        rank_summary(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="top_k"):
        rank_summary(np.zeros((3, 4)), top_k=(5,))
    with pytest.raises(ValueError, match="interval"):
        rank_summary(np.zeros((3, 4)), interval=(0.9, 0.1))
    with pytest.raises(ValueError, match="draws"):
        ScoreDraws.from_draws(np.zeros(5))
    with pytest.raises(TypeError, match="ScoreDraws"):
        rank_confidence_sets([1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------------------------
# ScoreDraws: construction, constructors, separable, subset, protocol
# ----------------------------------------------------------------------------------------------
def _labelled_draws(seed: int = 0, n: int = 300) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    x, cov = _problem(seed, p=6)
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(rng.multivariate_normal(x, cov, size=n), columns=list("abcdef"))
    return d, x, cov


@pytest.mark.parametrize(
    "make, msg",
    [
        (lambda: ScoreDraws.from_draws(np.zeros((1, 3))), "at least 2 rows"),
        (lambda: ScoreDraws.from_draws(np.array([[0.0, 1.0], [np.nan, 2.0]])), "non-finite"),
        (lambda: ScoreDraws.from_draws(np.zeros((4, 1))), "at least 2 units"),
        (lambda: ScoreDraws.from_draws(pd.DataFrame(np.eye(3), columns=list("abc")),
                                       estimates=pd.Series({"a": 1.0, "b": 2.0})),
         "no estimate"),
        (lambda: ScoreDraws.from_draws(np.eye(3), estimates=[1.0, 2.0]), "shape"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], se=[1.0, -1.0]), "non-negative"),
        (lambda: ScoreDraws.from_estimates([1.0, 2.0], se=[1.0, 1.0], cov=np.eye(2)),
         "exactly one"),
        (lambda: ScoreDraws(pd.Series([1.0, 2.0], index=["a", "b"]), np.eye(2),
                            pd.DataFrame(np.eye(2), columns=["b", "a"])), "same order"),
        (lambda: ScoreDraws(pd.Series([1.0, 2.0]), np.eye(2), np.eye(3)), "columns"),
        (lambda: ScoreDraws.from_ranks(np.ones(3), units=["a", "b", "c"]), "2-D"),
        (lambda: ScoreDraws.from_estimates(np.ones((2, 2)), cov=np.eye(4)), "1-D"),
    ],
)
def test_score_draws_construction_errors(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_score_draws_zero_variance_is_allowed_at_construction():
    sd = ScoreDraws.from_estimates(pd.Series([1.0, 2.0, 3.0], index=list("abc")),
                                   cov=np.ones((3, 3)) + np.diag([0.0, 0.0, 1.0]))
    assert sd.zero_variance_pairs() == [("a", "b")]
    with pytest.raises(ValueError, match="zero variance"):
        rank_confidence_sets(sd)


def test_from_estimates_se_and_cov_agree():
    x, cov = _problem(9, p=7)
    se = np.sqrt(np.diag(cov))
    labels = list("abcdefg")
    a = ScoreDraws.from_estimates(pd.Series(x, index=labels), se=se)
    b = ScoreDraws.from_estimates(pd.Series(x, index=labels), cov=np.diag(se**2))
    np.testing.assert_array_equal(a.cov, b.cov)
    np.testing.assert_allclose(a.se.to_numpy(), se, rtol=1e-15)
    assert list(a.units) == labels and a.n_units == 7 and a.n_draws is None
    assert a.source == "estimates" and a.draws is None
    pd.testing.assert_frame_equal(rank_confidence_sets(a, seed=2), rank_confidence_sets(b, seed=2))
    pd.testing.assert_frame_equal(rank_confidence_sets(a, seed=2, simultaneous=False),
                                  rank_confidence_sets(b, seed=2, simultaneous=False))


def test_from_draws_centring_on_given_estimates():
    d, x, _ = _labelled_draws(1)
    # the draws' mean and sample covariance (divisor R - 1), computed independently
    own = ScoreDraws.from_draws(d, source="bootstrap", assumption="test")
    np.testing.assert_allclose(own.estimates.to_numpy(), d.to_numpy().sum(0) / len(d),
                               rtol=1e-12)
    centred = d.to_numpy() - d.to_numpy().mean(0)
    np.testing.assert_allclose(own.cov, centred.T @ centred / (len(d) - 1), rtol=1e-10)
    assert own.n_draws == 300 and own.source == "bootstrap"
    # given estimates (a Series in another order, with an extra unit) are used as theta_hat,
    # the covariance still comes from the draws
    nominal = pd.Series(x + 0.5, index=list("abcdef"))
    given = ScoreDraws.from_draws(d, estimates=pd.concat([nominal.iloc[::-1],
                                                          pd.Series({"zz": 9.0})]))
    pd.testing.assert_series_equal(given.estimates, nominal, check_names=False)
    np.testing.assert_array_equal(given.cov, own.cov)
    cs = rank_confidence_sets(given, seed=0)
    np.testing.assert_array_equal(cs["estimate"].to_numpy(), nominal.to_numpy())
    np.testing.assert_array_equal(cs["rank"].to_numpy(), point_ranks(nominal.to_numpy()))
    # positional estimates
    pos = ScoreDraws.from_draws(d, estimates=nominal.to_numpy())
    pd.testing.assert_series_equal(pos.estimates, given.estimates)


def _tied_draws(seed: int = 0) -> pd.DataFrame:
    """Units a and b have equal scores in every draw; c, d, e are well separated from them."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(200, 1))
    return pd.DataFrame(np.hstack([base, base, base + 10 + rng.normal(size=(200, 1)),
                                   rng.normal(-10, 1, size=(200, 2))]), columns=list("abcde"))


def test_separable_jitters_tied_pairs_and_says_so():
    d = _tied_draws()
    nominal = pd.Series([0.0, 0.0, 10.0, -10.0, -9.0], index=list("abcde"))
    for est in (None, nominal):
        sd = ScoreDraws.from_draws(d, est, source="measurement", assumption="assumed")
        assert sd.zero_variance_pairs() == [("a", "b")]
        sep = sd.separable(seed=3)
        assert sep is not sd and sep.zero_variance_pairs() == []
        assert "1 pairs" in sep.note and "jitter" in sep.note
        assert (sep.source, sep.assumption) == ("measurement", "assumed")
        # jitter bounded by 1e-4 x the largest per-unit SD; other orderings unchanged
        eps = 1e-4 * np.sqrt(np.diag(sd.cov).max())
        assert np.abs(sep.draws.to_numpy() - d.to_numpy()).max() <= eps
        others = d.drop(columns="b").to_numpy()
        np.testing.assert_array_equal(draw_ranks(sep.draws.drop(columns="b").to_numpy()),
                                      draw_ranks(others))
        if est is None:  # theta_hat follows the jittered draws
            np.testing.assert_allclose(sep.estimates.to_numpy(), sep.draws.to_numpy().mean(0),
                                       rtol=0, atol=1e-15)
        else:  # given estimates are kept
            pd.testing.assert_series_equal(sep.estimates, sd.estimates)
        assert sep.separable(seed=3) is sep  # nothing left to separate
        rank_confidence_sets(sep, seed=0)  # now computable
    # without draws: the jitter's variance eps^2 / 3 goes on the diagonal
    sd = ScoreDraws.from_estimates([1.0, 2.0, 3.0], cov=np.ones((3, 3)))
    sep = sd.separable()
    np.testing.assert_allclose(np.diag(sep.cov - sd.cov), (1e-4) ** 2 / 3)
    assert "3 pairs" in sep.note and sep.zero_variance_pairs() == []


def test_separable_keeps_separable_draws():
    d, _, _ = _labelled_draws(2)
    sd = ScoreDraws.from_draws(d)
    assert sd.separable(seed=1) is sd


def test_subset():
    d, x, cov = _labelled_draws(3)
    # from estimates: the sub-vector and sub-matrix
    sd = ScoreDraws.from_estimates(pd.Series(x, index=list("abcdef")), cov=cov,
                                   assumption="given")
    sub = sd.subset(["e", "b", "c"])
    assert list(sub.units) == ["e", "b", "c"] and sub.assumption == "given"
    np.testing.assert_array_equal(sub.estimates.to_numpy(), x[[4, 1, 2]])
    np.testing.assert_array_equal(sub.cov, cov[np.ix_([4, 1, 2], [4, 1, 2])])
    # from draws: as if built from the selected columns
    full = ScoreDraws.from_draws(d)
    sub = full.subset(["e", "b", "c"])
    direct = ScoreDraws.from_draws(d[["e", "b", "c"]])
    pd.testing.assert_series_equal(sub.estimates, direct.estimates)
    np.testing.assert_array_equal(sub.cov, direct.cov)
    np.testing.assert_allclose(sub.cov, full.cov[np.ix_([4, 1, 2], [4, 1, 2])], rtol=1e-12)
    nominal = pd.Series(x, index=list("abcdef"))
    centred = ScoreDraws.from_draws(d, nominal).subset(["f", "a"])
    np.testing.assert_array_equal(centred.estimates.to_numpy(), x[[5, 0]])
    with pytest.raises(ValueError, match="unknown"):
        full.subset(["a", "zz"])
    with pytest.raises(ValueError, match="at least 2"):
        full.subset(["a"])
    with pytest.raises(ValueError, match="unique"):
        full.subset(["a", "a"])


def test_from_ranks_keeps_every_ordering():
    ranks = np.array([[1, 2, 3], [1, 3, 2], [1, 2, 3]], float)
    sd = ScoreDraws.from_ranks(ranks, ["A", "B", "C"], seed=0)
    assert list(sd.units) == ["A", "B", "C"] and sd.n_draws == 3
    assert sd.source == "uncertainty" and "descriptive" in sd.assumption
    # higher score = better rank in every draw; jitter within +-0.001
    S = sd.draws.to_numpy()
    np.testing.assert_array_equal(np.argsort(-S, axis=1), np.argsort(ranks, axis=1))
    assert np.abs(S + ranks).max() <= 1e-3
    # A's constant lead keeps a positive variance of the difference
    assert sd.zero_variance_pairs() == []
    assert (sd.draws["A"] - sd.draws["B"]).var() > 0


def test_score_draws_results_protocol():
    d, _, _ = _labelled_draws(4)
    sd = ScoreDraws.from_draws(d, source="measurement",
                               assumption="10 % multiplicative error, 300 draws")
    frame = sd.to_frame()
    assert list(frame.columns) == ["unit", "estimate", "se"] and len(frame) == 6
    np.testing.assert_allclose(frame["se"].to_numpy(), d.std(ddof=1).to_numpy(), rtol=1e-10)
    dd = json.loads(json.dumps(sd.to_dict()))
    assert dd["source"] == "measurement" and dd["n_draws"] == 300 and len(dd["table"]) == 6
    text = sd.summary().as_text()
    assert "10 % multiplicative error" in text and "measurement" in text
    assert "10 % multiplicative error" in sd.summary().as_html()
    r = repr(sd)
    assert r.startswith("<ScoreDraws") and "6 units" in r and len(r.splitlines()) <= 4


# ----------------------------------------------------------------------------------------------
# RankSets
# ----------------------------------------------------------------------------------------------
def test_rank_sets_table_equals_the_two_underlying_calls():
    x, cov = _problem(12, p=15, spread=1.0)
    sd = ScoreDraws.from_estimates(pd.Series(x, index=[f"u{i}" for i in range(15)]), cov=cov,
                                   assumption="normal estimates")
    rs = rank_sets(sd, alpha=0.1, n_boot=500, seed=3)
    assert isinstance(rs, RankSets)
    simul = rank_confidence_sets(sd, alpha=0.1, n_boot=500, seed=3)
    marg = rank_confidence_sets(sd, alpha=0.1, n_boot=500, seed=3, simultaneous=False)
    t = rs.to_frame()
    assert list(t.columns) == ["unit", "estimate", "se", "rank", "simultaneous_lower",
                               "simultaneous_upper", "marginal_lower", "marginal_upper"]
    pd.testing.assert_frame_equal(t[["unit", "estimate", "se", "rank"]],
                                  simul[["unit", "estimate", "se", "rank"]])
    np.testing.assert_array_equal(t["simultaneous_lower"], simul["lower"])
    np.testing.assert_array_equal(t["simultaneous_upper"], simul["upper"])
    np.testing.assert_array_equal(t["marginal_lower"], marg["lower"])
    np.testing.assert_array_equal(t["marginal_upper"], marg["upper"])
    assert rs.critical_values == simul.attrs["critical_values"] and rs.n_boot == 500
    assert rs.alpha == 0.1 and rs.assumption == "normal estimates" and rs.note == ""
    # marginal sets nest inside the simultaneous ones (same bootstrap draws), also when the
    # seed is a Generator (one bootstrap sample shared by both families)
    for seed in (3, np.random.default_rng(3)):
        t = rank_sets(sd, alpha=0.1, n_boot=500, seed=seed).table
        assert (t.marginal_lower >= t.simultaneous_lower).all()
        assert (t.marginal_upper <= t.simultaneous_upper).all()


def test_rank_sets_separates_tied_draws_and_carries_the_note():
    sd = ScoreDraws.from_draws(_tied_draws(), source="measurement", assumption="assumed")
    rs = rank_sets(sd, n_boot=200, seed=5)
    assert "jitter" in rs.note and rs.source == "measurement"
    ref = rank_confidence_sets(sd.separable(seed=5), n_boot=200, seed=5)
    np.testing.assert_array_equal(rs.table["simultaneous_lower"], ref["lower"])
    np.testing.assert_array_equal(rs.table["simultaneous_upper"], ref["upper"])
    # hand-worked: c (mean 10) is first, a and b (equal in every draw, mean 0) are never told
    # apart, d and e (independent N(-10, 1)) neither; every gap between groups is > 6 SDs
    sets = rs.table.set_index("unit")[["simultaneous_lower", "simultaneous_upper"]]
    assert sets.to_numpy().tolist() == [[2, 3], [2, 3], [1, 1], [4, 5], [4, 5]]


def test_rank_sets_summary_and_dict_are_serialisable():
    x, cov = _problem(13, p=12)
    sd = ScoreDraws.from_estimates(pd.Series(x, index=[f"c{i}" for i in range(12)]), cov=cov,
                                   source="measurement", assumption="5 % measurement error")
    rs = rank_sets(sd, alpha=0.05, n_boot=300, seed=0)
    d = json.loads(json.dumps(rs.to_dict()))
    assert d["alpha"] == 0.05 and d["n_boot"] == 300 and d["source"] == "measurement"
    assert len(d["table"]) == 12 and d["table"][0]["unit"] == "c0"
    w = rs.widths()
    assert d["median_width_simultaneous"] == pytest.approx(w["simultaneous"].median())
    text = rs.summary().as_text()
    assert "95%" in text and "5 % measurement error" in text and "Median width" in text
    widest = rs.table.assign(w=w["simultaneous"]).sort_values("w").iloc[-1]["unit"]
    assert widest in text
    html = rs.summary().as_html()
    assert "5 % measurement error" in html
    json.dumps(rs.summary().as_text())
    assert len(repr(rs).splitlines()) <= 4 and repr(rs).startswith("<RankSets")


# ----------------------------------------------------------------------------------------------
# coverage simulation (small; full size in benchmarks/bench_rank_coverage.py)
# ----------------------------------------------------------------------------------------------
N_REP = 200
# nominal 0.95 -> binomial SE over 200 replications sqrt(.95*.05/200) = 0.0154; a 3-SE
# one-sided tolerance gives a false-failure probability < 0.2% if coverage were exactly 95%.
TOL = 3 * np.sqrt(0.95 * 0.05 / N_REP)


@pytest.mark.slow
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
        sd = _est(est, se=se)
        sim = rank_confidence_sets(sd, seed=rep, n_boot=500)
        mar = rank_confidence_sets(sd, seed=rep, n_boot=500, simultaneous=False)
        kww = rank_confidence_sets_kww(sd)
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


@pytest.mark.parametrize("kind", ["two-sided", "upper", "lower"])
@pytest.mark.parametrize("stepdown", [True, False])
def test_compiled_marginal_stepdown_equals_the_array_version(kind, stepdown):
    """The compiled marginal-set kernel gives exactly the counts of the numpy implementation
    it replaced, with correlated estimates and near-ties."""
    from cityindex.validation.rank_inference.frequentist import (_boot_draws, _marginal_counts,
                                                                 _marginal_counts_numpy)

    rng = np.random.default_rng(7)
    p = 60
    theta = np.round(np.sort(rng.normal(size=p))[::-1] * 3, 1)   # some exact ties
    A = rng.normal(size=(p, p)) * 0.2
    sigma = A @ A.T / p + np.diag(rng.uniform(0.05, 0.6, p))
    z = _boot_draws(sigma, 400, 3, None)
    J = np.arange(p)
    got = _marginal_counts(theta, sigma, z, J, kind, 0.1, stepdown, 2**20)
    want = _marginal_counts_numpy(theta, sigma, z, J, kind, 0.1, stepdown, 2**20)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
