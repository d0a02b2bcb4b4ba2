"""One-at-a-time scenarios and the distribution of rank shifts (issue 18).

Oracles: each scenario is recomputed independently through the full pipeline
(``compute_index`` with the alternative written into the method, or the indicator removed from
the framework) and compared with scipy's Spearman ρ; the rank-shift shares against a
hand-worked example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from cityindex.model import MethodSpec, compute_index
from cityindex.model.aggregate import rank_desc
from cityindex.validation.engine import prepare
from cityindex.validation.rank_shifts import rank_shift_distribution
from cityindex.validation.scenarios import one_at_a_time, spearman_rows
from cityindex.validation.space import UncertaintySpace
from cityindex.validation.weight_audit import remove_node

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem():
    import cityindex as ci

    return ci.compute(str(ASEM / "asem_imeta.csv"), str(ASEM / "asem_idata.csv"),
                      method="asem")


def _row(t, assumption, alternative):
    r = t[(t["assumption"] == assumption) & (t["alternative"] == alternative)]
    assert len(r) == 1, (assumption, alternative, t[["assumption", "alternative"]])
    return r.iloc[0]


def _check(row, scores, nominal):
    """The scenario row against scores recomputed through the pipeline (units without a
    score — no observed data, never ranked — left out of both)."""
    nominal = nominal.to_numpy()
    ok = np.isfinite(scores) & np.isfinite(nominal)
    rho = spearmanr(scores[ok], nominal[ok]).statistic
    shift = np.abs(rank_desc(scores) - rank_desc(nominal))[ok]
    assert row["spearman"] == pytest.approx(rho, abs=1e-12)
    assert row["mean_abs_shift"] == pytest.approx(shift.mean(), abs=1e-12)
    assert row["max_abs_shift"] == pytest.approx(shift.max(), abs=1e-12)


def test_spearman_rows_matches_scipy():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(5, 40))
    S[2, :10] = S[2, 10:20]                       # ties
    y = rng.normal(size=40)
    y[:5] = y[5]
    got = spearman_rows(S, y)
    want = [spearmanr(s, y).statistic for s in S]
    np.testing.assert_allclose(got, want, atol=1e-12)
    S[3, 4] = np.nan                              # a missing score: units scored in both
    ok = ~np.isnan(S[3])
    assert spearman_rows(S, y)[3] == pytest.approx(spearmanr(S[3, ok], y[ok]).statistic,
                                                   abs=1e-12)


def test_asem_scenarios_against_pipeline_runs(asem):
    """COINr's ASEM vignette space: every alternative applied alone equals a pipeline run with
    that alternative written into the method."""
    space = UncertaintySpace.load(ROOT / "data" / "spaces" / "coinr_asem.yaml",
                                  asem.framework, asem.method)
    p = prepare(asem, space, seed=0)
    sc = one_at_a_time(p, asem)
    t = sc.table
    nominal = asem.index_scores
    assert sc.figures["nominal_max_abs_diff"] < 1e-9
    assert set(t["assumption"]) == {"baseline", "winmax", "normalisation", "weights",
                                    "aggregation"}
    # the nominal normalisation (min-max [0, 100]) is not in the space: the other
    # pre-aggregation scenarios keep it at its first alternative, [1, 100] (baseline row)
    base = _row(t, "baseline", "normalisation = minmax (range: [1, 100])")
    assert base["spearman"] == pytest.approx(1.0) and base["mean_abs_shift"] == 0
    # winmax: the nominal (5) is among the values -> 4 alternatives
    assert (t["assumption"] == "winmax").sum() == 4
    m1 = asem.method.replace("normalisation", {"method": "minmax", "range": [1, 100]})
    for wm in (1, 3):
        spec = m1.replace("treatment.winmax", wm)
        _check(_row(t, "winmax", str(wm)), compute_index(asem.framework, asem.data, spec)
               .index_scores.to_numpy(), nominal)
    # normalisation: nominal minmax [0, 100] is not among [1, 100] and z-score: both rows
    spec = asem.method.replace("normalisation", {"method": "zscore", "mean": 10, "sd": 2})
    _check(_row(t, "normalisation", "zscore (mean: 10, sd: 2)"),
           compute_index(asem.framework, asem.data, spec).index_scores.to_numpy(), nominal)
    # aggregation: geometric needs positive values; the space's other levels keep the
    # normalisation at its first alternative, [1, 100], and the note says so
    row = _row(t, "aggregation", "geometric")
    spec = (asem.method.replace("normalisation", {"method": "minmax", "range": [1, 100]})
            .replace("aggregation.method", "geometric"))
    _check(row, compute_index(asem.framework, asem.data, spec).index_scores.to_numpy(),
           nominal)
    assert "baseline" in row["note"]
    # weight noise: one row summarising the 100 pre-drawn sets
    w = _row(t, "weights", "100 weight sets")
    assert w["kind"] == "draws" and w["n"] == 100
    assert w["spearman_q5"] <= w["spearman"] <= w["spearman_q95"] <= 1


def test_leave_one_out_and_weight_sets_against_pipeline(asem):
    """Leaving an indicator out (weight 0) equals removing it from the framework; a weight set
    equals the method with those weights."""
    fw = asem.framework
    space = UncertaintySpace.from_dict({"assumptions": {
        "drop": {"leave_one_out": {"level": 1}},
        "ws": {"weight_sets": {"nominal": {}, "equal": "equal", "conn2": {"Conn": 2}}}}},
        fw, asem.method)
    sc = one_at_a_time(prepare(asem, space, seed=0), asem)
    t = sc.table
    assert (t["assumption"] == "drop").sum() == len(fw.indicators)
    for code in ("LPI", "Flights", "CO2"):
        fw2 = remove_node(fw, code)
        s = compute_index(fw2, asem.data, asem.method.restricted_to(fw2)).index_scores
        _check(_row(t, "drop", f"without {code}"), s.reindex(asem.index_scores.index)
               .to_numpy(), asem.index_scores)
    spec = MethodSpec.from_dict({**asem.method.to_dict(), "weights": {"Conn": 2.0}})
    _check(_row(t, "ws", "conn2"), compute_index(fw, asem.data, spec).index_scores.to_numpy(),
           asem.index_scores)
    assert (t["assumption"] == "ws").sum() == 2      # "nominal" is the nominal level


def _single_imputation_space(r):
    """The bundled default space with the three fixed single imputations it had before it
    switched to multiple imputation (issue 13): scenarios of a path alternative."""
    import yaml

    from cityindex.model import bundled
    from cityindex.validation.space import UncertaintySpace

    spec = yaml.safe_load(bundled.space_path().read_text())
    spec["assumptions"]["imputation"] = {"path": "imputation", "values": [
        {"method": "group_median", "group": "subregion", "fallback": "median"},
        {"method": "group_mean", "group": "subregion", "fallback": "mean"},
        {"method": "median"}]}
    return UncertaintySpace.from_dict(spec, r.framework, r.method)


def test_default_space_multiple_imputation_scenario():
    """With the bundled default space (multiple imputation) the imputation scenario is the
    spread over the M completed data sets, and the other pre-aggregation scenarios keep the
    first completed set, stated in the baseline."""
    import cityindex as ci

    r = ci.compute("brpci")
    p = prepare(r, "default")
    sc = one_at_a_time(p, r)
    t = sc.table
    imp = t[t["assumption"] == "imputation"]
    assert len(imp) == 1 and imp["kind"].iloc[0] == "draws"
    assert imp["n"].iloc[0] == p.space["imputation"].n_levels
    assert imp["mean_abs_shift"].iloc[0] > 0
    assert "completed set 1" in sc.baseline["imputation"]
    assert t["spearman"].dropna().between(-1, 1).all()


def test_gdci_default_space_baseline_row():
    """GDCI's nominal normalisation (min-max on [0, 100]) is not in the default space: the
    scenarios of imputation and treatment keep it at [1, 100], stated in a baseline row whose
    ranking equals the nominal one (an affine change under an arithmetic mean)."""
    import cityindex as ci

    r = ci.compute("gdci")
    sc = one_at_a_time(prepare(r, _single_imputation_space(r)), r)
    t = sc.table
    base = t[t["kind"] == "baseline"]
    assert len(base) == 1 and "normalisation" in base["alternative"].iloc[0]
    assert base["spearman"].iloc[0] == pytest.approx(1.0)
    assert base["mean_abs_shift"].iloc[0] == 0
    assert "first alternative" in sc.baseline["normalisation"]
    row = _row(t, "imputation", "median")
    spec = r.method.replace("imputation", {"method": "median"})
    _check(row, compute_index(r.framework, r.data, spec).index_scores.to_numpy(),
           r.index_scores)
    assert (t["assumption"] == "drop_indicator").sum() == len(r.framework.indicators)
    assert t["spearman"].between(-1, 1).all()


def test_rank_shift_distribution_hand_worked():
    # 4 units, 3 replications; nominal ranks 1..4
    R = np.array([[1, 2, 3, 4],
                  [2, 1, 4, 3],
                  [1, 6, 3, 20]], float)
    nominal = np.array([1, 2, 3, 4], float)
    d = rank_shift_distribution(R, nominal, ["a", "b", "c", "d"])
    # medians: a 1, b 2, c 3, d 4 -> all shifts 0
    assert d.shares["median_within_3"] == 1.0
    # all 12 shifts: 0,0,0,0, 1,1,1,1, 0,4,0,16 -> within 3: 10/12, within 10: 11/12
    assert d.shares["all_within_3"] == pytest.approx(10 / 12)
    assert d.shares["all_within_10"] == pytest.approx(11 / 12)
    tab = d.table.set_index("shift")
    assert tab.loc["0", "replications"] == pytest.approx(6 / 12)
    assert tab.loc["1–3", "replications"] == pytest.approx(4 / 12)
    assert tab.loc["4–10", "replications"] == pytest.approx(1 / 12)
    assert tab.loc["11–20", "replications"] == pytest.approx(1 / 12)
    assert tab["units_median"].sum() == pytest.approx(1.0)
    assert d.per_unit.loc["d", "share_within_3"] == pytest.approx(2 / 3)
    # a median of 3.5 against a nominal of 0 is beyond ±3
    d2 = rank_shift_distribution(np.array([[3.0], [4.0]]), np.array([0.0]))
    assert d2.shares["median_within_3"] == 0.0
    with pytest.raises(ValueError):
        rank_shift_distribution(R, nominal[:3])
    assert "within ±3" in d.sentence()
