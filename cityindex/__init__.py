"""cityindex — composite index engine and statistical audit.

``import cityindex as ci``::

    r = ci.compute("gdci")                      # the bundled Global Dynamic Cities Index
    print(r.summary().as_text())
    coh = ci.coherence(r)                       # correlations, Cronbach's α, KMO, PCA
    wa = ci.weight_audit(r)                     # PCA/FA, effective, optimised weights, BoD, LOO
    p = ci.prepare(r, "default")                # the space's alternatives, prepared once …
    ua = ci.uncertainty(r, p.space, n=1000, prepared=p)   # … for the uncertainty analysis
    sa = ci.sensitivity(r, p.space, n=256, prepared=p)    # … and the sensitivity analysis
    sets = ci.rank_sets(ci.measurement_draws(r, sd=0.10))  # rank confidence sets
    pub = ci.publication_table(r)               # the league table under the conventions
    cmp = ci.compare(r, ci.compute("gdci", method="gdci_pca_networks"))
    a = ci.audit(r, quick=True)                 # everything above in one Audit container

Every analysis is a function of an :class:`IndexResult` plus its own settings; none recomputes
the nominal index it is given. Every result offers ``summary()`` (with ``as_text()`` and
``as_html()``), ``to_frame()``, ``to_dict()`` and a short ``repr``.

Layers: :mod:`cityindex.model` (framework, data, method, pipeline, weight and Bayesian models)
← :mod:`cityindex.validation` (coherence, weights audit, uncertainty and sensitivity, rank
inference, comparison) ← this package (the audit, the report, the command line).
"""

from __future__ import annotations

from importlib import import_module, metadata

try:
    __version__ = metadata.version("cityindex")
except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

# public name -> (module, attribute); imported on first use so `import cityindex` stays light
_API = {
    "compute": ("cityindex.api", "compute"),
    "load_framework": ("cityindex.api", "load_framework"),
    "load_method": ("cityindex.api", "load_method"),
    "read_data": ("cityindex.api", "read_data"),
    "Framework": ("cityindex.model.framework", "Framework"),
    "MethodSpec": ("cityindex.model.method", "MethodSpec"),
    "IndexResult": ("cityindex.model.pipeline", "IndexResult"),
    "Summary": ("cityindex.model.summary", "Summary"),
    "CityIndexError": ("cityindex.model.errors", "CityIndexError"),
    "coherence": ("cityindex.validation.coherence", "coherence"),
    "weight_audit": ("cityindex.validation.weight_audit", "weight_audit"),
    "load_space": ("cityindex.validation.space", "load_space"),
    "default_space": ("cityindex.validation.space", "default_space"),
    "check_inputs": ("cityindex.checking", "check_inputs"),
    "check_data": ("cityindex.model.datachecks", "check_data"),
    "prepare": ("cityindex.validation.engine", "prepare"),
    "uncertainty": ("cityindex.validation.uncertainty", "uncertainty_analysis"),
    "sensitivity": ("cityindex.validation.sensitivity", "sensitivity_analysis"),
    "bayes": ("cityindex.model.bayes.result", "fit_bayes"),
    "ScoreDraws": ("cityindex.validation.rank_inference", "ScoreDraws"),
    "measurement_draws": ("cityindex.validation.measurement", "measurement_score_draws"),
    "rank_sets": ("cityindex.validation.rank_inference", "rank_sets"),
    "league_table_sets": ("cityindex.validation.rank_inference", "league_table_sets"),
    "rank_scores": ("cityindex.model.ranking", "rank_scores"),
    "Ranking": ("cityindex.model.ranking", "Ranking"),
    "publication_table": ("cityindex.validation.publication", "publication_table"),
    "compare": ("cityindex.validation.compare", "compare"),
    "audit": ("cityindex.auditing", "audit"),
    "Audit": ("cityindex.auditing", "Audit"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'cityindex' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
