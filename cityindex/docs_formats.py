"""The format reference (``docs/formats.md``), generated from the schemas the readers validate
against (:mod:`cityindex.model.schema`; the data reader's constants in
:mod:`cityindex.model.data`; the stage registry :mod:`cityindex.model.stages`), so it cannot
drift: ``tests/test_formats_doc.py`` regenerates it in memory and fails when the committed
file differs, and checks every example against its key's type.

``python -m cityindex.docs_formats`` rewrites ``docs/formats.md``; ``--check`` exits 1 when
the file is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cityindex.model import schema as S

DOC = Path(__file__).resolve().parent.parent / "docs" / "formats.md"


def example(f: S.Field) -> Any:
    """The example of a key: its own, else its default when that says something, else one
    made from its type."""
    if f.example is not S._MISSING:
        return f.example
    if f.has_default and f.default not in (None, "", {}, []):
        return f.default
    return type_example(f.type)


def type_example(t: S.Type) -> Any:
    """A value that the type accepts."""
    if isinstance(t, S.Nullable):
        return type_example(t.inner)
    if isinstance(t, S.Choice):
        return t.options[0]
    if isinstance(t, S.Bool):
        return True
    if isinstance(t, S.Integer):
        return max(t.lo if t.lo is not None else 1, 1)
    if isinstance(t, S.Number):
        lo = t.lo if t.lo is not None else 0.0
        if t.hi is not None and t.hi <= 100 and lo >= 0:
            return round((lo + t.hi) / 2, 6)
        return max(lo, 0) + 1
    if isinstance(t, S.Range):
        return [0, 100]
    if isinstance(t, S.Code):
        return "x1"
    if isinstance(t, S.Text):
        return "text"
    if isinstance(t, S.ListOf):
        return [type_example(t.item)] * max(t.min_len, 1)
    if isinstance(t, S.MapOf):
        k = type_example(t.key)
        return {k if isinstance(k, (str, int)) else "x1": type_example(t.value)}
    if isinstance(t, S.OneOf):
        return type_example(t.options[0])
    if isinstance(t, S.Record):
        return {k: example(f) for k, f in t.fields.items() if f.required}
    if isinstance(t, S.Section):
        return {}
    return None  # pragma: no cover


def _yaml(v: Any) -> str:
    """A value in YAML flow style (JSON is YAML 1.2)."""
    return json.dumps(v, ensure_ascii=False)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _allowed(t: S.Type) -> str:
    inner = t.inner if isinstance(t, S.Nullable) else t
    if isinstance(inner, S.Choice):
        opts = ", ".join(f"`{_yaml(o)}`" for o in inner.options)
        return opts + (", `null`" if isinstance(t, S.Nullable) else "")
    return ""


def _default(f: S.Field) -> str:
    if f.required:
        return "**required**"
    if not f.has_default:
        return "—"
    return f"`{_yaml(f.default)}`"


def field_table(record: S.Record, prefix: str = "") -> list[str]:
    """One Markdown table row per key of ``record`` and its nested records."""
    rows = ["| key | type | allowed values | default | description | example |",
            "|---|---|---|---|---|---|"]
    for key, f in S.iter_fields(record, prefix):
        name = key.rsplit(".", 1)[-1]
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"`{key}`", f.type.describe(), _allowed(f.type), _default(f), f.doc,
            f"`{name}: {_yaml(example(f))}`")) + " |")
    return rows


def data_section() -> list[str]:
    from cityindex.model.data import MAX_ABS_VALUE, MISSING_TOKENS, UNIT_COLUMNS
    from cityindex.model.datachecks import GROUP_COLUMNS

    tokens = ", ".join(f"`{t}`" if t else "an empty cell" for t in sorted(MISSING_TOKENS))
    return [
        "## Data",
        "",
        "A table with one row per unit: CSV (comma-separated), TSV (`.tsv`), Parquet or XLSX "
        "(`--sheet` names the sheet), or COINr's iData CSV.",
        "",
        "| column | type | required | description | example |",
        "|---|---|---|---|---|",
        f"| unit code | text | **required** | The first of {', '.join(f'`{c}`' for c in UNIT_COLUMNS)}"
        " (or the column named with `--unit-col`); unique (also up to case and Unicode "
        "normalisation), no control characters. | `code: CA-EDMONTON` |",
        "| one per indicator | number | **required** | The column named by the indicator's "
        f"code. Missing: {tokens}. Finite, at most {MAX_ABS_VALUE:g} in absolute value; at "
        "least two distinct observed values. | `unicorns: 3` |",
        "| one per denominator | number | when a node names it | The column an indicator is "
        "divided by (framework key `denominator`). | `population: 981280` |",
        "| metadata | text | no | Any other column (names, country, groups); read as text, "
        "only an empty cell is missing (`NA` stays Namibia). A group column "
        f"({', '.join(f'`{c}`' for c in GROUP_COLUMNS)}) enables group-based imputation and "
        "the suspicious-zero check by group. | `subregion: North America` |",
        "",
    ]


def render() -> str:
    """The whole reference as Markdown."""
    from cityindex.model import stages

    out = [
        "# Input formats",
        "",
        "<!-- generated by `python -m cityindex.docs_formats` from cityindex/model/schema.py;"
        " do not edit: tests/test_formats_doc.py fails when it differs -->",
        "",
        "Every key the readers accept, with its type, allowed values, default, meaning and an "
        "example. Types are strict: `true` is not a number, a code written as a number keeps "
        "its text (quote `\"007\"`), numbers are finite. Unknown keys are refused with the "
        "list of valid ones. `cityindex init DATA` writes starter files in these formats; "
        "`cityindex validate` checks them and prints what the commands will do with them.",
        "",
        "## Framework",
        "",
        "A YAML file (or COINr's iMeta CSV). Weights are **relative within their parent**: "
        "they are normalised to sum to one over a parent's children that have data (0.6 and "
        "0.3 are used as 2/3 and 1/3); `cityindex validate` prints the weights as used.",
        "",
        "### Top level",
        "",
        *field_table(S.Record({k: f for k, f in S.FRAMEWORK.fields.items()
                               if k != "nodes"})),
        "| `nodes` | a list of node mappings |  | **required** | The nodes, in display order "
        "(keys below). | see below |",
        "",
        "### Node (each item of `nodes`)",
        "",
        *field_table(S.FRAMEWORK_NODE),
        "",
        *data_section(),
        "## Method",
        "",
        "A YAML file of stage sections. Without `--method`, a bundled framework uses its "
        "bundled method and any other framework the built-in defaults (the `default` column; "
        "`cityindex validate` prints the method in force and where it came from). `extends` "
        "starts from another method file; `overrides` change a stage per level or per node.",
        "",
        *field_table(S.method_schema()),
        "",
        "### Methods of each stage and their parameters",
        "",
        "| stage | method | parameters | defaults |",
        "|---|---|---|---|",
    ]
    for stage, methods in stages.stage_methods().items():
        for name, keys in methods.items():
            d = stages.param_defaults(stage, name)
            out.append("| " + " | ".join(_cell(c) for c in (
                stage, f"`{name}`", ", ".join(f"`{k}`" for k in sorted(keys)) or "—",
                ", ".join(f"`{k}: {_yaml(v)}`" for k, v in sorted(d.items())) or "—")) + " |")
    out += [
        "",
        "## Uncertainty space",
        "",
        "A YAML file with `assumptions`: each one factor of the Monte Carlo / Sobol design, "
        "given as exactly one of the kinds below. Without `--space` the audit uses the bundled "
        "`spaces/default.yaml` for a bundled framework and, for any other, a space built from "
        "the framework and data (imputation alternatives only when cells are missing, group "
        "median only with a group column, weight noise at the levels present, each indicator "
        "left out); it writes the space it used into the run folder as `space.yaml`.",
        "",
        "### Top level",
        "",
        *field_table(S.Record({k: f for k, f in S.SPACE.fields.items()
                               if k != "assumptions"})),
        "| `assumptions` | " + _cell(S.SPACE.fields["assumptions"].type.describe())
        + " |  | **required** | " + _cell(S.SPACE.fields["assumptions"].doc)
        + " | see below |",
        "",
    ]
    for kind, rec in S.SPACE_ASSUMPTIONS.items():
        out += [f"### Assumption kind `{kind}`", ""]
        if isinstance(rec, S.Record):
            out += field_table(rec, "" if kind == "path" else f"{kind}.")
        else:
            out += [f"`{kind}`: {_cell(rec.describe())}. Example: "
                    f"`{kind}: {{nominal: {{}}, equal: equal, expert: {{P1: 2, P2: 1}}}}`"]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        same = DOC.exists() and DOC.read_text(encoding="utf-8") == text
        print(f"{DOC}: {'up to date' if same else 'out of date; run python -m cityindex.docs_formats'}")
        return 0 if same else 1
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
