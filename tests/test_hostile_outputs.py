"""Hostile codes and names in every user string (issue 15): path separators, ``..``, markup and
formulas in the index, aggregate and indicator codes and names, unit codes and names, regions,
the method's and the space's names and the assumption names.

``audit`` (with a city profile of a hostile unit), ``compute`` and ``uncertainty --nodes
--replications`` must write nothing outside ``--out``, no unescaped markup into the HTML (no
element or attribute a page did not ask for), no live formula into any CSV or XLSX, and SVGs
that are well-formed XML without scripts or event handlers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cityindex.cli import app
from cityindex.safety import is_formula

# (three small runs: a few seconds)

ROOT_CODE = '../../R"><svg onload=alert(1)>'
P1 = "P/1<script>alert('p')</script>"
P2 = '=HYPERLINK("http://evil.example","p2")'
INDICATORS = ["+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "=1+1", "x/../../y",
              "<img src=x onerror=alert(1)>"]
UNITS = ["../U1", "a/b", "=1+2", "<script>u</script>", "@u5", "-u6", "+u7", "CON", "..",
         "u 10", "'q", "\u00e9t\u00e9/\\x"]
NAMES = ['=cmd|" /C calc"!A0', "<b onmouseover=alert(1)>bold</b>", "@name", "-n", "+n",
         "../name", "na/me", '"><svg/onload=alert(2)>', "$x^2$ \\frac{a}{b}", "ok", "=1",
         "{{7*7}}"]
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3",
                "h4", "p", "ul", "ol", "li", "b", "i", "em", "strong", "code", "div", "table",
                "thead", "tbody", "tr", "th", "td", "figure", "img", "figcaption", "nav", "a",
                "span", "br", "details", "summary", "input", "label", "select", "option",
                "button", "section", "header", "footer", "noscript", "script", "svg", "small",
                "sup", "sub", "caption", "colgroup", "col", "abbr", "canvas", "hr", "form",
                "fieldset", "legend", "output", "textarea"}


def _inputs(folder: Path) -> dict[str, Path]:
    nodes = [{"code": ROOT_CODE, "name": "<script>alert('index')</script>", "level": 3},
             {"code": P1, "name": "=1+1", "parent": ROOT_CODE, "level": 2, "weight": 1},
             {"code": P2, "name": "<i>p2</i>", "parent": ROOT_CODE, "level": 2, "weight": 1}]
    for k, code in enumerate(INDICATORS):
        nodes.append({"code": code, "name": f"<u>{code}</u>", "parent": P1 if k < 3 else P2,
                      "level": 1, "weight": 1, "direction": 1 if k % 2 else -1,
                      "unit": "=unit", "source": "<a href='javascript:alert(1)'>src</a>"})
    fw = folder / "framework.yaml"
    fw.write_text(yaml.safe_dump({"index": ROOT_CODE, "name": "<h1>evil</h1>", "nodes": nodes},
                                 allow_unicode=True))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["uCode", "name_en", "region", *INDICATORS])
    for i, (u, n) in enumerate(zip(UNITS, NAMES)):
        w.writerow([u, n, "=region" if i % 2 else "<i>r</i>",
                    *[round(1 + ((i * 7 + j * 3) % 11) + 0.1 * j, 2)
                      for j in range(len(INDICATORS))]])
    data = folder / "data.csv"
    data.write_text(buf.getvalue())
    method = folder / "method.yaml"
    method.write_text(yaml.safe_dump({"name": "<script>m</script>", "description": "=1+1",
                                      "normalisation": {"method": "minmax",
                                                        "range": [1, 100]}}))
    space = folder / "space.yaml"
    space.write_text(yaml.safe_dump({"name": "<svg onload=alert(3)>", "assumptions": {
        "=w": {"noise": {"levels": [2], "factor": 0.25, "n_sets": 30}},
        "../agg": {"path": "aggregation.method", "values": ["arithmetic", "geometric"]},
        "<b>drop</b>": {"leave_one_out": {"level": 1}}}}, allow_unicode=True))
    return {"fw": fw, "data": data, "method": method, "space": space}


def _tree(root: Path) -> set[str]:
    return {str(Path(d, n).relative_to(root)) for d, ds, fs in os.walk(root) for n in ds + fs}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.bad = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name.lower().startswith("on") or "javascript:" in (value or "").lower():
                self.bad.append((tag, name, value))


def _product_scripts() -> set[str]:
    """The scripts the product itself puts into its pages (no user content)."""
    from importlib import resources

    from cityindex.report import jrc

    js = resources.files("cityindex.report").joinpath("explorer.js").read_text(encoding="utf-8")
    inner = re.sub(r"^<script>|</script>$", "", jrc.SEARCH_SCRIPT.strip())
    return {inner.strip(), js.strip()}


def _check_html(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    p = _Tags()
    p.feed(text)
    assert p.tags <= ALLOWED_TAGS, f"{path.name}: unexpected elements {p.tags - ALLOWED_TAGS}"
    assert not p.bad, f"{path.name}: event handlers or javascript: URLs {p.bad[:3]}"
    # every script is the product's own, or data embedded as JSON that cannot close it
    known = _product_scripts()
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S):
        if "application/json" in attrs:
            assert not set(body) & set("<>&"), f"{path.name}: raw markup in embedded data"
            json.loads(body)
        else:
            assert body.strip() in known, f"{path.name}: a script the product did not write"
    outside = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)
    for raw in ("<svg onload", "<script>alert", "<img src=x", "<b onmouseover", "<svg/onload"):
        assert raw not in outside


def _check_csv(path: Path) -> None:
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")):
        live = [f for f in row if is_formula(f)]
        assert not live, f"{path}: live formula cells {live[:3]}"


def _check_xlsx(path: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{path.name}!{c.coordinate}: formula {c.value!r}"
                assert not is_formula(c.value), f"{path.name}!{c.coordinate}: {c.value!r}"


def _check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()  # well-formed XML
    for el in root.iter():
        assert not el.tag.endswith("script"), path
        assert not any(k.lower().startswith("on") for k in el.attrib), path


def _check_run(out: Path) -> None:
    for p in out.rglob("*"):
        assert not p.is_symlink()
        assert p.resolve().is_relative_to(out.resolve())
        if p.suffix == ".html":
            _check_html(p)
        elif p.suffix == ".csv":
            _check_csv(p)
        elif p.suffix == ".xlsx":
            _check_xlsx(p)
        elif p.suffix == ".svg":
            _check_svg(p)


def _run(*args) -> None:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code in (0, 3), res.output  # 3: a section failed (reported), still safe


def test_hostile_strings_everywhere(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    p = _inputs(inputs)
    work = tmp_path / "a" / "b" / "c"  # "../../x" from inside a run folder would land here
    work.mkdir(parents=True)
    before = _tree(tmp_path)
    common = ["-f", p["fw"], "-d", p["data"], "-m", p["method"]]
    _run("audit", "--quick", *common, "--space", p["space"], "--n", 60, "--n-sobol", 16,
         "--profile", "../U1", "--profile", "a/b", "--quiet", "-o", work / "audit")
    _run("compute", *common, "-o", work / "compute")
    _run("uncertainty", *common, "-s", p["space"], "--n", 40, "--nodes", "--replications",
         "-o", work / "ua")
    created = _tree(tmp_path) - before
    outside = {c for c in created if not any(
        Path(c).is_relative_to(Path("a/b/c") / r) or Path(c) == Path("a/b/c") / r
        for r in ("audit", "compute", "ua"))}
    assert not outside, f"written outside --out: {sorted(outside)[:5]}"
    for run in ("audit", "compute", "ua"):
        _check_run(work / run)
    assert (work / "audit" / "explorer.html").exists()  # checked as HTML above
    html = (work / "audit" / "index.html").read_text(encoding="utf-8")
    assert "&lt;svg onload=alert(1)&gt;" in html  # the code is shown, escaped
    assert 'id="profile-' in html  # the hostile units were profiled
    names = {q.name for q in (work / "audit" / "tables").iterdir()}
    assert all("/" not in n and not n.startswith(".") for n in names)
