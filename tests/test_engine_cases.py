"""Cases from public bug reports (shared/cases/*.json, see its README.md), copied here with
their source. Each test covers the whole kind of fault the case names, not only its input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cityindex.model import DataError, Framework, FrameworkError, MethodSpec, Node, compute_index
from cityindex.model.aggregate import aggregate, copeland, outranking_matrix
from cityindex.model import stages

IMPUTE_METHODS = stages.methods("imputation")
from cityindex.model.impute import impute
from cityindex.model.normalise import normalise
from cityindex.model.treat import kurtosis, skewness, treat_indicator


def tree(children: dict[str, list[str]], weights: dict[str, float] | None = None,
         directions: dict[str, int] | None = None, **node_kw) -> Framework:
    """A framework from {parent: [children]} (the first key is the root)."""
    weights, directions = weights or {}, directions or {}
    parent_of = {k: p for p, kids in children.items() for k in kids}

    def level(code):
        return 1 if code not in children else 1 + level(children[code][0])

    codes = list(children) + [k for kids in children.values() for k in kids
                              if k not in children]
    return Framework([Node(code=c, parent=parent_of.get(c), level=level(c),
                           weight=weights.get(c, 1.0), direction=directions.get(c, 1),
                           **node_kw.get(c, {})) for c in codes])


# ====================================================================== B01
# source: COINr issue #40 (https://github.com/bluefoxr/COINr/issues/40); commits 224eed81
# (coerce integer iData columns) and 07e0531d (NAs in the group vector for grouped imputation)
B01_UNITS = [f"U{i}" for i in range(1, 10)]
B01_GROUP = ["A", "A", "A", "B", "B", "B", None, None, "C"]
B01_X = [10, 12, None, 20, 31, None, 7, None, None]
B01_EXPECTED = [10.0, 12.0, 11.0, 20.0, 31.0, 25.5, 7.0, np.nan, np.nan]


def test_b01_group_mean_integer_column_and_missing_group():
    x = pd.DataFrame({"x": pd.array(B01_X, dtype="Int64")}, index=B01_UNITS)
    groups = pd.Series(B01_GROUP, index=B01_UNITS, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = impute(x, "group_mean", groups)
    assert out["x"].dtype == np.float64
    np.testing.assert_array_equal(out["x"].to_numpy(), np.array(B01_EXPECTED))


def test_b01_missing_group_label_warns():
    x = pd.DataFrame({"x": B01_X}, index=B01_UNITS, dtype=float)
    with pytest.warns(UserWarning, match="no group label"):
        impute(x, "group_mean", pd.Series(B01_GROUP, index=B01_UNITS))


def test_b01_group_order_does_not_shift_values():
    """split/unsplit must not move values between units: shuffle units, same per-unit result."""
    x = pd.DataFrame({"x": B01_X}, index=B01_UNITS, dtype=float)
    g = pd.Series(B01_GROUP, index=B01_UNITS)
    order = [8, 6, 0, 3, 7, 1, 5, 2, 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = impute(x, "group_mean", g)
        b = impute(x.iloc[order], "group_mean", g.iloc[order])
    pd.testing.assert_frame_equal(a, b.loc[a.index])


DTYPES = ["int64", "Int64", "int32", "float32", "float64", "Float64", "object"]


@pytest.mark.parametrize("method", [m for m in IMPUTE_METHODS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_b01_imputation_never_changes_observed_values(method, dtype):
    """The whole kind of B01: every method, every dtype keeps observed values bit-identical."""
    rng = np.random.default_rng(1)
    n = 12
    cols = {}
    for j in range(3):
        v = rng.integers(0, 1000, n).astype(object)
        v[rng.choice(n, 3, replace=False)] = None
        cols[f"x{j}"] = v
    raw = pd.DataFrame(cols, index=[f"U{i}" for i in range(n)])
    if dtype in ("int64", "int32"):  # plain ints cannot hold NaN: complete column of ints
        raw["x0"] = rng.integers(0, 1000, n)
        x = raw.astype({"x0": dtype}).astype({"x1": "Int64", "x2": "Int64"})
    elif dtype == "object":
        x = raw
    else:
        x = raw.astype(dtype)
    groups = pd.Series(list("AABBCCAABB") + [None, "D"], index=x.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = impute(x, method, groups)
    assert all(out.dtypes == np.float64)
    ref = x.astype("float64") if dtype != "object" else x.apply(pd.to_numeric).astype(float)
    observed = ref.notna().to_numpy()
    np.testing.assert_array_equal(out.to_numpy()[observed], ref.to_numpy()[observed])
    assert out.shape == x.shape and list(out.index) == list(x.index)


def test_b01_through_compute_index_keeps_observed():
    fw = tree({"Index": ["x", "y"]})
    df = pd.DataFrame({"x": B01_X, "y": [1, 2, 3, 4, 5, 6, 7, 8, 9],
                       "grp": ["A", "A", "A", "B", "B", "B", "", "", "C"]},
                      index=pd.Index(B01_UNITS, name="uCode"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = compute_index(fw, df, {"imputation": {"method": "group_mean", "group": "grp"}})
    np.testing.assert_array_equal(r.imputed["x"].to_numpy(), np.array(B01_EXPECTED))
    log = r.log[r.log["stage"] == "imputation"].set_index("unit")
    assert log.loc["U8", "action"] == "left missing" and log.loc["U6", "action"] == "imputed"


# ====================================================================== B03
# source: COINr issue #53 (https://github.com/bluefoxr/COINr/issues/53); R/treat.R at b9682034:
# the first treatment ran only when the initial skew/kurtosis check failed, so force_win was lost
B03_UNITS = [f"U{i}" for i in range(1, 13)]
B03_X1 = [-20, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 40]
B03_X2 = [0, 3, 4, 5, 5, 6, 6, 7, 8, 9, 10, 40]


@pytest.fixture(scope="module")
def b03():
    fw = tree({"Index": ["X1", "X2"]})
    df = pd.DataFrame({"X1": B03_X1, "X2": B03_X2}, index=pd.Index(B03_UNITS, name="uCode"))
    spec = {"treatment": {"method": "coinr"},
            "overrides": {"nodes": {"X1": {"treatment": {"force": True, "winmax": 1}}}}}
    return compute_index(fw, df, spec)


def test_b03_forced_winsorisation_of_passing_indicator(b03):
    d = b03.treatment.loc["X1"]
    assert d["skew0"] == pytest.approx(0.750504, abs=1e-6)
    assert d["kurt0"] == pytest.approx(4.988473, abs=1e-6)
    assert bool(d["pass0"]) is True
    assert d["nwin"] == 1 and d["action"] == "winsorised"
    np.testing.assert_array_equal(b03.treated["X1"], [-20.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11])
    assert b03.treatment_flags["X1"].tolist() == [""] * 11 + ["winhi"]


def test_b03_default_indicator_unaffected_by_other_override(b03):
    d = b03.treatment.loc["X2"]
    assert d["skew0"] == pytest.approx(3.031987, abs=1e-6)
    assert d["kurt0"] == pytest.approx(9.947726, abs=1e-6)
    assert bool(d["pass0"]) is False and d["nwin"] == 1
    assert d["skew1"] == pytest.approx(-0.472351, abs=1e-6)
    assert d["kurt1"] == pytest.approx(0.105068, abs=1e-6)
    np.testing.assert_array_equal(b03.treated["X2"], [0.0, 3, 4, 5, 5, 6, 6, 7, 8, 9, 10, 10])


@pytest.mark.parametrize("winmax,flags", [
    (0, {}), (1, {"U12": "winhi"}), (2, {"U12": "winhi", "U1": "winlo"}),
    (3, {"U12": "winhi", "U1": "winlo"})])
def test_b03_force_steps_rechecks_side_and_never_logs(winmax, flags):
    """force=True starts winsorising a passing indicator; each step re-checks the rule and the
    side of the skew (40 pulled in makes −20 the outlier, so step 2 treats the low side, after
    which X1 passes); a forced indicator is never log-transformed."""
    x = pd.Series(B03_X1, index=B03_UNITS, name="X1", dtype=float)
    t, rec, fl = treat_indicator(x, "coinr", winmax=winmax, force=True)
    assert rec["nwin"] == len(flags)
    assert fl[fl != ""].to_dict() == flags
    assert rec["action"] == ("winsorised" if flags else "none")
    assert "log" not in set(fl)
    assert t.max() <= x.max() and t.min() >= x.min()


def test_b03_force_false_leaves_passing_indicator_alone():
    x = pd.Series(B03_X1, index=B03_UNITS, name="X1", dtype=float)
    t, rec, fl = treat_indicator(x, "coinr", winmax=5, force=False)
    assert rec["nwin"] == 0 and rec["action"] == "none"
    np.testing.assert_array_equal(t, x)


def test_b03_force_via_level_override_too():
    fw = tree({"Index": ["X1", "X2"]})
    df = pd.DataFrame({"X1": B03_X1, "X2": B03_X2}, index=pd.Index(B03_UNITS, name="uCode"))
    r = compute_index(fw, df, {"treatment": {"method": "coinr", "winmax": 1},
                               "overrides": {"levels": {1: {"treatment": {"force": True}}}}})
    assert r.treatment["nwin"].tolist() == [1, 1]


def test_b03_skew_kurtosis_formulas():
    assert skewness(np.array(B03_X2, float)) == pytest.approx(3.031987, abs=1e-6)
    assert kurtosis(np.array(B03_X2, float)) == pytest.approx(9.947726, abs=1e-6)


# ====================================================================== B04
# source: COINr issues #68 and #58; R/normalise.R at b9682034 (direction applied twice for
# n_goalposts)
B04_X = [10, 20, 30, 50, 60, 5]
B04_PLUS = [0.0, 25.0, 50.0, 100.0, 100.0, 0.0]
B04_MINUS = [100.0, 75.0, 50.0, 0.0, 0.0, 100.0]


@pytest.mark.parametrize("direction,expected", [(1, B04_PLUS), (-1, B04_MINUS)])
def test_b04_goalposts_function(direction, expected):
    out = normalise(np.array(B04_X, float), "goalposts", direction, goalposts=(10.0, 50.0),
                    scale=100.0, truncate=True)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def _b04_run(direction: int, where: str) -> pd.Series:
    units = [f"U{i}" for i in range(6)]
    y = [1.0, 2, 3, 4, 5, 6]
    df = pd.DataFrame({"x": B04_X, "y": y}, index=pd.Index(units, name="uCode"))
    if where == "metadata":
        fw = tree({"Index": ["x", "y"]}, directions={"x": direction},
                  x={"goalposts": (10.0, 50.0)}, y={"goalposts": (0.0, 10.0)})
        spec = {"normalisation": {"method": "goalposts", "scale": 100.0, "truncate": True}}
    elif where == "override":  # framework says +1 with no goalposts; the override says all
        fw = tree({"Index": ["x", "y"]}, y={"goalposts": (0.0, 10.0)})
        spec = {"normalisation": {"method": "goalposts"},
                "overrides": {"nodes": {"x": {"normalisation": {
                    "method": "goalposts", "goalposts": [10.0, 50.0], "direction": direction,
                    "scale": 100.0, "truncate": True}}}}}
    else:  # metadata direction, goalposts in the override
        fw = tree({"Index": ["x", "y"]}, directions={"x": direction},
                  y={"goalposts": (0.0, 10.0)})
        spec = {"normalisation": {"method": "goalposts"},
                "overrides": {"nodes": {"x": {"normalisation": {"goalposts": [10.0, 50.0]}}}}}
    return compute_index(fw, df, spec).normalised["x"]


@pytest.mark.parametrize("where", ["metadata", "override", "mixed"])
@pytest.mark.parametrize("direction,expected", [(1, B04_PLUS), (-1, B04_MINUS)])
def test_b04_goalposts_same_from_metadata_or_override(where, direction, expected):
    np.testing.assert_allclose(_b04_run(direction, where).to_numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("method", ["minmax", "zscore", "rank", "prank", "borda", "dist2max",
                                    "goalposts"])
def test_b04_direction_from_metadata_equals_override(method):
    """Whole kind: direction given in metadata or as a per-indicator override is applied once."""
    units = [f"U{i}" for i in range(6)]
    df = pd.DataFrame({"x": [3.0, 8, 1, 9, 4, 6], "y": [1.0, 2, 3, 4, 5, 6]},
                      index=pd.Index(units, name="uCode"))
    gp = {"x": {"goalposts": (0.0, 10.0)}, "y": {"goalposts": (0.0, 10.0)}}
    fw_meta = tree({"Index": ["x", "y"]}, directions={"x": -1}, **gp)
    fw_plain = tree({"Index": ["x", "y"]}, **gp)
    a = compute_index(fw_meta, df, {"normalisation": {"method": method}}).normalised
    b = compute_index(fw_plain, df, {"normalisation": {"method": method}, "overrides": {
        "nodes": {"x": {"normalisation": {"direction": -1}}}}}).normalised
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["x"], compute_index(fw_plain, df, {
        "normalisation": {"method": method}}).normalised["x"])


# ====================================================================== B05
# source: COINr issue #47 (https://github.com/bluefoxr/COINr/issues/47)
B05 = pd.DataFrame({"i1": [2.0, 4, 6, 8, 10], "i2": [30.0, 10, 50, 20, 40],
                    "i3": [0.5, 0.9, 0.7, 0.6, 0.8]},
                   index=pd.Index(list("ABCDE"), name="uCode"))
B05_MM0 = {"i1": [0.0, 25, 50, 75, 100], "i2": [50.0, 0, 100, 25, 75],
           "i3": [0.0, 100, 50, 25, 75]}
B05_MM1 = {"i1": [1.0, 25.75, 50.5, 75.25, 100], "i2": [50.5, 1, 100, 25.75, 75.25],
           "i3": [1.0, 100, 50.5, 25.75, 75.25]}
B05_GEO = {"A": 3.696271, "B": 13.706474, "C": 63.415329, "D": 36.81462, "E": 82.73152}
B05_FW = tree({"Index": ["i1", "i2", "i3"]})


def test_b05_geometric_on_minmax_0_100_fails_naming_zero_cells():
    spec = {"normalisation": {"method": "minmax", "range": [0, 100]},
            "aggregation": {"method": "geometric"}}
    with pytest.raises(DataError) as exc:
        compute_index(B05_FW, B05, spec)
    msg = str(exc.value)
    assert "\n" not in msg
    for cell in ("A/i1=0", "A/i3=0", "B/i2=0"):
        assert cell in msg
    assert "3 non-positive cell(s)" in msg and "'Index'" in msg


def test_b05_minmax_values():
    r0 = compute_index(B05_FW, B05, {"normalisation": {"method": "minmax", "range": [0, 100]}})
    pd.testing.assert_frame_equal(r0.normalised, pd.DataFrame(B05_MM0, index=B05.index),
                                  check_exact=False, atol=1e-12, check_names=False)
    zero_units = sorted(set(r0.normalised.index[(r0.normalised == 0).any(axis=1)]))
    assert zero_units == ["A", "B"]


def test_b05_geometric_on_minmax_1_100():
    spec = {"normalisation": {"method": "minmax", "range": [1, 100]},
            "aggregation": {"method": "geometric"}}
    r = compute_index(B05_FW, B05, spec)
    pd.testing.assert_frame_equal(r.normalised, pd.DataFrame(B05_MM1, index=B05.index),
                                  check_exact=False, atol=1e-12, check_names=False)
    for unit, value in B05_GEO.items():
        assert r.index_scores[unit] == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("method,p", [("geometric", 1.0), ("harmonic", 1.0),
                                      ("generalised", -1.0), ("generalised", 0.0)])
@pytest.mark.parametrize("bad", [0.0, -3.0])
def test_b05_no_silent_nan_or_inf_for_non_positive(method, p, bad):
    """Whole kind: every mean that needs positive values refuses ≤ 0 loudly, never NaN/−inf."""
    X = np.array([[1.0, 2.0], [bad, 4.0], [5.0, np.nan]])
    with pytest.raises(DataError, match=r"unit u1, column 'b'"):
        aggregate(X, np.array([1.0, 1.0]), method, p=p, codes=["b", "c"], units=["u0", "u1", "u2"])
    out = aggregate(np.where(X == bad, 3.0, X), np.array([1.0, 1.0]), method, p=p)
    assert np.isfinite(out).all()


# ====================================================================== B07
# source: COINr issues #35 and #42; commit 8350f49a (weights and by_df per aggregation level)
B07 = pd.DataFrame({"i1": [80.0, 20, 50, 100], "i2": [40.0, 60, 50, 1],
                    "i3": [90.0, 10, 50, 25], "i4": [10.0, 90, 50, 64]},
                   index=pd.Index(list("ABCD"), name="uCode"))
B07_FW = tree({"Index": ["P1", "P2"], "P1": ["i1", "i2"], "P2": ["i3", "i4"]},
              weights={"i1": 2, "i2": 1})
B07_P1 = {"A": 66.666667, "B": 33.333333, "C": 50.0, "D": 67.0}
B07_P2 = {"A": 30.0, "B": 30.0, "C": 50.0, "D": 40.0}
B07_INDEX_A = {"A": 55.666667, "B": 32.333333, "C": 50.0, "D": 58.9}
B07_INDEX_B = {"A": 66.666667, "B": 33.333333, "C": 50.0, "D": 67.0}
B07_BASE = {"normalisation": {"method": "none"}, "aggregation": {"method": "arithmetic"},
            "overrides": {"nodes": {"P2": {"aggregation": {"method": "geometric"}}}}}


def check_close(series: pd.Series, expected: dict) -> None:
    np.testing.assert_allclose(series[list(expected)].to_numpy(), list(expected.values()),
                               atol=1e-6, rtol=0)


def test_b07_mixed_methods_within_level_and_weights_for_one_level():
    spec = dict(B07_BASE, weights={"P1": 0.7, "P2": 0.3})
    r = compute_index(B07_FW, B07, spec)
    check_close(r.aggregated["P1"], B07_P1)
    check_close(r.aggregated["P2"], B07_P2)
    check_close(r.aggregated["Index"], B07_INDEX_A)


def test_b07_max_at_top_level_keeps_other_weights():
    spec = dict(B07_BASE, overrides={"levels": {3: {"aggregation": {"method": "max"}}},
                                     "nodes": B07_BASE["overrides"]["nodes"]})
    r = compute_index(B07_FW, B07, spec)
    check_close(r.aggregated["P1"], B07_P1)  # the i1:2, i2:1 weights still apply at level 2
    check_close(r.aggregated["P2"], B07_P2)
    check_close(r.aggregated["Index"], B07_INDEX_B)


def test_b07_override_one_node_leaves_siblings():
    """Whole kind: an override on one aggregate changes only that node and its ancestors."""
    base = compute_index(B07_FW, B07, {"normalisation": {"method": "none"}})
    r = compute_index(B07_FW, B07, B07_BASE)
    pd.testing.assert_series_equal(base.aggregated["P1"], r.aggregated["P1"])
    assert not np.allclose(base.aggregated["P2"], r.aggregated["P2"])
    # the same via MethodSpec.replace
    spec = MethodSpec.from_dict({"normalisation": {"method": "none"}}).replace(
        "overrides.nodes.P2.aggregation.method", "geometric")
    pd.testing.assert_frame_equal(compute_index(B07_FW, B07, spec).aggregated, r.aggregated)


def test_b07_method_weights_scale_invariant_and_level_local():
    a = compute_index(B07_FW, B07, dict(B07_BASE, weights={"P1": 0.7, "P2": 0.3}))
    b = compute_index(B07_FW, B07, dict(B07_BASE, weights={"P1": 7, "P2": 3}))
    pd.testing.assert_frame_equal(a.aggregated, b.aggregated, check_exact=False, atol=1e-12)
    assert a.framework.nodes["i1"].weight == 2.0


# ====================================================================== B08
# source: COINr commit 352b3306 (fix copeland equal pairs bug: ties set to 0 then overwritten)
def test_b08_case_a_split_pair_is_a_draw():
    X = np.array([[1.0, 2.0], [2.0, 1.0]])
    np.testing.assert_array_equal(copeland(X, np.array([1.0, 1.0])), [0, 0])


def test_b08_case_b_outranking_and_scores():
    X = np.array([[3.0, 1, 2], [1, 3, 2], [2, 2, 2], [0, 0, 5]])
    O = outranking_matrix(X, np.ones(3))
    expected = [[0.0, 0.5, 0.5, 0.666667], [0.5, 0.0, 0.5, 0.666667],
                [0.5, 0.5, 0.0, 0.666667], [0.333333, 0.333333, 0.333333, 0.0]]
    np.testing.assert_allclose(O, expected, atol=1e-6)
    np.testing.assert_array_equal(copeland(X, np.ones(3)), [1, 1, 1, -3])


def test_b08_case_c_float_half_sum_is_a_draw():
    X = np.array([[1.0, 1, 1], [1, 1, 1]])
    np.testing.assert_array_equal(copeland(X, np.array([0.7, 0.2, 0.1])), [0, 0])


def test_b08_outranking_complementary_and_draws_with_random_weights():
    """Whole kind: O_ij + O_ji = 1 for every pair; identical units always draw."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        X = rng.integers(0, 3, size=(6, 5)).astype(float)
        X[5] = X[4]
        w = rng.random(5) * rng.choice([1e-3, 1, 1e3])
        O = outranking_matrix(X, w)
        off = ~np.eye(6, dtype=bool)
        np.testing.assert_allclose((O + O.T)[off], 1.0, atol=1e-12)
        s = copeland(X, w)
        assert s.sum() == 0
        assert s[4] == s[5]


