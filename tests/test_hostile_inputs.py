"""A corpus of hostile and careless inputs (issue 15), beyond tests/test_engine_bad_input.py.

Every case: exit status 2, one line on stderr starting with ``error:`` that names the place
(file and line, cell, sheet, key, assumption or option), no traceback, and nothing written —
no output folder, no temporary folder, no parent folder created, nothing else changed in the
test's folder.

Kinds covered: YAML limits and YAML 1.1 coercions; schema types and ranges of the framework,
method and space files; ragged, mis-delimited, mis-encoded and duplicate-headed CSV; XLSX
merged cells, formulas without a cached value, repeated headers, unknown or wrong sheets;
near-duplicate unit codes; values beyond the accepted range; symlink loops; space values that
would give NaN statistics; alternatives that change the ranked units; numeric CLI options;
sizes whose memory would not fit; unusable output folders.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Callable

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
F,Phi,g2,60,6,2,4,5
"""
FW_TEXT = """index: Index
nodes:
  - {code: Index, level: 3}
  - {code: P1, parent: Index, level: 2, weight: 1}
  - {code: P2, parent: Index, level: 2, weight: 1}
  - {code: x1, parent: P1, level: 1, weight: 1, direction: 1}
  - {code: x2, parent: P1, level: 1, weight: 1, direction: -1}
  - {code: x3, parent: P2, level: 1, weight: 1, direction: 1, denominator: pop}
  - {code: x4, parent: P2, level: 1, weight: 1, direction: 1}
"""
METHOD = "normalisation: {method: minmax, range: [1, 100]}\n"
SPACE = """name: small
assumptions:
  aggregation: {path: aggregation.method, values: [arithmetic, geometric]}
  weights: {noise: {levels: [2], factor: 0.25, n_sets: 20}}
"""


class Inputs:
    """A valid set of input files in ``tmp/in``; a case edits one of them."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.dir = tmp / "in"
        self.dir.mkdir()
        self.fw = copy.deepcopy(FRAMEWORK)
        self.fw_text: str | None = None
        self.data: str | bytes = DATA
        self.data_name = "data.csv"
        self.method = METHOD
        self.space = SPACE
        self.out = tmp / "work" / "run"  # its parent does not exist: it must not be created

    def write(self) -> dict[str, Path]:
        p = {"fw": self.dir / "framework.yaml", "data": self.dir / self.data_name,
             "method": self.dir / "method.yaml", "space": self.dir / "space.yaml"}
        p["fw"].write_text(self.fw_text if self.fw_text is not None else yaml.safe_dump(self.fw))
        if not p["data"].exists() and not p["data"].is_symlink():
            if isinstance(self.data, bytes):
                p["data"].write_bytes(self.data)
            else:
                p["data"].write_text(self.data)
        p["method"].write_text(self.method)
        p["space"].write_text(self.space)
        return p

    def argv(self, cmd: str = "compute", *extra) -> list[str]:
        p = self.write()
        base = [cmd, "-f", str(p["fw"]), "-d", str(p["data"]), "-m", str(p["method"])]
        if cmd in ("uncertainty", "sensitivity"):
            base += ["-s", str(p["space"])]
        if cmd != "validate":
            base += ["-o", str(self.out)]
        return base + [str(e) for e in extra]

    def node(self, code: str) -> dict:
        return next(n for n in self.fw["nodes"] if n["code"] == code)

    def cell(self, unit: str, col: str, value: str) -> None:
        lines = self.data.strip().split("\n")
        header = lines[0].split(",")
        for i, line in enumerate(lines):
            cells = line.split(",")
            if cells[0] == unit:
                cells[header.index(col)] = value
                lines[i] = ",".join(cells)
        self.data = "\n".join(lines) + "\n"


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def check_fails_cleanly(inp: Inputs, argv: list[str], *needles: str) -> str:
    """Run the CLI; assert exit 2, one line naming the place, no traceback, nothing written."""
    before = _tree(inp.tmp)
    res = CliRunner().invoke(app, argv)
    text = res.output.strip()
    assert res.exit_code == 2, f"exit {res.exit_code}: {text}"
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    assert text.startswith("error: "), text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    assert not inp.out.exists() and not inp.out.parent.exists()
    assert _tree(inp.tmp) == before, "something was written"
    return text


# --------------------------------------------------------------------------- the corpus
Case = Callable[[Inputs], tuple]  # -> (argv, needles...)


def _fw_text(text: str) -> Case:
    def case(inp):
        inp.fw_text = text
        return inp.argv(), "framework.yaml"
    return case


BILLION_LAUGHS = "".join(
    [f"{k}: &{k} [" + ", ".join([f"*{p}"] * 10) + "]\n" for p, k in zip("abcdefg", "bcdefgh")])


def _method(text: str, *needles) -> Case:
    def case(inp):
        inp.method = text
        return (inp.argv(), "method.yaml", *needles)
    return case


def _space(text: str, *needles) -> Case:
    def case(inp):
        inp.space = text
        return (inp.argv("uncertainty", "--n", 20), "space.yaml", *needles)
    return case


def _node(code: str, key: str, value, *needles) -> Case:
    def case(inp):
        inp.node(code)[key] = value
        return (inp.argv(), "framework.yaml", f"node '{code}'", *needles)
    return case


def _node_text(old: str, new: str, *needles) -> Case:
    """Edit the framework's YAML text (FW_TEXT): ``old`` → ``new``."""
    def case(inp):
        assert old in FW_TEXT, old
        inp.fw_text = FW_TEXT.replace(old, new)
        return (inp.argv(), "framework.yaml", *needles)
    return case


