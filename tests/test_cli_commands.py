"""Smoke-and-content tests of the analysis commands on COINr's ASEM data (fast settings)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cityindex.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"
INPUTS = ["-f", str(ASEM / "asem_imeta.csv"), "-d", str(ASEM / "asem_idata.csv"),
          "-m", str(ROOT / "data" / "methods" / "asem.yaml")]
SPACE = ["-s", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_validate_writes_nothing_and_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = invoke("validate", *INPUTS, *SPACE)
    assert "49 indicators" in out and "51 units" in out and "4 assumptions" in out
    assert list(tmp_path.iterdir()) == []


def test_validate_bad_space_exits_2(tmp_path):
    bad = tmp_path / "space.yaml"
    bad.write_text("assumptions:\n  x: {path: treatment.winmaxx, values: [1]}\n")
    res = CliRunner().invoke(app, ["validate", *INPUTS, "-s", str(bad)])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "winmaxx" in res.output


def test_uncertainty_cli_outputs(tmp_path):
    out = tmp_path / "ua"
    invoke("uncertainty", *INPUTS, *SPACE, "--n", 400, "--seed", 2, "--replications", "--nodes",
           "-o", out)
    stats = pd.read_csv(out / "rank_stats.csv", index_col=0)
    assert len(stats) == 51 and {"nominal", "median", "q5", "q95", "p_top10"} <= set(stats)
    assert (stats["q5"] <= stats["q95"]).all()
    reps = pd.read_parquet(out / "replications.parquet")
    assert reps.shape == (400, 4 + 51)
    assert set(reps["aggregation"]) == {"arithmetic", "geometric"}
    assert (out / "rank_stats_Conn.csv").exists()
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 2 and man["data"]["sha256"] and "numpy" in man["packages"]
    # same seed, two jobs: identical statistics
    out2 = tmp_path / "ua2"
    invoke("uncertainty", *INPUTS, *SPACE, "--n", 400, "--seed", 2, "--jobs", 2, "-o", out2)
    pd.testing.assert_frame_equal(stats.drop(columns=[]),
                                  pd.read_csv(out2 / "rank_stats.csv", index_col=0))


def test_sensitivity_cli_outputs(tmp_path):
    out = tmp_path / "sa"
    invoke("sensitivity", *INPUTS, *SPACE, "--n", 256, "--boot", 50, "-o", out)
    table = pd.read_csv(out / "sensitivity.csv")
    overall = table[table["output"] == "mean_abs_rank_shift"].set_index("factor")
    assert list(overall.index) == ["winmax", "normalisation", "weights", "aggregation"]
    # the aggregation choice dominates the mean rank shift on this design
    assert overall["ST"].idxmax() == "aggregation"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_runs"] == 256 * 6 and summary["warnings"]  # small N is warned about


def test_weights_cli_outputs(tmp_path):
    out = tmp_path / "w"
    invoke("weights", *INPUTS, "--boot", 30, "--no-loo", "-o", out)
    audit = pd.read_csv(out / "weight_audit.csv")
    assert set(audit["code"]) >= {"LPI", "Physical", "Conn"}
    assert {"cronbach.csv", "correlations.csv", "summary.txt", "manifest.json"} <= {
        p.name for p in out.iterdir()}


def test_validate_runs_every_alternative_of_the_space(tmp_path):
    # an alternative that imputes by 'subregion', which the ASEM data do not have (the bundled
    # default space had one before it switched to multiple imputation)
    space = tmp_path / "space.yaml"
    space.write_text("assumptions:\n  imputation:\n    path: imputation\n    values:\n"
                     "      - {method: median}\n"
                     "      - {method: group_mean, group: subregion, fallback: mean}\n")
    res = CliRunner().invoke(app, ["validate", *INPUTS, "-s", str(space)])
    assert res.exit_code == 2
    assert "subregion" in res.output and res.output.count("\n") == 1


def test_out_folder_with_user_files_is_never_replaced(tmp_path):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    res = CliRunner().invoke(app, ["compute", *INPUTS, "-o", str(precious)])
    assert res.exit_code == 2 and "not an earlier cityindex run" in res.output
    assert (precious / "notes.txt").read_text() == "keep"
    # an earlier run is replaced — only the files it wrote (issue 15: a file the user added to
    # a run folder is kept) —, an empty folder is used
    run = tmp_path / "run"
    invoke("compute", *INPUTS, "-o", run)
    (run / "stale.csv").write_text("x")
    invoke("compute", *INPUTS, "-o", run)
    assert (run / "scores.csv").exists() and (run / "stale.csv").read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()
    invoke("compute", *INPUTS, "-o", empty)
    assert (empty / "manifest.json").exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    res = CliRunner().invoke(app, ["compute", *INPUTS, "-o", str(a_file)])
    assert res.exit_code == 2 and a_file.read_text() == "x"


def test_imeta_unknown_type_is_an_error(tmp_path):
    meta = pd.read_csv(ASEM / "asem_imeta.csv", keep_default_na=False, na_values=["", "NA"])
    meta.loc[meta["iCode"] == "LPI", "Type"] = "Indicatr"
    bad = tmp_path / "imeta.csv"
    meta.to_csv(bad, index=False)
    res = CliRunner().invoke(app, ["compute", "-f", str(bad), *INPUTS[2:], "-o",
                                   str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "row 2" in res.output and "'Indicatr'" in res.output and "valid: Indicator" in res.output


def test_screening_before_imputation_is_the_default():
    from cityindex.model import compute_index

    spec = {"imputation": {"method": "group_mean", "group": "EurAsia_group"},
            "screening": {"min_availability": 0.9}}
    r = compute_index(ASEM / "asem_imeta.csv", ASEM / "asem_idata.csv", spec)
    out = set(r.screening.index[~r.screening["kept"]])
    assert out == {"BGD", "BRN", "KHM", "LAO", "MMR"}  # < 90 % of indicators observed
    assert (r.screening.loc[list(out), "observed_share"] < 0.9).all()
    assert set(r.log.loc[r.log.stage == "screening", "unit"]) == out
    # excluded units take no part in imputation: group means over the kept units only
    kept = r.screening.index[r.screening["kept"]]
    den = r.denominated.loc[kept]
    groups = pd.read_csv(ASEM / "asem_idata.csv").set_index("uCode")["EurAsia_group"]
    missing = [(u, c) for c in den.columns for u in den.index[den[c].isna()]]
    assert missing, "the kept units must have missing cells for this check"
    checked = 0
    for unit, col in missing:
        peers = [u for u in kept if groups[u] == groups[unit]]
        expect = den.loc[peers, col].mean()
        assert r.imputed.at[unit, col] == pytest.approx(expect, rel=1e-12), (unit, col)
        # the same group's mean over every unit, excluded ones included, would differ here
        every = r.denominated.loc[[u for u in r.denominated.index if groups[u] == groups[unit]],
                                  col].mean()
        checked += every != pytest.approx(expect)
    assert checked > 0  # at least one cell where leaving the excluded units out matters
    # COINr's order (measure: imputed) keeps all 51
    spec["screening"]["measure"] = "imputed"
    assert compute_index(ASEM / "asem_imeta.csv", ASEM / "asem_idata.csv",
                         spec).screening["kept"].all()


def test_duplicate_data_column_is_an_error(tmp_path):
    text = (ASEM / "asem_idata.csv").read_text().splitlines()
    header = text[0] + ',"LPI"'
    rows = [r + ",1" for r in text[1:]]
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join([header, *rows]) + "\n")
    res = CliRunner().invoke(app, ["validate", "-f", str(ASEM / "asem_imeta.csv"), "-d",
                                   str(bad)])
    assert res.exit_code == 2 and "column 'LPI' appears twice" in res.output


def test_manifest_records_file_hashes(tmp_path):
    import hashlib

    out = tmp_path / "ua"
    invoke("uncertainty", *INPUTS, *SPACE, "--n", 50, "-o", out)
    man = json.loads((out / "manifest.json").read_text())
    space_file = ROOT / "data" / "spaces" / "coinr_asem.yaml"
    assert man["space"]["sha256"] == hashlib.sha256(space_file.read_bytes()).hexdigest()
    assert man["framework"]["sha256"] == hashlib.sha256(
        (ASEM / "asem_imeta.csv").read_bytes()).hexdigest()
    assert man["method_file"]["sha256"] == hashlib.sha256(
        (ROOT / "data" / "methods" / "asem.yaml").read_bytes()).hexdigest()


def test_strict_yaml_for_method_files(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("imputation: {method: mean}\nimputation: {method: median}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    for path, needle in ((dup, "line 2: key 'imputation' given twice"), (empty, "is empty")):
        res = CliRunner().invoke(app, ["validate", *INPUTS[:4], "-m", str(path)])
        assert res.exit_code == 2 and needle in res.output


def test_weights_leave_one_out_with_node_overrides(tmp_path):
    """Leave-one-out removes nodes; the method's overrides of a removed node must not fail."""
    method = tmp_path / "m.yaml"
    method.write_text(f"extends: {ROOT / 'data' / 'methods' / 'asem.yaml'}\n"
                      "overrides: {nodes: {LPI: {treatment: {method: none}}}}\n")
    out = tmp_path / "w"
    invoke("weights", *INPUTS[:4], "-m", method, "--boot", 0, "-o", out)
    loo = pd.read_csv(out / "weight_audit.csv").set_index("code")
    assert loo.filter(like="loo").loc["LPI"].notna().any()


def test_seed_zero_overrides_the_method_file(tmp_path):
    """``--seed 0`` replaces a method file's seed; without ``--seed`` the file's seed holds."""
    method = tmp_path / "m.yaml"
    method.write_text(f"extends: {ROOT / 'data' / 'methods' / 'asem.yaml'}\nseed: 7\n")
    args = ["compute", "-f", str(ASEM / "asem_imeta.csv"), "-d", str(ASEM / "asem_idata.csv"),
            "-m", str(method)]
    for extra, expect in ((["--seed", "0"], 0), ([], 7), (["--seed", "3"], 3)):
        out = tmp_path / f"run{expect}"
        res = CliRunner().invoke(app, [*args, *extra, "-o", str(out)])
        assert res.exit_code == 0, res.output
        man = json.loads((out / "manifest.json").read_text())
        assert man["seed"] == expect and man["method"]["seed"] == expect
