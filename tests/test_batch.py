"""model.batch.normalise_many: R perturbed copies of the data through the pre-aggregation
stages at once equal compute_index run on each copy (the oracle), for the bundled methods,
COINr's ASEM pipeline (denominators, screening after imputation) and other stage methods."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cityindex as ci
from cityindex.model.batch import normalise_many
from cityindex.model.data import IndicatorData
from cityindex.model.pipeline import compute_index

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


def _copies(result, R: int, sd: float, seed: int) -> np.ndarray:
    """Multiplicative noise on every observed value: (R, units, indicators)."""
    raw = result.data.values[result.framework.indicators].to_numpy(float)
    rng = np.random.default_rng(seed)
    return raw[None] * (1.0 + sd * rng.standard_normal((R,) + raw.shape))


def check_equal_to_pipeline(result, raw, method=None):
    method = method or result.method
    got = normalise_many(result, raw, method)
    inds = result.framework.indicators
    for r in range(raw.shape[0]):
        values = result.data.values.copy()
        values[inds] = raw[r]
        data = IndicatorData(values, result.data.meta, result.data.source, result.data.sha256)
        ref = compute_index(result.framework, data, method).normalised[inds]
        assert list(ref.index) == list(result.normalised.index)
        np.testing.assert_allclose(got[r], ref.to_numpy(float), rtol=1e-11, atol=1e-9,
                                   equal_nan=True, err_msg=f"copy {r}")


@pytest.mark.parametrize("name", ["gdci", "brpci"])
def test_bundled_indices(name):
    r = ci.compute(name)
    check_equal_to_pipeline(r, _copies(r, 6, 0.1, 1))


@pytest.mark.parametrize("measure", ["imputed", "denominated"])
def test_asem_denominators_and_screening(measure):
    """COINr's pipeline: denominators, group means, screening at 90 % availability measured
    after imputation (COINr: keeps all 51) or before it (drops 5)."""
    method = ci.load_method("asem").replace("screening.measure", measure)
    r = ci.compute(ASEM / "asem_imeta.csv", ASEM / "asem_idata.csv", method)
    assert (~r.screening["kept"]).sum() == (5 if measure == "denominated" else 0)
    check_equal_to_pipeline(r, _copies(r, 5, 0.05, 2))


@pytest.mark.parametrize("spec", [
    {"imputation": {"method": "mean"}, "treatment": {"method": "none"},
     "normalisation": {"method": "zscore", "mean": 10, "sd": 2}},
    {"imputation": {"method": "group_median", "group": "subregion", "fallback": "mean"},
     "treatment": {"method": "coinr", "winmax": 2, "force": True},
     "normalisation": {"method": "rank"}},
    {"imputation": {"method": "iterative", "max_iter": 3}, "treatment": {"method": "log_ct"},
     "normalisation": {"method": "dist2max"}},
    {"imputation": {"method": "min"}, "treatment": {"method": "none"},
     "normalisation": {"method": "prank"}},
])
def test_other_stage_methods(spec):
    r = ci.compute("gdci")
    check_equal_to_pipeline(r, _copies(r, 3, 0.2, 3), ci.MethodSpec.from_dict(spec))


def test_shape_is_checked():
    r = ci.compute("brpci")
    with pytest.raises(ValueError, match="raw must be"):
        normalise_many(r, np.zeros((2, 3, 4)))


@pytest.mark.parametrize("seed", range(6))
def test_coinr_many_equals_the_one_indicator_rule(seed):
    """coinr_many treats every row exactly as the ``coinr`` treatment of one indicator does:
    right- and left-skewed rows, ties at the extremes, few values, forced winsorisation, the
    log fallback, missing cells."""
    from cityindex.model import stages
    from cityindex.model.treat import coinr_many, passes

    rng = np.random.default_rng(seed)
    rows = [rng.lognormal(0, 2, 80), -rng.lognormal(0, 2, 80), rng.normal(size=80),
            np.r_[np.zeros(70), np.arange(10) * 100.0], np.r_[np.full(78, 1.0), 50.0, 50.0],
            np.r_[rng.exponential(1, 75), [np.nan] * 5]]
    X = np.vstack(rows)
    coinr = stages.get("treatment", "coinr")
    for force, winmax in ((False, 5), (True, 2), (False, 1)):
        got = coinr_many(X, winmax=winmax, force=force)
        for r, v in enumerate(X):
            ok0, _, _ = passes(v)
            want = coinr.func(v, ok0=ok0, winmax=winmax, force=force)[0]
            np.testing.assert_allclose(got[r], want, rtol=1e-13, equal_nan=True,
                                       err_msg=f"row {r}, force={force}, winmax={winmax}")
