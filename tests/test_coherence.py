"""Coherence checks against independent computations.

Oracles: pingouin.cronbach_alpha, scipy.stats.pearsonr/spearmanr, numpy.linalg.eigh of
numpy.corrcoef, factor_analyzer.calculate_kmo / calculate_bartlett_sphericity. Data: COINr's ASEM
normalised indicators and aggregates (tests/data/coinr_asem, COINr 1.1.14).
"""


import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from cityindex.model.errors import DataError
from cityindex.model.framework import Framework, Node
from cityindex.validation.coherence import (coherence_tables, correlations, cronbach_alpha, cronbach_table,
                                  data_availability, kmo_bartlett, kmo_table, pca_table)

from conftest import read_asem as _read  # fixtures fw, agg: tests/conftest.py


@pytest.fixture(scope="module")
def norm():
    return _read("asem_normalised.csv")


PILLARS = ["Physical", "ConEcFin", "Political", "Instit", "P2P", "Environ", "Social", "SusEcFin"]


def _z(df):
    """Items standardised to mean 0, SD 1 (the oracle of standardised α: pingouin's raw α
    of z-scores)."""
    return (df - df.mean()) / df.std(ddof=1)


def test_cronbach_alpha_per_pillar_matches_pingouin(fw, agg, norm):
    top, items = cronbach_table(fw, agg)
    top = top.set_index("group")
    for p in PILLARS:
        kids = fw.children(p)
        if len(kids) < 3:
            continue
        expected, _ = pingouin.cronbach_alpha(_z(norm[kids]))
        assert top.loc[p, "alpha"] == pytest.approx(expected, abs=1e-10), p
        assert top.loc[p, "statistic"] == "standardised alpha"
    # aggregates too (pingouin on the pillar scores); 2-child groups get Spearman-Brown only
    for p in ("Conn", "Sust", "Index"):
        kids = fw.children(p)
        if len(kids) >= 3:
            expected, _ = pingouin.cronbach_alpha(_z(agg[kids]))
            assert top.loc[p, "alpha"] == pytest.approx(expected, abs=1e-10)
        else:
            r = stats.pearsonr(agg[kids[0]], agg[kids[1]])[0]
            assert np.isnan(top.loc[p, "alpha"])
            assert top.loc[p, "mean_r"] == pytest.approx(r, abs=1e-12)
            assert top.loc[p, "spearman_brown"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    # alpha if item deleted (standardised)
    kids = fw.children("Physical")
    it = items[items["group"] == "Physical"].set_index("code")
    for k in kids:
        expected, _ = pingouin.cronbach_alpha(_z(norm[[c for c in kids if c != k]]))
        assert it.loc[k, "alpha_if_deleted"] == pytest.approx(expected, abs=1e-10)


def test_standardised_alpha_by_hand():
    """Three items with correlations 0.5, 0.3, 0.4 (any variances): r̄ = 0.4,
    α_std = 3·0.4 / (1 + 2·0.4) = 1.2 / 1.8 = 2/3; raw α of the same covariance differs."""
    from cityindex.validation.coherence import (cronbach_alpha_cov, cronbach_alpha_std,
                                                mean_inter_item_r)

    R = np.array([[1, .5, .3], [.5, 1, .4], [.3, .4, 1]])
    sd = np.array([1.0, 10.0, 0.1])
    S = R * np.outer(sd, sd)
    assert mean_inter_item_r(S) == pytest.approx(0.4, abs=1e-15)
    assert cronbach_alpha_std(S) == pytest.approx(2 / 3, abs=1e-15)
    assert cronbach_alpha_std(R) == pytest.approx(2 / 3, abs=1e-15)
    assert abs(cronbach_alpha_cov(S) - 2 / 3) > 0.1   # unstandardised α is another figure


def test_spearman_brown_formula():
    from cityindex.validation.coherence import spearman_brown

    assert spearman_brown(0.5) == pytest.approx(2 / 3, abs=1e-15)      # 2·0.5 / 1.5
    assert spearman_brown(0.6, k=3) == pytest.approx(1.8 / 2.2, abs=1e-15)
    assert spearman_brown(0.0) == 0.0
    assert spearman_brown(1.0) == 1.0
    assert np.isnan(spearman_brown(np.nan))


def test_two_item_group_has_no_alpha():
    rng = np.random.default_rng(5)
    f = rng.normal(size=200)
    X = pd.DataFrame({"a": f + rng.normal(size=200), "b": 3 * f + rng.normal(size=200) * 3,
                      "c": f + rng.normal(size=200)})
    fw = Framework([Node("I", "I", None, 3), Node("P", "P", "I", 2), Node("Q", "Q", "I", 2),
                    Node("a", "a", "P", 1), Node("b", "b", "P", 1), Node("c", "c", "Q", 1)])
    agg = X.assign(P=X[["a", "b"]].mean(axis=1), Q=X["c"], I=X.mean(axis=1))
    top, _ = cronbach_table(fw, agg)
    row = top.set_index("group").loc["P"]
    r = np.corrcoef(X["a"], X["b"])[0, 1]
    assert np.isnan(row["alpha"]) and row["statistic"].startswith("Spearman-Brown")
    assert row["spearman_brown"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert row["low"] == bool(2 * r / (1 + r) < 0.7)


def test_holm_and_bh_match_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from cityindex.validation.coherence import adjust_pvalues

    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 0.02, 8), rng.uniform(0, 1, 30), [0.01, 0.01, 1.0]])
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        expected = multipletests(p, method=theirs)[1]
        np.testing.assert_allclose(adjust_pvalues(p, ours), expected, rtol=0, atol=1e-15)
    q = p.copy()
    q[[3, 17]] = np.nan
    expected = multipletests(q[np.isfinite(q)], method="holm")[1]
    got = adjust_pvalues(q, "holm")
    assert np.isnan(got[[3, 17]]).all()
    np.testing.assert_allclose(got[np.isfinite(q)], expected, atol=1e-15)
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError, match="holm"):
        adjust_pvalues(p, "bonf")


