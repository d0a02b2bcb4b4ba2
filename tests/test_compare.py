"""validation.compare: method/data/framework comparisons, exact Shapley stage attribution,
vintages, published tables, the ``compare()`` entry point, figures (report.compare_figures) and
the ``cityindex compare`` command."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cityindex.model import Framework, MethodSpec, compute_index, read_data
from cityindex.model.errors import CityIndexError, DataError, FrameworkError, MethodError
from cityindex.model.summary import Summary
from cityindex.report import compare_figures as figs
from cityindex.validation import compare as cmp

REPO = Path(__file__).resolve().parents[1]
ASEM = REPO / "tests" / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem():
    fw = Framework.load(ASEM / "asem_imeta.csv")
    data = read_data(ASEM / "asem_idata.csv", fw)
    ref = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml")
    return fw, data, ref, compute_index(fw, data, ref)


@pytest.fixture(scope="module")
def asem_band(asem):
    from cityindex.validation.space import UncertaintySpace
    from cityindex.validation.uncertainty import uncertainty_analysis

    fw, data, ref, _ = asem
    space = UncertaintySpace.load(REPO / "data" / "spaces" / "coinr_asem.yaml", fw, ref)
    return uncertainty_analysis(compute_index(fw, data, ref), space, n=300, seed=3).rank_stats


def variants(ref):
    return {
        "zscore": ref.replace("normalisation", {"method": "zscore", "mean": 10, "sd": 2}),
        "geometric": ref.replace("normalisation", {"method": "minmax", "range": [1, 100]})
                        .replace("aggregation.method", "geometric"),
        "rank": ref.replace("normalisation", {"method": "rank"}),
        "winmax2": ref.replace("treatment.winmax", 2),
    }


def test_identical_results_have_no_moves(asem):
    *_, res = asem
    c = cmp.compare_results(res, res)
    assert (c.shifts["rank_shift"] == 0).all() and (c.shifts["arrow"] == "same").all()
    assert np.allclose(c.correlations["spearman"], 1.0)
    assert np.allclose(c.correlations["kendall"], 1.0)
    assert c.top.empty and "Comparison" in c.summary().as_text()


@pytest.mark.parametrize("name", ["zscore", "geometric", "rank", "winmax2"])
def test_asem_variants_one_at_a_time(asem, asem_band, name):
    fw, data, ref, res_a = asem
    spec_b = variants(ref)[name]
    res_b = compute_index(fw, data, spec_b)
    c = cmp.compare_results(res_a, res_b, band=asem_band, top_k=10, labels=("ref", name))
    idx = c.node()
    ra, rb = res_a.index_ranks, res_b.index_ranks
    assert (idx["rank_shift"] == (rb - ra).reindex(idx.index)).all()
    assert np.allclose(idx["score_shift"], (res_b.index_scores - res_a.index_scores)
                       .reindex(idx.index))
    row = c.correlations.set_index("node").loc[fw.root]
    from scipy import stats

    assert row["spearman"] == pytest.approx(stats.spearmanr(ra, rb.reindex(ra.index))[0],
                                            abs=1e-12)
    assert 0.5 < row["spearman"] <= 1.0 and -1 <= row["kendall"] <= 1
    # beyond band exactly when B's rank is outside [q5, q95] of A and the unit moved
    lo, hi = asem_band["q5"].reindex(idx.index), asem_band["q95"].reindex(idx.index)
    expect = ((idx["rank_b"] < lo) | (idx["rank_b"] > hi)) & (idx["rank_shift"] != 0)
    assert (idx["beyond_band"].astype(bool) == expect).all()
    # entries and exits of the top 10 are consistent
    top_a, top_b = set(ra[ra <= 10].index), set(rb[rb <= 10].index)
    assert set(c.entries()) == top_b - top_a and set(c.exits()) == top_a - top_b
    assert cmp.diff_specs(ref, spec_b) == (["normalisation", "aggregation"]
                                          if name == "geometric" else
                                          ["treatment"] if name == "winmax2"
                                          else ["normalisation"])
    json.dumps(c.to_dict(), allow_nan=False)


def _sum_check(att):
    t = att.table
    g = t.groupby(["node", "unit"], sort=False)
    rank_sum = g["rank_shapley"].sum()
    score_sum = g["score_shapley"].sum()
    assert np.allclose(rank_sum, g["rank_shift"].first(), rtol=0, atol=1e-9, equal_nan=True)
    assert np.allclose(score_sum, g["score_shift"].first(), rtol=0, atol=1e-9, equal_nan=True)
    inter = att.interactions.set_index(["node", "unit"])
    oat = g["rank_oat"].sum()
    assert np.allclose(inter["rank_interaction"], g["rank_shift"].first() - oat, atol=1e-9)


def test_shapley_combined_asem_sums_exactly(asem):
    fw, data, ref, res_a = asem
    combined = (ref.replace("normalisation", {"method": "zscore", "mean": 10, "sd": 2})
                .replace("treatment.winmax", 2).replace("weights.Conn", 2.0))
    assert cmp.diff_specs(ref, combined) == ["treatment", "normalisation", "weights"]
    res_b = compute_index(fw, data, combined)
    att = cmp.attribute_stages(res_a, res_b, nodes="all")
    assert att.n_runs == 8 and att.stages == ["treatment", "normalisation", "weights"]
    _sum_check(att)
    idx = att.table[att.table["node"] == fw.root].groupby("unit")["rank_b"].first()
    assert (idx == res_b.index_ranks.reindex(idx.index)).all()
    # one stage only: Shapley share == OAT == total
    one = cmp.attribute_stages(res_a, compute_index(fw, data, variants(ref)["winmax2"]))
    assert np.allclose(one.table["rank_shapley"], one.table["rank_oat"])
    assert np.allclose(one.table["rank_shapley"], one.table["rank_shift"])


def test_shapley_grouped_stages_geometric(asem):
    fw, data, ref, res_a = asem
    combined = variants(ref)["geometric"].replace("treatment.winmax", 2)
    res_b = compute_index(fw, data, combined)
    # the geometric mean alone on min-max [0, 100] hits zeros: without automatic grouping
    # the hybrid is refused as a method error (the data are not at fault)
    with pytest.raises(MethodError, match="A with B's aggregation"):
        cmp.attribute_stages(res_a, res_b, auto_group=False)
    att = cmp.attribute_stages(res_a, res_b,
                               stages=[("normalisation", "aggregation"), "treatment"])
    assert att.stages == ["normalisation+aggregation", "treatment"] and att.n_runs == 4
    assert not att.grouped and att.note == "" and att.invalid == []
    _sum_check(att)
    w = att.wide()
    assert np.allclose(w[att.stages].sum(axis=1), w["total"], atol=1e-9)
    assert isinstance(figs.shapley_chart(att), Figure)


def test_shapley_auto_groups_invalid_hybrids(asem):
    """B = geometric mean on min-max [1, 100] + winmax 2: the hybrid 'A with B's geometric
    mean' hits A's min-max zeros, so normalisation and aggregation become one player."""
    fw, data, ref, res_a = asem
    combined = variants(ref)["geometric"].replace("treatment.winmax", 2)
    assert cmp.diff_specs(ref, combined) == ["treatment", "normalisation", "aggregation"]
    res_b = compute_index(fw, data, combined)
    att = cmp.attribute_stages(res_a, res_b, nodes="all")
    assert att.stages == ["treatment", "normalisation+aggregation"] and att.n_runs == 4
    assert att.groups == {"treatment": ("treatment",),
                          "normalisation+aggregation": ("normalisation", "aggregation")}
    assert att.paths["normalisation+aggregation"] == ("normalisation", "aggregation")
    assert att.grouped and not att.trivial
    assert "normalisation+aggregation" in att.note and "\n" not in att.note
    assert ["aggregation"] in [h["stages"] for h in att.invalid]
    # the hybrid's error names no data file: the data are not at fault
    assert all("asem_idata.csv" not in h["error"] for h in att.invalid)
    _sum_check(att)
    assert att.max_abs_sum_error() < 1e-9 and att.max_abs_sum_error("score") < 1e-9
    idx = att.table[att.table["node"] == fw.root].groupby("unit")
    tot = (res_b.index_ranks - res_a.index_ranks)
    assert np.allclose(idx["rank_shapley"].sum(), tot.reindex(idx.size().index), atol=1e-9)
    assert "note:" in att.summary().as_text()
    assert "note:" not in att.summary(note=False).as_text()
    assert isinstance(figs.shapley_chart(att), Figure)


def test_shapley_fallback_one_player(asem):
    """Only normalisation and aggregation differ and they only work together: no finer
    grouping exists, so both are one player and the attribution is trivial."""
    fw, data, ref, res_a = asem
    b = variants(ref)["geometric"]
    att = cmp.attribute_stages(res_a, compute_index(fw, data, b))
    assert att.stages == ["normalisation+aggregation"] and att.trivial
    assert att.n_runs == 2 and "trivial" in att.note
    _sum_check(att)
    assert np.allclose(att.table["rank_shapley"], att.table["rank_shift"], atol=1e-9)


def test_candidate_groupings_finest_first():
    g = cmp.attribution._candidate_groupings(3)
    assert g[0] == ((0,), (1,), (2,)) and g[-1] == ((0, 1, 2),) and len(g) == 5
    assert g[1] == ((0,), (1, 2))  # adjacent stages merged before distant ones
    assert cmp.attribution._candidate_groupings(0) == [()]


def test_hybrid_spec_and_paths(asem):
    _, _, ref, _ = asem
    b = ref.replace("treatment.winmax", 2).replace("weights.Conn", 3.0)
    assert cmp.diff_specs(ref, b, depth=None) == ["treatment.winmax", "weights.Conn"]
    h = cmp.hybrid_spec(ref, b, ["treatment.winmax"])
    assert h.stages["treatment"]["winmax"] == 2 and not h.weights
    back = cmp.hybrid_spec(b, ref, ["weights"])
    assert not back.weights


def test_vintages_arrows(asem):
    fw, data, ref, _ = asem
    df = pd.read_csv(ASEM / "asem_idata.csv")
    prev = df.iloc[3:].copy()  # three units "new" in the current vintage
    curr = df.drop(index=[10]).copy()  # one unit exits
    num = [c for c in curr.columns if c in fw.indicators]
    rng = np.random.default_rng(0)
    curr[num] = curr[num] * rng.uniform(0.9, 1.1, size=curr[num].shape)
    # two vintages through one method are just two results
    c = cmp.compare_results(compute_index(fw, _frame(prev, fw), ref),
                            compute_index(fw, _frame(curr, fw), ref), nodes=None,
                            labels=("previous", "current"))
    idx = c.node()
    assert set(idx["arrow"]) <= set(cmp.ARROWS)
    assert (idx["arrow"] == "new").sum() == 3 and (idx["arrow"] == "exit").sum() == 1
    both = idx.dropna(subset=["rank_a", "rank_b"])
    assert ((both["arrow"] == "up") == (both["rank_b"] < both["rank_a"])).all()


def _frame(df: pd.DataFrame, fw) -> pd.DataFrame:
    code = "uCode" if "uCode" in df.columns else df.columns[0]
    return df.set_index(code)


def _ranked_result(ranks: pd.Series):
    """A real IndexResult whose index ranks are ``ranks`` (unit → rank, distinct): one
    indicator equal to −rank, min-max normalised, one aggregation level."""
    fw = Framework.from_dict({"index": "IDX", "nodes": [
        {"code": "IDX", "level": 2}, {"code": "x", "level": 1, "parent": "IDX"}]})
    res = compute_index(fw, pd.DataFrame({"x": -ranks.to_numpy(float)}, index=ranks.index))
    assert (res.index_ranks == ranks.reindex(res.index_ranks.index)).all()
    return res


def test_published_by_code_and_by_name():
    pub = REPO / "data" / "published" / "gdci_2021_top100.csv"
    table = pd.read_csv(pub)
    ours = pd.Series(np.arange(1, len(table) + 1, dtype=float)[::-1], index=table["code"])
    pc = cmp.compare_published(_ranked_result(ours), pub)
    assert pc.n_overlap == 100 and pc.spearman == pytest.approx(-1.0)
    assert (pc.table["arrow"] != "").all()
    # without a code column: names matched through the registry
    no_code = table.drop(columns="code")
    same = pd.Series(table["rank"].to_numpy(float), index=table["code"])
    pn = cmp.compare_published(_ranked_result(same), no_code)
    assert pn.n_unmatched <= 2 and pn.spearman == pytest.approx(1.0)
    assert (pn.table.dropna(subset=["rank_ours"])["rank_diff"] == 0).all()
    assert "Spearman" in pn.summary().as_text()


def test_figures(asem, asem_band):
    fw, data, ref, res_a = asem
    res_b = compute_index(fw, data, variants(ref)["rank"])
    c = cmp.compare_results(res_a, res_b, band=asem_band)
    assert isinstance(figs.slope_chart(c, n=15), Figure)
    assert isinstance(figs.rank_scatter(c), Figure)


def test_bad_top_k_and_node(asem):
    *_, res = asem
    with pytest.raises(MethodError):
        cmp.compare_results(res, res, top_k=0)
    with pytest.raises(MethodError):
        cmp.compare_results(res, res, nodes=["nope"])


def test_cli_compare(tmp_path):
    from typer.testing import CliRunner

    from cityindex.cli import app
    ref = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml")
    b = ref.replace("treatment.winmax", 2).replace("normalisation", {"method": "rank"})
    mb = tmp_path / "b.yaml"
    b.dump(mb)
    out = tmp_path / "run"
    r = CliRunner().invoke(app, [
        "compare", "--framework", str(ASEM / "asem_imeta.csv"),
        "--data", str(ASEM / "asem_idata.csv"),
        "--method", str(REPO / "data" / "methods" / "asem.yaml"), "--method-b", str(mb),
        "--space", str(REPO / "data" / "spaces" / "coinr_asem.yaml"), "--n", "200",
        "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("compare.csv", "attribution.csv", "summary.json", "manifest.json", "slope.png",
              "shapley.png", "scatter.png"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    assert s["differing_stages"] == ["treatment", "normalisation"]
    assert s["attribution"]["max_abs_sum_error"] < 1e-9
    assert s["band"]["space"].endswith("coinr_asem.yaml") and s["band"]["n_replications"] == 200
    assert s["band_percentiles"] == [5, 95]
    att = pd.read_csv(out / "attribution.csv")
    g = att.groupby(["node", "unit"])
    assert np.allclose(g["rank_shapley"].sum(), g["rank_shift"].first(), atol=1e-9)
    bad = CliRunner().invoke(app, ["compare", "--framework", str(ASEM / "asem_imeta.csv"),
                                   "--data", str(ASEM / "asem_idata.csv"),
                                   "--method-b", str(tmp_path / "missing.yaml"),
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()


def _geo_method(tmp_path) -> Path:
    ref = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml")
    b = variants(ref)["geometric"].replace("treatment.winmax", 2)
    mb = tmp_path / "geo.yaml"
    b.dump(mb)
    return mb


def _invoke_compare(tmp_path, mb, out):
    from typer.testing import CliRunner

    from cityindex.cli import app
    return CliRunner().invoke(app, [
        "compare", "--framework", str(ASEM / "asem_imeta.csv"),
        "--data", str(ASEM / "asem_idata.csv"),
        "--method", str(REPO / "data" / "methods" / "asem.yaml"), "--method-b", str(mb),
        "--out", str(out)])


def test_cli_compare_geometric_groups_stages(tmp_path):
    """QA defect: B with a geometric mean made the Shapley hybrids fail and the command
    stopped (rc 2) with what looked like a data error."""
    out = tmp_path / "geo"
    r = _invoke_compare(tmp_path, _geo_method(tmp_path), out)
    assert r.exit_code == 0, r.output
    for f in ("compare.csv", "correlations.csv", "top.csv", "attribution.csv",
              "interactions.csv", "summary.json", "manifest.json", "slope.png", "shapley.png",
              "scatter.png"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    assert s["differing_stages"] == ["treatment", "normalisation", "aggregation"]
    a = s["attribution"]
    assert a["possible"] and a["grouped"] and not a["trivial"]
    assert a["groups"]["normalisation+aggregation"] == ["normalisation", "aggregation"]
    assert a["stages"] == ["treatment", "normalisation+aggregation"]
    assert a["max_abs_sum_error"] < 1e-9 and a["max_abs_score_sum_error"] < 1e-9
    assert s["attribution_note"] == a["note"]
    assert "normalisation+aggregation" in s["attribution_note"]
    lines = [ln for ln in r.output.splitlines() if ln.startswith("attribution:")]
    assert len(lines) == 1 and "normalisation+aggregation" in lines[0]
    assert "error:" not in r.output and "asem_idata.csv, row" not in r.output
    att = pd.read_csv(out / "attribution.csv")
    assert set(att["stage"]) == {"treatment", "normalisation+aggregation"}
    g = att.groupby(["node", "unit"])
    assert np.allclose(g["rank_shapley"].sum(), g["rank_shift"].first(), rtol=0, atol=1e-9)
    assert np.allclose(g["score_shapley"].sum(), g["score_shift"].first(), rtol=0, atol=1e-9)
    # the comparison itself matches direct computation
    fw = Framework.load(ASEM / "asem_imeta.csv")
    data = read_data(ASEM / "asem_idata.csv", fw)
    ra = compute_index(fw, data, MethodSpec.load(REPO / "data" / "methods" / "asem.yaml"))
    rb = compute_index(fw, data, MethodSpec.load(tmp_path / "geo.yaml"))
    cmpcsv = pd.read_csv(out / "compare.csv")
    idx = cmpcsv[cmpcsv["node"] == fw.root].set_index("unit")
    assert (idx["rank_shift"] == (rb.index_ranks - ra.index_ranks).reindex(idx.index)).all()


def test_cli_compare_survives_failed_attribution(tmp_path, monkeypatch):
    """Whatever goes wrong in the attribution, the comparison is written, the reason is one
    line in summary.json and on stdout, and it is never reported as a data-file error."""
    from cityindex.model.errors import DataError

    def boom(*args, **kwargs):
        raise DataError("some/panel.csv, row 2 (unit X), column 'y': hybrid went wrong")

    monkeypatch.setattr(cmp, "attribute_stages", boom)
    out = tmp_path / "fail"
    r = _invoke_compare(tmp_path, _geo_method(tmp_path), out)
    assert r.exit_code == 0, r.output
    for f in ("compare.csv", "correlations.csv", "top.csv", "summary.json", "slope.png",
              "scatter.png", "attribution.csv"):
        assert (out / f).exists(), f
    assert not (out / "shapley.png").exists()
    s = json.loads((out / "summary.json").read_text())
    assert s["attribution"]["possible"] is False
    assert s["attribution_note"].startswith("stage attribution not possible")
    assert "error:" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("attribution:")]
    assert len(lines) == 1 and "not possible" in lines[0]
    assert (out / "attribution.csv").read_text().startswith("# stage attribution not possible")


# ------------------------------------------------------------------ compare() entry point
def _json(d: dict) -> dict:
    """``d`` survives strict JSON (no NaN, no numpy types) unchanged."""
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    return d


def test_compare_same_method_no_attribution(asem, asem_band):
    fw, data, ref, res_a = asem
    res_b = compute_index(fw, data, ref)
    c = cmp.compare(res_a, res_b, band=asem_band, labels=("ref", "again"))
    assert c.attribution is None and c.differing_stages == []
    assert c.attribution_note == "no stage attribution: the methods are the same"
    assert (c.shifts["rank_shift"] == 0).all() and len(c.beyond_band()) == 0
    d = _json(c.to_dict())
    assert d["attribution_note"] == c.attribution_note and "attribution" not in d
    assert d["differing_stages"] == [] and d["labels"] == ["ref", "again"]
    text = c.summary().as_text()
    assert "attribution: no stage attribution: the methods are the same" in text
    # the band is named for what it is: A's methodological band over the uncertainty space
    assert ("0 unit(s) of Index move outside method A's methodological 5–95 % rank band over "
            "the uncertainty space") in text
    assert "noise" not in text


def test_compare_other_data_no_attribution(asem):
    """Two vintages (or any two data sets) and different methods: no attribution, and
    attribute_stages itself refuses with a clear error."""
    fw, data, ref, res_a = asem
    curr = _frame(pd.read_csv(ASEM / "asem_idata.csv"), fw)
    curr.loc[curr.index[0], fw.indicators[0]] *= 1.5
    res_b = compute_index(fw, curr, variants(ref)["winmax2"])
    c = cmp.compare(res_a, res_b)
    assert c.attribution is None and c.differing_stages == ["treatment"]
    assert c.attribution_note == "no stage attribution: framework or data differ between A and B"
    d = _json(c.to_dict())
    assert d["attribution"] == {"possible": False, "note": c.attribution_note}
    with pytest.raises(DataError, match="same data"):
        cmp.attribute_stages(res_a, res_b)
    # another framework (a node weight neither method sets): FrameworkError, a CityIndexError
    other = compute_index(fw.with_weights({"Conn": 3.0}), data, variants(ref)["winmax2"])
    with pytest.raises(FrameworkError, match="Conn"):
        cmp.attribute_stages(res_a, other)
    assert issubclass(FrameworkError, CityIndexError) and issubclass(DataError, CityIndexError)
    assert cmp.compare(res_a, other).attribution_note.startswith(
        "no stage attribution: framework or data differ")
    # the same file read twice is the same data: attribution goes ahead
    fw2 = Framework.load(ASEM / "asem_imeta.csv")
    again = compute_index(fw2, read_data(ASEM / "asem_idata.csv", fw2), variants(ref)["winmax2"])
    assert cmp.compare(res_a, again).attribution is not None


def test_compare_attribution_computes_only_hybrids(asem, monkeypatch):
    """compare() reuses A's and B's runs: compute_index runs only the 2^k − 2 hybrids."""
    import cityindex.model.pipeline as pipeline

    fw, data, ref, res_a = asem
    combined = (ref.replace("normalisation", {"method": "zscore", "mean": 10, "sd": 2})
                .replace("treatment.winmax", 2).replace("weights.Conn", 2.0))
    res_b = compute_index(fw, data, combined)
    specs, real = [], pipeline.compute_index

    def counting(framework, data, method=None):
        specs.append(method)
        return real(framework, data, method)

    monkeypatch.setattr(pipeline, "compute_index", counting)
    c = cmp.compare(res_a, res_b, top_k=5)
    att = c.attribution
    assert len(specs) == 2 ** 3 - 2 == att.n_runs - 2
    assert all(cmp.diff_specs(m, ref) and cmp.diff_specs(m, combined) for m in specs)
    assert att.combos[frozenset()] is res_a and att.combos[frozenset(range(3))] is res_b
    _sum_check(att)
    assert c.attribution_note == cmp.ALL_VALID
    d = _json(c.to_dict())
    assert d["attribution"]["possible"] and d["attribution"]["note"] == cmp.ALL_VALID
    assert d["attribution"]["stages"] == att.stages and d["differing_stages"] == att.stages
    text = c.summary().as_text()
    assert [ln for ln in text.splitlines() if ln.startswith("attribution:")] == [
        f"attribution: {cmp.ALL_VALID}"]
    assert "Stage attribution over 3 player(s)" in text


def test_attribution_weight_override_uses_framework_weights(asem):
    """A overrides a node weight, B does not: 'A with B's weights' must use the framework's
    own weight (not A's, which is all A's result still knows)."""
    fw, data, ref, res_ref = asem
    a = ref.replace("weights.Conn", 2.0).replace("treatment.winmax", 2)
    res_a = compute_index(fw, data, a)
    att = cmp.attribute_stages(res_a, res_ref)
    assert set(att.stages) == {"treatment", "weights"}
    direct = compute_index(fw, data, cmp.hybrid_spec(a, ref, ["weights"])).index_ranks
    oat = att.table[att.table["stage"] == "weights"].set_index("unit")["rank_oat"]
    expect = (direct - res_a.index_ranks).reindex(oat.index)
    assert np.allclose(oat, expect) and (expect != 0).any()
    _sum_check(att)


def test_attribute_stages_needs_every_difference(asem):
    fw, data, ref, res_a = asem
    combined = variants(ref)["winmax2"].replace("weights.Conn", 2.0)
    res_b = compute_index(fw, data, combined)
    with pytest.raises(MethodError, match="leave out .*weights.Conn"):
        cmp.attribute_stages(res_a, res_b, stages=["treatment"])
    att = cmp.attribute_stages(res_a, res_b, stages=["treatment.winmax", "weights.Conn"])
    assert att.stages == ["treatment.winmax", "weights.Conn"]
    _sum_check(att)
    with pytest.raises(MethodError, match="do not differ"):
        cmp.attribute_stages(res_a, res_a)


def test_compare_published_and_protocol_views(asem, asem_band):
    fw, data, ref, res_a = asem
    res_b = compute_index(fw, data, variants(ref)["geometric"])
    top = res_b.index_ranks.sort_values().head(8)
    pub = pd.DataFrame({"code": top.index, "rank": np.arange(1, 9)})
    c = cmp.compare(res_a, res_b, band=asem_band, published=pub)
    pc, att = c.published, c.attribution
    assert pc.n_overlap == 8 and pc.spearman == pytest.approx(1.0) and pc.source == "<DataFrame>"
    assert att is not None and att.trivial  # geometric + min-max [1, 100] only work together
    d = _json(c.to_dict())
    assert d["published"] == _json(pc.to_dict()) and d["published"]["n_overlap"] == 8
    assert d["attribution"] == _json(att.to_dict())
    assert d["nodes"][fw.root]["n_beyond_band"] == len(c.beyond_band())
    assert [r["unit"] for r in d["beyond_band_index"]] == list(c.beyond_band().index)
    # tidy frames are the tables; summaries are Summary objects; reprs are a few lines
    pd.testing.assert_frame_equal(c.to_frame(), c.shifts)
    pd.testing.assert_frame_equal(att.to_frame(), att.table)
    pd.testing.assert_frame_equal(pc.to_frame(), pc.table)
    for r in (c, att, pc):
        assert isinstance(r.summary(), Summary) and "<table>" in r.summary().as_html()
        text = repr(r)
        assert text.startswith(f"<{type(r).__name__}") and len(text.splitlines()) <= 6
    text = c.summary().as_text()
    assert "Ours vs published" in text and "Stage attribution" in text
    assert "method A's methodological 5–95 % rank band over the uncertainty space" in text
