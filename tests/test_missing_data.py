"""Missing data, honestly (issue 13): the observation mask, observed-only statistics, EM
covariance, multiple imputation (predictive mean matching) with Rubin's rules, the per-indicator
measurement-error model, and the multiple-imputation factor of the uncertainty space."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cityindex as ci
from cityindex.model.availability import NOT_RANKED, observed_aggregated
from cityindex.model.em_covariance import cov_to_corr, em_covariance
from cityindex.model.errors import FrameworkError, MethodError
from cityindex.model.framework import Framework
from cityindex.model.measurement_error import BUILTIN_SE, error_model
from cityindex.model.method import MethodSpec
from cityindex.model.multiple_imputation import _pmm_chain, multiple_imputation, rubin
from cityindex.model.pipeline import compute_index
from cityindex.validation.measurement import measurement_score_draws, rubin_draws
from cityindex.validation.space import UncertaintySpace


@pytest.fixture(scope="module")
def brpci():
    return ci.compute("brpci")


@pytest.fixture(scope="module")
def gdci():
    return ci.compute("gdci")


# ------------------------------------------------------------------ the observation mask
@pytest.mark.parametrize("name", ["gdci", "brpci"])
def test_observation_mask_is_the_raw_data_before_imputation(name, request):
    r = request.getfixturevalue(name)
    inds = r.framework.indicators
    raw = r.data.values.loc[r.imputed.index, inds]
    pd.testing.assert_frame_equal(r.observed[inds], raw.notna())
    assert (~r.observed).to_numpy().sum() == r.n_imputed > 0
    # imputed cells are filled, observed ones untouched
    assert r.imputed[inds].notna().all().all()
    obs = r.observed[inds].to_numpy()
    np.testing.assert_array_equal(r.imputed[inds].to_numpy()[obs], raw.to_numpy()[obs])


def test_given_imputations_fill_only_missing_cells(brpci):
    mi = multiple_imputation(brpci, 3, seed=1)
    r = compute_index(brpci.framework, brpci.data, brpci.method, imputations=mi.frame(1))
    pd.testing.assert_frame_equal(r.observed, brpci.observed)
    inds = brpci.framework.indicators
    np.testing.assert_array_equal(r.imputed[inds].to_numpy(), mi.completed[1])
    assert not r.imputed[inds].equals(brpci.imputed[inds])


# ------------------------------------------------------------- observed-only statistics
def test_observed_aggregated_is_missing_exactly_where_not_observed(brpci):
    O = observed_aggregated(brpci)
    inds = brpci.framework.indicators
    pd.testing.assert_frame_equal(O[inds].isna(), ~brpci.observed[inds])
    # an aggregate is missing exactly where the unit observed none of its indicators
    av = brpci.availability
    for node in brpci.framework.aggregates:
        np.testing.assert_array_equal(O[node].isna().to_numpy(),
                                      ~av.rankable[node].to_numpy(), err_msg=node)
    # observed cells keep their normalised values
    obs = brpci.observed[inds].to_numpy()
    np.testing.assert_array_equal(O[inds].to_numpy()[obs], brpci.normalised[inds].to_numpy()[obs])


def test_coherence_claiming_observed_only_runs_on_the_masked_table(brpci, monkeypatch):
    import cityindex.model.em_covariance as emc

    seen = []
    real = emc.em_covariance

    def spy(X, *a, **k):
        seen.append(np.asarray(X, float).copy())
        return real(X, *a, **k)

    monkeypatch.setattr(emc, "em_covariance", spy)
    coh = ci.coherence(brpci)
    assert coh.observed_only and coh.imputed is not None
    fw, O = brpci.framework, observed_aggregated(brpci)
    # every α/KMO/PCA covariance was estimated on a table with NaN exactly where the observed
    # table has them (the imputed data have none)
    assert seen and all(np.isnan(X).any() for X in seen[:len(fw.aggregates)])
    kids = fw.children("POL")
    masks = [np.isnan(X) for X in seen if X.shape[1] == len(kids)]
    assert any(np.array_equal(m, O[kids].isna().to_numpy()) for m in masks)
    # correlations are pairwise on the observed cells: n = units observing both
    c = coh.correlations.set_index(["code", "other"])
    a, b = "twin_partners_crossborder", "ctry_bri_partner_by_2021"
    both = int((brpci.observed[a] & brpci.observed[b]).sum())
    assert c.loc[(a, b), "n"] == both < len(brpci.observed)
    assert coh.imputed.correlations.set_index(["code", "other"]).loc[(a, b), "n"] == 513


def test_brpci_observed_vs_imputed_coherence_flags(brpci):
    cmp = ci.coherence(brpci).comparison()
    alpha = cmp[cmp["statistic"] == "spearman_brown"].set_index("group")
    # measured on the bundled BRPCI: the Spearman-Brown reliability of POL (two children, so
    # no Cronbach's α) is negative on the imputed data and positive on the observed cells (the
    # imputed group medians break the correlation)
    assert alpha.at["POL", "imputed"] < 0 < alpha.at["POL", "observed"]
    assert "sign flip" in alpha.at["POL", "flag"]
    pair = cmp[(cmp["code"] == "twin_partners_crossborder")
               & (cmp["other"] == "ctry_bri_partner_by_2021")].iloc[0]
    assert np.sign(pair["observed"]) != np.sign(pair["imputed"]) and "sign flip" in pair["flag"]
    big = cmp["difference"].abs() > 0.1
    assert (cmp.loc[big, "flag"].str.contains("difference > 0.1")).all()
    assert not cmp.loc[~big & (cmp["flag"] != ""), "flag"].str.contains("difference").any()


def test_weight_audit_fits_pca_and_effective_weights_on_observed_cells(brpci, monkeypatch):
    from cityindex.model import weights as W

    fits = []
    real = W._FactorBase.fit

    def spy(self, X):
        fits.append((self.missing, pd.DataFrame(X).copy()))
        return real(self, X)

    monkeypatch.setattr(W._FactorBase, "fit", spy)
    wa = ci.weight_audit(brpci, loo=False, n_boot=0, bod=False)
    O = observed_aggregated(brpci)
    em = [X for how, X in fits if how == "em"]
    listwise = [X for how, X in fits if how == "listwise"]
    root_kids = brpci.framework.children("BRPCI")
    assert any(X.columns.tolist() == root_kids and X.isna().equals(O[root_kids].isna())
               and X.isna().any().any() for X in em)
    assert all(not X.isna().any().any() for X in listwise)  # the imputed-data beside them
    t = wa.table.set_index("code")
    assert {"pca_imputed", "fa_imputed", "S_share_imputed"} <= set(t.columns)
    # effective weights: the correlation ratio of an indicator uses only its observed units
    eff = wa.effective.table.set_index(["code", "target"])
    assert eff.loc[("ctry_chinese_migrant_stock_2020", "parent"), "n"] == int(
        brpci.observed["ctry_chinese_migrant_stock_2020"].sum())


def test_bayes_input_is_missing_exactly_where_the_raw_data_is(brpci):
    from cityindex.model.bayes import bayes_input

    X = bayes_input(brpci)
    raw = brpci.data.values.loc[X.index, brpci.framework.indicators]
    pd.testing.assert_frame_equal(X.isna(), raw.isna())
    # every imputed cell is missing again, but for Xinfu and Iskra's (no data: left out)
    assert X.isna().to_numpy().sum() == brpci.n_imputed - 2 * len(X.columns)
    assert {"XX-XINFU", "XX-ISKRA"}.isdisjoint(X.index)
    obs = X.notna().to_numpy()
    np.testing.assert_array_equal(X.to_numpy()[obs],
                                  brpci.treated.loc[X.index, X.columns].to_numpy()[obs])


def test_fit_bayes_passes_the_observed_input_to_the_model(brpci, monkeypatch):
    from cityindex.model.bayes import estimator

    got = {}

    class Stop(Exception):
        pass

    def fake_fit(self, X, framework):
        got["X"] = X
        raise Stop

    monkeypatch.setattr(estimator.LatentScoreModel, "fit", fake_fit)
    with pytest.raises(Stop):
        ci.bayes(brpci)
    raw = brpci.data.values.loc[got["X"].index, brpci.framework.indicators]
    pd.testing.assert_frame_equal(got["X"].isna(), raw.isna())


# ------------------------------------------------------------------------ EM covariance
def test_em_equals_the_ml_covariance_on_complete_data():
    rng = np.random.default_rng(0)
    X = rng.multivariate_normal([1, 2, 3], [[2, .5, .3], [.5, 1, .2], [.3, .2, 1.5]], 300)
    mu, S, info = em_covariance(X)
    np.testing.assert_allclose(mu, X.mean(0))
    np.testing.assert_allclose(S, np.cov(X, rowvar=False, ddof=0), atol=1e-12)
    assert info["n_complete"] == 300 and info["n_iter"] <= 2


def test_em_matches_the_closed_form_of_monotone_bivariate_data():
    """Anderson (1957) / Little & Rubin (2019, §7.2): y1 complete, y2 missing for some units;
    the ML estimates factor into the marginal of y1 (all units) and the regression of y2 on
    y1 (complete units)."""
    rng = np.random.default_rng(3)
    n = 400
    y1 = rng.normal(0, 1.5, n)
    y2 = 1 + 0.8 * y1 + rng.normal(0, 1, n)
    y2[rng.random(n) < 1 / (1 + np.exp(-y1))] = np.nan  # MAR on y1
    cc = ~np.isnan(y2)
    mu1, s11 = y1.mean(), y1.var()
    b = np.cov(y1[cc], y2[cc], ddof=0)[0, 1] / y1[cc].var()
    a = y2[cc].mean() - b * y1[cc].mean()
    s22_1 = np.mean((y2[cc] - a - b * y1[cc]) ** 2)
    mu2 = a + b * mu1
    expected = np.array([[s11, b * s11], [b * s11, s22_1 + b * b * s11]])
    mu, S, info = em_covariance(np.column_stack([y1, y2]), tol=1e-13, max_iter=5000)
    assert info["converged"]
    np.testing.assert_allclose(mu, [mu1, mu2], rtol=1e-6)
    np.testing.assert_allclose(S, expected, rtol=1e-6)
    R = cov_to_corr(S)
    assert np.allclose(np.diag(R), 1) and np.linalg.eigvalsh(S).min() > 0


# --------------------------------------------------------------------- Rubin's rules
def test_rubin_rules_hand_worked():
    p = rubin([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert p.estimate == pytest.approx(2.0) and p.between == pytest.approx(1.0)
    assert p.within == pytest.approx(1.0)
    assert p.total == pytest.approx(1 + 4 / 3)                    # W + (1 + 1/M) B
    assert p.df == pytest.approx(2 * (1 + 1 / (4 / 3)) ** 2)      # (M−1)(1 + 1/r)²
    assert p.fmi == pytest.approx((4 / 3) / (7 / 3))
    with pytest.raises(ValueError):
        rubin([1.0])


def test_rubin_draws_have_the_total_covariance():
    rng = np.random.default_rng(0)
    M, K, U = 5, 8, 4
    sets = np.repeat(np.arange(M), K)
    S = rng.normal(size=(M * K, U)) + rng.normal(size=(M, U))[sets] * 2
    T, adj = rubin_draws(S, sets)
    np.testing.assert_allclose(np.cov(adj, rowvar=False), T, atol=1e-10)
    means = np.stack([S[sets == k].mean(0) for k in range(M)])
    W = np.mean([np.cov(S[sets == k], rowvar=False) for k in range(M)], axis=0)
    np.testing.assert_allclose(T, W + (1 + 1 / M) * np.cov(means, rowvar=False))


# --------------------------------------------------- multiple imputation (pmm, chained)
def test_pmm_against_statsmodels_micedata():
    """Our predictive mean matching and statsmodels' MICEData (the reference implementation,
    k_pmm donors, Gaussian parameter perturbation) impute the same distribution: on bivariate
    normal data with y missing at random given x, the mean and SD of the imputed cells over
    many imputations agree within Monte Carlo error, and both recover the true conditional mean
    that a complete-case mean misses."""
    from statsmodels.imputation.mice import MICEData

    rng = np.random.default_rng(11)
    n = 300
    x = rng.normal(size=n)
    y = 2 + 1.5 * x + rng.normal(size=n)
    miss = rng.random(n) < 0.7 / (1 + np.exp(-x))
    Y = np.column_stack([x, np.where(miss, np.nan, y)])
    ours, theirs = [], []
    for k in range(40):
        C = _pmm_chain(Y, np.isfinite(Y), np.zeros((n, 0)), 5, 5, np.random.default_rng(k))
        ours.append(C[miss, 1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = MICEData(pd.DataFrame(Y, columns=["x", "y"]), k_pmm=5, rng=k)
            imp.update_all(5)
        theirs.append(imp.data["y"].to_numpy()[miss])
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    se = np.sqrt(ours.var() / 40 + theirs.var() / 40) * 3  # sets are correlated within: wide
    assert abs(ours.mean() - theirs.mean()) < se
    assert ours.std() == pytest.approx(theirs.std(), rel=0.1)
    truth = y[miss].mean()
    assert abs(ours.mean() - truth) < 0.5 * abs(np.nanmean(Y[:, 1]) - truth)
    assert np.isin(ours, y[~miss]).all()  # donors: observed values only


@pytest.mark.parametrize("name", ["gdci", "brpci"])
def test_multiple_imputation_keeps_observed_cells_and_observed_support(name, request):
    r = request.getfixturevalue(name)
    mi = multiple_imputation(r, 5, seed=2)
    assert mi is multiple_imputation(r, 5, seed=2)            # computed once, cached
    x = r.denominated.loc[mi.units, mi.indicators].to_numpy()
    obs = mi.observed.to_numpy()
    for k in range(mi.m):
        np.testing.assert_array_equal(mi.completed[k][obs], x[obs])
        assert np.isfinite(mi.completed[k]).all()
    for j, c in enumerate(mi.indicators):
        donors = set(x[obs[:, j], j])
        vals = mi.completed[:, ~obs[:, j], j].ravel()
        if c in mi.settings["censored_at_bound"]:
            assert (vals == r.imputed[c].to_numpy()[~obs[:, j]][0]).all()
        else:
            assert set(vals) <= donors, c
    # the M sets differ (imputation uncertainty) and a new seed gives new sets
    assert not np.array_equal(mi.completed[0], mi.completed[1])
    other = multiple_imputation(r, 5, seed=3)
    assert not np.array_equal(other.completed, mi.completed)
    cells = mi.imputed_cells()
    assert len(cells) == r.n_imputed and (cells["sd"] >= 0).all()


def test_multiple_imputation_iterative_method_bounded(brpci):
    mi = multiple_imputation(brpci, 2, seed=0, method="iterative", max_iter=2)
    x = brpci.denominated.loc[mi.units, mi.indicators]
    lo, hi = x.min().to_numpy(), x.max().to_numpy()
    assert ((mi.completed >= lo - 1e-9) & (mi.completed <= hi + 1e-9)).all()
    with pytest.raises(ValueError):
        multiple_imputation(brpci, 1)
    with pytest.raises(ValueError):
        multiple_imputation(brpci, 3, method="hotdeck")


def test_pooled_mean_covers_the_truth_by_rubins_rules():
    """A small calibration of the imputation + Rubin: the 95 % interval of a mean under MAR
    missingness (about 20 % missing) covers the true mean in about 95 % of 150 simulated data
    sets (predictive mean matching runs slightly below nominal in small samples: measured
    0.91)."""
    from scipy import stats

    hits = 0
    reps = 150
    for rep in range(reps):
        rng = np.random.default_rng([5, rep])
        n = 150
        x = rng.normal(size=n)
        y = 1 + x + rng.normal(size=n)
        Y = np.column_stack([x, np.where(rng.random(n) < 0.4 / (1 + np.exp(-0.5 * x)), np.nan,
                                         y)])
        est, var = [], []
        for k in range(10):
            C = _pmm_chain(Y, np.isfinite(Y), np.zeros((n, 0)), 5, 5,
                           np.random.default_rng([5, rep, k]))
            est.append(C[:, 1].mean())
            var.append(C[:, 1].var(ddof=1) / n)
        p = rubin(est, var)
        q = stats.t.ppf(0.975, p.df)
        hits += abs(p.estimate - 1.0) <= q * p.se
    assert 0.88 <= hits / reps <= 0.99


# ------------------------------------------------------------- measurement-error model
def test_error_model_precedence_and_statement(tmp_path):
    fw = Framework.from_dict({"nodes": [
        {"code": "I", "level": 2},
        {"code": "a", "parent": "I", "error": {"kind": "absolute", "se": 2.5}},
        {"code": "b", "parent": "I"}, {"code": "c", "parent": "I"}]})
    assert fw.nodes["a"].error == ("absolute", 2.5)
    assert fw.to_dict()["nodes"][1]["error"] == {"kind": "absolute", "se": 2.5}
    t = error_model(fw, MethodSpec()).table
    assert t.loc["a"].tolist() == ["absolute", 2.5, "framework"]
    assert t.loc["b"].tolist() == ["relative", BUILTIN_SE, "built-in assumption"]
    em = error_model(fw, MethodSpec.from_dict({"measurement_error": {
        "kind": "relative", "se": 0.05, "indicators": {"c": {"kind": "absolute", "se": 1}}}}))
    assert em.table.loc["b"].tolist() == ["relative", 0.05, "method default"]
    assert em.table.loc["c"].tolist() == ["absolute", 1.0, "method indicator"]
    assert "assumption" in error_model(fw, MethodSpec()).describe()
    assert error_model(fw, MethodSpec(), override=0.2).table["se"].eq(0.2).all()
    for bad in ({"kind": "wrong", "se": 1}, {"se": -1}, {"kind": "relative"}):
        with pytest.raises(FrameworkError):
            Framework.from_dict({"nodes": [{"code": "I", "level": 2},
                                           {"code": "a", "parent": "I", "error": bad}]})
    with pytest.raises(MethodError):
        MethodSpec.from_dict({"measurement_error": {"kind": "multiplicative"}})
    with pytest.raises(MethodError):
        MethodSpec.from_dict({"measurement_error": {"indicators": {"a": {"se": "x"}}}})


def test_error_model_perturbs_relative_and_absolute():
    fw = Framework.from_dict({"nodes": [
        {"code": "I", "level": 2},
        {"code": "a", "parent": "I", "error": {"kind": "absolute", "se": 2.0}},
        {"code": "b", "parent": "I", "error": {"kind": "relative", "se": 0.1}}]})
    em = error_model(fw, MethodSpec())
    v = pd.DataFrame({"a": np.full(20000, 50.0), "b": np.full(20000, 50.0),
                      "other": 1.0})
    v.iloc[:10, 1] = np.nan
    out = em.perturb(v, np.random.default_rng(0))
    assert out["a"].std() == pytest.approx(2.0, rel=0.03)
    assert out["b"].std() == pytest.approx(5.0, rel=0.03)
    assert out["b"].iloc[:10].isna().all() and (out["other"] == 1.0).all()
    zero = em.perturb(pd.DataFrame({"a": [0.0], "b": [0.0]}), np.random.default_rng(1))
    assert zero.at[0, "b"] == 0.0 and zero.at[0, "a"] != 0.0   # relative error keeps zeros


def test_measurement_draws_state_the_model_and_draw_imputed_cells(brpci):
    S = measurement_score_draws(brpci, draws=20, seed=0)
    assert "built-in assumption" in S.assumption and "imputation" in S.assumption
    assert {"XX-XINFU", "XX-ISKRA"}.isdisjoint(S.units)
    assert "not ranked" in S.assumption
    fixed = measurement_score_draws(brpci, draws=20, seed=0, imputation=False)
    st = brpci.availability.share["BRPCI"].reindex(S.units)
    low, full = st <= 0.5, st >= 0.99
    # imputed cells drawn from their imputation distribution widen mostly-imputed units' SEs
    ratio = S.se / fixed.se
    assert ratio[low].median() > 1.5 * ratio[full].median()
    pooled = measurement_score_draws(brpci, draws=20, seed=0, m=5)
    assert "M = 5 completed data sets per draw, cycled" in pooled.assumption
    # covariance about the nominal scores: the draws' covariance (divisor D) plus the outer
    # product of their mean's offset from the nominal scores
    X = pooled.draws.to_numpy()
    nominal = brpci.index_scores.reindex(pooled.units).to_numpy()
    b = X.mean(axis=0) - nominal
    expected = np.cov(X, rowvar=False, ddof=0) + np.outer(b, b)
    np.testing.assert_allclose(pooled.cov, expected, atol=1e-12 * np.abs(expected).max())
    assert np.abs(b).max() > 0      # the draws are not centred on the nominal scores
    assert pooled.note.startswith("score covariance measured about the nominal scores")
    with pytest.raises(ValueError):
        measurement_score_draws(brpci, draws=6, seed=0, m=5)


# ------------------------------------------------------------------ the space factor
def test_space_multiple_imputation_factor(brpci):
    fw, method = brpci.framework, brpci.method
    sp = UncertaintySpace.from_dict({"assumptions": {
        "imp": {"multiple_imputation": {"m": 4}}}}, fw, method)
    a = sp["imp"]
    assert a.kind == "multiple_imputation" and a.n_levels == 4 and a.pre_aggregation
    assert a.label(0) == "completed set 1"
    with pytest.raises(MethodError, match="one way of filling"):
        UncertaintySpace.from_dict({"assumptions": {
            "imp": {"multiple_imputation": {"m": 4}},
            "old": {"path": "imputation", "values": [{"method": "median"}]}}}, fw, method)
    for bad in ({"m": 1}, {"m": 3, "k": 1}, {"method": "mean"}):
        with pytest.raises(MethodError):
            UncertaintySpace.from_dict({"assumptions": {"imp": {"multiple_imputation": bad}}},
                                       fw, method)
    default = ci.load_space(None, brpci)
    assert default["imputation"].kind == "multiple_imputation"


def test_mostly_imputed_units_get_wider_bands_with_multiple_imputation(brpci):
    """The imputation factor alone: units with ≤ 50 % of their indicators observed get wider
    bands than units with ≥ 90 % observed (and the not-ranked ones none)."""
    sp = UncertaintySpace.from_dict({"assumptions": {
        "imp": {"multiple_imputation": {"m": 10}}}}, brpci.framework, brpci.method)
    ua = ci.uncertainty(brpci, sp, n=200, seed=0)
    rs = ua.rank_stats
    share = brpci.availability.share["BRPCI"].reindex(rs.index)
    ranked = rs["status"] != NOT_RANKED
    assert rs.loc[~ranked].index.tolist() == ["XX-XINFU", "XX-ISKRA"] or set(
        rs.loc[~ranked].index) == {"XX-XINFU", "XX-ISKRA"}
    assert rs.loc[~ranked, ["median", "q5", "q95", "width"]].isna().all().all()
    low = rs.loc[ranked & (share <= 0.5), "width"].median()
    full = rs.loc[ranked & (share >= 0.9), "width"].median()
    assert low > full > 0


def test_batched_draws_equal_the_pipeline_draw_by_draw(brpci):
    """The measurement draws run the pre-aggregation stages in one batch with the completed
    sets filling the missing cells (model.batch.normalise_many(completed=)) and aggregate as
    arrays; each draw equals compute_index on the perturbed data with that completed set."""
    from cityindex.model.batch import normalise_many
    from cityindex.model.data import IndicatorData
    from cityindex.validation.measurement import _index_draws

    model = error_model(brpci.framework, brpci.method)
    mi = multiple_imputation(brpci, 3, seed=4)
    sets = np.array([2, 0, 1])
    fast = _index_draws(brpci, model, sets, mi, 9)
    inds = brpci.framework.indicators
    raw0 = brpci.data.values[inds].to_numpy(float)
    Z = normalise_many(brpci, np.stack([raw0] * 3), completed=mi.completed)
    for d in range(3):
        raw = model.perturb_array(raw0, np.random.default_rng([9, 0xE77, d]), inds)
        data = IndicatorData(pd.DataFrame(raw, index=brpci.data.values.index, columns=inds),
                             brpci.data.meta, "perturbed", "")
        slow = compute_index(brpci.framework, data, brpci.method,
                             imputations=mi.frame(int(sets[d])))
        np.testing.assert_allclose(fast.iloc[d].to_numpy(),
                                   slow.aggregated["BRPCI"].reindex(fast.columns).to_numpy(),
                                   rtol=1e-12, atol=1e-12)
        plain = compute_index(brpci.framework, brpci.data, brpci.method,
                              imputations=mi.frame(d))
        np.testing.assert_allclose(Z[d], plain.normalised[inds].to_numpy(), rtol=1e-12,
                                   atol=1e-12)