def test_correlation_significance_is_adjusted(fw, agg):
    from statsmodels.stats.multitest import multipletests

    c = correlations(fw, agg)
    expected = multipletests(c["p_pearson"], method="holm")[1]
    np.testing.assert_allclose(c["p_adjusted"], expected, atol=1e-15)
    assert (c["significant"] == (expected < 0.05)).all()
    raw_sig = (c["p_pearson"] < 0.05).sum()
    assert c["significant"].sum() <= raw_sig
    bh = correlations(fw, agg, p_adjust="bh")
    assert bh["significant"].sum() >= c["significant"].sum()   # BH is less strict than Holm


def test_cronbach_listwise_with_missing():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(40, 4)) + rng.normal(size=(40, 1)), columns=list("abcd"))
    X.iloc[[1, 5, 9], [0, 2, 3]] = np.nan
    expected, _ = pingouin.cronbach_alpha(X, nan_policy="listwise")
    assert cronbach_alpha(X) == pytest.approx(expected, abs=1e-10)


def test_correlations_match_scipy(fw, agg, norm):
    corr = correlations(fw, agg)
    # each indicator with its pillar and with the index
    for code in ["LPI", "Ship", "TBTs", "Forest", "NEET"]:
        parent = fw.parent(code)
        row = corr[(corr.code == code) & (corr.relation == "parent")].iloc[0]
        r, p = stats.pearsonr(norm[code], agg[parent])
        rs, ps = stats.spearmanr(norm[code], agg[parent])
        assert row.other == parent
        assert row.pearson == pytest.approx(r, abs=1e-12)
        assert row.p_pearson == pytest.approx(p, rel=1e-8, abs=1e-300)
        assert row.spearman == pytest.approx(rs, abs=1e-12)
        assert row.p_spearman == pytest.approx(ps, rel=1e-8, abs=1e-300)
        row = corr[(corr.code == code) & (corr.relation == "index")].iloc[0]
        assert row.pearson == pytest.approx(stats.pearsonr(norm[code], agg["Index"])[0], abs=1e-12)
    # siblings inside each pillar
    for p in PILLARS:
        kids = fw.children(p)
        sub = corr[(corr.relation == "sibling") & (corr.group == p)]
        assert len(sub) == len(kids) * (len(kids) - 1) // 2
        for row in sub.itertuples():
            assert row.pearson == pytest.approx(stats.pearsonr(norm[row.code], norm[row.other])[0],
                                                abs=1e-12)
            assert row.spearman == pytest.approx(
                stats.spearmanr(norm[row.code], norm[row.other])[0], abs=1e-12)


