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

from .errors import DataError

METHODS = ("none", "mean", "median", "min", "group_mean", "group_median", "iterative")


def impute(values: pd.DataFrame, method: str = "none", groups: pd.Series | None = None,
           seed: int = 0, max_iter: int = 10, fallback: str = "none") -> pd.DataFrame:
    """Impute missing cells of ``values`` column by column.

    Parameters
    ----------
    values : DataFrame, units × indicators (any numeric dtype), NaN = missing.
    method : one of ``METHODS``.
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
    DataError for an unknown method or a group method without a group column.
    """
    x = values.astype(float)
    if method == "none" or not x.isna().any().any():
        return x
    if method in ("mean", "median", "min"):
        fill = {"mean": x.mean, "median": x.median, "min": x.min}[method]()
        out = x.fillna(fill)
    elif method in ("group_mean", "group_median"):
        if groups is None:
            raise DataError(f"imputation '{method}' needs a group column")
        groups = groups.reindex(x.index)
        stat = x.groupby(groups, dropna=True).transform(
            "mean" if method == "group_mean" else "median")
        out = x.fillna(stat)  # units with a missing label get NaN stats: left unchanged
        if fallback in ("mean", "median"):
            out = out.fillna(x.mean() if fallback == "mean" else x.median())
        elif fallback != "none":
            raise DataError(f"unknown imputation fallback '{fallback}'; valid: none, mean, median")
        elif groups.isna().any():
            warnings.warn(f"{int(groups.isna().sum())} unit(s) have no group label and are not "
                          "imputed", stacklevel=2)
    elif method == "iterative":
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        imp = IterativeImputer(max_iter=max_iter, random_state=seed, sample_posterior=False,
                               keep_empty_features=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the result is logged
            filled = imp.fit_transform(x.to_numpy(dtype=float, copy=True))  # writeable
        out = pd.DataFrame(filled, index=x.index, columns=x.columns)
    else:
        raise DataError(f"unknown imputation method '{method}'; valid: {list(METHODS)}")
    observed = x.notna()
    out = out.where(~observed, x)  # guarantee: observed values untouched
    return out


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