def test_b08_copeland_through_compute_index():
    fw = tree({"Index": ["x1", "x2"]})
    df = pd.DataFrame({"x1": [1.0, 2, 3], "x2": [2.0, 1, 3]}, index=pd.Index(list("ABC"),
                                                                              name="uCode"))
    r = compute_index(fw, df, {"aggregation": {"method": "copeland"}})
    assert r.index_scores.tolist() == [-1.0, -1.0, 2.0]
    assert r.index_ranks.tolist() == [2.0, 2.0, 1.0]


# ====================================================================== B10
# source: COINr commit 3aaf4393 (directions not taken into account in Normalise.purse())
B10_2020 = [5.0, 10, 15]
B10_2021 = [4.0, 8, 20]


def _panel_minmax(direction: int, method="minmax", **params):
    stacked = np.concatenate([B10_2020, B10_2021])
    out = normalise(stacked, method, direction, **params)
    return out[:3], out[3:]


def test_b10_panel_wide_minmax_respects_direction():
    y2020, y2021 = _panel_minmax(-1, range=(0.0, 100.0))
    np.testing.assert_allclose(y2020, [93.75, 62.5, 31.25], atol=1e-12)
    np.testing.assert_allclose(y2021, [100.0, 75.0, 0.0], atol=1e-12)


