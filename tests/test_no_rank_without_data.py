"""No rank without data (issue 13): a unit with no observed indicator under a node is never
ranked there — in compute, uncertainty, sensitivity, ranks, bayes, audit and profile outputs —
and is listed with the reason; every output states how many units are ranked, flagged and not
ranked. Xinfu and Iskra (no observed indicator in the bundled panel) are the real cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cityindex as ci
from cityindex.cli import app
from cityindex.model.availability import FLAGGED, NOT_RANKED, RANKED
from cityindex.model.framework import Framework
from cityindex.model.pipeline import compute_index
from cityindex.validation.space import UncertaintySpace

NO_DATA = ["XX-XINFU", "XX-ISKRA"]
runner = CliRunner()


def invoke(*args):
    res = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module", params=["gdci", "brpci"])
def result(request):
    return ci.compute(request.param)


# --------------------------------------------------------------------------- compute
def test_result_never_ranks_a_unit_without_data(result):
    av = result.availability
    assert set(av.not_ranked()["unit"]) == set(NO_DATA)
    assert result.ranks.loc[NO_DATA].isna().all().all()
    assert result.scores.loc[NO_DATA].isna().all().all()
    # at every node: no rank exactly where the unit observed no indicator under it
    pd.testing.assert_frame_equal(result.ranks.isna(), ~av.rankable.reindex_like(result.ranks))
    # the others are ranked among themselves: ranks 1..k (ties share the lowest)
    r = result.index_ranks.dropna()
    assert r.min() == 1 and r.max() <= len(r) == len(result.index_ranks) - 2
    t = result.results_table().set_index("unit")
    assert (t.loc[NO_DATA, "status"] == NOT_RANKED).all()
    assert t.loc[NO_DATA].filter(like="_rank").isna().all().all()
    d = result.to_dict()["ranking"]
    assert d["n_not_ranked"] == 2 and d["n_ranked"] == 511
    assert {x["unit"] for x in d["not_ranked"]} == set(NO_DATA)
    assert "not ranked" in result.summary().as_text() and "XX-XINFU" in result.summary().as_text()


def test_flag_threshold_is_a_method_key():
    r = ci.compute("brpci")
    assert r.availability.counts()["n_flagged"] == 101
    strict = ci.compute("brpci", method={**r.method.to_dict(), "availability": {"flag_below": 0.9}})
    c = strict.availability.counts()
    assert c["n_flagged"] == int(((strict.availability.share["BRPCI"] < 0.9)
                                  & (strict.availability.share["BRPCI"] > 0)).sum()) > 101
    assert c["n_not_ranked"] == 2 and c["n_ranked"] == 511
    with pytest.raises(ci.CityIndexError):
        ci.compute("brpci", method={"availability": {"flag_below": 1.5}})
    st = r.availability.unit_status()
    assert set(st.unique()) == {RANKED, FLAGGED, NOT_RANKED}


def test_compute_cli_lists_units_not_ranked(tmp_path):
    out = invoke("compute", "-f", "brpci", "-o", tmp_path / "c")
    assert "XX-XINFU" in out and "not ranked" in out
    scores = pd.read_csv(tmp_path / "c" / "scores.csv", keep_default_na=False,
                         na_values=[""]).set_index("unit")
    assert scores.loc[NO_DATA].filter(like="_rank").isna().all().all()
    assert (scores.loc[NO_DATA, "status"] == NOT_RANKED).all()
    nr = pd.read_csv(tmp_path / "c" / "not_ranked.csv")
    assert set(nr.loc[nr["node"] == "BRPCI", "unit"]) == set(NO_DATA)
    assert nr["reason"].str.contains("no observed indicator").all()
    man = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert man["units"]["n_not_ranked"] == 2


# ----------------------------------------------------------------- synthetic property
def _synthetic(seed: int):
    rng = np.random.default_rng(seed)
    fw = Framework.from_dict({"nodes": [
        {"code": "I", "level": 3}, {"code": "A", "parent": "I", "level": 2},
        {"code": "B", "parent": "I", "level": 2},
        *[{"code": f"a{k}", "parent": "A"} for k in range(3)],
        *[{"code": f"b{k}", "parent": "B"} for k in range(2)]]})
    X = pd.DataFrame(rng.gamma(2, 3, (40, 5)), columns=[n for n in fw.indicators],
                     index=[f"U{k:02d}" for k in range(40)])
    X = X.mask(rng.random(X.shape) < 0.35)
    X.iloc[0] = np.nan                      # no data at all
    X.iloc[1, :3] = np.nan                  # no data under A
    return fw, X


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_rank_without_data_in_compute_and_every_replication(seed):
    fw, X = _synthetic(seed)
    r = compute_index(fw, X, {"imputation": {"method": "median"}})
    obs = X.notna()
    for node in fw.aggregates:
        none = ~obs[fw.indicators_under(node)].any(axis=1)
        assert r.ranks[node].isna().equals(none), node
    sp = UncertaintySpace.from_dict({"assumptions": {
        "imp": {"multiple_imputation": {"m": 3}},
        "drop": {"leave_one_out": {"level": 1}},
        "w": {"noise": {"levels": [1, 2], "factor": 0.2, "n_sets": 20}}}}, fw, r.method)
    ua = ci.uncertainty(r, sp, n=200, seed=seed, nodes=True)
    R = pd.DataFrame(ua.ranks, columns=ua.units)
    drop = ua.levels[:, sp.names.index("drop")]
    for u in X.index:
        for lv, code in enumerate(sp["drop"].values):
            kept = [c for c in fw.indicators if c != code]
            rows = drop == lv
            if not rows.any():
                continue
            has = bool(obs.loc[u, kept].any())
            assert R.loc[rows, u].notna().all() == has, (u, code)
            assert R.loc[rows, u].isna().all() == (not has), (u, code)
    st = ua.rank_stats
    assert st.loc["U00", ["nominal", "mean", "median", "q5", "q95", "width"]].isna().all()
    assert st.at["U00", "n_valid"] == 0 and st.at["U00", "status"] == NOT_RANKED
    assert ua.node_stats["A"].loc[["U00", "U01"], "median"].isna().all()


def test_leave_one_out_of_a_units_only_indicator_leaves_it_unranked(result):
    if result.framework.root != "GDCI":
        pytest.skip("GDCI has units with a single observed indicator")
    av = result.availability
    one = av.n_observed["GDCI"]
    unit = one[one == 1].index[0]
    only = result.observed.loc[unit][result.observed.loc[unit]].index[0]
    sp = UncertaintySpace.from_dict({"assumptions": {"drop": {"leave_one_out": {"level": 1}}}},
                                    result.framework, result.method)
    ua = ci.uncertainty(result, sp, n=240, seed=0)
    R = pd.DataFrame(ua.ranks, columns=ua.units)
    dropped = np.array(sp["drop"].values)[ua.levels[:, 0]] == only
    assert R.loc[dropped, unit].isna().all() and R.loc[~dropped, unit].notna().all()
    assert ua.rank_stats.at[unit, "n_valid"] == (~dropped).sum()
    assert np.isfinite(ua.rank_stats.at[unit, "width"])


# ----------------------------------------------------------------- analyses and CLI
def test_uncertainty_and_sensitivity_outputs(tmp_path):
    out = invoke("uncertainty", "-f", "brpci", "--n", "60", "-o", tmp_path / "u")
    assert "not ranked" in out and "XX-XINFU" in out
    rs = pd.read_csv(tmp_path / "u" / "rank_stats.csv", keep_default_na=False,
                     na_values=[""]).set_index("unit")
    assert rs.loc[NO_DATA, ["nominal", "median", "q5", "q95"]].isna().all().all()
    assert (rs.loc[NO_DATA, "status"] == NOT_RANKED).all()
    summ = json.loads((tmp_path / "u" / "summary.json").read_text())
    assert summ["n_not_ranked"] == 2 and summ["n_ranked"] == 511 and summ["n_flagged"] == 101
    r = ci.compute("brpci")
    sp = UncertaintySpace.from_dict({"assumptions": {
        "imp": {"multiple_imputation": {"m": 4}},
        "norm": {"path": "normalisation", "values": [{"method": "minmax"},
                                                     {"method": "rank"}]}}},
        r.framework, r.method)
    sa = ci.sensitivity(r, sp, n=16, n_boot=10)
    assert set(NO_DATA) <= set(sa.excluded) and set(NO_DATA).isdisjoint(sa.table["output"])


def test_ranks_cli_leaves_units_without_data_out_of_the_sets(tmp_path):
    out = invoke("ranks", "-f", "brpci", "--draws", "20", "--n", "40", "-o", tmp_path / "r")
    assert "Not ranked (2)" in out
    t = pd.read_csv(tmp_path / "r" / "rank_sets.csv", keep_default_na=False,
                    na_values=[""]).set_index("unit")
    assert (t.loc[NO_DATA, "status"] == NOT_RANKED).all()
    assert t.loc[NO_DATA, ["simultaneous_lower", "simultaneous_upper", "marginal_lower",
                           "marginal_upper", "nominal_rank"]].isna().all().all()
    assert t.drop(NO_DATA)["simultaneous_lower"].notna().all()
    man = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert {x["unit"] for x in man["not_ranked"]} == set(NO_DATA)
    assert "measurement error" in man["assumption"] and "assumption" in man["assumption"]
    pairs = pd.read_csv(tmp_path / "r" / "pairwise.csv")
    assert set(NO_DATA).isdisjoint(set(pairs.iloc[:, 0]) | set(pairs.iloc[:, 1]))


@pytest.mark.slow
def test_bayes_cli_fits_observed_cells_and_ranks_no_unit_without_data(tmp_path):
    invoke("bayes", "-f", "brpci", "--quick", "-o", tmp_path / "b")
    pr = pd.read_csv(tmp_path / "b" / "posterior_ranks.csv", keep_default_na=False,
                     na_values=[""]).set_index("unit")
    assert (pr.loc[NO_DATA, "status"] == NOT_RANKED).all()
    assert pr.loc[NO_DATA, ["rank_median", "rank_lo", "rank_hi"]].isna().all().all()
    assert pr.drop(NO_DATA)["rank_median"].notna().all()
    assert pr.drop(NO_DATA)["rank_median"].max() <= 511
    nr = pd.read_csv(tmp_path / "b" / "not_ranked.csv")
    assert set(nr["unit"]) == set(NO_DATA)
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["units"]["n_not_ranked"] == 2 and "observed" in man["fitted_on"]


@pytest.mark.slow
def test_audit_and_report_list_units_not_ranked(tmp_path):
    from cityindex.report.html import write_report

    r = ci.compute("brpci")
    a = ci.audit(r, quick=True, n_ua=100, n_sa=16, rank_draws=20, profiles=["Xinfu"])
    ia = a["BRPCI"]
    rk = ia.rankings().set_index("unit")
    assert rk.loc[NO_DATA, ["rank", "score", "ua_median", "ua_q5", "ua_q95"]].isna().all().all()
    assert (rk.loc[NO_DATA, "status"] == NOT_RANKED).all()
    assert rk.loc[NO_DATA, "reason"].str.contains("no observed indicator").all()
    rs = ia.rank_set_table().set_index("unit")
    assert set(NO_DATA).isdisjoint(rs.index) and len(rs) == 511
    assert set(ia.rank_sets.not_ranked["unit"]) == set(NO_DATA)
    h = ia.headline()
    assert h["n_not_ranked"] == 2 and set(h["not_ranked"]) == set(NO_DATA)
    bw = ia.band_width_by_availability().set_index("availability_class")
    assert bw.loc["≤ 50%", "median_band_width"] > bw.loc["≥ 90%", "median_band_width"]
    (p,) = a.profiles["BRPCI"]
    assert p.status == NOT_RANKED and p.levels["rank"].isna().all()
    assert p.neighbours.empty and any("Not ranked" in n for n in p.notes)
    write_report(a, tmp_path)
    html = (tmp_path / "index.html").read_text()
    assert "Missing data and ranking" in html and "no observed indicator under BRPCI" in html
    nr = pd.read_csv(tmp_path / "tables" / "BRPCI_not_ranked.csv")
    assert set(nr["unit"]) == set(NO_DATA)
    xl = pd.read_excel(tmp_path / "tables.xlsx", sheet_name="BRPCI_rankings").set_index("unit")
    assert xl.loc[NO_DATA, "rank"].isna().all()
    assert (xl.loc[NO_DATA, "status"] == NOT_RANKED).all()
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["indices"]["BRPCI"]["headline"]["n_not_ranked"] == 2


def test_profile_cli_of_a_unit_without_data():
    out = invoke("profile", "Xinfu", "-f", "brpci", "--n", "30")
    assert "not ranked: no data" in out and "Not ranked" in out
    head = out.splitlines()[0]
    assert "XX-XINFU" in head and "[not ranked: no data]" in head
