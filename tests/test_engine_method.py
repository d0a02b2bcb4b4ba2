"""Method specs: YAML round-trip, validation of keys and choices, and MethodSpec.replace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cityindex.model import MethodError, MethodSpec
from cityindex.model.stages import stage_methods

STAGE_METHODS = stage_methods()

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "data" / "methods").glob("*.yaml"))

OVERRIDES = {
    "name": "with overrides",
    "imputation": {"method": "group_median", "group": "subregion"},
    "screening": {"min_availability": 0.5, "force_include": ["U1"], "force_exclude": []},
    "treatment": {"method": "coinr", "winmax": 3},
    "normalisation": {"method": "minmax", "range": [1, 100]},
    "aggregation": {"method": "arithmetic"},
    "weights": {"P1": 0.7, "P2": 0.3},
    "overrides": {"levels": {2: {"aggregation": {"method": "geometric"}}},
                  "nodes": {"X1": {"treatment": {"force": True, "winmax": 1}},
                            "X2": {"normalisation": {"method": "goalposts",
                                                     "goalposts": [10, 50], "direction": -1}}}},
    "seed": 11,
}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_bundled_specs_round_trip(path, tmp_path):
    a = MethodSpec.load(path)
    b = MethodSpec.from_dict(yaml.safe_load(a.dump()))
    assert a == b and a.to_dict() == b.to_dict()
    a.dump(tmp_path / "m.yaml")
    c = MethodSpec.load(tmp_path / "m.yaml")
    assert c == a
    assert c.dump() == a.dump()  # dumping is stable


def test_spec_with_overrides_round_trips(tmp_path):
    a = MethodSpec.from_dict(OVERRIDES)
    (tmp_path / "m.yaml").write_text(a.dump())
    b = MethodSpec.load(tmp_path / "m.yaml")
    assert a == b
    assert b.level_overrides == {2: {"aggregation": {"method": "geometric"}}}
    assert b.resolve("treatment", "X1", 1) == {"method": "coinr", "winmax": 1, "force": True,
                                               "skew": 2.0, "kurtosis": 3.5,
                                               "log_fallback": True}
    assert b.resolve("aggregation", "P1", 2)["method"] == "geometric"
    assert b.resolve("normalisation", "X2", 1)["method"] == "goalposts"
    assert b.resolve("normalisation", "X3", 1) == {"method": "minmax", "range": [1, 100]}
    assert b.seed == 11 and b.weights == {"P1": 0.7, "P2": 0.3}


def test_override_with_other_method_replaces_section():
    spec = MethodSpec.from_dict({"normalisation": {"method": "minmax", "range": [1, 100]},
                                 "overrides": {"nodes": {"X": {"normalisation":
                                                               {"method": "zscore"}}}}})
    assert spec.resolve("normalisation", "X", 1) == {"method": "zscore", "mean": 0.0, "sd": 1.0}


@pytest.mark.parametrize("stage", sorted(STAGE_METHODS))
def test_unknown_choice_lists_valid_choices(stage):
    with pytest.raises(MethodError) as exc:
        MethodSpec.from_dict({stage: {"method": "nope"}}, origin="m.yaml")
    msg = str(exc.value)
    assert msg.startswith("m.yaml: ") and "'nope'" in msg
    for choice in STAGE_METHODS[stage]:
        assert f"'{choice}'" in msg


@pytest.mark.parametrize("spec,needles", [
    ({"normalisation": {"method": "minmax", "scale": 2}}, ["'scale'", "'range'", "'direction'"]),
    ({"treatment": {"method": "coinr", "win_max": 2}}, ["'win_max'", "'winmax'", "'force'"]),
    ({"screening": {"threshold": 0.5}}, ["'threshold'", "'min_availability'"]),
    ({"denomination": {"on": True}}, ["'on'", "'enabled'"]),
    ({"normalization": {"method": "minmax"}}, ["'normalization'", "'normalisation'"]),
    ({"overrides": {"nodes": {"X": {"screening": {}}}}}, ["'screening'", "'treatment'"]),
    ({"overrides": {"stages": {}}}, ["'levels'", "'nodes'"]),
])
def test_unknown_keys_rejected_with_valid_keys(spec, needles):
    with pytest.raises(MethodError) as exc:
        MethodSpec.from_dict(spec)
    for needle in needles:
        assert needle in str(exc.value)


def test_replace_paths():
    base = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml")
    s = base.replace("treatment.winmax", 3)
    assert s.stages["treatment"]["winmax"] == 3 and base.stages["treatment"]["winmax"] == 5
    # a method change keeps stale keys → validated: zscore takes no 'range'
    with pytest.raises(MethodError):
        base.replace("normalisation.method", "zscore")
    s = base.replace("weights.Conn", 2.0)
    assert s.weights == {"Conn": 2.0}
    s = base.replace("overrides.nodes.Flights.treatment.method", "none")
    assert s.resolve("treatment", "Flights", 1) == {"method": "none"}
    s = s.replace("overrides.levels.2.aggregation.method", "geometric")
    assert s.resolve("aggregation", "Physical", 2)["method"] == "geometric"
    s2 = s.replace("overrides.levels.2.aggregation.method", "harmonic")
    assert s2.resolve("aggregation", "Physical", 2)["method"] == "harmonic"
    assert s2.level_overrides.keys() == {2}
    assert MethodSpec.from_dict(yaml.safe_load(s2.dump())) == s2


@pytest.mark.parametrize("path,value", [
    ("treatment.nonsense", 3), ("normalisation.method", "nope"), ("nosuchstage.key", 1),
    ("treatment.winmax", "five"), ("weights.P1", -1), ("screening.min_availability", 2),
])
def test_replace_rejects_bad_paths_and_values(path, value):
    base = MethodSpec.load(REPO / "data" / "methods" / "asem.yaml")
    with pytest.raises(MethodError):
        base.replace(path, value)


def test_replace_does_not_mutate():
    base = MethodSpec.from_dict(OVERRIDES)
    before = base.to_dict()
    base.replace("overrides.nodes.X1.treatment.winmax", 4)
    assert base.to_dict() == before


def test_extends_merges_overrides_and_replaces_sections(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("imputation: {method: median}\ntreatment: {method: coinr, winmax: 3}\n"
                    "weights: {P1: 2}\noverrides: {nodes: {x1: {treatment: {method: none}}}}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\ntreatment: {method: log_ct}\nweights: {P2: 3}\n"
                     "overrides: {nodes: {x2: {imputation: {method: min}}}}\n")
    spec = MethodSpec.load(child)
    assert spec.stages["imputation"] == {"method": "median"}
    assert spec.stages["treatment"] == {"method": "log_ct"}  # replaced, not merged
    assert spec.weights == {"P1": 2.0, "P2": 3.0}
    assert set(spec.node_overrides) == {"x1", "x2"}
    assert MethodSpec.from_dict(yaml.safe_load(spec.dump())) == spec  # dumps resolved
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(MethodError, match="loops back"):
        MethodSpec.load(loop)