def test_b10_direction_ignored_would_give_the_wrong_numbers():
    y2020, y2021 = _panel_minmax(1, range=(0.0, 100.0))
    np.testing.assert_allclose(y2020, [6.25, 37.5, 68.75], atol=1e-12)
    np.testing.assert_allclose(y2021, [0.0, 25.0, 100.0], atol=1e-12)


@pytest.mark.parametrize("method", ["minmax", "zscore", "rank", "prank", "borda", "dist2max"])
def test_b10_stacked_panel_direction_reverses_order_for_every_method(method):
    hi, _ = _panel_minmax(1, method)
    lo, _ = _panel_minmax(-1, method)
    assert (np.argsort(hi, kind="stable") == np.argsort(-lo, kind="stable")).all()


def test_b10_panel_through_compute_index_by_stacking_years():
    """Stack the years as units (unit@year) and normalise once: the panel-wide min-max."""
    fw = tree({"Index": ["unemp", "other"]}, directions={"unemp": -1})
    units = [f"{u}@{y}" for y in (2020, 2021) for u in "ABC"]
    df = pd.DataFrame({"unemp": B10_2020 + B10_2021, "other": [1.0, 2, 3, 4, 5, 6]},
                      index=pd.Index(units, name="uCode"))
    r = compute_index(fw, df, {"normalisation": {"method": "minmax", "range": [0, 100]}})
    np.testing.assert_allclose(r.normalised["unemp"].to_numpy(),
                               [93.75, 62.5, 31.25, 100.0, 75.0, 0.0], atol=1e-12)