def _data(edit: Callable[[str], str], *needles, cmd="compute") -> Case:
    def case(inp):
        inp.data = edit(inp.data)
        return (inp.argv(cmd), "data.csv", *needles)
    return case


def _cell(unit, col, value, *needles) -> Case:
    def case(inp):
        inp.cell(unit, col, value)
        return (inp.argv(), "data.csv", *needles)
    return case


def _xlsx(edit: Callable, *needles, extra=()) -> Case:
    def case(inp):
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Data"
        for r in DATA.strip().split("\n"):
            ws.append([_num(v) for v in r.split(",")])
        edit(wb, ws)
        inp.data_name = "data.xlsx"
        wb.save(inp.dir / "data.xlsx")
        return (inp.argv("compute", *extra), "data.xlsx", *needles)
    return case


def _num(v: str):
    try:
        return float(v)
    except ValueError:
        return v or None


def _option(cmd: str, *opts_and_needles) -> Case:
    opts = [o for o in opts_and_needles if not str(o).startswith("~")]
    needles = [str(o)[1:] for o in opts_and_needles if str(o).startswith("~")]

    def case(inp):
        return (inp.argv(cmd, *opts), *needles)
    return case


def _second_sheet(wb, ws):
    wb.move_sheet("Data", 1)
    notes = wb.create_sheet("Notes", 0)
    notes["A1"] = "read me first"


def _symlink_loop(inp):
    (inp.dir / "data.csv").symlink_to(inp.dir / "loop.csv")
    (inp.dir / "loop.csv").symlink_to(inp.dir / "data.csv")
    return inp.argv(), "data.csv", "symlink loop"


def _dangling(inp):
    (inp.dir / "data.csv").symlink_to(inp.dir / "gone.csv")
    return inp.argv(), "data.csv", "dangling symlink"


def _data_is_folder(inp):
    (inp.dir / "data.csv").mkdir()
    return inp.argv(), "data.csv", "is a folder"


def _huge_yaml(inp):
    inp.fw_text = "nodes: []\n" + "# padding\n" * 1_000_000
    return inp.argv(), "framework.yaml", "bytes"


def _out_is_file(inp):
    inp.out.parent.mkdir(parents=True)
    inp.out.write_text("precious")
    argv = inp.argv()
    inp.out = inp.tmp / "never" / "x"  # what check_fails_cleanly checks for absence
    return argv, "exists and is not a folder"


def _out_under_file(inp):
    blocker = inp.tmp / "blocker"
    blocker.write_text("x")
    argv = inp.argv()
    argv[argv.index("-o") + 1] = str(blocker / "sub" / "run")
    return argv, "blocker", "is a file"


def _out_not_a_run(inp):
    inp.out.parent.mkdir(parents=True)
    inp.out.mkdir()
    (inp.out / "notes.txt").write_text("mine")
    argv = inp.argv()
    inp.out = inp.tmp / "never" / "x"
    return argv, "not an earlier cityindex run"


def _out_locked(inp):
    from cityindex.runio import OutputLock

    lock = OutputLock(inp.out).acquire()
    inp._lock = lock  # released by the test
    return inp.argv(), "another cityindex run is writing"


