"""Run every stage of the statistical audit and collect one :class:`AuditResult`.

Stages per index (OECD/JRC Handbook 2008, Steps 4–7; Saisana, Saltelli & Tarantola 2005):

1. ``compute``      the deterministic index (``model.compute_index``);
2. ``weights``      coherence and weight audit (``validation.weight_audit.audit_weights``);
3. ``uncertainty``  Monte Carlo over the uncertainty space (ranks at every level);
4. ``sensitivity``  Sobol Si/STi of the mean absolute rank shift and of every unit's rank;
5. ``bayes``        Bayesian latent-score model (skipped in quick mode or when PyMC is absent);
6. ``rank_sets``    MRSW rank confidence sets (simultaneous and marginal, 95 %) from a
                   measurement-error bootstrap (10 % relative error in every indicator value),
                   as ``cityindex ranks`` does by default;
7. ``published``    our bands vs the published 2021 top 100.

Input errors (``model.errors.CityIndexError``) raised by ``compute`` stop the run. A later stage
that fails is recorded as a note in the report (never silently dropped) and the run goes on.
Each stage's use of another module sits behind one small function (``_weights``, ``_bayes``, …)
so an API change is a one-place fix.
"""

from __future__ import annotations

import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cityindex.model.errors import CityIndexError

from cityindex.model.bundled import data_dir

DATA = data_dir()
PUBLISHED = DATA / "published"