# ====================================================================== B11
# source: COINr issue #52 (https://github.com/bluefoxr/COINr/issues/52); commit ba844a36
def test_b11_indicators_without_parent_fail_with_validation_message():
    nodes = [Node(code=c, level=1, weight=1, direction=1) for c in ("x1", "x2", "x3", "x4")]
    with pytest.raises(FrameworkError, match="no aggregation level.*x1, x2, x3, x4"):
        Framework(nodes)


def test_b11_from_coinr_imeta_and_compute_index(tmp_path):
    meta = tmp_path / "imeta.csv"
    meta.write_text("Level,iCode,iName,Direction,Weight,Parent,Type\n" + "".join(
        f"1,x{i},X{i},1,1,NA,Indicator\n" for i in range(1, 5)))
    with pytest.raises(FrameworkError, match=r"imeta\.csv: framework has no aggregation level"):
        Framework.load(meta)
    data = pd.DataFrame({"x1": [3, 1, 4, 1, 5], "x2": [9, 2, 6, 5, 3], "x3": [5, 8, 9, 7, 9],
                         "x4": [3, 2, 3, 8, 4]}, index=pd.Index(list("ABCDE"), name="uCode"))
    with pytest.raises(FrameworkError, match="no aggregation level"):
        compute_index(meta, data)


