"""Bad input at the boundary: every kind fails with a one-line message naming the file and the
row/column (or node/key) at fault, a non-zero exit from ``cityindex compute``, no traceback and
no output folder (run folders are written atomically)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cityindex.cli import app

FRAMEWORK = {"index": "Index", "nodes": [
    {"code": "Index", "level": 3},
    {"code": "P1", "parent": "Index", "level": 2, "weight": 1},
    {"code": "P2", "parent": "Index", "level": 2, "weight": 1},
    {"code": "x1", "parent": "P1", "level": 1, "weight": 1, "direction": 1},
    {"code": "x2", "parent": "P1", "level": 1, "weight": 1, "direction": -1},
    {"code": "x3", "parent": "P2", "level": 1, "weight": 1, "direction": 1, "denominator": "pop"},
    {"code": "x4", "parent": "P2", "level": 1, "weight": 1, "direction": 1}]}
DATA = """uCode,name,grp,pop,x1,x2,x3,x4
A,Alpha,g1,10,1,5,3,2
B,Beta,g1,20,2,4,,4
C,Gamma,g2,30,3,3,9,1
D,Delta,g2,40,4,2,8,7
E,Eps,g2,50,5,1,5,3
"""
METHOD = "normalisation: {method: minmax, range: [0, 100]}\n"


class Case:
    def __init__(self, tmp: Path):
        self.dir = tmp
        self.fw = copy.deepcopy(FRAMEWORK)
        self.fw_text: str | None = None
        self.data = DATA
        self.method = METHOD
        self.out = tmp / "out"

    def node(self, code: str) -> dict:
        return next(n for n in self.fw["nodes"] if n["code"] == code)

    def set_cell(self, unit: str, col: str, value: str) -> None:
        lines = self.data.strip().split("\n")
        header = lines[0].split(",")
        j = header.index(col)
        for i, line in enumerate(lines):
            cells = line.split(",")
            if cells[0] == unit:
                cells[j] = value
                lines[i] = ",".join(cells)
        self.data = "\n".join(lines) + "\n"

    def set_column(self, col: str, values: list[str]) -> None:
        for unit, v in zip("ABCDE", values):
            self.set_cell(unit, col, v)

    def drop_column(self, col: str) -> None:
        lines = [line.split(",") for line in self.data.strip().split("\n")]
        j = lines[0].index(col)
        self.data = "\n".join(",".join(c[:j] + c[j + 1:]) for c in lines) + "\n"

    def paths(self) -> dict[str, Path]:
        p = {"fw": self.dir / "framework.yaml", "data": self.dir / "data.csv",
             "method": self.dir / "method.yaml"}
        p["fw"].write_text(self.fw_text if self.fw_text is not None else yaml.safe_dump(self.fw))
        p["data"].write_text(self.data)
        p["method"].write_text(self.method)
        return p

    def check_fails(self, *needles: str, args: list[str] | None = None) -> str:
        """Run ``cityindex compute``; assert a clean one-line failure containing ``needles``."""
        p = self.paths()
        argv = args or ["compute", "--framework", str(p["fw"]), "--data", str(p["data"]),
                        "--method", str(p["method"]), "--out", str(self.out)]
        res = CliRunner().invoke(app, argv)
        text = res.output.strip()
        assert res.exit_code != 0, text
        assert isinstance(res.exception, SystemExit), repr(res.exception)  # no crash
        assert "Traceback" not in text
        assert len(text.splitlines()) == 1, text
        assert text.startswith("error: ")
        for needle in needles:
            assert needle in text, f"{needle!r} not in {text!r}"
        assert not self.out.exists()
        assert not [q for q in self.dir.iterdir() if q.name.startswith(".out")]  # no partial run
        return text


@pytest.fixture
def case(tmp_path) -> Case:
    return Case(tmp_path)


def test_good_input_runs(case):
    p = case.paths()
    res = CliRunner().invoke(app, ["compute", "-f", str(p["fw"]), "-d", str(p["data"]), "-m",
                                   str(p["method"]), "-o", str(case.out)])
    assert res.exit_code == 0, res.output
    assert (case.out / "scores.csv").exists()


# ------------------------------------------------------------------ data
def test_missing_indicator_column(case):
    case.drop_column("x4")
    case.check_fails("data.csv", "indicator column", "x4")


def test_non_numeric_cell(case):
    case.set_cell("C", "x1", "abc")
    case.check_fails("data.csv", "row 4", "unit C", "column 'x1'", "'abc'")


def test_duplicate_unit_codes(case):
    case.set_cell("D", "uCode", "C")
    case.check_fails("data.csv", "row 5", "column 'uCode'", "duplicate unit code 'C'", "row 4")


def test_empty_unit_code(case):
    case.set_cell("D", "uCode", "")
    case.check_fails("data.csv", "row 5", "column 'uCode'", "empty unit code")


def test_all_missing_indicator(case):
    case.set_column("x4", [""] * 5)
    case.check_fails("data.csv", "column 'x4'", "missing for every unit")


def test_zero_variance_indicator(case):
    case.set_column("x4", ["3"] * 5)
    case.check_fails("data.csv", "column 'x4'", "zero variance")


@pytest.mark.parametrize("token", ["inf", "-inf", "Infinity"])
def test_infinite_value(case, token):
    case.set_cell("C", "x1", token)
    case.check_fails("data.csv", "row 4", "unit C", "column 'x1'", "infinite")


def test_no_unit_code_column(case):
    case.data = case.data.replace("uCode,", "id,", 1)
    case.check_fails("data.csv", "unit-code column")


def test_missing_data_file(case):
    p = case.paths()
    case.check_fails("nope.csv", "not found", args=["compute", "-f", str(p["fw"]), "-d",
                                                str(case.dir / "nope.csv"), "-o", str(case.out)])


# ------------------------------------------------------------------ computation on bad values
def test_non_positive_value_under_geometric_mean(case):
    case.method = "normalisation: {method: minmax, range: [0, 100]}\naggregation: {method: geometric}\n"
    # min-max [0, 100] maps x1's minimum (unit A) and x2's best-is-low maximum (unit A) to 0
    case.check_fails("data.csv", "row 2", "unit A", "column 'x1'", "geometric", "'P1'",
               "A/x1=0", "A/x2=0", "[1, 100]")


def test_non_positive_value_under_harmonic_mean(case):
    case.method = "aggregation: {method: harmonic}\n"
    case.check_fails("data.csv", "unit A", "column 'x1'", "harmonic")


def test_non_positive_value_under_log_treatment(case):
    case.set_cell("C", "x2", "0")
    case.method = "treatment: {method: log}\n"
    case.check_fails("data.csv", "row 4", "unit C", "column 'x2'", "log", "not positive")


def test_zero_denominator(case):
    case.set_cell("C", "pop", "0")
    case.check_fails("data.csv", "row 4", "unit C", "column 'pop'", "denominator of 'x3'")


def test_missing_denominator_column(case):
    case.data = case.data.replace(",pop,", ",popx,", 1)
    case.check_fails("data.csv", "denominator column", "pop")


def test_missing_group_column_for_group_imputation(case):
    case.method = "imputation: {method: group_mean, group: region}\n"
    case.check_fails("data.csv", "group column 'region'")


# ------------------------------------------------------------------ framework
def test_framework_duplicate_code(case):
    case.fw["nodes"].append(dict(case.node("x1")))
    case.check_fails("framework.yaml", "duplicate node code 'x1'")


def test_framework_unknown_parent(case):
    case.node("x1")["parent"] = "P9"
    case.check_fails("framework.yaml", "node 'x1'", "unknown parent 'P9'")


def test_framework_cycle(case):
    case.node("Index")["parent"] = "P1"
    case.check_fails("framework.yaml", "cycle", "Index -> P1 -> Index")


@pytest.mark.parametrize("weight", [0, -1, ".nan"])
def test_framework_non_positive_weight(case, weight):
    case.node("x2")["weight"] = weight if weight != ".nan" else float("nan")
    case.check_fails("framework.yaml", "node 'x2'", "weight")


def test_framework_non_numeric_weight(case):
    case.node("x2")["weight"] = "heavy"
    case.check_fails("framework.yaml", "node 'x2'", "heavy")


def test_framework_mixed_levels(case):
    case.node("x2")["parent"] = "Index"
    case.check_fails("framework.yaml", "children of 'Index'", "mixed levels", "x2=1")


def test_framework_no_aggregation_level(case):
    """Case B11 (COINr issue #52): indicators only, no parent."""
    case.fw = {"nodes": [{"code": f"x{i}", "level": 1, "weight": 1, "direction": 1}
                         for i in range(1, 5)]}
    case.check_fails("framework.yaml", "no aggregation level", "x1, x2, x3, x4")


def test_framework_bad_direction(case):
    case.node("x1")["direction"] = 0
    case.check_fails("framework.yaml", "node 'x1'", "direction")


def test_framework_unknown_node_key(case):
    case.node("x1")["wieght"] = 2
    case.check_fails("framework.yaml", "node 'x1'", "wieght", "valid keys")


def test_framework_bad_goalposts(case):
    case.node("x1")["goalposts"] = "low"
    case.check_fails("framework.yaml", "node 'x1'", "goalposts")


def test_framework_invalid_yaml(case):
    case.fw_text = "nodes: [\n  {code: x1,\n"
    case.check_fails("framework.yaml", "not valid YAML")


def test_framework_nodes_not_a_list(case):
    case.fw_text = "nodes: 5\n"
    case.check_fails("framework.yaml", "'nodes' list")


def test_missing_framework_file(case):
    p = case.paths()
    case.check_fails("nope.yaml", "not found", args=["compute", "-f", str(case.dir / "nope.yaml"),
                                                 "-d", str(p["data"]), "-o", str(case.out)])


# ------------------------------------------------------------------ method spec
def test_method_unknown_key(case):
    case.method = "normalisation: {method: minmax, rnge: [0, 100]}\n"
    case.check_fails("method.yaml", "'rnge'", "valid: ['direction', 'method', 'range']")


def test_method_unknown_choice_lists_valid_choices(case):
    case.method = "normalisation: {method: minmaxx}\n"
    case.check_fails("method.yaml", "'minmaxx'", "valid: ['borda', 'dist2max'", "'zscore']")


def test_method_unknown_section(case):
    case.method = "normalization: {method: minmax}\n"
    case.check_fails("method.yaml", "'normalization'", "'normalisation'")


@pytest.mark.parametrize("text,needle", [
    ("normalisation: {method: minmax, range: [100, 0]}\n", "normalisation.range"),
    ("normalisation: {method: minmax, range: abc}\n", "normalisation.range"),
    ("treatment: {method: coinr, winmax: five}\n", "treatment.winmax"),
    ("treatment: {method: coinr, force: 1}\n", "treatment.force"),
    ("screening: {min_availability: 1.5}\n", "screening.min_availability"),
    ("screening: {min_availability: high}\n", "screening.min_availability"),
    ("screening: {measure: imputd}\n", "screening.measure"),
    ("normalisation: {method: zscore, sd: 0}\n", "normalisation.sd"),
    ("overrides: {nodes: {x1: {normalisation: {direction: 2}}}}\n", "normalisation.direction"),
])
def test_method_bad_parameter_value(case, text, needle):
    case.method = text
    case.check_fails("method.yaml", needle, "must be")


def test_method_invalid_yaml(case):
    case.method = "normalisation: {method: minmax\n"
    case.check_fails("method.yaml", "not valid YAML")


def test_method_not_a_mapping(case):
    case.method = "- minmax\n- arithmetic\n"
    case.check_fails("method.yaml", "mapping")


def test_missing_method_file(case):
    p = case.paths()
    case.check_fails("nope.yaml", "not found", args=["compute", "-f", str(p["fw"]), "-d",
                                                 str(p["data"]), "-m", str(case.dir / "nope.yaml"),
                                                 "-o", str(case.out)])


def test_method_override_of_unknown_node(case):
    case.method = "overrides: {nodes: {X9: {treatment: {method: none}}}}\n"
    case.check_fails("method.yaml", "overrides.nodes.X9", "unknown node 'X9'")


def test_method_override_of_unknown_level(case):
    case.method = "overrides: {levels: {7: {aggregation: {method: geometric}}}}\n"
    case.check_fails("method.yaml", "overrides.levels.7", "1..3")


def test_method_weights_of_unknown_node(case):
    case.method = "weights: {P9: 2}\n"
    case.check_fails("method.yaml", "weights", "P9")


def test_method_stage_not_overridable(case):
    case.method = "overrides: {nodes: {x1: {screening: {min_availability: 0.5}}}}\n"
    case.check_fails("method.yaml", "overrides.nodes.x1", "'screening'", "valid")


def test_dist2ref_unknown_reference_unit(case):
    case.method = "normalisation: {method: dist2ref, ref: ZZZ}\n"
    case.check_fails("'ZZZ'", "reference unit")


def test_goalposts_without_goalposts(case):
    case.method = "normalisation: {method: goalposts}\n"
    case.check_fails("'x1'", "goalposts")