@dataclass
class AuditSettings:
    """Sizes of the audit. ``quick`` sets small defaults (and skips the Bayesian model)."""

    quick: bool = False
    bayes: bool = True
    seed: int = 0
    n_ua: int | None = None          # uncertainty replications (10000 full / 500 quick)
    n_sa: int | None = None          # Sobol base sample (1024 full / 64 quick), a power of two
    n_boot: int | None = None        # bootstrap replicates (weights, Sobol)
    bayes_draws: int = 1000
    bayes_tune: int = 1000
    bayes_chains: int = 4
    bayes_timeout: float = 170.0     # seconds from the start of the fit (it runs in parallel)
    rank_sd: float = 0.10            # measurement error (relative sd) for the rank sets
    rank_draws: int | None = None    # measurement-error draws (100 full / 30 quick)
    rank_alpha: float = 0.05         # 1 − confidence level of the rank sets
    profiles: list[str] = field(default_factory=list)
    light: bool = False              # only compute, uncertainty, sensitivity (city profiles)

    def __post_init__(self):
        q = self.quick
        self.n_ua = self.n_ua or (500 if q else 10000)
        self.n_sa = self.n_sa or (64 if q else 1024)
        self.n_boot = self.n_boot if self.n_boot is not None else (0 if q else 30)
        self.rank_draws = self.rank_draws or (30 if q else 100)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, not {self.seed}")
        if not self.bayes_timeout > 0:
            raise ValueError(f"Bayesian timeout must be > 0 seconds, not {self.bayes_timeout}")
        if self.n_sa & (self.n_sa - 1):
            raise ValueError(f"Sobol base sample must be a power of two, not {self.n_sa}")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IndexAudit:
    """Everything the audit produced for one index (framework + data + method).

    Attributes: ``result`` (IndexResult), ``weights`` (WeightAudit), ``ua`` (UncertaintyResult),
    ``sa`` (SensitivityResult), ``bayes`` (dict: posterior_ranks, implied_weights, diagnostics,
    convergence), ``rank_sets`` (DataFrame), ``published`` (DataFrame), each None when the stage
    did not run; ``notes`` (stage → message for skipped or failed stages); ``timings`` (s).
    """

    name: str
    framework: object
    data: object
    method: object
    space: object
    result: object = None
    weights: object = None
    ua: object = None
    sa: object = None
    bayes: dict | None = None
    rank_sets: pd.DataFrame | None = None
    published: pd.DataFrame | None = None
    notes: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.framework.root

    def headline(self) -> dict:
        """The figures the report states: R̄s, share of bands > 10 places, top-3 STi, max R-hat."""
        out = {}
        if self.ua is not None:
            s = self.ua.summary
            out["mean_abs_rank_shift"] = s["mean_abs_rank_shift"]
            out["share_band_wider_than_10"] = s.get("share_band_wider_than_10")
            out["n_replications"] = s["n_replications"]
        if self.sa is not None:
            top = self.sa.overall.sort_values("ST", ascending=False).head(3)
            out["top_drivers"] = [dict(factor=r.factor, ST=float(r.ST), ST_lo=float(r.ST_lo),
                                       ST_hi=float(r.ST_hi)) for r in top.itertuples()]
        if self.bayes is not None:
            out["max_rhat"] = self.bayes["convergence"].get("max_rhat")
        elif self.bayes_failure():
            out["bayes_failed"] = self.bayes_failure()
        if self.published is not None and "in_band" in self.published:
            out["published_in_band"] = float(self.published["in_band"].mean())
        if self.rank_sets is not None:
            r = self.rank_sets
            out["rank_set_median_width"] = float(
                (r["simultaneous_upper"] - r["simultaneous_lower"] + 1).median())
        return out

    def bayes_failure(self) -> str | None:
        """The failure message of the Bayesian stage (timeout, crash), or None."""
        return self.notes.get("bayesian model")

    def observed_share(self) -> pd.Series:
        """Per unit, the share of the framework's indicators observed before imputation."""
        raw = self.result.raw
        cols = [c for c in self.framework.indicators if c in raw.columns] or list(raw.columns)
        return raw[cols].notna().mean(axis=1)

    def rankings(self, registry: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per unit: names, score, rank, UA band, rank-set, Bayesian interval, 2021 rank."""
        res = self.result
        root = self.root
        t = pd.DataFrame({"score": res.aggregated[root], "rank": res.ranks[root]})
        t.index.name = "unit"
        t["observed_share"] = self.observed_share().reindex(t.index)
        if registry is not None:
            reg = registry.set_index("code")
            for col in ("name_en", "name_zh", "country", "region"):
                if col in reg:
                    t.insert(len(t.columns) - 3, col, t.index.map(reg[col]))
        if self.ua is not None:
            rs = self.ua.rank_stats
            for col in ("median", "q5", "q95", "width", "mean_abs_shift", "p_top10"):
                if col in rs:
                    t[f"ua_{col}"] = rs[col].reindex(t.index)
        if self.rank_sets is not None:
            r = self.rank_sets.set_index("unit")
            for col in ("simultaneous_lower", "simultaneous_upper", "marginal_lower",
                        "marginal_upper"):
                if col in r:
                    t[f"rankset_{col}"] = r[col].reindex(t.index)
        if self.bayes is not None:
            b = self.bayes["posterior_ranks"]
            for col in ("rank_median", "rank_lo", "rank_hi"):
                t[f"bayes_{col}"] = b[col].reindex(t.index)
        if self.published is not None:
            t["published_2021"] = self.published.set_index("unit")["published_rank"].reindex(
                t.index).astype("Int64")
        return t.sort_values(["rank", "score"], ascending=[True, False]).reset_index()


@dataclass
class AuditResult:
    """One audit run: settings, one :class:`IndexAudit` per index, city profiles, timings."""

    settings: AuditSettings
    indices: dict[str, IndexAudit]
    registry: pd.DataFrame | None = None
    profiles: dict = field(default_factory=dict)   # index name → list of profile dicts
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The results JSON: settings, and per index the headline figures, notes and timings."""
        return {"settings": self.settings.to_dict(), "timings": self.timings,
                "indices": {k: {"index": a.root, "n_units": int(len(a.result.scores)),
                                "headline": a.headline(), "notes": a.notes,
                                "timings": a.timings}
                            for k, a in self.indices.items()}}


# ------------------------------------------------------------------------ stage adapters
def _compute(fw, data, method):
    from cityindex.model import compute_index

    return compute_index(fw, data, method)


def _weights(a: IndexAudit, s: AuditSettings):
    from cityindex.model import compute_index
    from cityindex.validation.weight_audit import audit_weights

    res = a.result
    score_fn = None if s.quick else (
        lambda f: compute_index(f, a.data, a.method.restricted_to(f)).aggregated)
    return audit_weights(res.framework, res.aggregated, score_fn, data=res.raw, seed=s.seed,
                         n_boot=s.n_boot, bod=not s.quick)


class _KeepNodeRanks:
    """A serial runner that also keeps the per-node rank blocks (see :func:`_uncertainty`)."""

    n_workers = 1

    def __init__(self):
        self.parts: list[dict] = []

    def __call__(self, func, tasks):
        out = [func(*t) for t in tasks]
        self.parts.extend({k: v for k, v in q.items() if k not in ("index", "index_scores")}
                          for q in out)
        return out


def _uncertainty(a: IndexAudit, s: AuditSettings, progress: Callable[[int], None]):
    """Monte Carlo uncertainty analysis with node ranks.

    An aggregate whose only indicator is left out (``drop_indicator``) has no score in that
    replication, so its rank is NaN there and the plain rank statistics of such a node are all
    NaN. For those nodes the statistics are recomputed over the replications where the node is
    defined; ``attrs["defined_share"]`` of the node's table says in which share of them.
    """
    from cityindex.validation.uncertainty import rank_statistics, uncertainty_analysis

    runner = _KeepNodeRanks()
    ua = uncertainty_analysis(a.framework, a.data, a.method, a.space, n=s.n_ua, seed=s.seed,
                              node_ranks=True, progress=progress, runner=runner)
    nominal = a.result.ranks
    for node, st in list(ua.node_stats.items()):
        if not st["median"].isna().any() or not runner.parts or node not in runner.parts[0]:
            continue
        R = np.concatenate([q[node] for q in runner.parts]).astype(float)
        ok = ~np.isnan(R).any(axis=1)
        if ok.any():
            fixed = rank_statistics(R[ok], nominal[node].reindex(ua.units).to_numpy(float),
                                    ua.units)
            fixed.attrs["defined_share"] = float(ok.mean())
            ua.node_stats[node] = fixed
    runner.parts.clear()
    return ua


def _sensitivity(a: IndexAudit, s: AuditSettings, progress: Callable[[int], None]):
    from cityindex.validation.uncertainty import sensitivity_analysis

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sa = sensitivity_analysis(a.framework, a.data, a.method, a.space, n=s.n_sa,
                                  seed=s.seed, n_boot=max(s.n_boot, 100), progress=progress)
    msgs = [str(w.message) for w in caught if "Sensitivity" in type(w.message).__name__]
    if msgs:
        a.notes["sensitivity_warnings"] = " | ".join(msgs)
    return sa


def _bayes_child(in_path: str, out_path: str) -> None:
    """Child-process body: read (treated, normalised, framework, settings) from ``in_path``,
    fit the latent-score model and pickle a dict of results (or the error) to ``out_path``."""
    import pickle

    try:
        treated, normalised, framework, s = pickle.loads(Path(in_path).read_bytes())
        from cityindex.model.bayes import LatentScoreModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LatentScoreModel(chains=s.bayes_chains, draws=s.bayes_draws, tune=s.bayes_tune,
                                 seed=s.seed).fit(treated, framework)
            out = {"posterior_ranks": m.posterior_ranks(),
                   "implied_weights": m.implied_weights(normalised=normalised),
                   "diagnostics": m.diagnostics_, "convergence": dict(m.convergence_),
                   "settings": dict(chains=s.bayes_chains, draws=s.bayes_draws,
                                    tune=s.bayes_tune)}
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        out = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:400]}
    Path(out_path).write_bytes(pickle.dumps(out))


