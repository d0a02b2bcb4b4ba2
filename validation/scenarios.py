"""One-at-a-time scenarios: each alternative of an uncertainty space applied alone.

The JRC statistical audits (e.g. Saisana & Saltelli's audits of the Global Innovation Index;
OECD/JRC Handbook 2008, Step 7, "one-at-a-time" analysis) report, beside the Monte Carlo bands,
how the ranking changes when a *single* methodological choice is made differently and every
other choice is kept nominal: a geometric instead of an arithmetic mean, equal weights, no
imputation, each indicator left out, … For each such scenario :func:`one_at_a_time` gives

* Spearman's ρ between the scenario's index scores and the nominal scores (Pearson
  correlation of average ranks, ties averaged), and
* the mean and the largest absolute rank shift, |rank − nominal rank| (ranks under the index's
  ranking conventions, as in the uncertainty analysis: by default 1 = best, ties share the best
  rank), over the units.

Nothing is recomputed through the pipeline: the scenarios are read from the alternatives that
:func:`~cityindex.validation.engine.prepare` computed once for the uncertainty and sensitivity
analyses (normalised matrices per pre-aggregation alternative; aggregation methods and weights
are resolved from the method spec) and evaluated as batched array operations with the engine's
aggregation.

Which level is "nominal" for each assumption: for a ``path`` assumption the alternative whose
method equals the nominal method at every node; ``none`` for leave-one-out; the set named
``nominal`` (or empty) for weight sets; no factor (the nominal weights) for weight noise, and no
noise for measurement error. When a pre-aggregation assumption's alternatives do not include the
nominal choice (e.g. the nominal normalisation is min-max on [0, 100] but the space offers
[1, 100], z-scores and ranks), the scenarios of the *other* pre-aggregation assumptions keep that
assumption at its first alternative; this is stated in the ``baseline`` row and in the notes,
and the baseline row gives its own ρ and shift against the nominal ranking. Weight-noise and
measurement-noise assumptions are random draws rather than one alternative: their row summarises
all their pre-drawn sets (median, with the 5th–95th percentile range over the draws).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from cityindex.model.aggregate import rank_desc
from cityindex.model.errors import DataError
from cityindex.model.summary import Result, Summary, json_safe

from .engine import Prepared, _mixed_radix, _rankable_masks, _scores_group, chunk_size

__all__ = ["ScenarioResult", "one_at_a_time", "spearman_rows"]


# ----------------------------------------------------------------------------- statistics
def spearman_rows(S: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    """Spearman's ρ of every row of ``S`` (scenarios × units scores) with ``nominal`` (units):
    the Pearson correlation of average ranks (ties averaged); a row with missing scores uses
    the units scored in both. Returns (scenarios,)."""
    S = np.atleast_2d(np.asarray(S, float))
    nominal = np.asarray(nominal, float)
    out = np.full(S.shape[0], np.nan)
    full = np.isfinite(S).all(axis=1) & np.isfinite(nominal).all()
    if full.any():
        rx = rankdata(S[full], axis=1)
        ry = rankdata(nominal)
        rx = rx - rx.mean(axis=1, keepdims=True)
        ry = ry - ry.mean()
        den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            out[full] = (rx @ ry) / den
    for i in np.flatnonzero(~full):
        ok = np.isfinite(S[i]) & np.isfinite(nominal)
        if ok.sum() >= 3:
            out[i] = spearman_rows(S[i, ok][None, :], nominal[ok])[0]
    return out


def _shifts(S: np.ndarray, nominal_ranks: np.ndarray, rank=None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, max) absolute rank shift of each row of scores ``S`` from the nominal ranks;
    ``rank(S)`` ranks the rows (default: 1 = highest, ties share the best rank)."""
    R = rank(S) if rank is not None else rank_desc(S, axis=1)
    d = np.abs(R - nominal_ranks[None, :])
    with np.errstate(invalid="ignore"):
        return np.nanmean(d, axis=1), np.nanmax(d, axis=1)


