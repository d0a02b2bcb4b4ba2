"""The 513-city registry, the published tables, the matcher and the open panel (issue 3)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from cityindex.model.registry import CityMatcher, CityMatchError, load_registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
READ = dict(keep_default_na=False, na_values=[""])
RAW = Path(os.environ.get("CITYINDEX_RAW", ROOT.parent / "shared/data/raw"))


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.fixture(scope="module")
def matcher(reg):
    return CityMatcher(reg)


def test_registry_has_513_unique_ascii_codes(reg):
    assert len(reg) == 513
    assert reg["code"].is_unique
    assert reg["code"].str.fullmatch(r"[A-Z]{2}-[A-Z0-9-]+").all()


def test_registry_region_counts_match_report(reg):
    assert reg["region"].value_counts().to_dict() == {
        "Asia": 227, "Europe": 105, "America": 91, "Africa": 71, "Oceania": 19}


def test_namibia_iso2_survives_reading(reg):
    assert "NA" in set(reg["iso2"])  # pandas' default would read it as missing


@pytest.mark.parametrize("name", ["gdci_2021_top100", "brpci_2021_top100",
                                  "gdci_2021_dimension_top20"])
def test_published_tables_joined(reg, name):
    table = pd.read_csv(DATA / "published" / f"{name}.csv", **READ)
    assert table["code"].notna().all()
    assert table["code"].isin(reg["code"]).all()
    assert {"rank", "rank_change"} <= set(table.columns)
    assert set(table["rank_change"]) <= {"up", "down", "same", "new"}
    if name.endswith("top100"):
        assert len(table) == 100 and table["code"].is_unique


def test_panel_rows_are_registry_cities(reg):
    panel = pd.read_csv(DATA / "panel" / "panel.csv", **READ)
    assert list(panel.columns[:5]) == ["code", "name_en", "iso2", "region", "subregion"]
    assert panel["code"].tolist() == reg["code"].tolist()
    assert all(pd.api.types.is_numeric_dtype(panel[c]) for c in panel.columns[5:])


@pytest.mark.parametrize("name, country, code", [
    ("Shanghai", None, "CN-SHANGHAI"),
    ("上海", None, "CN-SHANGHAI"),
    ("Ulaanbaatar", None, "MN-ULAN-BATOR"),          # alias
    ("Sao Paulo", None, "BR-SAO-PAULO"),             # diacritics dropped
    ("SÃO PAULO", None, "BR-SAO-PAULO"),             # case
    ("xi an", None, "CN-XIAN"),                      # punctuation
    ("San Jose (USA)", None, "US-SAN-JOSE"),
    ("San José (Costa Rica)", None, "CR-SAN-JOSE"),
    ("奥克兰（美国）", None, "US-OAKLAND"),
    ("Santiago", "Chile", "CL-SANTIAGO"),
    ("Hong Kong", "Hong Kong, China", "HK-HONG-KONG"),
    ("London", "U.K.", "GB-LONDON"),
    ("Nur-Sultan (Astana)", None, "KZ-NUR-SULTAN"),
])
def test_matcher_resolves(matcher, name, country, code):
    assert matcher.match(name, country) == code


def test_match_many(matcher):
    assert matcher.match_many(["Tokyo", "Santiago"], [None, "Cuba"]) == ["JP-TOKYO",
                                                                         "CU-SANTIAGO"]


def test_unknown_city_lists_candidates(matcher):
    with pytest.raises(CityMatchError, match=r"unknown city 'Shanghia'.*CN-SHANGHAI"):
        matcher.match("Shanghia")


def test_ambiguous_city_lists_candidates(matcher):
    with pytest.raises(CityMatchError, match="ambiguous") as err:
        matcher.match("Santiago")
    assert "CL-SANTIAGO" in str(err.value) and "CU-SANTIAGO" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.skipif(not RAW.is_dir(), reason=f"raw source files not found at {RAW} "
                    "(set CITYINDEX_RAW to the folder of data/raw files)")
def test_builder_reproduces_panel(tmp_path):
    sys.path.insert(0, str(DATA))
    import build_panel
    out = tmp_path / "panel.csv"
    build_panel.main([str(RAW), "--out", str(out)])
    fresh = pd.read_csv(out, **READ)
    bundled = pd.read_csv(DATA / "panel" / "panel.csv", **READ)
    pd.testing.assert_frame_equal(fresh, bundled)
