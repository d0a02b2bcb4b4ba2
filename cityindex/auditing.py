"""The statistical audit of index results: every analysis in one typed container, :class:`Audit`.

``audit(result, …)`` runs, for each :class:`~cityindex.model.pipeline.IndexResult` it is given
(OECD/JRC Handbook 2008, Steps 4–7; Saisana, Saltelli & Tarantola 2005):

1. ``weights``      coherence and weight audit (:func:`cityindex.validation.weight_audit.weight_audit`);
2. ``uncertainty``  Monte Carlo over the uncertainty space (ranks at every level);
3. ``sensitivity``  Sobol Si/STi of the mean absolute rank shift and of every unit's rank —
                   sharing one preparation of the space's alternatives with (2);
4. ``bayes``        the Bayesian latent-score model, fitted in a background process that
                   overlaps the other stages (skipped in quick mode);
5. ``rank_sets``    MRSW rank confidence sets from measurement-error score draws;
6. ``published``    our bands beside a published ranking (bundled indices).

No stage recomputes the nominal index it was given. A stage that fails or times out is recorded
with a typed :class:`StageStatus` (never silently dropped) and the audit goes on; input errors
(:class:`~cityindex.model.errors.CityIndexError`) stop it. The :class:`Audit` holds the results
and offers views (rankings, tables for the report); :mod:`cityindex.report` renders it and
computes nothing.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from cityindex.model.errors import CityIndexError, MethodError
from cityindex.model.summary import Result, Summary, json_safe

from cityindex.model.availability import DEFAULT_FLAG_BELOW, FLAGGED, NOT_RANKED

#: the default share of its indicators observed below which a unit is flagged (the method key
#: ``availability.flag_below``; each result's own value is in ``result.availability``)
LOW_OBSERVED = DEFAULT_FLAG_BELOW


def _is_int(v) -> bool:
    import numbers

    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    import numbers

    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass
class AuditSettings:
    """Sizes of the audit. ``quick`` sets small defaults (and skips the Bayesian model).

    Raises
    ------
    MethodError (one line) for an invalid value.
    """

    quick: bool = False
    bayes: bool = True
    seed: int | None = None          # None: each result's method seed
    n_ua: int | None = None          # uncertainty replications (10000 full / 500 quick)
    n_sa: int | None = None          # Sobol base sample (1024 full / 64 quick), a power of two
    n_boot: int | None = None        # bootstrap resamples of the effective weights (1000 full
    #                                  and quick; BCa intervals)
    sobol_replicates: int | None = None  # independent randomisations of the Sobol design
    #                                  (None: min(16, n_sa / 4)); 1 = bootstrap of the rows
    bayes_draws: int = 1000
    bayes_tune: int = 500            # with target_accept 0.8: R-hat ≤ 1.0082, no divergence
    #                                  on the bundled GDCI/BRPCI over seeds 0–2 (issue 20)
    bayes_target_accept: float = 0.8
    bayes_chains: int = 4
    bayes_timeout: float = 170.0     # seconds from the start of the fit (it runs in parallel)
    rank_sd: float | None = None     # relative SE for every indicator in the rank sets (None:
    #                                  the framework/method error model, model.measurement_error)
    rank_draws: int | None = None    # measurement-error draws (400 full / 200 quick: enough
    #                                  for the 513 × 513 covariance of the rank sets)
    rank_imputations: int | None = None  # completed data sets of the draws (100 full / 40
    #                                  quick; fewer than draws: pooled by Rubin's rules)
    rank_curve: bool | None = None   # width of the rank sets against the assumed error
    #                                  (default: full runs only; 5 more sets of draws)
    rank_alpha: float = 0.05         # 1 − confidence level of the rank sets
    quantile: str = "inverted_cdf"   # quantile rule of the bands ("linear" = R type 7)
    profiles: list[str] = field(default_factory=list)
    light: bool = False              # only uncertainty and sensitivity (city profiles)
    workers: int | None = None       # indices audited side by side (None: one per CPU; 1: serial)

    def __post_init__(self):
        q = self.quick
        # None means the default; any value given is checked (0 is never "the default")
        self.n_ua = (500 if q else 10000) if self.n_ua is None else self.n_ua
        self.n_sa = (64 if q else 1024) if self.n_sa is None else self.n_sa
        self.n_boot = self.n_boot if self.n_boot is not None else 1000
        if self.sobol_replicates is None and _is_int(self.n_sa) and self.n_sa >= 1:
            self.sobol_replicates = max(1, min(16, self.n_sa // 4))
        self.rank_draws = (200 if q else 400) if self.rank_draws is None else self.rank_draws
        if self.rank_imputations is None:
            self.rank_imputations = min(40 if q else 100, max(2, self.rank_draws // 2))
        self.rank_curve = (not q) if self.rank_curve is None else bool(self.rank_curve)
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 1):
            raise MethodError(f"workers must be an integer ≥ 1, not {self.workers!r}")
        if self.seed is not None and (not _is_int(self.seed) or self.seed < 0):
            raise MethodError(f"seed must be >= 0, not {self.seed}")
        for name, value, lo, what in (
                ("n_ua", self.n_ua, 2, "uncertainty replications (--n)"),
                ("n_sa", self.n_sa, 2, "Sobol base sample (--n-sobol)"),
                ("n_boot", self.n_boot, 0, "bootstrap resamples"),
                ("rank_draws", self.rank_draws, 10, "measurement-error draws"),
                ("rank_imputations", self.rank_imputations, 2,
                 "completed data sets of the measurement-error draws"),
                ("bayes_draws", self.bayes_draws, 10, "Bayesian draws"),
                ("bayes_tune", self.bayes_tune, 0, "Bayesian tuning steps"),
                ("bayes_chains", self.bayes_chains, 1, "Bayesian chains")):
            if not _is_int(value) or value < lo:
                raise MethodError(f"{what} must be an integer ≥ {lo}, not {value!r}")
        if not (_is_real(self.bayes_target_accept) and 0 < self.bayes_target_accept < 1):
            raise MethodError(f"Bayesian target_accept must lie in (0, 1), not "
                              f"{self.bayes_target_accept!r}")
        if not (_is_real(self.bayes_timeout) and math.isfinite(self.bayes_timeout)
                and self.bayes_timeout > 0):
            raise MethodError(f"Bayesian timeout must be > 0 seconds, not {self.bayes_timeout}")
        if self.n_sa & (self.n_sa - 1):
            raise MethodError(f"Sobol base sample must be a power of two, not {self.n_sa}")
        r = self.sobol_replicates
        if not _is_int(r) or r < 1 or self.n_sa % r:
            raise MethodError(f"Sobol replicates must be an integer ≥ 1 dividing the base "
                              f"sample {self.n_sa}, not {r!r}")
        if self.rank_sd is not None and not (_is_real(self.rank_sd)
                                             and math.isfinite(self.rank_sd)
                                             and self.rank_sd >= 0):
            raise MethodError(f"measurement error sd must be a finite number ≥ 0, not "
                              f"{self.rank_sd!r}")
        if self.rank_draws < 2 * self.rank_imputations and self.rank_draws != \
                self.rank_imputations:
            raise MethodError(f"{self.rank_draws} measurement-error draws for "
                              f"{self.rank_imputations} completed data sets: give at least 2 "
                              "draws per set, or one set per draw")
        if not (_is_real(self.rank_alpha) and 0 < self.rank_alpha <= 0.5):
            raise MethodError(f"rank-set alpha must be in (0, 0.5], not {self.rank_alpha!r}")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class StageStatus:
    """How one stage of the audit ended: ``ok``, ``skipped`` (with the reason), ``failed``
    (with the error) or ``timeout``; ``seconds`` of wall time."""

    state: str
    message: str = ""
    seconds: float | None = None
    detail: str = ""  # traceback of a failure

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass(repr=False)
class IndexAudit(Result):
    """Everything the audit produced for one index result, and views of it.

    Attributes
    ----------
    result : IndexResult (the nominal index)
    space : UncertaintySpace
    weights : WeightAudit | None
    uncertainty : UncertaintyResult | None (with node ranks)
    sensitivity : SensitivityResult | None
    bayes : BayesResult | None
    rank_sets : RankSets | None
    published : DataFrame | None — the published ranking (``code``, ``rank``, …)
    rank_curve : DataFrame | None — median width of the rank sets against the assumed
        measurement error (:func:`~cityindex.validation.measurement.rank_set_width_curve`)
    published_audit : PublishedAudit | None — the published ranks in our rank distribution
        with the share expected by chance (:func:`~cityindex.validation.compare.published_audit`)
    status : stage → :class:`StageStatus`
    timings : stage → seconds (wall time)
    names : Series unit code → display name (registry name, else the data's own)
    scenarios : ScenarioResult | None — each alternative of the space applied alone
        (:mod:`cityindex.validation.scenarios`), from the same prepared alternatives
    history : DataFrame | None — scores and ranks over years (tidy: ``year``, ``unit``,
        ``node``, ``score``, ``rank`` and optionally ``q5``, ``q95``, ``median``), given by a
        multi-year run; the explorer shows it (:mod:`cityindex.report.explorer`)
    years : YearComparison | None — year A → B moves with bands from paired replications
        (:mod:`cityindex.validation.compare.years`), when the audit was given a panel
    """

    result: object
    space: object
    weights: object = None
    uncertainty: object = None
    sensitivity: object = None
    bayes: object = None
    rank_sets: object = None
    published: pd.DataFrame | None = None
    published_audit: object = None
    rank_curve: pd.DataFrame | None = None
    status: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    names: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    regions: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    scenarios: object = None
    history: pd.DataFrame | None = None
    years: object = None  # YearComparison of two years of a panel (validation.compare.years)

    @property
    def framework(self):
        return self.result.framework

    @property
    def root(self) -> str:
        return self.result.framework.root

    @property
    def name(self) -> str:
        return self.root

    def note(self, stage: str) -> str:
        """The status message of a stage ("" when it ran)."""
        st = self.status.get(stage)
        return st.message if st is not None else ""

    # ------------------------------------------------------------------ views
    def observed_share(self) -> pd.Series:
        """Per unit, the share of the framework's indicators observed before imputation."""
        return self.result.availability.share[self.root]

    @property
    def flag_below(self) -> float:
        """The availability flag threshold of the result's method."""
        return self.result.availability.flag_below

    def unit_status(self) -> pd.Series:
        """Per unit, the ranking status at the index: "ranked", "flagged", "not ranked: no
        data"."""
        return self.result.availability.unit_status()

    def counts(self) -> dict:
        """How many units are ranked, flagged and not ranked at the index."""
        return self.result.availability.counts()

    def not_ranked(self) -> pd.DataFrame:
        """Units not ranked at the index, with names and the reason: unit, name, reason."""
        t = self.result.availability.not_ranked()[["unit", "reason"]]
        t.insert(1, "name", self.name_of(t["unit"]))
        return t.reset_index(drop=True)

    def not_ranked_nodes(self) -> pd.DataFrame:
        """Every (unit, node) pair without a rank (no observed indicator under the node):
        unit, name, node, of, reason."""
        t = self.result.availability.not_ranked("all")[["unit", "node", "of", "reason"]]
        t.insert(1, "name", self.name_of(t["unit"]))
        return t.reset_index(drop=True)

    def availability_table(self) -> pd.DataFrame:
        """Availability per unit: unit, name, n_observed, of, observed_share, status, reason,
        share_<node> for every other aggregate; sorted by share."""
        t = self.result.availability.per_unit().reset_index()
        t.insert(1, "name", self.name_of(t["unit"]))
        return t.sort_values(["observed_share", "unit"]).reset_index(drop=True)

    def indicator_availability(self) -> pd.DataFrame:
        """Availability per indicator: code, name, parent, n_observed, n_units,
        observed_share."""
        t = self.result.availability.per_indicator()
        t.insert(1, "name", [self.framework.nodes[c].name for c in t["code"]])
        return t

    def coherence_comparison(self) -> pd.DataFrame:
        """Observed-only coherence statistics beside the imputed-data ones (see
        :meth:`cityindex.validation.coherence.Coherence.comparison`); empty without the weight
        audit."""
        if self.weights is None:
            return pd.DataFrame()
        return self.weights.coherence.comparison()

    def band_width_by_availability(self) -> pd.DataFrame:
        """The effect of multiple imputation on the bands: per availability class of the units
        (share of the index's indicators observed: ≤ 50 %, 50–90 %, ≥ 90 %), the number of
        ranked units and the median (and mean) width of their 5–95 % methodological band, and
        of their simultaneous rank set when the rank sets ran."""
        av = self.result.availability
        cls = av.classes()
        ranked = av.unit_status() != NOT_RANKED
        t = pd.DataFrame({"class": cls[ranked]})
        if self.uncertainty is not None:
            t["band_width"] = self.uncertainty.rank_stats["width"].reindex(t.index)
        if self.rank_sets is not None:
            w = self.rank_sets.widths().set_index("unit")["simultaneous"]
            t["rank_set_width"] = w.reindex(t.index)
        if t.shape[1] == 1:
            return pd.DataFrame()
        order = {c: i for i, c in enumerate(sorted(cls.unique(),
                                                   key=lambda c: (c[0] != "≤", c[0] == "≥")))}
        rows = []
        for c, sub in t.groupby("class"):
            row = {"availability_class": c, "n_units": len(sub)}
            for col in ("band_width", "rank_set_width"):
                if col in sub:
                    row[f"median_{col}"] = float(sub[col].median())
                    row[f"mean_{col}"] = float(sub[col].mean())
            rows.append(row)
        out = pd.DataFrame(rows)
        return out.sort_values("availability_class", key=lambda s: s.map(order)) \
            .reset_index(drop=True)

    def name_of(self, units) -> list[str]:
        return [str(self.names.get(u, u)) for u in units]

    def with_names(self, df: pd.DataFrame, unit_col: str = "unit") -> pd.DataFrame:
        """``df`` with a ``name`` column after ``unit_col`` and ``observed_share`` and
        ``status`` at the end."""
        t = df.copy()
        if "name" not in t.columns:
            t.insert(list(t.columns).index(unit_col) + 1, "name", self.name_of(t[unit_col]))
        if "observed_share" not in t.columns:
            t["observed_share"] = t[unit_col].map(self.observed_share()).to_numpy()
        if "status" not in t.columns:
            t["status"] = t[unit_col].map(self.unit_status()).to_numpy()
        return t

    def correlation_matrix(self) -> pd.DataFrame:
        """Pearson correlations (pairwise complete) of the indicators and aggregates on the
        observed cells only (imputed cells missing, aggregates from observed cells:
        :func:`cityindex.model.availability.observed_aggregated`), codes × codes, in
        framework order."""
        from cityindex.model.availability import observed_aggregated

        fw = self.framework
        return observed_aggregated(self.result)[list(fw.indicators)
                                                + list(fw.aggregates)].corr()

    def mostly_imputed(self) -> pd.DataFrame:
        """Ranked units flagged for low availability (fewer than ``availability.flag_below``
        of their indicators observed): unit, name, observed_share, rank — by share, then
        rank."""
        share = self.observed_share().reindex(self.result.scores.index)
        low = share[self.unit_status().reindex(share.index) == FLAGGED]
        t = pd.DataFrame({"unit": low.index, "observed_share": low.to_numpy(),
                          "rank": self.result.ranks[self.root].reindex(low.index).to_numpy()})
        t.insert(1, "name", self.name_of(t["unit"]))
        return t.sort_values(["observed_share", "rank"]).reset_index(drop=True)

    def widest_bands(self) -> pd.DataFrame:
        """The ten widest methodological bands, with names and observed shares."""
        if self.uncertainty is None:
            return pd.DataFrame()
        wid = pd.DataFrame(self.uncertainty.figures["widest_bands"])
        return self.with_names(wid.rename(columns={"nominal": "nominal_rank"}))

    def weights_table(self) -> pd.DataFrame:
        """Per node: nominal weight in its parent, PCA, effective (importance share with its
        BCa interval), the scale-matched reference share (w·σ)²/Σ(w·σ)² and whether it lies
        outside the interval (``beyond_scale``), nominal weight in the index, flags; with the Bayesian implied weights and the
        nominal weights on the same z-scale when the model ran."""
        if self.weights is None:
            return pd.DataFrame()
        t = self.weights.to_frame()
        wt = pd.DataFrame({"code": t["code"], "parent": t["parent"],
                           "nominal_in_parent": t["nominal"], "pca": t["pca"],
                           "effective": t["S_share"], "effective_lo": t["S_share_lo"],
                           "effective_hi": t["S_share_hi"],
                           "reference": t.get("S_share_reference"),
                           "beyond_scale": t.get("beyond_scale"),
                           "nominal_in_index": t["nominal_index"], "flags": t["flags"]})
        if self.bayes is not None:
            iw = self.bayes.implied_weights
            nz = "nominal_z" if "nominal_z" in iw else "nominal"
            wt["nominal_z_in_index"] = wt["code"].map(iw[nz])
            wt["bayes_in_index"] = wt["code"].map(iw["mean"])
        return wt

    def rank_set_table(self) -> pd.DataFrame:
        """Rank confidence sets per ranked unit (nominal rank, simultaneous and marginal bounds),
        with names, observed shares and status, sorted by nominal rank; the units left out (no
        observed indicator) are in :meth:`not_ranked` and ``rank_sets.not_ranked``."""
        if self.rank_sets is None:
            return pd.DataFrame()
        t = self.rank_sets.to_frame()
        ranks = self.result.ranks[self.root]
        out = pd.DataFrame({"unit": t["unit"].to_numpy(),
                            "nominal_rank": ranks.reindex(t["unit"]).to_numpy()})
        for col in ("simultaneous_lower", "simultaneous_upper", "marginal_lower",
                    "marginal_upper"):
            out[col] = t[col].to_numpy()
        # the premise of every set, beside it: the error model (first clause of the assumption)
        out["assumes"] = str(self.rank_sets.assumption).split(";")[0]
        out = out.sort_values(["nominal_rank", "unit"]).reset_index(drop=True)
        return self.with_names(out)

    def published_comparison(self) -> pd.DataFrame | None:
        """The published ranking beside our nominal rank and methodological band: unit, city,
        published_rank, our_rank, our_median, our_q5, our_q95, in_band, shift."""
        pub = self.published
        if pub is None:
            return None
        ranks = self.result.ranks[self.root]
        t = pd.DataFrame({"unit": pub["code"], "city": pub.get("city_en", pub["code"]),
                          "published_rank": pub["rank"].astype(int)})
        t["our_rank"] = t["unit"].map(ranks)
        if self.uncertainty is not None:
            rs = self.uncertainty.rank_stats
            for col in ("median", "q5", "q95"):
                t[f"our_{col}"] = t["unit"].map(rs[col])
            t["in_band"] = ((t["published_rank"] >= t["our_q5"])
                            & (t["published_rank"] <= t["our_q95"]))
        if self.published_audit is not None:
            pa = self.published_audit.table.set_index("unit")["percentile"]
            t["percentile"] = t["unit"].map(pa)
        t["shift"] = t["our_rank"] - t["published_rank"]
        return t

    def rankings(self) -> pd.DataFrame:
        """One row per unit: name, score, rank, methodological band, rank set, Bayesian
        interval, published rank; sorted by rank."""
        res, root = self.result, self.root
        t = pd.DataFrame({"score": res.published_scores[root], "rank": res.ranks[root]})
        t.index.name = "unit"
        t.insert(0, "name", self.name_of(t.index))
        if len(self.regions):
            t.insert(1, "region", t.index.map(self.regions))
        t["observed_share"] = self.observed_share().reindex(t.index)
        t["status"] = self.unit_status().reindex(t.index)
        t["reason"] = res.availability.reason().reindex(t.index)
        if self.uncertainty is not None:
            rs = self.uncertainty.rank_stats
            for col in ("median", "q5", "q95", "width", "mean_abs_shift", "p_top10"):
                if col in rs:
                    t[f"ua_{col}"] = rs[col].reindex(t.index)
        if self.rank_sets is not None:
            r = self.rank_set_table().set_index("unit")
            for col in ("simultaneous_lower", "simultaneous_upper", "marginal_lower",
                        "marginal_upper"):
                t[f"rankset_{col}"] = r[col].reindex(t.index)
        if self.bayes is not None:
            b = self.bayes.posterior_ranks
            for col in ("rank_median", "rank_lo", "rank_hi"):
                t[f"bayes_{col}"] = b[col].reindex(t.index)
        pub = self.published_comparison()
        if pub is not None:
            t["published_rank"] = pub.set_index("unit")["published_rank"].reindex(
                t.index).astype("Int64")
        if self.years is not None:  # a multi-year audit: the year-on-year arrows
            y = self.years.table
            a, b = self.years.years
            t[f"rank_{a}"] = y["rank_a"].reindex(t.index)
            t[f"move_{a}_{b}"] = y["classification"].reindex(t.index)
            t["arrow"] = y["arrow"].reindex(t.index)
            if "arrow_published" in y:
                t["arrow_published"] = y["arrow_published"].reindex(t.index)
        return t.sort_values(["rank", "score"], ascending=[True, False]).reset_index()

    # per-unit views (vectorised; cityindex.unit_views)
    def unit_table(self) -> pd.DataFrame:
        """One row per unit: rank, median, 5–95 % band, observed share, top driver, flags."""
        from .unit_views import unit_table
        return unit_table(self)

    def strengths_weaknesses(self, k: int = 3) -> pd.DataFrame:
        """Each unit's k strongest and weakest observed indicators (as in its profile)."""
        from .unit_views import strengths_weaknesses
        return strengths_weaknesses(self, k)

    def indicator_standing(self) -> dict:
        """Raw, imputed, normalised values and ranks among observing units (units × ind.)."""
        from .unit_views import indicator_standing
        return indicator_standing(self)

    def node_bands(self) -> dict:
        """Aggregate → score, rank and methodological band of every unit."""
        from .unit_views import node_bands
        return node_bands(self)

    def unit_drivers(self, k: int = 3) -> pd.DataFrame:
        """Per unit, the k assumptions with the largest total Sobol index of its rank."""
        from .unit_views import unit_drivers
        return unit_drivers(self, k)

    def sobol_units(self) -> pd.DataFrame:
        """Per-unit Sobol indices (unit, factor, S1, ST with intervals), by nominal rank."""
        from .unit_views import sobol_units
        return sobol_units(self)

    def unit_groups(self) -> dict:
        """Categorical metadata to filter units by (region first)."""
        from .unit_views import unit_groups
        return unit_groups(self)

    def loo_table(self) -> pd.DataFrame | None:
        """Leave-one-out rank shifts per removed element (weight audit)."""
        from .unit_views import loo_table
        return loo_table(self)

    def bod_table(self) -> pd.DataFrame | None:
        """Benefit-of-the-doubt scores and ranks per unit (weight audit)."""
        from .unit_views import bod_table
        return bod_table(self)

    def bod_figures(self) -> dict | None:
        """Benefit of the doubt: frontier count, median, ρ with the index, rank shift."""
        from .unit_views import bod_figures
        return bod_figures(self)

    def published_label(self) -> str:
        """"Published <year> ranking" for a bundled published table, else "Published ranking"."""
        if self.published is None:
            return ""
        return str(self.published.attrs.get("label", "Published ranking"))

    def coherence_figures(self) -> dict | None:
        """Cronbach's α and indicator–parent–index correlations against their thresholds."""
        from .unit_views import coherence_figures
        return coherence_figures(self)

    def rank_shifts(self):
        """The distribution of rank shifts over the uncertainty analysis (None if it did not
        run): :class:`~cityindex.validation.rank_shifts.RankShiftDistribution`."""
        if self.uncertainty is None:
            return None
        from cityindex.validation.rank_shifts import rank_shift_distribution

        ua = self.uncertainty
        nominal = self.result.ranks[self.root].reindex(ua.units).to_numpy(float)
        hist = getattr(ua, "histograms", {}).get("index")
        if hist is not None and ua.n_kept < hist.n_seen:  # ranks: a bounded sample; use all N
            from cityindex.validation.rank_shifts import rank_shift_distribution_from_histogram

            return rank_shift_distribution_from_histogram(hist, nominal, ua.units)
        return rank_shift_distribution(ua.ranks, nominal, ua.units)

    def unit_noun(self) -> tuple[str, str]:
        """("city", "cities") for a city framework, else ("unit", "units")."""
        from .unit_views import unit_noun
        return unit_noun(self)

    def history_blocks(self) -> dict | None:
        """The multi-year history as arrays aligned with the units (None without years)."""
        from .unit_views import history_blocks
        return history_blocks(self)

    def scenario_table(self) -> pd.DataFrame | None:
        """One-at-a-time scenarios: assumption, alternative, Spearman ρ and rank shifts."""
        return None if self.scenarios is None else self.scenarios.to_frame()

    def headline(self) -> dict:
        """The figures the report states, each with its reference in its key."""
        out = {}
        if self.uncertainty is not None:
            f = self.uncertainty.figures
            out["mean_abs_rank_shift"] = f["mean_abs_rank_shift"]
            out["share_band_wider_than_10"] = f.get("share_band_wider_than_10")
            out["n_replications"] = f["n_replications"]
        if self.sensitivity is not None:
            from cityindex.validation.sensitivity import DUMMY

            ov = self.sensitivity.overall
            top = (ov[ov["factor"] != DUMMY] if "factor" in ov else ov).sort_values(
                "ST", ascending=False).head(3)
            out["top_drivers"] = [dict(factor=r.factor, ST=float(r.ST), ST_lo=float(r.ST_lo),
                                       ST_hi=float(r.ST_hi)) for r in top.itertuples()]
        if self.bayes is not None:
            out["max_rhat"] = self.bayes.convergence.get("max_rhat")
        elif self.status.get("bayes") is not None and self.status["bayes"].state in (
                "failed", "timeout"):
            out["bayes_" + self.status["bayes"].state] = self.status["bayes"].message
        pub = self.published_comparison()
        if pub is not None and "in_band" in pub:
            out["published_in_band"] = float(pub["in_band"].mean())
        if self.published_audit is not None:
            b = self.published_audit.baseline
            out["published_in_band_matched"] = b["observed"]
            out["published_in_band_by_chance"] = b["expected"]
            out["published_in_band_by_chance_range"] = [b["range_lo"], b["range_hi"]]
            out["published_in_band_p_value"] = b["p_value"]
            out["published_in_band_n"] = b["n"]
            c = self.published_audit.correlations
            for k in ("spearman", "kendall"):
                out[f"published_{k}"] = [float(c.loc[k, x]) for x in ("estimate", "lower",
                                                                        "upper")]
        if self.rank_sets is not None:
            r = self.rank_set_table()
            out["rank_set_median_width"] = float(
                (r["simultaneous_upper"] - r["simultaneous_lower"] + 1).median())
        out["n_mostly_imputed"] = len(self.mostly_imputed())
        c = self.counts()
        out.update(n_units=c["n_units"], n_ranked=c["n_ranked"], n_flagged=c["n_flagged"],
                   n_not_ranked=c["n_not_ranked"], flag_below=c["flag_below"],
                   not_ranked=self.not_ranked()["unit"].tolist())
        bw = self.band_width_by_availability()
        if len(bw) and "median_band_width" in bw:
            out["median_band_width_by_availability"] = dict(zip(bw["availability_class"],
                                                                bw["median_band_width"]))
        return out

    # ------------------------------------------------------------------ results protocol
    def to_frame(self) -> pd.DataFrame:
        return self.rankings()

    def to_dict(self) -> dict:
        return json_safe({
            "index": self.root, "n_units": int(len(self.result.scores)),
            "headline": self.headline(),
            "status": {k: {"state": v.state, "message": v.message, "seconds": v.seconds}
                       for k, v in self.status.items()},
            "timings": self.timings})

    def summary(self) -> Summary:
        s = Summary(f"Audit of {self.root}")
        h = self.headline()
        s.add_text(f"Ranking: {self.result.availability.counts_line()}"
                   + (f": {', '.join(h['not_ranked'])}" if h["not_ranked"] else "") + ".")
        if "mean_abs_rank_shift" in h:
            s.add_text(f"Methodological uncertainty ({h['n_replications']} replications): "
                       f"mean |rank shift| {h['mean_abs_rank_shift']:.2f} places; "
                       f"{h['share_band_wider_than_10']:.1%} of units with a 5–95 % band wider "
                       "than 10 places.")
        if "top_drivers" in h:
            s.add_text("Largest total Sobol indices of the mean absolute rank shift: "
                       + ", ".join(f"{d['factor']} {d['ST']:.2f}" for d in h["top_drivers"])
                       + ".")
        if h.get("max_rhat") is not None:
            s.add_text(f"Bayesian model: max R-hat {h['max_rhat']:.3f}.")
        s.add_table(pd.DataFrame([{"stage": k, "state": v.state, "seconds": v.seconds,
                                   "message": _short(v.message)}
                                  for k, v in self.status.items()]), "Stages", max_rows=None)
        return s

    def _repr_lines(self):
        ran = [k for k, v in self.status.items() if v.ok]
        return [f"index {self.root}: {len(self.result.scores)} units",
                f"stages run: {', '.join(ran) or 'none'}"]


@dataclass(repr=False)
class Audit(Result):
    """One audit: its settings, one :class:`IndexAudit` per index, city profiles, timings."""

    settings: AuditSettings
    indices: dict[str, IndexAudit]
    profiles: dict = field(default_factory=dict)   # index → list of CityProfile
    timings: dict = field(default_factory=dict)

    def __getitem__(self, index: str) -> IndexAudit:
        return self.indices[index]

    @property
    def failed(self) -> dict[str, list[str]]:
        """index → stages that failed or timed out."""
        return {k: [s for s, st in a.status.items() if st.state in ("failed", "timeout")]
                for k, a in self.indices.items()}

    def to_frame(self) -> pd.DataFrame:
        """Every index's rankings, stacked, with an ``index`` column."""
        return pd.concat([a.rankings().assign(index=k) for k, a in self.indices.items()],
                         ignore_index=True)

    def to_dict(self) -> dict:
        """The results JSON: settings, and per index the headline figures, stage statuses and
        timings."""
        # how the work was spread over processes does not change a result: manifest only
        settings = {k: v for k, v in self.settings.to_dict().items() if k != "workers"}
        return json_safe({"settings": settings, "timings": self.timings,
                          "indices": {k: a.to_dict() for k, a in self.indices.items()}})

    def summary(self) -> Summary:
        s = Summary("cityindex audit")
        st = self.settings
        s.add_text(f"{'Quick' if st.quick else 'Full'} run: uncertainty N = {st.n_ua}, Sobol "
                   f"base N = {st.n_sa}; {len(self.indices)} index(es).")
        for a in self.indices.values():
            for block in a.summary().blocks:
                s.blocks.append(block if not isinstance(block, str) else f"{a.root}: {block}")
        return s

    def _repr_lines(self):
        return [f"{k}: {', '.join(s for s, v in a.status.items() if v.ok)}"
                for k, a in self.indices.items()]


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ------------------------------------------------------------------------ stages
def _weights(a: IndexAudit, s: AuditSettings, seed: int, progress):
    from cityindex.validation.weight_audit import weight_audit

    return weight_audit(a.result, loo=not s.quick, seed=seed, n_boot=s.n_boot, bod=not s.quick,
                        progress=getattr(progress, "step", None))


def _uncertainty(a: IndexAudit, s: AuditSettings, seed: int, prepared, progress):
    from cityindex.validation.uncertainty import uncertainty_analysis

    return uncertainty_analysis(a.result, a.space, n=s.n_ua, seed=seed, nodes=True,
                                quantile_method=s.quantile,
                                progress=progress, prepared=prepared)


def _sensitivity(a: IndexAudit, s: AuditSettings, seed: int, prepared, progress):
    from cityindex.validation.sensitivity import sensitivity_analysis

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sa = sensitivity_analysis(a.result, a.space, n=s.n_sa, seed=seed,
                                  n_boot=max(s.n_boot, 100), progress=progress,
                                  prepared=prepared, replicates=s.sobol_replicates)
    msgs = [str(w.message) for w in caught if "Sensitivity" in type(w.message).__name__]
    return sa, " | ".join(msgs)


def _scenarios(a: IndexAudit, prepared):
    from cityindex.validation.scenarios import one_at_a_time

    return one_at_a_time(prepared, a.result)


def _rank_sets(a: IndexAudit, s: AuditSettings, seed: int, progress=None):
    """MRSW rank confidence sets (Mogstad, Romano, Shaikh & Wilhelm 2024) from score draws
    centred on the nominal scores: observed values with their per-indicator measurement error,
    imputed cells from a fresh completed data set of a multiple imputation per draw, the index
    recomputed with the nominal method (one score scale)."""
    from cityindex.validation.measurement import measurement_score_draws
    from cityindex.validation.rank_inference import rank_sets

    draws = measurement_score_draws(a.result, sd=s.rank_sd, draws=s.rank_draws, seed=seed,
                                    m=s.rank_imputations,
                                    progress=getattr(progress, "step", None))
    return rank_sets(draws, alpha=s.rank_alpha, seed=seed,
                     not_ranked=a.result.availability.not_ranked()[["unit", "reason"]])


def _rank_curve(a: IndexAudit, s: AuditSettings, seed: int):
    """Median width of the rank sets at 2, 5, 10 and 20 % relative error and under the
    per-indicator error model (:func:`~cityindex.validation.measurement.
    rank_set_width_curve`), from at most 200 draws per error model (the quick audit's rank-set
    size: the curve shows how the width scales with the assumed error; the sets themselves use
    ``rank_draws``)."""
    from cityindex.validation.measurement import rank_set_width_curve

    draws = min(s.rank_draws, 200)
    return rank_set_width_curve(a.result, draws=draws, alpha=s.rank_alpha, seed=seed,
                                m=min(s.rank_imputations, max(2, draws // 2)))


def _published(a: IndexAudit, seed: int):
    """The published ranking in our rank distribution (the methodological band of the
    uncertainty analysis), with the share inside the band expected by chance."""
    from cityindex.validation.compare import published_audit

    pub, ua = a.published, a.uncertainty
    rs = ua.rank_stats
    hist = getattr(ua, "histograms", {}).get("index")
    if hist is None and getattr(ua, "ranks", None) is not None:
        from cityindex.validation.rank_histogram import RankHistogram

        hist = RankHistogram(len(ua.units), capacity=len(ua.ranks))
        hist.add(ua.ranks)
    dist = (hist.counts, hist.values, ua.units) if hist is not None else None
    published = pd.Series(pd.to_numeric(pub["rank"], errors="coerce").to_numpy(float),
                          index=pub["code"].astype(str).to_numpy())
    published = published[~published.index.duplicated()]
    return published_audit(published, a.result.ranks[a.root], rs["q5"], rs["q95"],
                           distribution=dist, seed=seed,
                           band="5–95 % methodological band")


def _check_sizes(audits: dict, s: AuditSettings, together: bool = False) -> None:
    """Refuse sizes whose memory would not fit (uncertainty with node ranks, then Sobol, per
    index; with ``together`` the sum over the indices, as when they run side by side), with
    the estimate in the message (:mod:`cityindex.validation.resources`)."""
    from cityindex.validation.resources import (check_memory, sensitivity_bytes,
                                                uncertainty_bytes)
    from cityindex.validation.uncertainty import KEEP_RANK_BYTES

    total = 0
    for k, a in audits.items():
        fw, u = a.result.framework, len(a.result.scores.index)
        keep = min(s.n_ua, max(1, KEEP_RANK_BYTES // (4 * max(u, 1))))
        ua = uncertainty_bytes(a.space, u, len(fw.indicators), len(fw.nodes), s.n_ua,
                               len(fw.aggregates) - 1, keep)
        sa = 0 if s.n_sa is None else sensitivity_bytes(a.space, u, len(fw.indicators),
                                                        len(fw.nodes), s.n_sa)
        total += ua + sa
        if not together:
            check_memory(ua + sa, f"{k}: the audit with uncertainty N = {s.n_ua:,} and Sobol "
                         f"base N = {s.n_sa:,} ({u:,} units)", "lower --n or --n-sobol")
    if together:
        check_memory(total, "the indices side by side", "run them one at a time (workers=1)")


class _Stages:
    """A rich progress bar with one task per stage (quiet when ``show`` is False); runs each
    stage, records its time and its :class:`StageStatus`."""

    def __init__(self, show: bool = True):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.progress = Progress(TextColumn("{task.description:<52}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), disable=not show,
                                 transient=False)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def run(self, a: IndexAudit, stage: str, fn: Callable, total: int = 1, label: str = ""):
        """``fn(advance)``; a failure (other than an input error) becomes a ``failed`` status.
        ``advance(k)`` moves the stage's bar by k; ``advance.step(sub_step, done, total)``
        shows a sub-step with its count (:mod:`cityindex.model.progress`)."""
        base = f"{a.root}: {label or stage}"
        task = self.progress.add_task(base, total=total)
        t0 = time.perf_counter()
        try:
            out = fn(_Advance(self.progress, task, base))
            status = StageStatus("ok")
        except CityIndexError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed stage is reported, not fatal
            out = None
            status = StageStatus("failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:400],
                                 detail=traceback.format_exc(limit=3))
        status.seconds = round(time.perf_counter() - t0, 2)
        a.status[stage] = status
        a.timings[stage] = status.seconds
        done = next((t.total for t in self.progress.tasks if t.id == task), total)
        self.progress.update(task, description=base, completed=done)
        return out


class _Advance:
    """The progress handle a stage receives: call it to advance its bar by ``k``; ``step``
    shows the current sub-step and its count on the same bar."""

    def __init__(self, progress, task, base: str):
        self.progress, self.task, self.base = progress, task, base

    def __call__(self, k: int = 1) -> None:
        self.progress.advance(self.task, k)

    def step(self, label: str, done: int, total: int) -> None:
        self.progress.update(self.task, description=f"{self.base} · {label}",
                             total=max(int(total), 1), completed=int(done))


def _decorate(a: IndexAudit) -> None:
    """Display names and regions: the bundled registry's, else the data's own."""
    from cityindex.model.registry import load_registry

    from .profiles import unit_names

    own = pd.Series(unit_names([a.result.data]), dtype=object)
    try:
        reg = load_registry().set_index("code")
    except Exception:  # noqa: BLE001 - names are optional decoration
        reg = None
    units = a.result.scores.index
    names = own.reindex(units)
    if reg is not None:
        names = reg["name_en"].reindex(units).combine_first(names)
    a.names = names.fillna(pd.Series(units, index=units))
    meta = a.result.data.meta
    if "region" in meta.columns:
        a.regions = meta["region"].reindex(units)



def _run_index(a: IndexAudit, s: AuditSettings, st: "_Stages", panel=None,
               years=None) -> IndexAudit:
    """Every stage of one index except the Bayesian fit (which runs in its own process); the
    year stage when ``panel`` is given."""
    from cityindex.validation.engine import prepare

    seed = a.result.method.seed if s.seed is None else s.seed
    if not s.light:
        a.weights = st.run(a, "weights", lambda adv: _weights(a, s, seed, adv),
                           label="coherence & weights")
    prepared = st.run(a, "prepare", lambda adv: prepare(a.result, a.space, seed,
                                                        progress=adv.step),
                      label="alternatives")
    if prepared is not None:
        a.scenarios = st.run(a, "scenarios", lambda adv: _scenarios(a, prepared),
                             label="one-at-a-time scenarios")
        a.uncertainty = st.run(
            a, "uncertainty", lambda adv: _uncertainty(a, s, seed, prepared, adv),
            total=s.n_ua, label=f"uncertainty (N={s.n_ua})")
        out = st.run(a, "sensitivity", lambda adv: _sensitivity(a, s, seed, prepared, adv),
                     total=s.n_sa * (len(a.space.names) + 2), label=f"sensitivity (N={s.n_sa})")
        if out is not None:
            a.sensitivity, warn = out
            if warn:
                a.status["sensitivity"].message = warn
    if panel is not None:
        st.run(a, "years", lambda adv: _years(a, s, seed, panel, years),
               label="year-on-year moves")
    if not s.light:
        a.rank_sets = st.run(a, "rank_sets", lambda adv: _rank_sets(a, s, seed, adv),
                             label="rank confidence sets")
        if s.rank_curve:
            a.rank_curve = st.run(a, "rank_curve", lambda adv: _rank_curve(a, s, seed),
                                  label="rank-set width vs assumed error")
        else:
            a.status["rank_curve"] = StageStatus(
                "skipped", "the width of the rank sets against the assumed measurement "
                "error is computed in full runs (run without --quick)")
        if a.published is not None and a.uncertainty is not None:
            a.published_audit = st.run(a, "published", lambda adv: _published(a, seed),
                                       label="published ranking")
    return a


def _parallel_ok(audits: dict, s: AuditSettings) -> bool:
    """Whether the indices run side by side, one forked process each (:func:`~cityindex.
    forking.can_fork`), numba's thread pool has not started here, and the memory of all
    indices at once is within the limit (:func:`_check_sizes` has checked one at a time)."""
    from .forking import can_fork

    if not can_fork(len(audits), s.workers) or _numba_threads_started():
        return False
    try:
        _check_sizes(audits, s, together=True)
    except CityIndexError:
        return False
    return True


def _numba_threads_started() -> bool:
    """Whether this process has started numba's thread pool (a parallel kernel ran here, e.g.
    rank sets computed earlier in the same Python session): its workqueue layer is not safe
    to fork, so the indices then run one after the other."""
    import sys

    if "numba" not in sys.modules:
        return False
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - numba's layout changed
        return True
    return bool(getattr(parallel, "_is_initialized", True))


def _run_forked(audits: dict, s: AuditSettings, st: "_Stages", panel=None,
                years=None) -> dict:
    """Run :func:`_run_index` for every index in its own forked process (at most
    ``s.workers`` or the CPU count at a time); stage progress comes back through a queue to
    this process's bars, the audited :class:`IndexAudit` through a pipe. Results are the same
    as serial runs (every stage takes its own seed). An input error raised in a child is
    raised here."""
    import multiprocessing as mp
    import os
    import pickle
    import threading

    from .forking import pipe, process, start

    n_workers = max(1, min(len(audits), s.workers or (os.cpu_count() or 1)))
    queue = mp.get_context("fork").Queue()
    tasks: dict = {}

    def relay():                       # child progress → this process's bars
        while True:
            msg = queue.get()
            if msg is None:
                return
            op, key, args = msg
            if op == "add":
                tasks[key] = st.progress.add_task(args[0], total=args[1])
            elif key in tasks:
                getattr(st.progress, op)(tasks[key], **args[0])

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    out, pending = {}, list(audits.items())
    running: list = []
    try:
        while pending or running:
            while pending and len(running) < n_workers:
                k, a = pending.pop(0)
                recv, send = pipe()
                proc = process(_forked_index, (a, s, queue, k, send, panel, years))
                start(proc)
                send.close()
                running.append((k, proc, recv))
            k, proc, recv = running.pop(0)
            try:
                kind, payload = pickle.loads(recv.recv_bytes())
            except EOFError:
                kind, payload = "crash", f"the worker of {k} ended (exit {proc.exitcode})"
            proc.join()
            if kind == "error":
                raise payload
            if kind == "crash":
                raise RuntimeError(payload)
            out[k] = payload
    finally:
        for _, proc, _ in running:
            proc.kill()
        queue.put(None)
        thread.join(timeout=5)
    return {k: out[k] for k in audits}


class _QueueProgress:
    """The part of rich's Progress that :class:`_Stages` uses, sent through a queue to the
    parent process (which owns the terminal)."""

    def __init__(self, queue, prefix: str):
        self.queue, self.prefix, self.n, self.totals = queue, prefix, 0, {}

    def add_task(self, description, total=1):
        self.n += 1
        self.totals[self.n] = total
        self.queue.put(("add", (self.prefix, self.n), (description, total)))
        return self.n

    def advance(self, task, k=1):
        self.queue.put(("advance", (self.prefix, task), ({"advance": k},)))

    def update(self, task, **kw):
        if "total" in kw:
            self.totals[task] = kw["total"]
        self.queue.put(("update", (self.prefix, task), (kw,)))

    @property
    def tasks(self):
        from types import SimpleNamespace

        return [SimpleNamespace(id=i, total=t) for i, t in self.totals.items()]


def _forked_index(a: IndexAudit, s: AuditSettings, queue, key: str, send, panel=None,
                  years=None) -> None:
    """Child-process body of :func:`_run_forked`."""
    import pickle

    from .forking import one_blas_thread

    one_blas_thread()   # the workers and a Bayesian fit already share the CPUs
    st = _Stages.__new__(_Stages)
    st.progress = _QueueProgress(queue, key)
    try:
        payload = ("ok", _run_index(a, s, st, panel, years))
    except CityIndexError as exc:
        payload = ("error", exc)
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        payload = ("crash", f"{type(exc).__name__}: {exc}".splitlines()[0][:400])
    send.send_bytes(pickle.dumps(payload))
    send.close()
    queue.close()
    queue.join_thread()


def _years(a: IndexAudit, s: AuditSettings, seed: int, panel, years) -> None:
    """The year stage: every year of ``panel`` computed with the audit's framework and method,
    one set of N replications applied to all years (trajectories with bands in ``a.history``),
    and the moves from year A to year B with their paired bands (``a.years``)."""
    from cityindex.model import bundled
    from cityindex.model.temporal import compute_panel
    from cityindex.validation.compare.years import (compare_years, replicate_years,
                                                    trajectories)

    year_a, year_b = years
    res = compute_panel(a.framework, panel, a.result.method)
    n = min(s.n_ua, 1000)
    reps = replicate_years(res, a.space, n, seed=seed)
    pct = (5, 95)
    a.history = trajectories(res, reps, pct, s.quantile)
    pub = None
    if bundled.is_bundled(a.framework.origin or "."):
        cand = bundled.data_dir() / "published" / f"{a.root.lower()}_{year_b}_top100.csv"
        pub = cand if cand.exists() else None
    a.years = compare_years(res[year_a], res[year_b], a.space, seed=seed, percentiles=pct,
                            quantile_method=s.quantile, published=pub,
                            years=(year_a, year_b), replications=reps)


def audit(results, *, space=None, settings: AuditSettings | None = None,
          show_progress: bool = False, published=None, panel=None, years=None,
          **kwargs) -> Audit:
    """Audit one or more index results (see the module docstring).

    Parameters
    ----------
    results : IndexResult, or a sequence of them (one per index).
    space : an uncertainty space for every result: UncertaintySpace, YAML path, a bundled
        space's name, or None (the bundled default space).
    settings : AuditSettings; or give its fields as keyword arguments (``quick=True``, …).
    show_progress : a progress bar per stage on the terminal.
    published : {index code: DataFrame or CSV path} of published rankings (``code``, ``rank``);
        default: the bundled published table of a bundled index, when there is one.
    panel, years : a :class:`~cityindex.model.temporal.PanelData` and (year A, year B): adds
        the year-on-year stage (every year of the panel computed, N = ``n_ua`` replications
        shared by all years: trajectories with bands in ``history``, A → B moves in
        ``years``). Only when given: the default audit is unchanged.

    Returns
    -------
    Audit

    Raises
    ------
    CityIndexError for invalid inputs (e.g. a space that does not fit a framework), before any
    stage runs.
    """
    from cityindex.model import bundled
    from cityindex.validation.space import load_space

    from .bayes_job import BackgroundBayes

    t_start = time.perf_counter()
    if settings is None:
        settings = AuditSettings(**kwargs)
    elif kwargs:
        raise TypeError("give either settings or keyword settings, not both")
    s = settings
    if not isinstance(results, (list, tuple)):
        results = [results]
    audits: dict[str, IndexAudit] = {}
    for r in results:  # validate every input first
        audits[r.framework.root] = IndexAudit(r, load_space(space, r))
    _check_sizes(audits, s)  # a size whose memory would not fit: refused before any stage
    published = dict(published or {})
    for k, a in audits.items():
        pub = published.get(k)
        label = "Published ranking"
        if pub is None and bundled.is_bundled(a.framework.origin or "."):
            pub = bundled.published_path(k)
            label = "Published 2021 ranking"
        if pub is not None:
            a.published = pub.copy() if isinstance(pub, pd.DataFrame) else pd.read_csv(
                pub, keep_default_na=False, na_values=[""])
            a.published.attrs["label"] = label
        _decorate(a)
    parallel = _parallel_ok(audits, s)
    jobs: dict[str, BackgroundBayes] = {}
    try:
        with _Stages(show_progress) as st:
            for k, a in audits.items():    # start the Bayesian fits first: they run beside
                if s.bayes and not s.quick and not s.light:
                    jobs[k] = BackgroundBayes(a.result, s)
            if parallel:
                audits = _run_forked(audits, s, st, panel, years)
            else:
                from .forking import one_blas_thread

                with one_blas_thread():   # as the forked workers: the same bytes either way
                    for a in audits.values():
                        _run_index(a, s, st, panel, years)
            for k, a in audits.items():
                if s.light:
                    continue
                if k in jobs:
                    job = jobs.pop(k)
                    a.bayes = st.run(a, "bayes", lambda adv: job.result(), label="bayesian model")
                    if job.timed_out:
                        a.status["bayes"] = StageStatus("timeout", job.message,
                                                        a.status["bayes"].seconds)
                    a.timings["bayes_wait"] = a.timings.pop("bayes")
                    if job.wall is not None:
                        a.timings["bayes_fit_background"] = round(job.wall, 2)
                else:
                    a.status["bayes"] = StageStatus(
                        "skipped", "skipped in --quick mode (run without --quick to fit it)"
                        if s.quick else "skipped (--no-bayes)")
    finally:
        for job in jobs.values():
            job.stop()
    out = Audit(s, audits)
    if s.profiles:
        from .profiles import city_profile, resolve_cities

        codes = resolve_cities(s.profiles, data=[a.result.data for a in audits.values()])
        out.profiles = {k: [city_profile(a, c) for c in codes if c in a.result.scores.index]
                        for k, a in audits.items()}
    out.timings["total_s"] = round(time.perf_counter() - t_start, 2)
    return out
