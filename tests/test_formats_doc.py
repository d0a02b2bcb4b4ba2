"""The format reference (docs/formats.md) is generated from the schemas the readers validate
against: it must equal a fresh rendering, every example must pass its key's type and the
readers, and the schema must list exactly the keys the readers accept."""

from __future__ import annotations

import pytest

from cityindex import docs_formats as D
from cityindex.model import schema as S
from cityindex.model.errors import MethodError


def test_committed_reference_is_current():
    assert D.DOC.read_text(encoding="utf-8") == D.render(), (
        "docs/formats.md is out of date: run python -m cityindex.docs_formats")
    assert D.main(["--check"]) == 0


def _records():
    yield "framework", S.FRAMEWORK
    yield "node", S.FRAMEWORK_NODE
    yield "method", S.method_schema()
    yield "space", S.SPACE
    for k, r in S.SPACE_ASSUMPTIONS.items():
        if isinstance(r, S.Record):
            yield k, r


@pytest.mark.parametrize("name,record", list(_records()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_example_passes_its_type(name, record):
    for key, f in S.iter_fields(record):
        if isinstance(f.type, (S.Records, S.Section)) or key in ("assumptions",):
            continue
        ex = D.example(f)
        f.type.check(ex, key)  # raises SchemaError when the reference shows a bad example


def test_schema_lists_exactly_the_keys_the_readers_accept():
    from cityindex.model import framework, method

    assert set(S.FRAMEWORK_NODE.fields) == framework._NODE_KEYS
    assert set(S.method_schema().fields) == method.TOP_KEYS | {"extends"}


def test_method_examples_are_accepted_by_the_reader():
    """Each stage method with every parameter at its reference example is a valid spec (the
    reader and the reference agree on the keys of each method)."""
    from cityindex.model import MethodSpec, stages

    sch = S.method_schema()
    n = 0
    for stage, methods in stages.stage_methods().items():
        sect = sch.fields[stage].type
        for name, keys in methods.items():
            body = {"method": name}
            body.update({k: D.example(sect.fields[k]) for k in keys})
            try:
                MethodSpec.from_dict({stage: body})
            except MethodError as exc:  # pragma: no cover - the failure message says which
                pytest.fail(f"{stage} {name}: {exc}")
            n += 1
    assert n >= 20
    for key in ("name", "description", "seed", "weights", "overrides"):
        MethodSpec.from_dict({key: D.example(sch.fields[key])})


def test_space_kinds_in_reference_are_the_parser_kinds():
    for kind, rec in S.SPACE_ASSUMPTIONS.items():
        body = ({"path": "normalisation", "values": [{"method": "rank"}]} if kind == "path"
                else {kind: {} if kind != "weight_sets" else {"nominal": None}})
        if kind == "noise":
            body = {kind: {"levels": "aggregates"}}
        S.SPACE.check({"assumptions": {"a": body}})
        assert f"### Assumption kind `{kind}`" in D.render()
    with pytest.raises(S.SchemaError):
        S.SPACE.check({"assumptions": {"a": {"unknown_kind": {}}}})