def test_correlations_pairwise_missing_and_flags():
    rng = np.random.default_rng(0)
    n = 60
    f = rng.normal(size=n)
    a = f + 0.05 * rng.normal(size=n)
    b = f + 0.05 * rng.normal(size=n)          # redundant with a
    c = -f + 0.5 * rng.normal(size=n)          # negative with a, b
    d = 0.1 * rng.normal(size=n)               # weak with the parent
    e = f + rng.normal(size=n)
    df = pd.DataFrame(dict(a=a, b=b, c=c, d=d, e=e))
    df.loc[[0, 1, 2], "d"] = np.nan
    df["P"] = df[["a", "b", "c", "d", "e"]].mean(axis=1, skipna=True)
    df["Q"] = df["e"]
    df["I"] = df[["P", "Q"]].mean(axis=1)
    nodes = [Node(c, parent="P") for c in "abcd"] + [Node("e", parent="Q"),
             Node("P", parent="I", level=2), Node("Q", parent="I", level=2), Node("I", level=3)]
    fw = Framework(nodes)
    corr = correlations(fw, df)
    sib = corr[corr.relation == "sibling"].set_index(["code", "other"])
    assert "redundant" in sib.loc[("a", "b"), "flags"]
    assert "negative" in sib.loc[("a", "c"), "flags"]
    row = corr[(corr.code == "d") & (corr.relation == "parent")].iloc[0]
    assert row.n == n - 3
    ok = df["d"].notna()
    assert row.pearson == pytest.approx(stats.pearsonr(df.d[ok], df.P[ok])[0], abs=1e-12)
    assert "weak_parent" in row["flags"]
    with pytest.raises(DataError):
        correlations(fw, df.drop(columns="e"))


def test_pca_explained_variance_matches_eigh(fw, agg, norm):
    top, comps = pca_table(fw, agg)
    for p in PILLARS:
        kids = fw.children(p)
        ev = np.linalg.eigh(np.corrcoef(norm[kids].to_numpy(), rowvar=False))[0][::-1]
        got = comps[comps.group == p].sort_values("component")
        np.testing.assert_allclose(got["eigenvalue"], ev, atol=1e-10)
        np.testing.assert_allclose(got["ratio"], ev / ev.sum(), atol=1e-12)
        row = top.set_index("group").loc[p]
        assert row.n_kaiser == int((ev > 1).sum())
        assert row.pc1_ratio == pytest.approx(ev[0] / len(kids))


def test_kmo_bartlett_match_factor_analyzer(fw, agg, norm):
    from factor_analyzer.factor_analyzer import calculate_bartlett_sphericity, calculate_kmo

    top, items = kmo_table(fw, agg)
    top = top.set_index("group")
    for p in PILLARS:
        kids = fw.children(p)
        msa, kmo = calculate_kmo(norm[kids].to_numpy())
        chi2, pval = calculate_bartlett_sphericity(norm[kids].to_numpy())
        assert top.loc[p, "kmo"] == pytest.approx(kmo, abs=1e-8)
        assert top.loc[p, "bartlett_chi2"] == pytest.approx(chi2, rel=1e-8)
        assert top.loc[p, "bartlett_p"] == pytest.approx(pval, rel=1e-6, abs=1e-300)
        np.testing.assert_allclose(items[items.group == p]["msa"], msa, atol=1e-8)
    assert np.isnan(kmo_bartlett(np.ones((10, 1)))["kmo"])


def test_availability_on_raw(fw):
    raw = _read("asem_raw.csv")
    per_ind, per_unit = data_availability(fw, raw)
    assert per_ind["n_available"].sum() == raw[fw.indicators].notna().sum().sum()
    assert (per_ind.set_index("code")["availability"]
            == raw[fw.indicators].notna().mean()).all()
    assert len(per_unit) == 51
    assert per_unit["availability"].between(0, 1).all()
    assert "avail_Physical" in per_unit


def test_coherence_bundle(fw, agg):
    c = coherence_tables(fw, agg)
    g = c.per_group()
    assert list(g["group"]) == fw.aggregates
    assert len(c.flags) > 0 and (c.flags["flags"] != "").all()
    assert "pairwise" in c.settings["missing"]
