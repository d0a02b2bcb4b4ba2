"""Panel data (issue 17): the bundled multi-year panel, reading data with years, temporal
imputation (hand-worked series), panel-wide normalisation (an invariant)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cityindex.model import Framework, MethodSpec, bundled, compute_index, read_data
from cityindex.model.errors import DataError, MethodError
from cityindex.model.temporal import (compute_panel, panel_from_table, read_panel,
                                      temporal_impute)

NAN = np.nan
READ = dict(keep_default_na=False, na_values=[""])


def _series(rows: dict, years) -> pd.DataFrame:
    """(unit, year) × ['x'] from {unit: [values per year]}."""
    idx = pd.MultiIndex.from_product([list(rows), list(years)], names=["unit", "year"])
    return pd.DataFrame({"x": np.concatenate([np.asarray(v, float) for v in rows.values()])},
                        index=idx)


# ------------------------------------------------------------------ temporal imputation
def test_linear_interpolation_exact_and_edges_carried():
    v = _series({"A": [1, NAN, NAN, 7, NAN], "B": [NAN, 2, NAN, 4, NAN]},
                [2018, 2019, 2020, 2021, 2022])
    f, st = temporal_impute(v, "linear", "both")
    # hand-worked: A 1 → 7 over three years: 3, 5; after 2021 the last value carried
    assert f.loc["A", "x"].tolist() == [1, 3, 5, 7, 7]
    assert st.loc["A", "x"].tolist() == ["observed", "interpolated", "interpolated",
                                         "observed", "carried_forward"]
    # B: 2018 carried back from 2019, 2020 = (2 + 4) / 2, 2022 carried forward
    assert f.loc["B", "x"].tolist() == [2, 2, 3, 4, 4]
    assert st.loc["B", "x"].tolist() == ["carried_backward", "observed", "interpolated",
                                         "observed", "carried_forward"]


def test_unequal_spacing_previous_nearest_and_forward_only():
    v = _series({"A": [0, NAN, NAN, 10]}, [2010, 2012, 2013, 2015])
    f, _ = temporal_impute(v, "linear", "none")
    assert f.loc["A", "x"].tolist() == pytest.approx([0, 4, 6, 10])  # 10·2/5, 10·3/5
    f, st = temporal_impute(v, "previous", "none")
    assert f.loc["A", "x"].tolist() == [0, 0, 0, 10]
    assert st.loc["A", "x"].tolist()[1] == "carried_previous"
    f, _ = temporal_impute(v, "nearest", "none")  # 2012 nearer 2010, 2013 nearer 2015
    assert f.loc["A", "x"].tolist() == [0, 0, 10, 10]
    w = _series({"A": [NAN, 5, NAN]}, [2019, 2020, 2021])
    f, st = temporal_impute(w, "linear", "forward")
    assert np.isnan(f.loc[("A", 2019), "x"]) and f.loc[("A", 2021), "x"] == 5
    assert st.loc[("A", 2019), "x"] == "missing"


def test_single_observation_is_carried_and_says_so():
    v = _series({"A": [NAN, 5, NAN, NAN], "B": [1, 2, 3, 4]}, [2018, 2019, 2020, 2021])
    f, st = temporal_impute(v)
    assert f.loc["A", "x"].tolist() == [5, 5, 5, 5]
    assert st.loc["A", "x"].tolist() == ["carried_single", "observed", "carried_single",
                                         "carried_single"]


def test_no_leakage_between_units():
    years = [2018, 2019, 2020, 2021]
    base = {"A": [1, NAN, NAN, 4], "B": [NAN, NAN, NAN, NAN], "C": [10, NAN, 30, NAN]}
    f1, st1 = temporal_impute(_series(base, years))
    # a unit without any observation stays missing (never filled from other units)
    assert f1.loc["B", "x"].isna().all() and (st1.loc["B", "x"] == "missing").all()
    # changing every other unit's data leaves a unit's filled series unchanged
    other = {"A": [100, NAN, -5, 4e6], "B": [7, NAN, NAN, NAN], "C": [10, NAN, 30, NAN]}
    f2, _ = temporal_impute(_series(other, years))
    assert f2.loc["C", "x"].tolist() == f1.loc["C", "x"].tolist() == [10, 20, 30, 30]


def test_bad_options_and_duplicates():
    v = _series({"A": [1, 2]}, [2020, 2021])
    with pytest.raises(MethodError, match="interpolation"):
        temporal_impute(v, "spline")
    with pytest.raises(MethodError, match="carry"):
        temporal_impute(v, "linear", "backward")
    with pytest.raises(MethodError, match="panel"):
        MethodSpec.from_dict({"panel": {"reference": "global"}})
    t = pd.DataFrame({"unit": ["A", "A"], "year": ["2020", "2020"], "x": ["1", "2"]})
    with pytest.raises(DataError, match="appears twice"):
        panel_from_table(t)
    t = pd.DataFrame({"unit": ["A"], "year": ["2020.5"], "x": ["1"]})
    with pytest.raises(DataError, match="not an integer"):
        panel_from_table(t)


# ------------------------------------------------------------- panel-wide normalisation
def _fw():
    return Framework.from_dict({"index": "IDX", "nodes": [
        {"code": "IDX", "level": 2}, {"code": "x", "level": 1, "parent": "IDX"},
        {"code": "y", "level": 1, "parent": "IDX"}]})


def _panel_table():
    """Unit U has the same data in both years; every other unit changes (the maxima too)."""
    rows = [("U", 2020, 5, 5), ("V", 2020, 0, 10), ("W", 2020, 10, 0), ("Z", 2020, 2, 3),
            ("U", 2021, 5, 5), ("V", 2021, 1, 20), ("W", 2021, 30, 1), ("Z", 2021, 0, 0)]
    return pd.DataFrame([[u, str(y), str(a), str(b)] for u, y, a, b in rows],
                        columns=["unit", "year", "x", "y"])


def test_panel_reference_keeps_an_unchanged_unit_at_its_score():
    fw, panel = _fw(), panel_from_table(_panel_table())
    pooled = compute_panel(fw, panel, MethodSpec.from_dict({"panel": {"reference": "panel"}}))
    s20, s21 = (pooled[y].index_scores["U"] for y in (2020, 2021))
    assert s20 == pytest.approx(s21, abs=1e-12)
    # hand-worked: one min-max range over both years: x [0, 30], y [0, 20]
    assert s20 == pytest.approx((5 / 30 * 100 + 5 / 20 * 100) / 2)
    # per-year normalisation (the default) moves U's score although U did not change
    per_year = compute_panel(fw, panel, MethodSpec())
    assert per_year[2020].index_scores["U"] != pytest.approx(per_year[2021].index_scores["U"])
    # ranks stay within each year
    assert sorted(pooled[2021].index_ranks.tolist()) == [1, 2, 3, 4]


# ------------------------------------------------------------------ the bundled panel
@pytest.fixture(scope="module")
def gdci():
    fw = Framework.load(bundled.framework_path("gdci"))
    return fw, MethodSpec.load(bundled.default_method_for("gdci"))


def test_bundled_panel_years_and_2021_equals_the_wide_panel(gdci):
    fw, spec = gdci
    long = pd.read_csv(bundled.panel_long_path(), **READ)
    assert sorted(long["year"].unique()) == [2018, 2019, 2020, 2021]
    assert set(long["status"]) == {"observed", "carried", "missing"}
    assert long["value"].isna().equals(long["status"] == "missing")
    wide = pd.read_csv(bundled.panel_path(), **READ).set_index("code")
    y21 = long[long["year"] == 2021].pivot(index="code", columns="indicator", values="value")
    y21 = y21.reindex(index=wide.index, columns=wide.columns[4:])
    pd.testing.assert_frame_equal(y21, wide[y21.columns].astype(float), check_names=False)
    # the 2021 index from the long panel is the default single-year index
    a = compute_index(fw, read_data(bundled.panel_path(), fw), spec)
    b = compute_index(fw, read_data(bundled.panel_long_path(), fw, year=2021, method=spec,
                                    meta=bundled.panel_meta()), spec)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert b.data.year == 2021 and b.data.status.shape == (513, len(fw.indicators))
    # years differ where the sources carry years (unicorns joined by year)
    y20 = long[(long["year"] == 2020) & (long["indicator"] == "unicorns")].set_index("code")
    y20 = y20[y20["value"].notna()]
    assert (y20["value"] <= wide["unicorns"].reindex(y20.index)).all()
    assert (y20["value"] < wide["unicorns"].reindex(y20.index)).sum() > 50


def test_read_data_year_errors(gdci, tmp_path):
    fw, spec = gdci
    with pytest.raises(DataError, match="choose one with --year"):
        read_data(bundled.panel_long_path(), fw)
    with pytest.raises(DataError, match="no year 2030"):
        read_data(bundled.panel_long_path(), fw, year=2030)
    with pytest.raises(DataError, match="no 'year' column"):
        read_data(bundled.panel_path(), fw, year=2021)


def test_unit_year_rows_layout_reads_like_tidy(gdci, tmp_path):
    fw, spec = gdci
    pan = read_panel(bundled.panel_long_path(), meta=bundled.panel_meta())
    rows = pan.values.reset_index().rename(columns={"unit": "code"})
    rows = rows[rows["year"].isin([2020, 2021])]
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    d = read_data(path, fw, year=2020, method=spec)
    t = read_data(bundled.panel_long_path(), fw, year=2020, method=spec,
                  meta=bundled.panel_meta())
    pd.testing.assert_frame_equal(d.values[fw.indicators], t.values[fw.indicators])


def test_panel_reference_matches_coinr_purse_case_b10():
    """COINr commit 3aaf4393 (Normalise.purse: panel-wide min-max with direction −1):
    unemployment 2020 [5, 10, 15], 2021 [4, 8, 20] → one range [4, 20] over both years,
    normalised (20 − x) / 16 · 100 = [93.75, 62.5, 31.25] and [100, 75, 0] (hand-worked, as
    tests/test_engine_cases.py::test_b10_panel_through_compute_index_by_stacking_years)."""
    fw = Framework.from_dict({"index": "IDX", "nodes": [
        {"code": "IDX", "level": 2},
        {"code": "unemp", "level": 1, "parent": "IDX", "direction": -1},
        {"code": "other", "level": 1, "parent": "IDX"}]})
    rows = [(u, y, x, o) for (y, xs, os_) in ((2020, [5, 10, 15], [1, 2, 3]),
                                               (2021, [4, 8, 20], [4, 5, 6]))
            for u, x, o in zip("ABC", xs, os_)]
    panel = panel_from_table(pd.DataFrame([[u, str(y), str(x), str(o)] for u, y, x, o in rows],
                                          columns=["unit", "year", "unemp", "other"]))
    spec = MethodSpec.from_dict({"panel": {"reference": "panel"},
                                 "normalisation": {"method": "minmax", "range": [0, 100]}})
    res = compute_panel(fw, panel, spec)
    np.testing.assert_allclose(res[2020].normalised["unemp"], [93.75, 62.5, 31.25], atol=1e-12)
    np.testing.assert_allclose(res[2021].normalised["unemp"], [100.0, 75.0, 0.0], atol=1e-12)
    # per-year reference: each year its own range ([5, 15] and [4, 20])
    own = compute_panel(fw, panel, MethodSpec.from_dict(
        {"normalisation": {"method": "minmax", "range": [0, 100]}}))
    np.testing.assert_allclose(own[2020].normalised["unemp"], [100.0, 50.0, 0.0], atol=1e-12)


def test_compute_index_on_a_panel_year_pools_under_the_panel_reference(gdci):
    fw, _ = gdci
    spec = MethodSpec.load(bundled.data_dir() / "methods" / "gdci_panel.yaml")
    assert spec.stages["panel"]["reference"] == "panel"
    d20 = read_data(bundled.panel_long_path(), fw, year=2020, method=spec,
                    meta=bundled.panel_meta())
    one = compute_index(fw, d20, spec)
    allyears = compute_panel(fw, d20.panel, spec)
    pd.testing.assert_frame_equal(one.scores, allyears[2020].scores)
    # one treatment for all years: the same treatment table in every year
    pd.testing.assert_frame_equal(allyears[2018].treatment, allyears[2021].treatment)
    # and it differs from the year's own computation
    own = compute_index(fw, d20, spec.replace("panel.reference", "year"))
    assert not np.allclose(own.index_scores.fillna(0), one.index_scores.fillna(0))


def test_user_panel_temporal_then_cross_sectional_fallback(tmp_path):
    """A tidy user file with gaps: linear interpolation inside a unit's series (flagged), and
    with interpolation and carrying switched off the year's cross-sectional imputation (here
    the mean of the other units) fills the cell instead."""
    fw = _fw()
    rows = []
    for u, xs in {"A": [1, "", 3], "B": [2, 4, 6], "C": [5, 5, 5], "D": ["", "", 9]}.items():
        for y, x in zip((2019, 2020, 2021), xs):
            rows += [(u, y, "x", x), (u, y, "y", {"A": 1, "B": 2, "C": 3, "D": 4}[u] + y - 2019)]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"]).to_csv(path, index=False)
    d = read_data(path, fw, year=2020)
    assert d.values.at["A", "x"] == 2.0 and d.status.at["A", "x"] == "interpolated"
    assert d.values.at["D", "x"] == 9.0 and d.status.at["D", "x"] == "carried_single"
    assert d.status.at["B", "x"] == "observed"
    spec = MethodSpec.from_dict({"panel": {"interpolation": "none", "carry": "none"},
                                 "imputation": {"method": "mean"}})
    d0 = read_data(path, fw, year=2020, method=spec)
    assert np.isnan(d0.values.at["A", "x"]) and d0.status.at["A", "x"] == "missing"
    r = compute_index(fw, d0, spec)
    assert r.imputed.at["A", "x"] == pytest.approx((4 + 5) / 2)  # B and C in 2020
    assert not r.observed.at["A", "x"]


def test_data_checks_of_a_panel_year_look_at_every_year(tmp_path):
    """validate --year on panel data runs the jump check over the panel's years (issue 19's
    check wired to issue 17's reader): a unit whose value jumps tenfold in one year is named
    with that year; steady series are not; no value is changed."""
    from cityindex.model.datachecks import check_data

    fw = _fw()
    rng = np.random.default_rng(4)
    rows = []
    for i in range(12):
        base = 10 + i
        for k, y in enumerate((2018, 2019, 2020, 2021)):
            x = base + k * 0.3 + rng.normal(0, 0.05)
            if i == 5 and y == 2020:
                x = base * 10
            rows += [(f"U{i}", y, "x", round(x, 3)), (f"U{i}", y, "y", 20 + i + k)]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"]).to_csv(path, index=False)
    d = read_data(path, fw, year=2021)
    before = d.values.copy()
    found = check_data(d, fw)
    jumps = found[found["check"] == "jump"]
    assert set(jumps["unit"]) == {"U5"} and set(jumps["indicator"]) == {"x"}
    assert jumps["detail"].str.contains("2020").any()
    pd.testing.assert_frame_equal(d.values, before)