class _BayesJob:
    """The Bayesian fit in a separate (spawned) process, started early and collected later:
    it overlaps the other stages, and a sampler crash or hang cannot take the audit down."""

    def __init__(self, a: IndexAudit, s: AuditSettings):
        import pickle
        import subprocess
        import sys
        import tempfile

        self.timeout = s.bayes_timeout
        self.dir = tempfile.TemporaryDirectory(prefix="cityindex-bayes-")
        d = Path(self.dir.name)
        self.path = d / "out.pkl"
        (d / "in.pkl").write_bytes(pickle.dumps(
            (a.result.treated, a.result.normalised, a.result.framework, s)))
        code = ("from cityindex.audit import _bayes_child; "
                f"_bayes_child({str(d / 'in.pkl')!r}, {str(self.path)!r})")
        self.t0 = time.perf_counter()
        self.wall: float | None = None      # wall time of the background fit (s)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self.dir.cleanup()

    def result(self) -> dict:
        import pickle

        import subprocess

        try:
            try:
                self.proc.wait(max(1.0, self.timeout - (time.perf_counter() - self.t0)))
            except subprocess.TimeoutExpired:
                self.wall = time.perf_counter() - self.t0
                raise TimeoutError(f"Bayesian fit did not finish within {self.timeout:.0f} s "
                                   "(stopped; raise --bayes-timeout to allow more)") from None
            self.wall = time.perf_counter() - self.t0
            if not self.path.exists():
                raise RuntimeError(f"Bayesian fit process died (exit code "
                                   f"{self.proc.returncode})")
            out = pickle.loads(self.path.read_bytes())
            if "error" in out:
                raise RuntimeError(out["error"])
            return out
        finally:
            self.stop()


