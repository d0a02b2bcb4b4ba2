"""Year-on-year moves with bands from paired replications (issue 17): invariants of the paired
design, the classification, the published-arrow agreement, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cityindex.model import Framework, MethodSpec, bundled
from cityindex.model.errors import DataError
from cityindex.model.temporal import compute_panel, panel_from_table
from cityindex.validation.compare.years import compare_years
from cityindex.validation.space import UncertaintySpace

SPACE = {"assumptions": {
    "normalisation": {"path": "normalisation", "values": [
        {"method": "minmax", "range": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2},
        {"method": "rank"}]},
    "aggregation": {"path": "aggregation.method", "values": ["arithmetic", "geometric"]},
    "weights": {"noise": {"levels": [1], "factor": 0.5, "n_sets": 200}}}}


def _fw():
    return Framework.from_dict({"index": "IDX", "nodes": [
        {"code": "IDX", "level": 2}, {"code": "x", "level": 1, "parent": "IDX"},
        {"code": "y", "level": 1, "parent": "IDX"}, {"code": "z", "level": 1, "parent": "IDX"}]})


def _panel(change: dict | None = None, n_units: int = 30, seed: int = 1):
    """Two years of 30 units × 3 indicators; year 2021 = 2020 except ``change``
    ({unit: factor on every indicator})."""
    rng = np.random.default_rng(seed)
    X = rng.lognormal(2.0, 0.6, size=(n_units, 3))
    rows = []
    for year in (2020, 2021):
        for i in range(n_units):
            u = f"U{i:02d}"
            f = (change or {}).get(u, 1.0) if year == 2021 else 1.0
            rows.append([u, str(year), *(str(v * f) for v in X[i])])
    return panel_from_table(pd.DataFrame(rows, columns=["unit", "year", "x", "y", "z"]))


def _compare(panel, n=300, reference="year", **kw):
    fw, spec = _fw(), MethodSpec.from_dict({"panel": {"reference": reference}})
    res = compute_panel(fw, panel, spec, [2020, 2021])
    space = UncertaintySpace.from_dict(SPACE, fw, spec)
    return compare_years(res[2020], res[2021], space, n=n, seed=3, **kw), res


def test_unchanged_data_gives_zero_change_in_every_draw():
    yc, _ = _compare(_panel())
    t = yc.table
    assert (t["change"] == 0).all() and (t["band_lo"] == 0).all() and (t["band_hi"] == 0).all()
    assert yc.figures["n_up"] == yc.figures["n_down"] == 0
    assert (t["classification"] == "within band").all() and (t["arrow"] == "same").all()


@pytest.mark.parametrize("reference", ["year", "panel"])
def test_a_unit_that_triples_everything_is_a_real_rise(reference):
    yc, res = _compare(_panel({"U05": 3.0}), reference=reference)
    r = yc.table.loc["U05"]
    assert r["rank_b"] < r["rank_a"] and r["classification"] == "up" and r["band_lo"] > 0
    assert r["change"] == res[2020].index_ranks["U05"] - res[2021].index_ranks["U05"]
    assert r["p_up"] > 0.95
    others = yc.table.drop("U05")
    if reference == "panel":
        # one reference range over both years: every other unit keeps its scores in every
        # draw, so it can only be passed by U05 (0 or 1 place down), never rise
        assert (others["band_hi"] <= 0).all() and (others["band_lo"] >= -1).all()
    else:
        # per-year normalisation: U05's new maximum rescales the others, some rise in a draw
        assert (others["band_hi"] > 0).any()


def test_paired_band_is_narrower_than_unpaired_bands():
    """Pairing: a small real change (×1.15 on every indicator) is detected by the paired
    band, though each year's own 5–95 % rank band is wider than the move."""
    from cityindex.validation.uncertainty import uncertainty_analysis

    panel = _panel({"U10": 1.15})
    yc, res = _compare(panel, n=400)
    fw, spec = _fw(), MethodSpec()
    space = UncertaintySpace.from_dict(SPACE, fw, spec)
    ua = uncertainty_analysis(res[2020], space, n=400, seed=3)
    own = ua.rank_stats.loc["U10"]
    lo_col, hi_col = [c for c in ua.rank_stats.columns if c.startswith("q")][:2]
    paired = yc.table.loc["U10", "band_hi"] - yc.table.loc["U10", "band_lo"]
    assert paired < own[hi_col] - own[lo_col]


