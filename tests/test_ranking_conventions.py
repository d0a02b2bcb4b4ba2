"""Publication conventions (model/ranking.py, method key ``ranking``) and COINr tie parity of the
rank-based normalisations (issue 16).

Oracles: hand-worked rankings (written out below, not computed by the code under test); COINr
1.1.14's rules read from its source (bluefoxr/COINr, R/normalise.R: ``Normalise.numeric``
multiplies x by the direction first; ``n_rank(x, ties.method = "min")`` is
``rank(x, ties.method, na.last = "keep")``; ``n_borda`` is that rank − 1; ``n_prank`` is
(rank − 1)/(n − 1) with n the non-missing values), applied independently here with
``scipy.stats.rankdata`` (whose "min"/"max"/"average"/"ordinal" equal R's "min"/"max"/"average"/
"first") to COINr's own treated ASEM table (tests/data/coinr_asem/asem_treated.csv) and
aggregated with the ASEM weights by a small independent weighted mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from cityindex.model import compute_index
from cityindex.model.errors import MethodError
from cityindex.model.method import MethodSpec
from cityindex.model.normalise import normalise
from cityindex.model.ranking import (TIES, Ranking, rank_scores, ranking_for,
                                     round_half_away)

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "tests" / "data" / "coinr_asem"

# scores of 7 units (unit 4 has none): 5.0 is best, two ties
SCORES = np.array([3.0, 1.0, 3.0, np.nan, 2.0, 2.0, 5.0])
# hand-worked ranks (1 = highest score), NaN not ranked and not counted
HAND = {
    "min":     [2, 6, 2, np.nan, 4, 4, 1],
    "max":     [3, 6, 3, np.nan, 5, 5, 1],
    "dense":   [2, 4, 2, np.nan, 3, 3, 1],
    "average": [2.5, 6, 2.5, np.nan, 4.5, 4.5, 1],
    "ordinal": [2, 6, 3, np.nan, 4, 5, 1],
}


@pytest.mark.parametrize("ties", TIES)
def test_every_tie_convention_matches_hand_worked_ranks(ties):
    np.testing.assert_array_equal(rank_scores(SCORES, ties=ties), HAND[ties])


@pytest.mark.parametrize("ties", TIES)
def test_nan_is_never_ranked_and_does_not_count(ties):
    r = rank_scores(SCORES, ties=ties)
    assert np.isnan(r[3])
    ok = ~np.isnan(SCORES)
    assert np.nanmax(r) <= ok.sum()          # ranks run over the 6 units with a score
    # the same as ranking the six units alone
    np.testing.assert_array_equal(r[ok], rank_scores(SCORES[ok], ties=ties))
    # two NaNs never get distinct ranks (or any rank)
    two = rank_scores(np.array([np.nan, 1.0, np.nan]), ties=ties)
    assert np.isnan(two[[0, 2]]).all() and two[1] == 1


def test_all_nan_slice_and_axis():
    r = rank_scores(np.array([[1.0, np.nan, 1.0], [np.nan, np.nan, np.nan]]), axis=1)
    np.testing.assert_array_equal(r[0], [1, np.nan, 1])
    assert np.isnan(r[1]).all()
    # along axis 0 (units in rows, as IndexResult.ranks)
    cols = rank_scores(np.array([[1.0, 2.0], [3.0, np.nan], [3.0, 1.0]]), axis=0)
    np.testing.assert_array_equal(cols, [[3, 1], [1, np.nan], [1, 2]])


def test_rounding_before_ranking_makes_published_ties():
    # HDI-style: 0.9624 and 0.9616 both publish as 0.962 and share rank 2; 0.9615 publishes
    # as 0.962 too (half away from zero), 0.9614 as 0.961
    s = np.array([0.9700, 0.9624, 0.9616, 0.9615, 0.9614])
    np.testing.assert_array_equal(rank_scores(s), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(rank_scores(s, round=3), [1, 2, 2, 2, 5])
    np.testing.assert_array_equal(rank_scores(s, round=3, ties="dense"), [1, 2, 2, 2, 3])


def test_round_half_away_from_zero_on_decimal_halves():
    np.testing.assert_array_equal(round_half_away([0.0285, 0.0275, -0.0285, 2.5, 0.0284999],
                                                  3), [0.029, 0.028, -0.029, 2.5, 0.028])
    np.testing.assert_array_equal(round_half_away([0.5, 1.5, 2.5, -0.5], 0), [1, 2, 3, -1])
    assert np.isnan(round_half_away([np.nan], 2)[0])


def test_float_noise_is_a_tie_but_rounded_scores_compare_exactly():
    s = np.array([0.3, 0.1 + 0.2, 0.2])         # 0.1 + 0.2 = 0.30000000000000004
    np.testing.assert_array_equal(rank_scores(s), [1, 1, 3])
    np.testing.assert_array_equal(rank_scores(s, rtol=0.0), [2, 1, 3])


def test_lower_is_better():
    np.testing.assert_array_equal(rank_scores([1.0, 3.0, 1.0], higher_is_better=False), [1, 3, 1])


# ------------------------------------------------------------------------------- method key
def test_ranking_key_validated():
    for bad, msg in [({"ranking": {"ties": "first"}}, "ranking.ties"),
                     ({"ranking": {"round": -1}}, "ranking.round"),
                     ({"ranking": {"round": 2.5}}, "ranking.round"),
                     ({"ranking": {"round": True}}, "ranking.round"),
                     ({"ranking": {"publish": "yes"}}, "ranking.publish"),
                     ({"ranking": {"decimals": 3}}, "unknown key")]:
        with pytest.raises(MethodError, match=msg):
            MethodSpec.from_dict(bad)


def test_ranking_resolution_per_level_and_node_and_round_trip():
    spec = MethodSpec.from_dict({
        "ranking": {"round": 3},
        "overrides": {"levels": {2: {"ranking": {"ties": "dense"}}},
                      "nodes": {"P1": {"ranking": {"round": 1}}}}})
    assert ranking_for(spec, "Index", 3) == Ranking(round=3, ties="min")
    assert ranking_for(spec, "P2", 2) == Ranking(round=3, ties="dense")
    assert ranking_for(spec, "P1", 2) == Ranking(round=1, ties="dense")
    assert ranking_for(None) == Ranking()
    import yaml
    assert MethodSpec.from_dict(yaml.safe_load(spec.dump())) == spec


def _toy():
    fw = {"index": "Index", "name": "toy", "nodes": [
        {"code": "Index", "level": 3},
        {"code": "P1", "level": 2, "parent": "Index"},
        {"code": "P2", "level": 2, "parent": "Index"},
        {"code": "a", "level": 1, "parent": "P1"}, {"code": "b", "level": 1, "parent": "P1"},
        {"code": "c", "level": 1, "parent": "P2"}]}
    data = pd.DataFrame({"a": [10.0, 20, 30, 40, 50], "b": [50.0, 41, 30, 20, 10],
                         "c": [1.0, 2, 3, 4, np.nan]},
                        index=pd.Index(["u1", "u2", "u3", "u4", "u5"], name="code"))
    return fw, data


@pytest.fixture()
def toy(tmp_path):
    import yaml
    fw, data = _toy()
    p = tmp_path / "fw.yaml"
    p.write_text(yaml.safe_dump(fw))
    return p, data


def test_index_result_ranks_follow_the_node_conventions(toy):
    fw, data = toy
    raw = compute_index(fw, data, {})
    # P1 (minmax 0–100): u1 (0+100)/2 = 50, u2 (25 + 77.5)/2 = 51.25, u3 50, u4 (75+25)/2 = 50,
    # u5 50: unrounded u2 is first and the four others tie at 50
    np.testing.assert_allclose(raw.scores["P1"], [50, 51.25, 50, 50, 50])
    np.testing.assert_array_equal(raw.ranks["P1"], [2, 1, 2, 2, 2])
    rounded = compute_index(fw, data, {"overrides": {"nodes": {
        "P1": {"ranking": {"round": 0, "ties": "dense"}}}}})
    # 51.25 rounds to 51: still first; P2 keeps the unrounded default conventions
    np.testing.assert_array_equal(rounded.ranks["P1"], [2, 1, 2, 2, 2])
    np.testing.assert_array_equal(rounded.ranks["P2"], raw.ranks["P2"])
    tens = compute_index(fw, data, {"ranking": {"round": 0}, "overrides": {"nodes": {
        "P1": {"ranking": {"ties": "max"}}}}})
    np.testing.assert_array_equal(tens.ranks["P1"], [5, 1, 5, 5, 5])
    table = tens.results_table().set_index("unit")
    assert (table["P1_score"] == np.round(table["P1_score"])).all()   # published rounded
    raw_pub = compute_index(fw, data, {"ranking": {"round": 0, "publish": "raw"}})
    assert raw_pub.results_table().set_index("unit").loc["u2", "P1_score"] == 51.25


def test_unit_without_data_at_a_node_is_not_ranked_there(toy):
    fw, data = toy
    res = compute_index(fw, data, {})
    assert np.isnan(res.scores.loc["u5", "P2"]) and np.isnan(res.ranks.loc["u5", "P2"])
    np.testing.assert_array_equal(res.ranks["P2"].dropna().sort_values(), [1, 2, 3, 4])
    assert res.results_table().set_index("unit")["P2_rank"].isna().sum() == 1


# ---------------------------------------------------------------- normalisation × ties parity
X = np.array([4.0, 2.0, 4.0, np.nan, 1.0, 2.0])


def r_rank(x, ties):
    """R's rank(x, ties.method, na.last = "keep") via scipy (ordinal = R's "first")."""
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    out[ok] = rankdata(x[ok], method=ties)
    return out


# hand-worked: direction +1 ranks x ascending, direction −1 ranks −x ascending
HAND_RANK = {
    (1, "min"): [4, 2, 4, np.nan, 1, 2], (-1, "min"): [1, 3, 1, np.nan, 5, 3],
    (1, "max"): [5, 3, 5, np.nan, 1, 3], (-1, "max"): [2, 4, 2, np.nan, 5, 4],
    (1, "average"): [4.5, 2.5, 4.5, np.nan, 1, 2.5], (-1, "average"): [1.5, 3.5, 1.5, np.nan, 5, 3.5],
    (1, "ordinal"): [4, 2, 5, np.nan, 1, 3], (-1, "ordinal"): [1, 3, 2, np.nan, 5, 4],
    (1, "dense"): [3, 2, 3, np.nan, 1, 2], (-1, "dense"): [1, 2, 1, np.nan, 3, 2],
}


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("method", ["rank", "borda", "prank"])
def test_rank_normalisations_follow_coinr_rule(method, ties, direction):
    hand = np.array(HAND_RANK[(direction, ties)], float)
    np.testing.assert_array_equal(hand, r_rank(X * direction, ties))   # the oracle itself
    expect = {"rank": hand, "borda": hand - 1, "prank": (hand - 1) / (5 - 1)}[method]
    got = normalise(X, method, direction, "x", ties=ties)
    np.testing.assert_array_equal(got, expect)


def test_defaults_are_coinr_min_ties_and_prank_in_unit_interval():
    np.testing.assert_array_equal(normalise(X, "rank", 1, "x"), HAND_RANK[(1, "min")])
    np.testing.assert_array_equal(normalise(X, "borda", -1, "x"),
                                  np.array(HAND_RANK[(-1, "min")]) - 1)
    np.testing.assert_array_equal(normalise(X, "prank", 1, "x", scale=100),
                                  (np.array(HAND_RANK[(1, "min")]) - 1) / 4 * 100)
    with pytest.raises(MethodError, match="normalisation.ties"):
        MethodSpec.from_dict({"normalisation": {"method": "rank", "ties": "random"}})


# ----------------------------------------------------------------------- ASEM against COINr
def _coinr_rule_index(method: str) -> tuple[pd.DataFrame, pd.Series]:
    """COINr's normalisation rule on COINr's treated ASEM table, aggregated with the ASEM
    weights (weighted arithmetic mean of the children a unit has, level by level)."""
    meta = pd.read_csv(REF / "asem_imeta.csv")
    treated = pd.read_csv(REF / "asem_treated.csv").set_index("uCode")
    inds = meta[meta["Type"] == "Indicator"]
    norm = {}
    for _, row in inds.iterrows():
        rk = r_rank(treated[row.iCode].to_numpy(float) * row.Direction, "min")
        n = np.sum(~np.isnan(rk))
        norm[row.iCode] = {"rank": rk, "borda": rk - 1, "prank": (rk - 1) / (n - 1)}[method]
    vals = pd.DataFrame(norm, index=treated.index)
    aggs = meta[meta["Type"] == "Aggregate"].sort_values("Level")
    weight = meta.set_index("iCode")["Weight"]
    for _, row in aggs.iterrows():
        kids = meta.loc[meta["Parent"] == row.iCode, "iCode"].tolist()
        X = vals[kids].to_numpy(float)
        w = weight[kids].to_numpy(float)
        wa = np.where(np.isnan(X), 0.0, w)
        vals[row.iCode] = (np.nan_to_num(X) * wa).sum(1) / wa.sum(1)
    return vals[inds["iCode"]], vals["Index"]


@pytest.mark.parametrize("method", ["rank", "borda", "prank"])
def test_asem_index_with_rank_normalisation_equals_coinr(method):
    spec = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml").to_dict()
    spec["normalisation"] = {"method": method}
    res = compute_index(REF / "asem_imeta.csv", REF / "asem_idata.csv", spec)
    norm, index = _coinr_rule_index(method)
    diff_n = (res.normalised.loc[norm.index, norm.columns] - norm).abs().to_numpy()
    assert np.nanmax(diff_n) <= 1e-9
    assert np.abs(res.index_scores.loc[index.index] - index).max() <= 1e-9
    # direction −1 indicators are in this check (14 of them in ASEM)
    assert (pd.read_csv(REF / "asem_imeta.csv")["Direction"] == -1).sum() > 0
    # and the ranks are COINr's competition ranks of the index
    np.testing.assert_array_equal(res.index_ranks.loc[index.index],
                                  rankdata(-index.to_numpy(), method="min"))


def test_uncertainty_replications_rank_under_the_conventions():
    """Every replication's ranks are the conventions' ranks of that replication's scores."""
    from cityindex.validation.engine import evaluate, prepare
    from cityindex.validation.space import load_space

    spec = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml").to_dict()
    spec["ranking"] = {"round": 0, "ties": "dense"}
    res = compute_index(REF / "asem_imeta.csv", REF / "asem_idata.csv", spec)
    space = load_space("coinr_asem", res)
    p = prepare(res, space, seed=1)
    rng = np.random.default_rng(0)
    L = np.column_stack([rng.integers(0, a.n_levels, 12) for a in space.assumptions])
    L[0] = 0
    out = evaluate(p, L, nodes=["Conn"])
    expect = rank_scores(out["index_scores"], ties="dense", round=0, axis=1)
    np.testing.assert_array_equal(out["index"], expect)
    assert (expect.max(axis=1) < 51).any()      # rounding to whole points made ties
    # the nominal result's ranks follow the same conventions
    np.testing.assert_array_equal(res.index_ranks,
                                  rank_scores(res.index_scores.to_numpy(), ties="dense", round=0))


@pytest.mark.parametrize("ties", ["min", "max", "dense", "average", "ordinal"])
def test_infinite_scores_beside_missing_ones(ties):
    """±inf are ranked (first / last among the scored units), NaN never, whatever the mix in a
    row (rank_scores sorts NaN as -inf only when no genuine -inf is present): the oracle is
    scipy's rankdata with nan_policy='omit' (R's na.last = "keep"), row by row."""
    rng = np.random.default_rng(5)
    S = np.round(rng.normal(size=(40, 12)), 1)
    S[rng.uniform(size=S.shape) < 0.15] = np.nan
    S[rng.uniform(size=S.shape) < 0.08] = -np.inf
    S[rng.uniform(size=S.shape) < 0.05] = np.inf
    method = {"ordinal": "ordinal"}.get(ties, ties)
    for rows in (S, np.where(np.isneginf(S), 0.0, S)):     # with and without a genuine -inf
        got = rank_scores(rows, ties=ties, rtol=0)
        want = np.vstack([rankdata(-r, method=method, nan_policy="omit") for r in rows])
        np.testing.assert_array_equal(got, want)