def _rank_sets(a: IndexAudit, s: AuditSettings) -> pd.DataFrame:
    """MRSW rank confidence sets (Mogstad, Romano, Shaikh & Wilhelm 2024), built as the
    ``cityindex ranks`` command's default: score draws from a measurement-error bootstrap
    (every indicator value × (1 + ε), ε ~ N(0, sd²), index recomputed with the nominal method, so
    the draws share one score scale), sets at level 1 − alpha.

    Returns one row per unit, sorted by nominal rank: unit, nominal_rank, simultaneous_lower,
    simultaneous_upper (all true ranks inside their sets jointly with probability ≥ 1 − alpha),
    marginal_lower, marginal_upper (each unit's set on its own). Units whose scores are equal in
    every draw (e.g. all indicators zero) would make a pair's difference degenerate; then a
    uniform jitter of ±1e-4 × the largest per-unit score SD is added (noted in the report).
    """
    from cityindex.validation.rank_audit import centred_inputs, measurement_score_draws, separable_draws
    from cityindex.validation.rank_inference import rank_confidence_sets

    S = measurement_score_draws(a.framework, a.data, a.method, sd=s.rank_sd,
                                draws=s.rank_draws, seed=s.seed)

    S, note = separable_draws(S, seed=s.seed)
    if note:
        a.notes["rank confidence sets"] = note
    inputs = centred_inputs(S, a.result.index_scores)  # centred on the nominal scores
    simul = rank_confidence_sets(**inputs, alpha=s.rank_alpha, simultaneous=True, seed=s.seed)
    marg = rank_confidence_sets(**inputs, alpha=s.rank_alpha, simultaneous=False, seed=s.seed)
    ranks = a.result.ranks[a.root]
    out = pd.DataFrame({"unit": simul["unit"].to_numpy(),
                        "nominal_rank": ranks.reindex(simul["unit"]).to_numpy(),
                        "simultaneous_lower": simul["lower"].to_numpy(),
                        "simultaneous_upper": simul["upper"].to_numpy()})
    m = marg.set_index("unit")
    out["marginal_lower"] = m["lower"].reindex(out["unit"]).to_numpy()
    out["marginal_upper"] = m["upper"].reindex(out["unit"]).to_numpy()
    out.attrs.update(alpha=s.rank_alpha, sd=s.rank_sd, draws=s.rank_draws)
    return out.sort_values(["nominal_rank", "unit"]).reset_index(drop=True)


def published_table(root: str) -> pd.DataFrame | None:
    """The published 2021 top 100 for an index (``data/published/<root>_2021_top100.csv``)."""
    path = PUBLISHED / f"{root.lower()}_2021_top100.csv"
    if not path.exists():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _published(a: IndexAudit) -> pd.DataFrame | None:
    pub = published_table(a.root)
    if pub is None:
        a.notes["published"] = f"no published table for '{a.root}' in {PUBLISHED}"
        return None
    rs = a.ua.rank_stats if a.ua is not None else None
    ranks = a.result.ranks[a.root]
    t = pd.DataFrame({"unit": pub["code"], "city": pub["city_en"],
                      "published_rank": pub["rank"].astype(int)})
    t["our_rank"] = t["unit"].map(ranks)
    if rs is not None:
        for col in ("median", "q5", "q95"):
            t[f"our_{col}"] = t["unit"].map(rs[col])
        t["in_band"] = (t["published_rank"] >= t["our_q5"]) & (t["published_rank"] <= t["our_q95"])
    t["shift"] = t["our_rank"] - t["published_rank"]
    missing = t["our_rank"].isna().sum()
    if missing:
        a.notes["published"] = f"{missing} published cities are not in our data"
    return t


# ------------------------------------------------------------------------ orchestration
@contextmanager
def _terminating(jobs: dict):
    """Stop Bayesian child processes that are still running when the audit ends or fails."""
    try:
        yield
    finally:
        for job in jobs.values():
            job.stop()


