"""The deterministic index pipeline: denominate → screen → impute → treat → normalise → aggregate.

``compute_index(framework, data, method)`` returns one :class:`IndexResult` holding every
intermediate table (units × codes), the scores and ranks of every aggregate node, and a log of
what each stage changed. The sequence follows the OECD/JRC Handbook (2008, Steps 3–6) and COINr's
``build_example_coin``. Screening measures each unit's share of observed indicators before
imputation (``screening.measure: denominated``, the default: excluded units take no part in
imputation) or after it (``measure: imputed``, COINr's order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .aggregate import aggregate
from .availability import DEFAULT_FLAG_BELOW, Availability, observed_mask
from .ranking import Ranking, ranking_for
from .data import IndicatorData, from_frame, read_data
from .denominate import denominate
from .errors import MethodError
from .framework import Framework
from .impute import impute, imputation_log
from .method import MethodSpec
from .normalise import normalise
from .screen import screen
from .summary import Result, Summary, json_safe
from .treat import treat_indicator

STAGE_TABLES = ("raw", "denominated", "screened", "imputed", "treated", "normalised",
                "aggregated")


@dataclass(repr=False)
class IndexResult(Result):
    """Everything one run of the pipeline produced.

    Attributes
    ----------
    framework, method, data : the inputs (framework with the method's weights applied).
    raw, denominated, screened, imputed, treated, normalised : DataFrames, units × indicators.
        ``raw`` and ``denominated`` hold every unit; the later ones only the screened-in units.
        ``screened`` is the table screening measured (the denominated values with their missing
        cells by default; the imputed values with ``screening.measure: imputed``).
    aggregated : units × (indicators + aggregates): normalised indicators, then the score of
        every aggregate node, lowest level first (COINr's "Aggregated" data set).
    scores, ranks : units × aggregates (rank 1 = highest score; ties share the lowest rank
        unless the method's ``ranking`` section says otherwise; a unit without a score is
        not ranked). ``published_scores``: the scores as the conventions publish them.
    treatment : one row per indicator: skew/kurtosis before and after, action, points treated.
    treatment_flags : units × indicators: "", "winhi", "winlo", "log".
    screening : one row per unit: availability, kept, reason.
    log : tidy records (stage, code, unit, action, n, value, detail) of every change.
    observed : units × indicators of bool, the observation mask: True where the cell held a
        value before imputation (kept apart from the imputed values; :mod:`.availability`).

    Scores and ranks follow the ranking rule of :mod:`.availability`: a unit with no observed
    indicator under a node has no score (NaN) and no rank at that node ("not ranked: no data"),
    and the other units are ranked among themselves; ``aggregated`` keeps the values the
    pipeline computed (on imputed data) for every unit, as a stage table.
    """

    framework: Framework
    method: MethodSpec
    data: IndicatorData
    raw: pd.DataFrame
    denominated: pd.DataFrame
    screened: pd.DataFrame
    imputed: pd.DataFrame
    treated: pd.DataFrame
    normalised: pd.DataFrame
    aggregated: pd.DataFrame
    treatment: pd.DataFrame
    treatment_flags: pd.DataFrame
    screening: pd.DataFrame
    log: pd.DataFrame = field(default_factory=pd.DataFrame)
    observed: pd.DataFrame | None = None

    def __post_init__(self):
        if self.observed is None:
            self.observed = observed_mask(self.denominated[self.framework.indicators],
                                          self.imputed.index)

    @property
    def availability(self) -> Availability:
        """Data availability per unit and node and the ranking status it implies
        (:class:`~cityindex.model.availability.Availability`)."""
        cached = self.__dict__.get("_availability")
        if cached is None:
            flag = self.method.stages.get("availability", {}).get("flag_below",
                                                                 DEFAULT_FLAG_BELOW)
            cached = Availability(self.framework, self.observed, float(flag))
            self.__dict__["_availability"] = cached
        return cached

    @property
    def scores(self) -> pd.DataFrame:
        """Units × aggregates: scores, NaN where the unit is not ranked (no observed indicator
        under the node)."""
        s = self.aggregated[self.framework.aggregates]
        return s.where(self.availability.rankable.reindex(index=s.index, columns=s.columns,
                                                          fill_value=False))

    @property
    def ranks(self) -> pd.DataFrame:
        """units × aggregates: ranks under each node's publication conventions (method key
        ``ranking``: rounding, ties; :func:`cityindex.model.ranking.rank_scores`); a unit
        without a score at a node is not ranked there (NaN)."""
        s = self.scores
        return pd.DataFrame({c: self.ranking(c).rank(s[c].to_numpy(), axis=0)
                             for c in s.columns}, index=s.index, columns=s.columns)

    def ranking(self, code: str) -> Ranking:
        """The publication conventions of node ``code`` (:class:`~.ranking.Ranking`)."""
        return ranking_for(self.method, code, self.framework.nodes[code].level)

    @property
    def published_scores(self) -> pd.DataFrame:
        """units × aggregates: the scores as published (rounded where the node's ``ranking``
        says ``round`` with ``publish: rounded``; otherwise the scores themselves)."""
        s = self.scores
        return pd.DataFrame({c: self.ranking(c).published(s[c].to_numpy()) for c in s.columns},
                            index=s.index, columns=s.columns)

    @property
    def index_scores(self) -> pd.Series:
        """The index's scores (NaN for a unit with no observed indicator: not ranked)."""
        return self.scores[self.framework.root]

    @property
    def index_ranks(self) -> pd.Series:
        return self.ranks[self.framework.root]

    def results_table(self) -> pd.DataFrame:
        """unit, then score and rank of each aggregate (index first), the share of the index's
        indicators observed and the ranking status at the index ("ranked", "flagged", "not
        ranked: no data"), sorted by index rank (units not ranked last)."""
        cols = {}
        order = [self.framework.root] + [c for c in reversed(self.framework.aggregates)
                                         if c != self.framework.root]
        ranks, published = self.ranks, self.published_scores
        for code in order:
            cols[f"{code}_score"] = published[code]
            r = ranks[code]
            whole = bool(np.all(np.isnan(r) | (r == np.round(r))))
            cols[f"{code}_rank"] = r.astype("Int64") if whole else r   # average ties: x.5
        av = self.availability
        cols["observed_share"] = av.share[self.framework.root]
        cols["status"] = av.unit_status()
        table = pd.DataFrame(cols)
        table.index.name = "unit"
        return table.sort_values([f"{self.framework.root}_rank", f"{self.framework.root}_score"],
                                 ascending=[True, False]).reset_index()

    def log_summary(self) -> pd.DataFrame:
        """What each stage changed: stage, action, number of cells/units (summed over the log)."""
        if not len(self.log):
            return pd.DataFrame(columns=["stage", "action", "n"])
        return self.log.groupby(["stage", "action"], dropna=False)["n"].sum().reset_index()

    def stage_tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in STAGE_TABLES}

    # ------------------------------------------------------------------ results protocol
    @property
    def n_imputed(self) -> int:
        """Cells imputed (missing before imputation, filled after) among the kept units."""
        before = self.denominated.loc[self.imputed.index].isna()
        return int((before & self.imputed.notna()).to_numpy().sum())

    def _methods(self) -> dict[str, str]:
        return {st: str(self.method.stages[st].get("method")) for st in
                ("imputation", "treatment", "normalisation", "aggregation")}

    def to_frame(self) -> pd.DataFrame:
        """The results table (see :meth:`results_table`)."""
        return self.results_table()

    def to_dict(self) -> dict:
        fw = self.framework
        return json_safe({
            "index": fw.root, "framework": fw.origin or fw.name,
            "data": {"source": self.data.source, "sha256": self.data.sha256},
            "method": self.method.to_dict(), "n_units": len(self.scores),
            "n_screened_out": int((~self.screening["kept"]).sum()),
            "n_imputed": self.n_imputed,
            "ranking": self.availability.to_dict(),
            "treated": self.treatment.index[self.treatment["action"] != "none"].tolist(),
            "scores": self.results_table()})

    def summary(self, top: int = 10) -> Summary:
        """The index at a glance: inputs, what the stages changed, the top of the ranking."""
        fw, root = self.framework, self.framework.root
        s = Summary(f"Index result: {root}" + (f" ({fw.nodes[root].name})"
                                              if fw.nodes[root].name else ""))
        treated = self.treatment.index[self.treatment["action"] != "none"].tolist()
        s.add_text(
            f"{len(self.scores)} units scored from {self.data.source}; "
            f"{int((~self.screening['kept']).sum())} screened out.",
            f"Framework: {len(fw.indicators)} indicators, {len(fw.aggregates)} aggregates, "
            f"levels 1..{fw.max_level}"
            + (f"; no open indicator: {', '.join(fw.empty_aggregates)}"
               if fw.empty_aggregates else "") + ".",
            "Method: " + ", ".join(f"{k} {v}" for k, v in self._methods().items()) + ".",
            f"Imputed cells: {self.n_imputed}; treated indicators: {len(treated)}"
            + (f" ({', '.join(treated)})" if treated else "") + ".",
            f"Ranking: {self.availability.counts_line()}.")
        t = self.results_table().head(top)
        s.add_table(t[["unit", f"{root}_rank", f"{root}_score"]].rename(
            columns={f"{root}_rank": "rank", f"{root}_score": "score"}), f"Top {top}")
        nr = self.availability.not_ranked()
        if len(nr):
            s.add_table(nr[["unit", "reason"]], "Not ranked", max_rows=None)
        return s

    def _repr_lines(self):
        fw = self.framework
        top = self.index_ranks.sort_values().index[:3].tolist()
        return [f"index {fw.root}: {len(self.scores)} units × {len(fw.indicators)} indicators, "
                f"{len(fw.aggregates)} aggregates",
                self.availability.counts_line(),
                f"data: {self.data.source}",
                "method: " + ", ".join(f"{k}={v}" for k, v in self._methods().items()),
                f"top 3: {', '.join(map(str, top))}"]