def test_published_agreement_counts():
    yc, _ = _compare(_panel({"U05": 3.0, "U07": 0.3}))
    t = yc.table
    pub = pd.DataFrame({"code": ["U05", "U07", "U01", "U02"], "rank": [1, 2, 3, 4],
                        "rank_change": ["up", "up", "new", "same"]})
    yc2, _ = _compare(_panel({"U05": 3.0, "U07": 0.3}), published=pub)
    f = yc2.figures
    # U05 up (agrees), U07 down (published up: disagrees), U02 (same data: same, agrees),
    # U01 "new" in the published table: not in both lists
    assert t.loc["U05", "arrow"] == "up" and t.loc["U07", "arrow"] == "down"
    expect_u02 = t.loc["U02", "arrow"] == "same"
    assert f["n_published_both"] == 3
    assert f["n_agree"] == 1 + int(expect_u02)
    assert yc2.table.loc["U07", "arrow_published"] == "up"
    conf = yc2.confusion()
    assert conf.at["up", "up"] == 1 and conf.at["down", "up"] == 1
    assert int(conf.to_numpy().sum()) == 3
    assert int(np.trace(conf.to_numpy())) == f["n_agree"]


def test_cli_compare_years(tmp_path):
    from typer.testing import CliRunner

    from cityindex.cli import app

    out = tmp_path / "y"
    r = CliRunner().invoke(app, ["compare", "--year-a", "2020", "--year-b", "2021", "--n",
                                 "50", "-o", str(out)])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out / "years.csv", keep_default_na=False, na_values=[""])
    for col in ("rank_a", "rank_b", "change", "band_lo", "band_hi", "classification",
                "arrow", "arrow_published"):
        assert col in t
    assert set(t["classification"]) <= {"up", "down", "within band", "not ranked"}
    s = json.loads((out / "summary.json").read_text())
    assert s["n_published_both"] == 98 and (out / "moves.png").exists()
    r = CliRunner().invoke(app, ["compare", "--year-a", "2020", "-o", str(tmp_path / "z")])
    assert r.exit_code == 2 and "go together" in r.output


def test_year_b_must_exist():
    with pytest.raises(DataError, match="no year 2030"):
        _panel().for_year(2030, _fw())
    assert bundled.panel_long_path().exists()


def test_audit_years_stage_history_rankings_and_profile(tmp_path):
    from cityindex.auditing import AuditSettings, audit
    from cityindex.model import compute_index
    from cityindex.model.temporal import read_panel

    fw = Framework.load(bundled.framework_path("gdci"))
    spec = MethodSpec.load(bundled.default_method_for("gdci"))
    panel = read_panel(bundled.panel_long_path(), meta=bundled.panel_meta())
    res = compute_index(fw, panel.for_year(2021, fw, spec), spec)
    s = AuditSettings(quick=True, bayes=False, light=True, n_ua=40, n_sa=8,
                      profiles=["CN-SHANGHAI"])
    out = audit(res, settings=s, panel=panel, years=(2020, 2021))
    a = out.indices["GDCI"]
    assert a.status["years"].ok and a.years.n == 40
    h = a.history
    assert sorted(h["year"].unique()) == [2018, 2019, 2020, 2021]
    # the 2021 trajectory point is the audited result itself
    h21 = h[h["year"] == 2021].set_index("unit")["rank"]
    pd.testing.assert_series_equal(h21.reindex(res.index_ranks.index), res.index_ranks,
                                   check_names=False)
    assert ((h["q5"] <= h["median"]) & (h["median"] <= h["q95"]))[h["q5"].notna()].all()
    t = a.rankings()
    assert {"arrow", "arrow_published", "move_2020_2021", "rank_2020"} <= set(t.columns)
    prof = out.profiles["GDCI"][0]
    assert prof.trajectory is not None and prof.trajectory["year"].tolist() == [2018, 2019,
                                                                              2020, 2021]
    # the report's section: moves figure, arrows, agreement, trajectories, tables
    from cityindex.report.html import write_report

    write_report(out, tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "Year-on-year moves 2020 → 2021" in page and "published arrows of 2021" in page
    for name in ("gdci_year_moves.svg", "gdci_trajectories.svg"):
        assert (tmp_path / "figures" / name).exists(), page[page.find("Year figures"):][:300]
    assert (tmp_path / "tables" / "GDCI_years_2020_2021.csv").exists()
    assert (tmp_path / "tables" / "GDCI_history.csv").exists()
    # without a panel the audit has no year stage
    out0 = audit(res, settings=AuditSettings(quick=True, bayes=False, light=True, n_ua=40,
                                             n_sa=8))
    assert out0.indices["GDCI"].years is None and "years" not in out0.indices["GDCI"].status