def _screening_alternative(inp):
    inp.method = ("normalisation: {method: minmax, range: [1, 100]}\n"
                  "screening: {min_availability: 1.0, measure: imputed}\n"
                  "imputation: {method: mean}\n")
    inp.space = ("assumptions:\n  imputation: {path: imputation, values: "
                 "[{method: mean}, {method: none}]}\n")
    return (inp.argv("uncertainty", "--n", 20), "space.yaml", "imputation=", "drops B",
            "ranked units")


CASES: dict[str, Case] = {
    # ---- YAML: limits, structure, YAML 1.1 coercions
    "yaml alias bomb": lambda inp: (_fw_text("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                             + BILLION_LAUGHS + "nodes: [*h]\n")(inp)[0],
                                    "framework.yaml", "alias bomb"),
    "yaml recursive alias": lambda inp: (_fw_text("nodes: &n [*n]\n")(inp)[0], "framework.yaml",
                                         "recursive alias"),
    "yaml nested too deep": lambda inp: (_fw_text("nodes: " + "[" * 200 + "]" * 200 + "\n")(
        inp)[0], "framework.yaml", "nested deeper"),
    "yaml too large": _huge_yaml,
    "yaml two documents": lambda inp: (_fw_text("nodes: []\n---\nnodes: []\n")(inp)[0],
                                       "framework.yaml", "not valid YAML"),
    "yaml python tag": lambda inp: (_fw_text("nodes: !!python/object:os.system [ls]\n")(inp)[0],
                                    "framework.yaml", "not valid YAML"),
    "yaml not utf-8": lambda inp: (_write_bytes(inp, "framework.yaml", b"nodes: [\xff\xfe]\n"),
                                   "framework.yaml", "not UTF-8"),
    "yaml merge key": _node_text("{code: x4,", "{<<: {code: x9}, code: x4,",
                                 "node 'x4'", "unknown key", "<<"),
    "weight: yes is not 1.0": _node_text("x2, parent: P1, level: 1, weight: 1",
                                         "x2, parent: P1, level: 1, weight: yes", "line 7",
                                         "node 'x2'", "weight", "'yes'"),
    "weight: true is not 1.0": _node("x2", "weight", True, "weight", "True"),
    "weight as text": _node("x2", "weight", "1", "weight", "'1'"),
    "weight infinite": _node("x2", "weight", float("inf"), "weight"),
    "weight beyond range": _node("x2", "weight", 1e300, "weight", "at most"),
    "level 2.0 is not an integer": _node("P1", "level", 2.0, "level", "integer"),
    "direction yes": _node_text("direction: -1}", "direction: yes}", "node 'x2'", "direction",
                                "'yes'"),
    "code true is not a code": _node_text("{code: x4,", "{code: true,", "node #7", "code"),
    "code with a line break": _node_text("{code: x4,", '{code: "x\\n4",', "node #7",
                                         "control characters"),
    "parent as a list": _node("x1", "parent", ["P1"], "parent"),
    "name as a mapping": _node("x1", "name", {"a": 1}, "name"),
    "index is not the root": lambda inp: (_set(inp.fw, "index", "Other") or inp.argv(),
                                          "framework.yaml", "index 'Other'", "root"),
    "unknown framework key": lambda inp: (_set(inp.fw, "nodez", []) or inp.argv(),
                                          "framework.yaml", "unknown key", "nodez"),
    "goalposts reversed": _node("x1", "goalposts", [10, 1], "goalposts"),
    "target nan": _node("x1", "target", float("nan"), "target"),
    # ---- method spec types
    "method force: yes": _method("treatment: {method: coinr, force: yes}\n", "treatment.force",
                                 "true or false"),
    "method weight yes": _method("weights: {P1: yes}\n", "weight of 'P1'"),
    "method weight nan": _method("weights: {P1: .nan}\n", "weight of 'P1'"),
    "method negative seed": _method("seed: -3\n", "'seed'", "non-negative"),
    "method name as list": _method("name: [a, b]\n", "'name'", "text"),
    "method method as number": _method("normalisation: {method: 5}\n", "normalisation.method"),
    "method range nan": _method("normalisation: {method: minmax, range: [.nan, 100]}\n",
                                "normalisation.range"),
    "method winmax huge": _method("treatment: {method: coinr, winmax: 100000000}\n",
                                  "treatment.winmax"),
    "method force_include not a list": _method("screening: {force_include: A}\n",
                                               "screening.force_include", "list"),
    "method duplicate key": _method("seed: 1\nseed: 2\n", "line 2", "given twice"),
    # ---- uncertainty space values (would give NaN statistics or name no place)
    "space factor 0": _space("assumptions:\n  w: {noise: {levels: [2], factor: 0}}\n",
                             "assumption 'w'", "factor"),
    "space factor nan": _space("assumptions:\n  w: {noise: {levels: [2], factor: .nan}}\n",
                               "assumption 'w'", "factor"),
    "space factor text": _space("assumptions:\n  w: {noise: {levels: [2], factor: big}}\n",
                                "assumption 'w'", "factor", "'big'"),
    "space concentration nan": _space(
        "assumptions:\n  w: {noise: {levels: [2], kind: dirichlet, concentration: .nan}}\n",
        "assumption 'w'", "concentration"),
    "space concentration 0": _space(
        "assumptions:\n  w: {noise: {levels: [2], kind: dirichlet, concentration: 0}}\n",
        "assumption 'w'", "concentration"),
    "space n_sets 0": _space("assumptions:\n  w: {noise: {levels: [2], n_sets: 0}}\n",
                             "assumption 'w'", "n_sets"),
    "space n_sets 1.5": _space("assumptions:\n  w: {noise: {levels: [2], n_sets: 1.5}}\n",
                               "assumption 'w'", "n_sets"),
    "space levels text": _space("assumptions:\n  w: {noise: {levels: [two]}}\n",
                                "assumption 'w'", "levels"),
    "space levels yes": _space("assumptions:\n  w: {noise: {levels: yes}}\n",
                               "assumption 'w'", "levels", "'yes'"),
    "space weights sum to 0": _space(
        "assumptions:\n  s: {weight_sets: {zero: {x1: 0, x2: 0}}}\n", "assumption 's'",
        "weight set 'zero'", "children of 'P1'", "sum to 0"),
    "space negative weight": _space(
        "assumptions:\n  s: {weight_sets: {neg: {x1: -1}}}\n", "assumption 's'", "weight_sets"),
    "space weight yes": _space(
        "assumptions:\n  s: {weight_sets: {a: {x1: yes}}}\n", "assumption 's'", "weight_sets"),
    "space sd negative": _space(
        "assumptions:\n  m: {measurement: {sd: -0.1}}\n", "assumption 'm'", "sd"),
    "space sd infinite": _space(
        "assumptions:\n  m: {measurement: {sd: .inf}}\n", "assumption 'm'", "sd"),
    "space draws 0": _space("assumptions:\n  m: {measurement: {draws: 0}}\n",
                            "assumption 'm'", "draws"),
    "space indicators as text": _space(
        "assumptions:\n  m: {measurement: {indicators: x1}}\n", "assumption 'm'", "indicators"),
    "space leave_one_out level text": _space(
        "assumptions:\n  d: {leave_one_out: {level: one}}\n", "assumption 'd'", "level"),
    "space leave-one-out empties the index": lambda inp: (
        _set(inp.fw, "nodes", _single_pillar()) or _space(
            "assumptions:\n  d: {leave_one_out: {level: 2}}\n", "assumption 'd'",
            "without any indicator")(inp)),
    "space two kinds": _space("assumptions:\n  x: {noise: {levels: [2]}, leave_one_out: {}}\n",
                              "assumption 'x'", "exactly one"),
    "space empty": _space("assumptions: {}\n", "no assumptions"),
    "space values not a list": _space("assumptions:\n  a: {path: aggregation.method, "
                                      "values: geometric}\n", "assumption 'a'", "values"),
    "space alternative changes the ranked units": _screening_alternative,
    # ---- CSV data read as it is
    "csv short row": _data(lambda d: d.replace("C,Gamma,g2,30,3,3,9,1", "C,Gamma,g2,30,3,3,9"),
                           "line 4", "7 field(s)", "header (line 1) has 8"),
    "csv long row": _data(lambda d: d.replace("C,Gamma,g2,30,3,3,9,1", "C,Gamma,g2,30,3,3,9,1,7"),
                          "line 4", "9 field(s)"),
    "csv unquoted decimal comma": _data(lambda d: d.replace("D,Delta,g2,40,4,", "D,Delta,g2,40,4,5,"),
                                        "line 5", "field(s)"),
    "csv row number after blank lines": _data(
        lambda d: d.replace("B,Beta", "\n\nB,Beta").replace("D,Delta,g2,40,4", "D,Delta,g2,40,zz"),
        "row 7", "unit D", "'zz'"),
    "csv row number after a multi-line field": _data(
        lambda d: d.replace("B,Beta", 'B,"Be\nta"').replace("D,Delta,g2,40,4", "D,Delta,g2,40,zz"),
        "row 6", "unit D"),
    "csv unclosed quote": _data(lambda d: d.replace("C,Gamma", 'C,"Gamma'), "line"),
    "csv semicolons": _data(lambda d: d.replace(",", ";"), "line 1", "semicolon-separated"),
    "csv tabs in a .csv": _data(lambda d: d.replace(",", "\t"), "line 1", "tab-separated"),
    "csv repeated header": _data(lambda d: d.replace("x4\n", "x1\n", 1), "line 1",
                                 "column 'x1' appears twice"),
    "csv header repeated up to spaces": _data(lambda d: d.replace(",x4\n", ", x1\n", 1),
                                              "appears twice", "surrounding spaces"),
    "csv empty header name": _data(lambda d: d.replace(",grp,", ",,", 1), "line 1",
                                   "column 3", "no name"),
    "csv unit codes differing in case": _cell("D", "uCode", "a", "row 5", "'a'", "'A'",
                                              "case or Unicode"),
    "csv unit codes differing in normalisation": lambda inp: (
        _set_data(inp, DATA.replace("A,Alpha", "\u00c5,Alpha").replace(
            "D,Delta", "A\u030a,Delta")), "data.csv", "row 5", "Unicode normalisation"),
    "csv unit code with a tab": lambda inp: (_set_data(inp, DATA.replace(
        "D,Delta", '"D\tx",Delta')), "data.csv", "row 5", "control character"),
    "csv value 1.7e308": _cell("D", "x1", "1.7e308", "row 5", "unit D", "'1.7e308'", "range"),
    "csv value -1.7e308": _cell("D", "x2", "-1.7e308", "row 5", "column 'x2'", "range"),
    "csv value 1e31": _cell("B", "x4", "1e31", "row 3", "range"),
    "csv value quoted as in the file": _cell("C", "x1", '" 1,5 "', "row 4", "' 1,5 '"),
    "csv ratio beyond range": lambda inp: (inp.cell("C", "pop", "1e-31") or inp.argv(),
                                           "data.csv", "row 4", "'x3' / 'pop'", "range"),
    "csv not utf-8": lambda inp: (_set_data(inp, DATA.replace("Gamma", "G\xe4mma").encode(
        "latin-1")), "data.csv", "line 4", "not UTF-8"),
    "csv empty file": lambda inp: (_set_data(inp, ""), "data.csv", "empty"),
    "csv header only": lambda inp: (_set_data(inp, DATA.split("\n")[0] + "\n"), "data.csv",
                                    "no rows"),
    "csv symlink loop": _symlink_loop,
    "csv dangling symlink": _dangling,
    "csv path is a folder": _data_is_folder,
    "csv --unit-col missing": _option("compute", "--unit-col", "id", "~data.csv", "~'id'",
                                      "~not found"),
    "csv --sheet on a csv": _option("compute", "--sheet", "Data", "~data.csv", "~--sheet"),
    # ---- XLSX
    "xlsx merged cells": _xlsx(lambda wb, ws: ws.merge_cells("C2:C3"), "sheet 'Data'",
                               "C2:C3", "merged"),
    "xlsx formula without cached value": _xlsx(lambda wb, ws: ws.__setitem__("E4", "=E2+E3"),
                                               "cell E4", "=E2+E3", "cached value"),
    "xlsx repeated header": _xlsx(lambda wb, ws: ws.__setitem__("I1", "x1"), "column 'x1'",
                                  "E1 and I1"),
    "xlsx value without header": _xlsx(lambda wb, ws: ws.__setitem__("J3", 5), "cell J3",
                                       "no header"),
    "xlsx data on the second sheet": _xlsx(_second_sheet, "'Notes'", "--sheet 'Data'"),
    "xlsx unknown --sheet": _xlsx(lambda wb, ws: None, "no sheet 'Daten'", "'Data'",
                                  extra=("--sheet", "Daten")),
    "xlsx boolean cell": _xlsx(lambda wb, ws: ws.__setitem__("E4", True), "row 4", "unit C",
                               "cell E4", "non-numeric"),
    "xlsx date cell": _xlsx(lambda wb, ws: ws.__setitem__("F5", __import__("datetime").date(
        2021, 1, 1)), "row 5", "cell F5", "non-numeric"),
    "xlsx not a workbook": lambda inp: (_write_bytes(inp, "data.xlsx", b"PK\x03\x04 not a zip"),
                                        "data.xlsx", "cannot be read"),
    # ---- numeric options
    "uncertainty --n 0": _option("uncertainty", "--n", 0, "~'--n'"),
    "uncertainty --n -5": _option("uncertainty", "--n", -5, "~'--n'"),
    "uncertainty --n too large for memory": _option(
        "uncertainty", "--n", 10**12, "~N = 1,000,000,000,000", "~memory", "~lower --n"),
    "uncertainty --jobs 0": _option("uncertainty", "--jobs", 0, "~'--jobs'"),
    "uncertainty --sampling": _option("uncertainty", "--sampling", "halton", "~--sampling",
                                      "~halton"),
    "sensitivity --n 0": _option("sensitivity", "--n", 0, "~'--n'"),
    "sensitivity --boot -1": _option("sensitivity", "--boot", -1, "~'--boot'"),
    "sensitivity --replicates 3": _option("sensitivity", "--n", 64, "--replicates", 3,
                                          "~replicates", "~dividing N = 64"),
    "sensitivity --replicates 0": _option("sensitivity", "--replicates", 0, "~'--replicates'"),
    "sensitivity --n too large for memory": _option(
        "sensitivity", "--n", 2**40, "~base N", "~memory"),
    "weights --boot -1": _option("weights", "--boot", -1, "~'--boot'"),
    "ranks --sd nan": _option("ranks", "--sd", "nan", "~'--sd'"),
    "ranks --sd -1": _option("ranks", "--sd", -1, "~'--sd'"),
    "ranks --alpha 0.9": _option("ranks", "--alpha", 0.9, "~'--alpha'"),
    "ranks --tau 0": _option("ranks", "--tau", 0, "~'--tau'"),
    "compare --top-k 0": _option("compare", "--top-k", 0, "~'--top-k'"),
    "audit --n 0": _option("audit", "--quick", "--n", 0, "~'--n'"),
    "audit --n -5": _option("audit", "--quick", "--n", -5, "~'--n'"),
    "audit --n too large for memory": _option("audit", "--quick", "--n", 10**12, "~N =",
                                              "~memory"),
    "audit --n-sobol 3": _option("audit", "--quick", "--n-sobol", 3, "~power of two"),
    "audit --n-sobol 0": _option("audit", "--quick", "--n-sobol", 0, "~'--n-sobol'"),
    "audit --bayes-timeout nan": _option("audit", "--bayes-timeout", "nan",
                                         "~'--bayes-timeout'"),
    "audit --bayes-timeout 0": _option("audit", "--bayes-timeout", 0, "~'--bayes-timeout'"),
    "unknown option": _option("compute", "--nn", 3, "~--nn"),
    # ---- output folder (checked before any work)
    "--out is a file": _out_is_file,
    "--out under a file": _out_under_file,
    "--out is somebody's folder": _out_not_a_run,
    "--out held by another run": _out_locked,
}


def _set(d: dict, key, value):
    d[key] = value


def _set_data(inp: Inputs, data) -> list[str]:
    inp.data = data
    return inp.argv()


def _write_bytes(inp: Inputs, name: str, data: bytes) -> list[str]:
    argv = inp.argv()
    if name.endswith(".xlsx"):
        inp.data_name = name
        argv = inp.argv()
    (inp.dir / name).write_bytes(data)
    return argv


def _single_pillar() -> list[dict]:
    return [{"code": "Index", "level": 3},
            {"code": "P1", "parent": "Index", "level": 2, "weight": 1},
            {"code": "x1", "parent": "P1", "level": 1, "weight": 1},
            {"code": "x2", "parent": "P1", "level": 1, "weight": 1, "direction": -1}]


def test_the_corpus_is_large():
    assert len(CASES) >= 60


def test_valid_inputs_run(tmp_path):
    inp = Inputs(tmp_path)
    res = CliRunner().invoke(app, inp.argv("uncertainty", "--n", 20))
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(tmp_path, name):
    inp = Inputs(tmp_path)
    argv, *needles = CASES[name](inp)
    try:
        check_fails_cleanly(inp, argv, *needles)
    finally:
        lock = getattr(inp, "_lock", None)
        if lock is not None:
            lock.release()


def test_yaml_codes_keep_their_text(tmp_path):
    """``NO`` stays a code (not False) and ``007`` keeps its zeros."""
    from cityindex.model import Framework

    inp = Inputs(tmp_path)
    inp.fw_text = yaml.safe_dump(inp.fw).replace("code: x4", "code: NO").replace(
        "code: x3", "code: 007")
    fw = Framework.load(inp.write()["fw"])
    assert fw.indicators == ["x1", "x2", "007", "NO"]