def _as_method(method) -> MethodSpec:
    if method is None:
        return MethodSpec()
    if isinstance(method, MethodSpec):
        return method
    if isinstance(method, Mapping):
        return MethodSpec.from_dict(method)
    return MethodSpec.load(method)


def _check_addresses(framework: Framework, method: MethodSpec) -> None:
    """Every node named by the method must exist: never skip silently (COINr issue #60)."""
    where = f"{method.origin}: " if getattr(method, "origin", "") else ""
    fw = f" of framework '{framework.root}'" + (f" ({framework.origin})" if framework.origin
                                                 else "")
    for code in method.node_overrides:
        if code not in framework.nodes:
            raise MethodError(f"{where}overrides.nodes.{code}: unknown node '{code}' (not a "
                              f"node{fw})")
    for lv in method.level_overrides:
        if not 1 <= lv <= framework.max_level:
            raise MethodError(f"{where}overrides.levels.{lv}: the framework has levels "
                              f"1..{framework.max_level}")
    unknown = set(method.weights) - set(framework.nodes)
    if unknown:
        raise MethodError(f"{where}weights: unknown node(s) {sorted(unknown)} (not nodes{fw})")
    per = (method.stages.get("measurement_error") or {}).get("indicators") or {}
    unknown = set(per) - set(framework.indicators)
    if unknown:
        raise MethodError(f"{where}measurement_error.indicators: unknown indicator(s) "
                          f"{sorted(unknown)} (not indicators{fw})")


