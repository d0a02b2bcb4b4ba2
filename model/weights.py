"""Data-driven weight models: PCA / factor analysis, correlation-optimised, benefit of the doubt.

All follow the scikit-learn shape: parameters set and validated in ``__init__``; ``fit(X)``
(``X`` a DataFrame, units × components, columns = codes) returns ``self``; what was learned is an
attribute with a trailing underscore.

* :class:`PCAWeights`, :class:`FactorWeights` — OECD/JRC *Handbook on Constructing Composite
  Indicators* (2008), §6.1 pp. 89–91, after Nicoletti, Scarpetta & Boylaud (2000): retain
  factors, rotate varimax, square the rotated loadings and scale them to unit sum within each
  factor, assign each indicator to the factor where that scaled squared loading is highest,
  weight it by that loading times the factor's share of the explained variance, normalise.
* :class:`OptimisedWeights` — weights whose importances (normalised squared Pearson
  correlations of the children with their weighted-mean parent) match targets ("balance",
  COINr ``get_opt_weights``; a linear version of Becker et al. 2017, Ecol. Indic. 80:12,
  doi:10.1016/j.ecolind.2017.03.056) or that maximise the sum of those correlations
  ("infomax").
* :class:`BoDWeights` — benefit-of-the-doubt (DEA) weights per unit by linear programming
  (Cherchye, Moesen, Rogge & Van Puyenbroeck 2007, Soc. Indic. Res. 82:111; Handbook §6.3),
  with optional bounds on the weighted shares ("pie shares").

:func:`framework_weights` applies a model to every parent of a framework.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import optimize

from .errors import DataError, MethodError

__all__ = ["varimax", "n_factors_handbook", "handbook_weights", "PCAWeights", "FactorWeights",
           "OptimisedWeights", "BoDWeights", "framework_weights"]


# ---------------------------------------------------------------------------------- helpers
def _as_frame(X, name: str = "X") -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        df = X.copy()
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2:
            raise DataError(f"{name} must be 2-D (units × components); got shape {arr.shape}")
        df = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    try:
        df = df.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: non-numeric column ({exc})") from None
    if df.shape[1] < 1:
        raise DataError(f"{name} has no columns")
    return df


def _complete(df: pd.DataFrame, name: str, min_rows: int) -> pd.DataFrame:
    out = df[np.isfinite(df.to_numpy()).all(axis=1)]
    if len(out) < min_rows:
        raise DataError(f"{name}: {len(out)} units with complete data; need at least {min_rows}")
    return out


def varimax(loadings: np.ndarray, normalize: bool = True, tol: float = 1e-10,
            max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Varimax rotation (Kaiser 1958) of a p × k loading matrix.

    With ``normalize`` rows are scaled to unit communality before rotating and scaled back
    (Kaiser normalisation, as in SPSS / R ``varimax``). Returns ``(rotated, T)`` with
    ``rotated = loadings @ T``, ``T`` orthogonal k × k.
    """
    L = np.asarray(loadings, dtype=float)
    p, k = L.shape
    if k < 2:
        return L.copy(), np.eye(k)
    h = np.sqrt((L ** 2).sum(axis=1)) if normalize else np.ones(p)
    h = np.where(h > 0, h, 1.0)
    A = L / h[:, None]
    T = np.eye(k)
    d_old = 0.0
    for _ in range(max_iter):
        B = A @ T
        u, s, vt = np.linalg.svd(A.T @ (B ** 3 - B @ np.diag((B ** 2).sum(axis=0)) / p))
        T = u @ vt
        d = s.sum()
        if d_old != 0 and d / d_old < 1 + tol:
            break
        d_old = d
    return (A @ T) * h[:, None], T


def n_factors_handbook(eigenvalues: np.ndarray, min_eigenvalue: float = 1.0,
                       min_share: float = 0.10, min_cumulative: float = 0.60) -> int:
    """Number of factors by the Handbook rule (2008, p. 89).

    Keep the leading components that (i) have eigenvalue > ``min_eigenvalue`` and (ii) each
    explain more than ``min_share`` of the total variance; if together they explain no more
    than ``min_cumulative``, add components in order until they do (iii). At least one, and
    fewer than the number of indicators (as many factors as indicators reduce nothing).
    """
    ev = np.asarray(eigenvalues, dtype=float)
    ratio = ev / ev.sum()
    k = 0
    while k < len(ev) and ev[k] > min_eigenvalue and ratio[k] > min_share:
        k += 1
    k = max(k, 1)
    while k < len(ev) - 1 and ratio[:k].sum() <= min_cumulative:
        k += 1
    return k


