"""validation.compare: method/data/framework comparisons, exact Shapley stage attribution,
vintages, published tables, figures and the ``cityindex compare`` command."""

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
from cityindex.model.errors import MethodError
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
    assert c.top.empty and "Comparison" in c.summary()


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
    json.dumps(c.to_dict(), default=str)


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
    att = cmp.attribute_stages(fw, data, ref, combined, nodes="all")
    assert att.n_runs == 8 and att.stages == ["treatment", "normalisation", "weights"]
    _sum_check(att)
    res_b = compute_index(fw, data, combined)
    idx = att.table[att.table["node"] == fw.root].groupby("unit")["rank_b"].first()
    assert (idx == res_b.index_ranks.reindex(idx.index)).all()
    # one stage only: Shapley share == OAT == total
    one = cmp.attribute_stages(fw, data, ref, variants(ref)["winmax2"])
    assert np.allclose(one.table["rank_shapley"], one.table["rank_oat"])
    assert np.allclose(one.table["rank_shapley"], one.table["rank_shift"])


def test_shapley_grouped_stages_geometric(asem):
    fw, data, ref, _ = asem
    combined = variants(ref)["geometric"].replace("treatment.winmax", 2)
    # the geometric mean alone on min-max [0, 100] hits zeros: without automatic grouping
    # the hybrid is refused as a method error (the data are not at fault)
    with pytest.raises(MethodError, match="A with B's aggregation"):
        cmp.attribute_stages(fw, data, ref, combined, auto_group=False)
    att = cmp.attribute_stages(fw, data, ref, combined,
                               stages=[("normalisation", "aggregation"), "treatment"])
    assert att.stages == ["normalisation+aggregation", "treatment"] and att.n_runs == 4
    assert not att.grouped and att.note == "" and att.invalid == []
    _sum_check(att)
    w = att.wide()
    assert np.allclose(w[att.stages].sum(axis=1), w["total"], atol=1e-9)
    assert isinstance(cmp.shapley_chart(att), Figure)


def test_shapley_auto_groups_invalid_hybrids(asem):
    """B = geometric mean on min-max [1, 100] + winmax 2: the hybrid 'A with B's geometric
    mean' hits A's min-max zeros, so normalisation and aggregation become one player."""
    fw, data, ref, res_a = asem
    combined = variants(ref)["geometric"].replace("treatment.winmax", 2)
    assert cmp.diff_specs(ref, combined) == ["treatment", "normalisation", "aggregation"]
    res_b = compute_index(fw, data, combined)
    att = cmp.attribute_stages(fw, data, ref, combined, nodes="all", result_a=res_a,
                               result_b=res_b)
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
    assert "note:" in att.summary() and "note:" not in att.summary(note=False)
    assert isinstance(cmp.shapley_chart(att), Figure)


def test_shapley_fallback_one_player(asem):
    """Only normalisation and aggregation differ and they only work together: no finer
    grouping exists, so both are one player and the attribution is trivial."""
    fw, data, ref, _ = asem
    b = variants(ref)["geometric"]
    att = cmp.attribute_stages(fw, data, ref, b)
    assert att.stages == ["normalisation+aggregation"] and att.trivial
    assert att.n_runs == 2 and "trivial" in att.note
    _sum_check(att)
    assert np.allclose(att.table["rank_shapley"], att.table["rank_shift"], atol=1e-9)


def test_candidate_groupings_finest_first():
    g = cmp._candidate_groupings(3)
    assert g[0] == ((0,), (1,), (2,)) and g[-1] == ((0, 1, 2),) and len(g) == 5
    assert g[1] == ((0,), (1, 2))  # adjacent stages merged before distant ones
    assert cmp._candidate_groupings(0) == [()]


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
    c = cmp.compare_vintages(fw, _frame(prev, fw), _frame(curr, fw), ref, nodes=None)
    idx = c.node()
    assert set(idx["arrow"]) <= set(cmp.ARROWS)
    assert (idx["arrow"] == "new").sum() == 3 and (idx["arrow"] == "exit").sum() == 1
    both = idx.dropna(subset=["rank_a", "rank_b"])
    assert ((both["arrow"] == "up") == (both["rank_b"] < both["rank_a"])).all()


def _frame(df: pd.DataFrame, fw) -> pd.DataFrame:
    code = "uCode" if "uCode" in df.columns else df.columns[0]
    return df.set_index(code)


def test_published_by_code_and_by_name():
    pub = REPO / "data" / "published" / "gdci_2021_top100.csv"
    table = pd.read_csv(pub)
    ours = pd.Series(np.arange(1, len(table) + 1, dtype=float)[::-1], index=table["code"])
    pc = cmp.compare_published(ours, pub)
    assert pc.n_overlap == 100 and pc.spearman == pytest.approx(-1.0)
    assert (pc.table["arrow"] != "").all()
    # without a code column: names matched through the registry
    no_code = table.drop(columns="code")
    same = pd.Series(table["rank"].to_numpy(float), index=table["code"])
    pn = cmp.compare_published(same, no_code)
    assert pn.n_unmatched <= 2 and pn.spearman == pytest.approx(1.0)
    assert (pn.table.dropna(subset=["rank_ours"])["rank_diff"] == 0).all()
    assert "Spearman" in pn.summary()


def test_figures(asem, asem_band):
    fw, data, ref, res_a = asem
    res_b = compute_index(fw, data, variants(ref)["rank"])
    c = cmp.compare_results(res_a, res_b, band=asem_band)
    assert isinstance(cmp.slope_chart(c, n=15), Figure)
    assert isinstance(cmp.rank_scatter(c), Figure)


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
