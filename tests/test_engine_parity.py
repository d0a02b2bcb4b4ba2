"""Exact parity of the deterministic engine with COINr 1.1.14 on the ASEM example.

Oracles: tests/data/coinr_asem/*.csv, produced by COINr 1.1.14 ``build_example_coin()``
(copied from shared/reference/coinr_asem/, see SOURCE.md and README.md there). Every stage
table must equal the reference to 1e-9 absolute in every cell with the same NaN pattern; the
treatment details and the results table (scores rounded to 6 decimals, ranks) must match.
The same is checked through the CLI on the COINr CSVs directly, with its manifest.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cityindex.model import compute_index
from cityindex.cli import app

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "tests" / "data" / "coinr_asem"
IMETA = REF / "asem_imeta.csv"
IDATA = REF / "asem_idata.csv"
METHOD = REPO / "data" / "methods" / "asem.yaml"
STAGES = ("denominated", "imputed", "screened", "treated", "normalised", "aggregated")
TOL = 1e-9
INDICATORS = set(pd.read_csv(IMETA).query("Type == 'Indicator'")["iCode"])


def read_ref(name: str, index: str | None = "uCode") -> pd.DataFrame:
    df = pd.read_csv(REF / name, keep_default_na=False, na_values=["", "NA"])
    return df.set_index(index) if index else df


def assert_table_equal(ours: pd.DataFrame, ref: pd.DataFrame, what: str) -> None:
    """Same units, same columns, same NaN pattern, every cell within TOL."""
    assert sorted(map(str, ours.index)) == sorted(map(str, ref.index)), f"{what}: units differ"
    # indicators in framework order; COINr lists the aggregates of a level alphabetically,
    # we keep the framework's display order, so compare the aggregate columns as a set
    assert sorted(ours.columns) == sorted(ref.columns), f"{what}: columns differ"
    n_ind = sum(1 for c in ref.columns if c in INDICATORS)
    assert list(ours.columns[:n_ind]) == list(ref.columns[:n_ind]), f"{what}: indicator order"
    ours = ours.loc[ref.index, ref.columns].astype(float).to_numpy()
    refv = ref.astype(float).to_numpy()
    nan_o, nan_r = np.isnan(ours), np.isnan(refv)
    assert (nan_o == nan_r).all(), (
        f"{what}: NaN pattern differs at {np.argwhere(nan_o != nan_r)[:5].tolist()}")
    diff = np.abs(np.where(nan_r, 0.0, ours - refv))
    i, j = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff.max() <= TOL, (f"{what}: max |diff| {diff.max():.3g} at unit "
                               f"{ref.index[i]}, column {ref.columns[j]}")


@pytest.fixture(scope="module")
def result():
    return compute_index(IMETA, IDATA, METHOD)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_table_matches_coinr(result, stage):
    assert_table_equal(getattr(result, stage), read_ref(f"asem_{stage}.csv"), stage)


def test_raw_matches_coinr(result):
    assert_table_equal(result.raw, read_ref("asem_raw.csv"), "raw")


def _ref_details() -> pd.DataFrame:
    ref = read_ref("asem_treat_details.csv", "iCode")
    return ref.rename(columns={"check_SkewKurt0.Pass": "pass0", "check_SkewKurt0.Skew": "skew0",
                               "check_SkewKurt0.Kurt": "kurt0", "winsorise.nwin": "nwin",
                               "check_SkewKurt1.Pass": "pass1", "check_SkewKurt1.Skew": "skew1",
                               "check_SkewKurt1.Kurt": "kurt1"})


def test_treatment_details_match_coinr(result):
    ref = _ref_details()
    ours = result.treatment.loc[ref.index]
    assert list(ours.index) == list(result.framework.indicators)
    # pass flags before treatment
    assert ours["pass0"].astype(bool).tolist() == ref["pass0"].astype(bool).tolist()
    # points winsorised: COINr gives NA for untreated indicators
    assert ours["nwin"].tolist() == ref["nwin"].fillna(0).astype(int).tolist()
    assert (ref["nwin"].notna() == (ours["action"] == "winsorised")).all()
    for col in ("skew0", "kurt0", "skew1", "kurt1"):
        o, r = ours[col].astype(float).to_numpy(), ref[col].astype(float).to_numpy()
        assert (np.isnan(o) == np.isnan(r)).all(), col
        assert np.nanmax(np.abs(o - r)) <= TOL, col
    treated = ref["pass1"].notna()
    assert ours.loc[treated, "pass1"].astype(bool).tolist() == \
        ref.loc[treated, "pass1"].astype(bool).tolist()
    assert ours.loc[~treated, "pass1"].isna().all()
    assert ref["nwin"].sum() == 35 and treated.sum() == 15


def _ref_results() -> pd.DataFrame:
    return read_ref("asem_results_full.csv", index=None)


def _unit_of_rows(ref_results: pd.DataFrame) -> list[str]:
    """asem_results_full.csv has no unit column: identify each row by its Index score."""
    agg = read_ref("asem_aggregated.csv")
    idx = agg["Index"].round(6)
    units = []
    for score in ref_results["Index"]:
        match = idx.index[np.isclose(idx.to_numpy(), score, atol=5e-7, rtol=0)]
        assert len(match) == 1, score
        units.append(match[0])
    return units


def test_results_table_matches_coinr(result):
    ref = _ref_results()
    units = _unit_of_rows(ref)
    table = result.results_table()
    # our results table is sorted by index rank, like COINr's
    assert table["unit"].tolist() == units
    assert table["Index_rank"].tolist() == ref["Rank"].tolist()
    assert result.index_ranks.loc[units].astype(int).tolist() == ref["Rank"].tolist()
    cols = [c for c in ref.columns if c != "Rank"]
    ours = result.aggregated.loc[units, cols].round(6).to_numpy()
    refv = ref[cols].to_numpy(float)
    assert (np.isnan(ours) == np.isnan(refv)).all()
    assert np.nanmax(np.abs(ours - refv)) <= 1e-12
    for code in result.framework.aggregates:
        assert np.allclose(table[f"{code}_score"].round(6), ref[code], atol=1e-12, rtol=0)


# ------------------------------------------------------------------ through the CLI
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "asem"
    res = CliRunner().invoke(app, ["compute", "--framework", str(IMETA), "--data", str(IDATA),
                                   "--method", str(METHOD), "--out", str(out), "--seed", "7"])
    assert res.exit_code == 0, res.output
    return out


def _read_out(path: Path, index: str) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=["", "NA"]).set_index(index)


@pytest.mark.parametrize("stage", STAGES)
def test_cli_stage_csv_matches_coinr(cli_run, stage):
    ours = _read_out(cli_run / f"{stage}.csv", "unit")
    ours.index.name = "uCode"
    assert_table_equal(ours, read_ref(f"asem_{stage}.csv"), f"cli {stage}")


def test_cli_scores_and_treatment_match_coinr(cli_run):
    ref = _ref_results()
    units = _unit_of_rows(ref)
    scores = pd.read_csv(cli_run / "scores.csv", keep_default_na=False, na_values=[""])
    assert scores["unit"].tolist() == units
    assert scores["Index_rank"].tolist() == ref["Rank"].tolist()
    for code in ("Index", "Conn", "Sust", "Physical", "SusEcFin"):
        assert np.allclose(scores[f"{code}_score"].round(6), ref[code], atol=1e-12, rtol=0)
    treat = pd.read_csv(cli_run / "treatment.csv").set_index("code")
    rd = _ref_details()
    assert treat.loc[rd.index, "nwin"].tolist() == rd["nwin"].fillna(0).astype(int).tolist()
    assert np.allclose(treat.loc[rd.index, "skew0"], rd["skew0"], atol=TOL, rtol=0)


def test_cli_manifest(cli_run):
    m = json.loads((cli_run / "manifest.json").read_text())
    assert m["command"] == "compute"
    assert m["seed"] == 7
    assert m["data"]["sha256"] == hashlib.sha256(IDATA.read_bytes()).hexdigest()
    assert m["data"]["n_units"] == 51
    spec = m["method"]
    assert spec["imputation"] == {"method": "group_mean", "group": "EurAsia_group"}
    assert spec["treatment"]["winmax"] == 5 and spec["normalisation"]["method"] == "minmax"
    assert spec["seed"] == 7
    for pkg in ("python", "numpy", "pandas", "scipy"):
        assert pkg in m["packages"]
    assert m["packages"]["numpy"] == metadata.version("numpy")
    assert m["packages"]["pandas"] == metadata.version("pandas")
    assert "time" in m
    # nothing else left behind next to the run folder (atomic write)
    assert [p.name for p in cli_run.parent.iterdir()] == [cli_run.name]
