"""The pipeline's pre-aggregation stages applied to many copies of the data at once.

:func:`normalise_many` takes R perturbed copies of a data set's indicator values (e.g. draws of
measurement error, or completed data sets of multiple imputation) and returns, for each copy,
the normalised indicators :func:`~.pipeline.compute_index` would produce with the same
framework and method — without building R IndexResults. Denomination and imputation run as
array operations over all copies together; treatment and normalisation call the same
registered stage functions as the pipeline (:mod:`.stages`) on numpy arrays, one indicator of
one copy at a time, with no pandas, logging or validation overhead. The set of screened units
is the nominal one (the copies keep the data's missingness).

Equality with ``compute_index`` on every copy is tested (to floating-point rounding).
"""

from __future__ import annotations

import numpy as np

from . import stages
from .errors import MethodError
from .normalise import normalise
from .treat import coinr_many, passes

#: imputation methods computed here as array operations (others: per copy, through impute())
_VECTOR_IMPUTE = ("none", "mean", "median", "min", "group_mean", "group_median")


def _fill(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """x (R, U, k) with its NaN cells replaced by ``fill`` broadcast over units (R, 1, k)."""
    return np.where(np.isnan(x), fill, x)


def _stat(x: np.ndarray, kind: str) -> np.ndarray:
    """Per copy and column statistic over units of x (R, U, k), ignoring NaN → (R, 1, k)."""
    with np.errstate(all="ignore"), _quiet():
        if kind == "mean":
            out = np.nanmean(x, axis=1, keepdims=True)
        elif kind == "median":
            out = np.nanmedian(x, axis=1, keepdims=True)
        else:
            out = np.nanmin(x, axis=1, keepdims=True)
    return out


class _quiet:
    """Silence numpy's 'all-NaN slice' warnings (a column or group with no observed value
    stays missing, as in :func:`~.impute.impute`)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def _impute_vector(x: np.ndarray, spec: dict, groups: np.ndarray | None) -> np.ndarray:
    """Imputation of x (R, U, k) for the array-friendly methods (see :data:`_VECTOR_IMPUTE`)."""
    m = spec["method"]
    if m == "none":
        return x
    if m in ("mean", "median", "min"):
        return _fill(x, _stat(x, m))
    stat = "mean" if m == "group_mean" else "median"
    out = x.copy()
    labels = np.asarray(groups, dtype=object)
    for g in [v for v in dict.fromkeys(labels.tolist()) if isinstance(v, str) or v == v]:
        rows = np.flatnonzero(labels == g)
        out[:, rows] = _fill(x[:, rows], _stat(x[:, rows], stat))
    fallback = spec.get("fallback", "none")
    if fallback in ("mean", "median"):
        out = _fill(out, _stat(x, fallback))
    return np.where(np.isnan(x), out, x)


def _impute(x: np.ndarray, framework, method, meta, units) -> np.ndarray:
    """Imputation of every indicator column of x (R, U, I), spec by spec as the pipeline."""
    import pandas as pd

    from .impute import impute

    inds = framework.indicators
    specs = {c: method.resolve("imputation", c, 1) for c in inds}
    out = x.copy()
    done: dict[tuple, list[str]] = {}
    for c, spec in specs.items():
        done.setdefault(tuple(sorted((k, str(v)) for k, v in spec.items())), []).append(c)
    for cols in done.values():
        spec = specs[cols[0]]
        idx = [inds.index(c) for c in cols]
        group = spec.get("group")
        if group is not None and group not in meta.columns:
            raise MethodError(f"imputation group column '{group}' not in the data")
        groups = meta[group].reindex(units).to_numpy(object) if group is not None else None
        if spec["method"] in _VECTOR_IMPUTE:
            out[:, :, idx] = _impute_vector(x[:, :, idx], spec, groups)
            continue
        for r in range(x.shape[0]):  # other methods (iterative): one copy at a time
            base = pd.DataFrame(x[r], index=units, columns=inds)
            filled = impute(base if spec["method"] == "iterative" else base[cols],
                            spec["method"], None if groups is None else
                            pd.Series(groups, index=units), seed=spec.get("seed", method.seed),
                            max_iter=spec.get("max_iter", 10),
                            fallback=spec.get("fallback", "none"))
            out[r, :, idx] = filled[cols].to_numpy(float).T
    return out


def _treat(v: np.ndarray, spec: dict) -> np.ndarray:
    """One indicator of one copy through the registered treatment (as treat_indicator)."""
    m = stages.get("treatment", spec["method"])
    params = {k: val for k, val in spec.items() if k != "method"}
    ok0, _, _ = passes(v, params.get("skew", 2.0), params.get("kurtosis", 3.5))
    kw = {k: val for k, val in params.items() if k in m.params}
    return m.func(v, ok0=ok0, code="", units=None, where=None, **kw)[0]


def normalise_many(result, raw: np.ndarray, method=None, *,
                   completed: np.ndarray | None = None) -> np.ndarray:
    """Normalised indicators of R copies of the data, as ``compute_index`` would give them.

    Parameters
    ----------
    result : IndexResult — its framework, data (metadata, denominators, unit order) and kept
        units (the copies are screened as the nominal data).
    raw : array (R, U, I) — indicator values of every unit of ``result.data`` (its row order;
        NaN = missing) for the framework's indicators (``framework.indicators`` order), before
        denomination.
    method : MethodSpec to apply (default: the result's).
    completed : optional array (R, K, I) — completed data sets (kept units, denominated scale,
        e.g. :class:`~.multiple_imputation.MultipleImputation` ``completed``) whose values fill
        the missing cells of each copy instead of the method's imputation, as
        ``compute_index(..., imputations=)`` does.

    Returns
    -------
    array (R, K, I): normalised values of the K kept units (``result.normalised`` order).

    Raises
    ------
    MethodError / DataError as the pipeline's stages (e.g. a reference unit that is missing).
    """
    fw = result.framework
    method = method or result.method
    data = result.data
    inds = fw.indicators
    x = np.array(raw, dtype=float, copy=True)
    units_all = data.values.index
    if x.shape[1:] != (len(units_all), len(inds)):
        raise ValueError(f"raw must be (R, {len(units_all)}, {len(inds)}), got {x.shape}")
    if method.stages["denomination"].get("enabled", True):
        for j, c in enumerate(inds):
            den = fw.nodes[c].denominator
            if den:
                x[:, :, j] = x[:, :, j] / data.values[den].to_numpy(float)
    kept = result.normalised.index
    pos = units_all.get_indexer(kept)
    meta = data.meta
    if completed is not None:
        c = np.asarray(completed, dtype=float)
        if c.shape != (x.shape[0], len(kept), len(inds)):
            raise ValueError(f"completed must be ({x.shape[0]}, {len(kept)}, {len(inds)}), "
                             f"got {c.shape}")
        x = x[:, pos]
        x = np.where(np.isnan(x), c, x)
    elif method.stages["screening"].get("measure", "denominated") == "imputed":
        x = _impute(x, fw, method, meta.reindex(units_all), units_all)[:, pos]
    else:
        x = _impute(x[:, pos], fw, method, meta.reindex(kept), kept)
    out = np.empty_like(x)
    treated = result.treated
    for j, c in enumerate(inds):
        t_spec = method.resolve("treatment", c, 1)
        n_spec = method.resolve("normalisation", c, 1)
        node = fw.nodes[c]
        params = {k: v for k, v in n_spec.items() if k not in ("method", "direction", "ref",
                                                               "target")}
        if n_spec["method"] == "goalposts" and "goalposts" not in params:
            params["goalposts"] = node.goalposts
        ref = n_spec.get("ref") if n_spec["method"] == "dist2ref" else None
        ref_row = int(np.flatnonzero(treated.index == ref)[0]) if ref is not None else None
        if t_spec["method"] == "coinr":  # the iterative rule, all copies at once
            p = stages.param_defaults("treatment", "coinr") | t_spec
            T = coinr_many(x[:, :, j], p["winmax"], p["skew"], p["kurtosis"], p["force"],
                           p["log_fallback"])
        else:
            T = np.stack([_treat(x[r, :, j], t_spec) for r in range(x.shape[0])])
        for r in range(x.shape[0]):
            t = T[r]
            out[r, :, j] = normalise(t, n_spec["method"],
                                     int(n_spec.get("direction", node.direction)), c,
                                     ref_value=t[ref_row] if ref_row is not None else None,
                                     target=n_spec.get("target", node.target), **params)
    return out