def _impute_all(x: pd.DataFrame, framework: Framework, method: MethodSpec,
                meta: pd.DataFrame, source: str) -> pd.DataFrame:
    specs = {c: method.resolve("imputation", c, 1) for c in x.columns}
    out = x.astype(float).copy()
    groups_done: dict[tuple, pd.DataFrame] = {}
    for code, spec in specs.items():
        key = tuple(sorted((k, str(v)) for k, v in spec.items()))
        if key not in groups_done:
            group = spec.get("group")
            groups = None
            if group is not None:
                if group not in meta.columns:
                    raise MethodError(f"{source}: imputation group column '{group}' not in the "
                                      f"data (columns: {', '.join(map(str, meta.columns[:12]))})")
                groups = meta[group].reindex(x.index)
            cols = [c for c, s in specs.items() if s == spec]
            # iterative imputation uses every indicator as a predictor
            base = x if spec["method"] == "iterative" else x[cols]
            groups_done[key] = impute(base, spec["method"], groups,
                                      seed=spec.get("seed", method.seed),
                                      max_iter=spec.get("max_iter", 10),
                                      fallback=spec.get("fallback", "none"))
        out[code] = groups_done[key][code]
    return out


def compute_index(framework: Framework | str | Path, data, method=None, *,
                  imputations: pd.DataFrame | None = None) -> IndexResult:
    """Compute the composite index and every intermediate table.

    Parameters
    ----------
    framework : Framework, or a path to a YAML framework / COINr iMeta CSV.
    data : IndicatorData, a path (CSV/Parquet/XLSX/COINr iData), or a DataFrame whose index
        holds the unit codes (units × indicators [+ denominators, metadata]).
    method : MethodSpec, a mapping, a YAML path, or None for the defaults. Data read from a
        panel for one year (``read_data(..., year=Y)``) under a method with
        ``panel.reference: panel`` is computed with every year of its panel (one treatment and
        normalisation range over all unit-years, :func:`cityindex.model.temporal.compute_panel`)
        and the result holds year Y's rows.
    imputations : optional completed table (units ⊇ the screened-in units × indicators, on the
        denominated scale): its values fill the missing cells instead of the method's
        imputation — one completed data set of a multiple imputation
        (:mod:`.multiple_imputation`). Observed cells always keep the data's values.

    Returns
    -------
    IndexResult

    Raises
    ------
    FrameworkError, DataError, MethodError (one-line messages naming the file, unit, column
    or node at fault).
    """
    if not isinstance(framework, Framework):
        framework = Framework.load(framework)
    method = _as_method(method)
    _check_addresses(framework, method)
    panel = getattr(data, "panel", None)
    if panel is not None and method.stages["panel"]["reference"] == "panel":
        # one reference range over all years of the panel (model.temporal): this year's rows
        from .temporal import compute_panel

        return compute_panel(framework, panel, method)[data.year]
    if method.weights:
        framework = framework.with_weights(method.weights)
    if isinstance(data, (str, Path)):
        data = read_data(data, framework)
    elif isinstance(data, pd.DataFrame):
        data = from_frame(data, framework)
    fw, inds = framework, framework.indicators
    log: list[dict] = []

    raw = data.values[inds].copy()
    if method.stages["denomination"].get("enabled", True):
        denoms = {c: fw.nodes[c].denominator for c in inds if fw.nodes[c].denominator}
        den_all, rec = denominate(data.values, denoms, data.source, data.row_of)
        denominated = den_all[inds]
        log += rec
    else:
        denominated = raw.copy()

    # Screening: availability is measured before imputation (default) — excluded units then
    # take no part in imputation — or, as COINr does, on the imputed data (measure: imputed).
    sc = method.stages["screening"]
    meta = data.meta.reindex(denominated.index)
    if sc.get("measure", "denominated") == "imputed":
        imputed_all = _impute_all(denominated, fw, method, meta, data.source)
        basis = imputed_all
    else:
        basis = denominated
    _, screening = screen(basis, sc.get("min_availability", 0.0),
                          sc.get("force_include", []), sc.get("force_exclude", []))
    screening.insert(0, "observed_share", denominated.notna().mean(axis=1))
    kept = screening.index[screening["kept"]]
    for unit, row in screening[~screening["kept"]].iterrows():
        log.append({"stage": "screening", "unit": unit, "action": "excluded", "n": 1,
                    "value": row["availability"], "detail": row["reason"]})
    if imputations is not None:
        imputed_all = _given_imputations(denominated.loc[kept], imputations, data.source)
    elif basis is denominated:
        imputed_all = _impute_all(denominated.loc[kept], fw, method, meta.loc[kept], data.source)
    # the screened table is the screening basis restricted to the kept units: with missing cells
    # when screening comes first (default), imputed when it comes after imputation (COINr)
    screened = basis.loc[kept].copy()
    imputed = imputed_all.loc[kept]
    log += imputation_log(denominated.loc[kept], imputed, "; ".join(sorted(
        {method.resolve("imputation", c, 1)["method"] for c in inds}))
        if imputations is None else "multiple imputation (one completed data set)")

    treated = {}
    details, flags = [], {}
    for code in inds:
        spec = method.resolve("treatment", code, 1)
        params = {k: v for k, v in spec.items() if k != "method"}
        t, rec, fl = treat_indicator(imputed[code], spec["method"], **params, where=data.where)
        treated[code] = t
        details.append(rec)
        flags[code] = fl
        if rec["action"] != "none":
            log.append({"stage": "treatment", "code": code, "action": rec["action"],
                        "n": rec["nwin"] if rec["action"] == "winsorised"
                        else int(imputed[code].notna().sum()),
                        "detail": f"skew {rec['skew0']:.3f}→{rec['skew1']:.3f}, kurtosis "
                                  f"{rec['kurt0']:.3f}→{rec['kurt1']:.3f}"})
    treated = pd.DataFrame(treated, index=imputed.index)
    treatment = pd.DataFrame(details).set_index("code")
    treatment_flags = pd.DataFrame(flags, index=imputed.index)

    normalised = {}
    for code in inds:
        spec = method.resolve("normalisation", code, 1)
        node = fw.nodes[code]
        params = {k: v for k, v in spec.items() if k not in ("method", "direction", "ref",
                                                             "target")}
        if spec["method"] == "goalposts" and "goalposts" not in params:
            params["goalposts"] = node.goalposts
        ref_value = None
        if spec["method"] == "dist2ref":
            ref = spec.get("ref")
            if ref not in treated.index:
                where = f"{method.origin}: " if method.origin else ""
                raise MethodError(f"{where}normalisation.ref (indicator '{code}'): reference "
                                  f"unit '{ref}' not in the (screened) data {data.source}")
            ref_value = treated.at[ref, code]
        normalised[code] = normalise(treated[code].to_numpy(), spec["method"],
                                     int(spec.get("direction", node.direction)), code,
                                     ref_value=ref_value,
                                     target=spec.get("target", node.target), **params)
    normalised = pd.DataFrame(normalised, index=treated.index)

    agg = normalised.copy()
    units = agg.index
    for level in range(2, fw.max_level + 1):
        for code in fw.codes_at_level(level):
            kids = fw.children(code)
            spec = method.resolve("aggregation", code, level)
            w = np.array([fw.nodes[k].weight for k in kids], float)
            X = agg[kids].to_numpy()
            agg[code] = aggregate(X, w, spec["method"], p=spec.get("p", 1.0),
                                  min_availability=spec.get("min_availability"),
                                  codes=kids, units=units, node=code, where=data.where)
            partial = np.isnan(X).any(axis=1) & ~np.isnan(X).all(axis=1)
            if partial.any():
                log.append({"stage": "aggregation", "code": code, "action":
                            "weights renormalised over available children",
                            "n": int(partial.sum()), "detail": ", ".join(units[partial][:10])})
    return IndexResult(fw, method, data, raw, denominated, screened, imputed, treated,
                       normalised, agg, treatment, treatment_flags, screening,
                       pd.DataFrame(log, columns=["stage", "code", "unit", "action", "n",
                                                  "value", "detail"]),
                       observed_mask(denominated, kept))


def _given_imputations(x: pd.DataFrame, completed: pd.DataFrame, source: str) -> pd.DataFrame:
    """``x`` (kept units × indicators) with its missing cells taken from ``completed``."""
    missing_units = x.index.difference(completed.index)
    missing_cols = x.columns.difference(completed.columns)
    if len(missing_units) or len(missing_cols):
        raise MethodError(f"{source}: the completed data set lacks unit(s) "
                          f"{list(missing_units[:5])} / column(s) {list(missing_cols[:5])}")
    c = completed.loc[x.index, x.columns].astype(float)
    return x.astype(float).where(x.notna(), c)
