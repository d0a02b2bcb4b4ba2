"""Imputation of missing indicator values (OECD/JRC Handbook 2008, Step 3; COINr ``Impute``
with ``i_mean``, ``i_median``, ``i_mean_grp``, ``i_median_grp``; an iterative/EM-style imputer).

Rules shared by every method: an observed value is never changed (COINr issue #40, case B01);
output is float whatever the input dtype; a cell that cannot be imputed (its group has no
observed value, or the unit has no group label) stays missing and is reported.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import stages
from .errors import DataError
from .stages import register


@register("imputation", "none")
def _none(x: pd.DataFrame, groups=None) -> pd.DataFrame:
    """Leave missing cells missing."""
    return x


@register("imputation", "mean")
def _mean(x: pd.DataFrame, groups=None) -> pd.DataFrame:
    """The indicator's mean over observed units."""
    return x.fillna(x.mean())


@register("imputation", "median")
def _median(x: pd.DataFrame, groups=None) -> pd.DataFrame:
    """The indicator's median over observed units."""
    return x.fillna(x.median())


@register("imputation", "min")
def _min(x: pd.DataFrame, groups=None) -> pd.DataFrame:
    """The indicator's smallest observed value (for left-censored lists)."""
    return x.fillna(x.min())


def _group(x: pd.DataFrame, groups, stat: str, fallback: str) -> pd.DataFrame:
    if groups is None:
        raise DataError(f"imputation 'group_{stat}' needs a group column")
    groups = groups.reindex(x.index)
    out = x.fillna(x.groupby(groups, dropna=True).transform(stat))
    # units with a missing label get NaN group statistics: left unchanged, unless a fallback
    if fallback in ("mean", "median"):
        out = out.fillna(x.mean() if fallback == "mean" else x.median())
    elif fallback != "none":
        raise DataError(f"unknown imputation fallback '{fallback}'; valid: none, mean, median")
    elif groups.isna().any():
        warnings.warn(f"{int(groups.isna().sum())} unit(s) have no group label and are not "
                      "imputed", stacklevel=3)
    return out


@register("imputation", "group_mean", params={"group", "fallback"}, defaults={"fallback": "none"})
def _group_mean(x: pd.DataFrame, groups=None, fallback: str = "none") -> pd.DataFrame:
    """The mean over observed units of the same group."""
    return _group(x, groups, "mean", fallback)


@register("imputation", "group_median", params={"group", "fallback"},
          defaults={"fallback": "none"})
def _group_median(x: pd.DataFrame, groups=None, fallback: str = "none") -> pd.DataFrame:
    """The median over observed units of the same group."""
    return _group(x, groups, "median", fallback)


@register("imputation", "iterative", params={"seed", "max_iter"},
          defaults={"seed": 0, "max_iter": 10})
def _iterative(x: pd.DataFrame, groups=None, seed: int = 0, max_iter: int = 10) -> pd.DataFrame:
    """scikit-learn ``IterativeImputer`` (chained Bayesian-ridge regressions), seeded."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    imp = IterativeImputer(max_iter=max_iter, random_state=seed, sample_posterior=False,
                           keep_empty_features=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the result is logged
        filled = imp.fit_transform(x.to_numpy(dtype=float, copy=True))  # writeable
    return pd.DataFrame(filled, index=x.index, columns=x.columns)


def impute(values: pd.DataFrame, method: str = "none", groups: pd.Series | None = None,
           seed: int = 0, max_iter: int = 10, fallback: str = "none") -> pd.DataFrame:
    """Impute missing cells of ``values`` column by column.

    Parameters
    ----------
    values : DataFrame, units × indicators (any numeric dtype), NaN = missing.
    method : a registered imputation method (:func:`cityindex.model.stages.methods`):
        mean / median: the indicator's mean / median over observed units;
        min: the indicator's smallest observed value — for lists that are left-censored (a unit
        is absent because it falls below the list's threshold, e.g. GaWC's 707 cities), where
        the minimum is the best bound on the missing value;
        group_mean / group_median: over observed units of the same group (``groups``);
        iterative: scikit-learn ``IterativeImputer`` (chained Bayesian-ridge regressions on the
        other indicators, an EM-like scheme; van Buuren & Groothuis-Oudshoorn 2011), seeded.
    groups : Series (units,) of group labels, required for group methods; missing label =
        the unit is left as it is.
    fallback : for group methods, "none" (leave cells whose group has no observed value, or
        whose unit has no label, missing — COINr's behaviour) or "mean"/"median" of all units.

    Returns
    -------
    DataFrame of floats, same shape; observed cells are bit-identical to the input.

    Raises
    ------
    DataError for a group method without a group column or an unknown fallback;
    MethodError for an unknown method.
    """
    m = stages.get("imputation", method)
    x = values.astype(float)
    if method == "none" or not x.isna().any().any():
        return x
    kw = {"seed": seed, "max_iter": max_iter, "fallback": fallback}
    out = m.func(x, groups, **{k: v for k, v in kw.items() if k in m.params})
    observed = x.notna()
    return out.where(~observed, x)  # guarantee: observed values untouched


def imputation_log(before: pd.DataFrame, after: pd.DataFrame, method: str) -> list[dict]:
    """One record per imputed cell and per cell left missing."""
    log = []
    miss = before.isna().to_numpy()
    for i, j in zip(*np.nonzero(miss)):
        unit, code = before.index[i], before.columns[j]
        value = after.iat[i, j]
        log.append({"stage": "imputation", "code": code, "unit": unit,
                    "action": "imputed" if pd.notna(value) else "left missing",
                    "n": 1, "value": value, "detail": method})
    return log
