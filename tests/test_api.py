"""The public API (issue 12): ``import cityindex as ci``, analyses of an IndexResult that never
recompute the nominal index, one shared preparation, and one results protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import cityindex as ci
from cityindex.model.summary import Result, Summary

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem():
    return ci.compute(ASEM / "asem_imeta.csv", ASEM / "asem_idata.csv", "asem")


@pytest.fixture(scope="module")
def asem_space(asem):
    return ci.load_space("coinr_asem", asem)


def check_protocol(obj, *, max_repr_lines: int = 6):
    """summary() → Summary with text and HTML, to_frame() → DataFrame, to_dict() → JSON,
    a repr of a few lines."""
    assert isinstance(obj, Result)
    s = obj.summary()
    assert isinstance(s, Summary)
    text, page = s.as_text(), s.as_html()
    assert text.strip() and s.title in text
    assert "<script" not in page and page.startswith("<div")
    assert isinstance(obj.to_frame(), pd.DataFrame) and len(obj.to_frame())
    json.dumps(obj.to_dict(), allow_nan=False)
    r = repr(obj)
    assert len(r.splitlines()) <= max_repr_lines and len(r) < 1000, r


def test_compute_bundled_and_files(asem):
    r = ci.compute("gdci")
    assert r.framework.root == "GDCI" and len(r.scores) == 513
    assert "GDCI" in r.summary().as_text()
    check_protocol(r)
    # the API resolves a bundled method by name; COINr's ASEM example is 51 countries
    assert asem.framework.root == "Index" and len(asem.scores) == 51
    check_protocol(asem)


def test_namespace_is_lazy_and_complete():
    import importlib
    import pkgutil
    import types

    # importing every submodule must not shadow a public name (a submodule is bound as an
    # attribute of its package when imported)
    for m in pkgutil.walk_packages(ci.__path__, "cityindex."):
        importlib.import_module(m.name)
    for name in ci.__all__:
        value = getattr(ci, name)
        assert value is not None and not isinstance(value, types.ModuleType), name
    with pytest.raises(AttributeError):
        ci.no_such_thing  # noqa: B018


def test_analyses_follow_the_protocol(asem, asem_space):
    check_protocol(ci.coherence(asem))
    check_protocol(ci.weight_audit(asem, loo=False, n_boot=20, bod=False))
    p = ci.prepare(asem, asem_space, seed=1)
    check_protocol(ci.uncertainty(asem, asem_space, n=200, prepared=p))
    check_protocol(ci.sensitivity(asem, asem_space, n=16, n_boot=20, prepared=p))


def test_analyses_never_recompute_the_nominal_index(asem, monkeypatch):
    """With a space that changes only the weights, the uncertainty and sensitivity analyses
    run no pipeline at all; coherence and the weight audit without leave-one-out neither."""
    import cityindex.model.pipeline as pipeline
    import cityindex.validation.engine as engine

    def forbidden(*a, **k):
        raise AssertionError("the nominal index was recomputed")

    monkeypatch.setattr(pipeline, "compute_index", forbidden)
    monkeypatch.setattr(engine, "compute_index", forbidden)
    from cityindex.validation.space import UncertaintySpace

    space = UncertaintySpace.from_dict(
        {"assumptions": {"w": {"noise": {"levels": [2], "factor": 0.2, "n_sets": 50}}}},
        asem.framework, asem.method)
    ua = ci.uncertainty(asem, space, n=100, seed=0)
    assert ua.rank_stats["nominal"].tolist() == sorted(ua.rank_stats["nominal"].tolist())
    ci.sensitivity(asem, space, n=16, n_boot=0, seed=0)
    ci.coherence(asem)
    ci.weight_audit(asem, loo=False, n_boot=0, bod=False)


def test_one_preparation_serves_both_analyses(asem, asem_space, monkeypatch):
    """The audit prepares the space's alternatives once per index; results with a shared
    preparation equal those with separate ones."""
    import cityindex.validation.engine as engine

    shared = ci.prepare(asem, asem_space, seed=2)
    a = ci.uncertainty(asem, asem_space, n=150, seed=2, prepared=shared)
    b = ci.uncertainty(asem, asem_space, n=150, seed=2)
    pd.testing.assert_frame_equal(a.rank_stats, b.rank_stats)
    calls = []
    real = engine.prepare
    monkeypatch.setattr(engine, "prepare", lambda *x, **k: calls.append(1) or real(*x, **k))
    audit = ci.audit(asem, space=asem_space, quick=True, n_ua=60, n_sa=8, seed=2)
    assert len(calls) == 1
    assert audit["Index"].uncertainty is not None and audit["Index"].sensitivity is not None
    check_protocol(audit)
    check_protocol(audit["Index"])


def test_prepared_for_another_space_is_refused(asem, asem_space):
    other = ci.load_space("coinr_asem", asem)
    p = ci.prepare(asem, asem_space)
    with pytest.raises(ValueError, match="another uncertainty space"):
        ci.uncertainty(asem, other, n=10, prepared=p)