def handbook_weights(loadings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights from a p × k (rotated) loading matrix, Handbook §6.1 (Table 18 procedure).

    Returns ``(weights, assignment, factor_share)``: weights (p, summing to 1), the factor
    (0-based) each indicator is assigned to, and each factor's share of the explained variance
    (Σ_i L_ij² over the retained factors). A factor to which no indicator is assigned drops out
    and the weights are renormalised.
    """
    L2 = np.asarray(loadings, dtype=float) ** 2
    expl = L2.sum(axis=0)
    share = expl / expl.sum()
    scaled = L2 / np.where(expl > 0, expl, 1.0)
    assign = scaled.argmax(axis=1)
    w = scaled[np.arange(len(assign)), assign] * share[assign]
    tot = w.sum()
    if tot <= 0:
        w = np.full(len(w), 1.0 / len(w))
    else:
        w = w / tot
    return w, assign, share


def _corr_eig(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    R = np.corrcoef(Z, rowvar=False)
    R = np.atleast_2d(R)
    ev, vec = np.linalg.eigh(R)
    order = np.argsort(ev)[::-1]
    return R, np.clip(ev[order], 0, None), vec[:, order]


class _FactorBase:
    def __init__(self, n_factors: int | None = None, min_eigenvalue: float = 1.0,
                 min_share: float = 0.10, min_cumulative: float = 0.60,
                 rotation: str | None = "varimax", missing: str = "listwise"):
        if n_factors is not None and (not isinstance(n_factors, (int, np.integer)) or n_factors < 1):
            raise MethodError(f"n_factors must be a positive integer or None; got {n_factors!r}")
        if rotation not in ("varimax", None):
            raise MethodError(f"rotation {rotation!r} unknown; use 'varimax' or None")
        for nm, v in (("min_share", min_share), ("min_cumulative", min_cumulative)):
            if not 0 <= v < 1:
                raise MethodError(f"{nm} must be in [0, 1); got {v!r}")
        if missing not in ("listwise", "em"):
            raise MethodError(f"missing {missing!r} unknown; use 'listwise' or 'em'")
        self.missing = missing
        self.n_factors = n_factors
        self.min_eigenvalue = min_eigenvalue
        self.min_share = min_share
        self.min_cumulative = min_cumulative
        self.rotation = rotation

    def _extract(self, R: np.ndarray, ev: np.ndarray, vec: np.ndarray, k: int, n: int) -> np.ndarray:
        raise NotImplementedError

    def fit(self, X) -> "_FactorBase":
        """Fit on ``X`` (DataFrame or array, units × indicators). Missing values: listwise
        deletion (``missing="listwise"``), or the EM estimate of the correlation matrix from
        every observed cell (``missing="em"``, :func:`~cityindex.model.em_covariance.
        em_covariance`; ``n_samples_`` is then the number of units with an observed value).

        Raises
        ------
        DataError
            Fewer than 2 columns, fewer than ``columns + 1`` complete (listwise) or used (EM)
            units, or a constant column.
        """
        df = _as_frame(X)
        if df.shape[1] < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 columns; got {df.shape[1]}")
        if self.missing == "em":
            from .em_covariance import cov_to_corr, em_covariance

            _, S, info = em_covariance(df.to_numpy())
            if info["n_used"] < df.shape[1] + 1:
                raise DataError(f"X: {info['n_used']} units with data; need at least "
                                f"{df.shape[1] + 1}")
            const = df.columns[np.diag(S) <= 0].tolist()
            if const:
                raise DataError(f"constant column(s) {const}: no correlation structure")
            R = cov_to_corr(S)
            ev, vec = np.linalg.eigh(R)
            order = np.argsort(ev)[::-1]
            ev, vec = np.clip(ev[order], 0, None), vec[:, order]
            n_used = info["n_used"]
        else:
            df = _complete(df, "X", df.shape[1] + 1)
            const = df.columns[df.std(ddof=1).to_numpy() == 0].tolist()
            if const:
                raise DataError(f"constant column(s) {const}: no correlation structure")
            R, ev, vec = _corr_eig(df.to_numpy())
            n_used = len(df)
        p = df.shape[1]
        k = self.n_factors or n_factors_handbook(ev, self.min_eigenvalue, self.min_share,
                                                 self.min_cumulative)
        if k > p:
            raise MethodError(f"n_factors={k} exceeds the number of columns ({p})")
        L = self._extract(R, ev, vec, k, n_used)
        k = L.shape[1]  # an extractor may return fewer factors than asked (e.g. FA on 2 columns)
        if self.rotation == "varimax" and k > 1:
            L, _ = varimax(L)
        L = L * np.where(L.sum(axis=0) < 0, -1.0, 1.0)  # sign convention: positive column sums
        w, assign, share = handbook_weights(L)
        names = [f"F{j + 1}" for j in range(k)]
        self.eigenvalues_ = pd.Series(ev, index=[f"PC{j + 1}" for j in range(p)], name="eigenvalue")
        self.n_factors_ = k
        self.n_samples_ = n_used
        self.loadings_ = pd.DataFrame(L, index=df.columns, columns=names)
        expl = (L ** 2).sum(axis=0)
        self.explained_variance_ = pd.Series(expl, index=names, name="explained_variance")
        self.explained_variance_ratio_ = pd.Series(expl / p, index=names,
                                                   name="explained_variance_ratio")
        self.factor_share_ = pd.Series(share, index=names, name="factor_share")
        self.assignment_ = pd.Series([names[a] for a in assign], index=df.columns, name="factor")
        self.weights_ = pd.Series(w, index=df.columns, name="weight")
        return self


class PCAWeights(_FactorBase):
    """PCA weights by the OECD/JRC Handbook procedure (2008, §6.1, pp. 89–91).

    Components of the correlation matrix (standardised indicators); loadings = eigenvector ·
    √eigenvalue. The number of components is ``n_factors`` or the Handbook rule
    (:func:`n_factors_handbook`: eigenvalue > 1, each > 10 % of variance, cumulative > 60 %).
    Rotated by varimax (Kaiser-normalised) and turned into weights by
    :func:`handbook_weights`.

    Attributes
    ----------
    weights_ : Series (indicators), summing to 1
    loadings_ : DataFrame (indicators × factors F1…Fk), rotated loadings
    explained_variance_ : Series (factors), variance explained by each rotated factor
        (Σ loading², in eigenvalue units; sums to the retained eigenvalues)
    explained_variance_ratio_ : Series, the same divided by the number of indicators
    eigenvalues_ : Series, all eigenvalues of the correlation matrix, descending
    n_factors_ : int; factor_share_ : Series; assignment_ : Series (indicator → factor);
    n_samples_ : int, units used (listwise complete)
    """

    def _extract(self, R, ev, vec, k, n):
        return vec[:, :k] * np.sqrt(ev[:k])


class FactorWeights(_FactorBase):
    """Factor-analysis weights by the Handbook procedure (2008, §6.1), statsmodels ``Factor``.

    Same as :class:`PCAWeights` but the loadings come from a common-factor model fitted to the
    correlation matrix (``method="pa"``: iterated principal axis with squared-multiple-correlation
    starting communalities; or ``"ml"``), then varimax. The number of factors follows the
    Handbook rule on the eigenvalues of the correlation matrix unless ``n_factors`` is given.
    Attributes as :class:`PCAWeights`, plus ``communalities_``.
    """

    def __init__(self, n_factors: int | None = None, method: str = "pa", **kw):
        super().__init__(n_factors=n_factors, **kw)
        if method not in ("pa", "ml"):
            raise MethodError(f"method {method!r} unknown; use 'pa' or 'ml'")
        self.method = method

    def _extract(self, R, ev, vec, k, n):
        from statsmodels.multivariate.factor import Factor

        res = Factor(corr=R, n_factor=k, method=self.method, nobs=n).fit()
        L = np.asarray(res.loadings, dtype=float)
        self.communalities_ = (L ** 2).sum(axis=1)
        return L


# ------------------------------------------------------------------------ optimised weights
def _linear_parent(Xv: np.ndarray, w: np.ndarray) -> np.ndarray:
    return Xv @ (w / w.sum())


def _corrs(Xs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of a centred-and-scaled Xs with y."""
    yc = y - y.mean()
    sy = np.sqrt(yc @ yc)
    if sy == 0:
        return np.zeros(Xs.shape[1])
    return (Xs.T @ yc) / sy


class OptimisedWeights:
    """Weights of the children of one parent chosen for their importance in the parent.

    The parent is the weighted arithmetic mean of the children (``X @ w / Σw``); a child's
    importance is its squared Pearson correlation with the parent, normalised to sum to one over
    the children (the linear version of the correlation ratio, Becker et al. 2017).

    Parameters
    ----------
    mode : {"balance", "infomax"}
        ``balance``: minimise Σ (importance_i − target_i)² (COINr ``get_opt_weights``).
        ``infomax``: maximise Σ r_i, the sum of the children's correlations with the parent.
    targets : mapping or None
        Target importances (relative; normalised), default equal.
    lower : float
        Lower bound of each normalised weight (> 0 keeps every child in the parent).
    n_starts : int
        Random (Dirichlet) restarts besides the equal-weight start; seeded by ``seed``.

    Attributes
    ----------
    weights_ : Series, summing to 1
    importances_, correlations_ : Series at the optimum
    initial_importances_ : Series at equal weights
    objective_ : float; success_ : bool (optimiser converged)
    """

    def __init__(self, mode: str = "balance", targets: Mapping[str, float] | None = None,
                 lower: float = 0.01, n_starts: int = 2, seed: int = 0):
        if mode not in ("balance", "infomax"):
            raise MethodError(f"mode {mode!r} unknown; use 'balance' or 'infomax'")
        if not 0 <= lower < 1:
            raise MethodError(f"lower must be in [0, 1); got {lower!r}")
        if targets is not None and any(not np.isfinite(v) or v < 0 for v in targets.values()):
            raise MethodError("targets must be finite and non-negative")
        self.mode, self.targets, self.lower = mode, targets, lower
        self.n_starts, self.seed = int(n_starts), seed

    def fit(self, X, initial: Mapping[str, float] | None = None) -> "OptimisedWeights":
        """Fit on the children's scores ``X`` (units × children; listwise deletion).

        Raises DataError for fewer than 2 columns or 3 complete units, MethodError if targets
        name unknown columns or ``lower`` × columns ≥ 1.
        """
        df = _complete(_as_frame(X), "X", 3)
        k = df.shape[1]
        if k < 2:
            raise DataError("OptimisedWeights needs at least 2 children")
        if self.lower * k >= 1:
            raise MethodError(f"lower={self.lower} too large for {k} children")
        if self.targets is None:
            t = np.full(k, 1.0 / k)
        else:
            unknown = set(self.targets) - set(df.columns)
            if unknown:
                raise MethodError(f"targets for unknown columns {sorted(unknown)}")
            t = np.array([self.targets.get(c, 0.0) for c in df.columns], dtype=float)
            t = t / t.sum()
        Xv = df.to_numpy()
        Xc = Xv - Xv.mean(axis=0)
        sd = np.sqrt((Xc ** 2).sum(axis=0))
        Xs = Xc / np.where(sd > 0, sd, 1.0)
        # r(w) = A w / sqrt(wᵀ C w): the parent's correlations in k dimensions, no n-vectors
        A = Xs.T @ Xc
        C = Xc.T @ Xc

        def stats_(w):
            s2 = float(w @ C @ w)
            r = A @ w / np.sqrt(s2) if s2 > 0 else np.zeros(k)
            r2 = r ** 2
            return r, r2 / r2.sum() if r2.sum() > 0 else np.full(k, 1.0 / k)

        def obj(w):
            s2 = float(w @ C @ w)
            if s2 <= 0:
                return 1e6, np.zeros(k)
            Cw = C @ w
            r = A @ w / np.sqrt(s2)
            dr = A / np.sqrt(s2) - np.outer(r, Cw) / s2          # k × k: d r_i / d w_j
            if self.mode == "infomax":
                return -float(r.sum()), -dr.sum(axis=0)
            S = float(r @ r)
            imp = r ** 2 / S
            dimp = (2 * r[:, None] * dr) / S - np.outer(imp, 2 * (r @ dr)) / S
            diff = imp - t
            return float(diff @ diff), 2 * diff @ dimp

        rng = np.random.default_rng(self.seed)
        starts = [np.full(k, 1.0 / k)]
        if initial is not None:
            starts.append(np.array([float(initial.get(c, 1.0)) for c in df.columns]))
        starts += list(rng.dirichlet(np.ones(k), size=self.n_starts))
        best = None
        for w0 in starts:
            w0 = np.clip(w0 / w0.sum(), self.lower, 1.0)
            res = optimize.minimize(obj, w0, method="SLSQP", jac=True,
                                    bounds=[(self.lower, 1.0)] * k,
                                    constraints=[dict(type="eq", fun=lambda w: w.sum() - 1.0,
                                                      jac=lambda w: np.ones_like(w))],
                                    options=dict(ftol=1e-12, maxiter=500))
            if best is None or res.fun < best.fun:
                best = res
        w = np.clip(best.x, self.lower, 1.0)
        w = w / w.sum()
        r, imp = stats_(w)
        r0, imp0 = stats_(np.full(k, 1.0 / k))
        cols = df.columns
        self.weights_ = pd.Series(w, index=cols, name="weight")
        self.importances_ = pd.Series(imp, index=cols, name="importance")
        self.correlations_ = pd.Series(r, index=cols, name="r")
        self.initial_importances_ = pd.Series(imp0, index=cols, name="importance")
        self.targets_ = pd.Series(t, index=cols, name="target")
        self.objective_ = obj(w)[0]
        self.success_ = bool(best.success)
        return self


# --------------------------------------------------------------------- benefit of the doubt
class BoDWeights:
    """Benefit-of-the-doubt (DEA) weights per unit (Cherchye et al. 2007; Handbook §6.3).

    For unit c: maximise ``Σ_j w_j x_cj`` over ``w ≥ 0`` subject to ``Σ_j w_j x_kj ≤ 1`` for every
    unit k, solved with ``scipy.optimize.linprog`` (HiGHS). Optional bounds on the pie shares
    ``w_j x_cj / Σ_i w_i x_ci`` ∈ [``lower_share``, ``upper_share``] (linear for fixed c;
    Cherchye et al. 2007, §4). With a lower share > 0, a unit with x_cj = 0 scores 0.

    Parameters
    ----------
    lower_share, upper_share : float, mapping code → float, or None

    Attributes
    ----------
    scores_ : Series (units), in [0, 1]; the best unit(s) score 1 when unconstrained
    weights_ : DataFrame (units × indicators), the LP weights (score = Σ w·x)
    shares_ : DataFrame (units × indicators), pie shares w_j x_cj / score (NaN for score 0)
    status_ : Series (units), linprog status (0 = optimal)

    Raises (fit)
    ------------
    DataError
        Missing or negative values (BoD needs complete, non-negative, larger-is-better data,
        e.g. min-max normalised indicators).
    """

    def __init__(self, lower_share: float | Mapping[str, float] | None = None,
                 upper_share: float | Mapping[str, float] | None = None):
        self.lower_share, self.upper_share = lower_share, upper_share

    def _bounds(self, cols, spec, default):
        if spec is None:
            return np.full(len(cols), default)
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(cols)
            if unknown:
                raise MethodError(f"share bounds for unknown columns {sorted(unknown)}")
            return np.array([float(spec.get(c, default)) for c in cols])
        return np.full(len(cols), float(spec))

    def fit(self, X, progress=None) -> "BoDWeights":
        """Solve one linear programme per unit (rows of ``X``, units × indicators);
        ``progress(step, done, total)`` every 50 units (:mod:`.progress`), or None."""
        from .progress import report

        df = _as_frame(X)
        v = df.to_numpy()
        if not np.isfinite(v).all():
            bad = df.columns[~np.isfinite(v).all(axis=0)].tolist()
            raise DataError(f"BoD needs complete data; missing values in {bad[:8]}")
        if (v < 0).any():
            raise DataError("BoD needs non-negative data (normalise first, e.g. min-max)")
        n, m = v.shape
        lo = self._bounds(df.columns, self.lower_share, 0.0)
        hi = self._bounds(df.columns, self.upper_share, 1.0)
        if (lo < 0).any() or (hi > 1).any() or (lo > hi).any() or lo.sum() > 1 or hi.sum() < 1:
            raise MethodError("share bounds must satisfy 0 ≤ lower ≤ upper ≤ 1, Σlower ≤ 1 ≤ Σupper")
        constrained = (lo > 0).any() or (hi < 1).any()
        frontier = v[_undominated(v)]      # the other units' constraints are redundant
        W = np.zeros((n, m))
        scores = np.zeros(n)
        status = np.zeros(n, dtype=int)
        for c in range(n):
            if c % 50 == 0:
                report(progress, f"benefit of the doubt ({n} linear programmes)", c, n)
            xc = v[c]
            A, b = [frontier], [np.ones(len(frontier))]
            if constrained:
                E = np.diag(xc)
                A.append(-(E - np.outer(lo, xc)))   # w_j x_cj ≥ lo_j Σ w x_c
                A.append(E - np.outer(hi, xc))      # w_j x_cj ≤ hi_j Σ w x_c
                b += [np.zeros(m), np.zeros(m)]
            res = optimize.linprog(-xc, A_ub=np.vstack(A), b_ub=np.concatenate(b),
                                   bounds=[(0, None)] * m, method="highs")
            status[c] = res.status
            if res.status == 0:
                W[c] = res.x
                scores[c] = float(xc @ res.x)
            else:
                W[c], scores[c] = np.nan, np.nan
        self.weights_ = pd.DataFrame(W, index=df.index, columns=df.columns)
        self.scores_ = pd.Series(np.clip(scores, 0, 1), index=df.index, name="bod_score")
        with np.errstate(invalid="ignore", divide="ignore"):
            self.shares_ = pd.DataFrame(W * v / np.where(scores > 0, scores, np.nan)[:, None],
                                        index=df.index, columns=df.columns)
        self.status_ = pd.Series(status, index=df.index, name="status")
        return self


def _undominated(v: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``v`` (units × indicators) that no other row weakly
    dominates (equal rows: the first is kept). For w ≥ 0 a dominated row's constraint
    Σ_j w_j x_kj ≤ 1 follows from its dominating row's, so the BoD linear programmes keep the
    same feasible set, optimum and solution without it."""
    n = len(v)
    keep = np.ones(n, dtype=bool)
    for k in range(n):
        ge = (v >= v[k]).all(axis=1)            # rows at least as large everywhere
        ge[k] = False
        gt = ge & (v > v[k]).any(axis=1)        # strictly larger somewhere
        eq_before = ge & ~gt
        eq_before[k:] = False                   # an equal row earlier in the data
        keep[k] = not (gt.any() or eq_before.any())
    return keep


# ---------------------------------------------------------------- apply over a framework
def framework_weights(framework, aggregated: pd.DataFrame, model_factory, *,
                      min_children: int = 3) -> tuple[pd.DataFrame, dict]:
    """Fit a weight model to the children of every parent of ``framework``.

    Parameters
    ----------
    framework : model.framework.Framework
    aggregated : DataFrame, units × codes (indicators and aggregates)
    model_factory : callable () → unfitted model with ``fit(X)`` and ``weights_``
    min_children : int
        Parents with fewer children get no model: weight 1 for a single child, NaN for two —
        a 2×2 correlation matrix always has eigenvectors (1, ±1)/√2, so PCA/FA weights of two
        indicators are 0.5/0.5 whatever the data, which is no evidence of anything.

    Returns
    -------
    (weights, models) : (DataFrame with ``code``, ``parent``, ``weight``; dict parent → fitted
    model, or the error message (str) where the fit raised a cityindex error)
    """
    rows, models = [], {}
    for parent in framework.aggregates:
        kids = framework.children(parent)
        if len(kids) < min_children:
            rows += [dict(code=k, parent=parent, weight=1.0 if len(kids) == 1 else np.nan)
                     for k in kids]
            models[parent] = f"{len(kids)} children: no factor structure to estimate"
            continue
        missing = [k for k in kids if k not in aggregated.columns]
        if missing:
            raise DataError(f"aggregated table lacks columns {missing[:8]}")
        try:
            m = model_factory().fit(aggregated[kids])
        except (DataError, MethodError, np.linalg.LinAlgError) as exc:
            models[parent] = str(exc)
            rows += [dict(code=k, parent=parent, weight=np.nan) for k in kids]
            continue
        models[parent] = m
        rows += [dict(code=k, parent=parent, weight=float(m.weights_[k])) for k in kids]
    return pd.DataFrame(rows), models
