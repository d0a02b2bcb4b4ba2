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


def test_cronbach_alpha_per_pillar_matches_pingouin(fw, agg, norm):
    top, items = cronbach_table(fw, agg)
    top = top.set_index("group")
    for p in PILLARS:
        kids = fw.children(p)
        expected, _ = pingouin.cronbach_alpha(norm[kids])
        assert top.loc[p, "alpha"] == pytest.approx(expected, abs=1e-10), p
    # aggregates too (pingouin on the pillar scores)
    for p in ("Conn", "Sust", "Index"):
        expected, _ = pingouin.cronbach_alpha(agg[fw.children(p)])
        assert top.loc[p, "alpha"] == pytest.approx(expected, abs=1e-10)
    # alpha if item deleted
    kids = fw.children("Physical")
    it = items[items["group"] == "Physical"].set_index("code")
    for k in kids:
        expected, _ = pingouin.cronbach_alpha(norm[[c for c in kids if c != k]])
        assert it.loc[k, "alpha_if_deleted"] == pytest.approx(expected, abs=1e-10)


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