# ----------------------------------------------------------------------------- result
@dataclass(repr=False)
class ScenarioResult(Result):
    """Result of :func:`one_at_a_time`.

    Attributes
    ----------
    table : DataFrame, one row per scenario: ``assumption``, ``alternative`` (its label),
        ``kind`` (``baseline`` | ``alternative`` | ``draws``), ``n`` (evaluations: 1, or the
        number of draws), ``spearman``, ``mean_abs_shift``, ``max_abs_shift`` (for draws: the
        median over the draws), ``spearman_q5``/``spearman_q95`` and
        ``shift_q5``/``shift_q95`` (draws only: 5th and 95th percentiles over the draws),
        ``note``.
    baseline : {assumption: label of the level the other scenarios keep it at}
    figures : ``nominal_max_abs_diff`` (largest |score difference| between the engine's
        nominal evaluation and the nominal result: a check, ~1e-12), ``n_units``.
    """

    table: pd.DataFrame
    baseline: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return json_safe({"scenarios": self.table, "baseline": self.baseline,
                          "figures": self.figures})

    def summary(self) -> Summary:
        s = Summary("One-at-a-time scenarios")
        s.add_text("Each alternative of the uncertainty space applied alone, every other choice "
                   "nominal; Spearman's ρ and absolute rank shifts against the nominal ranking.")
        s.add_table(self.table[["assumption", "alternative", "n", "spearman",
                                "mean_abs_shift", "max_abs_shift", "note"]],
                    "Scenarios", max_rows=None)
        return s

    def _repr_lines(self):
        t = self.table[self.table["kind"] != "baseline"]
        worst = t.nsmallest(1, "spearman")
        line = (f"lowest ρ: {worst['assumption'].iloc[0]} = {worst['alternative'].iloc[0]} "
                f"({worst['spearman'].iloc[0]:.3f})" if len(worst) else "no scenario")
        return [f"{len(t)} scenarios over {t['assumption'].nunique()} assumptions", line]


# ----------------------------------------------------------------------------- scenarios
def _label(a, level: int) -> str:
    """A readable label of one alternative: ``zscore (mean: 10, sd: 2)`` rather than the YAML
    mapping; weight sets and leave-one-out as the space names them."""
    if a.kind == "path":
        v = a.values[level]
        if isinstance(v, dict) and "method" in v:
            rest = ", ".join(f"{k}: {x}" for k, x in v.items() if k != "method")
            return f"{v['method']}" + (f" ({rest})" if rest else "")
        if isinstance(v, (bool, int, float)):
            return str(v)
    return a.label(level)


def _same_method(a, b, fw) -> bool:
    """Whether two method specs resolve to the same parameters at every node and stage."""
    if a == b:
        return True
    for stage in a.stages:
        for code in fw.nodes:
            if a.resolve(stage, code, fw.level(code)) != b.resolve(stage, code, fw.level(code)):
                return False
    return a.weights == b.weights


def _nominal_level(a, method, fw) -> int | None:
    """The level of assumption ``a`` that is the nominal choice, or None."""
    if a.kind == "path":
        for k, v in enumerate(a.values):
            try:
                if _same_method(method.replace(a.path, v), method, fw):
                    return k
            except Exception:  # noqa: BLE001 - an unresolvable alternative is not nominal
                continue
        return None
    if a.kind == "leave_one_out":
        return a.values.index("none") if "none" in a.values else None
    if a.kind == "weight_sets":
        for k, name in enumerate(a.values):
            ws = a.params["sets"][name]
            if ws in ("nominal", None) or ws == {}:
                return k
        return None
    return None  # weight noise, measurement: the nominal is no perturbation


def _aggregation(spec, fw, nodes, levels) -> tuple[list[tuple[str, float]], np.ndarray]:
    """Per-node (method, p) and base weights of a method spec (as engine.prepare does)."""
    fw_c = fw.with_weights(spec.weights) if spec.weights else fw
    weights = np.array([fw_c.nodes[c].weight for c in nodes], float)
    per_node = [("", 1.0)] * len(nodes)
    for lv_nodes, lv in zip(levels, range(2, fw.max_level + 1)):
        for i in lv_nodes:
            r = spec.resolve("aggregation", nodes[i], lv)
            per_node[i] = (r["method"], float(r.get("p", 1.0)))
    return per_node, weights