def test_b11_partial_orphans_are_also_caught():
    """Whole kind: some indicators with no parent next to a proper tree → several roots."""
    nodes = [Node("Index", level=2), Node("x1", parent="Index"), Node("x2", parent="Index"),
             Node("x3"), Node("x4")]
    with pytest.raises(FrameworkError, match="exactly one root.*x3, x4"):
        Framework(nodes)


def test_b11_single_indicator_index_works():
    fw = tree({"Index": ["x1"]})
    df = pd.DataFrame({"x1": [3.0, 1, 4]}, index=pd.Index(list("ABC"), name="uCode"))
    r = compute_index(fw, df)
    np.testing.assert_allclose(r.index_scores, [66.666666666, 0, 100], atol=1e-6)


def test_treatment_rule_does_not_depend_on_unit_order():
    """Found by hypothesis: a column whose skewness is exactly 2.0 after imputation sat on the
    COINr threshold, and summation order (i.e. the order of the units) decided pass/fail.
    Moments are now summed over sorted values: every order gives the same decision."""
    from cityindex.model.treat import kurtosis, passes, skewness

    x = np.array([1.1, 1.05, 1.0, 1.0])   # after group-mean imputation of the missing cell
    orders = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 1, 0, 3], [3, 2, 1, 0]]
    results = {(skewness(x[o]), kurtosis(x[o]), passes(x[o])[0]) for o in orders}
    assert len(results) == 1
    rng = np.random.default_rng(0)
    y = rng.lognormal(0, 1.5, 200)
    assert len({(skewness(y[p]), kurtosis(y[p])) for p in (rng.permutation(200)
                                                           for _ in range(5))}) == 1
