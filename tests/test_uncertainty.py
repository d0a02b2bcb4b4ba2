"""Uncertainty analysis engine: nominal ranks, COINr reference, reproducibility, runners.

Reference: tests/data/coinr_asem/asem_ua_rankstats_N100.csv — COINr 1.1.14
``get_sensitivity(SA_type = "UA", N = 100)`` on ASEM with the vignette design reproduced by
data/spaces/coinr_asem.yaml (see tests/data/coinr_asem/README.md).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cityindex.model import Framework, MethodSpec, compute_index, read_data
from cityindex.model.errors import DataError, MethodError
from cityindex.validation.engine import DaskRunner, JoblibRunner, prepare, run_replications
from cityindex.validation.space import UncertaintySpace
from cityindex.validation.uncertainty import rank_statistics, uncertainty_analysis

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem():
    fw = Framework.load(ASEM / "asem_imeta.csv")
    method = MethodSpec.load(ROOT / "data" / "methods" / "asem.yaml")
    data = read_data(ASEM / "asem_idata.csv", fw)
    space = UncertaintySpace.load(ROOT / "data" / "spaces" / "coinr_asem.yaml", fw, method)
    return fw, data, method, space, prepare(compute_index(fw, data, method), space, seed=3)


def test_nominal_ranks_equal_compute_index(asem):
    fw, data, method, space, p = asem
    ranks = compute_index(fw, data, method).index_ranks
    np.testing.assert_array_equal(p.nominal_ranks, ranks.loc[p.units].to_numpy(float))


def test_replication_at_nominal_levels_reproduces_compute_index(asem):
    """A replication whose alternatives equal the nominal method gives the nominal ranks.

    Nominal here: winmax 5, minmax [1, 100] (alternative 0) and arithmetic mean, with the noise
    factor fixed to 1 — compare against compute_index run with exactly that method.
    """
    fw, data, method, space, p = asem
    spec = method.replace("normalisation", {"method": "minmax", "range": [1, 100]})
    expected = compute_index(fw, data, spec).index_scores.loc[p.units]
    L = np.array([[4, 0, 0, 0]])
    saved = p.weight_factors
    p.weight_factors = []  # no weight noise
    try:
        from cityindex.validation.engine import _scores_group
        scores = _scores_group(p, p.Z[p.combo_ids(L)[0][0]], p.agg_methods[0],
                               p.agg_weights[[0]])[p.root][0]
    finally:
        p.weight_factors = saved
    np.testing.assert_allclose(scores, expected.to_numpy(), atol=1e-9)


def test_geometric_alternative_matches_compute_index(asem):
    fw, data, method, space, p = asem
    spec = (method.replace("normalisation", {"method": "zscore", "mean": 10, "sd": 2})
            .replace("treatment.winmax", 2).replace("aggregation.method", "geometric"))
    expected = compute_index(fw, data, spec).index_scores.loc[p.units].to_numpy()
    L = np.array([[1, 1, 0, 1]])
    from cityindex.validation.engine import _scores_group
    pre, agg = p.combo_ids(L)
    got = _scores_group(p, p.Z[pre[0]], p.agg_methods[agg[0]], p.agg_weights[agg])[p.root][0]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_asem_rank_stats_consistent_with_coinr(asem):
    """Our N = 4,000 distribution vs COINr's N = 100 estimate.

    Tolerances: COINr's own Monte Carlo error at N = 100. A unit's mean rank has MC standard
    error sd/√100; with rank sds up to ~3 places that is ≤ 0.3, so means must agree within
    4·SE + 0.25 (our own error). COINr's 5 %/95 % quantiles rest on ~5 draws in each tail:
    their SE is √(0.05·0.95/100)/f(q) ≈ 0.022/f, i.e. about 2 places for a rank density f ≈ 0.1
    per place, so each must agree within 3 places, and on average across units within 0.6 —
    a systematic error (e.g. a wrong weight-noise rule) breaks the averages.
    """
    fw, data, method, space, p = asem
    res = uncertainty_analysis(compute_index(fw, data, method), space, n=4000, seed=11, prepared=p,
                               quantile_method="linear")  # COINr's type-7 quantiles
    ref = pd.read_csv(ASEM / "asem_ua_rankstats_N100.csv").set_index("uCode")
    ours = res.rank_stats.loc[ref.index]
    assert (ours["nominal"] == ref["Nominal"]).all()
    se = ours["sd"] / np.sqrt(100)
    assert (np.abs(ours["mean"] - ref["Mean"]) <= 4 * se + 0.25).all()
    assert np.abs(ours["mean"] - ref["Mean"]).mean() < 0.35
    for q, rq in (("q5", "Q5"), ("q95", "Q95")):
        assert (np.abs(ours[q] - ref[rq]) <= 3.0).all()
        assert np.abs(ours[q] - ref[rq]).mean() < 0.6
    assert (np.abs(ours["median"] - ref["Median"]) <= 1.5).all()


def test_same_seed_identical_and_seed_matters(asem):
    fw, data, method, space, p = asem
    a = uncertainty_analysis(compute_index(fw, data, method), space, n=500, seed=5, prepared=p)
    b = uncertainty_analysis(compute_index(fw, data, method), space, n=500, seed=5, prepared=p)
    c = uncertainty_analysis(compute_index(fw, data, method), space, n=500, seed=6, prepared=p)
    np.testing.assert_array_equal(a.ranks, b.ranks)
    assert not np.array_equal(a.ranks, c.ranks)
    pd.testing.assert_frame_equal(a.rank_stats, b.rank_stats)


def test_parallel_equals_serial(asem):
    fw, data, method, space, p = asem
    rng = np.random.default_rng(0)
    L = np.column_stack([rng.integers(0, k, 3000) for k in space.levels])
    serial = run_replications(p, L)["index"]
    parallel = run_replications(p, L, JoblibRunner(2))["index"]
    np.testing.assert_array_equal(serial, parallel)


def test_dask_local_cluster_equals_serial(asem):
    distributed = pytest.importorskip("dask.distributed")
    fw, data, method, space, p = asem
    rng = np.random.default_rng(1)
    L = np.column_stack([rng.integers(0, k, 1500) for k in space.levels])
    serial = run_replications(p, L)["index"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = run_replications(p, L, DaskRunner(client))["index"]
    np.testing.assert_array_equal(serial, got)


def test_rank_statistics_hand_example():
    ranks = np.array([[1, 2], [2, 1], [1, 2], [1, 2]], float)
    st = rank_statistics(ranks, np.array([1.0, 2.0]), ["A", "B"], percentiles=(25, 75),
                         top_k=(1,))
    assert st.loc["A", "mean"] == 1.25 and st.loc["B", "mean"] == 1.75
    assert st.loc["A", "p_top1"] == 0.75
    assert st.loc["A", "mean_abs_shift"] == 0.25
    assert st.loc["A", "q75"] == 1.0  # whole ranks: P(rank ≤ 1) = 0.75 ≥ 0.75
    lin = rank_statistics(ranks, np.array([1.0, 2.0]), ["A", "B"], percentiles=(25, 75),
                          quantile_method="linear")
    assert lin.loc["A", "q75"] == np.percentile([1, 2, 1, 1], 75)


@pytest.mark.parametrize("body, match", [
    ({"x": {"path": "treatment.nonexistent_key", "values": [1]}}, "invalid"),
    ({"x": {"path": "nosuchstage.winmax", "values": [1]}}, "does not exist"),
    ({"x": {"path": "overrides.nodes.NOPE.treatment.winmax", "values": [1]}}, "unknown node"),
    ({"x": {"noise": {"levels": [7], "factor": 0.25}}}, "do not exist"),
    ({"x": {"noise": {"nodes": ["NOPE"]}}}, "unknown"),
    ({"x": {"leave_one_out": {"level": 9}}}, "does not exist"),
    ({"x": {"weight_sets": {"a": {"NOPE": 1}}}}, "unknown node"),
    ({"x": {"path": "normalisation.method", "values": ["nosuch"]}}, "valid"),
    ({"x": {"measurement": {"indicators": ["NOPE"]}}}, "unknown indicator"),
])
def test_space_addresses_are_validated(asem, body, match):
    fw, data, method, space, p = asem
    with pytest.raises(MethodError, match=match):
        UncertaintySpace.from_dict({"assumptions": body}, fw, method)


def test_geometric_with_zeros_fails_before_running(asem):
    fw, data, method, space, p = asem
    sp = UncertaintySpace.from_dict({"assumptions": {
        "agg": {"path": "aggregation.method", "values": ["arithmetic", "geometric"]}}},
        fw, method)  # the nominal min-max [0, 100] has zeros
    with pytest.raises(DataError, match="not positive"):
        prepare(compute_index(fw, data, method), sp)


def test_leave_one_out_and_weight_sets(asem):
    fw, data, method, space, p = asem
    sp = UncertaintySpace.from_dict({"assumptions": {
        "drop": {"leave_one_out": {"level": 2}},
        "ws": {"weight_sets": {"nominal": {}, "equal": "equal", "conn": {"Conn": 3}}}}},
        fw, method)
    pp = prepare(compute_index(fw, data, method), sp)
    # dropping pillar "Physical" (level 1 of the factor) equals compute_index without it
    from cityindex.validation.weight_audit import remove_node
    expected = compute_index(remove_node(fw, "Physical"), data, method).index_ranks
    L = np.array([[1 + fw.codes_at_level(2).index("Physical"), 0]])
    got = run_replications(pp, L)["index"][0]
    np.testing.assert_array_equal(got, expected.loc[pp.units].to_numpy(float))
    # weight set "conn" equals compute_index with Conn weighted 3
    expected = compute_index(fw.with_weights({"Conn": 3}), data, method).index_ranks
    got = run_replications(pp, np.array([[0, 2]]))["index"][0]
    np.testing.assert_array_equal(got, expected.loc[pp.units].to_numpy(float))
