"""A user's own index: init → edit → validate → audit (no --space); the default space built from
the framework and data; validate says what will happen; the data checks."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cityindex.cli import app
from cityindex.model import Framework, MethodSpec, compute_index
from cityindex.model.data import from_frame
from cityindex.model.datachecks import (JUMP_Z, check_data, check_duplicates, check_jumps,
                                        check_range, check_zeros)


def invoke(*args, code=0):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == code, res.output
    return res.output


def small_table(n=30, seed=1, region=False) -> pd.DataFrame:
    """8 indicators with two prefixes (eco_, soc_) over ``n`` units, 3 missing cells."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"unit": [f"U{i:02d}" for i in range(n)],
                       "name": [f"Unit {i}" for i in range(n)]})
    for p in ("eco", "soc"):
        for k in range(4):
            df[f"{p}_{k}"] = rng.gamma(2.0, 10.0, n).round(2)
    df = df.rename(columns={"soc_0": "soc_internet_pct"})
    df["soc_internet_pct"] = rng.uniform(20, 95, n).round(1)
    df.loc[3, "eco_1"] = np.nan
    df.loc[7, "soc_2"] = np.nan
    df.loc[9, "eco_3"] = np.nan
    if region:
        df["region"] = ["North", "South", "East"] * (n // 3) + ["North"] * (n % 3)
    return df


# ---------------------------------------------------------------- a fresh user's path
def test_fresh_user_path_init_edit_validate_audit(tmp_path):
    data = tmp_path / "mydata.csv"
    small_table().to_csv(data, index=False)
    out = invoke("init", data, "-o", tmp_path / "myindex")
    fw_file = tmp_path / "myindex" / "framework.yaml"
    assert "TO FILL IN" in out and fw_file.exists()
    text = fw_file.read_text()
    assert text.count("TO FILL IN") >= 8 and "range: [0, 100]" in text  # the pct column
    assert re.search(r'code: "ECO".*parent: "INDEX", level: 2', text)   # one pillar / prefix
    # edit: two directions, the pillar weights 0.6 / 0.3
    text = text.replace("direction: 1   # TO FILL IN", "direction: -1  # edited", 1)
    text = text.replace('code: "ECO", name: "eco", parent: "INDEX", level: 2, weight: 1',
                        'code: "ECO", name: "eco", parent: "INDEX", level: 2, weight: 0.6')
    text = text.replace('code: "SOC", name: "soc", parent: "INDEX", level: 2, weight: 1',
                        'code: "SOC", name: "soc", parent: "INDEX", level: 2, weight: 0.3')
    fw_file.write_text(text)
    method = tmp_path / "myindex" / "method.yaml"
    v = invoke("validate", "-f", fw_file, "-d", data, "-m", method)
    assert "ECO 0.6 → 0.667, SOC 0.3 → 0.333" in v
    assert f"method in force: {method} (--method)" in v
    assert "imputation (none): 0 cells will be imputed; 3 left missing" in v
    assert "valid:" in v
    run = tmp_path / "run"
    invoke("audit", "-f", fw_file, "-d", data, "-m", method, "--quick", "--no-bayes",
           "--n", 60, "--n-sobol", 16, "--quiet", "-o", run)
    assert (run / "index.html").exists() and (run / "space.yaml").exists()
    man = json.loads((run / "manifest.json").read_text())
    assert man["space"]["INDEX"]["source"].startswith("built from the framework and data")
    assert man["method_source"] == f"{method} (--method)"
    html = (run / "index.html").read_text()
    assert "Data checks" in html and "0 flagged" in html
    # the space written can be edited and passed back
    sp = (run / "space.yaml").read_text().replace("factor: 0.25", "factor: 0.1")
    (tmp_path / "edited.yaml").write_text(sp)
    v2 = invoke("validate", "-f", fw_file, "-d", data, "-m", method, "-s",
                tmp_path / "edited.yaml")
    assert "edited.yaml: 6 assumptions" in v2
    # init never overwrites
    res = CliRunner().invoke(app, ["init", str(data), "-o", str(tmp_path / "myindex")])
    assert res.exit_code == 2 and "exist" in res.output


def test_init_flat_tree_without_prefixes(tmp_path):
    df = small_table().rename(columns=lambda c: c.replace("_", "") if c != "unit" else c)
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    invoke("init", data, "-o", tmp_path / "s")
    fw = Framework.load(tmp_path / "s" / "framework.yaml")
    assert fw.max_level == 2 and len(fw.indicators) == 8
    invoke("validate", "-f", tmp_path / "s" / "framework.yaml", "-d", data,
           "-m", tmp_path / "s" / "method.yaml", "-s", tmp_path / "s" / "space.yaml")


# ---------------------------------------------------------------- the default space
def _fw(flat=False) -> Framework:
    nodes = [{"code": "IDX", "level": 3 if not flat else 2}]
    if flat:
        nodes += [{"code": c, "parent": "IDX", "level": 1} for c in
                  ["eco_0", "eco_1", "eco_2", "eco_3", "soc_internet_pct", "soc_1", "soc_2",
                   "soc_3"]]
    else:
        nodes += [{"code": "ECO", "parent": "IDX", "level": 2, "weight": 0.6},
                  {"code": "SOC", "parent": "IDX", "level": 2, "weight": 0.3}]
        nodes += [{"code": f"eco_{k}", "parent": "ECO", "level": 1} for k in range(4)]
        nodes += [{"code": c, "parent": "SOC", "level": 1}
                  for c in ["soc_internet_pct", "soc_1", "soc_2", "soc_3"]]
    return Framework.from_dict({"nodes": nodes}, origin="user.yaml")


def _data(fw, **kw):
    t = small_table(**kw).set_index("unit")
    meta = t[[c for c in t.columns if c not in fw.indicators]]
    return from_frame(t[fw.indicators], fw, meta=meta)


def test_default_space_adapts_to_framework_and_data():
    from cityindex.validation.space import default_space, load_space

    fw = _fw()
    r = compute_index(fw, _data(fw), MethodSpec.from_dict(None))
    sp = load_space(None, r)
    assert sp.built and "group_median" not in sp.text          # no group column
    assert [v["method"] for v in sp["imputation"].values] == ["none", "median"]
    assert sp["weights"].params["nodes"] == ["ECO", "SOC"]     # the aggregate level present
    assert sp["drop_indicator"].n_levels == 9                  # none + 8 indicators
    # a group column → group median; no missing cell → no imputation assumption
    d = _data(fw, region=True)
    sp = default_space(fw, d, MethodSpec.from_dict(None))
    assert {"method": "group_median", "group": "region", "fallback": "median"} in \
        sp["imputation"].values
    full = d.values.fillna(1.0)
    d2 = from_frame(full, fw, meta=d.meta)
    assert "imputation" not in default_space(fw, d2, MethodSpec.from_dict(None)).names
    # a flat tree: noise on the indicators' weights
    flat = _fw(flat=True)
    sp = default_space(flat, _data(flat), MethodSpec.from_dict(None))
    assert sp["weights"].params["nodes"] == flat.indicators


def test_bundled_framework_keeps_bundled_default_space():
    from cityindex.model import bundled, read_data
    from cityindex.validation.space import load_space

    fw = Framework.load(bundled.framework_path("gdci"))
    r = compute_index(fw, read_data(bundled.panel_path(), fw),
                      MethodSpec.load(bundled.default_method_for("gdci")))
    sp = load_space(None, r)
    assert not sp.built and sp.origin == str(bundled.space_path())


def test_validate_reports_left_missing_not_imputed(tmp_path):
    fw = tmp_path / "fw.yaml"
    fw.write_text(json.dumps(_fw().to_dict()))
    data = tmp_path / "d.csv"
    small_table().to_csv(data, index=False)
    out = invoke("validate", "-f", fw, "-d", data)
    assert "0 cells will be imputed; 3 left missing" in out
    assert "method in force: the built-in defaults" in out
    assert "built from the framework and data" in out
    run = tmp_path / "run"
    invoke("compute", "-f", fw, "-d", data, "-o", run)
    man = json.loads((run / "manifest.json").read_text())
    assert man["method_source"].startswith("the built-in defaults")


# ---------------------------------------------------------------- data checks
def test_range_check_flags_values_outside_declared_range():
    fw = Framework.from_dict({"nodes": [
        {"code": "I", "level": 2}, {"code": "a", "parent": "I", "range": [0, 100]},
        {"code": "b", "parent": "I"}]})
    v = pd.DataFrame({"a": [5.0, 101.0, -1.0, np.nan], "b": [1e9, 2, 3, 4]},
                     index=list("wxyz"))
    out = check_range(v, fw)
    assert list(out["unit"]) == ["x", "y"] and list(out["value"]) == [101.0, -1.0]
    assert set(out["indicator"]) == {"a"}     # b declares no range


def test_zero_check_needs_a_lone_zero_in_a_group_well_above():
    v = pd.DataFrame({"x": [0, 50, 60, 70, 80, 90, 0, 0, 5, 6, 7, 8, 9]},
                     index=[f"u{i}" for i in range(13)], dtype=float)
    g = pd.Series(["A"] * 6 + ["B"] * 7, index=v.index)
    out = check_zeros(v, g)
    assert list(out["unit"]) == ["u0"]        # group B has two zeros: counts may be 0
    # too few peers: not flagged
    assert check_zeros(v.iloc[:4], g.iloc[:4]).empty
    # one peer near zero (below ZERO_RATIO × median): not flagged
    v2 = v.copy()
    v2.loc["u1", "x"] = 1.0
    assert check_zeros(v2, g).empty
    # no groups: the whole sample
    assert check_zeros(v.iloc[:6]).unit.tolist() == ["u0"]


def test_jump_check_on_a_hand_made_long_frame():
    years = list(range(2015, 2021))
    rows = []
    for u, base in (("A", 10.0), ("B", 20.0), ("C", 30.0), ("D", 40.0)):
        for k, y in enumerate(years):
            rows.append({"unit": u, "year": y, "x": base + k * 0.5, "y": base})
    t = pd.DataFrame(rows)
    t.loc[(t.unit == "C") & (t.year == 2018), "x"] = 300.0      # a typo-sized jump
    out = check_jumps(t.sample(frac=1, random_state=0), ["x", "y"])
    # the jump up in 2018 and the jump back down in 2019
    assert list(zip(out["unit"], out["indicator"])) == [("C", "x"), ("C", "x")]
    assert "in 2017 → 300 in 2018" in out["detail"].iloc[0]
    assert "in 2019" in out["detail"].iloc[1]
    assert JUMP_Z > 3
    assert check_jumps(t.drop(columns="year"), ["x"]).empty     # no year column: no check


def test_duplicate_check_and_no_edit():
    v = pd.DataFrame({"a": [1.0, 1.0, 2.0, 0.0], "b": [3.0, 3.0, 4.0, 0.0],
                      "c": [np.nan, np.nan, 5.0, 1.0], "d": [7.0, 7.0, 1.0, 0.0]},
                     index=["p", "q", "r", "s"])
    out = check_duplicates(v)
    assert list(out["unit"]) == ["q"] and "'p'" in out["detail"].iloc[0]
    fw = Framework.from_dict({"nodes": [{"code": "I", "level": 2}] + [
        {"code": c, "parent": "I", "range": [0, 5]} for c in "abcd"]})
    d = from_frame(v, fw)
    before = d.values.copy()
    checks = check_data(d, fw)
    pd.testing.assert_frame_equal(d.values, before)          # never an edit
    assert set(checks["check"]) == {"duplicate", "range"}    # d = 7 > 5


def test_bundled_panel_checks():
    """The bundled panel's data checks (listed in the issue-19 report). Saipan's internet
    share was a 1995 value of 0 % (stale; build_panel.py now leaves it missing); Pyongyang
    keeps ITU's official 0 %, still flagged, as are zeros that are true by the panel's rules
    (Suez, Piraeus and Ann Arbor have no airport of their own; Canberra is inland)."""
    import math

    from cityindex.model import bundled, read_data

    fw = Framework.load(bundled.framework_path("gdci"))
    d = read_data(bundled.panel_path(), fw)
    assert fw.nodes["ctry_internet_users_pct"].range == (0.0, 100.0)
    assert math.isnan(d.values.loc["MP-SAIPAN", "ctry_internet_users_pct"])
    out = check_data(d, fw, MethodSpec.load(bundled.default_method_for("gdci")))
    assert (out["check"] == "zero").all() and len(out) == 9
    flagged = set(zip(out["unit"], out["indicator"]))
    assert ("KP-PYONGYANG", "ctry_internet_users_pct") in flagged
    assert ("EG-SUEZ", "of_nonstop_dest_airports") in flagged


@pytest.mark.parametrize("cmd", ["validate"])
def test_validate_prints_data_checks(tmp_path, cmd):
    t = small_table()
    t.loc[5, "soc_internet_pct"] = 120.0
    data = tmp_path / "d.csv"
    t.to_csv(data, index=False)
    fwd = _fw().to_dict()
    for n in fwd["nodes"]:
        if n["code"] == "soc_internet_pct":
            n["range"] = [0, 100]
    fw = tmp_path / "fw.yaml"
    fw.write_text(json.dumps(fwd))
    out = invoke(cmd, "-f", fw, "-d", data)
    assert "range: U05, soc_internet_pct = 120" in out
    assert pd.read_csv(data)["soc_internet_pct"].iloc[5] == 120.0


def test_starter_comments_cannot_inject_yaml(tmp_path):
    """A group column or note text holding a line break stays inside its comment: the written
    method and space read back with only the keys the starter wrote."""
    from cityindex.starter import method_text
    from cityindex.validation.space import space_yaml

    hostile = "region\nimputation: {method: mean}"
    m = yaml.safe_load(method_text({}, hostile))
    assert m["imputation"] == {"method": "none"}
    text = space_yaml({"name": "s", "assumptions": {}}, [f"group column {hostile}"])
    assert all(line.startswith("#") for line in text.splitlines()[:3])
    assert "imputation" not in yaml.safe_load(text)