class _Stages:
    """A rich progress bar with one task per stage (quiet when ``show`` is False)."""

    def __init__(self, show: bool = True):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), disable=not show,
                                 transient=False)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def run(self, a: IndexAudit, stage: str, fn, total: int = 1, fatal: bool = False):
        """Run ``fn(advance)``; record time; a failure becomes a note unless ``fatal``."""
        task = self.progress.add_task(f"{a.name}: {stage}", total=total)
        advance = lambda k=1: self.progress.advance(task, k)
        t0 = time.perf_counter()
        try:
            out = fn(advance)
        except CityIndexError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed secondary stage is reported
            if fatal:
                raise
            a.notes[stage] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:400]
            a.notes[f"{stage}_traceback"] = traceback.format_exc(limit=3)
            out = None
        a.timings[stage] = round(time.perf_counter() - t0, 2)
        self.progress.update(task, completed=total)
        return out


def run_audit(inputs: list[tuple], space_path: str | Path | None, settings: AuditSettings,
              show_progress: bool = True) -> AuditResult:
    """Audit each (framework, data, method) in ``inputs`` and return an :class:`AuditResult`.

    ``space_path``: the uncertainty space YAML (default ``data/spaces/default.yaml``).
    Raises CityIndexError for invalid inputs (before anything is written by the caller).
    """
    from cityindex.model.registry import load_registry
    from cityindex.validation.space import UncertaintySpace

    t_start = time.perf_counter()
    space_path = Path(space_path or DATA / "spaces" / "default.yaml")
    audits: dict[str, IndexAudit] = {}
    for fw, data, method in inputs:   # validate every input first
        space = UncertaintySpace.load(space_path, fw, method)
        audits[fw.root] = IndexAudit(fw.root, fw, data, method, space)
    try:
        registry = load_registry()
    except Exception:  # noqa: BLE001 - names are optional decoration
        registry = None
    s = settings
    jobs: dict[str, _BayesJob] = {}
    with _Stages(show_progress) as st, _terminating(jobs):
        # compute every index first, so the Bayesian fits run beside the other stages
        for a in audits.values():
            a.result = st.run(a, "compute", lambda adv: _compute(a.framework, a.data, a.method),
                              fatal=True)
            if s.bayes and not s.quick and not s.light:
                jobs[a.name] = _BayesJob(a, s)
        for a in audits.values():
            if not s.light:
                a.weights = st.run(a, "coherence & weights", lambda adv: _weights(a, s))
            a.ua = st.run(a, f"uncertainty (N={s.n_ua})", lambda adv: _uncertainty(a, s, adv),
                          total=s.n_ua)
            n_sa = s.n_sa * (len(a.space.names) + 2)
            a.sa = st.run(a, f"sensitivity (N={s.n_sa})", lambda adv: _sensitivity(a, s, adv),
                          total=n_sa)
            if s.light:
                continue
            if not s.bayes:
                a.notes["bayes"] = "skipped (--no-bayes)"
            elif s.quick:
                a.notes["bayes"] = "skipped in --quick mode (run without --quick to fit it)"
            else:
                job = jobs.pop(a.name)
                a.bayes = st.run(a, "bayesian model", lambda adv: job.result())
                # the fit ran in a background process beside the other stages: the stage time
                # above is only the wait for it; record the fit's own wall time separately
                a.timings["bayesian model (wait after other stages)"] = a.timings.pop(
                    "bayesian model")
                if job.wall is not None:
                    a.timings["bayesian fit (background wall time, overlaps other stages)"] = (
                        round(job.wall, 2))
            if a.ua is not None:
                a.rank_sets = st.run(a, "rank confidence sets", lambda adv: _rank_sets(a, s))
            a.published = st.run(a, "published 2021", lambda adv: _published(a))
    out = AuditResult(s, audits, registry)
    if s.profiles:
        from .report.profile import resolve_cities, city_profile

        codes = resolve_cities(s.profiles, registry, data=[a.data for a in audits.values()])
        out.profiles = {k: [city_profile(a, c, registry) for c in codes if c in
                            a.result.scores.index] for k, a in audits.items()}
    out.timings["total_s"] = round(time.perf_counter() - t_start, 2)
    return out