def _evaluate(p: Prepared, Z: np.ndarray, methods, W: np.ndarray) -> np.ndarray:
    """Index scores (rows of W × units) in memory-bounded chunks; NaN for a unit with no
    observed indicator under the index through the weights of the row (never ranked)."""
    W = np.atleast_2d(W)
    cs = chunk_size(p)
    S = np.vstack([_scores_group(p, Z, methods, W[s:s + cs])[p.root]
                   for s in range(0, W.shape[0], cs)])
    if p.observed is not None:
        inv, masks = _rankable_masks(p, W)
        S = np.where(masks[inv][:, :, p.root], S, np.nan)
    return S


def one_at_a_time(prepared: Prepared, result) -> ScenarioResult:
    """Every alternative of ``prepared.space`` applied alone (see the module docstring).

    Parameters
    ----------
    prepared : the alternatives of an uncertainty space, prepared once for ``result``
        (:func:`~cityindex.validation.engine.prepare`).
    result : the nominal IndexResult (units × indicators tables; never recomputed).

    Returns
    -------
    ScenarioResult — one row per scenario (ρ, mean and largest absolute rank shift).

    Raises
    ------
    ValueError if ``prepared`` was built for another result.
    """
    p, space = prepared, prepared.space
    if list(p.units) != list(result.scores.index):
        raise ValueError("the prepared alternatives belong to another index result")
    fw, method = result.framework, result.method
    nominal_scores = result.index_scores.reindex(p.units).to_numpy(float)
    nominal_ranks = np.asarray(p.nominal_ranks, float)
    Z0 = result.normalised[fw.indicators].reindex(p.units).to_numpy(float)
    agg0, w0 = _aggregation(method, fw, p.nodes, p.levels)

    nominal_level = {j: _nominal_level(a, method, fw) for j, a in enumerate(space.assumptions)}
    pre = list(p.pre_levels)
    pre_base = {}
    for j in pre:
        a = space.assumptions[j]
        lv = nominal_level[j]
        # multiple imputation: no level is the nominal single imputation; the other
        # pre-aggregation scenarios keep its first completed data set (stated)
        pre_base[j] = lv if lv is not None else (
            0 if a.kind in ("path", "multiple_imputation") else None)
    baseline = {}
    for j, a in enumerate(space.assumptions):
        lv = nominal_level[j]
        if lv is not None:
            baseline[a.name] = f"{_label(a, lv)} (nominal)"
        elif j in pre and a.kind == "path":
            baseline[a.name] = f"{_label(a, 0)} (first alternative; the nominal choice is not " \
                               "among them)"
        elif a.kind == "multiple_imputation":
            baseline[a.name] = f"{_label(a, 0)} (one draw of the multiple imputation; the " \
                               "nominal single imputation is not among its levels)"
        else:
            baseline[a.name] = "nominal (no perturbation)"

    rows: list[dict] = []

    def add(a_name, label, kind, S, note=""):
        rho = spearman_rows(S, nominal_scores)
        mean_s, max_s = _shifts(S, nominal_ranks, lambda X: p.rank(X, p.nodes[p.root]))
        row = dict(assumption=a_name, alternative=label, kind=kind, n=int(S.shape[0]))
        if kind == "draws":
            row.update(spearman=float(np.median(rho)), mean_abs_shift=float(np.median(mean_s)),
                       max_abs_shift=float(np.median(max_s)),
                       spearman_q5=float(np.quantile(rho, 0.05)),
                       spearman_q95=float(np.quantile(rho, 0.95)),
                       shift_q5=float(np.quantile(mean_s, 0.05)),
                       shift_q95=float(np.quantile(mean_s, 0.95)))
            note = note or (f"median over {S.shape[0]} draws; ρ 5–95 %: "
                            f"{row['spearman_q5']:.3f}–{row['spearman_q95']:.3f}, mean shift "
                            f"5–95 %: {row['shift_q5']:.1f}–{row['shift_q95']:.1f}")
        else:
            row.update(spearman=float(rho[0]), mean_abs_shift=float(mean_s[0]),
                       max_abs_shift=float(max_s[0]))
        row["note"] = note
        rows.append(row)

    def unavailable(a_name, label, note):
        rows.append(dict(assumption=a_name, alternative=label, kind="alternative", n=0,
                         spearman=np.nan, mean_abs_shift=np.nan, max_abs_shift=np.nan,
                         note=note))

    def z_for(j=None, level=None):
        """The normalised matrix with pre-aggregation assumption j at ``level`` and the others
        at their baseline; None when a baseline is missing (measurement noise)."""
        assign = {i: pre_base[i] for i in pre}
        if j is not None:
            assign[j] = level
        if all(assign[i] == nominal_level[i] for i in pre) and j is None:
            return Z0
        if any(v is None for v in assign.values()):
            return None
        return p.Z[int(_mixed_radix(np.array([[assign[i] for i in pre]]), p.pre_sizes)[0])]

    check = _evaluate(p, Z0, agg0, w0)[0]
    figures = {"n_units": len(p.units),
               "nominal_max_abs_diff": float(np.nanmax(np.abs(check - nominal_scores)))}

    off_nominal = [space.assumptions[i].name for i in pre
                   if pre_base[i] is not None and pre_base[i] != nominal_level[i]]
    if off_nominal:
        Zb = z_for()
        add("baseline", ", ".join(f"{n} = {_label(space[n], 0)}" for n in off_nominal),
            "baseline", _evaluate(p, Zb, agg0, w0),
            note="the level the other pre-aggregation scenarios keep "
                 f"{', '.join(off_nominal)} at (the nominal choice is not in the space)")

    for j, a in enumerate(space.assumptions):
        levels = [k for k in range(a.n_levels) if k != nominal_level[j]]
        if a.kind == "path" and j in pre:
            for k in levels:
                Z = z_for(j, k)
                if Z is None:
                    unavailable(a.name, _label(a, k), "not available: the space has no "
                                "alternative without measurement noise")
                    continue
                note = (f"with {', '.join(n for n in off_nominal if n != a.name)} at the "
                        "baseline" if [n for n in off_nominal if n != a.name] else "")
                add(a.name, _label(a, k), "alternative", _evaluate(p, Z, agg0, w0), note)
        elif a.kind == "path":
            for k in levels:
                spec = method.replace(a.path, a.values[k])
                agg, w = _aggregation(spec, fw, p.nodes, p.levels)
                try:
                    add(a.name, _label(a, k), "alternative", _evaluate(p, Z0, agg, w))
                except DataError as exc:
                    # e.g. a geometric mean meets the zeros of a [0, 100] normalisation: take
                    # the baseline of the pre-aggregation assumptions, as the space does
                    Zb = z_for() if off_nominal else None
                    if Zb is None:
                        unavailable(a.name, _label(a, k), f"not available: {exc}")
                        continue
                    add(a.name, _label(a, k), "alternative", _evaluate(p, Zb, agg, w),
                        note=f"with {', '.join(off_nominal)} at the baseline (the nominal "
                             "normalised values are not all positive)")
        elif a.kind in ("measurement", "multiple_imputation"):
            others = [i for i in pre if i != j]
            if any(pre_base[i] is None for i in others):
                unavailable(a.name, f"{a.n_levels} draws", "not available: another "
                            "assumption has no alternative without noise")
                continue
            S = np.vstack([_evaluate(p, z_for(j, k), agg0, w0) for k in range(a.n_levels)])
            add(a.name, f"{a.n_levels} draws", "draws", S)
        else:
            table = next(t for jj, kind, t in p.weight_factors if jj == j)
            kind = next(kind for jj, kind, t in p.weight_factors if jj == j)
            if kind == "replace":
                W = np.where(np.isnan(table[levels]), w0[None, :], table[levels])
            else:
                W = w0[None, :] * table[levels]
            S = _evaluate(p, Z0, agg0, W)
            if a.kind == "weight_noise":
                add(a.name, f"{a.n_levels} weight sets", "draws", S)
            else:
                for r, k in enumerate(levels):
                    label = a.label(k)
                    if a.kind == "leave_one_out":
                        label = f"without {label}"
                    add(a.name, label, "alternative", S[r:r + 1])
    table = pd.DataFrame(rows)
    for c in ("spearman_q5", "spearman_q95", "shift_q5", "shift_q95"):
        if c not in table:
            table[c] = np.nan
    table = table[["assumption", "alternative", "kind", "n", "spearman", "mean_abs_shift",
                   "max_abs_shift", "spearman_q5", "spearman_q95", "shift_q5", "shift_q95",
                   "note"]]
    return ScenarioResult(table, baseline, figures)
