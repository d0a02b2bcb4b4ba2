"""Shared fixtures: COINr's ASEM reference data (tests/data/coinr_asem, see SOURCE.md there)."""

from pathlib import Path

import pandas as pd
import pytest

from cityindex.model.framework import Framework

ASEM_DIR = Path(__file__).parent / "data" / "coinr_asem"


def read_asem(name: str) -> pd.DataFrame:
    """One of COINr's ASEM tables, indexed by unit code ("NA" read as missing, as COINr writes)."""
    return pd.read_csv(ASEM_DIR / name, keep_default_na=False,
                       na_values=["", "NA"]).set_index("uCode")


@pytest.fixture(scope="module")
def fw():
    """The ASEM framework (COINr iMeta)."""
    return Framework.load(ASEM_DIR / "asem_imeta.csv")


@pytest.fixture(scope="module")
def agg():
    """COINr's aggregated ASEM table: normalised indicators and every aggregate."""
    return read_asem("asem_aggregated.csv")
